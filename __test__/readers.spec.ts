/**
 * Readers in other processes: `LibraVDB.open(path, { readOnly: true })` beside a writer
 * (how a Node `cluster` or PM2 workers share one database).
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LibraVDB, ReadOnlyError } from '../index'
import { randomVectors, row, tempDir } from './helpers'

let dbs: LibraVDB[] = []
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.close()
})

const DIM = 16

describe('read-only handles', () => {
  it('follow the writer on refresh, through the handles they already gave out', async () => {
    const dir = tempDir()
    const writer = await LibraVDB.open(dir)
    dbs.push(writer)
    const w = await writer.createCollection('docs', { dimension: DIM, index: { type: 'hnsw' }, schema: { n: 'int' } })
    const data = randomVectors(1, 1000, DIM)
    const put = (from: number, to: number) =>
      w.insertBatch(Array.from({ length: to - from }, (_, i) => ({ id: `d${from + i}`, vector: row(data, from + i, DIM), metadata: { n: from + i } })))
    await put(0, 400)
    const reader = await LibraVDB.open(dir, { readOnly: true, refreshIntervalMs: 0 })
    dbs.push(reader)
    const r = reader.getCollection('docs')
    expect(await r.count()).toBe(400)
    await expect(r.insert({ id: 'x', vector: row(data, 0, DIM) })).rejects.toBeInstanceOf(ReadOnlyError)
    await expect(r.deleteWhere({ n: 1 })).rejects.toBeInstanceOf(ReadOnlyError)
    await expect(reader.createCollection('other', { dimension: 2 })).rejects.toBeInstanceOf(ReadOnlyError)

    await put(400, 1000)
    await w.deleteBatch(['d0'])
    await w.optimize() // checkpoints
    await reader.refresh()
    expect(await r.count()).toBe(999)
    const hits = await r.search(row(data, 777, DIM), { k: 3, filter: { n: { $gte: 700 } }, includeMetadata: true })
    expect(hits[0]).toMatchObject({ id: 'd777', metadata: { n: 777 } })
    expect(await r.get('d0')).toBeNull()
    // The writer changes index: the reader follows on refresh (its old link table is gone).
    await w.rebuild({ index: { type: 'flat' } })
    await reader.refresh()
    expect([r.stats().index, r.stats().activeIndex]).toEqual(['flat', 'flat'])
    expect((await r.search(row(data, 321, DIM), { k: 1 }))[0].id).toBe('d321')
    // The writer changes the schema: the reader's handle takes the new type on refresh.
    await w.addField('at', 'date')
    await reader.refresh()
    expect(r.schema).toEqual({ n: 'int', at: 'date' })
    await w.update('d5', { metadata: { n: 5, at: new Date(1000) } })
    await reader.refresh()
    expect((await r.get('d5'))!.metadata).toEqual({ n: 5, at: new Date(1000) })
    expect(r.explain({ filter: { at: { $lt: new Date(2000) } } }).estimate).toBe(1)
  })

  it('serve a worker process while the writer goes on, refreshing on their own', async () => {
    const dir = tempDir()
    const writer = await LibraVDB.open(dir)
    dbs.push(writer)
    const w = await writer.createCollection('docs', { dimension: DIM })
    const data = randomVectors(2, 600, DIM)
    await w.insertBatch({ ids: Array.from({ length: 100 }, (_, i) => `d${i}`), vectors: data.subarray(0, 100 * DIM) })
    const script = `
      require('tsx/cjs')
      const { LibraVDB } = require(${JSON.stringify(join(__dirname, '..', 'index.ts'))})
      ;(async () => {
        const db = await LibraVDB.open(${JSON.stringify(dir)}, { readOnly: true, refreshIntervalMs: 20 })
        const c = db.getCollection('docs')
        console.log('COUNT ' + (await c.count()))
        while ((await c.count()) < 600) await new Promise((r) => setTimeout(r, 20))
        const hits = await c.search(Array.from(${JSON.stringify(Array.from(row(data, 555, DIM)))}), { k: 1 })
        const write = await c.delete('d1').then(() => 'written', (e) => e.code)
        console.log('DONE ' + JSON.stringify({ top: hits[0].id, write }))
        await db.close()
      })()`
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    while (!out.includes('COUNT')) {
      if (child.exitCode !== null) throw new Error(err)
      await new Promise((r) => setTimeout(r, 20))
    }
    for (let s = 100; s < 600; s += 100) {
      await w.insertBatch({ ids: Array.from({ length: 100 }, (_, i) => `d${s + i}`), vectors: data.subarray(s * DIM, (s + 100) * DIM) })
    }
    await new Promise<void>((resolve) => child.on('exit', () => resolve()))
    expect(err).toBe('')
    expect(out).toContain('COUNT 100')
    expect(out).toContain('DONE {"top":"d555","write":"ERR_READ_ONLY"}')
    expect(await w.get('d1')).not.toBeNull()
  })
})
