/**
 * Batches on the JS thread: the one triage loop every batch call runs (shape checks, in
 * slices that yield to the event loop), the packed form ids and metadata cross into the
 * engine in, and per-item reporting: what the facade finds wrong with an item, merged with
 * what the engine reports, and the typed error an atomic rejection throws.
 */
import { describe } from './check'
import { type BatchItemError, DimensionMismatchError, type ErrorCode, InvalidArgumentError, LibraVDBError } from './errors'
import type { NativeBatchReport } from './native'
import { type Schema, toEpochMs } from './filter'
import type { BatchResult, ColumnarBatch, Metadata } from './records'

declare global {
  interface String {
    /** ES2024; in Node since 20.0. */
    isWellFormed(): boolean
  }
}

/**
 * How a collection's metadata crosses into and out of the engine: as JSON text, with the
 * `date` fields of its schema stored in one canonical form, epoch milliseconds. On write a
 * date field takes a `Date`, an ISO-8601 string or epoch milliseconds; on read (`get`,
 * search hits, `scan`) it comes back as a `Date`.
 */
export class MetadataCodec {
  readonly #dateFields: string[]
  readonly #sparseFields: string[]

  constructor(schema: Schema) {
    this.#dateFields = Object.keys(schema).filter((name) => schema[name] === 'date')
    this.#sparseFields = Object.keys(schema).filter((name) => schema[name] === 'sparse')
  }

  /** JSON text for `m` (null for none); throws typed errors for a value it cannot store. */
  encode(where: string, m: unknown): string | null {
    if (m === undefined || m === null) return null
    if (typeof m !== 'object' || Array.isArray(m) || ArrayBuffer.isView(m)) {
      throw new InvalidArgumentError(`${where} must be a plain object, got ${describe(m)}`)
    }
    let out = m as Metadata
    for (const name of this.#dateFields) {
      const v = out[name]
      if (v === undefined || v === null || typeof v === 'number') continue
      if (out === m) out = { ...out }
      out[name] = toEpochMs(v, `${where}.${name}`)
    }
    // Sparse vectors may come as typed arrays, which JSON would turn into objects.
    for (const name of this.#sparseFields) {
      const v = out[name] as { indices?: unknown; values?: unknown } | undefined
      if (typeof v !== 'object' || v === null || !(ArrayBuffer.isView(v.indices) || ArrayBuffer.isView(v.values))) continue
      if (out === m) out = { ...out }
      out[name] = { ...v, indices: plainArray(v.indices), values: plainArray(v.values) }
    }
    try {
      return JSON.stringify(out)
    } catch (e) {
      throw new InvalidArgumentError(`${where} is not JSON-serialisable: ${(e as Error).message}`)
    }
  }

  /** The metadata object of stored JSON text (undefined for none). */
  decode(json: string | null | undefined): Metadata | undefined {
    if (json == null) return undefined
    const m = JSON.parse(json) as Metadata
    for (const name of this.#dateFields) {
      if (typeof m[name] === 'number') m[name] = new Date(m[name])
    }
    return m
  }
}

/** A typed array as a plain one (other values unchanged). */
function plainArray(v: unknown): unknown {
  return ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v
}

export function itemError(index: number, id: unknown, e: unknown): BatchItemError {
  const err = e instanceof LibraVDBError ? e : new InvalidArgumentError(String(e))
  return { index, id: typeof id === 'string' ? id : String(id), code: err.code, message: err.message }
}

/** Throws the typed error for a rejected batch, carrying every item error. */
export function rejectBatch(op: string, errors: BatchItemError[]): never {
  const first = errors[0]
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more, see err.errors)` : ''
  const where = op.endsWith('Batch') ? `${op}: item ${first.index} (id '${first.id}')` : op
  const err = LibraVDBError.from(first.code, `${where}: ${first.message}${more}`)
  err.errors = errors
  throw err
}

/** Merges errors found here with the engine's report on the items that were sent. */
export function mergeReport(report: NativeBatchReport, sentIndex: number[], local: BatchItemError[]): BatchItemError[] {
  const remote = report.errors.map((e) => ({ ...e, index: sentIndex[e.index], code: e.code as ErrorCode }))
  return [...local, ...remote].sort((a, b) => a.index - b.index)
}

/** JS-thread time one slice of a batch's triage may take before it yields to the loop. */
const SLICE_MS = 4

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * Runs `step(i)` for every `i` below `n`, in slices of about {@link SLICE_MS} ms of JS-thread
 * time; `endSlice` runs after each slice, then the event loop gets its turn. However large
 * the batch, no call holds the loop for longer than a slice.
 */
export async function inSlices(n: number, step: (i: number) => void, endSlice: () => void = () => {}): Promise<void> {
  let i = 0
  while (i < n) {
    const deadline = performance.now() + SLICE_MS
    do step(i++)
    while (i < n && ((i & 63) !== 0 || performance.now() < deadline))
    endSlice()
    if (i < n) await yieldToLoop()
  }
}

/**
 * Strings on their way into the engine: NUL-terminated, UTF-8, one buffer per slice, decoded
 * off the JS thread. Ids cannot contain NUL and JSON text holds none unescaped, so NUL
 * separates them; an empty entry stands for "none" (no id or JSON text is empty).
 */
export class PackedStrings {
  #parts: string[] = []
  readonly buffers: Buffer[] = []
  /** Strings pushed in all. */
  length = 0

  push(s: string): void {
    this.#parts.push(s)
    this.length++
  }

  /** Encodes what was pushed since the last seal (call at the end of each slice). */
  seal(): void {
    if (this.#parts.length === 0) return
    this.#parts.push('')
    this.buffers.push(Buffer.from(this.#parts.join('\0'), 'utf8'))
    this.#parts = []
  }
}

/** Why `id` cannot be a record id, or undefined. Lone surrogates are refused: they have no
 * UTF-8 form, so `'a\uD800'` and `'a\uDBFF'` would otherwise become the same id. */
export function idProblem(id: unknown): LibraVDBError | undefined {
  if (typeof id !== 'string') return new InvalidArgumentError(`id must be a string, got ${describe(id)}`)
  // Ids cross into the engine NUL-separated (PackedStrings): a NUL must never reach it.
  if (id.includes('\0')) return new InvalidArgumentError(`id ${JSON.stringify(id)} contains a NUL character, which ids may not hold`)
  if (!id.isWellFormed()) return new InvalidArgumentError(`id ${JSON.stringify(id)} is not well-formed UTF-16 (it holds a lone surrogate)`)
  return undefined
}

/** What the facade found in a batch before sending it. */
export interface Triage {
  /** Batch positions of the items sent, in order (the engine reports by sent position). */
  sentIndex: number[]
  /** Items refused here. */
  local: BatchItemError[]
}

/**
 * The triage loop of every batch call, in slices ({@link inSlices}): `item(i)` checks item
 * `i` and packs what is sent of it, or throws why it is invalid. Invalid items are reported
 * per item; with `rejectInvalid` any of them rejects the whole batch (the typed error lists
 * them all) before anything is sent.
 */
export async function triage(
  op: string,
  n: number,
  idOf: (i: number) => unknown,
  rejectInvalid: boolean,
  item: (i: number) => void,
  endSlice: () => void,
): Promise<Triage> {
  const t: Triage = { sentIndex: [], local: [] }
  await inSlices(
    n,
    (i) => {
      try {
        item(i)
        t.sentIndex.push(i)
      } catch (e) {
        t.local.push(itemError(i, idOf(i), e))
      }
    },
    endSlice,
  )
  if (rejectInvalid && t.local.length > 0) rejectBatch(op, t.local)
  return t
}

/** The result of a batch call from the engine's report; throws when it rejected the batch. */
export function finishBatch(op: string, report: NativeBatchReport, t: Triage): BatchResult {
  const errors = mergeReport(report, t.sentIndex, t.local)
  if (!report.applied) rejectBatch(op, errors)
  return { succeeded: report.succeeded, failed: errors.length, errors }
}

/** Throws the problem {@link idProblem} finds. */
export function checkId(id: unknown): asserts id is string {
  const problem = idProblem(id)
  if (problem) throw problem
}

/** Checks a {@link ColumnarBatch}'s shape: ids, a `Float32Array` of ids.length x `dim`
 * values, metadata one per id if given. */
export function checkColumnar(op: string, b: ColumnarBatch, dim: number): ColumnarBatch {
  if (!Array.isArray(b.ids)) throw new InvalidArgumentError(`${op}: ids must be an array of strings, got ${describe(b.ids)}`)
  if (!(b.vectors instanceof Float32Array)) {
    throw new InvalidArgumentError(`${op}: vectors must be a Float32Array (ids.length x dimension), got ${describe(b.vectors)}`)
  }
  if (b.vectors.length !== b.ids.length * dim) {
    throw new DimensionMismatchError(
      `${op}: ${b.ids.length} ids need ${b.ids.length * dim} vector values (dimension ${dim}), got ${b.vectors.length}`,
    )
  }
  if (b.metadata !== undefined && (!Array.isArray(b.metadata) || b.metadata.length !== b.ids.length)) {
    throw new InvalidArgumentError(`${op}: metadata must be an array with one entry per id`)
  }
  return b
}
