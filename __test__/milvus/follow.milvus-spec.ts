/**
 * copyToMilvus with follow: a snapshot of real embeddings (debpkg20k), then the change feed
 * tailed into a real Milvus server (MILVUS_ADDRESS, started by scripts/test-milvus.js) while
 * a writer keeps inserting, updating and deleting; stopped midway and resumed from the seq it
 * reported. Once the writer stops and the follow reaches its last change, both sides hold the
 * same records and answer the same queries with the same top-10.
 */
import { readFileSync } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MilvusClient } from '@zilliz/milvus2-sdk-node'
import { describe, expect, it } from 'vitest'
import { LibraVDB } from '../../index'
import { compareWithMilvus, copyToMilvus } from '../../milvus'
import { SHARED_DATASETS, readVecs } from '../../benches/datasets'

const address = process.env.MILVUS_ADDRESS
const START = 3000
const EXTRA = 2000

describe.runIf(address)('copyToMilvus({ follow: true }) against a real Milvus server', () => {
  it('follows inserts, updates and deletes made during and after the copy; resumes from its seq', async () => {
    const dir = join(SHARED_DATASETS, 'debpkg20k')
    const base = readVecs(join(dir, 'base.fvecs'))
    const queries = readVecs(join(dir, 'query.fvecs'))
    const buckets = new Int32Array(readFileSync(join(dir, 'bucket.i32')).buffer.slice(0))
    const dim = base.dim
    const vec = (i: number) => (base.data as Float32Array).subarray(i * dim, (i + 1) * dim)
    const tmp = mkdtempSync(join(tmpdir(), 'libravdb-milvus-follow-'))
    try {
      await using db = await LibraVDB.open(tmp, { checkpointBytes: 4 << 20 })
      const c = await db.createCollection('debpkg', { dimension: dim, metric: 'cosine', schema: { bucket: 'int', at: 'date' } })
      await c.insertBatch({
        ids: Array.from({ length: START }, (_, i) => `pkg-${i}`),
        vectors: (base.data as Float32Array).subarray(0, START * dim),
        metadata: Array.from({ length: START }, (_, i) => ({ bucket: buckets[i], at: new Date(Date.UTC(2025, 0, 1 + (i % 28))) })),
      })

      // The writer: new records, vector-only and metadata-only updates, upserts and deletes.
      let stop = false
      let writes = 0
      const writer = (async () => {
        for (let b = 0; !stop && b < EXTRA / 20; b++) {
          const from = START + b * 20
          await c.insertBatch(Array.from({ length: 20 }, (_, i) => ({ id: `pkg-${from + i}`, vector: vec(from + i), metadata: { bucket: buckets[from + i] } })))
          // (An update of a record an earlier delete removed is reported, not applied.)
          await c.updateBatch([{ id: `pkg-${(b * 31) % START}`, metadata: { bucket: -b, note: 'edited' } }], { atomic: false })
          await c.updateBatch([{ id: `pkg-${(b * 17 + 5) % START}`, vector: vec(START + EXTRA + b) }], { atomic: false })
          await c.upsert({ id: `pkg-${(b * 13 + 7) % START}`, vector: vec(START + EXTRA + 500 + b), metadata: { bucket: 1 } })
          await c.deleteBatch([`pkg-${(b * 29 + 11) % START}`], { atomic: false })
          writes += 24
          await new Promise((r) => setTimeout(r, 5))
        }
      })()

      const client = new MilvusClient({ address: address!, logLevel: 'warn' })
      const collectionName = `follow_${Date.now()}`
      // First follower: stopped (as a restart would) after a few hundred changes.
      const first = new AbortController()
      let seen = 0
      const copy1 = await copyToMilvus(c, client, {
        collectionName,
        follow: true,
        signal: first.signal,
        onProgress: (_, seq) => {
          seen = seq
          if (seq > START + 300) first.abort()
        },
      })
      expect(copy1.records).toBeGreaterThanOrEqual(START)
      expect(copy1.seq).toBe(seen)
      console.log(`snapshot ${copy1.records} records, then followed to change ${copy1.seq} (${copy1.upserts} upserts, ${copy1.deletes} deletes)`)

      // Resumed from the seq it reported, while the writer goes on; stopped once caught up.
      const second = new AbortController()
      let lag = 0
      let last = copy1.seq
      const t0 = performance.now()
      const copy2Done = copyToMilvus(c, client, {
        collectionName,
        since: copy1.seq,
        signal: second.signal,
        onProgress: (_, seq) => {
          lag = Math.max(lag, c.stats().seq - seq)
          last = seq
        },
      })
      await writer
      stop = true
      const target = c.stats().seq
      while (last < target) await new Promise((r) => setTimeout(r, 20))
      second.abort()
      const copy2 = await copy2Done
      expect(copy2.seq).toBe(target)
      const seconds = (performance.now() - t0) / 1000
      console.log(
        `resumed from ${copy1.seq}: applied to ${copy2.seq} (${copy2.upserts} upserts, ${copy2.deletes} deletes; ${writes} writes made) ` +
          `in ${seconds.toFixed(1)} s; largest lag seen ${lag} changes`,
      )

      const count = await client.query({ collection_name: collectionName, output_fields: ['count(*)'], consistency_level: 0 as never })
      expect(Number(count.data[0]['count(*)'])).toBe(await c.count())
      // An update that set only the metadata, and one that set only the vector, arrived whole.
      for (const id of ['pkg-31', 'pkg-22']) {
        const ours = await c.get(id)
        const res = await client.query({ collection_name: collectionName, filter: `id in ["${id}"]`, output_fields: ['vector', 'metadata'], consistency_level: 0 as never })
        const theirs = res.data[0] as { vector: number[]; metadata: Record<string, unknown> }
        expect(theirs.metadata).toEqual(JSON.parse(JSON.stringify(ours!.metadata, (k, v) => (k === 'at' ? Date.parse(v) : v))))
        expect(theirs.vector.map((x) => Math.fround(x))).toEqual(Array.from(ours!.vector))
      }
      const qs = Array.from({ length: 100 }, (_, q) => (queries.data as Float32Array).subarray(q * dim, (q + 1) * dim))
      const cmp = await compareWithMilvus(c, client, qs, { collectionName, k: 10 })
      console.log(`after the follow: same top-10 on ${cmp.sameTopK} of ${cmp.queries} queries; mean overlap ${cmp.overlap.toFixed(3)}`)
      expect(cmp.sameTopK).toBeGreaterThanOrEqual(95)
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  })
})
