/**
 * Memory governance: the limit refuses the write that would pass it (and nothing else), the
 * pressure event fires once per crossing, `memoryUsage()` adds up and matches sizes computed
 * from the data, and on-disk metadata lives in its record file, not on the heap.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, LibraVDB, type MemoryUsage, MemoryLimitError } from '../index'
import { parseBytes } from '../src/check'
import { ids, randomVectors, tempDir } from './helpers'

const DIM = 128

describe('sizes', () => {
  it('parses numbers and sizes with decimal and binary units, and rejects the rest', () => {
    expect(parseBytes('x', 4096)).toBe(4096)
    expect(parseBytes('x', '512MB')).toBe(512e6)
    expect(parseBytes('x', '2GiB')).toBe(2 * 2 ** 30)
    expect(parseBytes('x', ' 64 kb ')).toBe(64e3)
    expect(parseBytes('x', '1.5MiB')).toBe(1.5 * 2 ** 20)
    for (const bad of ['', 'lots', '12 parsecs', '-5MB', 0, -1, Number.NaN, '1e9', null, {}]) {
      expect(() => parseBytes('memoryLimit', bad)).toThrow(InvalidArgumentError)
    }
  })

  it('bad limits are ERR_INVALID_ARGUMENT at open, create and setMemoryLimit', async () => {
    await expect(LibraVDB.open(undefined, { memoryLimit: '12 parsecs' })).rejects.toThrow(/memoryLimit/)
    await expect(LibraVDB.open(undefined, { memoryPressure: 1.5 })).rejects.toThrow(InvalidArgumentError)
    const db = await LibraVDB.open()
    await expect(db.createCollection('c', { dimension: 4, memoryLimit: 'big' })).rejects.toThrow(InvalidArgumentError)
    expect(() => db.setMemoryLimit('0MB')).toThrow(InvalidArgumentError)
    expect(db.memoryUsage().limit).toBeNull()
    await db.close()
  })
})

describe('memory limit', () => {
  it('refuses the batch that would pass the limit, after one pressure event, and resumes once raised', async () => {
    const db = await LibraVDB.open(undefined, { memoryLimit: '32MB' })
    const c = await db.createCollection('c', { dimension: DIM })
    const events: MemoryUsage[] = []
    db.on('memoryPressure', (u) => events.push(u))
    const batch = 1000
    let written = 0
    let refused: unknown
    for (let b = 0; b < 200 && refused === undefined; b++) {
      try {
        await c.insertBatch({ ids: ids(batch, written), vectors: randomVectors(b, batch, DIM) })
        written += batch
      } catch (e) {
        refused = e
      }
    }
    await new Promise((r) => setImmediate(r)) // the event is emitted on the next tick
    expect(refused).toBeInstanceOf(MemoryLimitError)
    expect((refused as Error).message).toMatch(/collection 'c'.*needs .* more.*memoryLimit 30\.5 MiB/)
    expect(written).toBeGreaterThan(20_000)
    // The pressure event came first, once, while writes still went through.
    expect(events).toHaveLength(1)
    expect(events[0].total).toBeGreaterThan(0.8 * 32e6)
    expect(events[0].total).toBeLessThanOrEqual(32e6)
    const usage = db.memoryUsage()
    expect(usage.total).toBeLessThanOrEqual(32e6)
    expect(usage.underPressure).toBe(true)
    expect(usage.pressureEvents).toBe(1)
    // The refused batch changed nothing (and is refused again); reads, deletes and optimize work.
    expect(c.stats().count).toBe(written)
    await expect(c.insertBatch({ ids: ids(batch, written), vectors: randomVectors(99, batch, DIM) })).rejects.toThrow(
      MemoryLimitError,
    )
    expect(await c.get(String(written))).toBeNull()
    expect(await c.get('0')).not.toBeNull()
    expect((await c.search(randomVectors(1, 1, DIM).subarray(0, DIM), { k: 3 })).length).toBe(3)
    expect(await c.delete('0')).toBe(true)
    await c.optimize()
    db.setMemoryLimit('256MB')
    await c.insertBatch({ ids: ids(batch, written), vectors: randomVectors(99, batch, DIM) })
    expect(c.stats().count).toBe(written - 1 + batch)
    expect(db.memoryUsage()).toMatchObject({ limit: 256e6, underPressure: false })
    await db.close()
  })

  it("a collection's own limit is kept with it and refuses its writes only", async () => {
    const dir = tempDir()
    let db = await LibraVDB.open(dir)
    const small = await db.createCollection('small', { dimension: 8, memoryLimit: '64KB' })
    const other = await db.createCollection('other', { dimension: 8 })
    await expect(small.insertBatch({ ids: ids(5000), vectors: randomVectors(1, 5000, 8) })).rejects.toThrow(
      /collection 'small'.*its memoryLimit/,
    )
    expect(small.stats().count).toBe(0)
    await other.insertBatch({ ids: ids(5000), vectors: randomVectors(1, 5000, 8) })
    await db.close()
    db = await LibraVDB.open(dir)
    await expect(
      db.getCollection('small').insertBatch({ ids: ids(5000), vectors: randomVectors(1, 5000, 8) }),
    ).rejects.toThrow(MemoryLimitError)
    await db.getCollection('small').insertBatch({ ids: ids(10), vectors: randomVectors(1, 10, 8) })
    await db.close()
  })
})

describe('memoryUsage()', () => {
  it('parts match sizes computed from the data and add up to the total', async () => {
    const dir = tempDir()
    const db = await LibraVDB.open(dir)
    const n = 20_000
    const text = (i: number) => `{"title":"record ${i}","body":"${'b'.repeat(200)}"}`
    const disk = await db.createCollection('disk', { dimension: DIM, index: { type: 'hnsw', m: 8, efConstruction: 32 } })
    const mem = await LibraVDB.open()
    const heap = await mem.createCollection('heap', { dimension: DIM })
    const records = Array.from({ length: n }, (_, i) => ({
      id: `id-${i}`,
      vector: randomVectors(i, 1, DIM),
      metadata: JSON.parse(text(i)) as Record<string, unknown>,
    }))
    await disk.insertBatch(records)
    await heap.insertBatch(records)
    const textBytes = records.reduce((s, _, i) => s + text(i).length, 0)
    const idBytes = records.reduce((s, r) => s + r.id.length, 0)

    const d = db.memoryUsage()
    const dc = d.collections.disk
    // On disk: vectors, level-0 links and metadata texts are file-backed.
    const links = n * (2 * 8 + 1) * 4
    expect(dc.vectors).toBe(0)
    expect(dc.mapped).toBeGreaterThanOrEqual(0.9 * (n * DIM * 4 + links + textBytes))
    expect(dc.mapped).toBeLessThanOrEqual(1.1 * (n * DIM * 4 + links + textBytes))
    expect(dc.metadata).toBeLessThanOrEqual(2 * n * 16) // the offset table only: 16 bytes a row, doubling
    expect(dc.index).toBeLessThan(links) // levels and upper layers, not level 0
    expect(d.total).toBe(dc.held)

    const h = mem.memoryUsage().collections.heap
    expect(h.vectors).toBe(n * DIM * 4)
    expect(h.mapped).toBe(0)
    expect(h.metadata).toBeGreaterThanOrEqual(textBytes)
    expect(h.metadata).toBeLessThanOrEqual(1.1 * textBytes + n * 48)
    expect(h.ids).toBeGreaterThanOrEqual(idBytes)
    expect(h.ids).toBeLessThanOrEqual(1.1 * (idBytes + n * 18) + 2 ** 16 * 8)
    for (const u of [d, mem.memoryUsage()]) {
      const sum = Object.values(u.collections).reduce((s, p) => s + p.held, 0)
      expect(u.total).toBe(sum)
      for (const p of Object.values(u.collections)) {
        expect(p.held).toBe(p.vectors + p.index + p.codes + p.payload + p.ids + p.metadata + p.cache + p.buffers)
      }
    }
    expect(disk.stats().memory.held).toBe(dc.held)
    await db.close()
    await mem.close()
  })
})

/** Runs memory-worker.ts in a fresh process; returns the JSON it prints. */
function worker<T>(...args: string[]): T {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(__dirname, 'memory-worker.ts'), ...args], {
    encoding: 'utf8',
    timeout: 240_000,
  })
  if (r.status !== 0) throw new Error(`memory-worker ${args.join(' ')} failed: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T
}

describe('storage.mmap', () => {
  interface HnswRun {
    inserted: number
    refused?: string
    maxTotal: number
    growth: number
    recall: number
    vectorsInMemory: boolean
  }

  it("on-disk HNSW of 200k x 128 under a 64MB limit: 'auto' maps it and takes every insert; false is refused", () => {
    const limited = worker<HnswRun>('hnsw', tempDir(), 'auto', '64MB')
    const unlimited = worker<HnswRun>('hnsw', tempDir(), 'auto')
    const loaded = worker<HnswRun>('hnsw', tempDir(), 'false', '64MB')
    console.log(JSON.stringify({ limited, unlimited, loaded }))
    expect(limited.inserted).toBe(200_000)
    expect(limited.refused).toBeUndefined()
    expect(limited.vectorsInMemory).toBe(false)
    expect(limited.maxTotal).toBeLessThanOrEqual(64e6)
    // Anonymous RSS: what the database holds (under the limit) plus a stated slack of 64 MiB
    // for the JS heap's batches, the graph build's per-thread buffers and allocator arenas.
    expect(limited.growth).toBeLessThanOrEqual(64e6 + 64 * 2 ** 20)
    expect(limited.recall).toBeGreaterThanOrEqual(unlimited.recall - 0.05)
    // mmap: false holds vectors and links in anonymous memory, counted against the limit.
    expect(loaded.vectorsInMemory).toBe(true)
    expect(loaded.refused).toMatch(/collection 'c'.*memoryLimit/)
    expect(loaded.inserted).toBeLessThan(200_000)
    expect(loaded.maxTotal).toBeLessThanOrEqual(64e6)
  }, 300_000)

  it("under pressure, an 'auto' collection whose vectors are loaded moves them to its mapped files", async () => {
    const dir = tempDir()
    const db = await LibraVDB.open(dir, { memoryLimit: '40MB', memoryPressure: 0.8 })
    const a = await db.createCollection('a', { dimension: DIM, index: { type: 'hnsw', m: 8 } })
    const av = randomVectors(5, 5_000, DIM)
    await a.insertBatch({ ids: ids(5_000), vectors: av })
    expect(a.stats()).toMatchObject({ mmap: 'auto', vectorsInMemory: true })
    expect(a.stats().memory.vectors).toBe(5_000 * DIM * 4)
    const before = await a.search(av.subarray(42 * DIM, 43 * DIM), { k: 5 })
    // Another collection's growth crosses 0.8 x 40MB; 'a' itself is not written again.
    const b = await db.createCollection('b', { dimension: DIM, storage: { mmap: false } })
    let pressured = false
    db.once('memoryPressure', () => {
      pressured = true
    })
    for (let batch = 0; batch < 20 && !pressured; batch++) {
      await b.insertBatch({ ids: ids(5_000, batch * 5_000), vectors: randomVectors(100 + batch, 5_000, DIM) })
      await new Promise((r) => setImmediate(r))
    }
    expect(pressured).toBe(true)
    // The relief runs off the JS thread after the event is queued: wait for it, boundedly.
    for (let i = 0; i < 500 && a.stats().vectorsInMemory; i++) await new Promise((r) => setTimeout(r, 20))
    const s = a.stats()
    expect(s).toMatchObject({ vectorsInMemory: false, count: 5_000 })
    expect(s.memory.vectors).toBe(0)
    expect(s.memory.mapped).toBeGreaterThanOrEqual(5_000 * DIM * 4)
    expect(db.memoryUsage().collections.a.held).toBeLessThan(5_000 * DIM * 4)
    expect(await a.search(av.subarray(42 * DIM, 43 * DIM), { k: 5 })).toEqual(before)
    // 'b' is mmap false: it stays in memory.
    expect(b.stats().vectorsInMemory).toBe(true)
    await db.close()
    const again = await LibraVDB.open(dir)
    expect(Array.from((await again.getCollection('a').get('42'))!.vector)).toEqual(Array.from(av.subarray(42 * DIM, 43 * DIM)))
    await again.close()
  })

  it('false loads vectors into memory and writes them back; in-memory databases take only auto', async () => {
    const dir = tempDir()
    let db = await LibraVDB.open(dir)
    const c = await db.createCollection('c', { dimension: 8, index: { type: 'hnsw' }, storage: { mmap: false } })
    const vectors = randomVectors(3, 500, 8)
    await c.insertBatch({ ids: ids(500), vectors })
    const s = c.stats()
    expect(s).toMatchObject({ mmap: 'false', vectorsInMemory: true })
    expect(s.memory.vectors).toBe(500 * 8 * 4)
    expect(s.memory.mapped).toBeLessThan(500 * 8 * 4) // the metadata file only
    await db.close()
    db = await LibraVDB.open(dir)
    const again = db.getCollection('c')
    expect(again.stats()).toMatchObject({ mmap: 'false', vectorsInMemory: true, count: 500 })
    expect(Array.from((await again.get('321'))!.vector)).toEqual(Array.from(vectors.subarray(321 * 8, 322 * 8)))
    const mapped = await db.createCollection('m', { dimension: 8, storage: { mmap: true } })
    expect(mapped.stats()).toMatchObject({ mmap: 'true', vectorsInMemory: false })
    await db.close()
    const mem = await LibraVDB.open()
    await expect(mem.createCollection('c', { dimension: 8, storage: { mmap: true } })).rejects.toThrow(
      /not available in an in-memory database/,
    )
    await expect(mem.createCollection('c', { dimension: 8, storage: { mmap: 'yes' as never } })).rejects.toThrow(InvalidArgumentError)
    expect((await mem.createCollection('c', { dimension: 8, storage: { mmap: 'auto' } })).stats().vectorsInMemory).toBe(true)
    await mem.close()
  })
})

describe('metadata off the heap', () => {
  it('80k records with 2 KB of text grow anonymous memory by at most 0.15x their text on disk', () => {
    const run = (mode: string) => worker<{ growth: number; text: number; cache: number }>('metadata', mode, tempDir())
    const disk = run('disk')
    const heap = run('memory')
    const ratio = (r: { growth: number; text: number; cache: number }) => (r.growth - r.cache) / r.text
    console.log(`anonymous RSS growth / text: on disk ${ratio(disk).toFixed(2)}, in memory ${ratio(heap).toFixed(2)}`)
    expect(disk.text).toBeGreaterThan(160e6)
    expect(ratio(disk)).toBeLessThanOrEqual(0.15)
    expect(ratio(heap)).toBeGreaterThan(0.8) // the same records held in memory, measured the same way
  }, 300_000)

  it('get, includeMetadata, filters, updates, optimize and reopen read the record file; the cache stays in bound', async () => {
    const dir = tempDir()
    let db = await LibraVDB.open(dir, { metadataCache: '64KB' })
    let c = await db.createCollection('c', { dimension: 8, schema: { kind: 'string' } })
    const n = 3000
    const meta = (i: number, v = 0) => ({ kind: `k${i % 5}`, text: `${v}:${'t'.repeat(500)}${i}` })
    await c.insertBatch(Array.from({ length: n }, (_, i) => ({ id: `r${i}`, vector: randomVectors(i, 1, 8), metadata: meta(i) })))
    // Rewrite a third and delete a third: the record file is mostly dead bytes.
    await c.updateBatch(Array.from({ length: n / 3 }, (_, i) => ({ id: `r${i}`, metadata: meta(i, 1) })))
    await c.deleteBatch(Array.from({ length: n / 3 }, (_, i) => `r${n / 3 + i}`))
    const check = async () => {
      for (let i = 0; i < n; i += 7) {
        const r = await c.get(`r${i}`)
        if (i >= n / 3 && i < (2 * n) / 3) expect(r).toBeNull()
        else expect(r?.metadata).toEqual(meta(i, i < n / 3 ? 1 : 0))
      }
      const hits = await c.search(randomVectors(5, 1, 8), { k: 20, filter: { kind: 'k3' }, includeMetadata: true })
      expect(hits).toHaveLength(20)
      for (const h of hits) {
        const i = Number(h.id.slice(1))
        expect(h.metadata).toEqual(meta(i, i < n / 3 ? 1 : 0))
      }
      const s = c.stats()
      expect(s.cacheBytes).toBeLessThanOrEqual(s.cacheCapacity)
      expect(s.cacheCapacity).toBe(64_000)
    }
    await check()
    expect(c.stats().cacheEvictions).toBeGreaterThan(0)
    expect(c.stats().cacheMisses).toBeGreaterThan(0)
    await c.get('r0')
    expect(c.stats().cacheHits).toBeGreaterThan(0)
    await c.optimize() // compacts the record file
    await check()
    expect((await db.verify()).ok).toBe(true)
    await db.close()
    db = await LibraVDB.open(dir, { metadataCache: '64KB' })
    c = db.getCollection('c')
    await check()
    await db.close()
  })
})
