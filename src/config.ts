/**
 * Public configuration types and their shape checks. Only shape is checked here (types,
 * known keys, enum spelling); ranges and semantics are checked once, in the engine, and
 * defaults live there too: an option left `undefined` takes the engine's default. Which
 * options each index and quantization type takes is read from the engine's table
 * (`configOptions`, public as `LibraVDB.defaults`).
 */
import { type ByteSize, checkKeys, checkOptionalBoolean, checkOptionalInteger, describe, isPlainObject, optionsObject, parseBytes } from './check'
import { InvalidArgumentError } from './errors'
import { type Schema, validateSchema } from './filter'
import { type ConfigOptions, configOptions } from './native'

/** Options of {@link LibraVDB.open}. */
export interface OpenOptions {
  /**
   * fdatasync the write-ahead log after every write batch, before its promise resolves.
   * Default `true`: an acknowledged write survives a crash and a power loss. `false` keeps
   * crash safety for process kills but may lose the last batches on power loss.
   */
  fsync?: boolean
  /** Checkpoint a collection once its write-ahead log exceeds this many bytes. Default 64 MiB. */
  checkpointBytes?: number
  /**
   * Open beside another process that has the database open for writing (Node `cluster`,
   * PM2 workers): takes no lock and changes no file; searches see the writer's last
   * checkpoint plus its write-ahead log as of the last refresh; writes throw `ReadOnlyError`.
   * Default `false`.
   */
  readOnly?: boolean
  /**
   * With `readOnly`: how often to pick up the writer's new writes, checkpoints and
   * collections (`db.refresh()` does it on demand). Default 1000 ms; 0 turns it off.
   */
  refreshIntervalMs?: number
  /**
   * The most heap and anonymous memory the database's collections may hold (vectors and
   * links of in-memory collections, index structure, codes, payload indexes, ids, metadata
   * on the heap, caches), as bytes or a size such as `'512MB'` or `'2GiB'`. File-backed
   * mapped pages (vectors, links and metadata of on-disk collections) do not count: the
   * kernel can reclaim them. A write that would pass the limit throws `MemoryLimitError` and
   * changes nothing; reads, deletes and `optimize()` go on. Default: no limit.
   */
  memoryLimit?: ByteSize
  /**
   * Share of `memoryLimit` past which the database is under pressure: it empties its caches,
   * releases the resident pages of mapped files and emits `'memoryPressure'` once per
   * crossing. Default 0.8.
   */
  memoryPressure?: number
  /**
   * Bytes of metadata texts each on-disk collection keeps decoded in memory for `get` and
   * search results (a size like `'16MB'`, or 0 for none). Default 16 MiB.
   */
  metadataCache?: ByteSize
  /**
   * Query vectors each collection keeps, a uniform sample of all it has been asked since it
   * was opened (in memory, counted as a cache), for `tune()` and `index.targetRecall` to
   * measure recall on queries like your users'. Up to `querySample x dimension x 4` bytes a
   * collection (1.5 MB at 1,000 x 384). Default 1000; 0 keeps none.
   */
  querySample?: number
  /**
   * How long each collection keeps its changes for `changes()` after a checkpoint has made
   * them redundant for recovery: the checkpointed write-ahead logs are kept on disk (moved,
   * not copied: the feed costs no extra write) until they hold more than `bytes` (oldest
   * deleted first) or are older than `ms`. A `since` older than what is kept throws
   * `ChangesExpiredError`. Default `{ bytes: '256MB', ms: 86_400_000 }` (256 MiB or 24
   * hours, whichever runs out first); either at 0 keeps nothing past a checkpoint.
   */
  changeRetention?: ChangeRetention
}

/** {@link OpenOptions.changeRetention}. */
export interface ChangeRetention {
  /** Bytes of checkpointed logs kept per collection (a number or a size like `'1GB'`). Default 256 MiB. */
  bytes?: ByteSize
  /** Age in milliseconds past which a checkpointed log is deleted. Default 24 hours. */
  ms?: number
}

/** Similarity measure of a collection. */
export type Metric = 'l2' | 'cosine' | 'dot'

/** Exact search over every vector: the recall reference. */
export interface FlatIndexConfig {
  /** Exact search: every vector scored. */
  type: 'flat'
}

/**
 * Hierarchical navigable small-world graph: approximate search, typically recall@10 > 0.95
 * at a small fraction of a flat scan's cost. Built in parallel on all cores as records arrive.
 */
export interface HnswIndexConfig {
  /** Graph index (Hierarchical Navigable Small World). */
  type: 'hnsw'
  /** Neighbours per node on the upper levels; level 0 keeps `2m`. Higher: better recall at
   * high dimension, more memory (about `(2m + 1) * 4` bytes per vector) and slower inserts.
   * 2 to 128, default 16. */
  m?: number
  /** Beam width while inserting: higher builds a better graph, more slowly. 1 to 4096,
   * default 200. */
  efConstruction?: number
  /** Default beam width of a query (raised to `k` when smaller): the recall / speed knob.
   * Override per query with `search(v, { efSearch })`. Default 64. */
  efSearch?: number
  /** Recall@10 to keep the default breadth tuned for: the collection runs `tune()` by itself
   * once it holds 1,000 records, after `rebuild()` and promotion, and whenever it has doubled
   * since the last tune (in the background; `stats().tunedAt` says when). */
  targetRecall?: number
}

/**
 * Inverted file with product-quantized residuals: vectors are grouped around `nlist` k-means
 * centroids and stored as `m`-byte codes; a query probes the `nprobe` nearest groups and
 * re-ranks the best candidates on full precision. Several times less memory than HNSW (the
 * full-precision vectors stay on disk, read only to re-rank), at more work per query.
 * Searches are exact until the collection holds 10,000 vectors (status `'pending'` in
 * `stats().quantization`); the index then trains and files every record, and (when `nlist`
 * is left to it) retrains in the background as the collection grows (first at twice the
 * records it trained on, then every 4x).
 * Takes no `quantization` option: its codes are its quantization.
 */
export interface IvfPqIndexConfig {
  /** Inverted lists of product-quantized residual codes. */
  type: 'ivfpq'
  /** Coarse lists, 1 to 65536. Default: about the square root of the vectors held when the
   * index trains, revisited as the collection grows: once the live records reach 2 x nlist²
   * (the first time, twice those at training) the index retrains in the background
   * (`stats().indexState` is `'building'`, searches go on) with √(2 x live) lists, sized for the
   * growth to the next retraining (at 4x). A value set here stays fixed. `stats().nlist`
   * says what the index has. */
  nlist?: number
  /** Lists probed per query: the recall / speed knob. Override per query with
   * `search(v, { nprobe })`. Default: nlist / 16, at least 8. */
  nprobe?: number
  /** Sub-spaces of the residual codes (must divide the dimension): m bytes per vector at 8
   * bits. Default: dimension / 4 (or / 2, / 1 when 4 does not divide it): codes 16x smaller
   * than full precision. */
  m?: number
  /** Bits per sub-space code: 8 (default) or 4. */
  bits?: 8 | 4
  /** Candidates re-ranked on full precision: `k * rerank` (0 to 100; 0 returns the codes'
   * order). Default 16. */
  rerank?: number
  /** Recall@10 to keep the default breadth tuned for: the collection runs `tune()` by itself
   * once it holds 1,000 records, after `rebuild()` and promotion, and whenever it has doubled
   * since the last tune (in the background; `stats().tunedAt` says when). */
  targetRecall?: number
}

/**
 * Exact (flat) search while the collection is small; once it holds `flatThreshold` live
 * records, the `promoteTo` index (with its default parameters) is built on a background
 * thread while reads and writes go on against the flat index, then switched to atomically.
 * `stats().activeIndex` says which one serves, `stats().indexState` whether the build runs.
 * A crash during the build reopens on the flat index and builds again.
 */
export interface AutoIndexConfig {
  /** Flat until `flatThreshold` records, then promoted in the background. */
  type: 'auto'
  /** Live records at which the index is promoted. Default 10,000. */
  flatThreshold?: number
  /** What it becomes: `'hnsw'` (default) or `'ivfpq'`. */
  promoteTo?: 'hnsw' | 'ivfpq'
  /** Recall@10 to keep the default breadth tuned for: the collection runs `tune()` by itself
   * once it holds 1,000 records, after `rebuild()` and promotion, and whenever it has doubled
   * since the last tune (in the background; `stats().tunedAt` says when). */
  targetRecall?: number
}

/** Index of a collection. */
export type IndexConfig = FlatIndexConfig | HnswIndexConfig | IvfPqIndexConfig | AutoIndexConfig

/**
 * Scalar quantization: each component becomes `bits` (8: 4x smaller, 4: 8x smaller) between
 * per-dimension bounds learned from the data. Recall stays within about 1% of full precision;
 * over HNSW, 8-bit codes walk a beam an eighth wider than `efSearch` and re-rank `k * 2` on
 * full precision, which holds recall at or above full precision's at every efSearch on real
 * 384-d embeddings while answering 1.4-2x the queries per second (more memory: a quarter of
 * the vectors' size for the codes, besides the vectors themselves).
 */
export interface ScalarQuantizationConfig {
  /** Scalar quantization: each component to 8 or 4 bits. */
  type: 'scalar'
  /** 8 (default) or 4. */
  bits?: 8 | 4
  /** Share of the collection sampled for training (0, 1], default 0.1. */
  trainRatio?: number
  /** Candidates re-ranked on full precision: `k * oversampling` (1-100; default 2 at 8 bits, 4 at 4 bits). */
  oversampling?: number
}

/**
 * Product quantization: the vector is cut into `m` sub-vectors, each stored as the index of
 * its nearest of `2^bits` learned centroids: `m` bytes per vector at 8 bits (e.g. 32x smaller
 * for 128-d with m = 16). `m` must divide the dimension.
 */
export interface ProductQuantizationConfig {
  /** Product quantization: sub-vectors to codebook entries. */
  type: 'product'
  /** Sub-spaces; default 16 (or the dimension if smaller). */
  m?: number
  /** 8 (default) or 4. */
  bits?: 8 | 4
  /** Share of the collection sampled for training (0, 1], default 0.1; at least 16 vectors
   * per centroid (4,096 for 8 bits, 256 for 4), so training waits for that many. */
  trainRatio?: number
  /** Candidates re-ranked on full precision: `k * oversampling` (1-100, default 32: PQ codes
   * are coarse, and re-ranking is what brings recall back). */
  oversampling?: number
}

/**
 * How vectors are compressed for search. Codes are searched and the best
 * `k * oversampling` candidates re-ranked on the full-precision vectors, which stay on disk
 * (mmap). Training waits until the collection holds 1,000 vectors; until then searches run
 * on full precision and `stats().quantization` is `'pending'`.
 */
export type QuantizationConfig = ScalarQuantizationConfig | ProductQuantizationConfig

/**
 * A named vector field of a collection (`CollectionConfig.vectors`): its own dimension,
 * metric, index and quantization: every index, quantization and `targetRecall` the unnamed
 * vector takes, each working on the field's own records (those that have it): a quantizer or
 * an IVF-PQ index trains once enough records have the field (`stats().fields[i].quantization`),
 * an IVF-PQ index that chose its own `nlist` retrains as the field grows, an `auto` index is
 * promoted once `flatThreshold` records have the field, and a `targetRecall` is tuned for in
 * the background (`stats().fields[i].tunedAt`).
 */
export interface VectorFieldConfig {
  /** Components per vector, 1 to 65536. */
  dimension: number
  /** As `CollectionConfig.metric` (default `'l2'`). */
  metric?: Metric
  /** Default `{ type: 'flat' }` (exact). */
  index?: IndexConfig
  /** As `CollectionConfig.quantization`, for this field (default none). */
  quantization?: QuantizationConfig
}

/** Configuration of a new collection: dimension and metric are fixed for its lifetime; index and quantization change with `Collection.rebuild()`, the schema with `addField` / `dropField`. */
export interface CollectionConfig {
  /** Components per vector, 1 to 65536: the collection's one (unnamed) vector. Give either
   * this or `vectors`. */
  dimension?: number
  /**
   * Named vector fields instead of one vector: field name (1-64 characters of letters,
   * digits, `_` and `-`) -> its configuration, e.g. `{ body: { dimension: 384, metric:
   * 'cosine', index: { type: 'hnsw' } }, title: { dimension: 384, metric: 'cosine' } }`.
   * Records carry `vectors: { body, title }` (any may be absent); `search(q, { using })`
   * searches one field. `metric`, `index` and `quantization` then belong to the fields.
   */
  vectors?: Record<string, VectorFieldConfig>
  /**
   * `'l2'` (default): Euclidean distance, score = distance, lower is closer.
   * `'cosine'`: vectors are normalised on insert, score = cosine similarity, higher is closer.
   * `'dot'`: score = inner product, higher is closer.
   */
  metric?: Metric
  /** Default `{ type: 'flat' }` (exact). */
  index?: IndexConfig
  /** Default none (full precision). */
  quantization?: QuantizationConfig
  /**
   * Typed metadata fields, e.g. `{ category: 'string', price: 'float', tags: 'string[]',
   * publishedAt: 'date' }`: validated on every write (`SchemaError` names the field and value)
   * and indexed, so filters on them are counted and planned (see `explain()`). Other fields
   * are stored and filterable record by record.
   */
  schema?: Schema
  /**
   * This collection's own memory limit (as `OpenOptions.memoryLimit`, counted on this
   * collection's part only), kept with the collection. Default: only the database's limit.
   */
  memoryLimit?: ByteSize
  /** How an on-disk collection holds its vectors and HNSW links. */
  storage?: StorageConfig
}

/** `CollectionConfig.storage`. */
export interface StorageConfig {
  /**
   * `'auto'` (default): served from mapped files (the kernel's page cache keeps what is read
   * and reclaims it under pressure); with a database `memoryLimit`, loaded into anonymous
   * memory instead while vectors and links take less than a quarter of the remaining budget,
   * and mapped again once the collection outgrows that. Under a memory bound (a limit on the
   * database or the collection, or pressure) quantized and IVF-PQ collections read full
   * precision for re-ranking with `pread`, so it stays out of the process (resident: the codes
   * only); without one they re-rank through the map. `true`: always mapped, re-ranks read through the map (faster re-ranks
   * once the pages are in: quantized q/s 1.25x (SQ8) to 1.7x (PQ) on 50k x 128 in this
   * project's measurement, at the cost of full precision resident). `false`: loaded into
   * anonymous memory at open and counted against memory limits. In-memory databases accept
   * only `'auto'`: their vectors are in anonymous memory already.
   */
  mmap?: boolean | 'auto'
}

const METRICS: readonly string[] = ['l2', 'cosine', 'dot']

export function validateOpenOptions(v: unknown): OpenOptions {
  const o = optionsObject<OpenOptions>('open options', v, [
    'fsync',
    'checkpointBytes',
    'readOnly',
    'refreshIntervalMs',
    'memoryLimit',
    'memoryPressure',
    'metadataCache',
    'querySample',
    'changeRetention',
  ])
  if (o.memoryLimit !== undefined) o.memoryLimit = parseBytes('open options.memoryLimit', o.memoryLimit)
  if (o.metadataCache !== undefined && o.metadataCache !== 0) {
    o.metadataCache = parseBytes('open options.metadataCache', o.metadataCache)
  }
  if (o.memoryPressure !== undefined && !(typeof o.memoryPressure === 'number' && o.memoryPressure > 0 && o.memoryPressure <= 1)) {
    throw new InvalidArgumentError(`open options.memoryPressure must be a number in (0, 1], got ${describe(o.memoryPressure)}`)
  }
  checkOptionalBoolean('open options.fsync', o.fsync)
  checkOptionalInteger('open options.checkpointBytes', o.checkpointBytes, 0)
  checkOptionalBoolean('open options.readOnly', o.readOnly)
  checkOptionalInteger('open options.refreshIntervalMs', o.refreshIntervalMs, 0)
  checkOptionalInteger('open options.querySample', o.querySample, 0, 100_000)
  if (o.changeRetention !== undefined) {
    const r = optionsObject<ChangeRetention>('open options.changeRetention', o.changeRetention, ['bytes', 'ms'])
    const bytes = r.bytes === undefined || r.bytes === 0 ? r.bytes : parseBytes('open options.changeRetention.bytes', r.bytes)
    checkOptionalInteger('open options.changeRetention.ms', r.ms, 0)
    o.changeRetention = { bytes, ms: r.ms }
  }
  if (o.refreshIntervalMs !== undefined && !o.readOnly) {
    throw new InvalidArgumentError('open options.refreshIntervalMs applies only with readOnly: true')
  }
  return o
}

export function validateCollectionConfig(v: unknown): CollectionConfig {
  if (!isPlainObject(v)) throw new InvalidArgumentError(`collection config must be an object, got ${describe(v)}`)
  checkKeys('collection config', v, ['dimension', 'vectors', 'metric', 'index', 'quantization', 'schema', 'memoryLimit', 'storage'])
  if (v.storage !== undefined) {
    if (!isPlainObject(v.storage)) throw new InvalidArgumentError(`collection config.storage must be an object, got ${describe(v.storage)}`)
    checkKeys('collection config.storage', v.storage, ['mmap'])
    const mmap = v.storage.mmap
    if (mmap !== undefined && typeof mmap !== 'boolean' && mmap !== 'auto') {
      throw new InvalidArgumentError(`collection config.storage.mmap must be true, false or 'auto', got ${describe(mmap)}`)
    }
  }
  const memoryLimit = v.memoryLimit === undefined ? undefined : parseBytes('collection config.memoryLimit', v.memoryLimit)
  validateSchema(v.schema)
  if (v.vectors !== undefined) {
    validateVectorFields(v)
    return (memoryLimit === undefined ? v : { ...v, memoryLimit }) as unknown as CollectionConfig
  }
  if (typeof v.dimension !== 'number' || !Number.isInteger(v.dimension)) {
    throw new InvalidArgumentError(`collection config.dimension must be an integer, got ${describe(v.dimension)}`)
  }
  if (v.metric !== undefined && (typeof v.metric !== 'string' || !METRICS.includes(v.metric))) {
    throw new InvalidArgumentError(
      `collection config.metric must be one of ${METRICS.join(', ')}, got ${describe(v.metric)}`,
    )
  }
  if (v.index !== undefined) validateIndexConfig('collection config.index', v.index)
  if (v.quantization !== undefined) validateQuantizationConfig('collection config.quantization', v.quantization)
  return (memoryLimit === undefined ? v : { ...v, memoryLimit }) as unknown as CollectionConfig
}

/** `vectors` of a collection config: an object of fields, each with an integer dimension,
 * a metric, a flat or HNSW index and a quantization; the collection-level vector options are theirs then. */
function validateVectorFields(v: Record<string, unknown>): void {
  for (const key of ['dimension', 'metric', 'index', 'quantization']) {
    if (v[key] !== undefined) {
      throw new InvalidArgumentError(`collection config.${key} belongs to each vector field when vectors is given; set vectors.<name>.${key}`)
    }
  }
  if (!isPlainObject(v.vectors) || Object.keys(v.vectors).length === 0) {
    throw new InvalidArgumentError(`collection config.vectors must be an object of field name -> { dimension, metric?, index?, quantization? }, got ${describe(v.vectors)}`)
  }
  for (const [name, f] of Object.entries(v.vectors)) validateVectorField(`collection config.vectors.${name}`, f)
}

/** One named vector field's configuration: an integer dimension, a metric, an index, a quantization. */
export function validateVectorField(path: string, f: unknown): VectorFieldConfig {
  if (!isPlainObject(f)) throw new InvalidArgumentError(`${path} must be an object, got ${describe(f)}`)
  checkKeys(path, f, ['dimension', 'metric', 'index', 'quantization'])
  if (typeof f.dimension !== 'number' || !Number.isInteger(f.dimension)) {
    throw new InvalidArgumentError(`${path}.dimension must be an integer, got ${describe(f.dimension)}`)
  }
  if (f.metric !== undefined && (typeof f.metric !== 'string' || !METRICS.includes(f.metric))) {
    throw new InvalidArgumentError(`${path}.metric must be one of ${METRICS.join(', ')}, got ${describe(f.metric)}`)
  }
  if (f.index !== undefined) validateIndexConfig(`${path}.index`, f.index)
  if (f.quantization !== undefined) validateQuantizationConfig(`${path}.quantization`, f.quantization)
  return f as unknown as VectorFieldConfig
}

/** Checks the shape of an index config (`path` names it in errors). */
export function validateIndexConfig(path: string, index: unknown): IndexConfig {
  return checkTypedOptions(path, index, configOptions.index) as unknown as IndexConfig
}

/** Checks the shape of a quantization config (`path` names it in errors). */
export function validateQuantizationConfig(path: string, q: unknown): QuantizationConfig {
  return checkTypedOptions(path, q, configOptions.quantization) as unknown as QuantizationConfig
}

/**
 * An index or quantization object: a string `type`, only the options the engine's table
 * lists for it, each a string or a finite number. Which options take integers, fractions or
 * strings the engine checks when it reads the object (it travels as JSON, which would turn
 * NaN and Infinity into null, so those stop here).
 */
function checkTypedOptions(path: string, v: unknown, table: ConfigOptions['index']): Record<string, unknown> {
  if (!isPlainObject(v) || typeof v.type !== 'string') {
    throw new InvalidArgumentError(`${path} must be an object with a string 'type', got ${describe(v)}`)
  }
  // Unknown types are left to the engine, which names the valid ones.
  checkKeys(path, v, ['type', ...Object.keys(table[v.type] ?? {})])
  for (const [key, x] of Object.entries(v)) {
    if (key !== 'type' && x !== undefined && typeof x !== 'string' && !(typeof x === 'number' && Number.isFinite(x))) {
      throw new InvalidArgumentError(`${path}.${key} must be a finite number or a string, got ${describe(x)}`)
    }
  }
  return v
}
