/**
 * A collection's searches: options checked against the vector searched (the unnamed one or a
 * named field, `using`), the query routed (the lean path through `dispatch.ts`, grouped,
 * hybrid), the engine's hits made hit objects.
 */
import { SearchDispatch } from './dispatch'
import { groupedSearch, groupedSearchSync } from './group'
import { HitReader, isLean, leanHits } from './hits'
import { fusionNeedsSignals, hybridOptions, hybridQuery } from './hybrid'
import { inSlices } from './batch'
import { type NativeCollection, type NativeHits, type NativeSearchOptions, call, callSync, cancellableRead } from './native'
import type { HybridQuery, SearchHit, SearchOptions } from './records'
import type { SchemaView } from './schema'
import { type FixedProperties, searchParams } from './search-options'
import { type VectorLike, toQueryBlock, toVector } from './vectors'
import { fieldQueries } from './named'
import { InvalidArgumentError } from './errors'

export class Searcher {
  readonly #native: NativeCollection
  readonly #schema: SchemaView
  /** Where awaited lean searches run (the JS thread or the pool), from what they cost. */
  readonly #dispatch = new SearchDispatch()
  /** Reused output buffer of the lean `searchSync` path, grown to the largest k seen. */
  #scores = new Float32Array(16)
  /** The collection's name, dimension and metric (the collection read them once). */
  readonly #fixed: FixedProperties

  constructor(native: NativeCollection, schema: SchemaView, fixed: FixedProperties) {
    this.#native = native
    this.#schema = schema
    this.#fixed = fixed
  }

  /** The k nearest records to `vector`, best first, computed off the JS thread. Or, with
   * `{ vector?, text?, sparse?, vectors? }`, a full-text (BM25), sparse-vector or named-field
   * search, or several signals fused (`opts.fusion`). */
  async search(query: VectorLike | HybridQuery, opts?: SearchOptions): Promise<SearchHit[]> {
    const hybrid = hybridQuery('search', query)
    const p = this.params('search', opts, !hybrid || hybrid.vector !== undefined)
    if (hybrid && (hybrid.text !== undefined || hybrid.sparse !== undefined || hybrid.vectors !== undefined)) return this.#hybridSearch(hybrid, p)
    if (p.opts.fusion !== undefined) throw fusionNeedsSignals('search')
    const q = toVector(hybrid ? hybrid.vector : (query as VectorLike), p.dimension, 'query vector')
    if (p.group) {
      const run = (native: NativeSearchOptions) => cancellableRead(p.opts, (token) => this.#native.search(q, native, token))
      return (await groupedSearch(p.native, p.group, async (native) => this.#shape(await run(native), p.dimension)))[0] ?? []
    }
    if (isLean(p.native) && p.opts.signal === undefined && p.opts.timeoutMs === undefined) {
      // Ids and scores only, the form searchSync's lean path returns; dispatch.ts says where it runs.
      const [scores, ef, nprobe] = [new Float32Array(p.native.k), p.native.efSearch ?? 0, p.native.nprobe ?? 0]
      const joined = await this.#dispatch.run(
        () => callSync(() => this.#native.searchNow(q, ef, nprobe, scores, p.native.using)),
        () => call(() => this.#native.searchLean(q, ef, nprobe, scores, p.native.using)),
      )
      return leanHits(joined, scores)
    }
    const hits = await cancellableRead(p.opts, (token) => this.#native.search(q, p.native, token))
    if (hits.scores.length === 0) this.#schema.unknownFields.check(p.filter)
    return this.#shape(hits, p.dimension)[0] ?? []
  }

  /** A search with a text query, a sparse vector or named fields' vectors, and a vector if
   * given. */
  async #hybridSearch(query: HybridQuery, p: ReturnType<typeof searchParams>): Promise<SearchHit[]> {
    if (p.native.using !== undefined) {
      throw new InvalidArgumentError("search: a query of several signals names its fields' vectors in { vectors: { field: v } }, not with options.using")
    }
    const q = query.vector === undefined ? undefined : toVector(query.vector, this.#fixed.dimension, 'query vector')
    const fields = fieldQueries(this.#schema.fields, query.vectors)
    const native = hybridOptions('search', query, p.opts.fusion, p.native)
    const run = (n: NativeSearchOptions) => cancellableRead(p.opts, (token) => this.#native.hybridSearch(q, n, token, fields))
    const names = fields?.map((f) => f.field)
    if (p.group) return (await groupedSearch(native, p.group, async (n) => this.#shape(await run(n), undefined, names)))[0] ?? []
    const hits = await run(native)
    if (hits.scores.length === 0) this.#schema.unknownFields.check(p.filter)
    return this.#shape(hits, undefined, names)[0] ?? []
  }

  /** {@link search} on the calling thread: a flat scan of a large collection blocks it. */
  searchSync(vector: VectorLike, opts?: Omit<SearchOptions, 'signal' | 'timeoutMs'>): SearchHit[] {
    const params = this.params('searchSync', opts)
    const p = params.native
    const q = toVector(vector, params.dimension, 'query vector')
    const run = (n: NativeSearchOptions) => this.#shape(callSync(() => this.#native.searchSync(q, n)), params.dimension)[0] ?? []
    if (params.group) return groupedSearchSync(p, params.group, run)
    if (!isLean(p)) return run(p)
    // Lean path: scores land in a reused buffer, ids come back as one NUL-joined string.
    if (this.#scores.length < p.k) this.#scores = new Float32Array(p.k)
    const scores = this.#scores.length === p.k ? this.#scores : this.#scores.subarray(0, p.k)
    return leanHits(callSync(() => this.#native.searchInto(q, p.efSearch ?? 0, p.nprobe ?? 0, scores, p.using)), scores)
  }

  /** Many queries at once, in parallel: a row-major Float32Array (n x dimension) or a list. */
  async searchBatch(queries: Float32Array | readonly VectorLike[], opts?: SearchOptions): Promise<SearchHit[][]> {
    const p = this.params('searchBatch', opts)
    const block = toQueryBlock(queries, p.dimension)
    if (p.group) {
      return groupedSearch(p.native, p.group, async (native) =>
        this.#shapeSliced(await cancellableRead(p.opts, (token) => this.#native.search(block, native, token)), p.dimension),
      )
    }
    const hits = await cancellableRead(p.opts, (token) => this.#native.search(block, p.native, token))
    if (hits.scores.length === 0) this.#schema.unknownFields.check(p.filter)
    return this.#shapeSliced(hits, p.dimension)
  }

  /** `opts` of search call `op` checked, against the vector it searches. */
  params(op: string, opts: unknown, unnamed = true) {
    const { name, dimension, metric } = this.#fixed
    const { schema, fields } = this.#schema.snapshot()
    // Built field by field: an object spread here cost ~1 us a search.
    return searchParams(op, opts, { name, dimension, metric, schema, fields }, unnamed)
  }

  /** Native hits (vectors of `dim`) -> one array of hit objects per query, on the calling
   * thread (small results). */
  #shape(h: NativeHits, dim = this.#fixed.dimension, fields?: string[]): SearchHit[][] {
    const reader = new HitReader(h, dim, this.#schema.codec, fields)
    return Array.from({ length: reader.queries }, () => reader.next())
  }

  /** {@link Collection.#shape} in slices that yield to the event loop (any result size). */
  async #shapeSliced(h: NativeHits, dim: number): Promise<SearchHit[][]> {
    const reader = new HitReader(h, dim, this.#schema.codec)
    const out: SearchHit[][] = new Array(reader.queries)
    await inSlices(reader.queries, (q) => (out[q] = reader.next()))
    return out
  }
}
