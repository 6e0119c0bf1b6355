/**
 * The shapes `Collection` accepts and returns: records, batches, search options and hits,
 * stats and query plans.
 */
import type { IndexConfig, QuantizationConfig } from './config'
import type { Filter } from './filter'
import type { BatchItemError } from './errors'
import type { CallOptions, NativeTuneReport } from './native'
import type { VectorLike } from './vectors'

/** Metadata of a record: a JSON-serialisable object. */
export type Metadata = Record<string, unknown>

/** A record to store. */
export interface VectorRecord {
  /** Non-empty string, unique in the collection (at most 1024 bytes). */
  id: string
  /** `dimension` finite numbers. A Float32Array is passed without copying. Required in a
   * collection with an unnamed vector (`dimension`); absent in one of named fields only. */
  vector?: VectorLike
  /** Named vector fields (a collection created with `vectors`): field -> vector of its
   * dimension. Any field may be absent; a search `using` it does not see the record. */
  vectors?: Record<string, VectorLike>
  /** Any JSON-serialisable object; fields in the schema are validated and indexed. */
  metadata?: Metadata
}

/** A stored record as returned by `get`. Vectors of cosine collections are unit length. */
export interface StoredRecord {
  /** The record's id. */
  id: string
  /** The stored vector (normalised for cosine); empty in a collection of named fields only. */
  vector: Float32Array
  /** The named vector fields the record has (a collection created with `vectors`). */
  vectors?: Record<string, Float32Array>
  /** The stored metadata; absent when the record has none. */
  metadata?: Metadata
}

/**
 * A batch in columnar form: `vectors` is one row-major block (ids.length x dimension) that
 * crosses into the engine without a copy: the fastest way to load data.
 */
export interface ColumnarBatch {
  /** One id per record. */
  ids: readonly string[]
  /** `ids.length * dimension` components, record after record. */
  vectors: Float32Array
  /** Per record metadata, aligned with `ids`; `null`/`undefined` for none. */
  metadata?: readonly (Metadata | null | undefined)[]
}

/** Changes to an existing record. `metadata: null` removes its metadata. */
export interface RecordUpdate {
  /** The record to change. */
  id: string
  /** A new vector; omitted keeps the stored one. */
  vector?: VectorLike
  /** Named vector fields to set (field -> vector) or remove (field -> `null`); fields not
   * named keep their vectors. */
  vectors?: Record<string, VectorLike | null>
  /** New metadata (replaces the whole object); `null` removes it; omitted keeps it. */
  metadata?: Metadata | null
}

/** Options of batch writes. */
export interface BatchOptions extends CallOptions {
  /** All items or none (default `true`). With `false`, valid items are applied and the
   * invalid ones listed in the report. */
  atomic?: boolean
}

/** Outcome of a batch write. */
export interface BatchResult {
  /** Items applied. */
  succeeded: number
  /** Items rejected (always 0 for an atomic batch, which throws instead). */
  failed: number
  /** Every rejected item, with its position, id, code and reason. */
  errors: BatchItemError[]
}

/** Options of a search. */
export interface SearchOptions extends CallOptions {
  /** Number of neighbours to return (default 10). */
  k?: number
  /** HNSW beam width for this search (default: the collection's `efSearch`); higher is more
   * accurate and slower. Ignored by flat collections. */
  efSearch?: number
  /** IVF-PQ lists probed for this search (default: the collection's `nprobe`); higher is
   * more accurate and slower. */
  nprobe?: number
  /** Only records whose metadata matches, e.g. `{ category: 'book', price: { $lt: 20 } }`. */
  filter?: Filter
  /** Return each hit's metadata (default false). */
  includeMetadata?: boolean
  /** Return each hit's stored vector (default false): with `using`, the field's. */
  includeVectors?: boolean
  /** The named vector field the query vector searches (a collection created with
   * `vectors`): only records that have the field are found; the query has the field's
   * dimension, scores and range bounds follow its metric. `InvalidArgumentError` for a name
   * that is not a field. Absent: the unnamed vector. */
  using?: string
  /** Range search on an `l2` collection: every record within this Euclidean distance, best
   * first, at most `k` of them (default 1000 when `k` is not given). Exact on a flat index;
   * on HNSW and IVF-PQ the records the search reaches (raise `k`, `efSearch` or `nprobe`
   * to reach more). */
  maxDistance?: number
  /** Range search on a `cosine` or `dot` collection: every record whose similarity is at
   * least this, as `maxDistance` does for `l2`. */
  minScore?: number
  /** Maximal marginal relevance: fetches the `fetchK` nearest records, then picks `k` of
   * them one at a time, each maximising `(1 - diversity) x` its cosine similarity to the
   * query `- diversity x` its highest similarity to those already picked; hits come in the
   * order picked. 0 is relevance only, 1 diversity only; from 0 to 1. */
  diversity?: number
  /** With `diversity`: the candidates to pick from (default 4 x k, at least 20). In a
   * hybrid search: the candidates each signal returns before fusion (default 2 x k, at
   * least 50). */
  fetchK?: number
  /** Hybrid search (a query with two or more of `vector`, `text`, `sparse`): how the
   * signals' lists become one. `'rrf'` (default): reciprocal rank fusion, each hit scoring the sum over signals of
   * `weight / (k + rank)` (k 60). `'weighted'`, or an object with `weights`: each signal's
   * scores scaled to 0..1 over its list (best 1), a hit scoring the weighted sum (0 for a
   * signal that missed it). Weights default to 1. */
  fusion?: Fusion
  /** Group-by: `k` is then the number of groups. Returns the best `k` groups of records
   * sharing this metadata field's value (a string, number or boolean; records without one
   * are left out), groups in the order of their best hit, each with its best `groupSize`
   * hits, every hit carrying its `group`. Looks at up to 10,000 nearest records. Not with
   * `diversity`. */
  groupBy?: string
  /** With `groupBy`: hits per group (default 1). */
  groupSize?: number
}

/** A full-text query: BM25 over the schema's `text` fields (all of them unless `fields`
 * names some). */
export interface TextQuery {
  /** The words to look for (analysed as each field analyses its text). */
  query: string
  /** The text fields to search (default: all). */
  fields?: string[]
}

/** A sparse vector (SPLADE, BM42 and the like): weights at a few dimensions. Stored in a
 * `sparse` schema field of the metadata; as a query, `field` names the field to search
 * (needed only when the schema has several). */
export interface SparseVector {
  /** The dimensions with a weight, distinct, 0 to 2^32 - 1. */
  indices: Uint32Array | number[]
  /** The weight at each of `indices` (finite). */
  values: Float32Array | number[]
  /** As a query: the sparse field to search (needed only when the schema has several). */
  field?: string
}

/** A query by one or more signals: `search({ vector, text, sparse }, opts)`. */
export interface HybridQuery {
  /** A query vector of the collection's dimension. */
  vector?: VectorLike
  /** A full-text query: its words, or `{ query, fields }`. */
  text?: string | TextQuery
  /** A sparse query vector, against a `sparse` schema field. */
  sparse?: SparseVector
  /** Named vector fields' query vectors (field -> vector of its dimension), each a signal fused
   * with the others (each taking the vector's weight). */
  vectors?: Record<string, VectorLike>
}

/** What `explain()` takes: search options, and a text query (with `vector: false` when the
 * search has no vector). */
export type ExplainOptions = Pick<SearchOptions, 'k' | 'efSearch' | 'nprobe' | 'filter' | 'fetchK' | 'fusion' | 'using'> & {
  /** The text query whose plan to show beside the vector's. */
  text?: string | TextQuery
  /** The sparse query whose plan to show. */
  sparse?: SparseVector
  /** Whether the search also has a vector (default true). */
  vector?: boolean
}

/** How a hybrid search fuses its signals (see {@link SearchOptions.fusion}). */
export type Fusion =
  | 'rrf'
  | 'weighted'
  | {
      /** `'rrf'` (default unless `weights` alone is given) or `'weighted'`. */
      method?: 'rrf' | 'weighted'
      /** RRF's k (default 60). */
      k?: number
      /** Each signal's weight (default 1). */
      weights?: {
        /** The vector signal's weight. */
        vector?: number
        /** The text signal's weight. */
        text?: number
        /** The sparse signal's weight. */
        sparse?: number
      }
    }

/** One search hit. `score` is the Euclidean distance for `l2` (lower is closer) and the
 * similarity for `cosine` and `dot` (higher is closer). Hits are best first. */
export interface SearchHit {
  /** The record's id. */
  id: string
  /** Distance (`l2`) or similarity (`cosine`, `dot`). */
  score: number
  /** With `includeMetadata`: the record's metadata, if it has any. */
  metadata?: Metadata
  /** With `includeVectors`: the stored vector. */
  vector?: Float32Array
  /** With `groupBy`: the group's value of that field. */
  group?: string | number | boolean
  /** Hybrid search: each signal's own score of this hit (the vector's distance or
   * similarity, the text's BM25, the sparse inner product), absent where that signal did not
   * return it; `score` is then the fused score (higher is better). */
  signals?: {
    /** The vector's distance (l2) or similarity (cosine, dot). */
    vector?: number
    /** The BM25 score. */
    text?: number
    /** The sparse inner product. */
    sparse?: number
    /** Each named field of the query: its distance (l2) or similarity (cosine, dot). */
    fields?: Record<string, number>
  }
}

/** What `verify()` read and found (`Collection.verify`, `LibraVDB.verify`). */
export interface VerifyReport {
  /** No damaged file. */
  ok: boolean
  /** Manifests, segments and WALs read whole and checked against their checksums. */
  filesChecked: number
  /** Vector and link chunks checked against the checksums of the last checkpoint. */
  chunksChecked: number
  /** Chunks written since the last checkpoint: checked against the next one. */
  chunksSkipped: number
  /** Every file found damaged. */
  damaged: {
    /** The collection it belongs to. */
    collection: string
    /** Its path inside the collection's directory. */
    file: string
    /** What is wrong with it. */
    reason: string
  }[]
}

/** A verify report from the engine's counts and damage list. */
/** Options of {@link LibraVDB.backup}. */
export interface BackupOptions extends CallOptions {
  /** Called every 100 ms and at the end with the bytes written so far and (about) the bytes
   * the database's files take. */
  onProgress?: (progress: { bytes: number; totalBytes: number }) => void
}

/** What {@link LibraVDB.backup} wrote. */
export interface BackupResult {
  /** The collections copied (one dropped during the backup is left out). */
  collections: string[]
  /** Bytes hard-linked or copied. */
  bytes: number
  /** Wall time of the backup, in milliseconds. */
  durationMs: number
}

/** The engine's tune report as {@link TuneResult}. */
export function toTuneResult(r: NativeTuneReport): TuneResult {
  const out: TuneResult = {
    recall: r.recall,
    source: r.source as TuneResult['source'],
    sampleSize: r.sampleSize,
    sweep: r.sweepSettings.map((breadth, i) => ({ breadth, recall: r.sweepRecalls[i] })),
  }
  if (r.knob === 'efSearch') out.efSearch = r.setting ?? undefined
  if (r.knob === 'nprobe') out.nprobe = r.setting ?? undefined
  return out
}

export function toVerifyReport(r: Omit<VerifyReport, 'ok'>): VerifyReport {
  return { ok: r.damaged.length === 0, ...r }
}

/** How a search would run: see {@link Collection.explain}. */
export interface QueryPlan {
  /** `'unfiltered'`; `'exact'`: distances to the matching records only; `'graph'`: HNSW walk
   * returning only matches, beam widened as selectivity falls; `'probe'`: IVF-PQ lists probed
   * returning only matches, more lists as selectivity falls; `'scan'`: flat scan with the
   * filter; `'empty'`: nothing matches. */
  plan: 'unfiltered' | 'exact' | 'graph' | 'probe' | 'scan' | 'empty'
  /** Matching records, counted by the payload indexes (absent when they cannot answer). */
  estimate?: number
  /** Live records. */
  live: number
  /** estimate / live. */
  selectivity?: number
  /** Beam width of a graph walk. */
  efSearch?: number
  /** IVF-PQ lists probed. */
  nprobe?: number
  /** Why this plan. */
  reason: string
  /** With a text query: what the full-text search reads. */
  text?: TextPlan
  /** With a sparse query: what the sparse search reads. */
  sparse?: SparsePlan
  /** With two or more signals: the fusion. */
  fusion?: 'rrf' | 'weighted'
  /** With two or more signals: the candidates each signal returns before fusion. */
  fetchK?: number
}

/** What a sparse-vector search reads (`explain({ sparse })`). */
export interface SparsePlan {
  /** The sparse field searched. */
  field: string
  /** The query's dimensions present in the index. */
  matchedDims: number
  /** Their postings entries. */
  postings: number
}

/** What a full-text search reads (`explain({ text })`). */
export interface TextPlan {
  /** The text fields searched. */
  fields: string[]
  /** The query's terms after analysis, in order (per field). */
  terms: string[]
  /** Query terms present in the index. */
  matchedTerms: number
  /** Entries in those terms' postings: what a search without pruning would read. */
  postings: number
}

/** What {@link Collection.rebuild} changes; an omitted part keeps its current settings. */
export interface RebuildTarget {
  /** The index to build instead of the current one (same shape as in `createCollection`). */
  index?: IndexConfig
  /** A quantization to add or change; `null` removes it. */
  quantization?: QuantizationConfig | null
  /** The named vector field to rebuild instead of the unnamed vector. */
  using?: string
}

/** Options of {@link Collection.rebuild}. */
export interface RebuildOptions extends CallOptions {
  /** Called about every 100 ms while the new index is built, and once at the end: rows
   * added to it so far, of the rows there are (rows written meanwhile raise `total`). */
  onProgress?: (progress: { done: number; total: number }) => void
}

/** Options of {@link Collection.tune}. */
export interface TuneOptions extends CallOptions {
  /** Recall@k to reach, in (0, 1]. */
  targetRecall: number
  /** Neighbours per query the recall is measured on. Default 10. */
  k?: number
  /** Queries measured on when they come from the collection's recent queries or its stored
   * vectors (a seeded choice). Default 200. */
  sample?: number
  /** Your own sample of real queries (a query log): `Float32Array` (n x dimension) or an array
   * of vectors, up to 10,000; every one is measured on. The best sample there is: recall on
   * them is what your users get. */
  queries?: Float32Array | readonly VectorLike[]
  /** The named vector field to tune instead of the unnamed vector (`queries` then of its
   * dimension; without them it measures on the field's stored vectors). */
  using?: string
}

/** What {@link Collection.tune} measured and set. */
export interface TuneResult {
  /** HNSW: the default beam width now set. */
  efSearch?: number
  /** IVF-PQ: the default lists probed now set. */
  nprobe?: number
  /** Recall@k measured on the sample at that setting (below the target only if even the
   * widest breadth of the sweep missed it). */
  recall: number
  /** Where the queries came from: your `queries`, the collection's `recent` queries, or
   * `stored` vectors (each searched as if it were not in the collection). */
  source: 'queries' | 'recent' | 'stored'
  /** Queries the recall was measured on. With n queries and k = 10, the figure's sampling
   * error is about sqrt(r (1 - r) / (10 n)) or more (neighbours of one query are not
   * independent): +-0.01 at r = 0.95 and n = 200 (two standard errors 0.015). */
  sampleSize: number
  /** Every breadth measured, narrow to wide, with its recall on the sample. */
  sweep: {
    /** `efSearch` (HNSW) or `nprobe` (IVF-PQ). */
    breadth: number
    /** Recall@k on the sample at that breadth. */
    recall: number
  }[]
}

/**
 * One committed write of one record, as {@link Collection.changes} delivers it.
 * - `insert`: a new record: `vector` and `metadata` (absent when it has none).
 * - `update`: an existing record changed: `vector` when it was replaced, `metadata` when it
 *   was set (`null` when it was cleared); what is absent kept its value. An upsert that
 *   replaced a record is an update with both.
 * - `delete`: the record is gone: neither.
 */
export interface Change {
  /** The change's sequence number: consecutive, in commit order, durable. */
  seq: number
  /** What the write did to the record. */
  op: 'insert' | 'update' | 'delete'
  /** The record's id. */
  id: string
  /** The vector after the change, as stored (unit length for cosine collections). */
  vector?: Float32Array
  /** The metadata after the change; `null`: cleared. */
  metadata?: Metadata | null
  /** Named vector fields: an insert (or an upsert's update) lists every field the record has
   * after it, an update the fields it set, `null` for one it removed. */
  vectors?: Record<string, Float32Array | null>
  /** Present (`true`) when the change carries the whole record: an insert, or an upsert that
   * replaced a record. A named field or the metadata it does not list, the record does not
   * have. Absent on an update: what it does not list was kept. */
  whole?: true
}

/** Options of {@link Collection.changes}. */
export interface ChangesOptions {
  /**
   * The sequence number to follow from (exclusive): the `seq` of the last change applied,
   * or of a snapshot (`scan()`'s `seq`, `export()`'s result, `stats().seq`). `'now'`
   * (default): only changes committed from now on. `'oldest'`: from the oldest change the
   * collection still keeps. A `since` older than the changes kept (`changeRetention`) throws
   * `ChangesExpiredError` from the first `next()`.
   */
  since?: number | 'now' | 'oldest'
  /**
   * `true` (default): once caught up, wait for new changes and deliver them as they are
   * committed. `false`: end once everything committed so far is delivered (a catch-up job).
   */
  follow?: boolean
  /** Ends the iteration (without an error) when aborted. */
  signal?: AbortSignal
  /**
   * Changes read per native call, and the most held in memory for a slow consumer (beyond
   * them, at most the write batch being read). Default 256, at most 10,000.
   */
  batchSize?: number
  /**
   * Once caught up: the longest wait before looking for new changes written by another
   * process (a read-only handle's writer). Writes through this handle wake the iterator at
   * once. Default 50 ms.
   */
  pollIntervalMs?: number
}
