import { afterEach, describe, expect, it } from 'vitest'
import { LibraVDB } from '../index'
import { randomVectors, row, tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

describe('persistence', () => {
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
