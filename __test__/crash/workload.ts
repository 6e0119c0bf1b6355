/**
 * The kill harness's workload: a seeded stream of mixed writes whose effects the parent can
 * recompute from a one-line description of each, so that it can hold an oracle of what every
 * acknowledged operation did.
 */

export const DIM = 8

/** The collections the harness writes, one per index / quantization shape. */
export const KINDS = {
  flat: { dimension: DIM, schema: { tag: 'string' } },
  hnsw: { dimension: DIM, index: { type: 'hnsw', m: 8, efConstruction: 48 }, schema: { tag: 'string' } },
  // Trains at 1,000 vectors: rounds kill it before, during and after training.
  sq8: { dimension: DIM, index: { type: 'hnsw', m: 8, efConstruction: 48 }, quantization: { type: 'scalar', bits: 8 } },
  // Named vector fields: `a` on every record, `b` on some, set and removed by updates; field
  // `c` added and dropped while writes go on.
  named: { vectors: { a: { dimension: DIM, index: { type: 'hnsw', m: 8, efConstruction: 48 } }, b: { dimension: DIM } }, schema: { tag: 'string' } },
} as const
export type Kind = keyof typeof KINDS

/** One write, as the worker logs it before running it. */
export type Op =
  | { k: 'insert'; ids: string[]; v: number }
  | { k: 'upsert'; ids: string[]; v: number }
  | { k: 'update'; ids: string[]; tag: string }
  | { k: 'delete'; ids: string[] }
  | { k: 'deleteWhere'; tag: string }
  | { k: 'optimize' }
  /** Adds schema field `v` (int) when the schema lacks it, drops it otherwise: records unchanged. */
  | { k: 'schema' }
  /** Named kind: sets field `b` of `ids` at version `v` (even), or removes it (odd). */
  | { k: 'setB'; ids: string[]; v: number }
  /** Named kind: adds vector field `c` when the collection lacks it, drops it otherwise. */
  | { k: 'vectorField' }
  /** Named kind: rebuilds field `b` (`rebuild({ using: 'b' })`) as HNSW when it is flat, flat otherwise. */
  | { k: 'rebuildB' }

export interface Stored {
  /** The unnamed vector; field `a` in the named kind. */
  vector: Float32Array
  /** Named kind: field `b`, when the record has it. */
  b?: Float32Array
  tag: string
  v: number
}

/** Named kind: the `b` vector a record written at version `v` carries (every third has one). */
export function bFor(id: string, v: number): Float32Array | undefined {
  return v % 3 === 0 ? vectorFor(`${id}/b`, v) : undefined
}

/** The vector record `id` holds at version `v`. */
export function vectorFor(id: string, v: number): Float32Array {
  let h = 2166136261
  for (const ch of `${id}/${v}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619)
  const out = new Float32Array(DIM)
  for (let i = 0; i < DIM; i++) {
    h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0
    out[i] = (h / 4294967296) * 2 - 1
  }
  return out
}

/** Applies `op` to a model of the collection (what the engine must end up holding);
 * `named`: of the named kind. */
export function apply(state: Map<string, Stored>, op: Op, named = false): Map<string, Stored> {
  const next = new Map(state)
  switch (op.k) {
    case 'insert':
    case 'upsert':
      for (const id of op.ids) next.set(id, { vector: vectorFor(id, op.v), b: named ? bFor(id, op.v) : undefined, tag: `t${op.v % 7}`, v: op.v })
      break
    case 'setB':
      for (const id of op.ids) next.set(id, { ...next.get(id)!, b: op.v % 2 === 0 ? vectorFor(`${id}/b`, op.v) : undefined })
      break
    case 'update':
      for (const id of op.ids) next.set(id, { ...next.get(id)!, tag: op.tag })
      break
    case 'delete':
      for (const id of op.ids) next.delete(id)
      break
    case 'deleteWhere':
      for (const [id, s] of state) if (s.tag === op.tag) next.delete(id)
      break
    case 'optimize':
    case 'schema':
    case 'vectorField':
    case 'rebuildB':
      break
  }
  return next
}

/** A seeded generator of operations valid against `state` (which it reads, not changes);
 * `named`: for the named kind (its field operations too). */
export function nextOp(random: () => number, state: Map<string, Stored>, serial: number, named = false): Op {
  const ids = [...state.keys()]
  const pick = (n: number) => {
    const out = new Set<string>()
    for (let i = 0; i < n && ids.length > 0; i++) out.add(ids[Math.floor(random() * ids.length)])
    return [...out]
  }
  const r = random()
  if (ids.length < 50 || r < 0.45) {
    const n = 1 + Math.floor(random() * 120)
    return { k: 'insert', ids: Array.from({ length: n }, (_, i) => `s${serial}-${i}`), v: serial }
  }
  if (r < 0.6) return { k: 'upsert', ids: [...pick(30), `s${serial}-new`], v: serial }
  if (named && r < 0.66) return { k: 'setB', ids: pick(20), v: serial }
  if (named && r < 0.68) return { k: 'vectorField' }
  if (named && r < 0.7) return { k: 'rebuildB' }
  if (r < 0.72) return { k: 'update', ids: pick(20), tag: `u${serial % 5}` }
  if (r < 0.86) return { k: 'delete', ids: pick(25) }
  if (r < 0.93) return { k: 'deleteWhere', tag: `t${serial % 7}` }
  if (r < 0.97) return { k: 'schema' }
  return { k: 'optimize' }
}
