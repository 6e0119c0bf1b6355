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
import type { Fusion, SearchOptions, SparseVector, TextQuery } from './records'

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
  'signal',
  'timeoutMs',
] as const

/** Hits a range search (`maxDistance`, `minScore`) returns at most when `k` is not given. */
export const RANGE_SEARCH_LIMIT = 1000

/** What a search option check needs to know of its collection. */
export interface SearchTarget {
  name: string
  metric: Metric
  schema: Schema
}

/** Checks `opts` of the search call `op`: the caller's options, the engine's, the compiled
 * filter and the grouping, if any. */
export function searchParams(op: string, opts: unknown, c: SearchTarget) {
  const o = opts === undefined ? {} : optionsObject<SearchOptions>(`${op} options`, opts, SEARCH_KEYS)
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
  }
  const filter = o.filter === undefined ? undefined : compileFilter(o.filter, c.schema)
  if (filter) native.filter = JSON.stringify(filter)
  return { opts: o, native, filter, group: groupSpec(op, o, native) }
}

/** The text part of a hybrid query checked into the engine's options. */
export function textOptions(op: string, text: unknown, native: NativeSearchOptions): void {
  const t: Partial<TextQuery> = typeof text === 'string' ? { query: text } : optionsObject<TextQuery>(`${op} text`, text, ['query', 'fields'])
  if (typeof t.query !== 'string') throw new InvalidArgumentError(`${op} text.query must be a string, got ${describe(t.query)}`)
  if (t.fields !== undefined && (!Array.isArray(t.fields) || !t.fields.every((f) => typeof f === 'string'))) {
    throw new InvalidArgumentError(`${op} text.fields must be an array of text field names, got ${describe(t.fields)}`)
  }
  native.text = t.query
  native.textFields = t.fields
}

/** A sparse query checked into the engine's options. */
export function sparseOptions(op: string, sparse: unknown, native: NativeSearchOptions): void {
  const s = optionsObject<SparseVector>(`${op} sparse`, sparse, ['indices', 'values', 'field'])
  const numbers = (name: string, v: unknown): number[] => {
    if (!(Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView)))) {
      throw new InvalidArgumentError(`${op} sparse.${name} must be an array or typed array, got ${describe(v)}`)
    }
    return Array.from(v as ArrayLike<number>)
  }
  const indices = numbers('indices', s.indices)
  const values = numbers('values', s.values)
  if (indices.length !== values.length) throw new InvalidArgumentError(`${op} sparse has ${indices.length} indices but ${values.length} values`)
  const badIndex = indices.find((i) => !Number.isInteger(i) || i < 0 || i > 0xffffffff)
  if (badIndex !== undefined) throw new InvalidArgumentError(`${op} sparse.indices must be integers from 0 to 2^32 - 1, got ${badIndex}`)
  const badValue = values.find((v) => typeof v !== 'number' || !Number.isFinite(v))
  if (badValue !== undefined) throw new InvalidArgumentError(`${op} sparse.values must be finite numbers, got ${describe(badValue)}`)
  if (s.field !== undefined && typeof s.field !== 'string') throw new InvalidArgumentError(`${op} sparse.field must be a field name, got ${describe(s.field)}`)
  native.sparseIndices = indices
  native.sparseValues = values
  native.sparseField = s.field
}

/** `fusion` checked into the engine's options. */
export function fusionOptions(op: string, fusion: Fusion | undefined, native: NativeSearchOptions): void {
  if (fusion === undefined || fusion === 'rrf') return
  if (fusion === 'weighted') {
    native.fusion = 'weighted'
    return
  }
  const f = optionsObject<Exclude<Fusion, string>>(`${op} options.fusion`, fusion, ['method', 'k', 'weights'])
  if (f.method !== undefined && f.method !== 'rrf' && f.method !== 'weighted') {
    throw new InvalidArgumentError(`${op} options.fusion.method must be 'rrf' or 'weighted', got ${describe(f.method)}`)
  }
  const weights =
    f.weights === undefined
      ? {}
      : optionsObject<{ vector?: number; text?: number; sparse?: number }>(`${op} options.fusion.weights`, f.weights, ['vector', 'text', 'sparse'])
  // `{ weights }` alone means weighted fusion (RRF with weights says method: 'rrf').
  native.fusion = f.method ?? (f.weights === undefined ? 'rrf' : 'weighted')
  native.fusionK = checkOptionalFinite(`${op} options.fusion.k`, f.k)
  native.vectorWeight = checkOptionalFinite(`${op} options.fusion.weights.vector`, weights.vector)
  native.textWeight = checkOptionalFinite(`${op} options.fusion.weights.text`, weights.text)
  native.sparseWeight = checkOptionalFinite(`${op} options.fusion.weights.sparse`, weights.sparse)
  if (f.k !== undefined && native.fusion !== 'rrf') throw new InvalidArgumentError(`${op} options.fusion.k is RRF's; this fusion is weighted`)
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
