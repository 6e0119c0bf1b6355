import { afterEach, describe, expect, it } from 'vitest'
import { type Collection, type CollectionConfig, LibraVDB } from '../index'
import { clustered } from '../benches/datasets'
import { ids, recallAt10, tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

async function fill(c: Collection, base: Float32Array, dim: number) {
  const n = base.length / dim
  for (let s = 0; s < n; s += 10_000) {
    const m = Math.min(10_000, n - s)
    await c.insertBatch({ ids: ids(m, s), vectors: base.subarray(s * dim, (s + m) * dim) })
  }
}

describe('quantization', () => {
  // One test per index x codes pair, each a few seconds, so that none comes near its timeout
  // on a loaded machine (the single 50k test that covered all six took 20 s idle, 120 s loaded).
  const cases: [string, CollectionConfig['quantization'], number][] = [
    ['sq8', { type: 'scalar', bits: 8 }, 0.01],
    ['sq4', { type: 'scalar', bits: 4 }, 0.05],
    ['pq16x8', { type: 'product', m: 16, bits: 8 }, 0.05],
  ]
  const indexes = [{ type: 'flat' as const }, { type: 'hnsw' as const, efSearch: 64 }]
  it.each(indexes.flatMap((index) => cases.map((c) => [index.type, c[0], index, ...c] as const)))(
    'keeps %s + %s recall@10 near full precision on a seeded 20k x 128 clustered set',
    async (_kind, _name, index, name, quantization, slack) => {
      const dim = 128
      const ds = clustered({ n: 20_000, nq: 200, dim, centres: 100, sigma: 45, seed: 42 })
      db = await LibraVDB.open()
      const exact = await db.createCollection('exact', { dimension: dim })
      await fill(exact, ds.base, dim)
      const truth = await exact.searchBatch(ds.queries, { k: 10 })
      const full = await db.createCollection('full', { dimension: dim, index })
      await fill(full, ds.base, dim)
      const reference = recallAt10(await full.searchBatch(ds.queries, { k: 10 }), truth)
      const c = await db.createCollection('quantized', { dimension: dim, index, quantization })
      await fill(c, ds.base, dim)
      const s = c.stats()
      expect(s.quantization).toBe('trained')
      const r = recallAt10(await c.searchBatch(ds.queries, { k: 10 }), truth)
      console.log(`${index.type} ${name}: recall@10 ${r.toFixed(4)} (full precision ${reference.toFixed(4)}), ${s.compression}x smaller codes`)
      expect(r).toBeGreaterThanOrEqual(reference - slack)
    },
  )

  it('on disk under a memory limit, keeps codes in memory and lets full precision leave it', async () => {
    const dim = 128
    const n = 20_000
    const ds = clustered({ n, nq: 20, dim, centres: 50, sigma: 15, seed: 5 })
    const fullBytes = n * dim * 4
    // A limit bounds memory (without one, re-ranks read through the map: faster, pages kept).
    // 40 MB: full precision (10 MB a collection) is more than a quarter of what is left, so
    // 'auto' maps it rather than loading it.
    db = await LibraVDB.open(tempDir(), { memoryLimit: '40MB' })
    for (const [name, quantization] of [
      ['sq8', { type: 'scalar', bits: 8 }],
      ['sq4', { type: 'scalar', bits: 4 }],
      ['pq', { type: 'product', m: 16, bits: 8 }],
    ] as const) {
      const c = await db.createCollection(name, { dimension: dim, index: { type: 'hnsw' }, quantization })
      await fill(c, ds.base, dim)
      const s = c.stats()
      const resident = s.residentVectorBytes + s.codeBytes
      console.log(
        `${name}: codes ${s.codeBytes} B + resident full precision ${s.residentVectorBytes} B = ` +
          `${((100 * resident) / fullBytes).toFixed(1)}% of ${fullBytes} B`,
      )
      expect(s.quantization).toBe('trained')
      expect(resident).toBeLessThanOrEqual(fullBytes * 0.5)
      const hits = await c.searchBatch(ds.queries, { k: 10 })
      expect(hits.every((h) => h.length === 10)).toBe(true)
    }
  })

  it('searches on full precision while pending, then trains and reports it', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 8, quantization: { type: 'scalar' } })
    const ds = clustered({ n: 1200, nq: 1, dim: 8, centres: 4, sigma: 2, seed: 1 })
    await c.insertBatch({ ids: ids(900), vectors: ds.base.subarray(0, 900 * 8) })
    expect(c.stats()).toMatchObject({ quantization: 'pending', codeBytes: 0, compression: 0 })
    expect((await c.search(ds.base.subarray(0, 8), { k: 1 }))[0].id).toBe('0')
    await c.insertBatch({ ids: ids(300, 900), vectors: ds.base.subarray(900 * 8) })
    expect(c.stats()).toMatchObject({ quantization: 'trained', codeBytes: 1200 * 8, compression: 4 })
    expect((await c.search(ds.base.subarray(1100 * 8, 1101 * 8), { k: 1 }))[0].id).toBe('1100')
  })

  it('retries a training that failed once the collection has grown by half again', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 8, quantization: { type: 'scalar' } })
    // 1,000 copies of one vector reach the threshold with nothing to learn from.
    await c.insertBatch({ ids: ids(1000), vectors: new Float32Array(1000 * 8).fill(0.5) })
    const failed = c.stats()
    expect(failed).toMatchObject({ quantization: 'failed', quantizationAttempts: 1, codeBytes: 0 })
    expect(failed.quantizationError).toMatch(/too little variance/)
    const ds = clustered({ n: 500, nq: 1, dim: 8, centres: 4, sigma: 2, seed: 3 })
    // 1,400 live records: short of 1,500, no retry yet; writes and searches go on.
    await c.insertBatch({ ids: ids(400, 1000), vectors: ds.base.subarray(0, 400 * 8) })
    expect(c.stats()).toMatchObject({ quantization: 'failed', quantizationAttempts: 1 })
    expect((await c.search(ds.base.subarray(8, 16), { k: 1 }))[0].id).toBe('1001')
    await c.insertBatch({ ids: ids(100, 1400), vectors: ds.base.subarray(400 * 8) })
    expect(c.stats()).toMatchObject({ quantization: 'trained', quantizationAttempts: 2, codeBytes: 1500 * 8 })
    expect(c.stats().quantizationError).toBeUndefined()
    expect((await c.search(ds.base.subarray(450 * 8, 451 * 8), { k: 1 }))[0].id).toBe('1450')
  })

  it('rejects bad quantization options with typed errors', async () => {
    db = await LibraVDB.open()
    const bad = [
      { type: 'scalar', bits: 6 },
      { type: 'product', m: 5 }, // 5 does not divide 16
      { type: 'product', bits: 2 },
      { type: 'scalar', m: 4 },
      { type: 'scalar', trainRatio: 0 },
      { type: 'binary' },
    ]
    for (const quantization of bad) {
      const err = await db.createCollection('x', { dimension: 16, quantization: quantization as never }).catch((e) => e)
      expect(err).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    }
    const err = await db.createCollection('x', { dimension: 16, quantization: { type: 'product', m: 5 } }).catch((e) => e)
    expect(String(err.message)).toContain('divide')
  })
})
