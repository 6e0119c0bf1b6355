/**
 * Soak run, in its own process: an HNSW collection on disk kept at a steady size by mixed
 * inserts, deletes, searches and periodic optimize(); prints a JSON sample line every
 * `sampleSeconds` (RSS, search latency percentiles, operation counts) and a final line.
 * argv: JSON { seconds, sampleSeconds, dim, size }.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../index'
import { rng } from './datasets'

export interface SoakSample {
  t: number
  rssMB: number
  p50ms: number
  p99ms: number
  searches: number
  inserts: number
  deletes: number
  optimizes: number
  count: number
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0
}

async function main() {
  const o = JSON.parse(process.argv[2]) as { seconds: number; sampleSeconds: number; dim: number; size: number }
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-soak-'))
  const r = rng(5)
  const vector = () => Float32Array.from({ length: o.dim }, () => r() * 100)
  const db = await LibraVDB.open(dir, { checkpointBytes: 8 << 20 })
  const c = await db.createCollection('soak', { dimension: o.dim, index: { type: 'hnsw' } })
  let next = 0
  const live: string[] = []
  const block = (n: number) => {
    const ids = Array.from({ length: n }, () => String(next++))
    const vectors = new Float32Array(n * o.dim)
    for (let i = 0; i < vectors.length; i++) vectors[i] = r() * 100
    return { ids, vectors }
  }
  for (let s = 0; s < o.size; s += 5000) {
    const b = block(Math.min(5000, o.size - s))
    await c.insertBatch(b)
    live.push(...b.ids)
  }
  const start = performance.now()
  let lastSample = start
  let lastOptimize = start
  let latencies: number[] = []
  const totals = { searches: 0, inserts: 0, deletes: 0, optimizes: 0 }
  while (performance.now() - start < o.seconds * 1000) {
    const b = block(200)
    await c.insertBatch(b)
    live.push(...b.ids)
    totals.inserts += 200
    const doomed: string[] = []
    for (let i = 0; i < 200; i++) {
      const j = Math.floor(r() * live.length)
      doomed.push(live[j])
      live[j] = live[live.length - 1]
      live.pop()
    }
    await c.deleteBatch(doomed)
    totals.deletes += 200
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now()
      c.searchSync(vector(), { k: 10 })
      latencies.push(performance.now() - t0)
    }
    totals.searches += 50
    if (performance.now() - lastOptimize > 10_000) {
      await c.optimize()
      totals.optimizes++
      lastOptimize = performance.now()
    }
    if (performance.now() - lastSample >= o.sampleSeconds * 1000) {
      latencies.sort((a, b) => a - b)
      const sample: SoakSample = {
        t: (performance.now() - start) / 1000,
        rssMB: process.memoryUsage().rss / 2 ** 20,
        p50ms: percentile(latencies, 0.5),
        p99ms: percentile(latencies, 0.99),
        ...totals,
        count: await c.count(),
      }
      process.stdout.write(JSON.stringify(sample) + '\n')
      latencies = []
      lastSample = performance.now()
    }
  }
  await db.close()
  rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
