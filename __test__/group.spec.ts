import { afterEach, describe, expect, it } from 'vitest'
import { InvalidArgumentError, LibraVDB, type SearchHit } from '../index'
import { clustered } from '../benches/datasets'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

/** The reference: walk every record best first, keep the first `k` values seen, `size` each. */
function reference(all: SearchHit[], field: string, size: number, k: number): { id: string; group: unknown }[] {
  const groups = new Map<unknown, string[]>()
  for (const h of all) {
    const v = h.metadata?.[field]
    if (v === undefined) continue
    if (!groups.has(v)) {
      if (groups.size === k) continue
      groups.set(v, [])
    }
    const g = groups.get(v)!
    if (g.length < size) g.push(h.id)
  }
  return [...groups.entries()].flatMap(([group, ids]) => ids.map((id) => ({ id, group })))
}

describe('group-by (groupBy, groupSize)', () => {
  it('returns the best k groups with their best hits, as a reference over the exact ranking', async () => {
    const dim = 16
    const n = 5000
    const ds = clustered({ n, nq: 10, dim, centres: 30, sigma: 8, seed: 12 })
    db = await LibraVDB.open()
    const c = await db.createCollection('chunks', { dimension: dim, metric: 'cosine' })
    // 250 documents of 20 chunks; one record in 25 has a `rare` field (the first 64
    // candidates then rarely hold 5 full groups of it: the search must ask again).
    await c.insertBatch({
      ids: Array.from({ length: n }, (_, i) => `c${i}`),
      vectors: ds.base,
      metadata: Array.from({ length: n }, (_, i) => ({ docId: `doc-${i % 250}`, ...(i % 25 === 0 ? { rare: i % 4 } : {}) })),
    })
    for (let q = 0; q < 10; q++) {
      const query = ds.queries.subarray(q * dim, (q + 1) * dim)
      const all = await c.search(query, { k: n, includeMetadata: true })
      for (const [field, size, k] of [['docId', 2, 5], ['docId', 3, 10], ['rare', 3, 4]] as const) {
        const got = await c.search(query, { k, groupBy: field, groupSize: size })
        expect(got.map((h) => ({ id: h.id, group: h.group }))).toEqual(reference(all, field, size, k))
        expect(got.every((h) => h.metadata === undefined)).toBe(true)
        expect(c.searchSync(query, { k, groupBy: field, groupSize: size })).toEqual(got)
      }
    }
    const batch = await c.searchBatch(ds.queries, { k: 4, groupBy: 'docId', groupSize: 2, includeMetadata: true })
    for (const [q, hits] of batch.entries()) {
      expect(hits).toEqual(await c.search(ds.queries.subarray(q * dim, (q + 1) * dim), { k: 4, groupBy: 'docId', groupSize: 2, includeMetadata: true }))
      expect(hits.every((h) => h.metadata?.docId === h.group)).toBe(true)
    }
  })

  it('refuses groupSize without groupBy, a field that is not a name, and diversity beside it', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 2 })
    await expect(c.search([1, 0], { groupSize: 2 })).rejects.toThrow(/groupSize needs groupBy/)
    await expect(c.search([1, 0], { groupBy: '' })).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(() => c.searchSync([1, 0], { groupBy: 'doc', diversity: 0.5 })).toThrow(/cannot be combined/)
    await expect(c.search([1, 0], { groupBy: 'doc', groupSize: 0 })).rejects.toBeInstanceOf(InvalidArgumentError)
  })
})
