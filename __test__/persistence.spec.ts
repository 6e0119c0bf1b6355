import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { LibraVDB } from '../index'
import { randomVectors, row, tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

/** Bytes of disk the files under `dir` occupy (allocated blocks, not apparent sizes). */
function diskBytes(dir: string): number {
  let total = 0
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const st = statSync(p)
    total += st.isDirectory() ? diskBytes(p) : st.blocks * 512
  }
  return total
}

describe('persistence', () => {
  it('small collections take disk in proportion to their data', async () => {
    // Per-tenant collections: each file grows with its rows instead of starting at 32 MiB.
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const dim = 128
    for (let i = 0; i < 40; i++) {
      const c = await db.createCollection(`tenant${i}`, { dimension: dim, index: { type: i % 2 ? 'hnsw' : 'flat' } })
      await c.insertBatch({ ids: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'], vectors: randomVectors(i, 10, dim) })
    }
    await db.close()
    const perCollection = diskBytes(dir) / 40
    expect(perCollection).toBeLessThan(256 * 1024)
    db = await LibraVDB.open(dir)
    const c = db.getCollection('tenant7')
    expect(await c.count()).toBe(10)
    // Growing past the first allocation keeps every row.
    await c.insertBatch({ ids: Array.from({ length: 3000 }, (_, i) => `n${i}`), vectors: randomVectors(99, 3000, dim) })
    await db.close()
    db = await LibraVDB.open(dir)
    expect(await db.getCollection('tenant7').count()).toBe(3010)
    expect((await db.getCollection('tenant7').get('n2999'))!.vector[5]).toBeCloseTo(randomVectors(99, 3000, dim)[2999 * dim + 5], 6)
  })


  it('close and reopen gives the same records and the same results', async () => {
    const dir = tempDir()
    const dim = 32
    const base = randomVectors(1, 2000, dim)
    const queries = randomVectors(2, 10, dim)
    db = await LibraVDB.open(dir)
    const c = await db.createCollection('docs', { dimension: dim, metric: 'cosine' })
    await c.insertBatch(
      Array.from({ length: 2000 }, (_, i) => ({ id: `d${i}`, vector: row(base, i, dim), metadata: { i, even: i % 2 === 0 } })),
    )
    await c.deleteBatch(['d1', 'd2', 'd3'])
    await c.update('d4', { metadata: { changed: true } })
    const other = await db.createCollection('other', { dimension: 2, metric: 'dot' })
    await other.insert({ id: 'only', vector: [1, 2] })
    const before = await c.searchBatch(queries, { k: 10, includeMetadata: true, includeVectors: true })
    await db.close()

    db = await LibraVDB.open(dir)
    expect(db.listCollections()).toEqual(['docs', 'other'])
    const c2 = db.getCollection('docs')
    expect([c2.dimension, c2.metric, await c2.count()]).toEqual([dim, 'cosine', 1997])
    expect(await c2.searchBatch(queries, { k: 10, includeMetadata: true, includeVectors: true })).toEqual(before)
    expect(await c2.get('d2')).toBeNull()
    expect((await c2.get('d4'))?.metadata).toEqual({ changed: true })
    expect((await c2.get('d7'))?.metadata).toEqual({ i: 7, even: false })
    expect(await db.getCollection('other').get('only')).toMatchObject({ vector: new Float32Array([1, 2]) })

    await db.dropCollection('other')
    await db.close()
    db = await LibraVDB.open(dir)
    expect(db.listCollections()).toEqual(['docs'])
  })

  it('acknowledged writes survive without close (WAL replay), with fsync on or off', async () => {
    for (const fsync of [true, false]) {
      const dir = tempDir()
      // A small checkpoint threshold so that both checkpoints and a WAL tail are exercised.
      db = await LibraVDB.open(dir, { fsync, checkpointBytes: 16_384 })
      const c = await db.createCollection('c', { dimension: 8 })
      const v = randomVectors(3, 300, 8)
      for (let b = 0; b < 10; b++) {
        await c.insertBatch(Array.from({ length: 30 }, (_, i) => ({ id: `b${b}-${i}`, vector: row(v, b * 30 + i, 8) })))
      }
      expect(c.stats().walBytes).toBeGreaterThan(0)
      // Simulate a crash: copy the directory while the database is open, open the copy.
      const copy = tempDir()
      const { cpSync, rmSync } = await import('node:fs')
      cpSync(dir, copy, { recursive: true })
      rmSync(`${copy}/LOCK`)
      const recovered = await LibraVDB.open(copy)
      const rc = recovered.getCollection('c')
      expect(await rc.count()).toBe(300)
      expect((await rc.get('b9-29'))?.vector).toEqual(row(v, 299, 8))
      await recovered.close()
      await db.close()
      db = undefined
    }
  })

  it('works in memory without a path', async () => {
    db = await LibraVDB.open()
    expect(db.inMemory).toBe(true)
    const c = await db.createCollection('m', { dimension: 4 })
    await c.insert({ id: 'a', vector: [1, 2, 3, 4], metadata: { x: 1 } })
    expect(await c.search([1, 2, 3, 4], { k: 1, includeMetadata: true })).toEqual([
      { id: 'a', score: 0, metadata: { x: 1 } },
    ])
    expect(c.stats()).toMatchObject({ count: 1, fileBacked: false, walBytes: 0 })
  })
})

describe('verify()', () => {
  it('reports a flipped byte in a vector chunk that opens cleanly, and nothing on clean files', async () => {
    const dir = tempDir()
    db = await LibraVDB.open(dir)
    const c = await db.createCollection('v', { dimension: 16 })
    await c.insertBatch({ ids: Array.from({ length: 300 }, (_, i) => `r${i}`), vectors: randomVectors(4, 300, 16) })
    await db.close()
    db = await LibraVDB.open(dir)
    const clean = await db.verify()
    expect(clean.ok).toBe(true)
    expect(clean.chunksChecked).toBe(1)
    expect(clean.filesChecked).toBeGreaterThanOrEqual(3)
    await db.close()
    const chunk = join(dir, 'collections', 'v', 'vectors', '000000.chunk')
    const bytes = readFileSync(chunk)
    bytes[16 * 4 * 200 + 3] ^= 0x20
    writeFileSync(chunk, bytes)
    db = await LibraVDB.open(dir) // open does not read chunk contents
    const report = await db.getCollection('v').verify()
    expect(report.ok).toBe(false)
    expect(report.damaged).toEqual([{ collection: 'v', file: chunk, reason: expect.stringContaining('checksum') }])
  })

  it('in memory has nothing to read', async () => {
    db = await LibraVDB.open()
    await db.createCollection('m', { dimension: 2 })
    expect(await db.verify()).toEqual({ ok: true, filesChecked: 0, chunksChecked: 0, chunksSkipped: 0, damaged: [] })
  })
})

describe('handles', () => {
  it('a collection keeps its database open when the database handle is no longer referenced', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const make = async () => {
      const local = await LibraVDB.open(tempDir())
      return local.createCollection('c', { dimension: 2 })
    }
    const c = await make()
    for (let i = 0; i < 5; i++) {
      gc()
      await new Promise((r) => setTimeout(r, 10))
    }
    await c.insert({ id: 'a', vector: [1, 2] })
    expect(await c.count()).toBe(1)
  })
})
