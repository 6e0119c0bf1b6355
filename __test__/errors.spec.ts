import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  AbortError,
  AlreadyExistsError,
  ClosedError,
  type Collection,
  DimensionMismatchError,
  DuplicateIdError,
  ERROR_CODES,
  InvalidArgumentError,
  LibraVDB,
  LibraVDBError,
  LockedError,
  NotFoundError,
} from '../index'
import { nativeErrorCodes } from '../src/native'
import { tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

/** Expects `p` to reject with `cls` and `code`, and the collection to be unchanged. */
async function rejects(c: Collection, p: Promise<unknown>, cls: abstract new (...a: never[]) => Error, code: string) {
  const before = await c.count()
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(cls)
  expect(err).toBeInstanceOf(LibraVDBError)
  expect((err as LibraVDBError).code).toBe(code)
  expect((err as Error).message.length).toBeGreaterThan(10)
  expect(await c.count()).toBe(before)
  return err as LibraVDBError
}

describe('bad input gets a typed error and changes nothing', () => {
  it('rejects bad vectors and ids', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 3 })
    await c.insert({ id: 'x', vector: [1, 2, 3] })
    const ok = { id: 'ok', vector: [0, 0, 0] }
    const E = InvalidArgumentError
    const cases: [unknown, typeof E, string][] = [
      [{ id: 'n', vector: [1, NaN, 3] }, E, 'ERR_INVALID_ARGUMENT'],
      [{ id: 'i', vector: new Float32Array([1, Infinity, 3]) }, E, 'ERR_INVALID_ARGUMENT'],
      [{ id: 'd', vector: [1, 2] }, DimensionMismatchError, 'ERR_DIMENSION_MISMATCH'],
      [{ id: 'd', vector: new Float32Array(4) }, DimensionMismatchError, 'ERR_DIMENSION_MISMATCH'],
      [{ id: 'e', vector: [] }, E, 'ERR_INVALID_ARGUMENT'],
      [{ id: 's', vector: [1, '2', 3] }, E, 'ERR_INVALID_ARGUMENT'],
      [{ id: 42, vector: [1, 2, 3] }, E, 'ERR_INVALID_ARGUMENT'],
      [{ id: '', vector: [1, 2, 3] }, E, 'ERR_INVALID_ARGUMENT'],
      [{ id: 'x', vector: [1, 2, 3] }, DuplicateIdError, 'ERR_DUPLICATE_ID'],
      [{ id: 'm', vector: [1, 2, 3], metadata: [1, 2] }, E, 'ERR_INVALID_ARGUMENT'],
      [null, E, 'ERR_INVALID_ARGUMENT'],
    ]
    for (const [bad, cls, code] of cases) {
      const err = await rejects(c, c.insertBatch([ok, bad as never]), cls, code)
      expect(err.errors).toEqual([expect.objectContaining({ index: 1, code })])
      expect(await c.get('ok')).toBeNull()
    }
    const dup = await rejects(c, c.insertBatch([ok, { ...ok }]), DuplicateIdError, 'ERR_DUPLICATE_ID')
    expect(dup.message).toContain("'ok'")
    await rejects(c, c.insert({ id: 'x', vector: [0, 0, 0] }), DuplicateIdError, 'ERR_DUPLICATE_ID')
    await rejects(c, c.search([1, 2]), DimensionMismatchError, 'ERR_DIMENSION_MISMATCH')
    await rejects(c, c.search([1, NaN, 2]), InvalidArgumentError, 'ERR_INVALID_ARGUMENT')
    await rejects(c, c.search([1, 2, 3], { k: 0 }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT')
    await rejects(c, c.search([1, 2, 3], { kk: 3 } as never), InvalidArgumentError, 'ERR_INVALID_ARGUMENT')
    await rejects(c, c.update('nope', { vector: [1, 1, 1] }), NotFoundError, 'ERR_NOT_FOUND')
    await rejects(c, c.update('x', { vector: [1, NaN, 1] }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT')
    await rejects(c, c.deleteBatch(['x', 'ghost']), NotFoundError, 'ERR_NOT_FOUND')
    expect((await c.get('x'))?.vector).toEqual(new Float32Array([1, 2, 3]))
  })

  it('non-atomic batches apply the valid items and list the rest with original indexes', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 2 })
    const r = await c.insertBatch(
      [
        { id: 'a', vector: [1, 1] },
        { id: 'b', vector: [1] },
        { id: 'c', vector: [NaN, 1] },
        { id: 'a', vector: [2, 2] },
        { id: 'd', vector: [3, 3] },
      ],
      { atomic: false },
    )
    expect(r.succeeded).toBe(2)
    expect(r.errors.map((e) => [e.index, e.code])).toEqual([
      [1, 'ERR_DIMENSION_MISMATCH'],
      [2, 'ERR_INVALID_ARGUMENT'],
      [3, 'ERR_DUPLICATE_ID'],
    ])
    expect(await c.count()).toBe(2)
  })

  it('rejects invalid configs, unknown collections and calls after close', async () => {
    db = await LibraVDB.open()
    const bad = [
      { dimension: 0 },
      { dimension: -3 },
      { dimension: 2.5 },
      { dimension: 8, metric: 'hamming' },
      { dimension: 8, index: { type: 'tree' } },
      { dimension: 8, colour: 'red' },
      null,
    ]
    for (const cfg of bad) {
      await expect(db.createCollection('c', cfg as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    }
    await expect(db.createCollection('../escape', { dimension: 2 })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(LibraVDB.open(undefined, { fsync: 'yes' } as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(db.listCollections()).toEqual([])
    expect(() => db!.getCollection('missing')).toThrow(NotFoundError)
    await expect(db.dropCollection('missing')).rejects.toBeInstanceOf(NotFoundError)
    const c = await db.createCollection('c', { dimension: 2 })
    await expect(db.createCollection('c', { dimension: 2 })).rejects.toBeInstanceOf(AlreadyExistsError)
    await db.close()
    await expect(c.insert({ id: 'a', vector: [1, 1] })).rejects.toBeInstanceOf(ClosedError)
    await expect(c.search([1, 1])).rejects.toMatchObject({ code: 'ERR_CLOSED' })
    expect(() => db!.listCollections()).toThrow(ClosedError)
    await db.close() // idempotent
    db = undefined
  })

  it('locks a directory against a second opener, in this process and another', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const second = await LibraVDB.open(dir).catch((e: unknown) => e)
    expect(second).toBeInstanceOf(LockedError)
    expect((second as LockedError).code).toBe('ERR_LOCKED')
    const script = `require('tsx/cjs'); require(${JSON.stringify(join(__dirname, '..', 'index.ts'))}).LibraVDB.open(${JSON.stringify(dir)}).then(() => console.log('OPENED'), (e) => console.log(e.code))`
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    expect(child.stdout.trim()).toBe('ERR_LOCKED')
    await db.close()
    db = await LibraVDB.open(dir)
  })

  it('an aborted write rejects with AbortError and changes nothing', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 2 })
    const controller = new AbortController()
    controller.abort()
    await rejects(c, c.insertBatch([{ id: 'a', vector: [1, 1] }], { signal: controller.signal }), AbortError, 'ERR_ABORTED')
    const err = await c.search([1, 1], { signal: controller.signal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AbortError)
  })

  it('refuses ids that would cross into the engine changed, and keeps the others aligned', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 2 })
    const r = await c.insertBatch(
      [
        { id: 'a\uD800', vector: [1, 1], metadata: { n: 0 } },
        { id: 'a\uDBFF', vector: [2, 2], metadata: { n: 1 } },
        { id: 'x\0y', vector: [3, 3], metadata: { n: 2 } },
        { id: 'ok', vector: [4, 4], metadata: { n: 3 } },
      ],
      { atomic: false },
    )
    expect(r.errors.map((e) => [e.index, e.code])).toEqual([
      [0, 'ERR_INVALID_ARGUMENT'],
      [1, 'ERR_INVALID_ARGUMENT'],
      [2, 'ERR_INVALID_ARGUMENT'],
    ])
    expect(await c.count()).toBe(1)
    expect(await c.get('ok')).toEqual({ id: 'ok', vector: new Float32Array([4, 4]), metadata: { n: 3 } })
    expect(await c.get('x')).toBeNull()
  })

  it('takes option names and defaults from the engine, the one table of them', async () => {
    const d = LibraVDB.defaults
    expect(Object.keys(d.index).sort()).toEqual(['auto', 'flat', 'hnsw', 'ivfpq'])
    expect(d.index.auto).toEqual({ flatThreshold: 10_000, promoteTo: 'hnsw', targetRecall: null })
    expect(d.index.hnsw).toEqual({ m: 16, efConstruction: 200, efSearch: 64, targetRecall: null })
    expect(d.index.ivfpq.nlist).toBeNull() // chosen when the index trains
    expect(Object.isFrozen(d.index.hnsw)).toBe(true)
    db = await LibraVDB.open()
    // The defaults are what a collection created without options runs with.
    const c = await db.createCollection('h', { dimension: 4, index: { type: 'hnsw' } })
    await c.insert({ id: 'a', vector: [1, 2, 3, 4] })
    expect(c.explain({ k: 1 }).efSearch).toBe(d.index.hnsw.efSearch)
    // Every option the table lists is accepted for its type and refused for the others.
    for (const [type, options] of Object.entries(d.index)) {
      for (const option of Object.keys(options)) {
        const value = option === 'promoteTo' ? 'ivfpq' : option === 'targetRecall' ? 0.9 : option === 'bits' ? 8 : option === 'm' ? 2 : 4
        await db.createCollection(`${type}-${option}`, { dimension: 4, index: { type, [option]: value } as never })
        for (const other of Object.keys(d.index).filter((t) => !(option in d.index[t]))) {
          await expect(db.createCollection('x', { dimension: 4, index: { type: other, [option]: value } as never })).rejects.toBeInstanceOf(
            InvalidArgumentError,
          )
        }
      }
    }
    for (const [type, options] of Object.entries(d.quantization)) {
      for (const option of Object.keys(options)) {
        const value = option === 'trainRatio' ? 0.5 : option === 'bits' ? 8 : 2
        await db.createCollection(`q${type}-${option}`, { dimension: 4, quantization: { type, [option]: value } as never })
      }
    }
    // Types: integers, fractions and strings as the engine reads them; NaN never reaches it.
    for (const index of [{ type: 'hnsw', m: 2.5 }, { type: 'hnsw', efSearch: Number.NaN }, { type: 'auto', promoteTo: 3 }, { type: 'hnsw', targetRecall: '0.9' }]) {
      await expect(db.createCollection('x', { dimension: 4, index } as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    }
    await expect(db.createCollection('x', { dimension: 4, quantization: { type: 'scalar', trainRatio: Infinity } } as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
    expect(db.listCollections().includes('x')).toBe(false)
  })

  it('declares the same error codes in Rust and TypeScript', () => {
    expect(nativeErrorCodes()).toEqual([...ERROR_CODES])
  })
})
