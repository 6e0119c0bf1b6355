/**
 * The peers' APIs as the benchmarks use them. Peers are installed in benches/node_modules by
 * `npm run bench` (benches/package.json), not by the library's install, so they are loaded
 * at run time and typed here by hand for the few calls we make.
 */

export interface HnswlibIndex {
  initIndex(maxElements: number, m?: number, efConstruction?: number, randomSeed?: number): void
  addPoint(point: number[], label: number): void
  setEf(ef: number): void
  searchKnn(query: number[], k: number, filter?: (label: number) => boolean): { distances: number[]; neighbors: number[] }
}

export interface HnswlibModule {
  HierarchicalNSW: new (space: 'l2' | 'ip' | 'cosine', dim: number) => HnswlibIndex
}

export interface UsearchIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads?: number): void
  search(query: Float32Array, k: number, threads: number): { keys: BigUint64Array; distances: Float32Array }
  save(path: string): void
  load(path: string): void
}

export interface UsearchModule {
  Index: new (config: {
    dimensions: number
    metric: string
    connectivity: number
    expansion_add: number
    expansion_search: number
    quantization?: string
  }) => UsearchIndex
}

/** @zvec/zvec (Alibaba's zvec over Node-API, prebuilt): the calls the ANN worker makes. */
export interface ZvecCollection {
  insertSync(docs: { id: string; vectors: Record<string, Float32Array>; fields?: Record<string, number> }[]): { ok: boolean; message: string }[]
  optimizeSync(): void
  querySync(q: {
    fieldName: string
    topk: number
    vector: Float32Array
    params: { indexType: number; ef: number }
    outputFields: string[]
    /** A boolean expression over scalar fields (`bucket < 10`). */
    filter?: string
  }): { id: string; score: number }[]
  closeSync?(): void
}

export interface ZvecModule {
  ZVecDataType: { VECTOR_FP32: number; INT32: number }
  ZVecIndexType: { HNSW: number; INVERT: number }
  ZVecMetricType: { L2: number; COSINE: number }
  ZVecCollectionSchema: new (params: {
    name: string
    vectors: { name: string; dataType: number; dimension: number; indexParams: { indexType: number; metricType: number; m: number; efConstruction: number } }
    /** Scalar fields, with an inverted index for filters. */
    fields?: { name: string; dataType: number; indexParams?: { indexType: number } }[]
  }) => unknown
  ZVecCreateAndOpen(path: string, schema: unknown): ZvecCollection
}

/** @lancedb/lancedb: the calls the IVF-PQ comparison makes (queries are async only). */
export interface LancedbModule {
  connect(dir: string): Promise<{
    createTable(name: string, rows: { id: number; vector: number[] }[]): Promise<{
      createIndex(column: string, options: { config: unknown }): Promise<void>
      vectorSearch(v: Float32Array): LancedbQuery
    }>
  }>
  Index: { ivfPq(o: { numPartitions: number; numSubVectors: number; numBits: number; distanceType: 'l2' | 'cosine' }): unknown }
}

export interface LancedbQuery {
  distanceType(d: 'l2' | 'cosine'): LancedbQuery
  nprobes(n: number): LancedbQuery
  refineFactor(f: number): LancedbQuery
  limit(k: number): LancedbQuery
  select(columns: string[]): LancedbQuery
  toArray(): Promise<{ id: number | bigint }[]>
}

/** Loads a peer from benches/node_modules; throws a clear error when it is missing. */
export function loadPeer<T>(name: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(require.resolve(name, { paths: [__dirname] })) as T
  } catch (e) {
    throw new Error(`peer '${name}' is not installed (npm install --prefix benches): ${(e as Error).message}`)
  }
}

/** @zvec/zvec with a full-text field: the calls the hybrid benchmark makes. */
export interface ZvecFtsModule {
  ZVecDataType: { VECTOR_FP32: number; STRING: number }
  ZVecIndexType: { HNSW: number; FTS: number }
  ZVecMetricType: { COSINE: number }
  ZVecCollectionSchema: new (params: { name: string; vectors: unknown; fields: unknown }) => unknown
  ZVecCreateAndOpen(path: string, schema: unknown): ZvecFtsCollection
}

export interface ZvecFtsCollection {
  insertSync(docs: { id: string; vectors: Record<string, Float32Array>; fields: Record<string, string> }[]): { ok: boolean; message: string }[]
  optimizeSync(): void
  querySync(q: Record<string, unknown>): { id: string; score: number }[]
  multiQuerySync(q: Record<string, unknown>): { id: string; score: number }[]
  closeSync?(): void
}

/** @lancedb/lancedb with a full-text index: the calls the hybrid benchmark makes. */
export interface LancedbFtsModule {
  connect(dir: string): Promise<{ createTable(name: string, rows: object[]): Promise<LancedbFtsTable> }>
  Index: { fts(): unknown; hnswSq(o: { distanceType: 'cosine' }): unknown }
  rerankers: { RRFReranker: { create(k?: number): Promise<unknown> } }
}

export interface LancedbFtsTable {
  createIndex(column: string, options: { config: unknown }): Promise<void>
  vectorSearch(v: Float32Array): LancedbFtsQuery
  query(): LancedbFtsQuery
}

export interface LancedbFtsQuery {
  nearestTo(v: Float32Array): LancedbFtsQuery
  fullTextSearch(text: string): LancedbFtsQuery
  distanceType(d: 'cosine'): LancedbFtsQuery
  rerank(r: unknown): LancedbFtsQuery
  limit(k: number): LancedbFtsQuery
  select(columns: string[]): LancedbFtsQuery
  toArray(): Promise<{ id: number | bigint }[]>
}
