import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'

export { readVecs, rng } from '../benches/datasets'
export { randomVectors, row } from './helpers-data'

const made: string[] = []

/** A fresh temp directory, removed after the current test. */
export function tempDir(prefix = 'libravdb-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Ids "from" .. "from + n - 1". */
export const ids = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => String(from + i))

/** Recall@10 of `got` against `truth` (hits per query, best first). */
export function recallAt10(got: { id: string }[][], truth: { id: string }[][]): number {
  let hit = 0
  got.forEach((hits, q) => {
    const want = new Set(truth[q].slice(0, 10).map((h) => h.id))
    hit += hits.slice(0, 10).filter((h) => want.has(h.id)).length
  })
  return hit / (got.length * 10)
}


/** ../shared/datasets beside the checkout, or $LIBRAVDB_DATASETS. */
export const DATASETS = process.env.LIBRAVDB_DATASETS ?? join(__dirname, '..', '..', 'shared', 'datasets')

/** Runs `__test__/crash/<script>` in a child process and SIGKILLs it once it prints
 * `marker`; resolves to what it printed (rejects if it exits by itself). */
export function runUntilKilled(script: string, args: string[], marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'crash', script), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes(marker)) child.kill('SIGKILL')
    })
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(out) : reject(new Error(`exit ${code}: ${out} ${err}`))))
  })
}
