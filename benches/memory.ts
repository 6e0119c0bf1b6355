/**
 * Memory vs size: RSS growth of building each index at several sizes (the first n of the
 * dataset), each build in its own process: LibraVDB HNSW (in memory), LibraVDB IVF-PQ (on
 * disk, full precision left to the page cache), hnswlib-node and usearch. The slope between
 * the two largest sizes is the marginal cost per vector, free of fixed overheads.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { runWorker, writeWorkerFiles } from './ann'
import type { Dataset } from './datasets'
import { fmt, table, writePlot } from './harness'
import type { WorkerSpec } from './peer-worker'
import { lineChart } from './svg'
import { writeVecs } from './vecfile'

const LIBS: { label: string; spec: Partial<WorkerSpec> }[] = [
  { label: 'libravdb hnsw', spec: { lib: 'libravdb', index: 'hnsw' } },
  { label: 'libravdb ivfpq (disk)', spec: { lib: 'libravdb', index: 'ivfpq', disk: true } },
  { label: 'hnswlib-node', spec: { lib: 'hnswlib-node' } },
  { label: 'usearch', spec: { lib: 'usearch' } },
]

export interface MemoryResult {
  dataset: string
  sizes: number[]
  /** Per library: RSS growth in bytes per size (null: the build failed). */
  series: { label: string; rss: (number | null)[]; error?: string }[]
}

export async function benchMemory(ds: Dataset, sizes: number[]): Promise<MemoryResult> {
  const files = await writeWorkerFiles(ds, 20)
  const series: MemoryResult['series'] = LIBS.map((l) => ({ label: l.label, rss: [] }))
  for (const n of sizes) {
    const base = join(files.dir, `base-${n}.fvecs`)
    writeVecs(base, ds.dim, ds.base.subarray(0, n * ds.dim))
    LIBS.forEach((l, i) => {
      const spec = { base, queries: files.queries, gt: files.gt, m: 16, efConstruction: 200, efs: [64], nprobes: [8], repeats: 1, ...l.spec } as WorkerSpec
      const r = runWorker(spec, l.label)
      if ('error' in r) {
        series[i].rss.push(null)
        series[i].error = r.error
      } else series[i].rss.push(r.rssBytesPerVector * n)
      console.log(`memory ${l.label} at ${n}: ${'error' in r ? r.error : `${(r.rssBytesPerVector * n / 2 ** 20).toFixed(1)} MiB`}`)
    })
    rmSync(base)
  }
  rmSync(files.dir, { recursive: true, force: true })
  return { dataset: ds.name, sizes, series }
}

export function memorySection(r: MemoryResult): string {
  const last = r.sizes.length - 1
  const slope = (rss: (number | null)[]) => {
    const a = rss[last - 1]
    const b = rss[last]
    return a == null || b == null ? undefined : (b - a) / (r.sizes[last] - r.sizes[last - 1])
  }
  const ours = slope(r.series[0].rss)
  return [
    `## Memory vs size (${r.dataset})`,
    '',
    'RSS growth of a process building the index over the first n vectors (m = 16, efConstruction = 200;',
    'IVF-PQ with its defaults, on disk). Marginal bytes/vector: the slope between the two largest sizes.',
    '',
    table(
      ['library', ...r.sizes.map((n) => `${n.toLocaleString('en-US')} (MiB)`), 'marginal B/vector', 'vs libravdb hnsw'],
      r.series.map((s) => {
        const m = slope(s.rss)
        return [
          s.error && s.rss.every((x) => x == null) ? `${s.label} (unavailable: ${s.error})` : s.label,
          ...s.rss.map((x) => (x == null ? '' : (x / 2 ** 20).toFixed(1))),
          m === undefined ? '' : fmt.n(m),
          m === undefined || ours === undefined || s === r.series[0] ? '' : `${((100 * m) / ours).toFixed(0)}%`,
        ]
      }),
    ),
    '',
    writePlot(
      `rss-vs-size-${r.dataset.replace(/[^a-z0-9-]+/gi, '-')}.svg`,
      lineChart({
        title: `${r.dataset}: RSS growth vs vectors`,
        xLabel: 'vectors',
        yLabel: 'RSS growth (MiB)',
        series: r.series.map((s) => ({
          name: s.label,
          points: r.sizes.flatMap((n, i) => (s.rss[i] == null ? [] : [[n, (s.rss[i] as number) / 2 ** 20] as [number, number]])),
        })),
      }),
      'RSS vs size',
    ),
    '',
  ].join('\n')
}
