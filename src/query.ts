/**
 * The fluent QueryBuilder: plain TypeScript that assembles a filter and search options, and
 * crosses into native code once, in `execute()` or `explain()`.
 *
 * ```ts
 * await docs.query(vector)
 *   .where('category').eq('book')
 *   .and(q => q.where('price').between(5, 20).or(q2 => q2.where('tags').contains('sale')))
 *   .limit(10).execute()
 * ```
 *
 * Conditions chain with AND; `.and(fn)` adds a group; `.or(fn)` makes everything so far one
 * alternative and the group the other; `.not(fn)` adds a negated group.
 */
import type { ExplainOptions, Fusion, HybridQuery, QueryPlan, SearchHit, SearchOptions, TextQuery } from './records'
import { describe } from './check'
import { InvalidArgumentError } from './errors'
import type { Filter, FilterValue } from './filter'
import type { VectorLike } from './vectors'

function allOf(conds: Filter[]): Filter {
  return conds.length === 1 ? conds[0] : { $and: conds }
}

/** Conditions on one field; each returns the query for chaining. */
export class FieldBuilder<Q> {
  readonly #field: string
  readonly #add: (c: Filter) => Q

  /** @internal */
  constructor(field: string, add: (c: Filter) => Q) {
    this.#field = field
    this.#add = add
  }

  #op(op: string, value: unknown): Q {
    return this.#add({ [this.#field]: { [op]: value } } as Filter)
  }

  /** Equal to `v`. */
  eq(v: FilterValue): Q {
    return this.#op('$eq', v)
  }
  /** Not equal to `v` (absent fields match). */
  ne(v: FilterValue): Q {
    return this.#op('$ne', v)
  }
  /** Greater than `v`. */
  gt(v: FilterValue): Q {
    return this.#op('$gt', v)
  }
  /** Greater than or equal to `v`. */
  gte(v: FilterValue): Q {
    return this.#op('$gte', v)
  }
  /** Less than `v`. */
  lt(v: FilterValue): Q {
    return this.#op('$lt', v)
  }
  /** Less than or equal to `v`. */
  lte(v: FilterValue): Q {
    return this.#op('$lte', v)
  }
  /** Inclusive range. */
  between(low: FilterValue, high: FilterValue): Q {
    return this.#op('$between', [low, high])
  }
  /** Equal to one of `values`. */
  in(values: FilterValue[]): Q {
    return this.#op('$in', values)
  }
  /** Equal to none of `values` (absent fields match). */
  nin(values: FilterValue[]): Q {
    return this.#op('$nin', values)
  }
  /** The field is an array holding `v`. */
  contains(v: FilterValue): Q {
    return this.#op('$contains', v)
  }
  /** The field is an array holding at least one of `values`. */
  containsAny(values: FilterValue[]): Q {
    return this.#op('$containsAny', values)
  }
  /** The field is an array holding every one of `values`. */
  containsAll(values: FilterValue[]): Q {
    return this.#op('$containsAll', values)
  }
  /** Present (`true`, null counts) or absent (`false`). */
  exists(present = true): Q {
    return this.#op('$exists', present)
  }
}

/** A group of conditions (the argument of `and`, `or`, `not`). */
export class FilterBuilder {
  /** @internal The conditions so far, all of which must hold. */
  protected conds: Filter[] = []

  /** Starts a condition on metadata field `field`; finish it with an operator (`eq`, `between`, ...). */
  where(field: string): FieldBuilder<this> {
    if (typeof field !== 'string' || field.length === 0) {
      throw new InvalidArgumentError(`where() takes a non-empty field name, got ${String(field)}`)
    }
    return new FieldBuilder(field, (c) => {
      this.conds.push(c)
      return this
    })
  }

  /** Adds a group that must hold too. */
  and(group: (q: FilterBuilder) => FilterBuilder): this {
    this.conds.push(this.#group(group))
    return this
  }

  /** Either everything so far, or the group. */
  or(group: (q: FilterBuilder) => FilterBuilder): this {
    const alt = this.#group(group)
    this.conds = [this.conds.length === 0 ? alt : { $or: [allOf(this.conds), alt] }]
    return this
  }

  /** Adds a group that must not hold. */
  not(group: (q: FilterBuilder) => FilterBuilder): this {
    this.conds.push({ $not: this.#group(group) })
    return this
  }

  #group(group: (q: FilterBuilder) => FilterBuilder): Filter {
    if (typeof group !== 'function') {
      throw new InvalidArgumentError(`and(), or() and not() take a callback (q) => q.where(...), got ${describe(group)}`)
    }
    const sub = group(new FilterBuilder())
    if (!(sub instanceof FilterBuilder) || sub.conds.length === 0) {
      throw new InvalidArgumentError('a group callback must return the builder it was given, with a condition')
    }
    return allOf(sub.conds)
  }

  /** The object filter built so far (undefined when empty). */
  toFilter(): Filter | undefined {
    return this.conds.length === 0 ? undefined : allOf(this.conds)
  }
}

/** What a query runs against (a `Collection`; named here so that this module need not
 * import it). */
export interface Searchable {
  search(query: VectorLike | HybridQuery, opts?: SearchOptions): Promise<SearchHit[]>
  explain(opts?: ExplainOptions): QueryPlan
}

/** A vector query, a text query or both, with a filter and options; see the module comment. */
export class QueryBuilder extends FilterBuilder {
  readonly #collection: Searchable
  readonly #vector: VectorLike | undefined
  #text?: TextQuery
  #fusion?: Fusion
  #limit = 10
  #offset = 0
  #efSearch?: number
  #metadata = false
  #vectors = false

  /** @internal Use `collection.query(vector)`. */
  constructor(collection: Searchable, vector: VectorLike | undefined) {
    super()
    this.#collection = collection
    this.#vector = vector
  }

  /** Adds a full-text query (BM25 over the schema's text fields, or over `fields`); with a
   * vector too, the two are fused (see {@link QueryBuilder.fusion}). */
  text(query: string, fields?: string[]): this {
    if (typeof query !== 'string') throw new InvalidArgumentError(`text() takes a query string, got ${describe(query)}`)
    this.#text = fields === undefined ? { query } : { query, fields }
    return this
  }

  /** How a vector and a text query are fused: `'rrf'` (default), `'weighted'`, or
   * `{ weights: { vector, text } }` (see `SearchOptions.fusion`). */
  fusion(f: Fusion): this {
    this.#fusion = f
    return this
  }

  /** Hits to return (default 10). */
  limit(k: number): this {
    this.#limit = k
    return this
  }

  /** Hits to skip first (pagination; the search fetches limit + offset). */
  offset(n: number): this {
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`offset must be an integer >= 0, got ${n}`)
    this.#offset = n
    return this
  }

  /** HNSW beam width for this query. */
  efSearch(ef: number): this {
    this.#efSearch = ef
    return this
  }

  /** Return each hit's metadata. */
  withMetadata(on = true): this {
    this.#metadata = on
    return this
  }

  /** Return each hit's stored vector. */
  withVectors(on = true): this {
    this.#vectors = on
    return this
  }

  /** Runs the search (off the JS thread). */
  async execute(): Promise<SearchHit[]> {
    if (this.#vector === undefined && this.#text === undefined) {
      throw new InvalidArgumentError('a query needs a vector (query(vector)) or a text query (.text(...))')
    }
    const query: VectorLike | HybridQuery = this.#text === undefined ? (this.#vector as VectorLike) : { vector: this.#vector, text: this.#text }
    const hits = await this.#collection.search(query, {
      k: this.#limit + this.#offset,
      efSearch: this.#efSearch,
      filter: this.toFilter(),
      includeMetadata: this.#metadata,
      includeVectors: this.#vectors,
      fusion: this.#fusion,
    })
    return hits.slice(this.#offset)
  }

  /** The plan `execute()` would use (each signal's, with a text query). */
  async explain(): Promise<QueryPlan> {
    return this.#collection.explain({
      k: this.#limit + this.#offset,
      efSearch: this.#efSearch,
      filter: this.toFilter(),
      fusion: this.#fusion,
      text: this.#text,
      vector: this.#vector !== undefined,
    })
  }
}
