/**
 * Search results from the engine's columnar form (`NativeHits`: packed NUL-terminated ids and
 * metadata with per-query byte ends, scores and vectors as typed arrays) to hit objects, one
 * query at a time, so that a large `searchBatch` is turned into objects in slices.
 */
import type { MetadataCodec } from './batch'
import type { NativeHits, NativeSearchOptions } from './native'
import type { SearchHit } from './records'

const bytes = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)

/** Reads a `NativeHits` query by query. */
export class HitReader {
  readonly #h: NativeHits
  readonly #dim: number
  readonly #metadata: MetadataCodec
  readonly #ids: Buffer
  readonly #meta: Buffer | undefined
  #query = 0
  #hit = 0

  /** Named fields of a fused query, in the order of `h.fieldScores`. */
  readonly #fields: string[]

  constructor(h: NativeHits, dim: number, metadata: MetadataCodec, fields: string[] = []) {
    this.#h = h
    this.#dim = dim
    this.#fields = fields
    this.#metadata = metadata
    this.#ids = bytes(h.ids)
    this.#meta = h.metadata ? bytes(h.metadata) : undefined
  }

  /** Queries in the result. */
  get queries(): number {
    return this.#h.counts.length
  }

  /** The hits of the next query, best first. */
  next(): SearchHit[] {
    const h = this.#h
    const q = this.#query++
    const n = h.counts[q]
    const ids = this.#strings(this.#ids, h.idEnds, q)
    const meta = this.#meta && h.metadataEnds ? this.#strings(this.#meta, h.metadataEnds, q) : undefined
    const group: SearchHit[] = new Array(n)
    for (let j = 0; j < n; j++) {
      const i = this.#hit + j
      const hit: SearchHit = { id: ids[j], score: h.scores[i] }
      if (meta) {
        const m = this.#metadata.decode(meta[j] === '' ? null : meta[j])
        if (m !== undefined) hit.metadata = m
      }
      if (h.vectors) hit.vector = h.vectors.slice(i * this.#dim, (i + 1) * this.#dim)
      if (h.vectorScores && h.textScores && h.sparseScores) hit.signals = signals(h.vectorScores[i], h.textScores[i], h.sparseScores[i])
      if (hit.signals && h.fieldScores && this.#fields.length > 0) {
        const scored = this.#fields.map((f, s) => [f, h.fieldScores![s][i]] as const).filter(([, x]) => !Number.isNaN(x))
        if (scored.length > 0) hit.signals.fields = Object.fromEntries(scored)
      }
      group[j] = hit
    }
    this.#hit += n
    return group
  }

  /** Query `q`'s NUL-terminated strings in `buf`. */
  #strings(buf: Buffer, ends: Uint32Array, q: number): string[] {
    const start = q === 0 ? 0 : ends[q - 1]
    if (ends[q] === start) return []
    const parts = buf.toString('utf8', start, ends[q]).split('\0')
    parts.pop() // after the last terminator
    return parts
  }
}

/** A hybrid hit's per-signal scores, NaN (missed by that signal) left out. */
function signals(vector: number, text: number, sparse: number): { vector?: number; text?: number; sparse?: number } {
  const out: { vector?: number; text?: number; sparse?: number } = {}
  if (!Number.isNaN(vector)) out.vector = vector
  if (!Number.isNaN(text)) out.text = text
  if (!Number.isNaN(sparse)) out.sparse = sparse
  return out
}

/** A search asking for ids and scores only, which the lean native calls answer
 * (`searchInto`, `searchLean`). */
export function isLean(p: NativeSearchOptions): boolean {
  return !(p.includeMetadata || p.includeVectors || p.filter !== undefined || p.scoreBound !== undefined || p.diversity !== undefined)
}

/** The hits of a lean call: ids joined by NUL, scores in `scores`. */
export function leanHits(joined: string, scores: Float32Array): SearchHit[] {
  if (joined.length === 0) return []
  const ids = joined.split('\0')
  const hits: SearchHit[] = new Array(ids.length)
  for (let i = 0; i < ids.length; i++) hits[i] = { id: ids[i], score: scores[i] }
  return hits
}
