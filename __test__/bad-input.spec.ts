/**
 * The bad-input matrix: every public method, given wrong types, non-finite numbers, wrong
 * dimensions, out-of-range k, bad ids, bad options and bad filters, and called after close
 * and after drop, fails with a typed `LibraVDBError` (never a bare TypeError or RangeError,
 * never ERR_INTERNAL) and changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { type Collection, LibraVDB, LibraVDBError } from '../index'
import { tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

/** The error `f` throws or rejects with, or undefined when it succeeds. */
async function failure(f: () => unknown): Promise<unknown> {
  try {
    const r = f()
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      for await (const _ of r as AsyncIterable<unknown>) break
    } else {
      await r
    }
    return undefined
  } catch (e) {
    return e
  }
}

async function expectTyped(label: string, f: () => unknown, code?: string) {
  const e = await failure(f)
  expect(e, label).toBeInstanceOf(LibraVDBError)
  const err = e as LibraVDBError
  expect(err.code, `${label}: ${err.message}`).not.toBe('ERR_INTERNAL')
  if (code) expect(err.code, `${label}: ${err.message}`).toBe(code)
}

const V = [1, 2, 3]
const BAD_VECTORS: unknown[] = [[1, NaN, 3], [1, Infinity, 3], [1, 2], new Float32Array(4), [], [1, '2', 3], 'abc', null, {}, 5]
const BAD_IDS: unknown[] = [42, '', 'a\0b', null, undefined, {}, 'a\uD800', 'x'.repeat(5000)]
const BAD_K: unknown[] = [0, -1, 1.5, NaN, Infinity, 1e9, '10', null]
const BAD_CALL_OPTIONS: unknown[] = [
  'x',
  5,
  { signal: 'x' },
  { signal: {} },
  { timeoutMs: -1 },
  { timeoutMs: NaN },
  { timeoutMs: 'x' },
  { timeoutMs: Infinity },
  { bogus: 1 },
]
const BAD_FILTERS: unknown[] = [
  'category = 1',
  5,
  [],
  { $and: 'x' },
  { $or: [5] },
  { $where: 'x' },
  { f: { $gt: {} } },
  { f: { $between: [1] } },
  { f: { $like: 'x' } },
  { f: { $in: 'x' } },
  { year: 'not a number' },
]

/** Every method of a collection, called with arguments that are valid except for `bad`. */
function calls(c: Collection): [string, unknown[], (bad: unknown) => unknown][] {
  const rec = (over: object) => ({ id: 'new', vector: V, ...over })
  return [
    ['insert vector', BAD_VECTORS, (b) => c.insert(rec({ vector: b }))],
    ['insert id', BAD_IDS, (b) => c.insert(rec({ id: b }))],
    ['insert metadata', [5, 'x', [1], new Float32Array(2), { year: 'x' }], (b) => c.insert(rec({ metadata: b }))],
    ['insert options', BAD_CALL_OPTIONS, (b) => c.insert(rec({}), b as never)],
    ['insertBatch records', ['x', 5, null, [null], [5], { ids: 5, vectors: new Float32Array(3) }], (b) => c.insertBatch(b as never)],
    ['insertBatch vector', BAD_VECTORS, (b) => c.insertBatch([rec({ vector: b })])],
    ['insertBatch id', BAD_IDS, (b) => c.insertBatch([rec({ id: b })])],
    ['insertBatch options', [...BAD_CALL_OPTIONS, { atomic: 'yes' }], (b) => c.insertBatch([rec({})], b as never)],
    [
      'insertBatch columnar',
      [
        { ids: ['a'], vectors: [1, 2, 3] },
        { ids: ['a'], vectors: new Float32Array(4) },
        { ids: [5], vectors: new Float32Array(3) },
        { ids: ['a\uDC00'], vectors: new Float32Array(3) },
        { ids: ['a'], vectors: new Float32Array([NaN, 0, 0]) },
        { ids: ['a'], vectors: new Float32Array(3), metadata: [] },
      ],
      (b) => c.insertBatch(b as never),
    ],
    ['upsert vector', BAD_VECTORS, (b) => c.upsert(rec({ vector: b }))],
    ['upsertBatch id', BAD_IDS, (b) => c.upsertBatch([rec({ id: b })])],
    ['update vector', BAD_VECTORS.filter((v) => v !== null), (b) => c.update('probe', { vector: b as never })],
    ['update id', BAD_IDS, (b) => c.update(b as never, { metadata: { a: 1 } })],
    ['update missing', ['ghost'], (b) => c.update(b as never, { metadata: { a: 1 } })],
    ['updateBatch', ['x', 5, [null], [{ id: 'probe', vector: [1] }]], (b) => c.updateBatch(b as never)],
    ['delete id', BAD_IDS, (b) => c.delete(b as never)],
    ['delete options', BAD_CALL_OPTIONS, (b) => c.delete('probe', b as never)],
    ['deleteBatch', ['x', 5, [5], ['probe', 'probe'], ['ghost']], (b) => c.deleteBatch(b as never)],
    ['get id', BAD_IDS.filter((i) => i !== 'x'.repeat(5000) && i !== '' && i !== 'a\0b'), (b) => c.get(b as never)],
    ['get options', BAD_CALL_OPTIONS.slice(2, 8), (b) => c.get('probe', b as never)],
    ['search vector', BAD_VECTORS, (b) => c.search(b as never)],
    ['search k', BAD_K, (b) => c.search(V, { k: b as never })],
    ['search efSearch', BAD_K, (b) => c.search(V, { efSearch: b as never })],
    ['search filter', BAD_FILTERS, (b) => c.search(V, { filter: b as never })],
    ['search options', BAD_CALL_OPTIONS, (b) => c.search(V, b as never)],
    ['searchSync vector', BAD_VECTORS, (b) => c.searchSync(b as never)],
    ['searchSync k', BAD_K, (b) => c.searchSync(V, { k: b as never })],
    ['searchSync filter', BAD_FILTERS, (b) => c.searchSync(V, { filter: b as never })],
    ['searchBatch queries', [new Float32Array(4), [], [[1, 2]], [V, [NaN, 1, 1]], 'x', null], (b) => c.searchBatch(b as never)],
    ['searchBatch k', BAD_K, (b) => c.searchBatch([V], { k: b as never })],
    ['query', [(q: never) => q, 'notfn', 5, null], (b) => c.query(V).and(b as never).execute()],
    ['query where', ['', 5, null], (b) => c.query(V).where(b as never).eq(1).execute()],
    ['query vector', BAD_VECTORS, (b) => c.query(b as never).limit(3).execute()],
    ['query limit', BAD_K, (b) => c.query(V).limit(b as never).execute()],
    ['explain', BAD_FILTERS.map((f) => ({ filter: f })), (b) => c.explain(b as never)],
    ['deleteWhere', BAD_FILTERS, (b) => c.deleteWhere(b as never)],
    ['scan', [{ batchSize: 0 }, { batchSize: 'x' }, { filter: 5 }, { bogus: 1 }, ...BAD_CALL_OPTIONS.slice(2, 8)], (b) => c.scan(b as never)],
    ['optimize', BAD_CALL_OPTIONS, (b) => c.optimize(b as never)],
  ]
}

describe('bad input: every public method', () => {
  it('fails typed and changes nothing', async () => {
    db = await LibraVDB.open(tempDir())
    const c = await db.createCollection('c', { dimension: 3, schema: { year: 'int' } })
    await c.insert({ id: 'probe', vector: [0.5, 0.5, 0.5], metadata: { year: 2020 } })
    let cases = 0
    for (const [label, bads, call] of calls(c)) {
      for (const [i, bad] of bads.entries()) {
        await expectTyped(`${label} #${i}`, () => call(bad))
        cases++
      }
    }
    expect(await c.count()).toBe(1)
    expect(await c.get('new')).toBeNull()
    expect((await c.get('probe'))?.metadata).toEqual({ year: 2020 })
    expect(cases).toBeGreaterThan(200)
  })

  it('database methods fail typed too', async () => {
    for (const name of [123, null, {}, '', '../x', 'a b', 'x'.repeat(65)]) {
      db = await LibraVDB.open()
      await expectTyped(`createCollection ${String(name)}`, () => db!.createCollection(name as never, { dimension: 2 }))
      await expectTyped(`getCollection ${String(name)}`, () => db!.getCollection(name as never))
      await expectTyped(`dropCollection ${String(name)}`, () => db!.dropCollection(name as never))
      expect(db.listCollections()).toEqual([])
      await db.close()
    }
    db = undefined
    for (const [path, opts] of [
      [5, undefined],
      ['', undefined],
      [undefined, { fsync: 'yes' }],
      [undefined, { checkpointBytes: -5 }],
      [undefined, 'x'],
    ] as [unknown, unknown][]) {
      await expectTyped(`open ${String(path)}`, () => LibraVDB.open(path as never, opts as never))
    }
  })

  it('every method after close is ERR_CLOSED and after drop ERR_NOT_FOUND', async () => {
    for (const ending of ['close', 'drop'] as const) {
      db = await LibraVDB.open(tempDir())
      const c = await db.createCollection('c', { dimension: 3 })
      await c.insert({ id: 'probe', vector: V })
      if (ending === 'drop') await db.dropCollection('c')
      else await db.close()
      const code = ending === 'drop' ? 'ERR_NOT_FOUND' : 'ERR_CLOSED'
      const valid: [string, () => unknown][] = [
        ['insert', () => c.insert({ id: 'n', vector: V })],
        ['insertBatch', () => c.insertBatch([{ id: 'n', vector: V }])],
        ['upsert', () => c.upsert({ id: 'n', vector: V })],
        ['update', () => c.update('probe', { metadata: { a: 1 } })],
        ['delete', () => c.deleteBatch(['probe'])],
        ['get', () => c.get('probe')],
        ['search', () => c.search(V)],
        ['searchSync', () => c.searchSync(V)],
        ['searchBatch', () => c.searchBatch([V])],
        ['query', () => c.query(V).execute()],
        ['explain', () => c.explain()],
        ['deleteWhere', () => c.deleteWhere({ a: 1 })],
        ['scan', () => c.scan()],
        ['optimize', () => c.optimize()],
        ['count', () => c.count()],
        ['stats', () => c.stats()],
      ]
      for (const [label, f] of valid) await expectTyped(`${label} after ${ending}`, f, code)
      if (ending === 'close') {
        await expectTyped('getCollection after close', () => db!.getCollection('c'), 'ERR_CLOSED')
        await expectTyped('createCollection after close', () => db!.createCollection('d', { dimension: 2 }), 'ERR_CLOSED')
        db = undefined
      }
    }
  })
})
