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

export interface Stored {
  vector: Float32Array
  tag: string
  v: number
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

/** Applies `op` to a model of the collection (what the engine must end up holding). */
export function apply(state: Map<string, Stored>, op: Op): Map<string, Stored> {
  const next = new Map(state)
  switch (op.k) {
    case 'insert':
    case 'upsert':
      for (const id of op.ids) next.set(id, { vector: vectorFor(id, op.v), tag: `t${op.v % 7}`, v: op.v })
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
      break
  }
  return next
}

/** A seeded generator of operations valid against `state` (which it reads, not changes). */
export function nextOp(random: () => number, state: Map<string, Stored>, serial: number): Op {
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
  if (r < 0.72) return { k: 'update', ids: pick(20), tag: `u${serial % 5}` }
  if (r < 0.86) return { k: 'delete', ids: pick(25) }
  if (r < 0.93) return { k: 'deleteWhere', tag: `t${serial % 7}` }
  if (r < 0.97) return { k: 'schema' }
  return { k: 'optimize' }
}
