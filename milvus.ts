/**
 * `libravdb/milvus`: copy a collection into Milvus and compare answers, through the official
 * client you install and pass in (`@zilliz/milvus2-sdk-node`).
 * @packageDocumentation
 */
export { compareWithMilvus, copyToMilvus } from './src/milvus'
export type { CompareWithMilvusOptions, CopyToMilvusOptions, CopyToMilvusResult, MilvusComparison } from './src/milvus'
