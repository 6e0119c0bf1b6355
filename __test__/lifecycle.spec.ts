import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AbortError, InvalidArgumentError, LibraVDB } from '../index'
import { ids, randomVectors, recallAt10, row, runUntilKilled, tempDir } from './helpers'

const DIM = 16

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

/** `n` records `from..from+n` with vectors of `block` (taken from row `from`). */
function records(block: Float32Array, n: number, from = 0) {
  return ids(n, from).map((id, i) => ({ id, vector: row(block, from + i, DIM), metadata: { n: from + i } }))
}

/** Top-10 of every query, as hit lists. */
async function top10(c: import('../index').Collection, queries: Float32Array) {
  return c.searchBatch(queries, { k: 10 })
}

function linkDirs(dir: string): string[] {
  return readdirSync(join(dir, 'collections', 'c')).filter((n) => n.startsWith('links'))
}

describe('rebuild()', () => {
  it('switches index while searches and inserts go on, reports progress, and persists', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir, { fsync: false })
    const block = randomVectors(1, 22_000, DIM)
    const queries = randomVectors(2, 50, DIM)
    const c = await db.createCollection('c', { dimension: DIM })
    await c.insertBatch(records(block, 20_000))
    const progress: { done: number; total: number }[] = []
    let searches = 0
    let inserted = 20_000
    let building = false
    let stop = false
    const searching = (async () => {
      while (!stop) {
        const hits = await c.search(row(queries, searches % 50, DIM), { k: 10 })
        expect(hits).toHaveLength(10)
        building ||= c.stats().indexState === 'building'
        searches++
      }
    })()
    const inserting = (async () => {
      while (!stop && inserted < 22_000) {
        await c.insertBatch(records(block, 100, inserted))
        inserted += 100
      }
    })()
    await c.rebuild({ index: { type: 'hnsw', m: 12, efConstruction: 100 } }, { onProgress: (p) => progress.push(p) })
    stop = true
    await Promise.all([searching, inserting])
    expect(searches).toBeGreaterThan(0)
    expect(building).toBe(true)
    const stats = c.stats()
    expect([stats.index, stats.activeIndex, stats.indexState]).toEqual(['hnsw', 'hnsw', 'ready'])
    expect(await c.count()).toBe(inserted)
    // Progress rises to the rows there were at the switch.
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.every((p, i) => p.done <= p.total && (i === 0 || p.done >= progress[i - 1].done))).toBe(true)
    expect(progress.at(-1)!.done).toBe(progress.at(-1)!.total)
    // Records written during the build are in the new index.
    const last = inserted - 1
    expect((await c.search(row(block, last, DIM), { k: 1 }))[0].id).toBe(String(last))
    // Recall against exact search over the same records.
    const exact = await db.createCollection('exact', { dimension: DIM })
    await exact.insertBatch(records(block, inserted))
    expect(recallAt10(await top10(c, queries), await top10(exact, queries))).toBeGreaterThanOrEqual(0.9)
    // Configuration survives a reopen.
    await db.close()
    db = await LibraVDB.open(dir)
    const again = db.getCollection('c')
    expect(again.stats().index).toBe('hnsw')
    expect(await again.count()).toBe(inserted)
    expect(linkDirs(dir)).toEqual(['links-1'])
  })

  it('adds, changes and removes quantization, and keeps what it is not told to change', async () => {
    db = await LibraVDB.open()
    const block = randomVectors(3, 3_000, DIM)
    const c = await db.createCollection('c', { dimension: DIM, index: { type: 'hnsw', efSearch: 80 } })
    await c.insertBatch(records(block, 3_000))
    await c.rebuild({ quantization: { type: 'scalar', bits: 8 } })
    expect(c.stats().quantization).toBe('trained')
    expect(c.stats().index).toBe('hnsw')
    expect(c.explain({ k: 10 }).efSearch).toBe(80) // index settings kept
    await c.rebuild({ quantization: null })
    expect(c.stats().quantization).toBe('none')
    const hits = await c.search(row(block, 7, DIM), { k: 1 })
    expect(hits[0].id).toBe('7')
  })

  it('an abort leaves the old index serving; bad targets are typed errors that change nothing', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const block = randomVectors(4, 20_000, DIM)
    const c = await db.createCollection('c', { dimension: DIM })
    await c.insertBatch(records(block, 20_000))
    const controller = new AbortController()
    const rebuilding = c.rebuild(
      { index: { type: 'hnsw' } },
      { signal: controller.signal, onProgress: ({ done }) => done > 0 && controller.abort() },
    )
    await expect(rebuilding).rejects.toBeInstanceOf(AbortError)
    expect([c.stats().index, c.stats().activeIndex, c.stats().indexState]).toEqual(['flat', 'flat', 'ready'])
    expect(linkDirs(dir)).toEqual([])
    expect((await c.search(row(block, 5, DIM), { k: 1 }))[0].id).toBe('5')
    for (const bad of [
      { index: { type: 'tree' } },
      { index: { type: 'hnsw', m: 1 } },
      { index: { type: 'ivfpq' }, quantization: { type: 'scalar' } },
      { index: { type: 'hnsw', nlist: 4 } },
      { colour: 'red' },
      'hnsw',
    ]) {
      await expect(c.rebuild(bad as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    }
    await expect(c.rebuild({}, { onProgress: 3 } as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(c.stats().index).toBe('flat')
  })

  it('closing the database stops a running rebuild and keeps the old index', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const block = randomVectors(14, 30_000, DIM)
    const c = await db.createCollection('c', { dimension: DIM })
    await c.insertBatch(records(block, 30_000))
    let closing: Promise<void> | undefined
    const rebuilding = c.rebuild({ index: { type: 'hnsw' } }, { onProgress: ({ done }) => void (done > 0 && (closing ??= db!.close())) })
    await expect(rebuilding).rejects.toMatchObject({ code: 'ERR_ABORTED' })
    await closing
    db = await LibraVDB.open(dir)
    const again = db.getCollection('c')
    expect([again.stats().index, await again.count()]).toEqual(['flat', 30_000])
    expect(linkDirs(dir)).toEqual([])
  })

  it('SIGKILL during a rebuild: the reopened collection is the old one, whole; rebuilding again completes', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const block = randomVectors(5, 40_000, DIM)
    const c = await db.createCollection('c', { dimension: DIM })
    await c.insertBatch(records(block, 40_000))
    const before = await top10(c, randomVectors(6, 10, DIM))
    await db.close()
    db = undefined
    const seen = await runUntilKilled('rebuild-worker.ts', [dir, JSON.stringify({ type: 'hnsw' })], 'BUILDING')
    expect(seen).not.toContain('DONE')
    db = await LibraVDB.open(dir)
    const again = db.getCollection('c')
    expect(await again.count()).toBe(40_000)
    expect(again.stats().index).toBe('flat')
    expect(await top10(again, randomVectors(6, 10, DIM))).toEqual(before)
    expect((await again.verify()).ok).toBe(true)
    expect(linkDirs(dir)).toEqual([]) // the half-built table is gone
    await again.rebuild({ index: { type: 'hnsw' } })
    expect(again.stats().activeIndex).toBe('hnsw')
  }, 60_000)
})

/** Polls `c` until its active index is `kind` (the promotion runs on a background thread). */
async function untilActive(c: import('../index').Collection, kind: string): Promise<void> {
  while (c.stats().activeIndex !== kind) {
    expect(c.stats().indexError ?? undefined).toBeUndefined()
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe("index: { type: 'auto' }", () => {
  it('is exact below the threshold, promotes past it while searches go on, and keeps recall', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const block = randomVectors(8, 6_000, DIM)
    const queries = randomVectors(9, 50, DIM)
    const c = await db.createCollection('c', { dimension: DIM, index: { type: 'auto', flatThreshold: 4_000 } })
    const exact = await db.createCollection('exact', { dimension: DIM })
    for (const col of [c, exact]) await col.insertBatch(records(block, 3_999))
    expect([c.stats().index, c.stats().activeIndex]).toEqual(['auto', 'flat'])
    expect(await top10(c, queries)).toEqual(await top10(exact, queries)) // brute force, exactly
    // Crossing the threshold starts the build; searches never fail or come back short.
    for (const col of [c, exact]) await col.insertBatch(records(block, 2_001, 3_999))
    let searches = 0
    while (c.stats().activeIndex === 'flat') {
      expect(await c.search(row(queries, searches % 50, DIM), { k: 10 })).toHaveLength(10)
      searches++
    }
    await untilActive(c, 'hnsw')
    expect([c.stats().index, c.stats().indexState]).toEqual(['auto', 'ready'])
    expect(recallAt10(await top10(c, queries), await top10(exact, queries))).toBeGreaterThanOrEqual(0.95)
    await db.close()
    db = await LibraVDB.open(dir)
    expect(db.getCollection('c').stats().activeIndex).toBe('hnsw')
    expect(await db.getCollection('c').count()).toBe(6_000)
  })

  it('promotes to IVF-PQ when asked, and refuses quantization beside it', async () => {
    db = await LibraVDB.open()
    await expect(
      db.createCollection('x', { dimension: DIM, index: { type: 'auto', promoteTo: 'ivfpq' }, quantization: { type: 'scalar' } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(db.createCollection('x', { dimension: DIM, index: { type: 'auto', promoteTo: 'tree' as never } })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
    const c = await db.createCollection('c', { dimension: DIM, index: { type: 'auto', flatThreshold: 10_000, promoteTo: 'ivfpq' } })
    const block = randomVectors(10, 10_000, DIM)
    await c.insertBatch(records(block, 10_000))
    await untilActive(c, 'ivfpq')
    expect(c.stats().quantization).toBe('trained')
    expect((await c.search(row(block, 3, DIM), { k: 1 }))[0].id).toBe('3')
  })

  it('SIGKILL during the promotion: every acknowledged record is there and the build completes', async () => {
    const dir = tempDir()
    const seen = await runUntilKilled('auto-worker.ts', [dir, '20000', String(DIM)], 'BUILDING')
    const acked = Math.max(...[...seen.matchAll(/ACK (\d+)/g)].map((m) => Number(m[1])))
    expect(acked).toBe(20_000)
    db = await LibraVDB.open(dir)
    const c = db.getCollection('c')
    expect(await c.count()).toBe(acked)
    const block = randomVectors(7, 20_000, DIM)
    for (const i of [0, 12_345, acked - 1]) expect((await c.get(String(i)))?.vector).toEqual(row(block, i, DIM))
    await untilActive(c, 'hnsw') // the build starts again on open
    expect((await c.verify()).ok).toBe(true)
    expect(linkDirs(dir)).toEqual(['links-1'])
  }, 60_000)
})

describe('tune()', () => {
  it('sets the smallest breadth of its sweep that meets the target, for HNSW and IVF-PQ', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const block = randomVectors(11, 12_000, DIM)
    const h = await db.createCollection('h', { dimension: DIM, index: { type: 'hnsw', m: 4, efConstruction: 32 } })
    await h.insertBatch(records(block, 12_000))
    const r = await h.tune({ targetRecall: 0.9, k: 10 })
    expect(r.sampleSize).toBe(200)
    expect(r.recall).toBeGreaterThanOrEqual(0.9)
    expect(r.sweep.at(-1)).toEqual({ breadth: r.efSearch, recall: r.recall })
    expect(r.sweep.slice(0, -1).every((s) => s.recall < 0.9)).toBe(true)
    expect(h.explain({ k: 10 }).efSearch).toBe(r.efSearch)
    const ivf = await db.createCollection('i', { dimension: DIM, index: { type: 'ivfpq', m: 8 } })
    await ivf.insertBatch(records(block, 12_000))
    const ri = await ivf.tune({ targetRecall: 0.8 })
    expect(ri.nprobe).toBeGreaterThanOrEqual(1)
    expect(ri.efSearch).toBeUndefined()
    expect(ivf.explain({ k: 10 }).nprobe).toBe(ri.nprobe)
    // Persisted: the same defaults after a reopen.
    await db.close()
    db = await LibraVDB.open(dir)
    expect(db.getCollection('h').explain({ k: 10 }).efSearch).toBe(r.efSearch)
    expect(db.getCollection('i').explain({ k: 10 }).nprobe).toBe(ri.nprobe)
    for (const bad of [undefined, {}, { targetRecall: 0 }, { targetRecall: 1.2 }, { targetRecall: '0.9' }, { targetRecall: 0.9, k: 0 }, { targetRecall: 0.9, k: 5000 }]) {
      await expect(db.getCollection('h').tune(bad as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    }
  })

  it('measures on the queries given, else on the queries it was asked, else on stored vectors', async () => {
    db = await LibraVDB.open(undefined, { querySample: 150 })
    const block = randomVectors(12, 3_000, DIM)
    const h = await db.createCollection('h', { dimension: DIM, index: { type: 'hnsw', m: 4, efConstruction: 32 } })
    await h.insertBatch(records(block, 3_000))
    const stored = await h.tune({ targetRecall: 0.9, sample: 50 })
    expect([stored.source, stored.sampleSize]).toEqual(['stored', 50])
    // Given queries: every one of them (not `sample`), as an array or a block.
    const given = randomVectors(13, 120, DIM)
    const asked = await h.tune({ targetRecall: 0.9, sample: 50, queries: given })
    expect([asked.source, asked.sampleSize]).toEqual(['queries', 120])
    const asArrays = await h.tune({ targetRecall: 0.9, queries: Array.from({ length: 120 }, (_, i) => row(given, i, DIM)) })
    expect(asArrays).toEqual(asked)
    // 99 searches are too few to measure on; 100 are enough; at most querySample are kept.
    const searched = randomVectors(14, 400, DIM)
    await h.searchBatch(searched.subarray(0, 99 * DIM), { k: 10 })
    expect((await h.tune({ targetRecall: 0.9 })).source).toBe('stored')
    h.searchSync(row(searched, 99, DIM), { k: 10 })
    const recent = await h.tune({ targetRecall: 0.9, sample: 1_000 })
    expect([recent.source, recent.sampleSize]).toEqual(['recent', 100])
    await h.searchBatch(searched.subarray(100 * DIM), { k: 10 })
    expect((await h.tune({ targetRecall: 0.9, sample: 1_000 })).sampleSize).toBe(150)
    // Kept queries are memory the collection accounts for (as a cache): 150 x 16 x 4 bytes.
    expect(db.memoryUsage().collections.h.cache).toBeGreaterThanOrEqual(150 * DIM * 4)
    h.forgetRecentQueries()
    expect((await h.tune({ targetRecall: 0.9 })).source).toBe('stored')
    // Off: nothing kept, whatever was searched.
    const off = await LibraVDB.open(undefined, { querySample: 0 })
    const o = await off.createCollection('o', { dimension: DIM, index: { type: 'hnsw', m: 4 } })
    await o.insertBatch(records(block, 1_000))
    await o.searchBatch(searched, { k: 10 })
    expect((await o.tune({ targetRecall: 0.9 })).source).toBe('stored')
    await off.close()
    await expect(h.tune({ targetRecall: 0.9, queries: new Float32Array(DIM + 1) })).rejects.toMatchObject({ code: 'ERR_DIMENSION_MISMATCH' })
    const nan = Float32Array.from(given.subarray(0, DIM)).fill(Number.NaN, 3, 4)
    await expect(h.tune({ targetRecall: 0.9, queries: nan })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await expect(LibraVDB.open(undefined, { querySample: -1 })).rejects.toBeInstanceOf(InvalidArgumentError)
  })
})

describe('index.targetRecall', () => {
  /** Polls until the collection has tuned itself at `atLeast` live records or more. */
  async function untilTuned(c: import('../index').Collection, atLeast: number): Promise<number> {
    for (;;) {
      const s = c.stats()
      expect(s.indexError ?? undefined).toBeUndefined()
      if ((s.tunedAt ?? 0) >= atLeast) return s.tunedAt!
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  it('tunes by itself at 1,000 records, on each doubling and after rebuild(), and persists', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const block = randomVectors(12, 5_000, DIM)
    const c = await db.createCollection('c', {
      dimension: DIM,
      index: { type: 'hnsw', m: 4, efConstruction: 32, targetRecall: 0.97 },
    })
    expect(c.stats().targetRecall).toBe(0.97)
    await c.insertBatch(records(block, 1_200))
    expect(await untilTuned(c, 1_200)).toBe(1_200)
    await c.insertBatch(records(block, 1_300, 1_200)) // 2,500: doubled
    expect(await untilTuned(c, 2_400)).toBe(2_500)
    await c.rebuild({ index: { type: 'hnsw', m: 4, efConstruction: 32, targetRecall: 0.9 } })
    expect(c.stats().targetRecall).toBe(0.9)
    await untilTuned(c, 2_500) // tuned afresh on the new index
    await db.close()
    db = await LibraVDB.open(dir)
    const again = db.getCollection('c')
    expect([again.stats().targetRecall, again.stats().tunedAt]).toEqual([0.9, 2_500])
  })

  it('an auto index tunes after its promotion', async () => {
    db = await LibraVDB.open()
    const c = await db.createCollection('c', { dimension: DIM, index: { type: 'auto', flatThreshold: 2_000, targetRecall: 0.95 } })
    await c.insertBatch(records(randomVectors(13, 2_000, DIM), 2_000))
    await untilActive(c, 'hnsw')
    expect(await untilTuned(c, 2_000)).toBe(2_000)
    await expect(db.createCollection('x', { dimension: DIM, index: { type: 'hnsw', targetRecall: 2 } })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
    await expect(db.createCollection('x', { dimension: DIM, index: { type: 'flat', targetRecall: 0.9 } as never })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
  })
})
