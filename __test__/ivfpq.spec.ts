import { afterEach, describe, expect, it } from 'vitest'
import { InvalidArgumentError, LibraVDB } from '../index'
import { clustered } from '../benches/datasets'
import { ids, recallAt10, tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})


describe('IVF-PQ index', () => {
  it('searches exactly until trained, then keeps recall@10 >= 0.95 on codes 1/16 the size, across reopen', async () => {
    const dim = 64
    const n = 30_000
    const ds = clustered({ n, nq: 100, dim, centres: 100, sigma: 20, seed: 5 })
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const exact = await db.createCollection('exact', { dimension: dim })
    const ivf = await db.createCollection('ivf', { dimension: dim, index: { type: 'ivfpq' } })
    await exact.insertBatch({ ids: ids(n), vectors: ds.base })
    await ivf.insertBatch({ ids: ids(5000), vectors: ds.base.subarray(0, 5000 * dim) })
    expect(ivf.stats().quantization).toBe('pending')
    await ivf.insertBatch({ ids: ids(n - 5000, 5000), vectors: ds.base.subarray(5000 * dim) })
    const s = ivf.stats()
    expect(s).toMatchObject({ index: 'ivfpq', quantization: 'trained', codeBytes: n * 16, compression: 16, nlist: Math.round(Math.sqrt(n)) })
    expect(exact.stats().nlist ?? null).toBeNull()

    const truth = await exact.searchBatch(ds.queries, { k: 10 })
    const got = await ivf.searchBatch(ds.queries, { k: 10 })
    expect(recallAt10(got, truth)).toBeGreaterThanOrEqual(0.95)
    const narrow = await ivf.searchBatch(ds.queries, { k: 10, nprobe: 1 })
    expect(recallAt10(narrow, truth)).toBeLessThan(recallAt10(got, truth))
    const single = ds.queries.subarray(0, dim)
    expect(ivf.searchSync(single, { k: 10, nprobe: 3 })).toEqual(await ivf.search(single, { k: 10, nprobe: 3 }))
    expect(ivf.explain().nprobe).toBe(Math.max(8, Math.floor(Math.round(Math.sqrt(n)) / 16)))

    await db.close()
    db = await LibraVDB.open(dir)
    const again = db.getCollection('ivf')
    expect(await again.searchBatch(ds.queries, { k: 10 })).toEqual(got)
  })

  it('rejects options of other index types, quantization and a bad nprobe with typed errors', async () => {
    db = await LibraVDB.open()
    await expect(db.createCollection('a', { dimension: 8, index: { type: 'hnsw', nlist: 4 } as never })).rejects.toThrow(InvalidArgumentError)
    await expect(db.createCollection('b', { dimension: 8, index: { type: 'ivfpq', m: 3 } })).rejects.toThrow(/divide the dimension 8/)
    await expect(
      db.createCollection('c', { dimension: 8, index: { type: 'ivfpq' }, quantization: { type: 'scalar' } }),
    ).rejects.toThrow(/own product codes/)
    const c = await db.createCollection('d', { dimension: 8, index: { type: 'ivfpq', nprobe: 4, rerank: 0 } })
    expect(() => c.searchSync(new Float32Array(8), { nprobe: 0 })).toThrow(InvalidArgumentError)
    expect(db.listCollections()).toEqual(['d'])
  })
})
