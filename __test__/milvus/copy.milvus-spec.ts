/**
 * Copies a collection of real sentence embeddings (debpkg20k) into a running Milvus server
 * (MILVUS_ADDRESS, started by scripts/test-milvus.js) and checks that both sides answer the
 * same queries with the same top-10, unfiltered and filtered.
 */
import { join } from 'node:path'
import { MilvusClient } from '@zilliz/milvus2-sdk-node'
import { describe, expect, it } from 'vitest'
import { LibraVDB } from '../../index'
import { compareWithMilvus, copyToMilvus } from '../../milvus'
import { SHARED_DATASETS, readVecs } from '../../benches/datasets'

const address = process.env.MILVUS_ADDRESS
const N = 5000

describe.runIf(address)('copyToMilvus against a real Milvus server', () => {
  it('copies 5,000 real embeddings; the same queries give the same top-10 on both sides', async () => {
    const dir = join(SHARED_DATASETS, 'debpkg20k')
    const base = readVecs(join(dir, 'base.fvecs'))
    const queries = readVecs(join(dir, 'query.fvecs'))
    const buckets = new Int32Array(require('node:fs').readFileSync(join(dir, 'bucket.i32')).buffer.slice(0))
    const dim = base.dim

    await using db = await LibraVDB.open()
    const c = await db.createCollection('debpkg', { dimension: dim, metric: 'cosine', schema: { bucket: 'int', at: 'date' } })
    await c.insertBatch({
      ids: Array.from({ length: N }, (_, i) => `pkg-${i}`),
      vectors: (base.data as Float32Array).subarray(0, N * dim),
      metadata: Array.from({ length: N }, (_, i) => ({ bucket: buckets[i], at: new Date(Date.UTC(2025, 0, 1 + (i % 28))) })),
    })

    const client = new MilvusClient({ address: address!, logLevel: 'warn' })
    const progress: number[] = []
    const copy = await copyToMilvus(c, client, { collectionName: `debpkg_${Date.now()}`, batchSize: 1000, onProgress: (n) => progress.push(n) })
    expect(copy.records).toBe(N)
    expect(progress.at(-1)).toBe(N)
    console.log(`copied ${copy.records} records of ${dim}-d into Milvus in ${(copy.durationMs / 1000).toFixed(1)} s`)

    // metadata arrives whole, dates as epoch ms
    const got = await client.query({ collection_name: copy.collectionName, filter: 'id in ["pkg-7"]', output_fields: ['metadata'] })
    expect(got.data[0].metadata).toEqual({ bucket: buckets[7], at: Date.UTC(2025, 0, 8) })

    const qs = Array.from({ length: 100 }, (_, q) => (queries.data as Float32Array).subarray(q * dim, (q + 1) * dim))
    const cmp = await compareWithMilvus(c, client, qs, { collectionName: copy.collectionName, k: 10 })
    console.log(`same top-10 on ${cmp.sameTopK} of ${cmp.queries} queries; mean overlap ${cmp.overlap.toFixed(3)}`)
    expect(cmp.sameTopK).toBeGreaterThanOrEqual(95)

    // the same filter on both sides: bucket < 100 (10% of rows)
    let same = 0
    for (const q of qs.slice(0, 50)) {
      const ours = (await c.search(q, { k: 10, filter: { bucket: { $lt: 100 } } })).map((h) => h.id)
      const res = await client.search({ collection_name: copy.collectionName, data: [Array.from(q)], limit: 10, filter: 'metadata["bucket"] < 100', output_fields: ['id'] })
      const theirs = (res.results as { id: string }[]).map((h) => h.id)
      if (JSON.stringify(ours) === JSON.stringify(theirs)) same++
    }
    console.log(`filtered (bucket < 100): same top-10 on ${same} of 50 queries`)
    expect(same).toBeGreaterThanOrEqual(47)
  })
})
