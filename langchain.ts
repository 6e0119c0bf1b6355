/**
 * `libravdb/langchain`: the LangChain.js vector store over LibraVDB collections. Needs
 * `@langchain/core` installed beside libravdb.
 * @packageDocumentation
 */
export { LibraVDBStore } from './src/langchain'
export type { LibraVDBAddOptions, LibraVDBDeleteParams, LibraVDBStoreArgs, LibraVDBStoreConfig } from './src/langchain'
