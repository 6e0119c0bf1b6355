import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Collection, LibraVDB } from '../index'
import { clustered } from '../benches/datasets'
import { DATASETS, readVecs, row, tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

async function fill(c: Collection, base: Float32Array, dim: number, prefix = '') {
  const n = base.length / dim
  for (let s = 0; s < n; s += 10_000) {
    const m = Math.min(10_000, n - s)
    await c.insertBatch(Array.from({ length: m }, (_, i) => ({ id: `${prefix}${s + i}`, vector: row(base, s + i, dim) })))
  }
}

/** recall@10 of `got` against `truth` (ids per query). */
function recall(got: { id: string }[][], truth: string[][]): number {
  let hit = 0
  got.forEach((hits, q) => {
    const want = new Set(truth[q].slice(0, 10))
    hit += hits.slice(0, 10).filter((h) => want.has(h.id)).length
  })
  return hit / (got.length * 10)
}

describe('HNSW index', () => {
  it('reaches recall@10 >= 0.95 at default parameters on sift5k', async () => {
    const base = readVecs(join(DATASETS, 'sift5k', 'base.fvecs'))
    const queries = readVecs(join(DATASETS, 'sift5k', 'query.fvecs'))
    const gt = readVecs(join(DATASETS, 'sift5k', 'groundtruth.ivecs'))
    db = await LibraVDB.open()
    const c = await db.createCollection('sift', { dimension: 128, index: { type: 'hnsw' } })
    await fill(c, base.data as Float32Array, 128)
    const truth = Array.from({ length: queries.n }, (_, q) =>
      Array.from(gt.data.subarray(q * gt.dim, q * gt.dim + 10), String),
    )
    const r = recall(await c.searchBatch(queries.data as Float32Array, { k: 10 }), truth)
    console.log(`sift5k hnsw recall@10 = ${r.toFixed(4)}`)
    expect(r).toBeGreaterThanOrEqual(0.95)
    expect(c.stats()).toMatchObject({ index: 'hnsw', count: 4500 })
    expect(c.stats().bytesPerVector).toBeLessThan(128 * 4 + 200)
  })

  it('reaches recall@10 >= 0.95 on a seeded 50k x 128 clustered set, and holds it after deleting 20% + optimize', async () => {
    const ds = clustered({ n: 50_000, nq: 200, dim: 128, centres: 100, sigma: 20, seed: 42 })
    db = await LibraVDB.open()
    const h = await db.createCollection('h', { dimension: 128, index: { type: 'hnsw' } })
    const f = await db.createCollection('f', { dimension: 128 })
    await fill(h, ds.base, 128)
    await fill(f, ds.base, 128)
    const truth = async () => (await f.searchBatch(ds.queries, { k: 10 })).map((hits) => hits.map((x) => x.id))
    const r = recall(await h.searchBatch(ds.queries, { k: 10 }), await truth())
    console.log(`clustered 50k hnsw recall@10 = ${r.toFixed(4)}`)
    expect(r).toBeGreaterThanOrEqual(0.95)

    const doomed = Array.from({ length: 10_000 }, (_, i) => String(i * 5 + 3))
    await h.deleteBatch(doomed)
    await f.deleteBatch(doomed)
    const deleted = new Set(doomed)
    const before = await h.searchBatch(ds.queries, { k: 10 })
    expect(before.flat().some((x) => deleted.has(x.id))).toBe(false)
    expect(await h.optimize()).toBeGreaterThan(0)
    const after = await h.searchBatch(ds.queries, { k: 10 })
    expect(after.flat().some((x) => deleted.has(x.id))).toBe(false)
    const r2 = recall(after, await truth())
    console.log(`after deleting 20% and optimize: recall@10 = ${r2.toFixed(4)} (before optimize ${recall(before, await truth()).toFixed(4)})`)
    expect(r2).toBeGreaterThanOrEqual(0.95)
  })

  it('gives identical results after close and reopen, and relinks updated vectors', async () => {
    const dir = tempDir()
    const ds = clustered({ n: 8000, nq: 50, dim: 32, centres: 40, sigma: 10, seed: 3 })
    db = await LibraVDB.open(dir)
    const c = await db.createCollection('c', { dimension: 32, index: { type: 'hnsw', m: 12, efSearch: 40 } })
    await fill(c, ds.base, 32)
    const target = Array.from(ds.queries.subarray(0, 32))
    await c.update('17', { vector: target })
    expect((await c.search(target, { k: 1 }))[0].id).toBe('17')
    const before = await c.searchBatch(ds.queries, { k: 10, efSearch: 80 })
    await db.close()
    db = await LibraVDB.open(dir)
    const c2 = db.getCollection('c')
    expect(await c2.searchBatch(ds.queries, { k: 10, efSearch: 80 })).toEqual(before)
    expect(c2.stats().index).toBe('hnsw')
  })

  it('serves concurrent searches while a batch is being linked, every result valid', async () => {
    const dim = 64
    const ds = clustered({ n: 30_000, nq: 50, dim, centres: 50, sigma: 10, seed: 9 })
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: dim, index: { type: 'hnsw' } })
    await fill(c, ds.base.subarray(0, 5000 * dim), dim)
    const inserting = c.insertBatch(
      Array.from({ length: 25_000 }, (_, i) => ({ id: String(5000 + i), vector: row(ds.base, 5000 + i, dim) })),
    )
    let searches = 0
    let done = false
    void inserting.then(() => (done = true))
    while (!done) {
      const hits = await c.search(row(ds.queries, searches % 50, dim), { k: 10 })
      expect(hits.length).toBe(10)
      for (const h of hits) {
        expect(Number(h.id)).toBeGreaterThanOrEqual(0)
        expect(Number(h.id)).toBeLessThan(30_000)
        expect(Number.isFinite(h.score)).toBe(true)
      }
      searches++
    }
    await inserting
    console.log(`${searches} searches ran while 25k vectors were linked`)
    expect(searches).toBeGreaterThan(5)
    expect(await c.count()).toBe(30_000)
  })

  it('rejects bad HNSW options with typed errors', async () => {
    db = await LibraVDB.open()
    for (const index of [{ type: 'hnsw', m: 1 }, { type: 'hnsw', m: 2.5 }, { type: 'hnsw', efSearch: 0 }, { type: 'flat', m: 8 }]) {
      await expect(db.createCollection('x', { dimension: 4, index: index as never })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARGUMENT',
      })
    }
    const c = await db.createCollection('x', { dimension: 4, index: { type: 'hnsw' } })
    await expect(c.search([1, 2, 3, 4], { efSearch: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
  })
})
