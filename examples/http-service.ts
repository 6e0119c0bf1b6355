/**
 * `npm run example:http`: a search service on node:http that keeps answering while it ingests.
 *
 *   POST /search  { vector, k?, filter? }        -> { hits }
 *   POST /records [{ id, vector, metadata? }]    -> { succeeded, failed, errors }
 *   GET  /stats                                  -> collection stats
 *
 *   npm run example:http [-- --port 8080]                  serve until Ctrl-C
 *   npm run example:http -- --self-test [--records 50000]  ingest in the background while
 *       concurrent clients search over HTTP; print latency and event-loop delay, then exit
 *
 * Searches and batch writes run off the JS thread, so neither blocks the other or the loop.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { type Collection, type Filter, LibraVDB, LibraVDBError } from '../index'

const DIM = 64

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

/** The request handler: typed LibraVDB errors become 400s (bad input) or 404s, with their code. */
function handler(collection: Collection) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    try {
      if (req.method === 'POST' && req.url === '/search') {
        const { vector, k = 10, filter } = (await readJson(req)) as { vector: number[]; k?: number; filter?: Filter }
        return send(res, 200, { hits: await collection.search(vector, { k, filter, includeMetadata: true }) })
      }
      if (req.method === 'POST' && req.url === '/records') {
        return send(res, 200, await collection.upsertBatch((await readJson(req)) as [], { atomic: false }))
      }
      if (req.method === 'GET' && req.url === '/stats') return send(res, 200, collection.stats())
      send(res, 404, { error: 'not found' })
    } catch (e) {
      if (e instanceof LibraVDBError) return send(res, e.code === 'ERR_NOT_FOUND' ? 404 : 400, { code: e.code, error: e.message })
      if (e instanceof SyntaxError) return send(res, 400, { error: `bad JSON: ${e.message}` })
      send(res, 500, { error: String(e) })
    }
  }
}

function randomVector(): number[] {
  return Array.from({ length: DIM }, () => Math.random() * 2 - 1)
}

/** Ingests `total` records over HTTP in batches while `clients` loops search; reports. */
async function selfTest(base: string, total: number, clients: number) {
  const post = async (path: string, body: unknown) => {
    const r = await fetch(base + path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`)
    return r.json()
  }
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  let ingesting = true
  const ingest = (async () => {
    for (let start = 0; start < total; start += 1_000) {
      const batch = Array.from({ length: Math.min(1_000, total - start) }, (_, i) => ({
        id: `doc-${start + i}`,
        vector: randomVector(),
        metadata: { group: (start + i) % 10 },
      }))
      await post('/records', batch)
    }
    ingesting = false
  })()
  const latencies: number[] = []
  const searchers = Array.from({ length: clients }, async () => {
    while (ingesting) {
      const t0 = performance.now()
      const { hits } = (await post('/search', { vector: randomVector(), k: 10, filter: { group: 3 } })) as { hits: { metadata: { group: number } }[] }
      latencies.push(performance.now() - t0)
      if (hits.some((h) => h.metadata.group !== 3)) throw new Error('filter leak')
    }
  })
  await Promise.all([ingest, ...searchers])
  loop.disable()
  const stats = (await (await fetch(`${base}/stats`)).json()) as { count: number }
  const bad = await fetch(`${base}/search`, { method: 'POST', body: JSON.stringify({ vector: [1, 2] }) })
  latencies.sort((a, b) => a - b)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]?.toFixed(1)
  console.log(`ingested ${stats.count} records over HTTP while ${clients} clients ran ${latencies.length} filtered searches`)
  console.log(`search latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms; event-loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms`)
  console.log(`a 2-d vector against the ${DIM}-d collection: HTTP ${bad.status} ${JSON.stringify(await bad.json())}`)
  if (stats.count !== total) throw new Error(`expected ${total} records, found ${stats.count}`)
  if (bad.status !== 400) throw new Error('a bad request did not get a 400')
}

async function main() {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, 'self-test': { type: 'boolean' }, records: { type: 'string' }, clients: { type: 'string' } },
  })
  const db = await LibraVDB.open()
  const collection = await db.createCollection('docs', { dimension: DIM, metric: 'cosine', index: { type: 'hnsw' }, schema: { group: 'int' } })
  const server = createServer((req, res) => void handler(collection)(req, res))
  server.listen(values['self-test'] ? 0 : Number(values.port ?? 8080), '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  console.log(`listening on ${base}`)
  if (!values['self-test']) return
  try {
    await selfTest(base, Number(values.records ?? 50_000), Number(values.clients ?? 4))
  } finally {
    server.close()
    await db.close()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
