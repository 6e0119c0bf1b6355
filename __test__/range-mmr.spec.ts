import { afterEach, describe, expect, it } from 'vitest'
import { InvalidArgumentError, LibraVDB, type SearchHit } from '../index'
import { clustered } from '../benches/datasets'
import { ids } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

/** Every record within `bound` of the query by brute force, best first. */
function within(all: SearchHit[], bound: number, l2: boolean): string[] {
  return all.filter((h) => (l2 ? h.score <= bound : h.score >= bound)).map((h) => h.id)
}

describe('range search (maxDistance, minScore) and diversity (MMR)', () => {
  it('returns exactly the records within the bound on a flat index, for every query of a batch', async () => {
    const dim = 24
    const n = 4000
    const ds = clustered({ n, nq: 12, dim, centres: 20, sigma: 5, seed: 3 })
    db = await LibraVDB.open()
    for (const metric of ['l2', 'cosine'] as const) {
      const c = await db.createCollection(`flat-${metric}`, { dimension: dim, metric })
      await c.insertBatch({ ids: ids(n), vectors: ds.base })
      const everything = await c.searchBatch(ds.queries, { k: n })
      const l2 = metric === 'l2'
      // The 30th neighbour's score as the bound: ~30 records inside per query.
      const bounds = everything.map((hits) => hits[29].score)
      for (const [q, all] of everything.entries()) {
        const query = ds.queries.subarray(q * dim, (q + 1) * dim)
        const opts = l2 ? { maxDistance: bounds[q] } : { minScore: bounds[q] }
        const want = within(all, bounds[q], l2)
        expect(want.length).toBeGreaterThanOrEqual(30)
        const got = await c.search(query, opts)
        expect(got.map((h) => h.id)).toEqual(want)
        expect(c.searchSync(query, opts)).toEqual(got)
        expect((await c.search(query, { ...opts, k: 7 })).map((h) => h.id)).toEqual(want.slice(0, 7))
      }
      // A bound nothing meets: no hits, not an error.
      const nothing = l2 ? { maxDistance: 0 } : { minScore: 1.5 }
      expect(await c.search(ds.queries.subarray(0, dim), nothing)).toEqual([])
    }
  })

  it('returns only records within the bound from HNSW and IVF-PQ, and most of them', async () => {
    const dim = 32
    const n = 12_000
    const ds = clustered({ n, nq: 20, dim, centres: 40, sigma: 10, seed: 4 })
    db = await LibraVDB.open()
    const flat = await db.createCollection('flat', { dimension: dim, metric: 'l2' })
    await flat.insertBatch({ ids: ids(n), vectors: ds.base })
    for (const index of [{ type: 'hnsw' as const }, { type: 'ivfpq' as const, nprobe: 32 }]) {
      const c = await db.createCollection(index.type, { dimension: dim, metric: 'l2', index })
      await c.insertBatch({ ids: ids(n), vectors: ds.base })
      let reached = 0
      let total = 0
      for (let q = 0; q < 20; q++) {
        const query = ds.queries.subarray(q * dim, (q + 1) * dim)
        const top = await flat.search(query, { k: 50 })
        const bound = top[49].score
        const want = new Set(within(top, bound, true))
        const got = await c.search(query, { maxDistance: bound })
        expect(got.every((h) => h.score <= bound)).toBe(true)
        reached += got.filter((h) => want.has(h.id)).length
        total += want.size
      }
      expect(reached / total, index.type).toBeGreaterThanOrEqual(0.9)
    }
  })

  it('rejects a bound of the wrong kind for the metric, or one that is not a finite number', async () => {
    db = await LibraVDB.open()
    const l2 = await db.createCollection('l2', { dimension: 4, metric: 'l2' })
    const cos = await db.createCollection('cos', { dimension: 4, metric: 'cosine' })
    const q = [1, 0, 0, 0]
    await expect(l2.search(q, { minScore: 0.5 })).rejects.toThrow(InvalidArgumentError)
    await expect(l2.search(q, { minScore: 0.5 })).rejects.toThrow(/use maxDistance/)
    expect(() => cos.searchSync(q, { maxDistance: 1 })).toThrow(/use minScore/)
    await expect(l2.search(q, { maxDistance: Number.NaN })).rejects.toThrow(/maxDistance must be a finite number/)
    await expect(cos.searchBatch([q], { minScore: '0.5' as unknown as number })).rejects.toThrow(InvalidArgumentError)
  })

  it('diversity (MMR): 0 keeps the plain order, more spreads the picks; bad values are refused', async () => {
    const dim = 16
    const n = 3000
    const ds = clustered({ n, nq: 5, dim, centres: 6, sigma: 2, seed: 6 })
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: dim, metric: 'cosine' })
    await c.insertBatch({ ids: ids(n), vectors: ds.base })
    let spread = 0
    for (let q = 0; q < 5; q++) {
      const query = ds.queries.subarray(q * dim, (q + 1) * dim)
      const plain = await c.search(query, { k: 5 })
      expect(await c.search(query, { k: 5, diversity: 0, fetchK: 40 })).toEqual(plain)
      const diverse = await c.search(query, { k: 5, diversity: 0.8, fetchK: 40 })
      expect(c.searchSync(query, { k: 5, diversity: 0.8, fetchK: 40 })).toEqual(diverse)
      expect(diverse[0]).toEqual(plain[0]) // the first pick is the most relevant
      if (diverse.map((h) => h.id).join() !== plain.map((h) => h.id).join()) spread++
    }
    expect(spread).toBeGreaterThan(0)
    const q = ds.queries.subarray(0, dim)
    await expect(c.search(q, { diversity: 1.5 })).rejects.toThrow(/diversity must be a number from 0 to 1/)
    await expect(c.search(q, { diversity: 0.5, fetchK: 0 })).rejects.toThrow(InvalidArgumentError)
  })
})
