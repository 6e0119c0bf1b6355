/**
 * The change feed: `collection.changes()` in commit order, following live writes, from a
 * snapshot's `seq`, from a read-only handle, past retention; bad input.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { type Change, ChangesExpiredError, type Collection, InvalidArgumentError, LibraVDB } from '../index'
import { randomVectors, row, tempDir } from './helpers'

let dbs: LibraVDB[] = []
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.close()
})

const DIM = 8

async function open(dir?: string, options?: Parameters<typeof LibraVDB.open>[1]): Promise<LibraVDB> {
  const db = await LibraVDB.open(dir, options)
  dbs.push(db)
  return db
}

/** The next `n` changes of `feed`. */
async function take(feed: AsyncIterator<Change>, n: number): Promise<Change[]> {
  const out: Change[] = []
  while (out.length < n) {
    const r = await feed.next()
    if (r.done) break
    out.push(r.value)
  }
  return out
}

type Replica = Map<string, { vector: number[]; metadata: unknown }>

/** A copy kept as a consumer would: upserts and deletes, idempotent. */
function apply(replica: Replica, c: Change): void {
  if (c.op === 'delete') {
    replica.delete(c.id)
    return
  }
  const r = replica.get(c.id) ?? { vector: [], metadata: null }
  if (c.vector) r.vector = Array.from(c.vector)
  if (c.metadata !== undefined) r.metadata = c.metadata
  replica.set(c.id, r)
}

async function contents(col: Collection): Promise<Replica> {
  const out: Replica = new Map()
  for await (const r of col.scan({ includeVectors: true })) out.set(r.id, { vector: Array.from(r.vector!), metadata: r.metadata ?? null })
  return out
}

describe('collection.changes()', () => {
  it('gives each write of each record in commit order, with what it set', async () => {
    const db = await open(tempDir())
    const col = await db.createCollection('docs', { dimension: DIM, schema: { at: 'date' } })
    const v = randomVectors(1, 10, DIM)
    await col.insertBatch([
      { id: 'a', vector: row(v, 0, DIM), metadata: { at: new Date(1000), tag: 'x' } },
      { id: 'b', vector: row(v, 1, DIM) },
    ])
    await col.upsertBatch([
      { id: 'b', vector: row(v, 2, DIM), metadata: { tag: 'y' } },
      { id: 'c', vector: row(v, 3, DIM) },
    ])
    await col.update('a', { metadata: null })
    await col.update('c', { vector: row(v, 4, DIM) })
    await col.delete('b')
    expect(col.stats().seq).toBe(7)

    const all = await take(col.changes({ since: 0, batchSize: 2 })[Symbol.asyncIterator](), 7)
    expect(all.map((c) => [c.seq, c.op, c.id])).toEqual([
      [1, 'insert', 'a'],
      [2, 'insert', 'b'],
      [3, 'update', 'b'],
      [4, 'insert', 'c'],
      [5, 'update', 'a'],
      [6, 'update', 'c'],
      [7, 'delete', 'b'],
    ])
    expect(all[0].metadata).toEqual({ at: new Date(1000), tag: 'x' }) // a date field comes back a Date
    expect(all[0].vector).toBeInstanceOf(Float32Array)
    expect(all[1].metadata).toBeNull() // inserted without metadata
    expect(all[4]).toEqual({ seq: 5, op: 'update', id: 'a', metadata: null }) // cleared, vector kept
    expect(all[5].metadata).toBeUndefined() // metadata kept
    expect(Array.from(all[5].vector!)).toEqual(Array.from(row(v, 4, DIM)))
    expect(all[6]).toEqual({ seq: 7, op: 'delete', id: 'b' })
  })

  it("follows live writes from 'now' and ends on abort and on close", async () => {
    const db = await open(tempDir())
    const col = await db.createCollection('docs', { dimension: DIM })
    const v = randomVectors(2, 100, DIM)
    await col.insert({ id: 'before', vector: row(v, 0, DIM) })
    const ac = new AbortController()
    // A long poll: only the write through this handle can wake the iterator in time.
    const feed = col.changes({ signal: ac.signal, pollIntervalMs: 60_000 })[Symbol.asyncIterator]()
    const first = feed.next()
    await new Promise((r) => setTimeout(r, 50))
    await col.insert({ id: 'after', vector: row(v, 1, DIM) })
    expect((await first).value).toMatchObject({ seq: 2, op: 'insert', id: 'after' })
    // A write through another handle of the same collection wakes it too.
    const next = feed.next()
    await new Promise((r) => setTimeout(r, 50))
    await db.getCollection('docs').insert({ id: 'other-handle', vector: row(v, 2, DIM) })
    expect((await next).value).toMatchObject({ seq: 3, id: 'other-handle' })
    const waiting = feed.next()
    ac.abort()
    expect((await waiting).done).toBe(true)

    const feed2 = col.changes({ pollIntervalMs: 5 })[Symbol.asyncIterator]()
    const pending = feed2.next()
    await new Promise((r) => setTimeout(r, 30))
    await db.close()
    expect((await pending).done).toBe(true)
  })

  it('brings a copy of a snapshot up to date while a writer keeps writing', async () => {
    const db = await open(tempDir(), { checkpointBytes: 16 * 1024 })
    const col = await db.createCollection('docs', { dimension: DIM, schema: { n: 'int' } })
    const v = randomVectors(3, 3000, DIM)
    await col.insertBatch(Array.from({ length: 500 }, (_, i) => ({ id: `r${i}`, vector: row(v, i, DIM), metadata: { n: i } })))
    let writing = true
    const writer = (async () => {
      for (let b = 0; writing || b < 20; b++) {
        const base = (b * 37) % 900
        await col.upsertBatch(Array.from({ length: 10 }, (_, i) => ({ id: `r${base + i}`, vector: row(v, 500 + ((b * 10 + i) % 2500), DIM), metadata: { n: b } })))
        await col.deleteBatch([`r${(b * 53) % 900}`], { atomic: false })
        if (b % 3 === 0) await col.update(`r${(b * 11) % 500}`, { metadata: { n: -b } }).catch(() => {})
      }
    })()
    const replica: Replica = new Map()
    const scan = col.scan({ includeVectors: true, batchSize: 50 })
    for await (const r of scan) {
      replica.set(r.id, { vector: Array.from(r.vector!), metadata: r.metadata ?? null })
      await new Promise((res) => setImmediate(res)) // let the writer in between pages
    }
    expect(scan.seq).toBeGreaterThanOrEqual(500)
    writing = false
    await writer
    const target = col.stats().seq
    let last = scan.seq!
    for await (const c of col.changes({ since: scan.seq })) {
      expect(c.seq).toBe(last + 1) // no gap, no repeat
      last = c.seq
      apply(replica, c)
      if (c.seq === target) break
    }
    expect(col.stats().changeLogBytes).toBeGreaterThan(0) // the feed crossed checkpoints
    expect(replica).toEqual(await contents(col))
  })

  it('follows a writer from a read-only handle', async () => {
    const dir = tempDir()
    const writer = await open(dir)
    const w = await writer.createCollection('docs', { dimension: DIM })
    const reader = await open(dir, { readOnly: true, refreshIntervalMs: 0 })
    const r = reader.getCollection('docs')
    const feed = r.changes({ since: 0, pollIntervalMs: 5 })[Symbol.asyncIterator]()
    const v = randomVectors(4, 50, DIM)
    for (let i = 0; i < 50; i += 10) {
      await w.insertBatch(Array.from({ length: 10 }, (_, j) => ({ id: `d${i + j}`, vector: row(v, i + j, DIM) })))
    }
    const got = await take(feed, 50)
    expect(got.map((c) => c.id)).toEqual(Array.from({ length: 50 }, (_, i) => `d${i}`))
    expect(got.at(-1)!.seq).toBe(50)
  })

  it('says a position past retention expired, and a fresh snapshot restarts the feed', async () => {
    const db = await open(tempDir(), { checkpointBytes: 4096, changeRetention: { bytes: 0 } })
    const col = await db.createCollection('docs', { dimension: DIM })
    const v = randomVectors(5, 400, DIM)
    for (let i = 0; i < 400; i += 20) {
      await col.insertBatch(Array.from({ length: 20 }, (_, j) => ({ id: `d${i + j}`, vector: row(v, i + j, DIM) })))
    }
    expect(col.stats().changeLogBytes).toBe(0)
    const err = await col.changes({ since: 0 })[Symbol.asyncIterator]().next().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChangesExpiredError)
    expect((err as Error).message).toMatch(/snapshot/)
    const snap = await col.export(`${tempDir()}/snap.ndjson`)
    expect(snap.seq).toBe(400)
    await col.insert({ id: 'new', vector: row(v, 0, DIM) })
    const next = await take(col.changes({ since: snap.seq })[Symbol.asyncIterator](), 1)
    expect(next.map((c) => [c.seq, c.id])).toEqual([[401, 'new']])
  })

  it('refuses bad options with typed errors', async () => {
    const db = await open(tempDir())
    const col = await db.createCollection('docs', { dimension: DIM })
    for (const bad of [{ since: -1 }, { since: 'later' }, { since: 1.5 }, { batchSize: 0 }, { pollIntervalMs: 0 }, { follow: 'yes' }, { tail: true }, { signal: 'x' }]) {
      expect(() => col.changes(bad as never), JSON.stringify(bad)).toThrow(InvalidArgumentError)
    }
    const past = await col.changes({ since: 5 })[Symbol.asyncIterator]().next().catch((e: unknown) => e)
    expect(past).toBeInstanceOf(InvalidArgumentError)
    await expect(LibraVDB.open(undefined, { changeRetention: { bytes: -1 } })).rejects.toThrow(InvalidArgumentError)
    await expect(LibraVDB.open(undefined, { changeRetention: { days: 1 } as never })).rejects.toThrow(InvalidArgumentError)
    const mem = await open()
    const m = await mem.createCollection('m', { dimension: DIM })
    await expect(m.changes().next()).rejects.toThrow(/in-memory/)
  })
})
