/** Runs the soak worker in a child process and summarises RSS and latency over time. */
import { fmt, runChild, table, writePlot } from './harness'
import type { SoakSample } from './soak-worker'
import { lineChart } from './svg'

export interface SoakResult {
  seconds: number
  samples: SoakSample[]
  /** Least-squares slopes after warm-up (the first half of the run, at least the first minute);
   * null when what is left spans less than a minute: too short to tell growth from warm-up. */
  rssMBPerMinute: number | null
  p99MsPerMinute: number | null
}

/** Samples before this many seconds are warm-up (caches, the first optimize() cycles). */
const MIN_WARMUP_S = 60
/** The slope is fitted over at least this many seconds after warm-up, or not reported. */
const MIN_FIT_S = 60

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length
  if (n < 2) return 0
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my)
    den += (xs[i] - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

export function benchSoak(seconds: number, size: number): SoakResult {
  const sampleSeconds = Math.max(2, Math.round(seconds / 30))
  const out = runChild('soak-worker.ts', { seconds, sampleSeconds, dim: 64, size })
  const samples = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as SoakSample)
  const warm = Math.max(MIN_WARMUP_S, seconds / 2)
  const late = samples.filter((s) => s.t >= warm)
  const fitted = late.length >= 3 && late[late.length - 1].t - late[0].t >= MIN_FIT_S
  const minutes = late.map((s) => s.t / 60)
  return {
    seconds,
    samples,
    rssMBPerMinute: fitted ? slope(minutes, late.map((s) => s.rssMB)) : null,
    p99MsPerMinute: fitted ? slope(minutes, late.map((s) => s.p99ms)) : null,
  }
}

/** The slopes as a sentence, or why there are none. */
export function soakSlopes(r: SoakResult): string {
  if (r.rssMBPerMinute === null || r.p99MsPerMinute === null) {
    return `no slope: ${r.seconds} s is too short to tell growth from warm-up (run at least ${(MIN_WARMUP_S + MIN_FIT_S) / 60} min: --soak-minutes)`
  }
  return `RSS slope ${r.rssMBPerMinute.toFixed(2)} MB/min, p99 slope ${(r.p99MsPerMinute * 1000).toFixed(1)} us/min after warm-up`
}

export function soakSection(r: SoakResult): string {
  const last = r.samples[r.samples.length - 1]
  const rows = r.samples.filter((_, i) => i % Math.max(1, Math.floor(r.samples.length / 10)) === 0 || _ === last)
  return [
    '## Soak: steady-state mixed load',
    '',
    `${(r.seconds / 60).toFixed(1)} minutes on an on-disk HNSW collection (64-d) kept at a steady size: each`,
    'round inserts 200, deletes 200 random records and runs 50 single searches; optimize() every 10 s.',
    `${soakSlopes(r)} (least squares over the samples after the first half of the run, and after`,
    'the first minute at least; flat means no leak and no degradation).',
    '',
    writePlot(
      'soak-rss.svg',
      lineChart({ title: 'Soak: RSS over time', xLabel: 'seconds', yLabel: 'RSS (MB)', series: [{ name: 'RSS', points: r.samples.map((s) => [s.t, s.rssMB]) }] }),
      'RSS over time',
    ),
    writePlot(
      'soak-latency.svg',
      lineChart({
        title: 'Soak: search latency over time',
        xLabel: 'seconds',
        yLabel: 'ms',
        series: [
          { name: 'p50', points: r.samples.map((s) => [s.t, s.p50ms]) },
          { name: 'p99', points: r.samples.map((s) => [s.t, s.p99ms]) },
        ],
      }),
      'search latency over time',
    ),
    '',
    table(
      ['t (s)', 'RSS MB', 'p50 ms', 'p99 ms', 'records', 'inserts', 'deletes', 'searches', 'optimizes'],
      rows.map((s) => [s.t.toFixed(0), s.rssMB.toFixed(1), s.p50ms.toFixed(3), s.p99ms.toFixed(3), fmt.n(s.count), fmt.n(s.inserts), fmt.n(s.deletes), fmt.n(s.searches), String(s.optimizes)]),
    ),
    '',
  ].join('\n')
}
