/**
 * Child process: ingests `n` generated records of dimension `dim` from an async generator
 * (`collection.ingest`, batches of 1000, 2 in flight) into a flat collection, in memory or on
 * disk, sampling RSS; prints one JSON line. Used by the streaming benchmark (peak memory over
 * source sizes) and by __test__/ingest.spec.ts (bounded read-ahead, flat memory).
 * argv: JSON `{ n, dim, disk }`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../index'
import { residentBytes } from './harness'

export interface IngestWorkerResult {
  count: number
  /** Most records the generator ran ahead of the committed count. */
  maxAhead: number
  /** Peak growth of RSS, and of its anonymous part (heap, stacks, anonymous maps: what the
   * process cannot give back), over the run. */
  peakRssGrowth: number
  peakAnonGrowth: number
  /** Bytes of vectors and ids stored. */
  stored: number
  seconds: number
  /** Sampled records round-trip exactly. */
  sampleOk: boolean
}

function vectorOf(i: number, dim: number): Float32Array {
  const v = new Float32Array(dim)
  for (let d = 0; d < dim; d++) v[d] = ((i * 31 + d * 17) % 1000) / 1000
  return v
}

/** RssAnon (Linux), else the whole RSS. */
const anonBytes = () => residentBytes().anon

async function main() {
  const { n, dim, disk } = JSON.parse(process.argv[2]) as { n: number; dim: number; disk: boolean }
  const dir = disk ? mkdtempSync(join(tmpdir(), 'libravdb-ingest-')) : undefined
  const db = await LibraVDB.open(dir, { fsync: false })
  const c = await db.createCollection('big', { dimension: dim })
  const [rss0, anon0] = [process.memoryUsage().rss, anonBytes()]
  let [peakRss, peakAnon] = [rss0, anon0]
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
    peakAnon = Math.max(peakAnon, anonBytes())
  }
  let committed = 0
  let maxAhead = 0
  async function* source() {
    for (let i = 0; i < n; i++) {
      maxAhead = Math.max(maxAhead, i + 1 - committed)
      if (i % 10_000 === 0) sample()
      yield { id: `id-${i}`, vector: vectorOf(i, dim) }
    }
  }
  const t0 = performance.now()
  const result = await c.ingest(source(), { batchSize: 1000, maxInFlight: 2, onProgress: (p) => (committed = p.ingested) })
  const seconds = (performance.now() - t0) / 1000
  sample()
  let sampleOk = result.succeeded === n
  for (const i of [0, 1, n >> 1, n - 1]) {
    const r = await c.get(`id-${i}`)
    sampleOk &&= r !== null && r.vector.every((x, d) => x === vectorOf(i, dim)[d])
  }
  const stats = c.stats()
  const out: IngestWorkerResult = {
    count: await c.count(),
    maxAhead,
    peakRssGrowth: peakRss - rss0,
    peakAnonGrowth: peakAnon - anon0,
    stored: stats.vectorBytes + stats.idBytes,
    seconds,
    sampleOk,
  }
  console.log(JSON.stringify(out))
  await db.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
