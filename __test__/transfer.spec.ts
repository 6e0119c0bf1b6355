import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet'
import { afterEach, describe, expect, it } from 'vitest'
import { AbortError, type Collection, DimensionMismatchError, InvalidArgumentError, LibraVDB, NotFoundError } from '../index'

const DIM = 12
const SCHEMA = { title: 'string', year: 'int', price: 'float', ok: 'bool', at: 'date', tags: 'string[]', dims: 'number[]' } as const

function vectorOf(i: number): Float32Array {
  return Float32Array.from({ length: DIM }, (_, d) => Math.cos(i * 1.3 + d * 0.7) + (d === i % DIM ? 1 : 0))
}

function metadataOf(i: number): Record<string, unknown> | undefined {
  switch (i % 4) {
    case 0:
      return undefined
    case 1:
      return { title: `t${i}`, year: 2000 + (i % 30), price: i / 4, ok: i % 3 === 0, at: new Date(Date.UTC(2024, i % 12, 1 + (i % 28))), tags: ['a', `b${i % 5}`], dims: [i, 0.5], extra: { nested: [i] } }
    case 2:
      return { note: `only extra ${i}` }
    default:
      return { title: `t${i}`, ok: false }
  }
}

async function filled(db: LibraVDB, name: string, n: number): Promise<Collection> {
  const c = await db.createCollection(name, { dimension: DIM, metric: 'cosine', schema: SCHEMA })
  await c.insertBatch(Array.from({ length: n }, (_, i) => ({ id: `doc-${i}`, vector: vectorOf(i), metadata: metadataOf(i) })))
  return c
}

async function expectSameRecords(a: Collection, b: Collection, n: number) {
  expect(await b.count()).toBe(await a.count())
  for (let i = 0; i < n; i++) {
    const [x, y] = [await a.get(`doc-${i}`), await b.get(`doc-${i}`)]
    expect(y, `doc-${i}`).toEqual(x)
  }
  for (let q = 0; q < 20; q++) {
    const opts = { k: 10, filter: q % 2 ? { ok: false } : undefined, includeMetadata: true }
    expect(await b.search(vectorOf(q * 7 + 1), opts)).toEqual(await a.search(vectorOf(q * 7 + 1), opts))
  }
}

describe('export and import', () => {
  const dbs: LibraVDB[] = []
  afterEach(async () => {
    for (const db of dbs.splice(0)) await db.close()
  })
  const dir = () => mkdtempSync(join(tmpdir(), 'libravdb-transfer-'))
  async function open(path?: string) {
    const db = await LibraVDB.open(path)
    dbs.push(db)
    return db
  }

  it('a Parquet round trip gives identical records and identical searches', async () => {
    const d = dir()
    const db = await open(join(d, 'db'))
    const src = await filled(db, 'src', 5000)
    const progress: number[] = []
    const file = join(d, 'src.parquet')
    const r = await src.export(file, { onProgress: (p) => progress.push(p.records) })
    expect(r.records).toBe(5000)
    expect(r.bytes).toBeGreaterThan(5000 * DIM * 4 * 0.5)
    expect(progress.at(-1)).toBe(5000)
    const copy = await db.importCollection('copy', file) // dimension, metric, schema from the file
    expect(copy.dimension).toBe(DIM)
    expect(copy.metric).toBe('cosine')
    expect(copy.schema).toEqual(SCHEMA)
    await expectSameRecords(src, copy, 5000)
    // into an existing collection, with an index of its own
    const hnsw = await db.createCollection('hnsw', { dimension: DIM, metric: 'cosine', schema: SCHEMA, index: { type: 'hnsw' } })
    expect((await hnsw.import(file)).records).toBe(5000)
    expect(await hnsw.get('doc-1')).toEqual(await src.get('doc-1'))
  })

  it('an NDJSON round trip gives identical records and identical searches', async () => {
    const d = dir()
    const db = await open()
    const src = await filled(db, 'src', 3000)
    const file = join(d, 'src.ndjson')
    expect((await src.export(file)).records).toBe(3000)
    const lines = readFileSync(file, 'utf8').trim().split('\n')
    expect(lines).toHaveLength(3000)
    expect(JSON.parse(lines[1])).toMatchObject({ id: 'doc-1', metadata: { title: 't1', at: '2024-02-02T00:00:00.000Z' } })
    await expect(db.importCollection('nope', file)).rejects.toBeInstanceOf(InvalidArgumentError) // no dimension
    const copy = await db.importCollection('copy', file, { dimension: DIM, metric: 'cosine', schema: SCHEMA })
    await expectSameRecords(src, copy, 3000)
  })

  it('the Parquet file is read by an independent reader with the documented columns', async () => {
    const d = dir()
    const db = await open()
    const src = await filled(db, 'src', 40)
    const file = join(d, 'x.parquet')
    await src.export(file)
    const bytes = readFileSync(file)
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
    const meta = parquetMetadata(buffer)
    const columns = parquetSchema(meta).children.map((c) => c.element.name)
    expect(columns).toEqual(['id', 'vector', ...Object.keys(src.schema), 'metadata'])
    expect(Object.keys(src.schema).sort()).toEqual(Object.keys(SCHEMA).sort())
    expect(JSON.parse(meta.key_value_metadata!.find((kv) => kv.key === 'libravdb')!.value!)).toMatchObject({ dimension: DIM, metric: 'cosine' })
    const rows = await parquetReadObjects({ file: buffer })
    expect(rows).toHaveLength(40)
    const stored = await src.get('doc-1')
    expect(rows[1].id).toBe('doc-1')
    expect(Float32Array.from(rows[1].vector as number[])).toEqual(stored!.vector)
    expect(rows[1]).toMatchObject({ title: 't1', year: 2001n, price: 0.25, ok: false, tags: ['a', 'b1'], dims: [1, 0.5] })
    expect(new Date(rows[1].at as Date).toISOString()).toBe('2024-02-02T00:00:00.000Z')
    expect(JSON.parse(rows[1].metadata as string)).toEqual({ extra: { nested: [1] } })
    expect(rows[0].metadata).toBeNull()
    expect(rows[0].title).toBeNull()
  })

  it('a filtered export holds only the matches; a cancelled one leaves no file', async () => {
    const d = dir()
    const db = await open()
    const src = await filled(db, 'src', 9000)
    for (const file of [join(d, 'f.parquet'), join(d, 'f.ndjson')]) {
      expect((await src.export(file, { filter: { ok: false } })).records).toBe(9000 / 4 + 9000 / 4 / 3 * 2)
    }
    const ac = new AbortController()
    ac.abort()
    await expect(src.export(join(d, 'c.parquet'), { signal: ac.signal })).rejects.toBeInstanceOf(AbortError)
    const ac2 = new AbortController()
    await expect(src.export(join(d, 'c.ndjson'), { signal: ac2.signal, onProgress: () => ac2.abort() })).rejects.toBeInstanceOf(AbortError)
    expect(readdirSync(d).sort()).toEqual(['f.ndjson', 'f.parquet'])
  })

  it('a bad record stops an import with its typed error; importCollection then leaves no collection', async () => {
    const d = dir()
    const db = await open()
    const file = join(d, 'bad.ndjson')
    const lines = Array.from({ length: 2500 }, (_, i) => JSON.stringify({ id: `r${i}`, vector: Array.from(vectorOf(i)) }))
    lines[1500] = JSON.stringify({ id: 'r1500', vector: [1, 2, 3] })
    writeFileSync(file, lines.join('\n'))
    const err = await db.importCollection('bad', file, { dimension: DIM }).catch((e) => e)
    expect(err).toBeInstanceOf(DimensionMismatchError)
    expect(() => db.getCollection('bad')).toThrow(NotFoundError)
    // import into an existing collection keeps the batches before the bad one
    const c = await db.createCollection('keep', { dimension: DIM })
    await expect(c.import(file)).rejects.toBeInstanceOf(DimensionMismatchError)
    expect(await c.count()).toBe(1000)
    // a Parquet file of another dimension, an unknown extension, a missing file
    const other = await filled(db, 'other', 10)
    await other.export(join(d, 'o.parquet'))
    const small = await db.createCollection('small', { dimension: 3 })
    await expect(small.import(join(d, 'o.parquet'))).rejects.toBeInstanceOf(DimensionMismatchError)
    await expect(small.import(join(d, 'o.csv'))).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(small.import(join(d, 'missing.parquet'))).rejects.toMatchObject({ code: 'ERR_IO' })
    expect(existsSync(join(d, 'o.parquet'))).toBe(true)
  })
})
