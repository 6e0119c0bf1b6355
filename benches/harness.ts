/** Timing helpers and the report writer shared by the workloads. */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { simdLevel } from '../index'

/**
 * Runs a worker script of benches/ (TypeScript, through tsx) in a process of its own, so its
 * memory and threads are its own, with `arg` as JSON; returns its stdout. `--expose-gc` lets
 * workers collect garbage before reading RSS.
 */
export function runChild(script: string, arg: unknown, env?: NodeJS.ProcessEnv): string {
  return execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(__dirname, script), JSON.stringify(arg)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env && { ...process.env, ...env },
  })
}

/** {@link runChild}, parsing the last stdout line as JSON; a failure becomes `{ lib, error }`
 * for the report instead of ending the run. */
export function childResult<T extends object>(script: string, arg: unknown, lib: string, env?: NodeJS.ProcessEnv): T | { lib: string; error: string } {
  try {
    return JSON.parse(runChild(script, arg, env).trim().split('\n').pop() ?? '{}') as T
  } catch (e) {
    const err = e as { stderr?: string; message: string }
    return { lib, error: (err.stderr || err.message).split('\n').slice(0, 3).join(' ') }
  }
}

/** Resident memory of this process from /proc/self/status (Linux): anonymous (heap and
 * anonymous maps, which a memory limit governs) and file-backed (mapped files, reclaimable).
 * Elsewhere: the whole RSS as anonymous, 0 file-backed. */
export function residentBytes(): { anon: number; file: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024
    const [anon, file] = [kb('RssAnon'), kb('RssFile')]
    if (Number.isFinite(anon) && Number.isFinite(file)) return { anon, file }
  } catch {
    // not Linux
  }
  return { anon: process.memoryUsage().rss, file: 0 }
}

/** Median and range of repeated measurements. */
export interface Spread {
  median: number
  min: number
  max: number
}

export function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b)
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] }
}

/** Runs `fn` `repeats` times after one warm-up and returns operations/s per run. */
export async function opsPerSecond(ops: number, repeats: number, fn: () => unknown): Promise<Spread> {
  await fn()
  const rates: number[] = []
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now()
    await fn()
    rates.push((ops * 1000) / (performance.now() - t0))
  }
  return spread(rates)
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, kernels: ${simdLevel()}`
}

export const fmt = {
  n: (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2)),
  ratio: (x: number) => `${x.toFixed(1)}x`,
  spread: (s: Spread) => `${fmt.n(s.median)} (${fmt.n(s.min)}–${fmt.n(s.max)})`,
}

/** A markdown table. */
export function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

/** Where reports and plots go. */
export const RESULTS_DIR = join(__dirname, 'results')

/** Writes an SVG plot under benches/results/ and returns the markdown that shows it. */
export function writePlot(file: string, svg: string, alt: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true })
  writeFileSync(join(RESULTS_DIR, file), svg)
  return `![${alt}](${file})`
}

/** Writes REPORT.md and results.json under benches/results/. */
export function writeReport(sections: string[], json: unknown): string {
  const dir = RESULTS_DIR
  mkdirSync(dir, { recursive: true })
  const md = [`# LibraVDB benchmark report`, '', `Machine: ${machine()}`, `Date: ${new Date().toISOString()}`, '', ...sections].join('\n')
  writeFileSync(join(dir, 'REPORT.md'), md + '\n')
  writeFileSync(join(dir, 'results.json'), JSON.stringify({ machine: machine(), date: new Date().toISOString(), ...(json as object) }, null, 2))
  return dir
}

/** The `q` quantile (0..1) of `xs` by the nearest lower rank (0 for none). */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0
}
