/**
 * Per-item batch reporting: what the facade finds wrong with an item before sending a batch,
 * merged with what the engine reports, and the typed error an atomic rejection throws.
 */
import { describe } from './config'
import { type BatchItemError, type ErrorCode, InvalidArgumentError, LibraVDBError } from './errors'
import type { NativeBatchReport } from './native'

/** Metadata of a record: a JSON-serialisable object. */
export type Metadata = Record<string, unknown>

export function metadataJson(where: string, m: unknown): string | null {
  if (m === undefined || m === null) return null
  if (typeof m !== 'object' || Array.isArray(m) || ArrayBuffer.isView(m)) {
    throw new InvalidArgumentError(`${where} must be a plain object, got ${describe(m)}`)
  }
  try {
    return JSON.stringify(m)
  } catch (e) {
    throw new InvalidArgumentError(`${where} is not JSON-serialisable: ${(e as Error).message}`)
  }
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

export function parseMetadata(json: string | null | undefined): Metadata | undefined {
  return json == null ? undefined : (JSON.parse(json) as Metadata)
}
