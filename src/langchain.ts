/**
 * LangChain.js adapter: `LibraVDBStore`, a `VectorStore` over a LibraVDB collection. Imported
 * as `libravdb/langchain`; needs `@langchain/core` (an optional peer dependency), which the
 * main entry point never loads.
 *
 * A LangChain `Document` is stored as one record: its id (or a generated UUID), the embedding,
 * and its metadata with the page content under `textKey` (default `'text'`). Filters are this
 * project's object filters on that metadata, e.g. `{ source: 'faq', year: { $gte: 2024 } }`.
 */
import { randomUUID } from 'node:crypto'
import { Document, type DocumentInterface } from '@langchain/core/documents'
import type { EmbeddingsInterface } from '@langchain/core/embeddings'
import { type MaxMarginalRelevanceSearchOptions, VectorStore } from '@langchain/core/vectorstores'
import type { Collection } from './collection'
import type { CollectionConfig, VectorFieldConfig } from './config'
import type { LibraVDB } from './db'
import { InvalidArgumentError, NotFoundError } from './errors'
import type { Filter } from './filter'
import type { Metadata, VectorRecord } from './records'

/** What a `LibraVDBStore` works on. */
export interface LibraVDBStoreArgs {
  /** The collection holding the documents. */
  collection: Collection
  /** Metadata field that holds each document's page content. Default `'text'`. */
  textKey?: string
  /** The named vector field the store's embeddings live in (a collection created with
   * `vectors`); default the collection's unnamed vector. Documents already stored keep
   * their other fields when added again. */
  vectorField?: string
}

/** Where `fromTexts` / `fromDocuments` / `fromExistingCollection` put the documents. */
export interface LibraVDBStoreConfig {
  /** An open database. */
  db: LibraVDB
  /** The collection: used if it exists, else created with `collectionConfig`. */
  collectionName: string
  /** For a new collection: everything but the dimension, which comes from the embeddings.
   * Default `{ metric: 'cosine' }` with a flat index. */
  collectionConfig?: Omit<CollectionConfig, 'dimension'>
  /** Metadata field that holds each document's page content. Default `'text'`. */
  textKey?: string
  /** As {@link LibraVDBStoreArgs.vectorField}; a new collection then has that one field. */
  vectorField?: string
}

/** Options of {@link LibraVDBStore.addVectors} and {@link LibraVDBStore.addDocuments}. */
export interface LibraVDBAddOptions {
  /** One id per document; default each document's `id`, else a random UUID. A document whose
   * id is already stored replaces it. */
  ids?: string[]
}

/** Options of {@link LibraVDBStore.delete}: by ids, by filter, or both. */
export interface LibraVDBDeleteParams {
  /** Documents to delete; ids not stored are ignored. */
  ids?: string[]
  /** Deletes every document whose metadata matches. */
  filter?: Filter
}

/**
 * A LangChain vector store backed by a LibraVDB collection. Scores from
 * `similaritySearchWithScore` are the collection's: cosine or dot similarity (higher is
 * closer) or L2 distance (lower is closer), best first either way.
 */
export class LibraVDBStore extends VectorStore {
  /** Filters are this project's object filters on the documents' metadata. */
  declare FilterType: Filter

  /** The collection holding the documents. */
  readonly collection: Collection
  /** Metadata field that holds each document's page content. */
  readonly textKey: string
  /** The named vector field searched and written (undefined: the unnamed vector). */
  readonly vectorField: string | undefined

  constructor(embeddings: EmbeddingsInterface, args: LibraVDBStoreArgs) {
    super(embeddings, { textKey: args?.textKey })
    if (!args || typeof args.collection?.search !== 'function') {
      throw new InvalidArgumentError('LibraVDBStore needs { collection }: a Collection of an open LibraVDB')
    }
    this.collection = args.collection
    this.textKey = args.textKey ?? 'text'
    this.vectorField = args.vectorField
  }

  _vectorstoreType(): string {
    return 'libravdb'
  }

  /** Stores documents with their precomputed embeddings (upsert by id); returns their ids. */
  async addVectors(vectors: number[][], documents: DocumentInterface[], options?: LibraVDBAddOptions): Promise<string[]> {
    if (vectors.length !== documents.length) {
      throw new InvalidArgumentError(`addVectors got ${vectors.length} vectors for ${documents.length} documents`)
    }
    const ids = options?.ids
    if (ids !== undefined && ids.length !== documents.length) {
      throw new InvalidArgumentError(`addVectors got ${ids.length} ids for ${documents.length} documents`)
    }
    const field = this.vectorField
    const records: VectorRecord[] = documents.map((doc, i) => ({
      id: ids?.[i] ?? doc.id ?? randomUUID(),
      ...(field === undefined ? { vector: vectors[i] } : { vectors: { [field]: vectors[i] } }),
      metadata: this.#toMetadata(doc, i),
    }))
    if (records.length === 0) return []
    if (field === undefined) {
      await this.collection.upsertBatch(records)
    } else {
      // New documents are inserted; stored ones get this field and the metadata anew, and keep
      // their other fields (an upsert would replace the whole record).
      const { errors } = await this.collection.insertBatch(records, { atomic: false })
      const stored = errors.filter((e) => e.code === 'ERR_DUPLICATE_ID')
      const failed = errors.find((e) => e.code !== 'ERR_DUPLICATE_ID')
      if (failed) throw new InvalidArgumentError(`addVectors: document ${failed.index} (${failed.id}): ${failed.message}`)
      const again = stored.map(({ index }) => ({ id: records[index].id, vectors: records[index].vectors, metadata: records[index].metadata }))
      if (again.length > 0) await this.collection.updateBatch(again)
    }
    return records.map((r) => r.id)
  }

  /** Embeds the documents' page content and stores them (upsert by id); returns their ids. */
  async addDocuments(documents: DocumentInterface[], options?: LibraVDBAddOptions): Promise<string[]> {
    const vectors = await this.embeddings.embedDocuments(documents.map((d) => d.pageContent))
    return this.addVectors(vectors, documents, options)
  }

  async similaritySearchVectorWithScore(query: number[], k: number, filter?: Filter): Promise<[DocumentInterface, number][]> {
    const hits = await this.collection.search(query, { k, filter, includeMetadata: true, using: this.vectorField })
    return hits.map((h) => [this.#toDocument(h.id, h.metadata), h.score])
  }

  /**
   * Maximal marginal relevance: fetches `fetchK` (default 20) nearest documents, then picks
   * `k` of them one by one, trading similarity to the query against similarity to those
   * already picked (`lambda`: 1 = relevance only, 0 = diversity only; default 0.5).
   */
  override async maxMarginalRelevanceSearch(query: string, options: MaxMarginalRelevanceSearchOptions<Filter>): Promise<DocumentInterface[]> {
    const { k = 4, fetchK = 20, lambda = 0.5, filter } = options
    const queryVector = await this.embeddings.embedQuery(query)
    // The engine picks (search's `diversity`), on the stored vectors: none cross to JS.
    const hits = await this.collection.search(queryVector, {
      k,
      fetchK: Math.max(fetchK, k),
      diversity: 1 - lambda,
      filter,
      includeMetadata: true,
      using: this.vectorField,
    })
    return hits.map((h) => this.#toDocument(h.id, h.metadata))
  }

  /** Deletes documents by id and/or by metadata filter. */
  override async delete(params?: LibraVDBDeleteParams): Promise<void> {
    if (!params || (params.ids === undefined && params.filter === undefined)) {
      throw new InvalidArgumentError('delete() needs { ids } or { filter }')
    }
    if (params.ids !== undefined && params.ids.length > 0) await this.collection.deleteBatch(params.ids)
    if (params.filter !== undefined) await this.collection.deleteWhere(params.filter)
  }

  /** Embeds `texts` and stores them with `metadatas` (one per text, or one for all). */
  static override async fromTexts(
    texts: string[],
    metadatas: object[] | object,
    embeddings: EmbeddingsInterface,
    dbConfig: LibraVDBStoreConfig,
  ): Promise<LibraVDBStore> {
    const docs = texts.map(
      (pageContent, i) => new Document({ pageContent, metadata: Array.isArray(metadatas) ? (metadatas[i] ?? {}) : metadatas }),
    )
    return LibraVDBStore.fromDocuments(docs, embeddings, dbConfig)
  }

  /** Embeds the documents and stores them, creating the collection if needed. */
  static override async fromDocuments(docs: DocumentInterface[], embeddings: EmbeddingsInterface, dbConfig: LibraVDBStoreConfig): Promise<LibraVDBStore> {
    const vectors = await embeddings.embedDocuments(docs.map((d) => d.pageContent))
    const store = await openStore(embeddings, dbConfig, vectors[0]?.length)
    await store.addVectors(vectors, docs)
    return store
  }

  /** A store over a collection that already exists (`NotFoundError` if it does not). */
  static async fromExistingCollection(embeddings: EmbeddingsInterface, dbConfig: Omit<LibraVDBStoreConfig, 'collectionConfig'>): Promise<LibraVDBStore> {
    const { db, collectionName, textKey, vectorField } = dbConfig
    return new LibraVDBStore(embeddings, { collection: db.getCollection(collectionName), textKey, vectorField })
  }

  #toMetadata(doc: DocumentInterface, i: number): Metadata {
    const metadata = (doc.metadata ?? {}) as Metadata
    if (this.textKey in metadata) {
      throw new InvalidArgumentError(`document ${i} has a metadata field "${this.textKey}", the field its page content is stored in: choose another textKey`)
    }
    return { ...metadata, [this.textKey]: doc.pageContent }
  }

  #toDocument(id: string, metadata: Metadata | undefined): DocumentInterface {
    const { [this.textKey]: text, ...rest } = metadata ?? {}
    return new Document({ id, pageContent: typeof text === 'string' ? text : '', metadata: rest })
  }
}

/** The store over `collectionName`, created with `dimension` when it does not exist. */
async function openStore(embeddings: EmbeddingsInterface, config: LibraVDBStoreConfig, dimension: number | undefined): Promise<LibraVDBStore> {
  const { db, collectionName, textKey, vectorField } = config
  let collection: Collection
  try {
    collection = db.getCollection(collectionName)
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e
    if (dimension === undefined) dimension = (await embeddings.embedQuery('dimension probe')).length
    const { metric = 'cosine', index, ...rest } = config.collectionConfig ?? {}
    collection = await db.createCollection(
      collectionName,
      vectorField === undefined
        ? { metric, index, ...rest, dimension }
        : { ...rest, vectors: { [vectorField]: { dimension, metric, index: index as VectorFieldConfig['index'] } } },
    )
  }
  return new LibraVDBStore(embeddings, { collection, textKey, vectorField })
}
