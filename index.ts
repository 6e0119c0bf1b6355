/**
 * LibraVDB: an embedded vector database for server-side Node.js.
 * @packageDocumentation
 */
export { LibraVDB } from './src/db'
export {
  Collection,
  type BatchOptions,
  type BatchResult,
  type CollectionStats,
  type ColumnarBatch,
  type Metadata,
  type RecordUpdate,
  type QueryPlan,
  type SearchHit,
  type SearchOptions,
  type StoredRecord,
  type VectorRecord,
} from './src/collection'
export type {
  CollectionConfig,
  FlatIndexConfig,
  HnswIndexConfig,
  IndexConfig,
  Metric,
  OpenOptions,
  ProductQuantizationConfig,
  QuantizationConfig,
  ScalarQuantizationConfig,
} from './src/config'
export type { CallOptions } from './src/native'
export { simdLevel } from './src/native'
export type { VectorLike } from './src/vectors'
export { compileFilter } from './src/filter'
export { FieldBuilder, FilterBuilder, QueryBuilder } from './src/query'
export type { ScannedRecord } from './src/stream'
export type { FieldCondition, FieldType, Filter, FilterNode, FilterValue, Schema } from './src/filter'
export * from './src/errors'
