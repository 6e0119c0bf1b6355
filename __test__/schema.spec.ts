import { afterEach, describe, expect, it } from 'vitest'
import { AbortError, type Collection, InvalidArgumentError, LibraVDB, SchemaError } from '../index'
import { randomVectors, tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

const DIM = 16
const N = 20_000
const DAY = 86_400_000

/** `N` records without a schema: `bucket` i % 100, `lang` en / de, `at` a day each (epoch ms). */
async function filled(dir?: string): Promise<Collection> {
  db = await LibraVDB.open(dir ?? tempDir())
  const c = await db.createCollection('docs', { dimension: DIM })
  const vectors = randomVectors(5, N, DIM)
  const ids = Array.from({ length: N }, (_, i) => `r${i}`)
  const metadata = ids.map((_, i) => ({ bucket: i % 100, lang: i % 2 ? 'de' : 'en', at: i * DAY }))
  await c.insertBatch({ ids, vectors, metadata })
  return c
}

const sorted = (hits: { id: string }[]) => hits.map((h) => h.id).sort()

describe('schema changes on a live collection', () => {
  it('addField indexes the stored records while a client keeps searching; the planner takes it up', async () => {
    const dir = tempDir()
    const c = await filled(dir)
    const filter = { bucket: { $lt: 3 } }
    const before = c.explain({ filter })
    expect(before.reason).toContain('outside the schema')
    expect(before.estimate).toBeUndefined()
    const q = randomVectors(9, 1, DIM)
    const want = sorted(await c.search(q, { k: 1000, filter }))
    const payloadBefore = db!.memoryUsage().collections.docs.payload
    // A client searches the whole time the field is added.
    let searching = true
    let searches = 0
    const client = (async () => {
      while (searching) {
        expect(await c.search(q, { k: 10 })).toHaveLength(10)
        searches++
      }
    })()
    await c.addField('bucket', 'int')
    searching = false
    await client
    expect(searches).toBeGreaterThan(0)
    expect(c.schema).toEqual({ bucket: 'int' })
    // The new index is accounted at once: 100 bitmaps over 20,000 rows.
    expect(db!.memoryUsage().collections.docs.payload - payloadBefore).toBeGreaterThan(N / 8)
    const after = c.explain({ filter })
    expect(after.estimate).toBe(600)
    expect(after.reason).not.toContain('schema')
    expect(sorted(await c.search(q, { k: 1000, filter }))).toEqual(want)
    // From now on writes are checked against the type.
    await expect(c.insert({ id: 'bad', vector: q, metadata: { bucket: 'three' } })).rejects.toThrow(SchemaError)
    await db!.close()
    db = await LibraVDB.open(dir)
    const reopened = db.getCollection('docs')
    expect(reopened.schema).toEqual({ bucket: 'int' })
    expect(reopened.explain({ filter }).estimate).toBe(600)
  })

  it('every handle sees the new type: a date field comes back as Date, filters take a Date', async () => {
    const c = await filled()
    const other = db!.getCollection('docs')
    expect((await other.get('r3'))!.metadata!.at).toBe(3 * DAY)
    await c.addField('at', 'date')
    expect(other.schema).toEqual({ at: 'date' })
    expect((await other.get('r3'))!.metadata!.at).toEqual(new Date(3 * DAY))
    const q = randomVectors(9, 1, DIM)
    const hits = await other.search(q, { k: 100, filter: { at: { $lt: new Date(5 * DAY) } }, includeMetadata: true })
    expect(sorted(hits)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4'])
    await other.insert({ id: 'new', vector: q, metadata: { at: new Date(7) } })
    expect((await c.get('new'))!.metadata!.at).toEqual(new Date(7))
  })

  it('a text field added late answers BM25 over the stored records', async () => {
    db = await LibraVDB.open(tempDir())
    const c = await db.createCollection('notes', { dimension: 4 })
    const bodies = ['the gpu driver crashed', 'a driver for printers', 'kernel panic on boot', 'gpu fan noise']
    await c.insertBatch(bodies.map((body, i) => ({ id: `n${i}`, vector: [i + 1, 1, 1, 1], metadata: { body } })))
    await expect(c.search({ text: 'gpu' })).rejects.toThrow(InvalidArgumentError)
    await c.addField('body', { type: 'text', stemming: true })
    expect(c.schema.body).toMatchObject({ type: 'text', stemming: true })
    expect(sorted(await c.search({ text: 'gpu' }, { k: 10 }))).toEqual(['n0', 'n3'])
    expect(sorted(await c.search({ text: 'drivers' }, { k: 10 }))).toEqual(['n0', 'n1'])
  })

  it('bad input and stored values of another type are refused, and change nothing', async () => {
    const c = await filled()
    await c.update('r77', { metadata: { bucket: 'seventy-seven' } })
    const e = await c.addField('bucket', 'int').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(SchemaError)
    expect((e as Error).message).toContain("'r77'")
    expect(c.schema).toEqual({})
    expect(c.explain({ filter: { bucket: 3 } }).reason).toContain('outside the schema')
    await expect(c.addField('bucket', 'integer' as never)).rejects.toThrow(InvalidArgumentError)
    await expect(c.addField(3 as never, 'int')).rejects.toThrow(InvalidArgumentError)
    await expect(c.addField('x', { type: 'text', colour: 'red' } as never)).rejects.toThrow(InvalidArgumentError)
    await expect(c.addField('lang', 'string', { signal: AbortSignal.abort() })).rejects.toThrow(AbortError)
    await expect(c.dropField('lang')).rejects.toThrow(InvalidArgumentError)
    expect(c.schema).toEqual({})
    await c.addField('lang', 'string')
    await expect(c.addField('lang', 'text')).rejects.toThrow(/drop it first/)
  })

  it('dropField removes the type check and the index, keeps the values, and stays dropped', async () => {
    const dir = tempDir()
    const c = await filled(dir)
    await c.addField('lang', 'string')
    await c.addField('bucket', 'int')
    await c.dropField('bucket')
    expect(c.schema).toEqual({ lang: 'string' })
    await c.update('r5', { metadata: { bucket: 'free again', lang: 'de' } })
    expect((await c.get('r5'))!.metadata).toEqual({ bucket: 'free again', lang: 'de' })
    const q = randomVectors(9, 1, DIM)
    expect(sorted(await c.search(q, { k: 10, filter: { bucket: 'free again' } }))).toEqual(['r5'])
    expect(c.explain({ filter: { lang: 'de' } }).estimate).toBe(N / 2)
    await db!.close()
    db = await LibraVDB.open(dir)
    expect(db.getCollection('docs').schema).toEqual({ lang: 'string' })
  })
})
