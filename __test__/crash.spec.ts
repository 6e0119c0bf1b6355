import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type Collection, LibraVDB } from '../index'
import { vectorOf } from './fixtures/crash-writer'
import { rng, tempDir } from './helpers'

const ROUNDS = 24
const BATCH = 50

/** Runs the writer until it has acknowledged at least one batch, waits a random moment,
 * SIGKILLs it, and returns the highest acknowledged batch. */
function runAndKill(dir: string, round: number, checkpointBytes: number, delayMs: number, index: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'fixtures', 'crash-writer.ts'), dir, String(round), String(checkpointBytes), index],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let acked = -1
    let buffered = ''
    let stderr = ''
    let timer: NodeJS.Timeout | undefined
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const l of lines) if (l.startsWith('ACK ')) acked = Number(l.slice(4))
      if (acked >= 0 && !timer) timer = setTimeout(() => child.kill('SIGKILL'), delayMs)
    })
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('exit', (code, signal) => {
      // Lines that arrived before the kill count as acknowledged too.
      for (const l of buffered.split('\n')) if (l.startsWith('ACK ')) acked = Number(l.slice(4))
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with ${code}: ${stderr}`))
      else resolve(acked)
    })
  })
}

/** Checks one round's batches; returns how many of its records are present. */
async function checkRound(c: Collection, r: number, ackedUpTo: number): Promise<number> {
  let total = 0
  for (let b = 0; ; b++) {
    const got = await Promise.all(Array.from({ length: BATCH }, (_, i) => c.get(`r${r}-b${b}-${i}`)))
    const n = got.filter((p) => p !== null).length
    if (b > ackedUpTo && n === 0) return total // batches after the last ACK may be absent...
    // ...or whole (committed, killed before its ACK was printed); acknowledged ones must be
    // whole. Record 0 of every third batch is deleted by the writer's next call.
    expect(n, `round ${r} batch ${b}: ${n} of ${BATCH} records (acknowledged up to ${ackedUpTo})`).toBeGreaterThanOrEqual(BATCH - 1)
    got.forEach((p, i) => {
      if (p) expect(p.vector).toEqual(vectorOf(r, b, i))
    })
    total += n
  }
}

describe('crash safety', () => {
  for (const [index, rounds] of [
    ['flat', ROUNDS],
    ['hnsw', 12],
  ] as const) {
    it(`${index}: loses no acknowledged write and applies no batch by half over ${rounds} SIGKILLs`, async () => {
      const dir = tempDir()
      const random = rng(2024)
      const acked: number[] = []
      const present: number[] = []
      for (let round = 0; round < rounds; round++) {
        // Odd rounds checkpoint after every batch, so many kills land inside a checkpoint;
        // even rounds keep a WAL tail of several batches to replay.
        const checkpointBytes = round % 2 === 1 ? 1 : 64 * 1024
        acked.push(await runAndKill(dir, round, checkpointBytes, Math.floor(random() * 150), index))

        // Every round: the database opens, this round is checked record by record, and the
        // earlier rounds still hold exactly what they held. At the end: every round again.
        const db = await LibraVDB.open(dir) // must never fail
        const c = db.getCollection('c')
        present.push(await checkRound(c, round, acked[round]))
        expect(await c.count()).toBe(present.reduce((a, b) => a + b, 0))
        if (round === rounds - 1) {
          for (let r = 0; r < rounds; r++) expect(await checkRound(c, r, acked[r])).toBe(present[r])
          // The recovered graph still finds records by their own vectors.
          const hits = await c.search(vectorOf(0, 0, 5), { k: 1 })
          expect(hits[0]?.id).toBe('r0-b0-5')
        }
        await db.close()
      }
      console.log(`${index}: acknowledged batches per round: ${acked.join(' ')}`)
      expect(acked.filter((a) => a >= 0).length).toBe(rounds)
    }, 300_000)
  }
})
