/**
 * Export and import: a collection to or from a Parquet file (written and read by the engine,
 * see crates/interchange) or an NDJSON file (one `{ id, vector, metadata }` per line, streamed
 * here). Both directions stream in bounded memory, report progress and can be cancelled; an
 * export writes `<path>.partial` and renames it at the end, so a failed or cancelled export
 * leaves no file.
 */
import { once } from 'node:events'
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { checkOptionalBoolean, checkOptionalFunction, describe, optionsObject } from './check'
import { InvalidArgumentError, LibraVDBError } from './errors'
import { type Schema, compileFilter } from './filter'
import type { IngestResult } from './ingest'
import { type CallOptions, type NativeCollection, call, cancellableWrite, parquetFileInfo } from './native'
import type { RecordScan } from './stream'
import type { VectorRecord } from './records'

/** File formats of export and import. */
export type TransferFormat = 'parquet' | 'ndjson'

/** Options of {@link Collection.export}. */
export interface ExportOptions extends CallOptions {
  /** Default: from the file extension (`.parquet`/`.pq`: Parquet; `.ndjson`/`.jsonl`: NDJSON). */
  format?: TransferFormat
  /** Only records whose metadata matches. */
  filter?: import('./filter').Filter
  /** Called with the records written so far: about every 100 ms (Parquet) or every 1000
   * records (NDJSON), and at the end. */
  onProgress?: (progress: TransferProgress) => void
}

/** Options of {@link Collection.import} and `LibraVDB.importCollection`. */
export interface ImportOptions extends CallOptions {
  /** Default: from the file extension, as for export. */
  format?: TransferFormat
  /** Replace records whose id exists instead of stopping at them. Default `false`. */
  upsert?: boolean
  /** Called about every 100 ms and at the end with the records stored so far. */
  onProgress?: (progress: TransferProgress) => void
}

/** Progress of an export or import. */
export interface TransferProgress {
  /** Records written (export) or stored (import) so far. */
  records: number
  /** Records in all, when known (the collection's count for an unfiltered export, the
   * file's rows for a Parquet import). */
  total?: number
}

/** What an export or import did. */
export interface TransferResult {
  /** Records written or stored. */
  records: number
  /** Size of the file. */
  bytes: number
  /** Wall time of the call. */
  durationMs: number
  /**
   * Export only: the change-feed sequence number the file is consistent at. Importing the
   * file elsewhere and applying `changes({ since: seq })` brings the copy up to date.
   */
  seq?: number
}

/** What a collection offers export and import (a `Collection`; named here so that this module
 * need not import it). */
export interface TransferTarget {
  scan(opts: { filter?: import('./filter').Filter; batchSize?: number; includeVectors?: boolean } & CallOptions): RecordScan
  ingest(source: AsyncIterable<VectorRecord>, opts: { batchSize?: number; atomic?: boolean; upsert?: boolean; onProgress?: (p: { ingested: number }) => void } & CallOptions): Promise<IngestResult>
  count(): Promise<number>
  readonly schema: Schema
}

/** The format named by `format`, or by the file's extension. */
export function formatOf(path: string, format: unknown, where: string): TransferFormat {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError(`${where}: path must be a non-empty string, got ${describe(path)}`)
  if (format !== undefined) {
    if (format !== 'parquet' && format !== 'ndjson') throw new InvalidArgumentError(`${where}: format must be 'parquet' or 'ndjson', got ${describe(format)}`)
    return format
  }
  if (/\.(parquet|pq)$/i.test(path)) return 'parquet'
  if (/\.(ndjson|jsonl)$/i.test(path)) return 'ndjson'
  throw new InvalidArgumentError(`${where}: cannot tell the format of ${path} from its extension; pass { format: 'parquet' | 'ndjson' }`)
}

/** The native half of a collection export and import use. */
export type TransferNative = Pick<NativeCollection, 'exportParquet' | 'importParquet'>

/** `Collection.export`: the records (those matching `filter`) to a Parquet or NDJSON file. */
export async function exportCollection(target: TransferTarget, native: TransferNative, path: string, opts: unknown): Promise<TransferResult> {
  const o = optionsObject<ExportOptions>('export options', opts, ['format', 'filter', 'onProgress', 'signal', 'timeoutMs'])
  const format = formatOf(path, o.format, 'export')
  const onProgress = checkOptionalFunction<NonNullable<ExportOptions['onProgress']>>('export options.onProgress', o.onProgress)
  const filterJson = o.filter === undefined ? undefined : JSON.stringify(compileFilter(o.filter, target.schema))
  const total = o.filter === undefined ? await target.count() : undefined
  const t0 = performance.now()
  const { records, seq } =
    format === 'parquet'
      ? await cancellableWrite(
          o,
          (token) => native.exportParquet(path, filterJson, token),
          onProgress && ((records) => onProgress({ records, total })),
        )
      : await exportNdjson(target, path, { ...o, onProgress }, total)
  return { records, bytes: fileBytes(path), durationMs: performance.now() - t0, seq }
}

/** `Collection.import`: the records of a Parquet or NDJSON file, a batch at a time. */
export async function importIntoCollection(target: TransferTarget, native: TransferNative, path: string, opts: unknown): Promise<TransferResult> {
  const o = optionsObject<ImportOptions>('import options', opts, ['format', 'upsert', 'onProgress', 'signal', 'timeoutMs'])
  const format = formatOf(path, o.format, 'import')
  const upsert = checkOptionalBoolean('import options.upsert', o.upsert) ?? false
  const onProgress = checkOptionalFunction<NonNullable<ImportOptions['onProgress']>>('import options.onProgress', o.onProgress)
  const bytes = fileBytes(path)
  const t0 = performance.now()
  let records: number
  if (format === 'parquet') {
    const total = (await call(() => parquetFileInfo(path))).rows
    const report = await cancellableWrite(
      o,
      (token) => native.importParquet(path, upsert, token),
      onProgress && ((records) => onProgress({ records, total })),
    )
    records = report.records
  } else {
    records = await importNdjson(target, path, { ...o, upsert, onProgress })
  }
  return { records, bytes, durationMs: performance.now() - t0 }
}

/** Writes the records as NDJSON lines through `<path>.partial`; returns how many, and the
 * change-feed position the scan was consistent at. */
export async function exportNdjson(
  target: TransferTarget,
  path: string,
  o: ExportOptions,
  total: number | undefined,
): Promise<{ records: number; seq: number | undefined }> {
  const partial = `${path}.partial`
  const out = createWriteStream(partial)
  let writeError: Error | undefined
  out.on('error', (e) => (writeError ??= e))
  const PAGE = 1000
  let records = 0
  let scan: RecordScan
  try {
    scan = target.scan({ filter: o.filter, includeVectors: true, batchSize: PAGE, signal: o.signal, timeoutMs: o.timeoutMs })
    for await (const r of scan) {
      const vectors = r.vectors && Object.fromEntries(Object.entries(r.vectors).map(([f, v]) => [f, Array.from(v)]))
      const line = JSON.stringify({
        id: r.id,
        ...(r.vector!.length > 0 && { vector: Array.from(r.vector!) }),
        ...(vectors && { vectors }),
        ...(r.metadata !== undefined && { metadata: r.metadata }),
      })
      if (!out.write(`${line}\n`)) await once(out, 'drain')
      if (++records % PAGE === 0) o.onProgress?.({ records, total })
    }
    out.end()
    if (!out.writableFinished && !writeError) await once(out, 'finish')
    if (writeError) throw LibraVDBError.from('ERR_IO', `${partial}: ${writeError.message}`)
    renameSync(partial, path)
  } catch (e) {
    out.destroy()
    rmSync(partial, { force: true })
    throw e
  }
  o.onProgress?.({ records, total })
  return { records, seq: scan.seq }
}

/** The records of an NDJSON file, line by line (blank lines skipped). */
export async function* readNdjson(path: string): AsyncGenerator<VectorRecord> {
  let line = 0
  for await (const text of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    line++
    if (text.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (e) {
      throw new InvalidArgumentError(`${path}:${line}: not JSON: ${(e as Error).message}`)
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidArgumentError(`${path}:${line}: expected an object { id, vector, metadata? }, got ${describe(value)}`)
    }
    yield value as VectorRecord
  }
}

/** Stores the records of an NDJSON file, stopping at the first invalid one (batches before
 * it stay, a prefix of the file). */
export async function importNdjson(target: TransferTarget, path: string, o: ImportOptions): Promise<number> {
  const result = await target.ingest(readNdjson(path), {
    batchSize: 1000,
    atomic: true,
    upsert: o.upsert ?? false,
    onProgress: o.onProgress && ((p) => o.onProgress!({ records: p.ingested })),
    signal: o.signal,
    timeoutMs: o.timeoutMs,
  })
  return result.succeeded
}

/** Size of a file in bytes. */
export function fileBytes(path: string): number {
  try {
    return statSync(path).size
  } catch (e) {
    throw LibraVDBError.from('ERR_IO', `${path}: ${(e as Error).message}`)
  }
}
