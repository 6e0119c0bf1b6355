/**
 * Filtered search on real sentence embeddings at the collection's defaults (what a user who
 * sets nothing gets): debpkg20k / debpkg100k, cosine, HNSW defaults, on disk, the dataset's
 * seeded `bucket` field in the schema; for `bucket < K` (0.1%, 1%, 10%, 50%) and unfiltered,
 * recall@10 against the dataset's exact (filtered) ground truth, latency of single queries
 * (`searchSync`), and the plan the planner chose.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../index'
import { type Dataset, bucketsOf } from './datasets'
import { table } from './harness'

export interface FilteredRealPoint {
  /** `bucket < limit` of 1000 buckets; 1000: unfiltered. */
  limit: number
  recall: number
  p50Us: number
  p99Us: number
  plan: string
}

export interface FilteredRealResult {
  dataset: string
  n: number
  efSearch: number
  points: FilteredRealPoint[]
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]

export async function benchFilteredReal(ds: Dataset, nq: number): Promise<FilteredRealResult> {
  const dim = ds.dim
  const n = ds.base.length / dim
  nq = Math.min(nq, ds.queries.length / dim)
  const { bucket, filteredGt } = bucketsOf(ds)
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-filtered-real-'))
  const db = await LibraVDB.open(dir)
  try {
    const c = await db.createCollection('f', { dimension: dim, metric: 'cosine', index: { type: 'hnsw' }, schema: { bucket: 'int' } })
    for (let s = 0; s < n; s += 10_000) {
      const m = Math.min(10_000, n - s)
      const ids = Array.from({ length: m }, (_, i) => String(s + i))
      await c.insertBatch({ ids, vectors: ds.base.subarray(s * dim, (s + m) * dim), metadata: ids.map((id) => ({ bucket: bucket[Number(id)] })) })
    }
    const points: FilteredRealPoint[] = []
    for (const limit of [1, 10, 100, 500, 1000]) {
      const gt = limit === 1000 ? { k: ds.gtK!, ids: ds.groundTruth! } : filteredGt.get(limit)!
      const filter = limit === 1000 ? undefined : { bucket: { $lt: limit } }
      const times: number[] = []
      let hit = 0
      let wanted = 0
      for (let round = 0; round < 2; round++) {
        for (let q = 0; q < nq; q++) {
          const query = ds.queries.subarray(q * dim, (q + 1) * dim)
          const t0 = performance.now()
          const hits = c.searchSync(query, { k: 10, filter })
          times.push((performance.now() - t0) * 1000)
          if (round > 0) continue
          // The exact filtered top 10 (fewer where fewer rows match; -1 pads ivecs rows).
          const want = new Set(Array.from(gt.ids.subarray(q * gt.k, q * gt.k + 10)).filter((id) => id >= 0))
          wanted += want.size
          hit += hits.filter((h) => want.has(Number(h.id))).length
        }
      }
      points.push({ limit, recall: hit / wanted, p50Us: quantile(times, 0.5), p99Us: quantile(times, 0.99), plan: c.explain({ k: 10, filter }).plan })
    }
    return { dataset: ds.name, n, efSearch: c.explain({ k: 10 }).efSearch ?? 0, points }
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

export function filteredRealSection(results: FilteredRealResult[]): string {
  const lines = [
    '## Filtered search on real embeddings, at the defaults',
    '',
    'Cosine, HNSW defaults, on disk, `bucket` (seeded uniform 0..999) in the schema; filter `bucket < K`;',
    "recall@10 against each dataset's exact filtered ground truth; single queries (`searchSync`), two passes.",
    '',
  ]
  for (const r of results) {
    lines.push(`${r.dataset} (${r.n.toLocaleString('en-US')} vectors, efSearch ${r.efSearch}):`, '')
    lines.push(
      table(
        ['selectivity', 'recall@10', 'p50 / p99 (us)', 'plan'],
        r.points.map((p) => [p.limit === 1000 ? '100% (no filter)' : `${p.limit / 10}%`, p.recall.toFixed(3), `${p.p50Us.toFixed(0)} / ${p.p99Us.toFixed(0)}`, p.plan]),
      ),
      '',
    )
  }
  return lines.join('\n')
}
