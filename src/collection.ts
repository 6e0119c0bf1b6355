/**
 * `Collection`: records (id, vector, metadata) searchable by vector similarity.
 * Batch calls check every item's shape here, send one flat block to the engine, and report
 * per item; atomic batches (the default) throw when any item is invalid and change nothing.
 */
import { PackedStrings, checkColumnar, checkId, finishBatch, triage } from './batch'
import { SchemaView, fieldForEngine } from './schema'
import { Searcher } from './searcher'
import type { FixedProperties } from './search-options'
import { EXPLAIN_KEYS, explainPlan } from './hybrid'
import { checkOptionalBoolean, checkOptionalFunction, checkOptionalInteger, describe, optionsObject } from './check'
import { InvalidArgumentError, NotFoundError } from './errors'
import {
  type CallOptions,
  type CancelToken,
  type NativeCollection,
  type NativeNamedUpdate,
  call,
  callSync,
  cancellableRead,
  cancellableWrite,
} from './native'
import { type FieldType, type Filter, type Schema, type TextField, compileFilter } from './filter'
import { type Metric, type VectorFieldConfig, validateIndexConfig, validateQuantizationConfig } from './config'
import {
  type BatchWriter,
  type IngestOptions,
  type IngestResult,
  type RecordWriteStream,
  type WriteStreamOptions,
  createWriteStream as createRecordWriteStream,
  ingest as ingestRecords,
} from './ingest'
import { QueryBuilder } from './query'
import { type ExportOptions, type ImportOptions, type TransferResult, exportCollection, importIntoCollection } from './transfer'
import { type RecordScan, type ScanCallOptions, scanRecords } from './stream'
import { followChanges, wakeFollowers } from './changes'
import {
  type BatchOptions,
  type BatchResult,
  type ColumnarBatch,
  type ExplainOptions,
  type HybridQuery,
  type QueryPlan,
  type RebuildOptions,
  type RebuildTarget,
  type RecordUpdate,
  type SearchHit,
  type SearchOptions,
  type StoredRecord,
  type TuneOptions,
  type TuneResult,
  type VectorRecord,
  type VerifyReport,
  type Change,
  type ChangesOptions,
  toTuneResult,
  toVerifyReport,
} from './records'
import { type VectorLike, toQueryBlock, toVector, vectorProblem } from './vectors'
import type { CollectionStats } from './stats'
import { NamedBlocks, namedUpdates, storedRecord, unnamedVectorProblem, vectorField, vectorFieldSpec } from './named'

const BATCH_KEYS = ['atomic', 'signal', 'timeoutMs'] as const

/** Each collection's database handle, held so that the database is not garbage-collected
 * (and closed by its finalizer) while a collection of it is still in use. */
const owners = new WeakMap<Collection, object>()

/**
 * A named set of records (id, vector, optional metadata) with one index, from
 * `db.createCollection` or `db.getCollection`. Every method validates its input first and
 * throws a typed `LibraVDBError` without changing anything when it is bad.
 */
export class Collection {
  readonly #native: NativeCollection
  /** Name, dimension and metric, read from the engine once. */
  readonly #fixed: FixedProperties
  /** The schema, its metadata codec and the unknown-field warning, kept current. */
  readonly #schema: SchemaView
  /** Tells the database a write finished (it checks the memory pressure threshold). */
  readonly #onWrite: () => void
  /** Searches: options checked, queries routed, hits shaped. */
  readonly #searcher: Searcher

  /** @internal Use `LibraVDB.createCollection` / `getCollection`. */
  constructor(native: NativeCollection, database: object, onWrite: () => void) {
    this.#native = native
    this.#onWrite = onWrite
    owners.set(this, database)
    this.#fixed = { name: native.name, dimension: native.dimension, metric: native.metric as Metric }
    this.#schema = new SchemaView(native)
    this.#searcher = new Searcher(native, this.#schema, this.#fixed)
  }

  /** Every write: cancellable through `opts`, then the database's memory check. */
  async #write<T>(
    opts: CallOptions | undefined,
    run: (token: CancelToken | undefined) => Promise<T>,
    onProgress?: (done: number) => void,
  ): Promise<T> {
    try {
      return await cancellableWrite(opts, run, onProgress)
    } finally {
      this.#onWrite()
      wakeFollowers(owners.get(this)!, this.#fixed.name)
    }
  }

  /** The metadata schema (`{}` without one). */
  get schema(): Schema {
    return { ...this.#schema.schema }
  }

  /** The collection's name. */
  get name(): string {
    return this.#fixed.name
  }

  /** Components per vector. */
  get dimension(): number {
    return this.#fixed.dimension
  }

  /** `'l2'`, `'cosine'` or `'dot'`. */
  get metric(): Metric {
    return this.#fixed.metric
  }

  /** Inserts one record; throws `DuplicateIdError` if the id exists. */
  async insert(record: VectorRecord, opts?: CallOptions): Promise<void> {
    await this.#put('insert', [record], false, opts)
  }

  /** Inserts records whose ids are all new, given as records or as a {@link ColumnarBatch}.
   * See {@link BatchOptions.atomic}. */
  insertBatch(records: readonly VectorRecord[] | ColumnarBatch, opts?: BatchOptions): Promise<BatchResult> {
    return this.#put('insertBatch', records, false, opts)
  }

  /** Inserts a record, or replaces the vector and metadata of an existing one. */
  async upsert(record: VectorRecord, opts?: CallOptions): Promise<void> {
    await this.#put('upsert', [record], true, opts)
  }

  /** Inserts or replaces records (records or a {@link ColumnarBatch}). */
  upsertBatch(records: readonly VectorRecord[] | ColumnarBatch, opts?: BatchOptions): Promise<BatchResult> {
    return this.#put('upsertBatch', records, true, opts)
  }

  async #put(
    op: string,
    records: readonly VectorRecord[] | ColumnarBatch,
    upsert: boolean,
    opts?: BatchOptions,
  ): Promise<BatchResult> {
    const o = optionsObject<BatchOptions>(`${op} options`, opts, BATCH_KEYS)
    const atomic = checkOptionalBoolean(`${op} options.atomic`, o.atomic) ?? true
    const dim = this.#fixed.dimension
    const named = new NamedBlocks(this.#schema.fields)
    let n: number
    let vectors: Float32Array
    let item: (i: number, ids: PackedStrings, metadata: PackedStrings) => void
    let idOf: (i: number) => unknown
    let columnar = false
    if (Array.isArray(records)) {
      idOf = (i) => (records[i] as VectorRecord | null)?.id
      n = records.length
      // One record with a Float32Array crosses as it is; otherwise rows are copied into a block.
      const single = n === 1 && (records[0] as VectorRecord | null)?.vector instanceof Float32Array
      vectors = single ? (records[0].vector as Float32Array) : new Float32Array(n * dim)
      let rows = 0
      item = (i, ids, metadata) => {
        const r = records[i] as unknown
        if (typeof r !== 'object' || r === null) throw new InvalidArgumentError(`record must be an object, got ${describe(r)}`)
        const { id, vector, vectors: byField, metadata: m } = r as VectorRecord
        checkId(id)
        const problem = dim === 0 ? unnamedVectorProblem(vector) : vectorProblem(vector, dim, 'vector')
        if (problem) throw problem
        const json = this.#schema.codec.encode('metadata', m)
        named.add(byField)
        if (!single && dim > 0) vectors.set(vector as VectorLike, rows * dim)
        rows++
        ids.push(id)
        metadata.push(json ?? '')
      }
    } else if (typeof records === 'object' && records !== null && 'ids' in records && dim > 0) {
      const b = checkColumnar(op, records as ColumnarBatch, dim)
      n = b.ids.length
      vectors = b.vectors
      idOf = (i) => b.ids[i]
      columnar = true
      item = (i, ids, metadata) => {
        const id = b.ids[i]
        checkId(id)
        ids.push(id)
        metadata.push(this.#schema.codec.encode(`metadata[${i}]`, b.metadata?.[i]) ?? '')
      }
    } else {
      throw new InvalidArgumentError(`${op} expects an array of records or { ids, vectors }, got ${describe(records)}`)
    }
    const ids = new PackedStrings()
    const metadata = new PackedStrings()
    // Rows of a columnar block cannot be left out: there any invalid item rejects the batch.
    const t = await triage(op, n, idOf, atomic || columnar, (i) => item(i, ids, metadata), () => {
      ids.seal()
      metadata.seal()
    })
    const block = vectors.length === t.sentIndex.length * dim ? vectors : vectors.subarray(0, t.sentIndex.length * dim)
    const report = await this.#write(o, (token) =>
      this.#native.putBatch(ids.buffers, block, metadata.buffers, upsert, atomic, token, named.blocks()),
    )
    return finishBatch(op, report, t)
  }

  /** Replaces the vector and/or metadata of an existing record; `NotFoundError` if absent. */
  async update(id: string, changes: Omit<RecordUpdate, 'id'>, opts?: CallOptions): Promise<void> {
    await this.#update('update', [{ ...changes, id }], opts)
  }

  /** Updates existing records. */
  updateBatch(updates: readonly RecordUpdate[], opts?: BatchOptions): Promise<BatchResult> {
    return this.#update('updateBatch', updates, opts)
  }

  async #update(op: string, updates: readonly RecordUpdate[], opts?: BatchOptions): Promise<BatchResult> {
    const o = optionsObject<BatchOptions>(`${op} options`, opts, BATCH_KEYS)
    const atomic = checkOptionalBoolean(`${op} options.atomic`, o.atomic) ?? true
    if (!Array.isArray(updates)) throw new InvalidArgumentError(`${op} expects an array, got ${describe(updates)}`)
    const dim = this.#fixed.dimension
    const ids = new PackedStrings()
    const metadata = new PackedStrings()
    // Per item: bit 0 = a new vector (the next row of `vectors`), bits 1-2 = metadata
    // kept (0), replaced (1, the item's entry in `metadata`) or cleared (2).
    const changes = new Uint8Array(updates.length)
    const vectors = new Float32Array(updates.length * dim)
    const named: NativeNamedUpdate[] = []
    let rows = 0
    const t = await triage(
      op,
      updates.length,
      (i) => (updates[i] as RecordUpdate | null)?.id,
      atomic,
      (i) => {
        const u = updates[i] as unknown
        if (typeof u !== 'object' || u === null) throw new InvalidArgumentError(`update must be an object, got ${describe(u)}`)
        const { id, vector, vectors: byField, metadata: m } = u as RecordUpdate
        checkId(id)
        const v = vector === undefined ? undefined : toVector(vector, dim)
        const json = this.#schema.codec.encode('metadata', m)
        named.push(...namedUpdates(this.#schema.fields, ids.length, byField))
        if (v) vectors.set(v, rows++ * dim)
        changes[i] = (v ? 1 : 0) | (json !== null ? 2 : m === null ? 4 : 0)
        ids.push(id)
        metadata.push(json ?? '')
      },
      () => {
        ids.seal()
        metadata.seal()
      },
    )
    const sentChanges = t.sentIndex.length === updates.length ? changes : Uint8Array.from(t.sentIndex, (i) => changes[i])
    const report = await this.#write(o, (token) =>
      this.#native.updateBatch(ids.buffers, sentChanges, vectors.subarray(0, rows * dim), metadata.buffers, atomic, token, named),
    )
    return finishBatch(op, report, t)
  }

  /** Deletes a record; resolves `false` if it did not exist. */
  async delete(id: string, opts?: CallOptions): Promise<boolean> {
    try {
      await this.deleteBatch([id], opts)
      return true
    } catch (e) {
      if (e instanceof NotFoundError) return false
      throw e
    }
  }

  /** Deletes records; a missing id is an `ERR_NOT_FOUND` item error. */
  async deleteBatch(ids: readonly string[], opts?: BatchOptions): Promise<BatchResult> {
    const o = optionsObject<BatchOptions>('deleteBatch options', opts, BATCH_KEYS)
    const atomic = checkOptionalBoolean('deleteBatch options.atomic', o.atomic) ?? true
    if (!Array.isArray(ids)) throw new InvalidArgumentError(`deleteBatch expects an array of ids, got ${describe(ids)}`)
    const packed = new PackedStrings()
    const t = await triage(
      'deleteBatch',
      ids.length,
      (i) => ids[i],
      atomic,
      (i) => {
        checkId(ids[i])
        packed.push(ids[i])
      },
      () => packed.seal(),
    )
    const report = await this.#write(o, (token) => this.#native.deleteBatch(packed.buffers, atomic, token))
    return finishBatch('deleteBatch', report, t)
  }

  /** The record with this id, or `null`. */
  async get(id: string, opts?: CallOptions): Promise<StoredRecord | null> {
    checkId(id)
    const r = await cancellableRead(opts, () => this.#native.get(id))
    if (!r) return null
    return storedRecord(r, this.#schema.codec.decode(r.metadata), this.#schema.fields.size > 0)
  }

  /**
   * Repairs the index around deleted records (HNSW: their neighbours are reconnected and
   * they stop routing searches) and checkpoints. Searches go on meanwhile. Resolves to the
   * number of neighbour lists rewritten (0 for flat). Run it after heavy deletion.
   */
  async optimize(opts?: CallOptions): Promise<number> {
    const o = optionsObject<CallOptions>('optimize options', opts, ['signal', 'timeoutMs'])
    return this.#write(o, (token) => this.#native.optimize(token))
  }

  /** Adds a typed field to the schema of this live collection: its index is built over the
   * stored metadata while searches and writes go on; the planner uses it once this resolves
   * (until then `explain()` says the filter runs record by record), durably. Writes are
   * checked against the type from the call on. A stored value of another type rejects with
   * `SchemaError` naming the record, an abort with `AbortError`: the schema is as it was. */
  async addField(name: string, type: FieldType | TextField, opts?: CallOptions): Promise<void> {
    const field = fieldForEngine(name, type)
    const o = optionsObject<CallOptions>('addField options', opts, ['signal', 'timeoutMs'])
    await this.#write(o, (token) => this.#native.addField(field.name, field.kind, field.textOptions, token))
  }

  /** Adds named vector field `name` to this live collection (`{ dimension, metric?, index?, quantization? }`,
   * as in `CollectionConfig.vectors`): records lack it until an update sets it (`update(id,
   * { vectors: { [name]: v } })`), searches of other fields go on. Durable once resolved. */
  async addVectorField(name: string, spec: VectorFieldConfig): Promise<void> {
    await this.#write(undefined, () => this.#native.addVectorField(vectorFieldSpec(name, spec)))
  }

  /** Drops named vector field `name` with its vectors, index and files. Durable once resolved. */
  async dropVectorField(name: string): Promise<void> {
    if (typeof name !== 'string') throw new InvalidArgumentError(`dropVectorField name must be a string, got ${describe(name)}`)
    await this.#write(undefined, () => this.#native.dropVectorField(name))
  }

  /** Removes a field from the schema, with its index and its type check; the records keep
   * their values (filters on it are then evaluated record by record). `InvalidArgumentError`
   * when the schema has no such field. Durable once resolved. */
  async dropField(name: string): Promise<void> {
    if (typeof name !== 'string') throw new InvalidArgumentError(`dropField name must be a string, got ${describe(name)}`)
    await this.#write(undefined, () => this.#native.dropField(name))
  }

  /**
   * Changes the index type, its parameters or the quantization (`quantization: null`
   * removes it) without losing data: the new index is built from the stored vectors beside
   * the serving one while searches and writes go on; writes made meanwhile reach it before
   * an atomic switch, and the new configuration is persisted. Omitted parts keep their
   * current settings; `rebuild()` with nothing changed rebuilds as is (an IVF-PQ index
   * retrains its lists and codebooks for today's size). An abort (`signal`, `timeoutMs`),
   * an error or a crash before the switch leaves the old index serving, intact. One rebuild
   * at a time per collection; `optimize()` waits for it. With `using`, rebuilds that named
   * vector field's index and quantization from its vectors the same way (flat or HNSW, any
   * quantization); the other fields and the unnamed vector are untouched.
   */
  async rebuild(target?: RebuildTarget, opts?: RebuildOptions): Promise<void> {
    const t = optionsObject<RebuildTarget>('rebuild target', target, ['index', 'quantization', 'using'])
    if (t.using !== undefined) vectorField(this.#schema.fields, t.using, 'rebuild target.using')
    const o = optionsObject<RebuildOptions>('rebuild options', opts, ['onProgress', 'signal', 'timeoutMs'])
    checkOptionalFunction('rebuild options.onProgress', o.onProgress)
    const index = t.index === undefined ? undefined : validateIndexConfig('rebuild target.index', t.index)
    const quantization =
      t.quantization === undefined || t.quantization === null
        ? undefined
        : validateQuantizationConfig('rebuild target.quantization', t.quantization)
    const report = () => {
      const [done, total] = this.#native.rebuildProgress()
      o.onProgress?.({ done, total })
    }
    const timer = o.onProgress ? setInterval(report, 100) : undefined
    try {
      const json = (x: object | undefined) => x && JSON.stringify(x)
      await this.#write(o, (token) => this.#native.rebuild(json(index), json(quantization), t.quantization === null, t.using, token))
      if (o.onProgress) report()
    } finally {
      clearInterval(timer)
    }
  }

  /**
   * Finds the smallest search breadth (HNSW `efSearch`, IVF-PQ `nprobe`) whose recall@k on
   * queries like your users' reaches `targetRecall`, and makes it the collection's default
   * (persisted). The queries: `queries` when you pass them (a sample of your query log); else
   * the collection's own sample of the queries it was recently asked, once it holds 100 (see
   * `OpenOptions.querySample`); else stored vectors, each searched as if it were not in the
   * collection. `source` in the result says which. Exact neighbours come from a flat scan;
   * searches and writes go on meanwhile. A flat collection has nothing to tune (recall 1).
   */
  async tune(opts: TuneOptions): Promise<TuneResult> {
    const o = optionsObject<TuneOptions>('tune options', opts, ['targetRecall', 'k', 'sample', 'queries', 'using', 'signal', 'timeoutMs'])
    const field = o.using === undefined ? undefined : vectorField(this.#schema.fields, o.using, 'tune options.using')
    const target = o.targetRecall
    if (typeof target !== 'number' || !(target > 0 && target <= 1)) {
      throw new InvalidArgumentError(`tune options.targetRecall must be a number in (0, 1], got ${describe(target)}`)
    }
    checkOptionalInteger('tune options.k', o.k, 1)
    checkOptionalInteger('tune options.sample', o.sample, 1)
    const queries = o.queries === undefined ? undefined : toQueryBlock(o.queries, field?.dimension ?? this.dimension)
    return toTuneResult(await this.#write(o, (token) => this.#native.tune(target, o.k ?? 10, o.sample ?? 200, queries, o.using, token)))
  }

  /** Forgets the queries this collection keeps for {@link Collection.tune} (after your queries
   * changed: a new embedding model, another language); it measures on stored vectors until
   * searches have filled the sample again. */
  forgetRecentQueries(): void {
    this.#native.forgetRecentQueries()
  }

  /** A fluent query: `query(v).where('f').eq(x).limit(10).execute()` (see `QueryBuilder`);
   * `query(v).text('...')` or `query().text('...')` adds or is a full-text query. */
  query(vector?: VectorLike): QueryBuilder {
    return new QueryBuilder(this, vector)
  }

  /** The terms text field `field`'s analyzer makes of `text`: what its index stores and what
   * a query for it looks up. */
  analyze(field: string, text: string): string[] {
    if (typeof field !== 'string' || typeof text !== 'string') {
      throw new InvalidArgumentError(`analyze(field, text) takes two strings, got ${describe(field)}, ${describe(text)}`)
    }
    return callSync(() => this.#native.analyze(field, text))
  }

  /** Deletes every record whose metadata matches `filter`, atomically. */
  async deleteWhere(filter: Filter, opts?: CallOptions): Promise<BatchResult> {
    const o = optionsObject<CallOptions>('deleteWhere options', opts, ['signal', 'timeoutMs'])
    const json = JSON.stringify(compileFilter(filter, this.#schema.schema))
    const report = await this.#write(o, (token) => this.#native.deleteWhere(json, token))
    return { succeeded: report.succeeded, failed: 0, errors: [] }
  }

  /**
   * Stores every record of `source` (an iterable, async iterable or object-mode `Readable` of
   * records or of {@link ColumnarBatch}es), `batchSize` per batch with at most `maxInFlight`
   * batches uncommitted: the source is never read more than `maxInFlight x batchSize` records
   * ahead of what is committed, so memory stays flat however large it is. Invalid records are
   * reported (index in the stream, id, code) unless `atomic`. On abort, timeout or a throwing
   * source it stops pulling, lets committed batches stand and rejects with `AbortError` (or
   * the source's error) carrying `progress`.
   */
  ingest(source: Iterable<VectorRecord | ColumnarBatch> | AsyncIterable<VectorRecord | ColumnarBatch>, opts?: IngestOptions): Promise<IngestResult> {
    return ingestRecords(this.#batchWriter, source, opts)
  }

  /**
   * An object-mode `Writable` of records: `write()` returns false once `highWaterMark`
   * records wait, `'finish'` comes after every record is committed (durable), and an invalid
   * record emits `'error'` with its typed error (or, with `atomic: false`, is counted in
   * `stream.result`). Works with `stream.pipeline`.
   */
  createWriteStream(opts?: WriteStreamOptions): RecordWriteStream {
    return createRecordWriteStream(this.#batchWriter, opts)
  }

  readonly #batchWriter: BatchWriter = (batch, opts, upsert) => (upsert ? this.upsertBatch(batch, opts) : this.insertBatch(batch, opts))

  /**
   * Writes the records (those matching `filter`) to a file: Parquet (one row per record: `id`,
   * `vector`, a column per named vector field, a typed column per schema field, the other
   * metadata as a JSON column; read by
   * LanceDB, DuckDB, pandas, Spark, Milvus bulk import) or NDJSON. Streams in bounded memory;
   * a failed or cancelled export leaves no file.
   */
  export(path: string, opts?: ExportOptions): Promise<TransferResult> {
    return exportCollection(this, this.#native, path, opts)
  }

  /**
   * Stores the records of a Parquet or NDJSON file (an export of this or another collection,
   * or a file another tool wrote: an `id` column, a `vector` column of floats, other columns
   * become metadata). One batch at a time, stopping at the first invalid record with its
   * typed error; the records before it stay.
   */
  import(path: string, opts?: ImportOptions): Promise<TransferResult> {
    return importIntoCollection(this, this.#native, path, opts)
  }

  /** Every record (optionally only matching `filter`) in storage order, `batchSize` per
   * native call: `for await (const r of docs.scan({ filter })) { ... }`. Its `seq` is the
   * change-feed position the scan is consistent at ({@link changes}). */
  scan(opts?: ScanCallOptions): RecordScan {
    return scanRecords(this.#native, opts, this.#schema)
  }

  /** Every committed write of each record after `since`, in commit order, following live
   * writes once caught up until `signal` aborts or the collection closes (also from a read-only
   * handle). After `scan()` / `export()`, from their `seq`: README, "Moving while writing". */
  changes(opts?: ChangesOptions): AsyncGenerator<Change> {
    return followChanges(this, owners.get(this)!, this.#native, this.#schema, opts)
  }

  /**
   * How a search with these options would run: the payload indexes' count of matching
   * records, the selectivity, the plan chosen and why. With `using`, the search of that
   * named vector field: the matches counted among the records that have the field (`live`:
   * how many have it). Runs no search.
   */
  explain(opts?: ExplainOptions): QueryPlan {
    const { text, sparse, vector, fusion, ...rest } = optionsObject<ExplainOptions>('explain options', opts, EXPLAIN_KEYS)
    return explainPlan(this.#native, this.#searcher.params('explain', rest, false).native, { text, sparse, vector, fusion })
  }

  /**
   * Reads every file of the collection and reports each damaged one: the manifest, the
   * checkpoint's segments and the WAL against their checksums, the vector and link chunks
   * against the checksums the last checkpoint recorded. Searches go on; writes wait.
   */
  async verify(): Promise<VerifyReport> {
    return toVerifyReport(await call(() => this.#native.verify()))
  }

  /** Live records. */
  async count(): Promise<number> {
    return callSync(() => this.#native.count())
  }

  /** Size and footprint. */
  stats(): CollectionStats {
    return callSync(() => this.#native.stats()) as unknown as CollectionStats
  }

  /** The k nearest records to `vector`, best first, computed off the JS thread. Or, with
   * `{ vector?, text?, sparse? }`, a full-text (BM25) or sparse-vector search, or several
   * signals fused (`opts.fusion`). */
  search(query: VectorLike | HybridQuery, opts?: SearchOptions): Promise<SearchHit[]> {
    return this.#searcher.search(query, opts)
  }

  /** {@link search} on the calling thread: a flat scan of a large collection blocks it. */
  searchSync(vector: VectorLike, opts?: Omit<SearchOptions, 'signal' | 'timeoutMs'>): SearchHit[] {
    return this.#searcher.searchSync(vector, opts)
  }

  /** Many queries at once, in parallel: a row-major Float32Array (n x dimension) or a list. */
  searchBatch(queries: Float32Array | readonly VectorLike[], opts?: SearchOptions): Promise<SearchHit[][]> {
    return this.#searcher.searchBatch(queries, opts)
  }
}
