/**
 * `npm run example:ingest`: loads a large NDJSON file (one `{ id, vector, metadata }` per
 * line) into an on-disk collection in bounded memory: lines are read as a stream, gathered
 * into batches, and the next batch is read only while at most `maxInFlight` batches are being
 * written, so a file of any size needs about `batchSize x maxInFlight` records of memory.
 * Then it reopens the database and checks every record arrived.
 *
 *   npm run example:ingest [-- --records 200000] [--dim 64] [--file path.ndjson]
 *
 * Without `--file` it first writes a file of generated records to a temp directory.
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { LibraVDB, type VectorRecord } from '../index'

const BATCH_SIZE = 2_000
const MAX_IN_FLIGHT = 2

/** Writes `n` records of dimension `dim` as NDJSON, honouring the stream's backpressure. */
async function writeSampleFile(path: string, n: number, dim: number): Promise<void> {
  const out = createWriteStream(path)
  let seed = 42
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * 2 - 1
  for (let i = 0; i < n; i++) {
    const record = { id: `rec-${i}`, vector: Array.from({ length: dim }, () => +random().toFixed(4)), metadata: { shard: i % 16 } }
    if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

async function main() {
  const { values } = parseArgs({ options: { records: { type: 'string' }, dim: { type: 'string' }, file: { type: 'string' } } })
  const work = mkdtempSync(join(tmpdir(), 'libravdb-ingest-'))
  const dim = Number(values.dim ?? 64)
  let file = values.file
  if (!file) {
    file = join(work, 'records.ndjson')
    const n = Number(values.records ?? 200_000)
    await writeSampleFile(file, n, dim)
    console.log(`wrote ${n} records to ${file} (${(statSync(file).size / 2 ** 20).toFixed(0)} MiB)`)
  }

  const t0 = performance.now()
  const rssBefore = process.memoryUsage().rss
  let peakRss = rssBefore
  let db = await LibraVDB.open(join(work, 'db'))
  const records = await db.createCollection('records', { dimension: dim, metric: 'cosine', index: { type: 'hnsw' } })

  const inFlight = new Set<Promise<unknown>>()
  let batch: VectorRecord[] = []
  let read = 0
  let stored = 0
  const flush = async () => {
    const pending = records.insertBatch(batch).then((r) => {
      stored += r.succeeded
      inFlight.delete(pending)
    })
    inFlight.add(pending)
    batch = []
    // Backpressure: stop reading until a write slot frees up.
    if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight)
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
  }
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line.trim() === '') continue
    batch.push(JSON.parse(line) as VectorRecord)
    read++
    if (batch.length === BATCH_SIZE) await flush()
    if (read % 50_000 === 0) console.log(`  ${read} read, ${stored} stored`)
  }
  if (batch.length > 0) await flush()
  await Promise.all(inFlight)
  const seconds = (performance.now() - t0) / 1000
  console.log(
    `ingested ${stored} of ${read} records in ${seconds.toFixed(1)} s (${Math.round(stored / seconds)} records/s); ` +
      `peak RSS growth ${((peakRss - rssBefore) / 2 ** 20).toFixed(0)} MiB`,
  )
  await db.close()

  // Everything acknowledged is on disk: reopen and check.
  db = await LibraVDB.open(join(work, 'db'))
  const reopened = db.getCollection('records')
  const count = await reopened.count()
  const last = await reopened.get(`rec-${read - 1}`)
  if (!values.file && (count !== read || last === null)) throw new Error(`expected ${read} records after reopen, found ${count}`)
  console.log(`after reopen: ${count} records; rec-${read - 1} ${last ? 'present' : 'missing'}`)
  await db.close()
  rmSync(work, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
