/**
 * Vector shape checks and flattening. A batch crosses into native code as one row-major
 * `n x dim` Float32Array, never one call per vector. Values are not checked here (NaN and
 * Infinity are rejected by the engine); only types and lengths.
 */
import { describe } from './check'
import { DimensionMismatchError, InvalidArgumentError, type LibraVDBError } from './errors'

/** A vector as users pass it. */
export type VectorLike = Float32Array | number[]

/** Checks that `v` is a vector of length `dim`; returns the problem instead of throwing. */
export function vectorProblem(v: unknown, dim: number, what: string): LibraVDBError | undefined {
  if (v instanceof Float32Array) {
    return v.length === dim ? undefined : dimensionError(what, v.length, dim)
  }
  if (Array.isArray(v)) {
    if (v.length !== dim) return dimensionError(what, v.length, dim)
    for (let i = 0; i < v.length; i++) {
      if (typeof v[i] !== 'number') {
        return new InvalidArgumentError(`${what}[${i}] must be a number, got ${describe(v[i])}`)
      }
    }
    return undefined
  }
  return new InvalidArgumentError(`${what} must be a Float32Array or an array of numbers, got ${describe(v)}`)
}

function dimensionError(what: string, got: number, dim: number): LibraVDBError {
  if (got === 0) return new InvalidArgumentError(`${what} is empty; it needs ${dim} components`)
  return new DimensionMismatchError(`${what} has dimension ${got}, the collection's dimension is ${dim}`)
}

/** `v` as a Float32Array of length `dim` (zero-copy when it already is one); throws otherwise. */
export function toVector(v: unknown, dim: number, what = 'vector'): Float32Array {
  const problem = vectorProblem(v, dim, what)
  if (problem) throw problem
  return v instanceof Float32Array ? v : Float32Array.from(v as number[])
}

/** Copies checked vectors into one row-major block. */
export function flatten(vectors: readonly VectorLike[], dim: number): Float32Array {
  const flat = new Float32Array(vectors.length * dim)
  vectors.forEach((v, i) => flat.set(v, i * dim))
  return flat
}

/** Queries of a batch search: one row-major block, or a list of vectors. */
export function toQueryBlock(queries: unknown, dim: number): Float32Array {
  if (queries instanceof Float32Array) {
    if (queries.length === 0 || queries.length % dim !== 0) {
      throw new DimensionMismatchError(
        `a query block must hold n x ${dim} values (row-major), got ${queries.length}`,
      )
    }
    return queries
  }
  if (!Array.isArray(queries) || queries.length === 0) {
    throw new InvalidArgumentError(
      `queries must be a Float32Array (n x ${dim}) or a non-empty array of vectors, got ${describe(queries)}`,
    )
  }
  queries.forEach((q, i) => toVector(q, dim, `queries[${i}]`))
  return flatten(queries as VectorLike[], dim)
}
