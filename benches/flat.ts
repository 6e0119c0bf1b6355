/**
 * Flat (exact) search: LibraVDB's SIMD scan against a plain-JS scan over a Float32Array, in
 * the same process and run. Single-threaded (`searchSync`) is the fair comparison; the
 * parallel batch figure shows what both cores add.
 */
import { LibraVDB } from '../index'
import { type Dataset, recallAtK } from './datasets'
import type { FlatBatchResult } from './flat-batch-worker'
import { type Spread, childResult, fmt, opsPerSecond, table } from './harness'
import { groundTruth, jsScan } from './jsscan'

export interface FlatResult {
  dataset: string
  n: number
  dim: number
  queries: number
  insertPerSec: number
  jsScan: Spread
  flatSingle: Spread
  flatBatch: Spread
  ratio: number
  gbScannedPerSec: number
  recallAt10: number
}

export async function benchFlat(ds: Dataset, nq: number, repeats: number): Promise<FlatResult> {
  const { dim } = ds
  const n = ds.base.length / dim
  nq = Math.min(nq, ds.queries.length / dim)
  const queries = ds.queries.subarray(0, nq * dim)
  const q = (i: number) => queries.subarray(i * dim, (i + 1) * dim)

  const db = await LibraVDB.open()
  const c = await db.createCollection('flat', { dimension: dim, metric: 'l2' })
  const t0 = performance.now()
  for (let s = 0; s < n; s += 10_000) {
    const m = Math.min(10_000, n - s)
    await c.insertBatch(Array.from({ length: m }, (_, i) => ({ id: String(s + i), vector: ds.base.subarray((s + i) * dim, (s + i + 1) * dim) })))
  }
  const insertPerSec = (n * 1000) / (performance.now() - t0)

  const truth = ds.groundTruth && ds.gtK ? ds.groundTruth : groundTruth(ds.base, queries, dim, 10)
  const gtK = ds.groundTruth && ds.gtK ? ds.gtK : 10

  const js = await opsPerSecond(nq, repeats, () => {
    for (let i = 0; i < nq; i++) jsScan(ds.base, dim, q(i), 10)
  })
  let found: number[][] = []
  const single = await opsPerSecond(nq, repeats, () => {
    found = []
    for (let i = 0; i < nq; i++) found.push(c.searchSync(q(i), { k: 10 }).map((h) => Number(h.id)))
  })
  const batch = await opsPerSecond(nq, repeats, () => c.searchBatch(queries, { k: 10 }))
  await db.close()
  return {
    dataset: ds.name,
    n,
    dim,
    queries: nq,
    insertPerSec,
    jsScan: js,
    flatSingle: single,
    flatBatch: batch,
    ratio: single.median / js.median,
    gbScannedPerSec: (single.median * n * dim * 4) / 1e9,
    recallAt10: recallAtK(found, truth, gtK, 10),
  }
}

export function flatSection(results: FlatResult[]): string {
  const rows = results.map((r) => [
    r.dataset,
    `${r.n.toLocaleString('en-US')} x ${r.dim}`,
    fmt.spread(r.jsScan),
    fmt.spread(r.flatSingle),
    `**${fmt.ratio(r.ratio)}**`,
    r.gbScannedPerSec.toFixed(1),
    fmt.spread(r.flatBatch),
    r.recallAt10.toFixed(3),
    fmt.n(r.insertPerSec),
  ])
  return [
    '## Flat (exact) search vs a plain-JS scan',
    '',
    'queries/s, median (min–max) of repeated runs, k = 10, L2. "flat 1 thread" is `searchSync` on the',
    'calling thread; "ratio" is flat 1 thread / JS scan, measured in the same run. Bar: >= 3x.',
    '',
    table(
      ['dataset', 'size', 'JS scan q/s', 'flat 1 thread q/s', 'ratio', 'GB/s scanned', 'flat batch (all cores) q/s', 'recall@10', 'insert vectors/s'],
      rows,
    ),
    '',
  ].join('\n')
}

/** 100 exact queries one at a time and as one batch, on one engine thread (child process). */
export function benchFlatBatch(quick: boolean): FlatBatchResult | { lib: string; error: string } {
  return childResult<FlatBatchResult>('flat-batch-worker.ts', { n: quick ? 50_000 : 100_000, dim: 384, nq: 100, repeats: quick ? 2 : 5 }, 'libravdb', {
    RAYON_NUM_THREADS: '1',
  })
}

export function flatBatchSection(r: FlatBatchResult | { lib: string; error: string }): string {
  const head = ['### Batches of exact queries: one pass over memory', '']
  if ('error' in r) return [...head, `not measured: ${r.error}`, ''].join('\n')
  return [
    ...head,
    `${r.queries} queries over ${r.n.toLocaleString('en-US')} x ${r.dim} (cosine, synthetic clustered), k = 10, the engine on one`,
    'thread (RAYON_NUM_THREADS=1), best of the runs. A single query reads every vector once and runs at memory',
    'speed; `searchBatch` scores each block of rows against groups of up to 64 queries while the block is in cache.',
    'Bar: >= 5x.',
    '',
    table(
      ['100 x searchSync q/s', 'GB/s read', 'searchBatch(100) q/s', 'batch / single', 'same results'],
      [[fmt.n(r.singleQps), r.singleGBps.toFixed(1), fmt.n(r.batchQps), `**${fmt.ratio(r.batchQps / r.singleQps)}**`, r.sameResults ? 'yes' : '**no**']],
    ),
    '',
  ].join('\n')
}
