/**
 * LibraVDB: an embedded vector database for server-side Node.js.
 * @packageDocumentation
 */
export { LibraVDB } from './src/db'
export type { LibraVDBEvents } from './src/db'
export type { ByteSize } from './src/check'
export { Collection } from './src/collection'
export type { RebuildOptions, RebuildTarget, TuneOptions, TuneResult } from './src/records'
export type { CollectionMemory, CollectionStats, MemoryUsage, VectorFieldStats } from './src/stats'
export type {
  BackupOptions,
  BackupResult,
  BatchOptions,
  BatchResult,
  Change,
  ChangesOptions,
  ColumnarBatch,
  ExplainOptions,
  Fusion,
  HybridQuery,
  Metadata,
  RecordUpdate,
  QueryPlan,
  SearchHit,
  SearchOptions,
  SparsePlan,
  SparseVector,
  StoredRecord,
  TextPlan,
  TextQuery,
  VectorRecord,
  VerifyReport,
} from './src/records'
export type {
  ChangeRetention,
  CollectionConfig,
  FlatIndexConfig,
  HnswIndexConfig,
  IvfPqIndexConfig,
  IndexConfig,
  Metric,
  OpenOptions,
  ProductQuantizationConfig,
  QuantizationConfig,
  ScalarQuantizationConfig,
  StorageConfig,
  AutoIndexConfig,
  VectorFieldConfig,
} from './src/config'
export type { CallOptions, ConfigOptions, TypeOptions } from './src/native'
export { simdLevel } from './src/native'
export type { VectorLike } from './src/vectors'
export { compileFilter } from './src/filter'
export { FieldBuilder, FilterBuilder, QueryBuilder } from './src/query'
export type { RecordScan, ScanCallOptions, ScannedRecord } from './src/stream'
export type { ExportOptions, ImportOptions, TransferFormat, TransferProgress, TransferResult } from './src/transfer'
export type { IngestOptions, IngestProgress, IngestResult, RecordWriteStream, WriteStreamOptions } from './src/ingest'
export type { FieldCondition, FieldType, Filter, FilterNode, FilterValue, Schema, TextField } from './src/filter'
export * from './src/errors'
