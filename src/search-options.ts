/**
 * The options of `search`, `searchSync` and `searchBatch`, checked and turned into the
 * engine's form: the range bound that suits the metric, MMR, and the grouping the facade does.
 */
import { checkOptionalBoolean, checkOptionalFinite, checkOptionalInteger, describe, optionsObject } from './check'
import { InvalidArgumentError } from './errors'
import { type Schema, compileFilter } from './filter'
import { type GroupSpec, MAX_GROUP_FETCH } from './group'
import type { NativeSearchOptions } from './native'
import type { Metric } from './config'
import type { SearchOptions } from './records'
import { type VectorFields, vectorField } from './named'

const SEARCH_KEYS = [
  'k',
  'efSearch',
  'nprobe',
  'filter',
  'includeMetadata',
  'includeVectors',
  'maxDistance',
  'minScore',
  'diversity',
  'fetchK',
  'groupBy',
  'groupSize',
  'fusion',
  'using',
  'signal',
  'timeoutMs',
] as const

/** Hits a range search (`maxDistance`, `minScore`) returns at most when `k` is not given. */
export const RANGE_SEARCH_LIMIT = 1000

/** What never changes for a collection handle: read from the engine once (each read of a
 * native getter is a call into the addon, ~0.3 us), not on every search or write. */
export interface FixedProperties {
  readonly name: string
  /** The unnamed vector's dimension (0: the collection has named fields only). */
  readonly dimension: number
  readonly metric: Metric
}

/** What a search option check needs to know of its collection. */
export interface SearchTarget extends FixedProperties {
  schema: Schema
  fields: VectorFields
}

/** Checks `opts` of the search call `op`: the caller's options, the engine's, the compiled
 * filter and the grouping, if any. `unnamed`: the query has a vector for the unnamed vector
 * (or, with `using`, for that field). */
export function searchParams(op: string, opts: unknown, target: SearchTarget, unnamed = true) {
  const o = opts === undefined ? {} : optionsObject<SearchOptions>(`${op} options`, opts, SEARCH_KEYS)
  // The vector searched: a named field's (`using`) or the unnamed one.
  let c = target
  if (o.using !== undefined) {
    if (typeof o.using !== 'string') throw new InvalidArgumentError(`${op} options.using must be a vector field's name, got ${describe(o.using)}`)
    c = { ...target, ...vectorField(target.fields, o.using, `${op} options.using`) }
  } else if (target.dimension === 0 && unnamed) {
    const names = [...target.fields.keys()].join(', ')
    throw new InvalidArgumentError(`${op}: collection '${target.name}' has named vector fields only (${names}); name the one to search with options.using`)
  }
  const scoreBound = rangeBound(op, o, c)
  const native: NativeSearchOptions = {
    k: checkOptionalInteger(`${op} options.k`, o.k, 1) ?? (scoreBound === undefined ? 10 : RANGE_SEARCH_LIMIT),
    scoreBound,
    diversity: checkOptionalFinite(`${op} options.diversity`, o.diversity),
    fetchK: checkOptionalInteger(`${op} options.fetchK`, o.fetchK, 1),
    efSearch: checkOptionalInteger(`${op} options.efSearch`, o.efSearch, 1),
    nprobe: checkOptionalInteger(`${op} options.nprobe`, o.nprobe, 1),
    includeMetadata: checkOptionalBoolean(`${op} options.includeMetadata`, o.includeMetadata) ?? false,
    includeVectors: checkOptionalBoolean(`${op} options.includeVectors`, o.includeVectors) ?? false,
    filter: undefined,
    using: o.using,
  }
  const filter = o.filter === undefined ? undefined : compileFilter(o.filter, c.schema)
  if (filter) native.filter = JSON.stringify(filter)
  // `dimension`: of the query vectors this search takes.
  return { opts: o, native, filter, group: groupSpec(op, o, native), dimension: c.dimension }
}

/** The bound of a range search: `maxDistance` on an l2 collection, `minScore` on a cosine
 * or dot one (the score each reports), or none. */
function rangeBound(op: string, o: SearchOptions, c: SearchTarget): number | undefined {
  const maxDistance = checkOptionalFinite(`${op} options.maxDistance`, o.maxDistance)
  const minScore = checkOptionalFinite(`${op} options.minScore`, o.minScore)
  const l2 = c.metric === 'l2'
  if (maxDistance !== undefined && !l2) {
    throw new InvalidArgumentError(`${op} options.maxDistance bounds the distance of an l2 collection; '${c.name}' is ${c.metric}: use minScore (a similarity)`)
  }
  if (minScore !== undefined && l2) {
    throw new InvalidArgumentError(`${op} options.minScore bounds the similarity of a cosine or dot collection; '${c.name}' is l2: use maxDistance`)
  }
  return maxDistance ?? minScore
}

/** `groupBy` / `groupSize` checked: the grouping a search asks for, if any. */
function groupSpec(op: string, o: SearchOptions, native: NativeSearchOptions): GroupSpec | undefined {
  const size = checkOptionalInteger(`${op} options.groupSize`, o.groupSize, 1, MAX_GROUP_FETCH)
  if (o.groupBy === undefined) {
    if (size !== undefined) throw new InvalidArgumentError(`${op} options.groupSize needs groupBy`)
    return undefined
  }
  if (typeof o.groupBy !== 'string' || o.groupBy.length === 0) {
    throw new InvalidArgumentError(`${op} options.groupBy must be a metadata field name, got ${describe(o.groupBy)}`)
  }
  if (native.diversity !== undefined) throw new InvalidArgumentError(`${op}: groupBy and diversity cannot be combined`)
  const group = { field: o.groupBy, size: size ?? 1, groups: native.k }
  if (group.size * group.groups > MAX_GROUP_FETCH) {
    throw new InvalidArgumentError(`${op}: k x groupSize must be at most ${MAX_GROUP_FETCH}, got ${group.groups} x ${group.size}`)
  }
  return group
}
