/**
 * Every committed format fixture (`__test__/fixtures/format-v*.json.br`, one per on-disk
 * format version) opens with this build, holds exactly its records, answers searches like
 * brute force, and keeps working after writes and a reopen (any migration is durable).
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LibraVDB } from '../index'
import { FIXTURE_COLLECTIONS, type FixtureCollection, fixtureMetadata, fixtureVector, liveIds, unpackDir } from './fixtures/format'
import { recallAt10, tempDir } from './helpers'

const FIXTURES = join(__dirname, 'fixtures')
const files = readdirSync(FIXTURES).filter((f) => /^format-v\d+\.json\.br$/.test(f))

function stored(c: FixtureCollection, i: number): Float32Array {
  const v = fixtureVector(c, i)
  if (c.config.metric !== 'cosine') return v
  const norm = Math.hypot(...v)
  return v.map((x) => x / norm)
}

/** Metadata with dates as epoch milliseconds, whatever form `get` returns them in. */
function plain(m: unknown): unknown {
  return JSON.parse(JSON.stringify(m, (_, v) => (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) ? Date.parse(v) : v)))
}

function bruteForce(c: FixtureCollection, q: Float32Array, k: number): { id: string }[] {
  const scored = liveIds(c).map((i) => {
    const v = stored(c, i)
    let s = 0
    if (c.config.metric === 'l2') for (let d = 0; d < c.dim; d++) s += (v[d] - q[d]) ** 2
    else for (let d = 0; d < c.dim; d++) s -= v[d] * q[d]
    return { id: String(i), s }
  })
  return scored.sort((a, b) => a.s - b.s).slice(0, k)
}

describe.each(files)('format fixture %s', (file) => {
  it('opens with every record, answers searches, and stays writable across a reopen', async () => {
    const dir = tempDir()
    unpackDir(join(FIXTURES, file), dir)
    let db = await LibraVDB.open(dir)
    expect(db.listCollections()).toEqual(FIXTURE_COLLECTIONS.map((c) => c.name).sort())
    for (const c of FIXTURE_COLLECTIONS) {
      const col = db.getCollection(c.name)
      const live = liveIds(c)
      expect(await col.count(), c.name).toBe(live.length)
      for (const i of [...c.deletedBefore, ...c.deletedAfter]) expect(await col.get(String(i)), `${c.name} ${i}`).toBeNull()
      const step = Math.max(1, Math.floor(live.length / 150))
      for (let j = 0; j < live.length; j += step) {
        const i = live[j]
        const rec = await col.get(String(i))
        expect(rec, `${c.name} ${i}`).not.toBeNull()
        const want = stored(c, i)
        rec!.vector.forEach((x, d) => expect(x).toBeCloseTo(want[d], 5))
        expect(plain(rec!.metadata)).toEqual(fixtureMetadata(i))
      }
      const queries = Array.from({ length: 20 }, (_, q) => fixtureVector({ ...c, name: `${c.name}-query-${q}` }, q + 100_000))
      const got = await col.searchBatch(queries, { k: 10 })
      const truth = queries.map((q) => bruteForce(c, q, 10))
      const recall = recallAt10(got, truth)
      if (c.config.index === undefined) expect(recall, c.name).toBe(1)
      else expect(recall, c.name).toBeGreaterThanOrEqual(0.9)
    }
    // Writes on the opened fixture, then a reopen: whatever migration ran is durable. The
    // writes are in the change feed whatever the version (format 5 keeps the fixture's own).
    const version = Number(/v(\d+)/.exec(file)![1])
    for (const c of FIXTURE_COLLECTIONS) {
      const col = db.getCollection(c.name)
      const seq = col.stats().seq
      if (version >= 5) {
        const all = []
        for await (const ch of col.changes({ since: 0, follow: false })) all.push(ch.seq)
        expect(all, c.name).toEqual(Array.from({ length: seq }, (_, i) => i + 1))
      }
      await col.insert({ id: 'new', vector: fixtureVector(c, 999_999), metadata: fixtureMetadata(1) })
      await col.delete(String(live0(c)))
      const after = []
      for await (const ch of col.changes({ since: seq, follow: false })) after.push([ch.seq - seq, ch.op, ch.id])
      expect(after, c.name).toEqual([[1, 'insert', 'new'], [2, 'delete', String(live0(c))]])
    }
    await db.close()
    db = await LibraVDB.open(dir)
    for (const c of FIXTURE_COLLECTIONS) {
      const col = db.getCollection(c.name)
      expect(await col.count(), c.name).toBe(liveIds(c).length)
      expect(await col.get('new')).not.toBeNull()
      expect(await col.get(String(live0(c)))).toBeNull()
    }
    await db.close()
  })
})

const live0 = (c: FixtureCollection) => liveIds(c)[0]
