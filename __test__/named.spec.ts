import { afterEach, describe, expect, it } from 'vitest'
import { DimensionMismatchError, InvalidArgumentError, LibraVDB, type VectorLike } from '../index'
import { join } from 'node:path'
import { debpkg20k } from '../benches/datasets'
import { randomVectors, tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

const N = 400
const BODY = 24
const TITLE = 8

const row = (block: Float32Array, dim: number, i: number) => block.subarray(i * dim, (i + 1) * dim)

/** Exact l2 top-k ids among `candidates` (ids `r<i>`). */
function exactL2(q: Float32Array, block: Float32Array, dim: number, candidates: number[], k: number): string[] {
  const d = (i: number) => row(block, dim, i).reduce((s, x, j) => s + (x - q[j]) ** 2, 0)
  return candidates
    .map((i) => [d(i), i] as const)
    .sort((a, b) => a[0] - b[0])
    .slice(0, k)
    .map(([, i]) => `r${i}`)
}

async function items(dir: string) {
  db = await LibraVDB.open(dir)
  return db.createCollection('items', {
    vectors: {
      body: { dimension: BODY, metric: 'cosine', index: { type: 'hnsw' } },
      title: { dimension: TITLE },
    },
    schema: { lang: 'string' },
  })
}

describe('named vector fields', () => {
  it('stores several vectors per record, any absent, and searches one field with using', async () => {
    const dir = tempDir()
    const c = await items(dir)
    const body = randomVectors(1, N, BODY)
    const title = randomVectors(2, N, TITLE)
    // Every record has a body; even ones a title.
    await c.insertBatch(
      Array.from({ length: N }, (_, i) => ({
        id: `r${i}`,
        vectors: { body: row(body, BODY, i), ...(i % 2 === 0 && { title: Array.from(row(title, TITLE, i)) }) },
        metadata: { lang: i % 3 === 0 ? 'en' : 'de' },
      })),
    )
    const even = Array.from({ length: N / 2 }, (_, i) => 2 * i)
    const q = randomVectors(3, 1, TITLE)
    // A flat l2 field: exact, over the records that have it only.
    const hits = await c.search(q, { using: 'title', k: 10 })
    expect(hits.map((h) => h.id)).toEqual(exactL2(q, title, TITLE, even, 10))
    // A filter applies to the records; the field's vectors come back with includeVectors.
    const en = even.filter((i) => i % 3 === 0)
    const filtered = await c.search(q, { using: 'title', k: 5, filter: { lang: 'en' }, includeVectors: true, includeMetadata: true })
    expect(filtered.map((h) => h.id)).toEqual(exactL2(q, title, TITLE, en, 5))
    expect(filtered.every((h) => h.metadata?.lang === 'en' && h.vector?.length === TITLE)).toBe(true)
    expect(Array.from(filtered[0].vector!)).toEqual(Array.from(row(title, TITLE, Number(filtered[0].id.slice(1)))))
    // explain({ using }) plans the field's search: matches counted among the records that have it.
    expect(c.explain({ using: 'title', filter: { lang: 'en' } })).toMatchObject({ plan: 'exact', estimate: en.length, live: N / 2 })
    expect(c.explain({ using: 'body' })).toMatchObject({ plan: 'unfiltered', live: N })
    expect(() => c.explain({ using: 'nope' })).toThrow(InvalidArgumentError)
    // A record's own body is its nearest under cosine (HNSW), in search and searchSync alike.
    expect((await c.search(row(body, BODY, 7), { using: 'body', k: 1 }))[0].id).toBe('r7')
    expect(c.searchSync(row(body, BODY, 8), { using: 'body', k: 1 })[0].id).toBe('r8')
    expect((await c.searchBatch([row(body, BODY, 9), row(body, BODY, 10)], { using: 'body', k: 1 })).map((h) => h[0].id)).toEqual(['r9', 'r10'])

    // get() returns the fields a record has.
    const r1 = await c.get('r1')
    expect(Object.keys(r1!.vectors!)).toEqual(['body'])
    expect(r1!.vector.length).toBe(0)
    const r2 = await c.get('r2')
    expect(Array.from(r2!.vectors!.title)).toEqual(Array.from(row(title, TITLE, 2)))

    // Field by field: r1 gains a title, r2 loses it; other fields stay.
    await c.update('r1', { vectors: { title: new Float32Array(TITLE).fill(9) } })
    await c.update('r2', { vectors: { title: null } })
    expect((await c.search(new Float32Array(TITLE).fill(9), { using: 'title', k: 1 }))[0].id).toBe('r1')
    expect(Object.keys((await c.get('r2'))!.vectors!)).toEqual(['body'])
    expect((await c.search(row(title, TITLE, 2), { using: 'title', k: 50 })).some((h) => h.id === 'r2')).toBe(false)
    expect((await c.search(row(body, BODY, 2), { using: 'body', k: 1 }))[0].id).toBe('r2')
    const stats = c.stats()
    expect(stats.fields.map((f) => [f.name, f.count, f.dimension])).toEqual([
      ['body', N, BODY],
      ['title', N / 2, TITLE],
    ])

    // Reopened: the same records and answers.
    const before = (await c.search(q, { using: 'title', k: 10 })).map((h) => h.id)
    await db!.close()
    db = await LibraVDB.open(dir)
    const again = db.getCollection('items')
    expect((await again.search(q, { using: 'title', k: 10 })).map((h) => h.id)).toEqual(before)
    expect(Object.keys((await again.get('r1'))!.vectors!).sort()).toEqual(['body', 'title'])
    // An online backup carries the fields' files; it opens with the same answers.
    const copy = join(tempDir(), 'backup')
    await db.backup(copy)
    const restored = await LibraVDB.open(copy)
    try {
      expect((await restored.getCollection('items').search(q, { using: 'title', k: 10 })).map((h) => h.id)).toEqual(before)
      expect((await restored.verify()).ok).toBe(true)
    } finally {
      await restored.close()
    }
  })

  it('rejects a wrong field or dimension with a typed error and changes nothing', async () => {
    const c = await items(tempDir())
    const body = Array.from(randomVectors(4, 1, BODY))
    await expect(c.insert({ id: 'a', vectors: { nope: body } })).rejects.toThrow(InvalidArgumentError)
    await expect(c.insert({ id: 'a', vectors: { title: body } })).rejects.toThrow(DimensionMismatchError)
    await expect(c.insert({ id: 'a', vector: body, vectors: { body } })).rejects.toThrow(/named vector fields only/)
    expect(await c.count()).toBe(0)
    await c.insert({ id: 'a', vectors: { body } })
    await expect(c.update('a', { vectors: { title: [1, 2] } })).rejects.toThrow(DimensionMismatchError)
    await expect(c.search(body, { using: 'nope' })).rejects.toThrow(InvalidArgumentError)
    await expect(c.search(body, { using: 'title' })).rejects.toThrow(DimensionMismatchError)
    // Without `using`: this collection has no unnamed vector to search.
    await expect(c.search(body)).rejects.toThrow(/using/)
    // explain() describes how a filter narrows the records, whichever vector is searched.
    expect(c.explain({ filter: { lang: 'en' } }).estimate).toBe(0)
    expect(Object.keys((await c.get('a'))!.vectors!)).toEqual(['body'])
    // A collection config gives either a dimension or vectors; a field's index is checked as the unnamed vector's.
    await expect(db!.createCollection('x', { dimension: 4, vectors: { a: { dimension: 4 } } })).rejects.toThrow(InvalidArgumentError)
    await expect(db!.createCollection('x', { vectors: { a: { dimension: 4, index: { type: 'tree' } as never } } })).rejects.toThrow(InvalidArgumentError)
    await expect(db!.createCollection('x', { vectors: { 'a b': { dimension: 4 } } })).rejects.toThrow(InvalidArgumentError)
  })

  it('quantizes a field on its own vectors: debpkg20k (384-d, cosine) in sq8 keeps recall@10 against exact truth', async () => {
    const data = debpkg20k()
    const n = data.base.length / data.dim
    db = await LibraVDB.open(tempDir())
    await expect(
      db.createCollection('bad', { vectors: { a: { dimension: 8, quantization: { type: 'scalar', bits: 3 as never } } } }),
    ).rejects.toThrow(InvalidArgumentError)
    await expect(db.createCollection('bad', { vectors: { a: { dimension: 8, index: { type: 'ivfpq', m: 3 } } } })).rejects.toThrow(
      InvalidArgumentError,
    )
    const c = await db.createCollection('pkgs', {
      vectors: {
        minilm: { dimension: data.dim, metric: 'cosine', index: { type: 'hnsw' }, quantization: { type: 'scalar', bits: 8 } },
        tag: { dimension: TITLE },
      },
    })
    await c.insertBatch(Array.from({ length: n }, (_, i) => ({ id: `p${i}`, vectors: { minilm: row(data.base, data.dim, i) } })))
    const [minilm, tag] = c.stats().fields
    expect([minilm.quantization, minilm.compression, minilm.codeBytes]).toEqual(['trained', 4, n * data.dim])
    expect([tag.quantization, tag.codeBytes]).toEqual(['none', 0])
    expect(c.stats().memory.codes).toBeGreaterThanOrEqual(n * data.dim)
    const nq = data.queries.length / data.dim
    let found = 0
    for (let q = 0; q < nq; q++) {
      const truth = new Set(Array.from(data.groundTruth!.subarray(q * data.gtK!, q * data.gtK! + 10), (i) => `p${i}`))
      const hits = await c.search(row(data.queries, data.dim, q), { using: 'minilm', k: 10 })
      found += hits.filter((h) => truth.has(h.id)).length
    }
    const recall = found / (nq * 10)
    console.log(`debpkg20k field minilm (hnsw + sq8, cosine): recall@10 ${recall.toFixed(3)} over ${nq} held-out queries`)
    expect(recall).toBeGreaterThanOrEqual(0.95)
  }, 120_000)

  it('an IVF-PQ field trains on its own records: debpkg20k (384-d, cosine) recall@10 against exact truth', async () => {
    const data = debpkg20k()
    const n = data.base.length / data.dim
    db = await LibraVDB.open(tempDir())
    const c = await db.createCollection('pkgs', {
      vectors: { minilm: { dimension: data.dim, metric: 'cosine', index: { type: 'ivfpq', m: 96 } }, tag: { dimension: TITLE } },
    })
    // Every record has `tag`; `minilm` waits for 10,000 records of its own to train.
    const tag = (i: number) => Array.from({ length: TITLE }, (_, j) => (i + j) % 7)
    const vectors = (i: number): Record<string, VectorLike> => (i < 9000 ? { minilm: row(data.base, data.dim, i), tag: tag(i) } : { tag: tag(i) })
    await c.insertBatch(Array.from({ length: n }, (_, i) => ({ id: `p${i}`, vectors: vectors(i) })))
    expect(c.stats().fields[0]).toMatchObject({ index: 'ivfpq', quantization: 'pending', count: 9000 })
    await c.updateBatch(Array.from({ length: n - 9000 }, (_, j) => ({ id: `p${9000 + j}`, vectors: { minilm: row(data.base, data.dim, 9000 + j) } })))
    const f = c.stats().fields[0]
    expect(f).toMatchObject({ index: 'ivfpq', quantization: 'trained', count: n, nlist: Math.round(Math.sqrt(n)), compression: 16 })
    const nq = data.queries.length / data.dim
    const recallAt = async (nprobe?: number, from = 0) => {
      let found = 0
      for (let q = from; q < nq; q++) {
        const truth = new Set(Array.from(data.groundTruth!.subarray(q * data.gtK!, q * data.gtK! + 10), (i) => `p${i}`))
        const hits = await c.search(row(data.queries, data.dim, q), { using: 'minilm', k: 10, nprobe })
        found += hits.filter((h) => truth.has(h.id)).length
      }
      return found / ((nq - from) * 10)
    }
    const [byDefault, wide] = [await recallAt(), await recallAt(32)]
    console.log(`debpkg20k field minilm (ivfpq m96, cosine): recall@10 ${byDefault.toFixed(3)} at the default nprobe, ${wide.toFixed(3)} at 32`)
    expect(byDefault).toBeGreaterThanOrEqual(0.8)
    expect(wide).toBeGreaterThan(byDefault)
    expect(wide).toBeGreaterThanOrEqual(0.93)
    // tune({ using }) sets the field's default nprobe on 100 of the queries; the other 400 measure it.
    const tuned = await c.tune({ using: 'minilm', targetRecall: 0.95, queries: data.queries.subarray(0, 100 * data.dim) })
    const heldOut = await recallAt(undefined, 100)
    console.log(`tune({ using, targetRecall: 0.95 }): nprobe ${tuned.nprobe}, recall@10 ${heldOut.toFixed(3)} on the other 400 queries`)
    expect(tuned.nprobe).toBeGreaterThan(8)
    expect(heldOut).toBeGreaterThanOrEqual(0.92)
  }, 180_000)

  it('rebuilds and tunes one field with rebuild({ using }) / tune({ using }), the others untouched, and reopens with it', async () => {
    const dir = tempDir()
    const c = await items(dir)
    const body = randomVectors(1, N, BODY)
    const title = randomVectors(2, N, TITLE)
    await c.insertBatch(Array.from({ length: N }, (_, i) => ({ id: `r${i}`, vectors: { body: row(body, BODY, i), title: row(title, TITLE, i) } })))
    const progress: number[] = []
    await c.rebuild({ using: 'title', index: { type: 'hnsw' }, quantization: { type: 'scalar', bits: 8 } }, { onProgress: (p) => progress.push(p.done) })
    expect(progress.at(-1)).toBe(N)
    expect(c.stats().fields.map((f) => [f.name, f.index, f.quantization])).toEqual([
      ['body', 'hnsw', 'none'],
      ['title', 'hnsw', 'pending'], // 400 records: too few to train yet
    ])
    await expect(c.rebuild({ using: 'nope' })).rejects.toThrow(InvalidArgumentError)
    await expect(c.rebuild({ using: 'title', index: { type: 'ivfpq' } })).rejects.toThrow(InvalidArgumentError)
    await expect(c.rebuild()).rejects.toThrow(InvalidArgumentError) // no unnamed vector to rebuild
    // tune({ using }): the field's breadth, on queries of its dimension.
    const tuned = await c.tune({ using: 'body', targetRecall: 0.9, queries: randomVectors(9, 50, BODY) })
    expect(tuned).toMatchObject({ source: 'queries', sampleSize: 50 })
    expect(tuned.efSearch).toBeGreaterThan(0)
    await expect(c.tune({ using: 'body', targetRecall: 0.9, queries: randomVectors(9, 5, TITLE) })).rejects.toThrow()
    await expect(c.tune({ using: 'nope', targetRecall: 0.9 })).rejects.toThrow(InvalidArgumentError)
    await db!.close()
    db = await LibraVDB.open(dir)
    const again = db.getCollection('items')
    expect(again.stats().fields[1].index).toBe('hnsw')
    expect((await again.search(row(title, TITLE, 33), { using: 'title', k: 1 }))[0].id).toBe('r33')
    expect((await again.search(row(body, BODY, 34), { using: 'body', k: 1 }))[0].id).toBe('r34')
  })

  it('adds a field to a live one-vector collection, backfills it, and drops it', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const docs = await db.createCollection('docs', { dimension: BODY })
    const old = randomVectors(5, N, BODY)
    await docs.insertBatch({ ids: Array.from({ length: N }, (_, i) => `r${i}`), vectors: old })
    const other = db.getCollection('docs') // a second handle sees the change too
    await docs.addVectorField('v2', { dimension: TITLE, index: { type: 'hnsw' } })
    await expect(docs.addVectorField('v2', { dimension: TITLE })).rejects.toThrow(InvalidArgumentError)
    await expect(docs.addVectorField('bad', { dimension: 0 })).rejects.toThrow(InvalidArgumentError)
    const v2 = randomVectors(6, N, TITLE)
    await docs.updateBatch(Array.from({ length: N }, (_, i) => ({ id: `r${i}`, vectors: { v2: row(v2, TITLE, i) } })))
    expect((await other.search(row(v2, TITLE, 11), { using: 'v2', k: 1 }))[0].id).toBe('r11')
    expect((await docs.search(row(old, BODY, 12), { k: 1 }))[0].id).toBe('r12') // the unnamed vector, as before
    expect(Object.keys((await other.get('r3'))!.vectors!)).toEqual(['v2'])
    await db.close()
    db = await LibraVDB.open(dir)
    const again = db.getCollection('docs')
    expect(again.stats().fields.map((f) => [f.name, f.count])).toEqual([['v2', N]])
    await again.dropVectorField('v2')
    await expect(again.search(row(v2, TITLE, 11), { using: 'v2' })).rejects.toThrow(InvalidArgumentError)
    expect(again.stats().fields).toEqual([])
    expect(await again.count()).toBe(N)
  })

  it('fuses several fields (and text) in one query, with each field\'s score on the hit', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('items', {
      vectors: { body: { dimension: BODY, metric: 'cosine' }, title: { dimension: TITLE } },
      schema: { text: 'text' },
    })
    const body = randomVectors(1, N, BODY)
    const title = randomVectors(2, N, TITLE)
    await c.insertBatch(
      Array.from({ length: N }, (_, i) => ({
        id: `r${i}`,
        vectors: { body: row(body, BODY, i), title: row(title, TITLE, i) },
        metadata: { text: i === 7 ? 'gpu driver firmware' : 'plain words' },
      })),
    )
    // r7's own vectors in both fields and its words: first by any fusion.
    const query = { vectors: { body: row(body, BODY, 7), title: row(title, TITLE, 7) }, text: 'gpu driver' }
    const [top] = await c.search(query, { k: 5 })
    expect(top.id).toBe('r7')
    expect(top.signals!.fields!.title).toBeCloseTo(0, 5) // l2 distance to itself
    expect(top.signals!.fields!.body).toBeCloseTo(1, 5) // cosine similarity to itself
    expect(top.signals!.text).toBeGreaterThan(0)
    const weighted = await c.search({ vectors: query.vectors }, { k: 5, fusion: 'weighted' })
    expect(weighted[0].id).toBe('r7')
    // A single field in `vectors` is that field's search.
    const one = await c.search({ vectors: { title: row(title, TITLE, 9) } }, { k: 3 })
    expect(one.map((h) => h.id)).toEqual((await c.search(row(title, TITLE, 9), { using: 'title', k: 3 })).map((h) => h.id))
    await expect(c.search({ vectors: { title: row(body, BODY, 1) }, text: 'gpu' })).rejects.toThrow(DimensionMismatchError)
    await expect(c.search({ vectors: { nope: row(title, TITLE, 1) }, text: 'gpu' })).rejects.toThrow(InvalidArgumentError)
    await expect(c.search({ vectors: { title: row(title, TITLE, 1) }, text: 'gpu' }, { using: 'title' })).rejects.toThrow(/not with options.using/)
  })

  it('export and import carry every field, Parquet and NDJSON, named-only or beside the unnamed vector', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const named = await db.createCollection('named', {
      vectors: {
        body: { dimension: BODY, metric: 'cosine', index: { type: 'hnsw', m: 8, efSearch: 48 }, quantization: { type: 'scalar', bits: 8 } },
        title: { dimension: TITLE },
      },
    })
    const body = randomVectors(1, 50, BODY)
    const title = randomVectors(2, 50, TITLE)
    await named.insertBatch(Array.from({ length: 50 }, (_, i) => ({ id: `r${i}`, vectors: { body: row(body, BODY, i), ...(i % 2 === 0 && { title: row(title, TITLE, i) }) }, metadata: { i } })))
    const mixed = await db.createCollection('mixed', { dimension: TITLE, index: { type: 'hnsw', efSearch: 80, targetRecall: 0.9 }, quantization: { type: 'scalar' } })
    await mixed.insertBatch({ ids: Array.from({ length: 50 }, (_, i) => `r${i}`), vectors: title })
    await mixed.addVectorField('extra', { dimension: BODY, metric: 'cosine' })
    await mixed.updateBatch(Array.from({ length: 20 }, (_, i) => ({ id: `r${i}`, vectors: { extra: row(body, BODY, i) } })))
    for (const source of [named, mixed]) {
      for (const ext of ['parquet', 'ndjson']) {
        const file = join(dir, `${source.name}.${ext}`)
        await source.export(file)
        const config = ext === 'ndjson' ? (source === named ? { vectors: { body: { dimension: BODY, metric: 'cosine' as const }, title: { dimension: TITLE } } } : undefined) : undefined
        if (ext === 'ndjson' && source === mixed) {
          const copy = await db.createCollection(`${source.name}-ndjson`, { dimension: TITLE })
          await copy.addVectorField('extra', { dimension: BODY, metric: 'cosine' })
          await copy.import(file)
          await expectSame(source, copy)
          continue
        }
        const copy = await db.importCollection(`${source.name}-${ext}`, file, config)
        await expectSame(source, copy)
        if (ext === 'parquet') {
          // A Parquet export records each vector's index and quantization; the import recreates them.
          const [s, c] = [source.stats(), copy.stats()]
          const shape = (st: typeof s) => [st.index, st.quantization, st.targetRecall, st.fields.map((f) => [f.name, f.index, f.quantization])]
          expect(shape(c)).toEqual(shape(s))
          for (const using of source === named ? ['body', 'title'] : [undefined]) {
            const plan = (col: typeof copy) => col.explain({ using }).efSearch
            expect(plan(copy)).toBe(plan(source))
          }
        }
      }
    }
  })

  it('the change feed carries named fields: an insert its fields, an update what it set or removed', async () => {
    const c = await items(tempDir())
    const [b1, t1, t2] = [randomVectors(1, 1, BODY), randomVectors(2, 1, TITLE), randomVectors(3, 1, TITLE)]
    await c.insert({ id: 'a', vectors: { body: b1, title: t1 } })
    await c.insert({ id: 'b', vectors: { body: b1 } })
    await c.update('a', { vectors: { title: null } })
    await c.update('b', { vectors: { title: t2 } })
    await c.delete('a')
    const changes = []
    for await (const ch of c.changes({ since: 'oldest', follow: false })) changes.push(ch)
    expect(changes.map((ch) => [ch.op, ch.id, Object.keys(ch.vectors ?? {}).sort().join()])).toEqual([
      ['insert', 'a', 'body,title'],
      ['insert', 'b', 'body'],
      ['update', 'a', 'title'],
      ['update', 'b', 'title'],
      ['delete', 'a', ''],
    ])
    expect(changes[0].vector).toBeUndefined() // no unnamed vector in this collection
    expect(Array.from(changes[0].vectors!.title!)).toEqual(Array.from(t1))
    expect(changes[2].vectors!.title).toBeNull()
    expect(Array.from(changes[3].vectors!.title!)).toEqual(Array.from(t2))
  })
})

async function expectSame(a: import('../index').Collection, b: import('../index').Collection) {
  expect(await b.count()).toBe(await a.count())
  expect(b.stats().fields.map((f) => [f.name, f.dimension, f.metric, f.count])).toEqual(a.stats().fields.map((f) => [f.name, f.dimension, f.metric, f.count]))
  for await (const r of a.scan({ includeVectors: true })) {
    const got = (await b.get(r.id))!
    expect(Array.from(got.vector)).toEqual(Array.from(r.vector!))
    expect(Object.keys(got.vectors ?? {}).sort()).toEqual(Object.keys(r.vectors ?? {}).sort())
    for (const [f, v] of Object.entries(r.vectors ?? {})) Array.from(v).forEach((x, d) => expect(got.vectors![f][d]).toBeCloseTo(x, 6))
    expect(got.metadata).toEqual(r.metadata)
  }
}
