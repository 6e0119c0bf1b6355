import { afterEach, describe, expect, it } from 'vitest'
import { type Filter, InvalidArgumentError, LibraVDB, SchemaError } from '../index'
import { clustered } from '../benches/datasets'
import { rng } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

const schema = {
  category: 'string',
  price: 'float',
  year: 'int',
  tags: 'string[]',
  inStock: 'bool',
  publishedAt: 'date',
} as const

type Meta = Record<string, unknown>

/** Naive evaluator of object filters over one record's metadata (the test's own reference). */
function naive(f: Filter, m: Meta | undefined): boolean {
  return Object.entries(f).every(([key, cond]) => {
    if (key === '$and') return (cond as Filter[]).every((x) => naive(x, m))
    if (key === '$or') return (cond as Filter[]).some((x) => naive(x, m))
    if (key === '$not') return !naive(cond as Filter, m)
    const has = m !== undefined && key in m
    const v = has ? m![key] : undefined
    const norm = (x: unknown) => (x instanceof Date ? x.getTime() : x)
    const eq = (x: unknown) => (x === null ? !has || v === null : has && v === norm(x))
    const cmp = (x: unknown, ok: (d: number) => boolean) => {
      const y = norm(x)
      if (typeof v === 'number' && typeof y === 'number') return ok(v - y)
      if (typeof v === 'string' && typeof y === 'string') return ok(v < y ? -1 : v > y ? 1 : 0)
      return false
    }
    const arr = Array.isArray(v) ? (v as unknown[]) : undefined
    if (typeof cond !== 'object' || cond === null || cond instanceof Date) return eq(cond)
    return Object.entries(cond).every(([op, x]) => {
      switch (op) {
        case '$eq': return eq(x)
        case '$ne': return !eq(x)
        case '$gt': return cmp(x, (d) => d > 0)
        case '$gte': return cmp(x, (d) => d >= 0)
        case '$lt': return cmp(x, (d) => d < 0)
        case '$lte': return cmp(x, (d) => d <= 0)
        case '$between': return cmp((x as unknown[])[0], (d) => d >= 0) && cmp((x as unknown[])[1], (d) => d <= 0)
        case '$in': return (x as unknown[]).some(eq)
        case '$nin': return !(x as unknown[]).some(eq)
        case '$exists': return has === x
        case '$contains': return !!arr && arr.includes(norm(x))
        case '$containsAny': return !!arr && (x as unknown[]).some((y) => arr.includes(norm(y)))
        case '$containsAll': return !!arr && (x as unknown[]).every((y) => arr.includes(norm(y)))
        default: throw new Error(op)
      }
    })
  })
}

function randomMeta(r: () => number): Meta | undefined {
  if (r() < 0.05) return undefined
  const m: Meta = {}
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]
  if (r() < 0.85) m.category = r() < 0.05 ? null : pick(['book', 'film', 'music'])
  if (r() < 0.85) m.price = Math.floor(r() * 40) / 2
  if (r() < 0.85) m.year = 2015 + Math.floor(r() * 10)
  if (r() < 0.7) m.tags = Array.from({ length: Math.floor(r() * 4) }, () => pick(['a', 'b', 'c', 'd']))
  if (r() < 0.7) m.inStock = r() < 0.5
  if (r() < 0.6) m.publishedAt = Date.UTC(2020, Math.floor(r() * 12), 1)
  if (r() < 0.3) m.free = pick(['x', 'y']) // outside the schema: filtered record by record
  return m
}

function randomValue(r: () => number, field: string): unknown {
  if (r() < 0.06) return null
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]
  switch (field) {
    case 'category': return pick(['book', 'film', 'music', 'none'])
    case 'price': return Math.floor(r() * 42) / 2
    case 'year': return 2014 + Math.floor(r() * 12)
    case 'tags': return pick(['a', 'b', 'c', 'd', 'e'])
    case 'inStock': return r() < 0.5
    case 'publishedAt': return r() < 0.5 ? new Date(Date.UTC(2020, Math.floor(r() * 12), 1)) : Date.UTC(2020, 5, 1)
    default: return pick(['x', 'y', 'z'])
  }
}

function randomFilter(r: () => number, depth = 0): Filter {
  if (depth < 3 && r() < 0.3) {
    const kids = Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomFilter(r, depth + 1))
    const k = r()
    return k < 0.4 ? { $and: kids } : k < 0.8 ? { $or: kids } : { $not: kids[0] }
  }
  const field = ['category', 'price', 'year', 'tags', 'inStock', 'publishedAt', 'free'][Math.floor(r() * 7)]
  const ops = ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$between', '$in', '$nin', '$exists', '$contains', '$containsAny', '$containsAll']
  const op = ops[Math.floor(r() * ops.length)]
  const list = () => Array.from({ length: Math.floor(r() * 3) }, () => randomValue(r, field))
  let value: unknown
  if (op === '$exists') value = r() < 0.5
  else if (op === '$between') value = [randomValue(r, field), randomValue(r, field)]
  else if (['$in', '$nin', '$containsAny', '$containsAll'].includes(op)) value = list()
  else value = randomValue(r, field)
  if (value === null && !['$eq', '$ne'].includes(op)) value = randomValue(r, 'free') === 'x' ? 1 : 'x'
  return op === '$eq' && r() < 0.5 ? ({ [field]: value } as Filter) : ({ [field]: { [op]: value } } as Filter)
}

describe('metadata filtering', () => {
  it('matches a naive evaluator on random data and random nested filters (flat, exact)', async () => {
    const r = rng(77)
    const n = 600
    const metas = Array.from({ length: n }, () => randomMeta(r))
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 4, schema })
    await c.insertBatch(metas.map((metadata, i) => ({ id: String(i), vector: [r(), r(), r(), r()], metadata })))
    let checked = 0
    for (let t = 0; t < 300; t++) {
      const f = randomFilter(r)
      let hits
      try {
        hits = await c.search([0.5, 0.5, 0.5, 0.5], { k: n, filter: f })
      } catch (e) {
        // Random values can violate the schema (e.g. a string bound on a number field).
        expect(e).toBeInstanceOf(SchemaError)
        continue
      }
      const want = metas.flatMap((m, i) => (naive(f, m) ? [String(i)] : [])).sort()
      expect(hits.map((h) => h.id).sort(), JSON.stringify(f)).toEqual(want)
      checked++
    }
    expect(checked).toBeGreaterThan(200)
  })

  it('keeps HNSW recall@10 >= 0.95 at every selectivity from 0.1% to 100% (50k x 128)', async () => {
    const dim = 128
    const n = 50_000
    const ds = clustered({ n, nq: 100, dim, centres: 100, sigma: 20, seed: 42 })
    db = await LibraVDB.open()
    const h = await db.createCollection('h', { dimension: dim, index: { type: 'hnsw' }, schema: { bucket: 'int' } })
    const f = await db.createCollection('f', { dimension: dim, schema: { bucket: 'int' } })
    for (const c of [h, f]) {
      for (let s = 0; s < n; s += 10_000) {
        const ids = Array.from({ length: 10_000 }, (_, i) => String(s + i))
        await c.insertBatch({ ids, vectors: ds.base.subarray(s * dim, (s + 10_000) * dim), metadata: ids.map((id) => ({ bucket: Number(id) % 1000 })) })
      }
    }
    for (const limit of [1, 10, 100, 500, 1000]) {
      const filter = { bucket: { $lt: limit } }
      const plan = h.explain({ filter, k: 10 })
      expect(plan.estimate).toBe((n * limit) / 1000)
      const got = await h.searchBatch(ds.queries, { k: 10, filter })
      const want = await f.searchBatch(ds.queries, { k: 10, filter })
      let hit = 0
      got.forEach((hs, q) => {
        const truth = new Set(want[q].map((x) => x.id))
        hit += hs.filter((x) => truth.has(x.id)).length
      })
      const recall = hit / 1000
      console.log(`selectivity ${(limit / 10).toFixed(1)}%: plan ${plan.plan}, recall@10 ${recall.toFixed(3)} (${plan.reason})`)
      expect(recall).toBeGreaterThanOrEqual(0.95)
    }
  })

  it('names the path of a bad filter and checks values against the schema', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 2, schema })
    await c.insert({ id: 'a', vector: [1, 1], metadata: { price: 3, publishedAt: Date.UTC(2021, 0, 1) } })
    const bad = (filter: unknown) => c.search([1, 1], { filter: filter as Filter }).catch((e: unknown) => e)
    const e1 = await bad({ $or: [{ category: 'book' }, { price: { $gte: 'cheap' } }] })
    expect(e1).toBeInstanceOf(SchemaError)
    expect((e1 as Error).message).toContain('$or[1].price.$gte')
    const e2 = await bad({ price: { $near: 3 } })
    expect(e2).toBeInstanceOf(InvalidArgumentError)
    expect((e2 as Error).message).toContain('price.$near')
    expect(await bad({ $xor: [] })).toBeInstanceOf(InvalidArgumentError)
    expect(await bad({ tags: ['a'] })).toBeInstanceOf(InvalidArgumentError)
    const byDate = await c.search([1, 1], { filter: { publishedAt: { $gte: '2020-06-01T00:00:00Z' } } })
    expect(byDate.map((h) => h.id)).toEqual(['a'])
    expect((await c.search([1, 1], { filter: { publishedAt: { $lt: new Date('2020-06-01') } } })).length).toBe(0)
    const err = await c.insert({ id: 'b', vector: [0, 0], metadata: { price: 'free' } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SchemaError)
    expect((err as Error).message).toContain('price')
  })

  it('explains the plan with the estimate and selectivity', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 2, schema: { year: 'int' } })
    await c.insertBatch(Array.from({ length: 100 }, (_, i) => ({ id: String(i), vector: [i, i], metadata: { year: 2000 + (i % 10) } })))
    expect(c.explain()).toMatchObject({ plan: 'unfiltered', live: 100 })
    expect(c.explain({ filter: { year: { $gte: 2008 } } })).toMatchObject({ plan: 'exact', estimate: 20, live: 100, selectivity: 0.2 })
    expect(c.explain({ filter: { note: 'x' } })).toMatchObject({ plan: 'scan' })
    expect(c.explain({ filter: { year: 1999 } }).plan).toBe('empty')
  })

  it('builds queries fluently, deletes by filter and scans in pages', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 2, schema: { category: 'string', price: 'float', tags: 'string[]' } })
    const r = rng(3)
    const records = Array.from({ length: 300 }, (_, i) => ({
      id: String(i),
      vector: [r(), r()],
      metadata: { category: ['book', 'film'][i % 2], price: i % 30, tags: i % 5 === 0 ? ['sale'] : [] },
    }))
    await c.insertBatch(records)
    const q = [0.5, 0.5]
    // The DESIGN example: category = book AND (price in [5, 20] OR tags contains 'sale').
    const built = c
      .query(q)
      .where('category').eq('book')
      .and((g) => g.where('price').between(5, 20).or((g2) => g2.where('tags').contains('sale')))
      .limit(300)
    const viaObject = await c.search(q, {
      k: 300,
      filter: { category: 'book', $or: [{ price: { $between: [5, 20] } }, { tags: { $contains: 'sale' } }] },
    })
    const hits = await built.execute()
    expect(hits.map((h) => h.id)).toEqual(viaObject.map((h) => h.id))
    expect(hits.length).toBe(records.filter((x) => x.metadata.category === 'book' && ((x.metadata.price >= 5 && x.metadata.price <= 20) || x.metadata.tags.includes('sale'))).length)
    expect((await built.explain()).estimate).toBe(hits.length)
    const page2 = await c.query(q).where('category').eq('film').not((g) => g.where('price').lt(10)).limit(5).offset(5).withMetadata().execute()
    const all = await c.query(q).where('category').eq('film').not((g) => g.where('price').lt(10)).limit(10).withMetadata().execute()
    expect(page2).toEqual(all.slice(5))
    expect(page2.every((h) => h.metadata?.category === 'film' && (h.metadata.price as number) >= 10)).toBe(true)

    const scanned: string[] = []
    for await (const rec of c.scan({ filter: { price: { $gte: 25 } }, batchSize: 7 })) scanned.push(rec.id)
    expect(scanned).toEqual(records.filter((x) => x.metadata.price >= 25).map((x) => x.id))

    const removed = await c.deleteWhere({ tags: { $contains: 'sale' } })
    expect(removed.succeeded).toBe(60)
    expect(await c.count()).toBe(240)
    expect(await c.search(q, { k: 300, filter: { tags: { $contains: 'sale' } } })).toEqual([])
    let n = 0
    for await (const rec of c.scan({ batchSize: 50, includeVectors: true })) {
      expect(rec.vector?.length).toBe(2)
      n++
    }
    expect(n).toBe(240)
  })
})

describe('fields outside the schema', () => {
  it('dotted names reach into nested objects', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('n', { dimension: 2, schema: { kind: 'string' } })
    await c.insertBatch([
      { id: 'a', vector: [1, 0], metadata: { kind: 'x', author: { name: 'ann', address: { city: 'Oslo' } } } },
      { id: 'b', vector: [0, 1], metadata: { kind: 'x', author: { name: 'bob', address: { city: 'Rome' } } } },
      { id: 'c', vector: [1, 1], metadata: { kind: 'y', 'author.name': 'literal key' } },
    ])
    const ids = async (filter: Filter) => (await c.search([1, 0], { k: 10, filter })).map((h) => h.id).sort()
    expect(await ids({ 'author.address.city': 'Rome' })).toEqual(['b'])
    expect(await ids({ 'author.name': { $in: ['ann', 'literal key'] } })).toEqual(['a', 'c'])
    expect(await ids({ 'author.address': { $exists: true } })).toEqual(['a', 'b'])
    expect(await ids({ 'author.name.first': { $exists: true } })).toEqual([])
  })

  it('warns once when a filter field no record has matches nothing (a typo)', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('w', { dimension: 2, schema: { category: 'string' } })
    await c.insertBatch([{ id: 'a', vector: [1, 0], metadata: { category: 'book', colour: 'red' } }])
    const warnings: string[] = []
    const onWarning = (w: Error & { code?: string }) => {
      if (w.code === 'LIBRAVDB_UNKNOWN_FIELD') warnings.push(w.message)
    }
    process.on('warning', onWarning)
    try {
      expect(await c.search([1, 0], { filter: { colour: 'blue' } })).toEqual([]) // a real field: no warning
      expect(await c.search([1, 0], { filter: { catgory: 'book' } })).toEqual([])
      expect(await c.searchBatch([[1, 0]], { filter: { catgory: 'book' } })).toEqual([[]])
      await new Promise((r) => setTimeout(r, 100))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain("'catgory'")
    } finally {
      process.off('warning', onWarning)
    }
  })
})

describe('date fields', () => {
  it('take a Date, an ISO-8601 string or epoch ms on write and return a Date everywhere', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('d', { dimension: 2, schema: { when: 'date' } })
    const t = Date.UTC(2020, 0, 1)
    await c.insertBatch([
      { id: 'date', vector: [1, 0], metadata: { when: new Date(t) } },
      { id: 'iso', vector: [0, 1], metadata: { when: '2020-01-01T00:00:00.000Z' } },
      { id: 'ms', vector: [1, 1], metadata: { when: t, other: '2020-01-01T00:00:00.000Z' } },
    ])
    await c.insertBatch({ ids: ['col'], vectors: new Float32Array([2, 2]), metadata: [{ when: '2020-01-01' }] })
    for (const id of ['date', 'iso', 'ms', 'col']) {
      const m = (await c.get(id))!.metadata!
      expect(m.when, id).toBeInstanceOf(Date)
      expect((m.when as Date).getTime(), id).toBe(t)
    }
    // Only schema date fields are converted; other strings stay strings.
    expect((await c.get('ms'))!.metadata!.other).toBe('2020-01-01T00:00:00.000Z')
    const hits = await c.search([1, 0], { k: 10, includeMetadata: true, filter: { when: { $gte: new Date(t), $lte: '2020-01-01T00:00:00Z' } } })
    expect(hits.map((h) => h.id).sort()).toEqual(['col', 'date', 'iso', 'ms'])
    expect(hits.every((h) => h.metadata!.when instanceof Date)).toBe(true)
    for await (const r of c.scan()) expect(r.metadata!.when).toBeInstanceOf(Date)
    await c.update('iso', { metadata: { when: new Date(t + 1000) } })
    expect(((await c.get('iso'))!.metadata!.when as Date).getTime()).toBe(t + 1000)
    for (const bad of ['not a date', new Date(NaN), true, { y: 2020 }]) {
      await expect(c.insert({ id: 'bad', vector: [1, 0], metadata: { when: bad } })).rejects.toBeInstanceOf(SchemaError)
    }
    expect(await c.count()).toBe(4)
  })
})
