/**
 * Filtered search across selectivities (0.1% to 100%): recall@10 against the exact filtered
 * top 10, and p50/p99 latency of single queries, for LibraVDB (payload index + planner) and
 * hnswlib-node (filter callback during the graph walk), each in its own process.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../index'
import type { Dataset } from './datasets'
import type { FilteredLib, FilteredSpec } from './filtered-worker'
import { childResult, table, writePlot } from './harness'
import { lineChart } from './svg'
import { writeVecs } from './vecfile'

export const LIMITS = [1, 10, 50, 100, 500, 1000] // bucket < limit of 1000 buckets: 0.1% ... 100%
/** Held-out queries each library tunes its efSearch on (the last ones of the dataset). */
const CALIBRATION_QUERIES = 50
/** Each library takes the smallest efSearch of the ladder reaching this unfiltered recall@10. */
const CALIBRATION_RECALL = 0.97
const CALIBRATION_EFS = [64, 96, 128, 192, 256, 384, 512]

export interface FilteredResult {
  dataset: string
  n: number
  results: (FilteredLib | { lib: string; error: string })[]
}

/** `peers: false` measures LibraVDB alone (the report says so). */
export async function benchFiltered(ds: Dataset, nq: number, peers = true): Promise<FilteredResult> {
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-filtered-'))
  const dim = ds.dim
  const n = ds.base.length / dim
  const available = ds.queries.length / dim
  if (available <= CALIBRATION_QUERIES) throw new Error(`filtered bench needs more than ${CALIBRATION_QUERIES} queries`)
  nq = Math.min(nq, available - CALIBRATION_QUERIES)
  const queries = ds.queries.subarray(0, nq * dim)
  const calib = ds.queries.subarray((available - CALIBRATION_QUERIES) * dim)
  writeVecs(join(dir, 'base.fvecs'), dim, ds.base)
  writeVecs(join(dir, 'query.fvecs'), dim, queries)
  writeVecs(join(dir, 'calib.fvecs'), dim, calib)
  // Exact filtered ground truth from LibraVDB's flat index (tested equal to brute force).
  const db = await LibraVDB.open()
  const flat = await db.createCollection('gt', { dimension: dim, schema: { bucket: 'int' } })
  for (let s = 0; s < n; s += 20_000) {
    const m = Math.min(20_000, n - s)
    const ids = Array.from({ length: m }, (_, i) => String(s + i))
    await flat.insertBatch({ ids, vectors: ds.base.subarray(s * dim, (s + m) * dim), metadata: ids.map((id) => ({ bucket: Number(id) % 1000 })) })
  }
  const gt: Record<string, string> = {}
  for (const limit of LIMITS) {
    const hits = await flat.searchBatch(queries, { k: 10, filter: { bucket: { $lt: limit } } })
    gt[String(limit)] = join(dir, `gt-${limit}.ivecs`)
    writeVecs(gt[String(limit)], 10, Int32Array.from(hits.flatMap((h) => h.map((x) => Number(x.id)))))
  }
  const calibHits = await flat.searchBatch(calib, { k: 10 })
  writeVecs(join(dir, 'calib-gt.ivecs'), 10, Int32Array.from(calibHits.flatMap((h) => h.map((x) => Number(x.id)))))
  await db.close()
  const results: FilteredResult['results'] = []
  for (const lib of peers ? (['libravdb', 'hnswlib-node'] as const) : (['libravdb'] as const)) {
    const spec: FilteredSpec = {
      lib,
      base: join(dir, 'base.fvecs'),
      queries: join(dir, 'query.fvecs'),
      gt,
      limits: LIMITS,
      calibration: { queries: join(dir, 'calib.fvecs'), gt: join(dir, 'calib-gt.ivecs'), recall: CALIBRATION_RECALL, efs: CALIBRATION_EFS },
    }
    results.push(childResult<FilteredLib>('filtered-worker.ts', spec, lib))
  }
  rmSync(dir, { recursive: true, force: true })
  return { dataset: ds.name, n, results }
}

/** `plot`: the file name of the latency chart (one per dataset in a report). */
export function filteredSection(r: FilteredResult, plot = 'filtered-latency.svg'): string {
  const ok = r.results.filter((x): x is FilteredLib => 'points' in x)
  // LibraVDB's p50 over its own unfiltered p50 (the 100% row): what the planner's choice costs.
  const unfiltered = (x: FilteredLib) => x.points.find((y) => y.limit === 1000)?.p50ms
  const rows = LIMITS.map((limit) => [
    `${(limit / 10).toFixed(1)}%`,
    ...ok.flatMap((x) => {
      const p = x.points.find((y) => y.limit === limit)
      const own = unfiltered(x)
      const extra = x.lib === 'libravdb' ? [p?.plan ?? '', p && own ? `${(p.p50ms / own).toFixed(2)}x` : ''] : []
      return p ? [p.recall.toFixed(3), `${p.p50ms.toFixed(3)} / ${p.p99ms.toFixed(3)}`, ...extra] : ['', '', ...extra]
    }),
  ])
  const header = [
    'selectivity',
    ...ok.flatMap((x) => [`${x.lib} recall@10`, `${x.lib} p50 / p99 ms`, ...(x.lib === 'libravdb' ? ['plan', 'p50 / unfiltered p50'] : [])]),
  ]
  return [
    `## Filtered search (${r.dataset}, ${r.n.toLocaleString('en-US')} vectors)`,
    '',
    'Filter `bucket < limit` with `bucket = id % 1000`; recall against the exact filtered top 10;',
    `single queries, HNSW m = 16, efConstruction 200. Each library first tunes efSearch on ${CALIBRATION_QUERIES} held-out`,
    `queries: the smallest of ${CALIBRATION_EFS.join(', ')} whose unfiltered recall@10 reaches ${CALIBRATION_RECALL}`,
    `(${ok.map((x) => `${x.lib}: ${x.efSearch}`).join(', ')}). LibraVDB's planner widens it as selectivity falls;`,
    'hnswlib-node filters with its label callback during the walk. usearch: its JavaScript binding',
    'has no filtered search. LanceDB: measured in the IVF-PQ comparison only (no HNSW of its own).',
    '',
    ...r.results.filter((x) => 'error' in x).map((x) => `- ${x.lib}: unavailable (${(x as { error: string }).error})`),
    '',
    table(header, rows),
    '',
    writePlot(
      plot,
      lineChart({
        title: `Filtered search (${r.dataset}): p99 latency vs selectivity`,
        xLabel: 'selectivity (%)',
        yLabel: 'p99 ms (log)',
        xLog: true,
        yLog: true,
        series: ok.map((x) => ({ name: x.lib, points: x.points.map((p) => [p.limit / 10, Math.max(p.p99ms, 1e-3)] as [number, number]) })),
      }),
      'p99 latency vs selectivity',
    ),
    '',
  ].join('\n')
}
