/**
 * Filtered search on real sentence embeddings at the collection's defaults (what a user who
 * sets nothing gets): debpkg20k / debpkg100k, cosine, HNSW defaults, on disk, the dataset's
 * seeded `bucket` field in the schema; for `bucket < K` (0.1%, 1%, 10%, 50%) and unfiltered,
 * recall@10 against the dataset's exact (filtered) ground truth, latency of single queries
 * (`searchSync`), and the plan the planner chose. Beside it zvec (HNSW, same m = 16 and
 * efConstruction = 200, `bucket` an INT32 field with an inverted index, `filter: 'bucket < K'`)
 * over an ef ladder, so that each LibraVDB point has a zvec point of equal recall to compare.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../index'
import { type Dataset, bucketsOf } from './datasets'
import { quantile, table } from './harness'
import { type ZvecModule, loadPeer } from './peers'

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
  /** zvec at each ef of its ladder (or why it could not run). */
  zvec: { ef: number; points: FilteredRealPoint[] }[] | { error: string }
}

const LIMITS = [1, 10, 100, 500, 1000]
const ZVEC_EFS = [16, 32, 64, 128, 256]

/** Recall@10 and single-query latency of `search` at each limit (two passes, recall from the
 * first), against the exact (filtered) ground truth. */
function measure(
  ds: Dataset,
  nq: number,
  filteredGt: Map<number, { k: number; ids: Int32Array }>,
  search: (query: Float32Array, limit: number) => number[],
  plan: (limit: number) => string,
): FilteredRealPoint[] {
  const dim = ds.dim
  return LIMITS.map((limit) => {
    const gt = limit === 1000 ? { k: ds.gtK!, ids: ds.groundTruth! } : filteredGt.get(limit)!
    const times: number[] = []
    let hit = 0
    let wanted = 0
    for (let round = 0; round < 2; round++) {
      for (let q = 0; q < nq; q++) {
        const query = ds.queries.subarray(q * dim, (q + 1) * dim)
        const t0 = performance.now()
        const found = search(query, limit)
        times.push((performance.now() - t0) * 1000)
        if (round > 0) continue
        // The exact filtered top 10 (fewer where fewer rows match; -1 pads ivecs rows).
        const want = new Set(Array.from(gt.ids.subarray(q * gt.k, q * gt.k + 10)).filter((id) => id >= 0))
        wanted += want.size
        hit += found.filter((id) => want.has(id)).length
      }
    }
    return { limit, recall: hit / wanted, p50Us: quantile(times, 0.5), p99Us: quantile(times, 0.99), plan: plan(limit) }
  })
}

function zvecFiltered(ds: Dataset, nq: number, bucket: Int32Array, filteredGt: Map<number, { k: number; ids: Int32Array }>): FilteredRealResult['zvec'] {
  let z: ZvecModule
  try {
    z = loadPeer<ZvecModule>('@zvec/zvec')
  } catch (e) {
    return { error: (e as Error).message }
  }
  const dim = ds.dim
  const n = ds.base.length / dim
  const schema = new z.ZVecCollectionSchema({
    name: 'filtered',
    vectors: {
      name: 'v',
      dataType: z.ZVecDataType.VECTOR_FP32,
      dimension: dim,
      indexParams: { indexType: z.ZVecIndexType.HNSW, metricType: z.ZVecMetricType.COSINE, m: 16, efConstruction: 200 },
    },
    fields: [{ name: 'bucket', dataType: z.ZVecDataType.INT32, indexParams: { indexType: z.ZVecIndexType.INVERT } }],
  })
  const dir = mkdtempSync(join(tmpdir(), 'zvec-filtered-'))
  try {
    const c = z.ZVecCreateAndOpen(join(dir, 'f'), schema)
    for (let s = 0; s < n; s += 1000) {
      const docs = Array.from({ length: Math.min(1000, n - s) }, (_, i) => ({
        id: String(s + i),
        vectors: { v: ds.base.subarray((s + i) * dim, (s + i + 1) * dim) },
        fields: { bucket: bucket[s + i] },
      }))
      const failed = c.insertSync(docs).find((st) => !st.ok)
      if (failed) return { error: `zvec insert: ${failed.message}` }
    }
    c.optimizeSync()
    const out = ZVEC_EFS.map((ef) => {
      const params = { indexType: z.ZVecIndexType.HNSW, ef }
      const search = (vector: Float32Array, limit: number) =>
        c.querySync({ fieldName: 'v', topk: 10, vector, params, outputFields: [], ...(limit === 1000 ? {} : { filter: `bucket < ${limit}` }) }).map((d) => Number(d.id))
      return { ef, points: measure(ds, nq, filteredGt, search, () => '') }
    })
    c.closeSync?.()
    return out
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}


export async function benchFilteredReal(ds: Dataset, nq: number): Promise<FilteredRealResult> {
  const dim = ds.dim
  const n = ds.base.length / dim
  nq = Math.min(nq, ds.queries.length / dim)
  const { bucket, filteredGt } = bucketsOf(ds)
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-filtered-real-'))
  const db = await LibraVDB.open(dir)
  let ours: Omit<FilteredRealResult, 'zvec'>
  try {
    const c = await db.createCollection('f', { dimension: dim, metric: 'cosine', index: { type: 'hnsw' }, schema: { bucket: 'int' } })
    for (let s = 0; s < n; s += 10_000) {
      const m = Math.min(10_000, n - s)
      const ids = Array.from({ length: m }, (_, i) => String(s + i))
      await c.insertBatch({ ids, vectors: ds.base.subarray(s * dim, (s + m) * dim), metadata: ids.map((id) => ({ bucket: bucket[Number(id)] })) })
    }
    const filter = (limit: number) => (limit === 1000 ? undefined : { bucket: { $lt: limit } })
    const points = measure(
      ds,
      nq,
      filteredGt,
      (query, limit) => c.searchSync(query, { k: 10, filter: filter(limit) }).map((h) => Number(h.id)),
      (limit) => c.explain({ k: 10, filter: filter(limit) }).plan,
    )
    ours = { dataset: ds.name, n, efSearch: c.explain({ k: 10 }).efSearch ?? 0, points }
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return { ...ours, zvec: zvecFiltered(ds, nq, bucket, filteredGt) }
}

/** zvec's cheapest point (lowest ef) reaching `recall` at `limit`, else its most accurate. */
function zvecAt(r: FilteredRealResult, limit: number, recall: number): (FilteredRealPoint & { ef: number }) | undefined {
  if ('error' in r.zvec) return undefined
  const at = r.zvec.map((x) => ({ ...x.points.find((p) => p.limit === limit)!, ef: x.ef }))
  return at.find((p) => p.recall >= recall) ?? at.reduce((a, b) => (b.recall > a.recall ? b : a))
}

export function filteredRealSection(results: FilteredRealResult[]): string {
  const lines = [
    '## Filtered search on real embeddings, at the defaults',
    '',
    'Cosine, HNSW defaults, on disk, `bucket` (seeded uniform 0..999) in the schema; filter `bucket < K`;',
    "recall@10 against each dataset's exact filtered ground truth; single queries (`searchSync`), two passes.",
    '',
  ]
  lines.push(
    "zvec beside it: the lowest ef of its ladder (16-256) reaching LibraVDB's recall at that selectivity (else its best); ratio = zvec's p50 / LibraVDB's.",
    '',
  )
  for (const r of results) {
    lines.push(`${r.dataset} (${r.n.toLocaleString('en-US')} vectors, LibraVDB efSearch ${r.efSearch}):`, '')
    if ('error' in r.zvec) lines.push(`zvec unavailable: ${r.zvec.error}`, '')
    lines.push(
      table(
        ['selectivity', 'LibraVDB recall@10', 'p50 / p99 (us)', 'plan', 'zvec ef', 'zvec recall@10', 'zvec p50 / p99 (us)', 'ratio'],
        r.points.map((p) => {
          const z = zvecAt(r, p.limit, p.recall)
          return [
            p.limit === 1000 ? '100% (no filter)' : `${p.limit / 10}%`,
            p.recall.toFixed(3),
            `${p.p50Us.toFixed(0)} / ${p.p99Us.toFixed(0)}`,
            p.plan,
            ...(z ? [String(z.ef), z.recall.toFixed(3), `${z.p50Us.toFixed(0)} / ${z.p99Us.toFixed(0)}`, `${(z.p50Us / p.p50Us).toFixed(2)}x`] : ['', '', '', '']),
          ]
        }),
      ),
      '',
    )
  }
  return lines.join('\n')
}
