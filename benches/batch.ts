/**
 * Batch vs single calls: the same records inserted one call at a time and as one batch, and
 * the same queries searched one async call at a time and as one searchBatch.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type IndexConfig, LibraVDB } from '../index'
import type { Dataset } from './datasets'
import { fmt, table } from './harness'

export interface BatchRow {
  workload: string
  singlePerSec: number
  batchPerSec: number
  ratio: number
}

async function insertRates(ds: Dataset, n: number, singles: number, index: IndexConfig, path?: string) {
  const dim = ds.dim
  const db = await LibraVDB.open(path)
  const one = await db.createCollection('single', { dimension: dim, index })
  const many = await db.createCollection('batch', { dimension: dim, index })
  const vec = (i: number) => ds.base.subarray(i * dim, (i + 1) * dim)
  let t0 = performance.now()
  for (let i = 0; i < singles; i++) await one.insert({ id: String(i), vector: vec(i) })
  const singlePerSec = (singles * 1000) / (performance.now() - t0)
  t0 = performance.now()
  await many.insertBatch({ ids: Array.from({ length: n }, (_, i) => String(i)), vectors: ds.base.subarray(0, n * dim) })
  const batchPerSec = (n * 1000) / (performance.now() - t0)
  await db.close()
  return { singlePerSec, batchPerSec, ratio: batchPerSec / singlePerSec }
}

export async function benchBatch(ds: Dataset, quick: boolean): Promise<BatchRow[]> {
  const n = 10_000
  const rows: BatchRow[] = []
  const flat = { type: 'flat' } as const
  const hnsw = { type: 'hnsw' } as const
  const mem = await insertRates(ds, n, quick ? 2000 : n, flat)
  rows.push({ workload: `insert ${n} x ${ds.dim}, flat, in memory`, ...mem })
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-batch-'))
  const disk = await insertRates(ds, n, quick ? 300 : 2000, flat, dir)
  rows.push({ workload: `insert ${n} x ${ds.dim}, flat, on disk (fsync per call)`, ...disk })
  rmSync(dir, { recursive: true, force: true })
  const graph = await insertRates(ds, n, quick ? 2000 : n, hnsw)
  rows.push({ workload: `insert ${n} x ${ds.dim}, hnsw, in memory`, ...graph })

  const db = await LibraVDB.open()
  const c = await db.createCollection('s', { dimension: ds.dim, index: hnsw })
  await c.insertBatch({ ids: Array.from({ length: n }, (_, i) => String(i)), vectors: ds.base.subarray(0, n * ds.dim) })
  const nq = Math.min(1000, ds.queries.length / ds.dim)
  const queries = ds.queries.subarray(0, nq * ds.dim)
  let t0 = performance.now()
  for (let q = 0; q < nq; q++) await c.search(queries.subarray(q * ds.dim, (q + 1) * ds.dim), { k: 10 })
  const single = (nq * 1000) / (performance.now() - t0)
  t0 = performance.now()
  await c.searchBatch(queries, { k: 10 })
  const batch = (nq * 1000) / (performance.now() - t0)
  rows.push({ workload: `search ${nq} queries, hnsw, async (one await each) vs searchBatch`, singlePerSec: single, batchPerSec: batch, ratio: batch / single })
  await db.close()
  return rows
}

export function batchSection(rows: BatchRow[]): string {
  return [
    '## Batch vs single calls',
    '',
    'Operations/s when the same work is done one call at a time (awaiting each) and as one batch',
    'call, same run. DESIGN bar for inserts: a batch of 10,000 at least 10x faster than single calls.',
    '',
    table(
      ['workload', 'single calls ops/s', 'batch ops/s', 'batch / single'],
      rows.map((r) => [r.workload, fmt.n(r.singlePerSec), fmt.n(r.batchPerSec), `**${fmt.ratio(r.ratio)}**`]),
    ),
    '',
  ].join('\n')
}
