/**
 * `LibraVDB`: an embedded database, a directory of collections (or memory only).
 * One process opens a directory for writing at a time (a second writer gets `LockedError`);
 * any number of processes may open it beside the writer with `readOnly: true`.
 */
import { Collection } from './collection'
import { describe } from './check'
import { type CollectionConfig, type Metric, type OpenOptions, validateCollectionConfig, validateOpenOptions } from './config'
import type { FieldType } from './filter'
import { type ImportOptions, formatOf } from './transfer'
import { InvalidArgumentError } from './errors'
import { type ConfigOptions, NativeDatabase, call, callSync, configOptions, parquetFileInfo } from './native'
import { type VerifyReport, toVerifyReport } from './records'

/**
 * An open database: `LibraVDB.open(path)` (on disk) or `LibraVDB.open()` (in memory). Holds
 * collections; close it with `close()` or `await using`.
 */
export class LibraVDB {
  readonly #native: NativeDatabase
  /** The automatic refresh of a read-only handle (unref'd: it never keeps the process up). */
  #refreshTimer: NodeJS.Timeout | undefined
  #refreshing: Promise<void> | undefined

  private constructor(native: NativeDatabase, refreshIntervalMs: number) {
    this.#native = native
    if (refreshIntervalMs > 0) {
      this.#refreshTimer = setInterval(() => {
        if (this.#refreshing) return
        this.refresh().catch((e: unknown) =>
          process.emitWarning(`LibraVDB read-only refresh failed: ${(e as Error).message}`, { code: 'LIBRAVDB_REFRESH_FAILED' }),
        )
      }, refreshIntervalMs).unref()
    }
  }

  /**
   * Every index and quantization type with its options and their defaults, as the engine
   * defines them (`null`: chosen from the data, e.g. IVF-PQ's `nlist` at training), e.g.
   * `LibraVDB.defaults.index.hnsw.efSearch` is 64.
   */
  static readonly defaults: ConfigOptions = configOptions

  /**
   * Opens the database in directory `path` (created if missing), recovering every
   * collection from its last checkpoint and write-ahead log. Without a path the database
   * lives in memory and disappears when closed.
   */
  static async open(path?: string, options?: OpenOptions): Promise<LibraVDB> {
    if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
      throw new InvalidArgumentError(`path must be a non-empty string or undefined, got ${describe(path)}`)
    }
    const o = validateOpenOptions(options)
    if (o.readOnly && path === undefined) throw new InvalidArgumentError('readOnly needs a path: an in-memory database has no writer to follow')
    const native = await call(() =>
      NativeDatabase.open(path, { fsync: o.fsync, checkpointWalBytes: o.checkpointBytes, readOnly: o.readOnly }),
    )
    return new LibraVDB(native, o.readOnly ? (o.refreshIntervalMs ?? 1000) : 0)
  }

  /**
   * Read-only handles: picks up what the writer has made durable since the last refresh
   * (new writes, checkpoints, collections created and dropped); handles already obtained
   * see it too. Runs automatically every `refreshIntervalMs`. A no-op for a writer.
   */
  async refresh(): Promise<void> {
    this.#refreshing ??= call(() => this.#native.refresh()).finally(() => (this.#refreshing = undefined))
    return this.#refreshing
  }

  /** Whether this database lives in memory only. */
  get inMemory(): boolean {
    return this.#native.inMemory
  }

  /** Creates a collection; `AlreadyExistsError` if the name is taken. Names are 1-64
   * characters of letters, digits, `_` and `-`. */
  async createCollection(name: string, config: CollectionConfig): Promise<Collection> {
    checkName(name)
    const cfg = validateCollectionConfig(config)
    const native = await call(() =>
      this.#native.createCollection(name, {
        ...cfg,
        // The engine reads index and quantization options from their API objects.
        index: cfg.index && JSON.stringify(cfg.index),
        quantization: cfg.quantization && JSON.stringify(cfg.quantization),
      }),
    )
    return new Collection(native, this)
  }

  /**
   * Creates collection `name` from an export (Parquet or NDJSON, see `Collection.export`)
   * or another tool's Parquet file. A Parquet export says its dimension, metric and schema;
   * `config` adds to or overrides them (an index, say) and is required for NDJSON. Either the
   * whole file is imported or, on an error or cancel, the new collection is dropped again.
   */
  async importCollection(name: string, path: string, config?: Partial<CollectionConfig>, opts?: ImportOptions): Promise<Collection> {
    checkName(name)
    const format = formatOf(path, opts?.format, 'importCollection')
    if (config !== undefined && (typeof config !== 'object' || config === null)) {
      throw new InvalidArgumentError(`importCollection: config must be an object, got ${describe(config)}`)
    }
    let fromFile: Partial<CollectionConfig> = {}
    if (format === 'parquet') {
      const info = await call(() => parquetFileInfo(path))
      fromFile = { dimension: info.dimension || undefined, metric: (info.metric ?? undefined) as Metric | undefined }
      const schema = JSON.parse(info.schema) as [string, FieldType][]
      if (schema.length > 0) fromFile.schema = Object.fromEntries(schema)
    } else if (config?.dimension === undefined) {
      throw new InvalidArgumentError('importCollection: an NDJSON file does not say its dimension and metric; pass config { dimension, metric }')
    }
    const merged = { ...fromFile, ...config }
    if (merged.metric === undefined) delete merged.metric
    const collection = await this.createCollection(name, merged as CollectionConfig)
    try {
      await collection.import(path, opts)
    } catch (e) {
      await this.dropCollection(name).catch(() => {})
      throw e
    }
    return collection
  }

  /** The collection named `name`; `NotFoundError` if there is none. */
  getCollection(name: string): Collection {
    checkName(name)
    return new Collection(callSync(() => this.#native.collection(name)), this)
  }

  /** Names of all collections, sorted. */
  listCollections(): string[] {
    return callSync(() => this.#native.listCollections())
  }

  /** Deletes a collection and its files; existing handles to it then throw `NotFoundError`. */
  async dropCollection(name: string): Promise<void> {
    checkName(name)
    await call(() => this.#native.dropCollection(name))
  }

  /** `Collection.verify()` of every collection, in one report. */
  async verify(): Promise<VerifyReport> {
    return toVerifyReport(await call(() => this.#native.verify()))
  }

  /** Checkpoints every collection and releases the directory. Later calls throw
   * `ClosedError`. Closing twice is harmless. */
  async close(): Promise<void> {
    clearInterval(this.#refreshTimer)
    await call(() => this.#native.close())
  }

  /** `close()`, for `await using db = await LibraVDB.open(path)` (TypeScript 5.2+, Node 20.4+):
   * the database closes when the block exits, also on a throw. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new InvalidArgumentError(`a collection name must be a string, got ${describe(name)}`)
}
