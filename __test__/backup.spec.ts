/**
 * `db.backup()`: a consistent copy while reads and writes go on, that opens and verifies;
 * typed errors for bad targets; nothing left after an abort; a SIGKILL mid-backup leaves the
 * source intact and no directory that opens as a partial database.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AbortError, InvalidArgumentError, LibraVDB } from '../index'
import { randomVectors, row, runUntilKilled, tempDir } from './helpers'

const DIM = 32
const BATCH = 50

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

const batchIds = (b: number) => Array.from({ length: BATCH }, (_, i) => `b${b}-${i}`)

describe('backup()', () => {
  it('copies every write acknowledged before its fence, whole batches only, while writes go on', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir, { checkpointBytes: 256 << 10 }) // checkpoints during the copy
    const h = await db.createCollection('h', { dimension: DIM, index: { type: 'hnsw', m: 8 }, schema: { n: 'int' } })
    const f = await db.createCollection('f', { dimension: DIM })
    const base = randomVectors(1, 20_000, DIM)
    await h.insertBatch({ ids: Array.from({ length: 20_000 }, (_, i) => `r${i}`), vectors: base })
    await f.insertBatch({ ids: ['x'], vectors: row(base, 0, DIM) })
    // A writer inserting batches into h and rewriting f's one record, until the backup is done.
    let acked = 0
    let stop = false
    const writer = (async () => {
      for (let b = 0; !stop; b++) {
        const vectors = randomVectors(100 + b, BATCH, DIM)
        await h.insertBatch(batchIds(b).map((id, i) => ({ id, vector: row(vectors, i, DIM), metadata: { n: b } })))
        await f.update('x', { metadata: { b } })
        acked = b + 1
      }
    })()
    while (acked < 3) await new Promise((r) => setTimeout(r, 5))
    const before = acked
    const progress: number[] = []
    const dest = join(tempDir(), 'backup')
    const r = await db.backup(dest, { onProgress: (p) => progress.push(p.bytes) })
    const after = acked
    stop = true
    await writer
    expect(r.collections.sort()).toEqual(['f', 'h'])
    expect(r.bytes).toBeGreaterThan(20_000 * DIM * 4)
    expect(progress.at(-1)).toBe(r.bytes)
    const copy = await LibraVDB.open(dest)
    try {
      expect((await copy.verify()).ok).toBe(true)
      const c = copy.getCollection('h')
      // Batches 0..m-1 whole, nothing of batch m and later: m is at least every batch
      // acknowledged before the backup began and at most those acknowledged when it returned.
      const count = await c.count()
      expect((count - 20_000) % BATCH).toBe(0)
      const m = (count - 20_000) / BATCH
      expect(m).toBeGreaterThanOrEqual(before)
      expect(m).toBeLessThanOrEqual(after + 1)
      for (const b of [0, m - 1]) expect(await c.get(`b${b}-${BATCH - 1}`), `batch ${b}`).toMatchObject({ metadata: { n: b } })
      expect(await c.get(`b${m}-0`)).toBeNull()
      // The copy's graph serves searches. (A top-1 at the default ef on random 32-d vectors
      // is approximate: it missed r7 once in many runs. A wide beam finds it.)
      const hits = await c.search(row(base, 7, DIM), { k: 10, efSearch: 400 })
      expect(hits.map((x) => x.id)).toContain('r7')
      expect((await copy.getCollection('f').get('x'))?.metadata?.b).toBeGreaterThanOrEqual(before - 1)
      // The copy is a database of its own: writable, and the source is untouched by it.
      await c.insert({ id: 'only-in-backup', vector: row(base, 1, DIM) })
    } finally {
      await copy.close()
    }
    expect(await h.get('only-in-backup')).toBeNull()
    expect((await db.verify()).ok).toBe(true)
    expect(await h.count()).toBe(20_000 + acked * BATCH)
  }, 60_000)

  it('refuses a non-empty target, an in-memory database and a target inside the database', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    await db.createCollection('c', { dimension: 4 })
    const full = tempDir()
    writeFileSync(join(full, 'x'), 'keep me')
    await expect(db.backup(full)).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(readdirSync(full)).toEqual(['x'])
    await expect(db.backup(join(dir, 'inside'))).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(db.backup('' as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(db.backup(tempDir(), { bogus: 1 } as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    const mem = await LibraVDB.open()
    await expect(mem.backup(tempDir())).rejects.toBeInstanceOf(InvalidArgumentError)
    await mem.close()
    // An empty directory is fine.
    const empty = tempDir()
    mkdirSync(join(empty, 'b'))
    expect((await db.backup(join(empty, 'b'))).collections).toEqual(['c'])
  })

  it('an aborted backup leaves nothing behind', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const c = await db.createCollection('c', { dimension: DIM })
    await c.insertBatch({ ids: Array.from({ length: 5_000 }, (_, i) => `r${i}`), vectors: randomVectors(2, 5_000, DIM) })
    const dest = join(tempDir(), 'aborted')
    await expect(db.backup(dest, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError)
    expect(existsSync(dest)).toBe(false)
  })

  it('a SIGKILL mid-backup leaves the source intact and nothing that opens as a partial database', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    // 150 MB of vectors: the copy outlasts the first progress report (100 ms), when the
    // worker says BACKING.
    const big = await db.createCollection('big', { dimension: 128 })
    for (let from = 0; from < 300_000; from += 50_000) {
      await big.insertBatch({ ids: Array.from({ length: 50_000 }, (_, i) => `r${from + i}`), vectors: randomVectors(3 + from, 50_000, 128) })
    }
    await db.close()
    db = undefined
    const outcomes: string[] = []
    for (let round = 0; round < 3; round++) {
      const dest = join(tempDir(), `killed-${round}`)
      await runUntilKilled('backup-worker.ts', [dir, dest], 'BACKING')
      const source = await LibraVDB.open(dir)
      expect((await source.verify()).ok).toBe(true)
      expect(await source.getCollection('big').get('r299999')).not.toBeNull()
      await source.close()
      if (!existsSync(dest)) {
        outcomes.push('no target')
        continue
      }
      try {
        const copy = await LibraVDB.open(dest)
        // Opened: the backup had finished, so it must be whole.
        expect((await copy.verify()).ok).toBe(true)
        expect(await copy.getCollection('big').get('r299999')).not.toBeNull()
        await copy.close()
        outcomes.push('complete')
      } catch (e) {
        expect(e).toMatchObject({ code: 'ERR_CORRUPTED', message: expect.stringContaining('backup that did not finish') })
        outcomes.push('refused')
      }
    }
    console.log(`SIGKILL during backup, 3 rounds: ${outcomes.join(', ')}`)
  }, 120_000)
})
