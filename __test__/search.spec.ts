import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LibraVDB, type Metric } from '../index'
import { DATASETS, randomVectors, readVecs, row } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

/** Brute force in plain JS (double precision): the independent reference. */
function reference(base: Float32Array, dim: number, q: Float32Array, k: number, metric: Metric) {
  const n = base.length / dim
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0))
  const qn = norm(q)
  const scored: { i: number; score: number }[] = []
  for (let i = 0; i < n; i++) {
    const v = row(base, i, dim)
    let dot = 0
    let l2 = 0
    for (let j = 0; j < dim; j++) {
      dot += v[j] * q[j]
      l2 += (v[j] - q[j]) ** 2
    }
    const score = metric === 'l2' ? Math.sqrt(l2) : metric === 'dot' ? dot : dot / (norm(v) * qn)
    scored.push({ i, score })
  }
  scored.sort((a, b) => (metric === 'l2' ? a.score - b.score : b.score - a.score))
  return scored.slice(0, k)
}

describe('exact (flat) search', () => {
  for (const metric of ['l2', 'cosine', 'dot'] as const) {
    it(`equals a brute-force reference for ${metric}`, async () => {
      const dim = 24
      const n = 3000
      const base = randomVectors(11, n, dim)
      db = await LibraVDB.open()
      const c = await db.createCollection('c', { dimension: dim, metric })
      await c.insertBatch(Array.from({ length: n }, (_, i) => ({ id: `v${i}`, vector: row(base, i, dim) })))
      const queries = randomVectors(12, 25, dim)
      const batch = await c.searchBatch(queries, { k: 10 })
      for (let q = 0; q < 25; q++) {
        const want = reference(base, dim, row(queries, q, dim), 10, metric)
        const got = await c.search(row(queries, q, dim), { k: 10 })
        expect(got.map((h) => h.id)).toEqual(want.map((w) => `v${w.i}`))
        got.forEach((h, j) => expect(h.score).toBeCloseTo(want[j].score, 4))
        expect(batch[q]).toEqual(got)
        expect(c.searchSync(row(queries, q, dim), { k: 10 })).toEqual(got)
      }
    })
  }

  it('has recall@10 = 1.0 on sift5k against its ground truth', async () => {
    const base = readVecs(join(DATASETS, 'sift5k', 'base.fvecs'))
    const queries = readVecs(join(DATASETS, 'sift5k', 'query.fvecs'))
    const truth = readVecs(join(DATASETS, 'sift5k', 'groundtruth.ivecs'))
    db = await LibraVDB.open()
    const c = await db.createCollection('sift', { dimension: base.dim, metric: 'l2' })
    const records = Array.from({ length: base.n }, (_, i) => ({
      id: String(i),
      vector: row(base.data as Float32Array, i, base.dim),
    }))
    await c.insertBatch(records)
    const hits = await c.searchBatch(queries.data as Float32Array, { k: 10 })
    let found = 0
    hits.forEach((h, q) => {
      const want = new Set(Array.from(truth.data.subarray(q * truth.dim, q * truth.dim + 10), String))
      found += h.filter((x) => want.has(x.id)).length
    })
    expect(found / (queries.n * 10)).toBe(1)
  })

  it('returns metadata and vectors only when asked, and never deleted records', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: 2 })
    await c.insertBatch([
      { id: 'a', vector: [0, 0], metadata: { tag: 'x', n: 1 } },
      { id: 'b', vector: [1, 0] },
      { id: 'c', vector: [2, 0], metadata: { tag: 'z' } },
    ])
    expect(await c.search([0, 0], { k: 2 })).toEqual([
      { id: 'a', score: 0 },
      { id: 'b', score: 1 },
    ])
    const full = await c.search([0, 0], { k: 1, includeMetadata: true, includeVectors: true })
    expect(full).toEqual([{ id: 'a', score: 0, metadata: { tag: 'x', n: 1 }, vector: new Float32Array([0, 0]) }])
    expect(await c.delete('a')).toBe(true)
    expect(await c.delete('a')).toBe(false)
    expect((await c.search([0, 0], { k: 5 })).map((h) => h.id)).toEqual(['b', 'c'])
    await c.update('b', { vector: [5, 5], metadata: { tag: 'moved' } })
    expect(await c.get('b')).toEqual({ id: 'b', vector: new Float32Array([5, 5]), metadata: { tag: 'moved' } })
    await c.update('b', { metadata: null })
    expect(await c.get('b')).toEqual({ id: 'b', vector: new Float32Array([5, 5]) })
    await c.upsertBatch([{ id: 'c', vector: [9, 9] }, { id: 'd', vector: [3, 3] }])
    expect(await c.count()).toBe(3)
    expect((await c.get('c'))?.vector).toEqual(new Float32Array([9, 9]))
  })
})

describe('the lean search path (ids and scores only)', () => {
  it('await search() gives what searchSync() and the full path give, for every index, with fewer records than k', async () => {
    db = await LibraVDB.open()
    const dim = 16
    const data = randomVectors(9, 600, dim)
    for (const index of [{ type: 'flat' }, { type: 'hnsw' }] as const) {
      const c = await db.createCollection(`c-${index.type}`, { dimension: dim, metric: 'cosine', index })
      await c.insertBatch(Array.from({ length: 600 }, (_, i) => ({ id: `r${i}`, vector: row(data, i, dim), metadata: { i } })))
      for (let q = 0; q < 20; q++) {
        const v = row(data, (q * 37) % 600, dim)
        const lean = await c.search(v, { k: 7 })
        expect(lean).toEqual(c.searchSync(v, { k: 7 }))
        // The full path (metadata asked): the same ids and scores.
        const full = await c.search(v, { k: 7, includeMetadata: true })
        expect(lean).toEqual(full.map(({ id, score }) => ({ id, score })))
        expect(await c.search(v, { k: 7, efSearch: 200 })).toHaveLength(7)
      }
      const few = await db.createCollection(`few-${index.type}`, { dimension: dim, index })
      await few.insertBatch([{ id: 'a', vector: row(data, 0, dim) }, { id: 'b', vector: row(data, 1, dim) }])
      expect((await few.search(row(data, 0, dim), { k: 10 })).map((h) => h.id)).toEqual(['a', 'b'])
      await few.deleteBatch(['a', 'b'])
      expect(await few.search(row(data, 0, dim), { k: 10 })).toEqual([])
    }
  })
})

describe('awaited searches on the JS thread (src/dispatch.ts)', () => {
  it('a loop of awaited searches still lets timers run, and concurrent ones agree with searchSync', async () => {
    db = await LibraVDB.open()
    const dim = 64
    const n = 5000
    const data = randomVectors(3, n, dim)
    const c = await db.createCollection('loop', { dimension: dim, index: { type: 'hnsw' } })
    await c.insertBatch({ ids: Array.from({ length: n }, (_, i) => `r${i}`), vectors: data })
    let fired = 0
    const timer = setInterval(() => fired++, 1)
    let searches = 0
    const t0 = performance.now()
    while (performance.now() - t0 < 300) {
      expect(await c.search(row(data, searches % n, dim), { k: 10 })).toHaveLength(10)
      searches++
    }
    clearInterval(timer)
    // Inline searches hold the loop at most ~2 ms per turn, then yield: the timer keeps firing.
    expect(fired).toBeGreaterThan(10)
    const qs = Array.from({ length: 64 }, (_, i) => row(data, (i * 71) % n, dim))
    const concurrent = await Promise.all(qs.map((q) => c.search(q, { k: 5 })))
    expect(concurrent).toEqual(qs.map((q) => c.searchSync(q, { k: 5 })))
  })
})

describe('cancelled reads', () => {
  it('an aborted searchBatch rejects at once and stops computing', async () => {
    const dim = 128
    const n = 50_000
    db = await LibraVDB.open()
    const c = await db.createCollection('flat', { dimension: dim })
    await c.insertBatch({ ids: Array.from({ length: n }, (_, i) => String(i)), vectors: randomVectors(1, n, dim) })
    // About 2,000 x 50k x 128 multiply-adds: seconds of CPU on two cores.
    const queries = randomVectors(2, 2000, dim)
    const ac = new AbortController()
    const pending = c.searchBatch(queries, { k: 10, signal: ac.signal })
    await new Promise((r) => setTimeout(r, 20))
    ac.abort()
    await expect(pending).rejects.toMatchObject({ code: 'ERR_ABORTED' })
    // Queries already running finish (milliseconds each); no new one starts.
    await new Promise((r) => setTimeout(r, 100))
    const before = process.cpuUsage()
    await new Promise((r) => setTimeout(r, 400))
    const used = process.cpuUsage(before)
    const cpuMs = (used.user + used.system) / 1000
    expect(cpuMs).toBeLessThan(150)
    // The collection still searches normally afterwards.
    expect((await c.searchBatch(queries.subarray(0, dim * 4), { k: 3 })).every((h) => h.length === 3)).toBe(true)
  })
})
