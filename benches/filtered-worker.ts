/**
 * Child process of the filtered-search benchmark: builds one library's HNSW index on a
 * dataset whose record i has `bucket = i % 1000`, then for each selectivity (`bucket < limit`)
 * runs single filtered queries, printing recall@10 against the exact filtered top 10 and
 * p50/p99 latency. efSearch is tuned first on held-out queries (see `FilteredSpec`).
 * argv: JSON of `FilteredSpec`.
 */
import { LibraVDB } from '../index'
import { readVecs } from './datasets'
import { type HnswlibModule, loadPeer } from './peers'

export interface FilteredSpec {
  lib: 'libravdb' | 'hnswlib-node'
  base: string
  queries: string
  /** Ground truth per limit: path of an ivecs file of exact filtered top-10 ids. */
  gt: Record<string, string>
  limits: number[]
  /** efSearch tuning on held-out queries: the smallest of `efs` whose unfiltered recall@10
   * against `gt` reaches `recall` (the largest if none does). */
  calibration: { queries: string; gt: string; recall: number; efs: number[] }
}

export interface FilteredLib {
  lib: string
  efSearch: number
  points: FilteredPoint[]
}

export interface FilteredPoint {
  limit: number
  recall: number
  p50ms: number
  p99ms: number
  plan?: string
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

async function main() {
  const spec = JSON.parse(process.argv[2]) as FilteredSpec
  const base = readVecs(spec.base)
  const queries = readVecs(spec.queries)
  const dim = base.dim
  const data = base.data as Float32Array
  const q = (i: number) => (queries.data as Float32Array).subarray(i * dim, (i + 1) * dim)
  // search(query, limit) with the beam width `ef`; limit 1000 lets everything through.
  let search: (query: Float32Array, limit: number) => number[]
  let setEf: (ef: number) => void
  let planOf: (limit: number) => string | undefined = () => undefined
  if (spec.lib === 'libravdb') {
    const db = await LibraVDB.open()
    const c = await db.createCollection('f', { dimension: dim, index: { type: 'hnsw' }, schema: { bucket: 'int' } })
    for (let s = 0; s < base.n; s += 10_000) {
      const n = Math.min(10_000, base.n - s)
      const ids = Array.from({ length: n }, (_, i) => String(s + i))
      await c.insertBatch({ ids, vectors: data.subarray(s * dim, (s + n) * dim), metadata: ids.map((id) => ({ bucket: Number(id) % 1000 })) })
    }
    let efSearch = 64
    setEf = (ef) => {
      efSearch = ef
    }
    search = (query, limit) => c.searchSync(query, { k: 10, efSearch, filter: { bucket: { $lt: limit } } }).map((h) => Number(h.id))
    planOf = (limit) => c.explain({ k: 10, efSearch, filter: { bucket: { $lt: limit } } }).plan
  } else {
    const { HierarchicalNSW } = loadPeer<HnswlibModule>('hnswlib-node')
    const index = new HierarchicalNSW('l2', dim)
    index.initIndex(base.n, 16, 200, 100)
    for (let i = 0; i < base.n; i++) index.addPoint(Array.from(data.subarray(i * dim, (i + 1) * dim)), i)
    setEf = (ef) => index.setEf(ef)
    search = (query, limit) => index.searchKnn(Array.from(query), 10, (label) => label % 1000 < limit).neighbors
  }
  const efSearch = calibrate(spec.calibration, search, setEf)
  const points: FilteredPoint[] = []
  for (const limit of spec.limits) {
    const gt = readVecs(spec.gt[String(limit)]).data as Int32Array
    const times: number[] = []
    let hit = 0
    for (let i = 0; i < queries.n; i++) search(q(i), limit) // warm-up: one untimed pass (the JIT settles, the plan's caches fill)
    for (let i = 0; i < queries.n; i++) {
      const query = q(i)
      const t0 = performance.now()
      const ids = search(query, limit)
      times.push(performance.now() - t0)
      const want = new Set(gt.subarray(i * 10, i * 10 + 10))
      hit += ids.slice(0, 10).filter((id) => want.has(id)).length
    }
    times.sort((a, b) => a - b)
    points.push({ limit, recall: hit / (queries.n * 10), p50ms: percentile(times, 0.5), p99ms: percentile(times, 0.99), plan: planOf(limit) })
  }
  const result: FilteredLib = { lib: spec.lib, efSearch, points }
  process.stdout.write(JSON.stringify(result) + '\n')
}

/** Sets and returns the smallest ef of the ladder whose unfiltered recall@10 on the
 * calibration queries reaches the target. */
function calibrate(
  c: FilteredSpec['calibration'],
  search: (query: Float32Array, limit: number) => number[],
  setEf: (ef: number) => void,
): number {
  const qs = readVecs(c.queries)
  const gt = readVecs(c.gt).data as Int32Array
  const data = qs.data as Float32Array
  for (const ef of c.efs) {
    setEf(ef)
    let hit = 0
    for (let i = 0; i < qs.n; i++) {
      const want = new Set(gt.subarray(i * 10, i * 10 + 10))
      hit += search(data.subarray(i * qs.dim, (i + 1) * qs.dim), 1000).slice(0, 10).filter((id) => want.has(id)).length
    }
    if (hit / (qs.n * 10) >= c.recall) return ef
  }
  return c.efs[c.efs.length - 1]
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
