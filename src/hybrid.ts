/**
 * The hybrid query: its text, sparse and fusion parts checked into the engine's options,
 * and the plan `explain()` shows for each signal.
 */
import { checkOptionalBoolean, checkOptionalFinite, describe, optionsObject } from './check'
import { InvalidArgumentError } from './errors'
import { type NativeCollection, type NativeSearchOptions, callSync } from './native'
import type { ExplainOptions, Fusion, HybridQuery, QueryPlan, SparseVector, TextQuery } from './records'

/** The options `explain()` takes. */
export const EXPLAIN_KEYS = ['k', 'efSearch', 'nprobe', 'filter', 'fetchK', 'fusion', 'text', 'sparse', 'vector', 'using'] as const

/** A search's first argument as a `{ vector?, text?, sparse? }` query (checked), or
 * undefined when it is a vector. */
export function hybridQuery(op: string, q: unknown): HybridQuery | undefined {
  if (typeof q !== 'object' || q === null || Array.isArray(q) || ArrayBuffer.isView(q)) return undefined
  const h = optionsObject<HybridQuery>(`${op} query`, q, ['vector', 'text', 'sparse', 'vectors'])
  if (signalCount(h) === 0) {
    throw new InvalidArgumentError(`${op} query needs a vector, a text query, a sparse vector or named fields' vectors: { vector, text, sparse, vectors }`)
  }
  return h
}

/** How many signals (vector, text, sparse, each named field) a query has. */
export function signalCount(q: HybridQuery): number {
  const fields = q.vectors && typeof q.vectors === 'object' ? Object.keys(q.vectors).length : 0
  return [q.vector, q.text, q.sparse].filter((x) => x !== undefined).length + fields
}

export function fusionNeedsSignals(op: string): InvalidArgumentError {
  return new InvalidArgumentError(`${op} options.fusion applies to a query of two or more signals (vector, text, sparse)`)
}

/** `native` with `query`'s text and sparse parts and `fusion` added (checked). */
export function hybridOptions(op: string, query: HybridQuery, fusion: Fusion | undefined, native: NativeSearchOptions): NativeSearchOptions {
  const out: NativeSearchOptions = { ...native }
  if (query.text !== undefined) textOptions(op, query.text, out)
  if (query.sparse !== undefined) sparseOptions(op, query.sparse, out)
  fusionOptions(op, fusion, out)
  if (signalCount(query) < 2 && fusion !== undefined) throw fusionNeedsSignals(op)
  return out
}

/** The plan of a search with options `p` (the filter's, the vector's), and with a text or
 * sparse query in `extra` each of their plans and the fusion. */
export function explainPlan(
  native: NativeCollection,
  p: NativeSearchOptions,
  extra: Pick<ExplainOptions, 'text' | 'sparse' | 'vector' | 'fusion'>,
): QueryPlan {
  const plan = callSync(() => native.explain(p))
  const out: QueryPlan = { plan: plan.plan as QueryPlan['plan'], live: plan.live, reason: plan.reason }
  if (plan.estimate != null) out.estimate = plan.estimate
  if (plan.selectivity != null) out.selectivity = plan.selectivity
  if (plan.efSearch != null) out.efSearch = plan.efSearch
  if (plan.nprobe != null) out.nprobe = plan.nprobe
  const { text, sparse, fusion } = extra
  if (text === undefined && sparse === undefined) return out
  const withVector = checkOptionalBoolean('explain options.vector', extra.vector) ?? true
  const query: HybridQuery = { vector: withVector ? [] : undefined, text, sparse }
  const hybrid = callSync(() => native.explainHybrid(hybridOptions('explain', query, fusion, p), withVector))
  if (hybrid.text) out.text = hybrid.text
  if (hybrid.sparse) out.sparse = hybrid.sparse
  if (signalCount(query) > 1) {
    out.fusion = hybrid.fusion as 'rrf' | 'weighted'
    out.fetchK = hybrid.fetchK
    // The vector signal's plan is the one above, for fetchK candidates.
    if (hybrid.vector?.efSearch != null) out.efSearch = hybrid.vector.efSearch
    if (hybrid.vector?.nprobe != null) out.nprobe = hybrid.vector.nprobe
  }
  return out
}

/** The text part of a hybrid query checked into the engine's options. */
function textOptions(op: string, text: unknown, native: NativeSearchOptions): void {
  const t: Partial<TextQuery> = typeof text === 'string' ? { query: text } : optionsObject<TextQuery>(`${op} text`, text, ['query', 'fields'])
  if (typeof t.query !== 'string') throw new InvalidArgumentError(`${op} text.query must be a string, got ${describe(t.query)}`)
  if (t.fields !== undefined && (!Array.isArray(t.fields) || !t.fields.every((f) => typeof f === 'string'))) {
    throw new InvalidArgumentError(`${op} text.fields must be an array of text field names, got ${describe(t.fields)}`)
  }
  native.text = t.query
  native.textFields = t.fields
}

/** A sparse query checked into the engine's options. */
function sparseOptions(op: string, sparse: unknown, native: NativeSearchOptions): void {
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
function fusionOptions(op: string, fusion: Fusion | undefined, native: NativeSearchOptions): void {
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
