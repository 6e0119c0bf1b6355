/**
 * Moving a collection to Milvus, the distributed vector database, when a service outgrows
 * one machine: `copyToMilvus` streams `scan()` pages into a Milvus collection through the
 * official Node client (`@zilliz/milvus2-sdk-node`, which the caller installs and passes in:
 * libravdb never loads it), and `compareWithMilvus` checks that the same queries return the
 * same top-k on both sides.
 *
 * The Milvus collection has `id` (VarChar primary key), `vector` (FloatVector) and `metadata`
 * (JSON: the record's metadata, dates as epoch milliseconds), so a filter
 * `{ kind: 'a' }` here reads `metadata["kind"] == "a"` there. `@zilliz/milvus2-sdk-node` is an
 * optional peer dependency: only its types are referenced here.
 */
import type { MilvusClient, RowData } from '@zilliz/milvus2-sdk-node'
import type { Collection } from './collection'
import { InvalidArgumentError, LibraVDBError } from './errors'

/** A Milvus status as the client returns it. */
interface MilvusStatus {
  error_code?: string | number
  code?: number
  reason?: string
}

/** Options of {@link copyToMilvus}. */
export interface CopyToMilvusOptions {
  /** The Milvus collection to create (it must not exist). Default: this collection's name. */
  collectionName?: string
  /** Milvus index type. Default `'FLAT'` (exact, so results compare one to one); `'HNSW'`,
   * `'IVF_FLAT'` or `'AUTOINDEX'` for a large collection. */
  indexType?: string
  /** Index build parameters, e.g. `{ M: 16, efConstruction: 200 }` for HNSW. */
  indexParams?: Record<string, string | number>
  /** Records per insert call. Default 1000. */
  batchSize?: number
  /** Called after each insert with the records copied so far. */
  onProgress?: (copied: number) => void
}

/** What {@link copyToMilvus} did. */
export interface CopyToMilvusResult {
  /** The Milvus collection written. */
  collectionName: string
  /** Records copied. */
  records: number
  /** Wall time, including the index build and load. */
  durationMs: number
}

const METRIC_TYPES: Record<string, string> = { l2: 'L2', cosine: 'COSINE', dot: 'IP' }
// Milvus's DataType enum values (as the client's DataType enum has them): a const enum of the
// SDK cannot be used without loading it.
const DataType = { VarChar: 21, FloatVector: 101, JSON: 23 } as const

function check(status: MilvusStatus | undefined, what: string): void {
  const code = status?.error_code
  if (status === undefined || code === undefined || code === 'Success' || code === 0 || status.code === 0) return
  throw LibraVDBError.from('ERR_IO', `Milvus ${what} failed: ${String(code)} ${status.reason ?? ''}`.trim())
}

/** The metadata as Milvus's JSON field takes it: `date` fields as epoch milliseconds. */
function milvusMetadata(metadata: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(metadata ?? {})) out[k] = v instanceof Date ? v.getTime() : v
  return out
}

/**
 * Creates a Milvus collection like `collection` and streams every record into it, a page of
 * `batchSize` at a time (memory stays bounded), then builds the index and loads it.
 */
export async function copyToMilvus(collection: Collection, client: MilvusClient, opts: CopyToMilvusOptions = {}): Promise<CopyToMilvusResult> {
  const t0 = performance.now()
  const name = opts.collectionName ?? collection.name
  const batchSize = opts.batchSize ?? 1000
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`copyToMilvus batchSize must be an integer >= 1, got ${batchSize}`)
  if (String((await client.hasCollection({ collection_name: name })).value) === 'true') {
    throw LibraVDBError.from('ERR_ALREADY_EXISTS', `Milvus already has a collection '${name}'; choose another collectionName`)
  }
  check(
    await client.createCollection({
      collection_name: name,
      description: `copied from libravdb collection '${collection.name}'`,
      fields: [
        { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 1024 },
        { name: 'vector', data_type: DataType.FloatVector, dim: collection.dimension },
        { name: 'metadata', data_type: DataType.JSON },
      ],
    }),
    'createCollection',
  )
  let records = 0
  let batch: RowData[] = []
  const flush = async () => {
    if (batch.length === 0) return
    check((await client.insert({ collection_name: name, data: batch })).status, 'insert')
    records += batch.length
    batch = []
    opts.onProgress?.(records)
  }
  for await (const r of collection.scan({ includeVectors: true, batchSize })) {
    batch.push({ id: r.id, vector: Array.from(r.vector!), metadata: milvusMetadata(r.metadata) as RowData[string] })
    if (batch.length >= batchSize) await flush()
  }
  await flush()
  check(
    await client.createIndex({
      collection_name: name,
      field_name: 'vector',
      index_type: opts.indexType ?? 'FLAT',
      metric_type: METRIC_TYPES[collection.metric],
      params: opts.indexParams,
    }),
    'createIndex',
  )
  check(await client.loadCollectionSync({ collection_name: name }), 'loadCollection')
  return { collectionName: name, records, durationMs: performance.now() - t0 }
}

/** How the two sides answered the same queries. */
export interface MilvusComparison {
  /** Queries run. */
  queries: number
  /** Queries whose top-k ids are the same list on both sides. */
  sameTopK: number
  /** Mean share of this side's top-k ids that Milvus also returned. */
  overlap: number
}

/** Runs each query on both sides (k nearest, no filter) and compares the ids returned. */
export async function compareWithMilvus(
  collection: Collection,
  client: MilvusClient,
  queries: readonly (readonly number[] | Float32Array)[],
  opts: { collectionName?: string; k?: number } = {},
): Promise<MilvusComparison> {
  const name = opts.collectionName ?? collection.name
  const k = opts.k ?? 10
  let sameTopK = 0
  let overlap = 0
  for (const q of queries) {
    const ours = (await collection.search(q as Float32Array, { k })).map((h) => h.id)
    const res = await client.search({ collection_name: name, data: [Array.from(q)], limit: k, output_fields: ['id'] })
    check(res.status, 'search')
    const results = res.results as unknown[]
    const hits = (Array.isArray(results[0]) ? results[0] : results) as { id: string | number }[]
    const theirs = hits.map((h) => String(h.id))
    if (ours.length === theirs.length && ours.every((id, i) => id === theirs[i])) sameTopK++
    overlap += ours.filter((id) => theirs.includes(id)).length / Math.max(ours.length, 1)
  }
  return { queries: queries.length, sameTopK, overlap: overlap / Math.max(queries.length, 1) }
}
