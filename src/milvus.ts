/**
 * Moving a collection to Milvus, the distributed vector database, when a service outgrows
 * one machine: `copyToMilvus` streams `scan()` pages into a Milvus collection through the
 * official Node client (`@zilliz/milvus2-sdk-node`, which the caller installs and passes in:
 * libravdb never loads it), and `compareWithMilvus` checks that the same queries return the
 * same top-k on both sides. With `follow: true` the copy goes on after the snapshot: it tails the
 * collection's change feed (`changes({ since: snapshot seq })`) into Milvus (upserts and
 * deletes) until aborted, so a service moves without stopping its writes.
 *
 * The Milvus collection has `id` (VarChar primary key), `vector` (FloatVector) and `metadata`
 * (JSON: the record's metadata, dates as epoch milliseconds), so a filter
 * `{ kind: 'a' }` here reads `metadata["kind"] == "a"` there. `@zilliz/milvus2-sdk-node` is an
 * optional peer dependency: only its types are referenced here.
 */
import type { MilvusClient, RowData } from '@zilliz/milvus2-sdk-node'
import type { Collection } from './collection'
import { readyBatches } from './changes'
import type { Change } from './records'
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
  /** Records per insert call (and changes per upsert / delete when following). Default 1000. */
  batchSize?: number
  /** Called after each insert with the records copied so far, and while following after each
   * batch of changes applied, with the sequence number of the last one. */
  onProgress?: (copied: number, seq: number) => void
  /**
   * After the snapshot, keep applying the collection's changes (its change feed) to Milvus
   * until `signal` aborts; the promise then resolves with the last sequence number applied.
   * Default `false`.
   */
  follow?: boolean
  /**
   * Resume a follow that stopped (a restart): apply the changes after this sequence number
   * to the existing Milvus collection (no snapshot, no create). Implies `follow`.
   */
  since?: number
  /** Ends a follow (the copy resolves once the changes read are applied). */
  signal?: AbortSignal
}

/** What {@link copyToMilvus} did. */
export interface CopyToMilvusResult {
  /** The Milvus collection written. */
  collectionName: string
  /** Records copied. */
  records: number
  /** Wall time, including the index build and load (and the follow). */
  durationMs: number
  /** The sequence number of the last change Milvus holds: the snapshot's, or the last change
   * the follow applied. Resume from it with `since`. */
  seq: number
  /** Following: records upserted in Milvus. */
  upserts: number
  /** Following: records deleted in Milvus. */
  deletes: number
}

const METRIC_TYPES: Record<string, string> = { l2: 'L2', cosine: 'COSINE', dot: 'IP' }
// Milvus's DataType enum values (as the client's DataType enum has them): a const enum of the
// SDK cannot be used without loading it.
const DataType = { VarChar: 21, FloatVector: 101, JSON: 23 } as const
/** `ConsistencyLevelEnum.Strong`. */
const STRONG = 0

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
  if (collection.stats().fields.length > 0) {
    throw new InvalidArgumentError('copyToMilvus: collections with named vector fields cannot be copied yet (their fields would be left out)')
  }
  const t0 = performance.now()
  const name = opts.collectionName ?? collection.name
  const batchSize = opts.batchSize ?? 1000
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`copyToMilvus batchSize must be an integer >= 1, got ${batchSize}`)
  if (opts.since !== undefined && !(Number.isSafeInteger(opts.since) && opts.since >= 0)) {
    throw new InvalidArgumentError(`copyToMilvus since must be a sequence number (an integer >= 0), got ${opts.since}`)
  }
  const done = { collectionName: name, records: 0, seq: opts.since ?? 0, upserts: 0, deletes: 0 }
  if (opts.since === undefined) Object.assign(done, await snapshot(collection, client, name, batchSize, opts))
  if (opts.follow || opts.since !== undefined) Object.assign(done, await follow(collection, client, name, done.seq, batchSize, opts))
  return { ...done, durationMs: performance.now() - t0 }
}

/** The Milvus collection created and every record copied; returns them and the snapshot's seq. */
async function snapshot(
  collection: Collection,
  client: MilvusClient,
  name: string,
  batchSize: number,
  opts: CopyToMilvusOptions,
): Promise<{ records: number; seq: number }> {
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
    opts.onProgress?.(records, scan.seq ?? 0)
  }
  const scan = collection.scan({ includeVectors: true, batchSize })
  for await (const r of scan) {
    batch.push(row(r.id, r.vector!, r.metadata))
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
  return { records, seq: scan.seq ?? collection.stats().seq }
}

function row(id: string, vector: ArrayLike<number>, metadata: Record<string, unknown> | null | undefined): RowData {
  return { id, vector: Array.from(vector), metadata: milvusMetadata(metadata ?? undefined) as RowData[string] }
}

/** Each id's state after a batch of changes: a row to upsert, or deleted. */
type Pending = Map<string, RowData | 'deleted'>

/**
 * Tails `collection.changes({ since })` into Milvus until `opts.signal` aborts: each batch
 * (what the feed has ready, up to `batchSize`) becomes one delete and one upsert of each id's
 * last state. An update that set only the vector or only the metadata takes the other from
 * the state Milvus (or the batch) holds: every change before it has been applied there.
 */
async function follow(
  collection: Collection,
  client: MilvusClient,
  name: string,
  since: number,
  batchSize: number,
  opts: CopyToMilvusOptions,
): Promise<{ seq: number; upserts: number; deletes: number }> {
  const out = { seq: since, upserts: 0, deletes: 0 }
  // What is ready at once: a burst of writes goes to Milvus in few calls.
  for await (const batch of readyBatches(collection.changes({ since, signal: opts.signal, batchSize }), batchSize)) {
    const pending: Pending = new Map()
    for (const change of batch) {
      if (change.op === 'delete') pending.set(change.id, 'deleted')
      else if (change.vector && change.metadata !== undefined) pending.set(change.id, row(change.id, change.vector, change.metadata))
      else await mergePartial(client, name, pending, change)
      out.seq = change.seq
    }
    const deleted = [...pending].filter(([, v]) => v === 'deleted').map(([id]) => id)
    const rows = [...pending.values()].filter((v): v is RowData => v !== 'deleted')
    if (deleted.length > 0) check((await client.delete({ collection_name: name, ids: deleted })).status, 'delete')
    if (rows.length > 0) check((await client.upsert({ collection_name: name, data: rows })).status, 'upsert')
    out.deletes += deleted.length
    out.upserts += rows.length
    opts.onProgress?.(out.upserts + out.deletes, out.seq)
  }
  return out
}

/** Applies an update that set only the vector or only the metadata to the id's last state. */
async function mergePartial(client: MilvusClient, name: string, pending: Pending, change: Change): Promise<void> {
  let base = pending.get(change.id)
  if (base === 'deleted') return // a later change in the feed recreates it whole
  if (base === undefined) {
    // Strong: the read sees every write this follow made before it.
    const res = await client.query({
      collection_name: name,
      filter: `id in [${JSON.stringify(change.id)}]`,
      output_fields: ['id', 'vector', 'metadata'],
      consistency_level: STRONG,
    })
    check(res.status, 'query')
    base = res.data[0] as RowData | undefined
    if (base === undefined) return // not in Milvus: deleted by a change applied after the snapshot read it
  }
  pending.set(change.id, {
    id: change.id,
    vector: change.vector ? Array.from(change.vector) : base.vector,
    metadata: change.metadata !== undefined ? (milvusMetadata(change.metadata ?? undefined) as RowData[string]) : base.metadata,
  })
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
    const res = await client.search({ collection_name: name, data: [Array.from(q)], limit: k, output_fields: ['id'], consistency_level: STRONG })
    check(res.status, 'search')
    const results = res.results as unknown[]
    const hits = (Array.isArray(results[0]) ? results[0] : results) as { id: string | number }[]
    const theirs = hits.map((h) => String(h.id))
    if (ours.length === theirs.length && ours.every((id, i) => id === theirs[i])) sameTopK++
    overlap += ours.filter((id) => theirs.includes(id)).length / Math.max(ours.length, 1)
  }
  return { queries: queries.length, sameTopK, overlap: overlap / Math.max(queries.length, 1) }
}
