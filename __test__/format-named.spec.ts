/**
 * Every committed named-vector-field fixture (`__test__/fixtures/named-v*.json.br`, see
 * fixtures/named.ts) opens with this build, replays its WAL, holds exactly its records and
 * fields, answers field searches like brute force, and stays writable across a reopen.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LibraVDB } from '../index'
import { unpackDir } from './fixtures/format'
import { DOCS, docOf, itemsState, titleOf, v2Of } from './fixtures/named'
import { tempDir } from './helpers'

const FIXTURES = join(__dirname, 'fixtures')
const files = readdirSync(FIXTURES).filter((f) => /^named-v\d+\.json\.br$/.test(f))
const unit = (v: Float32Array) => v.map((x) => x / Math.hypot(...v))
const l2 = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0)

describe.each(files)('named-field fixture %s', (file) => {
  it('opens with every record and field, searches each field, and stays writable', async () => {
    const dir = tempDir()
    unpackDir(join(FIXTURES, file), dir)
    let db = await LibraVDB.open(dir)
    const items = db.getCollection('items')
    const want = itemsState()
    expect(await items.count()).toBe(want.size)
    for (const [id, w] of want) {
      const r = (await items.get(id))!
      expect(Object.keys(r.vectors!).sort(), id).toEqual(w.title ? ['body', 'title'] : ['body'])
      unit(w.body).forEach((x, d) => expect(r.vectors!.body[d]).toBeCloseTo(x, 5))
      if (w.title) expect(Array.from(r.vectors!.title)).toEqual(Array.from(w.title))
    }
    expect(await items.get('5')).toBeNull()
    // The flat l2 title field answers exactly, over the records that have a title.
    const q = titleOf(999)
    const titled = [...want].filter(([, w]) => w.title).sort((a, b) => l2(a[1].title!, q) - l2(b[1].title!, q))
    expect((await items.search(q, { using: 'title', k: 10 })).map((h) => h.id)).toEqual(titled.slice(0, 10).map(([id]) => id))
    expect((await items.search(want.get('7')!.body, { using: 'body', k: 1 }))[0].id).toBe('7')
    // The field added while serving, and its backfill from the WAL.
    const docs = db.getCollection('docs')
    expect(docs.stats().fields.map((f) => [f.name, f.count])).toEqual([['v2', DOCS.backfilled]])
    expect((await docs.search(v2Of(17), { using: 'v2', k: 1 }))[0].id).toBe('17')
    expect((await docs.search(docOf(60), { k: 1 }))[0].id).toBe('60')
    expect((await db.verify()).ok).toBe(true)
    // Writable, and what was written survives a reopen.
    await items.update('1', { vectors: { title: null } })
    await docs.update('60', { vectors: { v2: v2Of(60) } })
    await db.close()
    db = await LibraVDB.open(dir)
    expect(Object.keys((await db.getCollection('items').get('1'))!.vectors!)).toEqual(['body'])
    expect(db.getCollection('docs').stats().fields[0].count).toBe(DOCS.backfilled + 1)
    await db.close()
  })
})
