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
 * `{ kind: 'a' }` here reads `metadata["kind"] == "a"` there. A collection with named vector
 * fields gets one nullable FloatVector column per field (its name, dimension and metric; `vector`
 * only if it has an unnamed vector too) and `vector_fields`, the names of the fields each row
 * has: search a field there with `anns_field: 'title'` and the filter
 * `array_contains(vector_fields, "title")`, as `compareWithMilvus({ using })` does (servers that
 * return a null vector as zeros, as Milvus Lite does, would otherwise find records without it).
 * Null vectors need Milvus 2.6 (its latest releases), 3.0 or Milvus Lite.
 * `@zilliz/milvus2-sdk-node` is an optional peer dependency: only its types are referenced here.
 */
import type { MilvusClient, RowData } from '@zilliz/milvus2-sdk-node'
import type { Collection } from './collection'
import { readyBatches } from './changes'
import type { Change } from './records'
import type { VectorFieldStats } from './stats'
import { InvalidArgumentError, LibraVDBError, SchemaError } from './errors'

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
const DataType = { VarChar: 21, Array: 22, JSON: 23, FloatVector: 101 } as const
/** `ConsistencyLevelEnum.Strong`. */
const STRONG = 0
/** The Milvus column listing the named vector fields a row has. */
const PRESENT = 'vector_fields'
/** Column names the copy uses for itself. */
const RESERVED = new Set(['id', 'vector', 'metadata', PRESENT])
/** A field name Milvus takes. */
const MILVUS_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/

function check(status: MilvusStatus | undefined, what: string): void {
  const code = status?.error_code
  if (status === undefined || code === undefined || code === 'Success' || code === 0 || status.code === 0) return
  throw LibraVDBError.from('ERR_IO', `Milvus ${what} failed: ${String(code)} ${status.reason ?? ''}`.trim())
}

/** The metadata as Milvus's JSON field takes it: `date` fields as epoch milliseconds. */
function milvusMetadata(metadata: Record<string, unknown> | null | undefined): RowData[string] {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(metadata ?? {})) out[k] = v instanceof Date ? v.getTime() : v
  return out as RowData[string]
}

/**
 * The vector columns of the Milvus collection: `vector` for the unnamed vector (when the
 * collection has one) and one per named vector field, under the field's name. With named
 * fields the rows also carry `vector_fields`, the names of the fields the record has: a search
 * of one field filters on it (`array_contains(vector_fields, "title")`), so records without
 * the field are not found on any server (Milvus Lite returns a null vector as zeros).
 */
interface Layout {
  /** The unnamed vector's dimension, 0 when the collection has named fields only. */
  dimension: number
  /** Named vector fields. */
  fields: readonly string[]
}

/** The layout of `collection` (its named fields: `named`), their names checked as Milvus
 * column names. */
function layoutOf(collection: Collection, named: readonly VectorFieldStats[]): Layout {
  const fields = named.map((f) => f.name)
  for (const f of fields) {
    if (!MILVUS_NAME.test(f) || RESERVED.has(f)) {
      throw new InvalidArgumentError(
        `copyToMilvus: vector field '${f}' cannot be a Milvus column (letters, digits and '_', not starting with a digit; not ${[...RESERVED].join(', ')})`,
      )
    }
  }
  return { dimension: collection.dimension, fields }
}

/** A record as the copy holds it: named fields it has, by name. */
interface Row {
  id: string
  vector?: number[]
  metadata: RowData[string]
  fields: Map<string, number[]>
}

function toRowData(layout: Layout, r: Row): RowData {
  const out: RowData = { id: r.id, metadata: r.metadata }
  if (layout.dimension > 0) out.vector = r.vector!
  if (layout.fields.length > 0) {
    for (const f of layout.fields) out[f] = r.fields.get(f) ?? null
    out[PRESENT] = [...r.fields.keys()]
  }
  return out
}

function fromRowData(layout: Layout, d: RowData): Row {
  const present = new Set((d[PRESENT] as string[] | undefined) ?? [])
  const fields = new Map(layout.fields.filter((f) => present.has(f)).map((f) => [f, d[f] as number[]]))
  return { id: String(d.id), vector: d.vector as number[] | undefined, metadata: d.metadata, fields }
}

/** The named fields of a record (or of a whole change), as arrays. */
function namedOf(vectors: Record<string, ArrayLike<number> | null> | undefined): Map<string, number[]> {
  return new Map(Object.entries(vectors ?? {}).flatMap(([f, v]) => (v ? [[f, Array.from(v)] as const] : [])))
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
  if (opts.since !== undefined && !(Number.isSafeInteger(opts.since) && opts.since >= 0)) {
    throw new InvalidArgumentError(`copyToMilvus since must be a sequence number (an integer >= 0), got ${opts.since}`)
  }
  const named = collection.stats().fields
  const layout = layoutOf(collection, named)
  const done = { collectionName: name, records: 0, seq: opts.since ?? 0, upserts: 0, deletes: 0 }
  if (opts.since === undefined) Object.assign(done, await snapshot(collection, client, name, layout, named, batchSize, opts))
  if (opts.follow || opts.since !== undefined) Object.assign(done, await follow(collection, client, name, done.seq, batchSize, opts))
  return { ...done, durationMs: performance.now() - t0 }
}

/** The Milvus collection created and every record copied; returns them and the snapshot's seq. */
async function snapshot(
  collection: Collection,
  client: MilvusClient,
  name: string,
  layout: Layout,
  named: readonly VectorFieldStats[],
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
        ...(layout.dimension > 0 ? [{ name: 'vector', data_type: DataType.FloatVector, dim: layout.dimension }] : []),
        // Nullable: a record may lack a field (Milvus 2.6 / 3.0 and Milvus Lite take null vectors).
        ...named.map((f) => ({ name: f.name, data_type: DataType.FloatVector, dim: f.dimension, nullable: true })),
        ...(named.length > 0
          ? [{ name: PRESENT, data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: named.length, max_length: 255 }]
          : []),
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
    batch.push(toRowData(layout, { id: r.id, vector: r.vector && Array.from(r.vector), metadata: milvusMetadata(r.metadata), fields: namedOf(r.vectors) }))
    if (batch.length >= batchSize) await flush()
  }
  await flush()
  const columns = [...(layout.dimension > 0 ? [{ field: 'vector', metric: collection.metric }] : []), ...named.map((f) => ({ field: f.name, metric: f.metric }))]
  for (const { field, metric } of columns) {
    check(
      await client.createIndex({
        collection_name: name,
        field_name: field,
        index_type: opts.indexType ?? 'FLAT',
        metric_type: METRIC_TYPES[metric],
        params: opts.indexParams,
      }),
      `createIndex on ${field}`,
    )
  }
  check(await client.loadCollectionSync({ collection_name: name }), 'loadCollection')
  return { records, seq: scan.seq ?? collection.stats().seq }
}

/** The layout of the Milvus collection `name` (a follow writes the columns it has). */
async function milvusLayout(client: MilvusClient, name: string): Promise<Layout> {
  const res = await client.describeCollection({ collection_name: name })
  check(res.status, 'describeCollection')
  const vectors = res.schema.fields.filter((f) => Number(f.dataType) === DataType.FloatVector)
  const unnamed = vectors.find((f) => f.name === 'vector')
  const dim = Number(unnamed?.type_params?.find((p) => p.key === 'dim')?.value ?? 0)
  return { dimension: dim, fields: vectors.filter((f) => f.name !== 'vector').map((f) => f.name) }
}

/** Each id's state after a batch of changes: a row to upsert, or deleted. */
type Pending = Map<string, Row | 'deleted'>

/**
 * Tails `collection.changes({ since })` into Milvus until `opts.signal` aborts: each batch
 * (what the feed has ready, up to `batchSize`) becomes one delete and one upsert of each id's
 * last state. An update (which lists only what it set) takes the rest from the state Milvus
 * (or the batch) holds: every change before it has been applied there.
 */
async function follow(
  collection: Collection,
  client: MilvusClient,
  name: string,
  since: number,
  batchSize: number,
  opts: CopyToMilvusOptions,
): Promise<{ seq: number; upserts: number; deletes: number }> {
  const layout = await milvusLayout(client, name)
  const out = { seq: since, upserts: 0, deletes: 0 }
  // What is ready at once: a burst of writes goes to Milvus in few calls.
  for await (const batch of readyBatches(collection.changes({ since, signal: opts.signal, batchSize }), batchSize)) {
    const pending: Pending = new Map()
    for (const change of batch) {
      for (const f of Object.keys(change.vectors ?? {})) {
        if (!layout.fields.includes(f)) {
          throw new SchemaError(
            `copyToMilvus: change ${change.seq} sets vector field '${f}', which the Milvus collection '${name}' has no column for (added after the copy was made); copy again into a new Milvus collection`,
          )
        }
      }
      if (change.op === 'delete') pending.set(change.id, 'deleted')
      else if (change.whole) pending.set(change.id, wholeRow(change))
      else await applyUpdate(client, name, layout, pending, change)
      out.seq = change.seq
    }
    const deleted = [...pending].filter(([, v]) => v === 'deleted').map(([id]) => id)
    const rows = [...pending.values()].filter((v): v is Row => v !== 'deleted').map((r) => toRowData(layout, r))
    if (deleted.length > 0) check((await client.delete({ collection_name: name, ids: deleted })).status, 'delete')
    if (rows.length > 0) check((await client.upsert({ collection_name: name, data: rows })).status, 'upsert')
    out.deletes += deleted.length
    out.upserts += rows.length
    opts.onProgress?.(out.upserts + out.deletes, out.seq)
  }
  return out
}

/** The record a whole change (an insert, an upsert's replacement) carries. */
function wholeRow(change: Change): Row {
  return { id: change.id, vector: change.vector && Array.from(change.vector), metadata: milvusMetadata(change.metadata), fields: namedOf(change.vectors) }
}

/** Applies an update (the vector, the metadata or named fields it set or removed) to the id's
 * last state. */
async function applyUpdate(client: MilvusClient, name: string, layout: Layout, pending: Pending, change: Change): Promise<void> {
  let base = pending.get(change.id)
  if (base === 'deleted') return // a later change in the feed recreates it whole
  if (base === undefined) {
    // Strong: the read sees every write this follow made before it.
    const res = await client.query({
      collection_name: name,
      filter: `id in [${JSON.stringify(change.id)}]`,
      output_fields: ['*'],
      consistency_level: STRONG,
    })
    check(res.status, 'query')
    if (res.data[0] === undefined) return // not in Milvus: deleted by a change applied after the snapshot read it
    base = fromRowData(layout, res.data[0] as RowData)
  }
  const fields = new Map(base.fields)
  for (const [f, v] of Object.entries(change.vectors ?? {})) {
    if (v) fields.set(f, Array.from(v))
    else fields.delete(f)
  }
  pending.set(change.id, {
    id: change.id,
    vector: change.vector ? Array.from(change.vector) : base.vector,
    metadata: change.metadata !== undefined ? milvusMetadata(change.metadata) : base.metadata,
    fields,
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

/** Options of {@link compareWithMilvus}. */
export interface CompareWithMilvusOptions {
  /** The Milvus collection. Default: this collection's name. */
  collectionName?: string
  /** Nearest records per query. Default 10. */
  k?: number
  /** The named vector field to search on both sides (records without it are not found).
   * Default: the unnamed vector; required when the collection has named fields only. */
  using?: string
}

/** Runs each query on both sides (k nearest, no filter) and compares the ids returned. */
export async function compareWithMilvus(
  collection: Collection,
  client: MilvusClient,
  queries: readonly (readonly number[] | Float32Array)[],
  opts: CompareWithMilvusOptions = {},
): Promise<MilvusComparison> {
  const name = opts.collectionName ?? collection.name
  const k = opts.k ?? 10
  const { using } = opts
  const layout = layoutOf(collection, collection.stats().fields)
  if (using === undefined ? layout.dimension === 0 : !layout.fields.includes(using)) {
    const fields = layout.fields.join(', ')
    throw new InvalidArgumentError(
      using === undefined
        ? `compareWithMilvus: collection '${collection.name}' has named vector fields only (${fields}); say which with using`
        : `compareWithMilvus using: '${using}' is not a vector field of collection '${collection.name}' (its vector fields: ${fields || 'none'})`,
    )
  }
  const target = using === undefined ? { anns_field: 'vector' } : { anns_field: using, filter: `array_contains(${PRESENT}, ${JSON.stringify(using)})` }
  let sameTopK = 0
  let overlap = 0
  for (const q of queries) {
    const ours = (await collection.search(q as Float32Array, { k, using })).map((h) => h.id)
    const res = await client.search({ collection_name: name, data: [Array.from(q)], limit: k, output_fields: ['id'], consistency_level: STRONG, ...target })
    check(res.status, 'search')
    const results = res.results as unknown[]
    const hits = (Array.isArray(results[0]) ? results[0] : results) as { id: string | number }[]
    const theirs = hits.map((h) => String(h.id))
    if (ours.length === theirs.length && ours.every((id, i) => id === theirs[i])) sameTopK++
    overlap += ours.filter((id) => theirs.includes(id)).length / Math.max(ours.length, 1)
  }
  return { queries: queries.length, sameTopK, overlap: overlap / Math.max(queries.length, 1) }
}
