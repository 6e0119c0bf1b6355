/**
 * Child process of ingest.spec.ts: ingests N x dim generated records into an in-memory flat
 * collection from an async generator, sampling RSS, and prints one JSON line: the count, the
 * most records the generator ran ahead of the committed count, peak RSS growth, the bytes
 * stored, and whether sampled records round-trip.
 */
import { LibraVDB } from '../index'

function vectorOf(i: number, dim: number): Float32Array {
  const v = new Float32Array(dim)
  for (let d = 0; d < dim; d++) v[d] = ((i * 31 + d * 17) % 1000) / 1000
  return v
}

async function main() {
  const n = Number(process.argv[2])
  const dim = Number(process.argv[3])
  const db = await LibraVDB.open()
  const c = await db.createCollection('big', { dimension: dim })
  const base = process.memoryUsage().rss
  let peak = base
  let committed = 0
  let maxAhead = 0
  async function* source() {
    for (let i = 0; i < n; i++) {
      maxAhead = Math.max(maxAhead, i + 1 - committed)
      if (i % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().rss)
      yield { id: `id-${i}`, vector: vectorOf(i, dim) }
    }
  }
  const result = await c.ingest(source(), { batchSize: 1000, maxInFlight: 2, onProgress: (p) => (committed = p.ingested) })
  peak = Math.max(peak, process.memoryUsage().rss)
  let sampleOk = result.succeeded === n
  for (const i of [0, 1, n >> 1, n - 1]) {
    const r = await c.get(`id-${i}`)
    sampleOk &&= r !== null && r.vector.every((x, d) => x === vectorOf(i, dim)[d])
  }
  const stats = c.stats()
  console.log(JSON.stringify({ count: await c.count(), maxAhead, peakGrowth: peak - base, stored: stats.vectorBytes + stats.idBytes, sampleOk }))
  await db.close()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
