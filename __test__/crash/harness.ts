/**
 * The kill harness: rounds of a worker process running seeded mixed writes (insert, upsert,
 * update, delete, deleteWhere, optimize; quantizer training on the way), SIGKILLed at a
 * random moment, then the database reopened and compared with an oracle of every
 * acknowledged operation. The one operation in flight at the kill may be applied whole or
 * not at all, never in part. Every reopen must succeed and `verify()` must find no damage.
 *
 * `npm run test:crash -- --rounds 100 [--kinds flat,hnsw,sq8] [--seed 1]` is the long run;
 * `__test__/crash.spec.ts` runs a short one in CI.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../../index'
import { rng } from '../../benches/datasets'
import { DIM, type Kind, type Op, type Stored, apply } from './workload'

interface Round {
  acked: Op[]
  inFlight?: Op
}

/** Runs the worker until it has acknowledged at least one write, then SIGKILLs it after
 * `delayMs`; returns what it acknowledged and what it had begun. */
function runAndKill(dir: string, kind: Kind, seed: number, checkpointBytes: number, delayMs: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'worker.ts'), dir, kind, String(seed), String(checkpointBytes)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const round: Round = { acked: [] }
    let buffered = ''
    let stderr = ''
    let timer: NodeJS.Timeout | undefined
    const take = (line: string) => {
      if (line.startsWith('BEGIN ')) round.inFlight = JSON.parse(line.slice(6)) as Op
      else if (line === 'ACK' && round.inFlight) {
        round.acked.push(round.inFlight)
        round.inFlight = undefined
      }
    }
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      lines.forEach(take)
      if (round.acked.length > 0 && !timer) timer = setTimeout(() => child.kill('SIGKILL'), delayMs)
    })
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('exit', (code, signal) => {
      if (buffered) take(buffered)
      if (signal !== 'SIGKILL') reject(new Error(`worker exited with ${code}: ${stderr}`))
      else resolve(round)
    })
  })
}

function same(a: Map<string, Stored>, b: Map<string, Stored>): string | undefined {
  if (a.size !== b.size) return `${a.size} records vs ${b.size}`
  for (const [id, x] of a) {
    const y = b.get(id)
    if (!y) return `record ${id} missing`
    if (x.tag !== y.tag) return `record ${id}: tag ${x.tag} vs ${y.tag}`
    for (let i = 0; i < DIM; i++) if (x.vector[i] !== y.vector[i]) return `record ${id}: vector differs at ${i}`
    if ((x.b === undefined) !== (y.b === undefined)) return `record ${id}: field b ${x.b ? 'present' : 'absent'} vs ${y.b ? 'present' : 'absent'}`
    for (let i = 0; x.b && y.b && i < DIM; i++) if (x.b[i] !== y.b[i]) return `record ${id}: field b differs at ${i}`
  }
  return undefined
}

export interface CrashSummary {
  kind: Kind
  rounds: number
  /** Acknowledged writes checked, over all rounds. */
  acked: number
  /** Rounds whose in-flight write turned out applied. */
  inFlightApplied: number
  /** Acknowledged schema changes (field `v` added or dropped; in the named kind vector field
   * `c` added or dropped, field `b` rebuilt). */
  schemaChanges: number
  records: number
  quantization: string
}

/** Runs `rounds` kill rounds against a fresh database of `kind`; throws on the first
 * round whose reopened database is not what the acknowledged writes made it. */
export async function crashRounds(kind: Kind, rounds: number, seed = 1, dir?: string): Promise<CrashSummary> {
  const root = dir ?? mkdtempSync(join(tmpdir(), 'libravdb-crash-'))
  const random = rng(seed)
  let state = new Map<string, Stored>()
  let hasV = false
  let hasC = false
  let bIndex = 'flat'
  const named = kind === 'named'
  const summary: CrashSummary = { kind, rounds, acked: 0, inFlightApplied: 0, schemaChanges: 0, records: 0, quantization: 'none' }
  try {
    for (let round = 0; round < rounds; round++) {
      // Odd rounds checkpoint after every write (many kills land inside a checkpoint); even
      // rounds keep a WAL tail to replay.
      const checkpointBytes = round % 2 === 1 ? 1 : 256 * 1024
      const r = await runAndKill(root, kind, seed * 100_000 + round, checkpointBytes, Math.floor(random() * 200))
      for (const op of r.acked) state = apply(state, op, named)
      // Schema field `v` is there after an odd number of acknowledged toggles.
      hasV = r.acked.reduce((has, op) => (op.k === 'schema' ? !has : has), hasV)
      summary.acked += r.acked.length
      hasC = r.acked.reduce((has, op) => (op.k === 'vectorField' ? !has : has), hasC)
      summary.schemaChanges += r.acked.filter((op) => op.k === 'schema' || op.k === 'vectorField' || op.k === 'rebuildB').length
      const toggle = (index: string) => (index === 'flat' ? 'hnsw' : 'flat')
      bIndex = r.acked.reduce((index, op) => (op.k === 'rebuildB' ? toggle(index) : index), bIndex)

      const db = await LibraVDB.open(root) // must never fail
      try {
        const c = db.getCollection('c')
        const seen = new Map<string, Stored>()
        for await (const rec of c.scan({ includeVectors: true })) {
          const m = rec.metadata as { tag: string; v: number }
          seen.set(rec.id, { vector: named ? rec.vectors!.a : rec.vector!, b: rec.vectors?.b, tag: m.tag, v: m.v })
        }
        const without = same(seen, state)
        const withIt = r.inFlight ? same(seen, apply(state, r.inFlight, named)) : without
        if (without !== undefined && withIt !== undefined) {
          throw new Error(
            `${kind} round ${round}: the database holds neither the acknowledged writes (${without}) ` +
              `nor them plus the write in flight ${JSON.stringify(r.inFlight)?.slice(0, 120)} (${withIt})`,
          )
        }
        if (without !== undefined) {
          state = apply(state, r.inFlight!, named)
          summary.inFlightApplied++
        }
        if ((await c.count()) !== state.size) throw new Error(`${kind} round ${round}: count() disagrees with scan()`)
        // A schema change is durable once acknowledged, and the field's index agrees with
        // the stored metadata; the one in flight may have landed or not.
        if ('v' in c.schema !== hasV) {
          if (r.inFlight?.k !== 'schema') throw new Error(`${kind} round ${round}: schema ${JSON.stringify(c.schema)}, field v expected: ${hasV}`)
          hasV = !hasV
          summary.inFlightApplied++
        }
        // Likewise vector field `c` (named kind).
        if (c.stats().fields.some((f) => f.name === 'c') !== hasC) {
          if (r.inFlight?.k !== 'vectorField') throw new Error(`${kind} round ${round}: vector field c expected: ${hasC}`)
          hasC = !hasC
          summary.inFlightApplied++
        }
        // Field `b`'s index: the acknowledged rebuilds', or the one in flight; its records
        // find themselves through it.
        const b = c.stats().fields.find((f) => f.name === 'b')
        if (b && b.index !== bIndex) {
          if (r.inFlight?.k !== 'rebuildB') throw new Error(`${kind} round ${round}: field b's index is ${b.index}, ${bIndex} expected`)
          bIndex = b.index
          summary.inFlightApplied++
        }
        const withB = [...state].find(([, s]) => s.b)
        if (withB) {
          const hits = await c.search(withB[1].b!, { k: 1, using: 'b' })
          if (hits[0]?.id !== withB[0]) throw new Error(`${kind} round ${round}: field b's own vector of ${withB[0]} found ${JSON.stringify(hits)}`)
        }
        if (hasV) {
          const want = [...seen.values()].filter((s) => s.v >= 0).length
          const estimate = c.explain({ filter: { v: { $gte: 0 } } }).estimate
          if (estimate !== want) throw new Error(`${kind} round ${round}: index of field v counts ${estimate}, the records ${want}`)
        }
        const report = await c.verify()
        if (!report.ok) throw new Error(`${kind} round ${round}: verify() found ${JSON.stringify(report.damaged)}`)
        // Searches answer from live records only.
        const some = [...state.values()][0]
        if (some) {
          const hits = await c.search(some.vector, { k: 10, ...(named && { using: 'a' }) })
          if (hits.length < Math.min(10, state.size) || hits.some((h) => !state.has(h.id))) {
            throw new Error(`${kind} round ${round}: search of a stored vector returned ${JSON.stringify(hits)} of ${state.size} records; in flight: ${r.inFlight?.k}`)
          }
        }
        summary.quantization = c.stats().quantization
      } finally {
        await db.close()
      }
    }
    summary.records = state.size
    return summary
  } finally {
    if (!dir) rmSync(root, { recursive: true, force: true })
  }
}

async function cli(): Promise<void> {
  const args = process.argv.slice(2)
  const opt = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 && args[i + 1] ? args[i + 1] : fallback
  }
  const rounds = Number(opt('rounds', '20'))
  const seed = Number(opt('seed', '1'))
  for (const kind of opt('kinds', 'flat,hnsw,sq8,named').split(',') as Kind[]) {
    const started = Date.now()
    // --dir D: run in D and leave it there (to open a failed round's database).
    const s = await crashRounds(kind, rounds, seed, args.includes('--dir') ? opt('dir', '') : undefined)
    console.log(
      `${kind}: ${s.rounds} SIGKILLs, ${s.acked} acknowledged writes checked (${s.schemaChanges} schema changes), in-flight write applied in ${s.inFlightApplied} rounds, ` +
        `${s.records} records at the end, quantization ${s.quantization}, ${((Date.now() - started) / 1000).toFixed(0)} s`,
    )
  }
}

if (require.main === module) {
  cli().catch((e: unknown) => {
    console.error(e)
    process.exit(1)
  })
}
