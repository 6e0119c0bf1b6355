/**
 * Streaming writes: `Collection.ingest(source)` pulls records from an iterable, async
 * iterable or object-mode `Readable` and `Collection.createWriteStream()` takes them through
 * `write()`. Both gather records into batches and hand them to the batch writer with at most
 * `maxInFlight` batches uncommitted, so memory stays bounded by `maxInFlight x batchSize`
 * records however long the source. Batches commit in stream order. One `BatchPipeline` does the batching and the accounting
 * for both.
 */
import { Writable } from 'node:stream'
import { checkOptionalBoolean, checkOptionalFunction, checkOptionalInteger, describe, optionsObject } from './check'
import { AbortError, type BatchItemError, InvalidArgumentError, LibraVDBError } from './errors'
import { type CallOptions, callSignal } from './native'
import type { BatchOptions, BatchResult, ColumnarBatch, VectorRecord } from './records'

/** Progress of an ingest or a write stream. */
export interface IngestProgress {
  /** Records committed so far. */
  ingested: number
  /** Records rejected so far (with `atomic: false`). */
  failed: number
  /** Records committed per second since the start. */
  ratePerSec: number
}

/** Outcome of `ingest()` (and `createWriteStream().result`). */
export interface IngestResult extends BatchResult {
  /** Per-item errors, `index` being the position in the whole stream; at most `maxErrors`
   * of them (`errorsOmitted` counts the rest). */
  errors: BatchItemError[]
  /** Rejected items not listed in `errors` because the list reached `maxErrors`. */
  errorsOmitted: number
  /** Wall time from the first pull to the last commit. */
  durationMs: number
}

/** Options of {@link Collection.ingest}. */
export interface IngestOptions extends CallOptions {
  /** Records per batch handed to the engine. 1 to 1,000,000, default 1000. */
  batchSize?: number
  /** Batches read ahead and queued: the source is never more than `maxInFlight x batchSize`
   * records ahead of what is committed. Batches are written one after another in stream
   * order, so what is committed is always a prefix of the stream. 1 to 64, default 2. */
  maxInFlight?: number
  /** `false` (default): invalid records are reported in `errors` and the rest stored.
   * `true`: each batch is all or nothing, and the first invalid record stops the ingest
   * with its typed error (batches committed before stand). */
  atomic?: boolean
  /** Replace records whose id exists instead of rejecting them. Default `false`. */
  upsert?: boolean
  /** Called on the JS thread after each committed batch. */
  onProgress?: (progress: IngestProgress) => void
  /** Most per-item errors kept in the result. Default 1000. */
  maxErrors?: number
}

/** Options of {@link Collection.createWriteStream}. */
export interface WriteStreamOptions extends Omit<IngestOptions, 'signal' | 'timeoutMs'> {
  /** Records buffered before `write()` returns false. Default `batchSize`. */
  highWaterMark?: number
}

/** A write stream of records: `result` is complete once `'finish'` has been emitted. */
export interface RecordWriteStream extends Writable {
  /** Counts and per-item errors so far. */
  readonly result: IngestResult
}

/** The batch writer a pipeline feeds (a collection's `insertBatch` / `upsertBatch`). */
export type BatchWriter = (batch: VectorRecord[] | ColumnarBatch, opts: BatchOptions, upsert: boolean) => Promise<BatchResult>

const INGEST_KEYS = ['batchSize', 'maxInFlight', 'atomic', 'upsert', 'onProgress', 'maxErrors', 'signal', 'timeoutMs'] as const
const STREAM_KEYS = ['batchSize', 'maxInFlight', 'atomic', 'upsert', 'onProgress', 'maxErrors', 'highWaterMark'] as const

interface PipelineSettings {
  batchSize: number
  maxInFlight: number
  atomic: boolean
  upsert: boolean
  onProgress?: (progress: IngestProgress) => void
  maxErrors: number
}

function pipelineSettings(where: string, o: IngestOptions): PipelineSettings {
  return {
    batchSize: checkOptionalInteger(`${where}.batchSize`, o.batchSize, 1, 1_000_000) ?? 1000,
    maxInFlight: checkOptionalInteger(`${where}.maxInFlight`, o.maxInFlight, 1, 64) ?? 2,
    atomic: checkOptionalBoolean(`${where}.atomic`, o.atomic) ?? false,
    upsert: checkOptionalBoolean(`${where}.upsert`, o.upsert) ?? false,
    onProgress: checkOptionalFunction(`${where}.onProgress`, o.onProgress),
    maxErrors: checkOptionalInteger(`${where}.maxErrors`, o.maxErrors, 0, 1_000_000_000) ?? 1000,
  }
}

function isColumnar(item: unknown): item is ColumnarBatch {
  return typeof item === 'object' && item !== null && 'ids' in item && (item as ColumnarBatch).vectors instanceof Float32Array
}

/**
 * Gathers records into batches and writes them with at most `maxInFlight` uncommitted,
 * keeping counts, per-item errors (indexed in the whole stream) and the first fatal error.
 */
class BatchPipeline {
  readonly #write: BatchWriter
  readonly #s: PipelineSettings
  readonly #start = performance.now()
  #pending: VectorRecord[] = []
  /** Stream index of the first record of `#pending`. */
  #pendingStart = 0
  /** Records taken so far (the stream index of the next one). */
  taken = 0
  readonly #inFlight = new Set<Promise<void>>()
  /** The last batch queued: the next one is written after it settles. */
  #tail: Promise<void> = Promise.resolve()
  readonly result: IngestResult = { succeeded: 0, failed: 0, errors: [], errorsOmitted: 0, durationMs: 0 }
  /** The first error that ends the stream (an atomic batch's rejection, an I/O error). */
  fatal: unknown

  constructor(write: BatchWriter, settings: PipelineSettings) {
    this.#write = write
    this.#s = settings
  }

  /** Records taken but not committed yet. */
  get uncommitted(): number {
    return this.taken - this.result.succeeded - this.result.failed
  }

  /** Whether another batch may be started without exceeding `maxInFlight`. */
  get hasRoom(): boolean {
    return this.#inFlight.size < this.#s.maxInFlight
  }

  get batchFull(): boolean {
    return this.#pending.length >= this.#s.batchSize
  }

  /** Adds a record (or a whole columnar batch, written as it is). */
  add(item: unknown, signal?: AbortSignal): void {
    if (isColumnar(item)) {
      this.flush(signal)
      this.#submit(item, this.taken, signal)
      this.taken += item.ids.length
      this.#pendingStart = this.taken
      return
    }
    this.#pending.push(item as VectorRecord)
    this.taken++
    if (this.batchFull) this.flush(signal)
  }

  /** Starts writing the records gathered so far. */
  flush(signal?: AbortSignal): void {
    if (this.#pending.length === 0) return
    const batch = this.#pending
    this.#pending = []
    this.#submit(batch, this.#pendingStart, signal)
    this.#pendingStart = this.taken
  }

  /** Queues a batch behind the ones in flight: batches are written one after another, in
   * stream order, so what is committed is always a prefix of the stream (a stopped ingest can
   * be resumed from `ingested + failed`). The pipeline overlaps reading the source with the
   * write; a write is skipped once an earlier one failed. */
  #submit(batch: VectorRecord[] | ColumnarBatch, start: number, signal?: AbortSignal): void {
    const done: Promise<void> = this.#tail
      .then(async () => {
        if (this.fatal !== undefined) return
        try {
          const r = await this.#write(batch, { atomic: this.#s.atomic, signal }, this.#s.upsert)
          this.result.succeeded += r.succeeded
          this.result.failed += r.failed
          for (const e of r.errors) {
            if (this.result.errors.length < this.#s.maxErrors) this.result.errors.push({ ...e, index: start + e.index })
            else this.result.errorsOmitted++
          }
          this.#s.onProgress?.(this.progress())
        } catch (e) {
          if (e instanceof LibraVDBError && e.errors) e.errors = e.errors.map((x) => ({ ...x, index: start + x.index }))
          this.fatal ??= e
        }
      })
      .finally(() => this.#inFlight.delete(done))
    this.#tail = done
    this.#inFlight.add(done)
  }

  /** Resolves when a batch in flight settles (at once when none is). */
  async waitForRoom(): Promise<void> {
    while (!this.hasRoom) await Promise.race(this.#inFlight)
  }

  /** Resolves when every batch in flight has settled. */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight)
    this.result.durationMs = performance.now() - this.#start
  }

  progress(): IngestProgress {
    const seconds = (performance.now() - this.#start) / 1000
    const { succeeded: ingested, failed } = this.result
    return { ingested, failed, ratePerSec: seconds > 0 ? ingested / seconds : 0 }
  }
}

/** Attaches the progress so far to the error an ingest rejects with. */
function withProgress(e: unknown, progress: IngestProgress): unknown {
  if (typeof e === 'object' && e !== null && Object.isExtensible(e)) (e as { progress?: IngestProgress }).progress = progress
  return e
}

function iteratorOf(source: unknown): Iterator<unknown> | AsyncIterator<unknown> {
  if (source !== null && typeof source === 'object' && !isColumnar(source)) {
    const asyncIterable = (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator]
    if (typeof asyncIterable === 'function') return asyncIterable.call(source)
    const iterable = (source as Partial<Iterable<unknown>>)[Symbol.iterator]
    if (typeof iterable === 'function') return iterable.call(source)
  }
  throw new InvalidArgumentError(`ingest() takes an iterable, async iterable or object-mode Readable of records, got ${describe(source)}`)
}

/** The implementation of `Collection.ingest`. */
export async function ingest(write: BatchWriter, source: unknown, opts: IngestOptions | undefined): Promise<IngestResult> {
  const o = optionsObject<IngestOptions>('ingest options', opts, INGEST_KEYS)
  const settings = pipelineSettings('ingest options', o)
  const signal = callSignal(o)
  const iterator = iteratorOf(source)
  const pipeline = new BatchPipeline(write, settings)
  let failure: unknown
  let sourceDone = false
  try {
    while (failure === undefined) {
      // Pull only while a batch can be started: at most maxInFlight x batchSize records
      // are ever read ahead of what is committed.
      await pipeline.waitForRoom()
      if (pipeline.fatal !== undefined) break
      if (signal?.aborted) break
      let next: IteratorResult<unknown>
      try {
        next = await iterator.next()
      } catch (e) {
        failure = e
        sourceDone = true // a throwing generator is finished
        break
      }
      if (next.done) {
        sourceDone = true
        break
      }
      pipeline.add(next.value, signal)
    }
    if (failure === undefined && pipeline.fatal === undefined && !signal?.aborted) pipeline.flush(signal)
    await pipeline.drain()
  } finally {
    if (!sourceDone) await iterator.return?.()
  }
  failure ??= pipeline.fatal
  if (failure === undefined && signal?.aborted) {
    const reason = signal.reason instanceof Error ? `: ${signal.reason.message}` : ''
    failure = new AbortError(`ingest was cancelled after ${pipeline.result.succeeded} records were committed; they stay${reason}`)
  }
  if (failure !== undefined) throw withProgress(failure, pipeline.progress())
  return pipeline.result
}

/** The implementation of `Collection.createWriteStream`. */
export function createWriteStream(write: BatchWriter, opts: WriteStreamOptions | undefined): RecordWriteStream {
  const o = optionsObject<WriteStreamOptions>('createWriteStream options', opts, STREAM_KEYS)
  const settings = pipelineSettings('createWriteStream options', o)
  const highWaterMark = checkOptionalInteger('createWriteStream options.highWaterMark', o.highWaterMark, 1, 10_000_000) ?? settings.batchSize
  const pipeline = new BatchPipeline(write, settings)
  const failed = () => (pipeline.fatal === undefined ? undefined : withProgress(pipeline.fatal, pipeline.progress()))

  const stream = new Writable({
    objectMode: true,
    highWaterMark,
    write(record: unknown, _encoding, callback) {
      pipeline.add(record)
      // Hold the callback (so Node buffers further writes and write() turns false) while the
      // writes in flight are at their limit.
      pipeline.waitForRoom().then(() => callback(failed() as Error | undefined), callback)
    },
    final(callback) {
      pipeline.flush()
      pipeline.drain().then(() => callback(failed() as Error | undefined), callback)
    },
  }) as RecordWriteStream
  Object.defineProperty(stream, 'result', { get: () => pipeline.result, enumerable: true })
  return stream
}
