/**
 * Quantization workload: none / SQ8 / SQ4 / PQ on flat and HNSW, and IVF-PQ (its own residual
 * codes) over an nprobe sweep (LibraVDB on disk, so full precision can leave memory), with
 * usearch f32 and i8 as peers, each in its own process:
 * recall@10 and queries/s (single queries), build time, RSS per vector after the build and
 * after the queries, code bytes per vector.
 */
import { rmSync } from 'node:fs'
import { qpsAtRecall, runWorker, writeWorkerFiles } from './ann'
import type { Dataset } from './datasets'
import { fmt, table, writePlot } from './harness'
import { lineChart } from './svg'
import type { WorkerResult, WorkerSpec } from './peer-worker'

export interface QuantRow {
  label: string
  result: WorkerResult | { lib: string; error: string }
}

export interface QuantResult {
  dataset: string
  n: number
  dim: number
  rows: QuantRow[]
}

const variants = (dim: number): { label: string; spec: Partial<WorkerSpec> }[] => [
  { label: 'libravdb flat, none', spec: { lib: 'libravdb', index: 'flat', disk: true } },
  { label: 'libravdb flat, SQ8', spec: { lib: 'libravdb', index: 'flat', disk: true, quantization: { type: 'scalar', bits: 8 } } },
  { label: 'libravdb flat, SQ4', spec: { lib: 'libravdb', index: 'flat', disk: true, quantization: { type: 'scalar', bits: 4 } } },
  { label: 'libravdb flat, PQ m16x8', spec: { lib: 'libravdb', index: 'flat', disk: true, quantization: { type: 'product', m: 16, bits: 8 } } },
  { label: 'libravdb hnsw, none', spec: { lib: 'libravdb', index: 'hnsw', disk: true } },
  { label: 'libravdb hnsw, SQ8', spec: { lib: 'libravdb', index: 'hnsw', disk: true, quantization: { type: 'scalar', bits: 8 } } },
  { label: 'libravdb hnsw, SQ4', spec: { lib: 'libravdb', index: 'hnsw', disk: true, quantization: { type: 'scalar', bits: 4 } } },
  { label: 'libravdb hnsw, PQ m16x8', spec: { lib: 'libravdb', index: 'hnsw', disk: true, quantization: { type: 'product', m: 16, bits: 8 } } },
  { label: `libravdb ivfpq, PQ m${dim / 8}x8`, spec: { lib: 'libravdb', index: 'ivfpq', disk: true, ivf: { m: dim / 8, bits: 8 } } },
  { label: `libravdb ivfpq, PQ m${dim / 4}x8`, spec: { lib: 'libravdb', index: 'ivfpq', disk: true, ivf: { m: dim / 4, bits: 8 } } },
  { label: `libravdb ivfpq, PQ m${dim / 4}x4`, spec: { lib: 'libravdb', index: 'ivfpq', disk: true, ivf: { m: dim / 4, bits: 4 } } },
  { label: 'usearch hnsw, f32', spec: { lib: 'usearch' } },
  { label: 'usearch hnsw, i8', spec: { lib: 'usearch', quantization: 'i8' } },
]

/** The IVF-PQ sweep: lists probed per query. */
const NPROBES = [1, 2, 4, 8, 16, 32, 64]

export async function benchQuant(ds: Dataset, nq: number, efs: number[], repeats: number): Promise<QuantResult> {
  const files = await writeWorkerFiles(ds, nq)
  const rows: QuantRow[] = []
  for (const v of variants(ds.dim)) {
    const spec = { base: files.base, queries: files.queries, gt: files.gt, m: 16, efConstruction: 200, efs, nprobes: NPROBES, repeats, ...v.spec } as WorkerSpec
    const result = runWorker(spec, v.label)
    if ('error' in result) console.log(`quant ${v.label}: unavailable (${result.error})`)
    else {
      const best = result.sweep.reduce((a, b) => (b.recall > a.recall ? b : a))
      console.log(`quant ${ds.name} ${v.label}: recall@10 ${best.recall.toFixed(3)} at ${best.qps.toFixed(0)} q/s, RSS ${result.rssBytesPerVector.toFixed(0)} B/vector`)
    }
    rows.push({ label: v.label, result })
  }
  rmSync(files.dir, { recursive: true, force: true })
  return { dataset: ds.name, n: ds.base.length / ds.dim, dim: ds.dim, rows }
}

export function quantSection(r: QuantResult): string {
  const none = new Map<string, number>()
  for (const row of r.rows) {
    if (!('error' in row.result) && row.label.endsWith('none')) none.set(row.label.split(',')[0], row.result.rssBytesPerVector)
  }
  return [
    `## Quantization (${r.dataset}, ${r.n.toLocaleString('en-US')} x ${r.dim})`,
    '',
    'Each row in its own process. LibraVDB collections are on disk: codes stay in memory, full',
    'precision stays in mmap\'d files and is read back only to re-rank the best k x oversampling',
    'candidates (4 for scalar, 32 for PQ). Recall is the highest reached in the efSearch sweep (flat:',
    'exact scan of codes); q/s at recall 0.95 where reached. RSS per vector: growth of the process',
    'during the build, and after the query sweep (re-ranking faults some full-precision pages back;',
    'they are clean page cache the kernel can drop). Below ~100k vectors RSS per vector is noise.',
    `IVF-PQ rows sweep nprobe (${NPROBES.join(', ')}) over about sqrt(n) lists and re-rank k x 16 candidates;`,
    'their "vs none" compares with HNSW at full precision. Flat rows are a single exact point.',
    '',
    table(
      ['variant', 'best recall@10', 'q/s at recall 0.95', 'build s', 'RSS B/vector (after queries)', 'vs none', 'code B/vector'],
      r.rows.map(({ label, result }) => {
        if ('error' in result) return [label, `unavailable: ${result.error}`, '', '', '', '', '']
        const best = result.sweep.reduce((a, b) => (b.recall > a.recall ? b : a))
        const q95 = qpsAtRecall(result.sweep, 0.95)
        const prefix = label.split(',')[0]
        const base = none.get(prefix) ?? (prefix === 'libravdb ivfpq' ? none.get('libravdb hnsw') : undefined)
        const vs = base && !label.endsWith('none') ? `${((100 * result.rssBytesPerVector) / base).toFixed(0)}%` : ''
        return [
          label,
          best.recall.toFixed(3),
          q95 ? fmt.n(q95) : 'not reached',
          result.buildSeconds.toFixed(2),
          `${fmt.n(result.rssBytesPerVector)} (${fmt.n(result.rssAfterQueriesBytesPerVector)})`,
          vs,
          result.codeBytesPerVector ? fmt.n(result.codeBytesPerVector) : '',
        ]
      }),
    ),
    '',
    writePlot(
      `recall-qps-quantized-${r.dataset.replace(/[^a-z0-9-]+/gi, '-')}.svg`,
      lineChart({
        title: `${r.dataset}: recall@10 vs queries/s by index and codes`,
        xLabel: 'recall@10',
        yLabel: 'queries/s (log)',
        yLog: true,
        series: r.rows.flatMap(({ label, result }) =>
          'error' in result || result.sweep.length < 2 ? [] : [{ name: label, points: result.sweep.map((p) => [p.recall, p.qps] as [number, number]) }],
        ),
      }),
      'recall vs queries/s per index and quantization',
    ),
    '',
  ].join('\n')
}
