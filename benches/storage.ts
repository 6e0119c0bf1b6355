/**
 * Storage modes vs size: resident memory (anonymous and file-backed) and search q/s of an
 * on-disk HNSW collection for `storage.mmap` false / true / 'auto' (under a memory limit),
 * with SQ8, and with 2 KB of metadata per record; each point built in a process of its own
 * ({@link StorageSpec}). Also q/s of the first sweep after a memory-pressure crossing released
 * the mapped pages: what degradation costs.
 */
import { childResult, table, writePlot } from './harness'
import type { StorageResult, StorageSpec } from './storage-worker'
import { lineChart } from './svg'

const MODES: { label: string; spec: Omit<StorageSpec, 'n' | 'queries'> }[] = [
  { label: 'mmap false', spec: { mmap: 'false', metadataBytes: 0 } },
  { label: 'mmap true', spec: { mmap: 'true', metadataBytes: 0 } },
  { label: "'auto', limit 128MB", spec: { mmap: 'auto', metadataBytes: 0, memoryLimit: '128MB' } },
  // Re-ranking reads full precision by pread under 'auto', through the mapping under true.
  { label: "'auto' + SQ8", spec: { mmap: 'auto', metadataBytes: 0, quantization: 'sq8' } },
  { label: 'mmap true + SQ8', spec: { mmap: 'true', metadataBytes: 0, quantization: 'sq8' } },
  { label: "'auto' + 2 KB metadata", spec: { mmap: 'auto', metadataBytes: 2048 } },
]

export interface StorageModesResult {
  sizes: number[]
  series: { label: string; points: (StorageResult | { error: string })[] }[]
}

export function benchStorageModes(sizes: number[], queries: number): StorageModesResult {
  const series: StorageModesResult['series'] = MODES.map((m) => ({ label: m.label, points: [] }))
  for (const n of sizes) {
    MODES.forEach((m, i) => {
      const r = childResult<StorageResult>('storage-worker.ts', { n, queries, ...m.spec } satisfies StorageSpec, 'libravdb')
      series[i].points.push(r)
      const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`
      console.log(
        `storage ${m.label} at ${n}: ${'error' in r ? r.error : `anon ${mib(r.anonBytes)}, file ${mib(r.fileBytes)}, held ${mib(r.heldBytes)}, ${r.qps.toFixed(0)} q/s, ${r.qpsAfterRelease.toFixed(0)} after release`}`,
      )
    })
  }
  return { sizes, series }
}

/** RSS growth below this is within what one process's RSS varies by between runs (allocator
 * and V8 housekeeping): shown as `< 2`, never as a negative figure. */
const NOISE_FLOOR = 2 * 2 ** 20

export function storageModesSection(r: StorageModesResult): string {
  const mib = (b: number) => (b / 2 ** 20).toFixed(1)
  const rss = (b: number) => (b < NOISE_FLOOR ? '< 2' : mib(b))
  const rows: string[][] = []
  r.series.forEach((s) =>
    s.points.forEach((p, i) => {
      const n = r.sizes[i].toLocaleString('en-US')
      if ('error' in p) rows.push([s.label, n, `failed: ${p.error}`, '', '', '', '', '', ''])
      else
        rows.push([
          s.label,
          n,
          rss(p.anonBytes),
          `${rss(p.v8HeapBytes)} / ${mib(p.cacheBytes)}`,
          rss(p.fileBytes),
          mib(p.heldBytes),
          p.vectorsInMemory ? 'memory' : 'mapped',
          p.qps.toFixed(0),
          p.qpsAfterRelease.toFixed(0),
        ])
    }),
  )
  const ok = (p: StorageResult | { error: string }): p is StorageResult => !('error' in p)
  const largest = r.series.at(-1)?.points.at(-1)
  const parts = largest && ok(largest) ? Object.entries(largest.parts).map(([k, v]) => `${k} ${mib(v)}`).join(', ') : 'not measured'
  return [
    '## Storage modes vs size (on disk, HNSW m 12, 128-d clustered)',
    '',
    'Each row is a fresh process: RSS growth since before the collection existed, anonymous (heap and',
    'anonymous maps, including the V8 heap and the metadata cache) and file-backed (mapped vectors, links, metadata: the',
    'kernel reclaims them under pressure), `memoryUsage().total`, where the vectors live, q/s of 200',
    'single queries (k 10; with metadata returned where stored; best of two warm sweeps) and q/s of the',
    'one sweep after a pressure crossing released the mapped pages (they fault back from the page cache;',
    '`mmap false` releases nothing, so its two columns show the noise between sweeps). RSS growth under',
    '2 MiB is noise.',
    '',
    table(['mode', 'vectors', 'anon MiB', 'of which V8 heap / cache', 'file MiB', 'held MiB', 'vectors in', 'q/s', 'q/s after release'], rows),
    '',
    `\`memoryUsage()\` of the largest collection (${r.series.at(-1)?.label}, ${r.sizes.at(-1)?.toLocaleString('en-US')} records), MiB: ${parts}.`,
    '',
    writePlot(
      'storage-modes-anon-rss.svg',
      lineChart({
        title: 'Anonymous RSS growth vs vectors, by storage mode',
        xLabel: 'vectors',
        yLabel: 'anonymous RSS growth (MiB)',
        series: r.series.map((s) => ({
          name: s.label,
          points: s.points.flatMap((p, i) => (ok(p) ? [[r.sizes[i], p.anonBytes / 2 ** 20] as [number, number]] : [])),
        })),
      }),
      'Anonymous RSS vs size by storage mode',
    ),
    '',
  ].join('\n')
}
