/**
 * `LibraVDB`: an embedded database, a directory of collections (or memory only).
 * One process opens a directory for writing at a time (a second writer gets `LockedError`);
 * any number of processes may open it beside the writer with `readOnly: true`.
 */
import { EventEmitter } from 'node:events'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Collection } from './collection'
import { type ByteSize, checkOptionalFunction, describe, optionsObject, parseBytes } from './check'
import { type CollectionConfig, type Metric, type OpenOptions, validateCollectionConfig, validateOpenOptions } from './config'
import { type FieldType, nativeSchema } from './filter'
import { type ImportOptions, formatOf } from './transfer'
import { InvalidArgumentError } from './errors'
import { type ConfigOptions, NativeDatabase, type NativeVectorField, call, callSync, cancellableWrite, configOptions, parquetFileInfo } from './native'
import { type BackupOptions, type BackupResult, type VerifyReport, toVerifyReport } from './records'
import type { CollectionMemory, MemoryUsage } from './stats'
import { fieldConfig, vectorFieldSpec } from './named'

/**
 * An open database: `LibraVDB.open(path)` (on disk) or `LibraVDB.open()` (in memory). Holds
 * collections; close it with `close()` or `await using`.
 *
 * Events: `'memoryPressure'` (with a {@link MemoryUsage}) once each time the memory its
 * collections hold crosses `memoryPressure x memoryLimit` upwards; by then caches are emptied
 * and resident pages of mapped files released.
 */
export class LibraVDB extends EventEmitter<LibraVDBEvents> {
  readonly #native: NativeDatabase
  /** The directory (undefined: in memory). */
  readonly #path: string | undefined
  /** The automatic refresh of a read-only handle (unref'd: it never keeps the process up). */
  #refreshTimer: NodeJS.Timeout | undefined
  #refreshing: Promise<void> | undefined

  private constructor(native: NativeDatabase, path: string | undefined, refreshIntervalMs: number) {
    super()
    this.#native = native
    this.#path = path
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
      NativeDatabase.open(path, {
        fsync: o.fsync,
        checkpointWalBytes: o.checkpointBytes,
        readOnly: o.readOnly,
        memoryLimit: o.memoryLimit as number | undefined,
        memoryPressure: o.memoryPressure,
        metadataCacheBytes: o.metadataCache as number | undefined,
        querySample: o.querySample,
        changeRetentionBytes: o.changeRetention?.bytes as number | undefined,
        changeRetentionMs: o.changeRetention?.ms,
      }),
    )
    return new LibraVDB(native, path, o.readOnly ? (o.refreshIntervalMs ?? 1000) : 0)
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
        dimension: cfg.dimension ?? 0,
        vectors: cfg.vectors && Object.entries(cfg.vectors).map(([name, f]) => vectorFieldSpec(name, f)),
        metric: cfg.metric,
        ...nativeSchema(cfg.schema),
        // The engine reads index and quantization options from their API objects.
        index: cfg.index && JSON.stringify(cfg.index),
        quantization: cfg.quantization && JSON.stringify(cfg.quantization),
        memoryLimit: cfg.memoryLimit as number | undefined, // parsed to bytes by the validation
        mmap: cfg.storage?.mmap === undefined ? undefined : String(cfg.storage.mmap),
      }),
    )
    return new Collection(native, this, this.#afterWrite)
  }

  /**
   * Creates collection `name` from an export (Parquet or NDJSON, see `Collection.export`)
   * or another tool's Parquet file. A Parquet export says its dimension, metric, index,
   * quantization, schema and named vector fields (each with its index and quantization);
   * `config` adds to or overrides them (an index, say: then the export's index and
   * quantization are both left out) and is required for NDJSON. Either the
   * whole file is imported or, on an error or cancel, the new collection is dropped again.
   */
  async importCollection(name: string, path: string, config?: Partial<CollectionConfig>, opts?: ImportOptions): Promise<Collection> {
    checkName(name)
    const format = formatOf(path, opts?.format, 'importCollection')
    if (config !== undefined && (typeof config !== 'object' || config === null)) {
      throw new InvalidArgumentError(`importCollection: config must be an object, got ${describe(config)}`)
    }
    let fromFile: Partial<CollectionConfig> = {}
    // Named vector fields a collection with an unnamed vector had: added after it is created.
    let added: NativeVectorField[] = []
    if (format === 'parquet') {
      const info = await call(() => parquetFileInfo(path))
      if (info.dimension > 0 || info.vectors.length === 0) {
        fromFile = { dimension: info.dimension || undefined, metric: (info.metric ?? undefined) as Metric | undefined }
        // The exported index and quantization, unless `config` names either (then its own).
        if (info.index != null && config?.index === undefined && config?.quantization === undefined) {
          fromFile.index = JSON.parse(info.index) as CollectionConfig['index']
          if (info.quantization != null) fromFile.quantization = JSON.parse(info.quantization) as CollectionConfig['quantization']
        }
        added = info.vectors
      } else {
        fromFile = { vectors: Object.fromEntries(info.vectors.map((f) => [f.name, fieldConfig(f)])) }
      }
      const schema = JSON.parse(info.schema) as [string, FieldType][]
      if (schema.length > 0) fromFile.schema = Object.fromEntries(schema)
    } else if (config?.dimension === undefined && config?.vectors === undefined) {
      throw new InvalidArgumentError('importCollection: an NDJSON file does not say its dimension and metric; pass config { dimension, metric } (or { vectors })')
    }
    const merged = { ...fromFile, ...config }
    if (merged.metric === undefined) delete merged.metric
    const collection = await this.createCollection(name, merged as CollectionConfig)
    try {
      for (const f of added) await collection.addVectorField(f.name, fieldConfig(f))
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
    return new Collection(callSync(() => this.#native.collection(name)), this, this.#afterWrite)
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

  /**
   * What the collections hold in memory now, by structure, against the limit. `total` (heap
   * and anonymous memory) is what `memoryLimit` is measured against; each collection's
   * `mapped` bytes are file-backed and reclaimable, `resident` the part of them in memory.
   */
  memoryUsage(): MemoryUsage {
    const u = callSync(() => this.#native.memoryUsage())
    const collections: Record<string, CollectionMemory> = {}
    u.names.forEach((name, i) => (collections[name] = u.parts[i]))
    const limit = u.limit ?? null
    return {
      total: u.total,
      limit,
      available: limit === null ? null : Math.max(0, limit - u.total),
      pressure: u.pressure,
      underPressure: u.underPressure,
      pressureEvents: u.pressureEvents,
      collections,
    }
  }

  /**
   * Sets the memory limit (bytes or a size like `'1GB'`; `null` removes it). Raising it lets
   * writes refused with `MemoryLimitError` go through again; lowering it below what is held
   * refuses writes that add memory until enough is freed (deletes and `optimize()` work).
   */
  setMemoryLimit(limit: ByteSize | null): void {
    const bytes = limit === null ? null : parseBytes('setMemoryLimit', limit)
    callSync(() => this.#native.setMemoryLimit(bytes))
  }

  /** After every write: on a crossing of the pressure threshold, relieves every collection
   * (off the JS thread) and emits `'memoryPressure'`. */
  readonly #afterWrite = (): void => {
    if (!this.#native.takePressureCrossing()) return
    this.#native.relieveMemory().catch(() => {})
    let usage: MemoryUsage
    try {
      usage = this.memoryUsage()
    } catch {
      return // closed meanwhile
    }
    process.nextTick(() => this.emit('memoryPressure', usage))
  }

  /**
   * Writes a consistent copy of the database into `dir` (new or empty) while reads and writes
   * go on, like SQLite's online backup or a RocksDB checkpoint: each collection as of a
   * checkpoint fence plus the writes logged until its copy ends, the checkpoint's files
   * hard-linked where the file system allows (else copied), the rest copied. `LibraVDB.open(dir)`
   * opens it and `verify()` passes. A read-only handle (another process, the CLI beside a
   * running service) copies the writer's last checkpoint and its WAL as they stand. Cancelled
   * or failed: nothing is left in `dir`; a crash leaves a directory that refuses to open
   * (`ERR_CORRUPTED`: an unfinished backup).
   */
  async backup(dir: string, opts?: BackupOptions): Promise<BackupResult> {
    if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError(`backup needs a target directory, got ${describe(dir)}`)
    const o = optionsObject<BackupOptions>('backup options', opts ?? {}, ['onProgress', 'signal', 'timeoutMs'])
    const onProgress = checkOptionalFunction<NonNullable<BackupOptions['onProgress']>>('backup options.onProgress', o.onProgress)
    const totalBytes = this.#path === undefined ? 0 : diskBytes(join(this.#path, 'collections'))
    const t0 = performance.now()
    const r = await cancellableWrite(o, (token) => this.#native.backup(dir, token), onProgress && ((bytes) => onProgress({ bytes, totalBytes })))
    return { collections: r.collections, bytes: r.bytes, durationMs: performance.now() - t0 }
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

/** The events a {@link LibraVDB} emits. */
export interface LibraVDBEvents {
  /** The held memory crossed `memoryPressure x memoryLimit` upwards (once per crossing). */
  memoryPressure: [usage: MemoryUsage]
}

/** Bytes of the files under `dir` (what a backup of it will write, about). */
function diskBytes(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name)
    total += entry.isDirectory() ? diskBytes(p) : statSync(p, { throwIfNoEntry: false })?.size ?? 0
  }
  return total
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new InvalidArgumentError(`a collection name must be a string, got ${describe(name)}`)
}
