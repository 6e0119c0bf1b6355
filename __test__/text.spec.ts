import { afterEach, describe, expect, it } from 'vitest'
import { type Collection, InvalidArgumentError, LibraVDB, SchemaError, type SearchHit } from '../index'
import { debpkg20k, debpkg20kTexts } from '../benches/datasets'
import { rng, tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

/** BM25 as the README defines it (Lucene's), over the documents' analysed terms. */
function referenceBm25(docs: Map<string, string[]>, query: string[], k: number, k1 = 1.2, b = 0.75): [string, number][] {
  const withTerms = [...docs].filter(([, t]) => t.length > 0)
  const n = withTerms.length
  const avg = withTerms.reduce((s, [, t]) => s + t.length, 0) / n
  const df = new Map<string, number>()
  for (const [, terms] of withTerms) for (const t of new Set(terms)) df.set(t, (df.get(t) ?? 0) + 1)
  const scores = new Map<string, number>()
  for (const [id, terms] of withTerms) {
    let s = 0
    for (const q of query) {
      const d = df.get(q)
      if (!d) continue
      const tf = terms.filter((t) => t === q).length
      if (tf === 0) continue
      const idf = Math.log(1 + (n - d + 0.5) / (d + 0.5))
      s += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * terms.length) / avg))
    }
    if (s > 0) scores.set(id, s)
  }
  return [...scores].sort((a, b) => b[1] - a[1]).slice(0, k)
}

/** Same scores in order, and the same ids above the last score (ties at the cut may differ). */
function expectSameRanking(got: SearchHit[], want: [string, number][], what: string): void {
  expect(got.length, what).toBe(want.length)
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b))
  got.forEach((h, i) => expect(close(h.score, want[i][1]), `${what}: ${h.id} ${h.score} vs ${want[i]}`).toBe(true))
  if (want.length === 0) return
  const last = want[want.length - 1][1]
  const above = (ids: [string, number][]) => ids.filter(([, s]) => !close(s, last)).map(([id]) => id).sort()
  expect(above(got.map((h) => [h.id, h.score])), what).toEqual(above(want))
}

describe('full-text search (BM25) on debpkg20k', () => {
  it('equals a reference BM25 for 200 queries, after inserts, updates, deletes and a reopen', async () => {
    const texts = debpkg20kTexts()
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const schema = { text: { type: 'text' as const, stemming: true, stopWords: true } }
    let c: Collection = await db.createCollection('pkgs', { dimension: 2, schema })
    const random = rng(7)
    const vector = () => [random(), random()]
    const docs = new Map<string, string>()
    await c.insertBatch(texts.base.map((t, i) => ({ id: `b${i}`, vector: vector(), metadata: { text: t } })))
    texts.base.forEach((t, i) => docs.set(`b${i}`, t))
    // Deletes, updates (another line's text) and inserts (the query lines) in random order.
    for (let round = 0; round < 5; round++) {
      const dead = Array.from({ length: 200 }, () => `b${Math.floor(random() * texts.base.length)}`)
      await c.deleteBatch([...new Set(dead)].filter((id) => docs.has(id)))
      new Set(dead).forEach((id) => docs.delete(id))
      const live = [...docs.keys()]
      for (let j = 0; j < 100; j++) {
        const id = live[Math.floor(random() * live.length)]
        const t = texts.base[Math.floor(random() * texts.base.length)]
        await c.update(id, { metadata: { text: t } })
        docs.set(id, t)
      }
      const added = texts.queries.slice(round * 100, round * 100 + 100)
      await c.insertBatch(added.map((t, j) => ({ id: `q${round * 100 + j}`, vector: vector(), metadata: { text: t } })))
      added.forEach((t, j) => docs.set(`q${round * 100 + j}`, t))
    }
    const check = async (what: string) => {
      const terms = new Map([...docs].map(([id, t]) => [id, c.analyze('text', t)]))
      for (let q = 0; q < 200; q++) {
        // The query's description (its package name left out: that line may be stored too).
        const line = texts.queries[q]
        const query = line.slice(line.indexOf(':') + 1)
        const got = await c.search({ text: query }, { k: 10 })
        expectSameRanking(got, referenceBm25(terms, c.analyze('text', query), 10), `${what} query ${q}`)
      }
    }
    await check('after writes')
    await db.close()
    db = await LibraVDB.open(dir)
    c = db.getCollection('pkgs')
    await check('after reopen')
  }, 120_000)

  it('analyses as configured: stemming and stop words per field', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', {
      dimension: 2,
      schema: { plain: 'text', stemmed: { type: 'text', stemming: true, stopWords: true, language: 'english' } },
    })
    expect(c.analyze('plain', 'The Running drivers')).toEqual(['the', 'running', 'drivers'])
    expect(c.analyze('stemmed', 'The Running drivers')).toEqual(['run', 'driver'])
    expect(c.schema.stemmed).toMatchObject({ type: 'text', stemming: true, stopWords: true, language: 'english' })
    expect(() => c.analyze('nope', 'x')).toThrow(InvalidArgumentError)
  })
})

describe('hybrid search', () => {
  it('fuses vector and text lists as RRF and weighted references do, filter applied to both', async () => {
    const data = debpkg20k()
    const texts = debpkg20kTexts()
    db = await LibraVDB.open()
    const c = await db.createCollection('pkgs', {
      dimension: data.dim,
      metric: 'cosine',
      schema: { text: 'text', bucket: 'int' },
    })
    const n = 5000
    await c.insertBatch(
      Array.from({ length: n }, (_, i) => ({
        id: `b${i}`,
        vector: data.base.subarray(i * data.dim, (i + 1) * data.dim),
        metadata: { text: texts.base[i], bucket: i % 4 },
      })),
    )
    for (let q = 0; q < 30; q++) {
      const vector = data.queries.subarray(q * data.dim, (q + 1) * data.dim)
      const text = texts.queries[q]
      const filter = q % 2 === 0 ? undefined : { bucket: { $ne: 3 } }
      const fetchK = 40
      const byVector = await c.search(vector, { k: fetchK, filter })
      const byText = await c.search({ text }, { k: fetchK, filter })
      const rank = (hits: SearchHit[]) => new Map(hits.map((h, i) => [h.id, i + 1]))
      const scaled = (hits: SearchHit[]) => {
        const s = hits.map((h) => h.score)
        const [lo, hi] = [Math.min(...s), Math.max(...s)]
        return new Map(hits.map((h) => [h.id, hi > lo ? (h.score - lo) / (hi - lo) : 1]))
      }
      const ids = new Set([...byVector, ...byText].map((h) => h.id))
      const reference = (score: (id: string) => number) =>
        [...ids].map((id): [string, number] => [id, score(id)]).sort((a, b) => b[1] - a[1]).slice(0, 10)
      const [rv, rt, sv, st] = [rank(byVector), rank(byText), scaled(byVector), scaled(byText)]
      const rrf = reference((id) => (rv.has(id) ? 1 / (60 + rv.get(id)!) : 0) + (rt.has(id) ? 1 / (60 + rt.get(id)!) : 0))
      const weighted = reference((id) => 0.3 * (sv.get(id) ?? 0) + 0.7 * (st.get(id) ?? 0))
      const gotRrf = await c.search({ vector, text }, { k: 10, fetchK, filter })
      expectSameRanking(gotRrf, rrf, `rrf query ${q}`)
      const gotWeighted = await c.search({ vector, text }, { k: 10, fetchK, filter, fusion: { weights: { vector: 0.3, text: 0.7 } } })
      expectSameRanking(gotWeighted, weighted, `weighted query ${q}`)
      // Each hit carries each signal's own score, absent where that signal missed it.
      for (const h of gotRrf) {
        expect(h.signals?.vector).toBe(byVector.find((x) => x.id === h.id)?.score)
        expect(h.signals?.text).toBe(byText.find((x) => x.id === h.id)?.score)
      }
      // The QueryBuilder asks the same (default fetchK).
      const direct = await c.search({ vector, text }, { k: 10, filter })
      const built = await c.query(vector).text(text).limit(10).where('bucket').ne(filter ? 3 : -1).execute()
      expect(built.map((h) => h.id)).toEqual(direct.map((h) => h.id))
    }
    const plan = c.explain({ text: 'python library', filter: { bucket: 1 }, k: 10 })
    expect(plan.text).toMatchObject({ fields: ['text'], terms: ['python', 'library'], matchedTerms: 2 })
    expect(plan.fusion).toBe('rrf')
    expect(plan.fetchK).toBe(50)
    expect(plan.estimate).toBe(n / 4)
  }, 60_000)

  it('refuses bad input with typed errors and changes nothing', async () => {
    db = await LibraVDB.open()
    await expect(db.createCollection('a', { dimension: 2, schema: { t: { type: 'text', language: 'klingon' } } })).rejects.toThrow(/language must be one of/)
    await expect(db.createCollection('b', { dimension: 2, schema: { t: { type: 'text', stem: true } as never } })).rejects.toThrow(InvalidArgumentError)
    const c = await db.createCollection('c', { dimension: 2, schema: { t: 'text', kind: 'string' } })
    await expect(c.insert({ id: 'x', vector: [1, 0], metadata: { t: 5 } })).rejects.toThrow(SchemaError)
    await c.insert({ id: 'y', vector: [1, 0], metadata: { t: 'hello world' } })
    await expect(c.search({ text: 'hello', vector: [1, 0] }, { fusion: 'nope' as never })).rejects.toThrow(InvalidArgumentError)
    await expect(c.search({ text: 'hello' }, { fusion: 'rrf' })).rejects.toThrow(/two or more signals/)
    await expect(c.search([1, 0], { fusion: 'rrf' })).rejects.toThrow(/two or more signals/)
    await expect(c.search({ text: { query: 'hello', fields: ['kind'] } })).rejects.toThrow(/not a text field/)
    await expect(c.search({ text: 'hello' }, { maxDistance: 1 })).rejects.toThrow(InvalidArgumentError)
    await expect(c.search({} as never)).rejects.toThrow(/a vector, a text query, a sparse vector or named fields' vectors/)
    await expect(c.search({ text: 'hello', vector: [1] })).rejects.toThrow()
    const plain = await db.createCollection('plain', { dimension: 2 })
    await expect(plain.search({ text: 'hello' })).rejects.toThrow(/no text field/)
    expect(await c.count()).toBe(1)
    expect((await c.search({ text: 'HELLO' })).map((h) => h.id)).toEqual(['y'])
  })
})

describe('sparse vectors', () => {
  it('search by inner product as brute force does, and fuse with vector and text by RRF', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('s', { dimension: 4, schema: { splade: 'sparse', body: 'text' } })
    const random = rng(3)
    const sparse = () => {
      const dims = [...new Set(Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.floor(random() * 50)))]
      return { indices: Uint32Array.from(dims), values: Float32Array.from(dims.map(() => random() * 2)) }
    }
    const words = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'kappa']
    const n = 400
    const docs = Array.from({ length: n }, (_, i) => ({
      id: `r${i}`,
      vector: [random(), random(), random(), random()],
      metadata: { splade: sparse(), body: Array.from({ length: 5 }, () => words[Math.floor(random() * words.length)]).join(' ') },
    }))
    await c.insertBatch(docs)
    expect((await c.get('r0'))?.metadata?.splade).toEqual({ indices: Array.from(docs[0].metadata.splade.indices), values: Array.from(docs[0].metadata.splade.values) })
    const dot = (d: { indices: Uint32Array; values: Float32Array }, q: { indices: Uint32Array; values: Float32Array }) => {
      let s = 0
      let hit = false
      d.indices.forEach((i, a) => {
        const b = q.indices.indexOf(i)
        if (b >= 0) {
          hit = true
          s += Math.fround(d.values[a]) * Math.fround(q.values[b])
        }
      })
      return hit ? s : undefined
    }
    for (let t = 0; t < 20; t++) {
      const q = sparse()
      const want = docs
        .map((d): [string, number | undefined] => [d.id, dot(d.metadata.splade, q)])
        .filter((x): x is [string, number] => x[1] !== undefined)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10)
      const got = await c.search({ sparse: q }, { k: 10 })
      expectSameRanking(got, want, `sparse query ${t}`)
      // Three signals: RRF over each signal's own list.
      const vector = [random(), random(), random(), random()]
      const text = words[t % words.length]
      const lists = [await c.search(vector, { k: 30 }), await c.search({ text }, { k: 30 }), await c.search({ sparse: q }, { k: 30 })]
      const fused = new Map<string, number>()
      lists.forEach((l) => l.forEach((h, r) => fused.set(h.id, (fused.get(h.id) ?? 0) + 1 / (60 + r + 1))))
      const rrf = [...fused].sort((a, b) => b[1] - a[1]).slice(0, 10)
      const all = await c.search({ vector, text, sparse: q }, { k: 10, fetchK: 30 })
      expectSameRanking(all, rrf, `three signals ${t}`)
      expect(all.every((h) => h.signals !== undefined)).toBe(true)
    }
    const q = sparse()
    expect(c.explain({ sparse: q, vector: false })).toMatchObject({ sparse: { field: 'splade', matchedDims: expect.any(Number) } })
    expect(c.explain({ sparse: q, text: 'alpha' })).toMatchObject({ fusion: 'rrf', fetchK: 50, text: { terms: ['alpha'] } })
    await expect(c.insert({ id: 'bad', vector: [0, 0, 0, 1], metadata: { splade: { indices: [1, 1], values: [1, 2] } } })).rejects.toThrow(SchemaError)
    await expect(c.search({ sparse: { indices: [1], values: [1, 2] } })).rejects.toThrow(InvalidArgumentError)
    await expect(c.search({ sparse: { indices: [-1], values: [1] } })).rejects.toThrow(InvalidArgumentError)
    await expect(c.search({ sparse: { indices: [1], values: [1], field: 'body' } })).rejects.toThrow(/not a sparse field/)
    expect(await c.count()).toBe(n)
  })
})
