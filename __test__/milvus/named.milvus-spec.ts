/**
 * copyToMilvus of collections with named vector fields, against a real Milvus server
 * (MILVUS_ADDRESS, started by scripts/test-milvus.js): one nullable vector column per field,
 * records without a field never found by a search of it, each field giving the same top-10 on
 * both sides; a follow carries updates that set or remove one field and upserts that replace
 * the record whole; a field added after the copy stops the follow with a SchemaError.
 *
 * Two real sets stand for two embedding models of the same records: `text` is debpkg20k's
 * sentence embeddings (384-d, cosine), `sift` sift5k's descriptors (128-d, L2), on every
 * other record only.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MilvusClient, type RowData } from '@zilliz/milvus2-sdk-node'
import { describe, expect, it } from 'vitest'
import { LibraVDB, SchemaError } from '../../index'
import { compareWithMilvus, copyToMilvus } from '../../milvus'
import { SHARED_DATASETS, readVecs } from '../../benches/datasets'

const address = process.env.MILVUS_ADDRESS
const N = 4000

function sets() {
  const text = readVecs(join(SHARED_DATASETS, 'debpkg20k', 'base.fvecs'))
  const textQ = readVecs(join(SHARED_DATASETS, 'debpkg20k', 'query.fvecs'))
  const sift = readVecs(join(SHARED_DATASETS, 'sift5k', 'base.fvecs'))
  const siftQ = readVecs(join(SHARED_DATASETS, 'sift5k', 'query.fvecs'))
  const row = (v: { dim: number; data: ArrayLike<number> }, i: number) => (v.data as Float32Array).subarray(i * v.dim, (i + 1) * v.dim)
  return {
    text: (i: number) => row(text, i),
    sift: (i: number) => row(sift, i),
    textQueries: Array.from({ length: 60 }, (_, q) => row(textQ, q)),
    siftQueries: Array.from({ length: 60 }, (_, q) => row(siftQ, q)),
  }
}

/** The rows Milvus holds for `ids`, by id. */
async function milvusRows(client: MilvusClient, name: string, ids: string[]): Promise<Map<string, RowData>> {
  const res = await client.query({ collection_name: name, filter: `id in ${JSON.stringify(ids)}`, output_fields: ['*'], consistency_level: 0 })
  return new Map(res.data.map((r) => [String(r.id), r as RowData]))
}

const close = (a: unknown, b: ArrayLike<number>) => (a as number[]).every((x, i) => Math.abs(x - b[i]) < 1e-5)

describe.runIf(address)('copyToMilvus of named vector fields against a real Milvus server', () => {
  it('copies two fields (one on half the records), follows field updates and upserts', async () => {
    const d = sets()
    await using db = await LibraVDB.open(mkdtempSync(join(tmpdir(), 'libravdb-milvus-named-')))
    const c = await db.createCollection('models', {
      vectors: { text: { dimension: 384, metric: 'cosine' }, sift: { dimension: 128, metric: 'l2' } },
      schema: { n: 'int' },
    })
    await c.insertBatch(
      Array.from({ length: N }, (_, i) => ({
        id: `r${i}`,
        vectors: i % 2 === 0 ? { text: d.text(i), sift: d.sift(i) } : ({ text: d.text(i) } as Record<string, Float32Array>),
        metadata: { n: i },
      })),
    )
    const client = new MilvusClient({ address: address!, logLevel: 'warn' })
    const collectionName = `named_${Date.now()}`
    const copy = await copyToMilvus(c, client, { collectionName })
    expect(copy.records).toBe(N)

    // One nullable column per field, and the list of fields each row has.
    const rows = await milvusRows(client, collectionName, ['r2', 'r3'])
    expect(rows.get('r2')!.vector_fields).toEqual(['text', 'sift'])
    expect(rows.get('r3')!.vector_fields).toEqual(['text'])
    expect(close(rows.get('r2')!.sift, d.sift(2))).toBe(true)
    expect(rows.get('r3')!.metadata).toEqual({ n: 3 })

    // Each field answers as libravdb does; a search of `sift` finds only records that have it.
    const text = await compareWithMilvus(c, client, d.textQueries, { collectionName, using: 'text' })
    const sift = await compareWithMilvus(c, client, d.siftQueries, { collectionName, using: 'sift' })
    console.log(`same top-10: text ${text.sameTopK} / ${text.queries}, sift ${sift.sameTopK} / ${sift.queries}`)
    expect(text.sameTopK).toBeGreaterThanOrEqual(57)
    expect(sift.sameTopK).toBeGreaterThanOrEqual(57)
    await expect(compareWithMilvus(c, client, d.textQueries, { collectionName })).rejects.toThrow(/named vector fields only/)

    // Writes after the snapshot: a field set, a field removed, an upsert replacing the record
    // (dropping its `sift`), a metadata-only update, a delete; then the follow applies them.
    await c.update('r3', { vectors: { sift: d.sift(3) } })
    await c.update('r4', { vectors: { sift: null } })
    await c.upsert({ id: 'r6', vectors: { text: d.text(4001) }, metadata: { n: -6 } })
    await c.update('r8', { metadata: { n: -8 } })
    await c.update('r8', { vectors: { text: d.text(4002) } })
    await c.delete('r10')
    await c.insert({ id: 'new', vectors: { sift: d.sift(4003) } })
    const last = c.stats().seq
    const stop = new AbortController()
    const followed = await copyToMilvus(c, client, {
      collectionName,
      since: copy.seq,
      signal: stop.signal,
      onProgress: (_, seq) => seq >= last && stop.abort(),
    })
    expect(followed.seq).toBe(last)
    const after = await milvusRows(client, collectionName, ['r3', 'r4', 'r6', 'r8', 'r10', 'new'])
    expect(after.get('r3')!.vector_fields).toEqual(['text', 'sift'])
    expect(close(after.get('r3')!.sift, d.sift(3))).toBe(true)
    expect(close(after.get('r3')!.text, d.text(3))).toBe(true)
    expect(after.get('r4')!.vector_fields).toEqual(['text'])
    expect(after.get('r6')!.vector_fields).toEqual(['text'])
    expect(after.get('r6')!.metadata).toEqual({ n: -6 })
    expect(after.get('r8')!.metadata).toEqual({ n: -8 })
    expect(close(after.get('r8')!.text, d.text(4002))).toBe(true)
    expect(close(after.get('r8')!.sift, d.sift(8))).toBe(true)
    expect(after.has('r10')).toBe(false)
    expect(after.get('new')!.vector_fields).toEqual(['sift'])
    const siftAfter = await compareWithMilvus(c, client, d.siftQueries, { collectionName, using: 'sift' })
    expect(siftAfter.sameTopK).toBeGreaterThanOrEqual(57)
  })

  it('copies an unnamed vector beside an added field; a field added after the copy stops a follow', async () => {
    const d = sets()
    await using db = await LibraVDB.open(mkdtempSync(join(tmpdir(), 'libravdb-milvus-named-')))
    const c = await db.createCollection('migrating', { dimension: 384, metric: 'cosine' })
    await c.insertBatch(Array.from({ length: 2000 }, (_, i) => ({ id: `r${i}`, vector: d.text(i) })))
    await c.addVectorField('sift', { dimension: 128, metric: 'l2' })
    await c.updateBatch(Array.from({ length: 1000 }, (_, i) => ({ id: `r${i}`, vectors: { sift: d.sift(i) } })))
    const client = new MilvusClient({ address: address!, logLevel: 'warn' })
    const collectionName = `migrating_${Date.now()}`
    const copy = await copyToMilvus(c, client, { collectionName })
    const unnamed = await compareWithMilvus(c, client, d.textQueries, { collectionName })
    const sift = await compareWithMilvus(c, client, d.siftQueries, { collectionName, using: 'sift' })
    console.log(`same top-10: unnamed ${unnamed.sameTopK} / ${unnamed.queries}, sift ${sift.sameTopK} / ${sift.queries}`)
    expect(unnamed.sameTopK).toBeGreaterThanOrEqual(57)
    expect(sift.sameTopK).toBeGreaterThanOrEqual(57)

    await c.addVectorField('later', { dimension: 2 })
    await c.update('r1', { vectors: { later: [1, 0] } })
    const err = await copyToMilvus(c, client, { collectionName, since: copy.seq }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SchemaError)
    expect((err as Error).message).toMatch(/'later'/)
  })
})
