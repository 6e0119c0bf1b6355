/**
 * What `stats()` and `memoryUsage()` report: a collection's size and footprint, its named
 * vector fields, and what each collection holds in memory.
 */
import type { Metric } from './config'

/** Size and footprint of a collection. */
export interface CollectionStats {
  /** Live records. */
  count: number
  /** Rows in the vector store, live or deleted (deleted rows are reused or reclaimed by
   * `optimize()`). */
  rows: number
  /** Deleted rows not yet reused. */
  deleted: number
  /** Components per vector. */
  dimension: number
  /** The distance metric. */
  metric: Metric
  /** The configured index type. */
  index: 'flat' | 'hnsw' | 'ivfpq' | 'auto'
  /** The index searches use now. */
  activeIndex: 'flat' | 'hnsw' | 'ivfpq'
  /** `'building'` while a new index is built beside the active one: by `rebuild()`, an
   * `auto` index's promotion, or an IVF-PQ index retraining for a grown collection (it
   * retrains as the collection grows when `nlist` was left to it). Else `'ready'`. */
  indexState: 'ready' | 'building'
  /** Why an `auto` index's promotion (or a tune for `targetRecall`) failed, if it did (tried
   * again when the database reopens). */
  indexError?: string | null
  /** `index.targetRecall`, if set. */
  targetRecall?: number | null
  /** Live records when the collection last tuned itself for `targetRecall` (0: not yet). */
  tunedAt?: number | null
  /** IVF-PQ: the inverted lists of the trained index (`null` before training and for the
   * other indexes). */
  nlist?: number | null
  /** Bytes of index structure (the HNSW graph; 0 for flat). */
  indexBytes: number
  /** Bytes of stored vectors (rows x dimension x 4). */
  vectorBytes: number
  /** Bytes mapped for vector chunks; anonymous or file-backed, resident only as touched. */
  mappedBytes: number
  /** Bytes of the vector mappings resident in this process now (Linux). A quantized
   * on-disk collection releases them at each checkpoint; re-ranking faults back only what
   * it reads. */
  residentVectorBytes: number
  /** Stored bytes per live record's vector. */
  bytesPerVector: number
  /** Bytes of the id index (id strings and their hash table). */
  idBytes: number
  /** Bytes of stored metadata (encoded). */
  metadataBytes: number
  /** Bytes in the write-ahead log since the last checkpoint. */
  walBytes: number
  /**
   * The change-feed sequence number of the last write applied (each record an insert,
   * update or delete writes takes the next one; 0 before the first). Durable: it continues
   * after a reopen. See {@link Collection.changes}.
   */
  seq: number
  /** Bytes of checkpointed write-ahead logs kept on disk for `changes()` (`changeRetention`). */
  changeLogBytes: number
  /** Whether vectors live in mapped files (an on-disk database) rather than anonymous memory. */
  fileBacked: boolean
  /** `'none'`, or the quantizer's state: `'pending'` (too few vectors yet; searching on full
   * precision), `'trained'`, `'failed'` (see `quantizationError`; search stays on full precision). */
  quantization: 'none' | 'pending' | 'trained' | 'failed'
  /** Why training failed, when `quantization` is `'failed'`. */
  quantizationError?: string
  /** Trainings run so far (the quantizer's, or IVF-PQ's). A failed one is retried once the
   * collection has grown by half again, and at `optimize()` or `rebuild()`; meanwhile writes
   * and searches go on at full precision. */
  quantizationAttempts: number
  /** Bytes of quantized codes in memory. */
  codeBytes: number
  /** Full-precision bytes per code byte (0 until trained). */
  compression: number
  /** `storage.mmap` as configured: `'true'`, `'false'` or `'auto'`. */
  mmap: 'true' | 'false' | 'auto'
  /** Whether the vectors are in anonymous memory now (in-memory database, `mmap: false`, or
   * `'auto'` within its share of the memory limit) rather than served from mapped files. */
  vectorsInMemory: boolean
  /** This collection's part of `db.memoryUsage()`. */
  memory: CollectionMemory
  /** Metadata texts served from the cache (on-disk collections; see `OpenOptions.metadataCache`). */
  cacheHits: number
  /** Metadata texts read from the record file because the cache did not hold them. */
  cacheMisses: number
  /** Texts the cache dropped to stay within its bound. */
  cacheEvictions: number
  /** Bytes the cache holds now (never more than `cacheCapacity`). */
  cacheBytes: number
  /** The cache's bound in bytes (0: no cache, as for in-memory collections). */
  cacheCapacity: number
  /** Each named vector field (a collection created with `vectors`), in declaration order. */
  fields: VectorFieldStats[]
}

/** `CollectionStats.fields`: one named vector field. */
export interface VectorFieldStats {
  /** The field's name. */
  name: string
  /** Components per vector of the field. */
  dimension: number
  /** The field's metric. */
  metric: Metric
  /** The index searches use now: `'flat'`, `'hnsw'` or `'ivfpq'` (an `auto` index is
   * `'flat'` until its promotion). */
  index: string
  /** `'building'` while `rebuild({ using })` (or an IVF-PQ field's retraining for its grown
   * records) builds the field's next index beside the serving one; else `'ready'`. */
  indexState: 'ready' | 'building'
  /** IVF-PQ: the field's lists, once trained. */
  nlist?: number | null
  /** The field's `index.targetRecall`, if set. */
  targetRecall?: number | null
  /** Records with the field when it last tuned itself for `targetRecall` (0: not yet). */
  tunedAt?: number | null
  /** Records that have the field. */
  count: number
  /** Rows of the field's table: a replaced or deleted vector keeps its row until
   * `optimize()` frees it for the field's next vector. */
  rows: number
  /** Bytes of the field's full-precision vectors. */
  vectorBytes: number
  /** Bytes of the field's index. */
  indexBytes: number
  /** As `CollectionStats.quantization`, for this field's quantizer (or its IVF-PQ codes). */
  quantization: 'none' | 'pending' | 'trained' | 'failed'
  /** Why training failed, when `quantization` is `'failed'`. */
  quantizationError?: string
  /** Bytes of the field's quantized codes. */
  codeBytes: number
  /** Full-precision bytes per code byte (0 until trained). */
  compression: number
}

/**
 * What one collection holds in memory, in bytes, by structure. `held` (the sum of all but
 * `mapped` and `resident`) is heap and anonymous memory the process cannot give back: what
 * memory limits are measured against. `mapped` is file-backed (on-disk vectors, HNSW links
 * and metadata): the kernel reclaims it under pressure and reads it back from the files.
 */
export interface CollectionMemory {
  /** Full-precision vectors in anonymous memory (in-memory collections). */
  vectors: number
  /** Index structure on the heap: HNSW levels and upper layers (and level-0 links in memory),
   * IVF-PQ lists and codebooks. */
  index: number
  /** Quantized codes (scalar/product quantization, IVF-PQ), with what is kept beside them in
   * memory: 8-bit scalar codes of an L2 collection keep a 4-byte term per row where the CPU
   * scores them on integers (AVX-512 VNNI); `codeBytes` counts the codes alone. */
  codes: number
  /** Payload indexes of the schema fields. */
  payload: number
  /** The id map. */
  ids: number
  /** Metadata on the heap: the texts of in-memory collections, the offset table of on-disk ones. */
  metadata: number
  /** The metadata text cache. */
  cache: number
  /** The write being logged now (its encoded copies). */
  buffers: number
  /** File-backed mappings of vectors, links and metadata (reclaimable; not in `held`). */
  mapped: number
  /** Of `mapped`, the pages resident in this process now (Linux). */
  resident: number
  /** Sum of the parts that count against memory limits. */
  held: number
}

/** `db.memoryUsage()`. */
export interface MemoryUsage {
  /** Bytes held by every collection (heap and anonymous memory): what `memoryLimit` is
   * measured against; the sum of the collections' `held`. */
  total: number
  /** The database's memory limit in bytes, or `null` without one. */
  limit: number | null
  /** `limit - total` (never below 0), or `null` without a limit. */
  available: number | null
  /** The pressure threshold as a share of the limit (`OpenOptions.memoryPressure`). */
  pressure: number
  /** Whether `total` is past `pressure x limit` now. */
  underPressure: boolean
  /** How many times `total` crossed the pressure threshold upwards since the database opened. */
  pressureEvents: number
  /** Each collection's part, by name. */
  collections: Record<string, CollectionMemory>
}
