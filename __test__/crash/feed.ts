/**
 * Kill rounds of the change feed: the writer of the kill harness (`worker.ts`, mixed writes)
 * and a follower (`follower-worker.ts`, applying the feed to a replica from a read-only
 * handle) run side by side and are each SIGKILLed at a random moment; both restart the next
 * round, the follower from the last sequence number it recorded. At the end the follower
 * catches up with the writer's last change, and the replica must hold exactly what the
 * source holds: nothing lost, and nothing applied twice that changes the result.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../../index'
import { rng } from '../../benches/datasets'

function start(script: string, args: string[]): { child: ChildProcess; applied: () => number; exited: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let applied = 0
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/APPLIED (\d+)/g)) applied = Number(m[1])
  })
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal === 'SIGKILL' ? '' : `${script} exited with ${code}: ${stderr}`)))
  return { child, applied: () => applied, exited }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface FeedRoundsSummary {
  rounds: number
  /** Changes the writer committed over all rounds. */
  changes: number
  records: number
}

/** `rounds` rounds of writer and follower killed at random; throws when the replica ends
 * up different from the source. */
export async function feedRounds(rounds: number, seed = 1): Promise<FeedRoundsSummary> {
  const root = mkdtempSync(join(tmpdir(), 'libravdb-feed-crash-'))
  const source = join(root, 'source')
  const replica = join(root, 'replica')
  mkdirSync(replica)
  const random = rng(seed)
  try {
    for (let round = 0; round < rounds; round++) {
      // Odd rounds checkpoint after every write: the follower reads from archived logs.
      const checkpointBytes = round % 2 === 1 ? 1 : 256 * 1024
      const writer = start('worker.ts', [source, 'hnsw', String(seed * 100_000 + round), String(checkpointBytes)])
      const follower = start('follower-worker.ts', [source, replica])
      const w = sleep(300 + random() * 700).then(() => writer.child.kill('SIGKILL'))
      const f = sleep(300 + random() * 900).then(() => follower.child.kill('SIGKILL'))
      await Promise.all([w, f])
      for (const why of await Promise.all([writer.exited, follower.exited])) if (why) throw new Error(`round ${round}: ${why}`)
    }
    // The writer stays stopped; the follower catches up with its last change.
    const db = await LibraVDB.open(source)
    const col = db.getCollection('c')
    const last = col.stats().seq
    const want = new Map<string, string>()
    for await (const r of col.scan({ includeVectors: true })) want.set(r.id, JSON.stringify([Array.from(r.vector!), r.metadata]))
    await db.close()
    const follower = start('follower-worker.ts', [source, replica])
    const deadline = Date.now() + 120_000
    let ended = false
    void follower.exited.then(() => (ended = true))
    while (follower.applied() < last && Date.now() < deadline && !ended) await sleep(20)
    follower.child.kill('SIGKILL')
    const why = await follower.exited
    if (why) throw new Error(why)
    if (follower.applied() !== last) throw new Error(`the follower applied up to ${follower.applied()}, the writer's last change is ${last}`)
    const rdb = await LibraVDB.open(join(replica, 'db'))
    const got = new Map<string, string>()
    for await (const r of rdb.getCollection('c').scan({ includeVectors: true })) got.set(r.id, JSON.stringify([Array.from(r.vector!), r.metadata]))
    await rdb.close()
    if (got.size !== want.size) throw new Error(`replica holds ${got.size} records, the source ${want.size}`)
    for (const [id, v] of want) if (got.get(id) !== v) throw new Error(`record ${id}: replica ${got.get(id)} vs source ${v}`)
    return { rounds, changes: last, records: want.size }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}
