/**
 * Libraries measured side by side: each peer runs in a process of its own (its memory and
 * threads its own), all of them alive at once, and the parent interleaves their timed rounds:
 * round 1 of every library, then round 2 of every library, and so on. A burst of load on the
 * shared machine then lands on one round of all of them, not on all rounds of one, and each
 * keeps its best round per sweep point.
 *
 * The protocol, on the worker's stdin/stdout, one JSON line each way: the worker builds its
 * index, warms its sweep points up and prints `{"ready": true}`; on each `round` line it times
 * every point once and prints `{"round": n}`; on `done` it prints its result (a WorkerResult)
 * and exits. Builds run one at a time (a worker starts once the previous one is ready).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { WorkerResult } from './peer-worker'

/** How to start one library's worker: the command and its arguments, and its label. */
export interface Launch {
  lib: string
  command: string
  args: string[]
}

/** A Node worker of benches/ (through tsx) in driven mode. */
export function nodeLaunch(script: string, spec: object, lib: string): Launch {
  return {
    lib,
    command: process.execPath,
    args: ['--expose-gc', '--import', 'tsx', join(__dirname, script), JSON.stringify({ ...spec, driven: true })],
  }
}

class Driven {
  private lines: AsyncIterator<string>
  private stderr = ''

  constructor(
    readonly lib: string,
    private child: ChildProcessWithoutNullStreams,
  ) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000)
    })
    // A command that cannot start, or a worker gone before a line reaches it: the missing
    // answer (next() sees the output end) reports it.
    child.on('error', (e) => {
      this.stderr += e.message
    })
    child.stdin.on('error', () => {})
  }

  /** The next JSON line the worker prints (other lines are skipped). */
  async next(): Promise<Record<string, unknown>> {
    for (;;) {
      const { value, done } = await this.lines.next()
      if (done) throw new Error(this.stderr.trim().split('\n').slice(-3).join(' ') || 'the worker exited')
      if (value.startsWith('{')) return JSON.parse(value) as Record<string, unknown>
    }
  }

  async send(line: 'round' | 'done'): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${line}\n`)
    if (line === 'done') this.child.stdin.end()
    return this.next()
  }

  kill(): void {
    this.child.kill()
  }
}

/** Builds every library in turn, then runs `repeats` rounds interleaved across them; a
 * library that fails (to start, build or answer) becomes `{ lib, error }` for the report and
 * leaves the others running. */
export async function runInterleaved(launches: Launch[], repeats: number): Promise<(WorkerResult | { lib: string; error: string })[]> {
  const running: (Driven | { lib: string; error: string })[] = []
  for (const l of launches) {
    const w = new Driven(l.lib, spawn(l.command, l.args, { stdio: ['pipe', 'pipe', 'pipe'] }))
    try {
      await w.next() // ready
      running.push(w)
    } catch (e) {
      w.kill()
      running.push({ lib: l.lib, error: (e as Error).message })
    }
  }
  const fail = (i: number, e: unknown) => {
    ;(running[i] as Driven).kill()
    running[i] = { lib: running[i].lib, error: (e as Error).message }
  }
  for (let r = 0; r < repeats; r++) {
    for (const [i, w] of running.entries()) {
      if (w instanceof Driven) await w.send('round').catch((e) => fail(i, e))
    }
  }
  const results: (WorkerResult | { lib: string; error: string })[] = []
  for (const [i, w] of running.entries()) {
    if (!(w instanceof Driven)) {
      results.push(w)
      continue
    }
    try {
      // The label the caller gave, unless the worker's own name extends it (faiss adds its
      // version); a variant's label ('libravdb sq8') stays.
      const r = (await w.send('done')) as unknown as WorkerResult
      results.push({ ...r, lib: typeof r.lib === 'string' && r.lib.startsWith(w.lib) ? r.lib : w.lib })
    } catch (e) {
      fail(i, e)
      results.push(running[i] as { lib: string; error: string })
    }
  }
  return results
}
