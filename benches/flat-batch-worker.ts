/**
 * Child process of the flat benchmark, started with RAYON_NUM_THREADS=1 so that the engine's
 * pool has one thread: 100 exact queries over n x dim as 100 `searchSync` calls and as one
 * `searchBatch`, best of `repeats` each; prints one JSON line.
 * argv: JSON `{ n, dim, nq, repeats }`.
 */
import { LibraVDB } from '../index'
import { clustered } from './datasets'

export interface FlatBatchResult {
  n: number
  dim: number
  queries: number
  singleQps: number
  batchQps: number
  /** Bytes read from the vectors per second by the single queries (one pass each). */
  singleGBps: number
  sameResults: boolean
}

async function main() {
  const { n, dim, nq, repeats } = JSON.parse(process.argv[2]) as { n: number; dim: number; nq: number; repeats: number }
  const ds = clustered({ n, nq, dim, centres: 100, sigma: 10, seed: 21 })
  const db = await LibraVDB.open()
  const c = await db.createCollection('flat', { dimension: dim, metric: 'cosine' })
  await c.insertBatch({ ids: Array.from({ length: n }, (_, i) => String(i)), vectors: ds.base })
  const q = (i: number) => ds.queries.subarray(i * dim, (i + 1) * dim)
  let best = { single: 0, batch: 0 }
  let singles: string[][] = []
  let batch: string[][] = []
  for (let r = 0; r < repeats; r++) {
    let t0 = performance.now()
    singles = Array.from({ length: nq }, (_, i) => c.searchSync(q(i), { k: 10 }).map((h) => h.id))
    best.single = Math.max(best.single, (nq * 1000) / (performance.now() - t0))
    t0 = performance.now()
    batch = (await c.searchBatch(ds.queries, { k: 10 })).map((hits) => hits.map((h) => h.id))
    best.batch = Math.max(best.batch, (nq * 1000) / (performance.now() - t0))
  }
  const out: FlatBatchResult = {
    n,
    dim,
    queries: nq,
    singleQps: best.single,
    batchQps: best.batch,
    singleGBps: (best.single * n * dim * 4) / 1e9,
    sameResults: JSON.stringify(singles) === JSON.stringify(batch),
  }
  console.log(JSON.stringify(out))
  await db.close()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
