/**
 * The only module that touches the generated napi binding. Native errors arrive as
 * `ERR_X: message` (napi-rs cannot yet attach a code to async rejections); they are turned
 * into typed `LibraVDBError`s here, once, for every call.
 */
import type * as Binding from '../native/index'
import { describe } from './check'
import { AbortError, InternalError, InvalidArgumentError, LibraVDBError, isErrorCode } from './errors'
import { loadBinding } from './loader'

const binding = loadBinding<typeof Binding>()

export type NativeDatabase = Binding.NativeDatabase
export type NativeCollection = Binding.NativeCollection
export type NativeHits = Binding.NativeHits
export type NativeBatchReport = Binding.NativeBatchReport
export type NativeStats = Binding.NativeStats
export type NativeSearchOptions = Binding.NativeSearchOptions
export type CancelToken = Binding.CancelToken
export type NativeTuneReport = Binding.NativeTuneReport
export type NativeChange = Binding.NativeChange
export type NativeFieldInfo = Binding.NativeFieldInfo
export type NativeNamedBlock = Binding.NativeNamedBlock
export type NativeNamedUpdate = Binding.NativeNamedUpdate
export type NativeRecord = Binding.NativeRecord
export type NativeVectorField = Binding.NativeVectorField
export type NativeNamedVector = Binding.NativeNamedVector

export const NativeDatabase = binding.NativeDatabase
export const parquetFileInfo = binding.parquetFileInfo

/** Converts whatever a native call threw into a `LibraVDBError`. */
export function translate(e: unknown): LibraVDBError {
  if (e instanceof LibraVDBError) return e
  const message = e instanceof Error ? e.message : String(e)
  const m = /^(ERR_[A-Z_]+): ([\s\S]*)$/.exec(message)
  if (m && isErrorCode(m[1])) return LibraVDBError.from(m[1], m[2])
  return new InternalError(`unexpected native error: ${message}`)
}

/** Runs a synchronous native call, translating its errors. */
export function callSync<T>(f: () => T): T {
  try {
    return f()
  } catch (e) {
    throw translate(e)
  }
}

/** Awaits an asynchronous native call, translating its errors. */
export async function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f()
  } catch (e) {
    throw translate(e)
  }
}

/** Cancellation options every async call accepts. */
export interface CallOptions {
  /** Cancels the call. A write cancelled before it commits rejects with `AbortError` and
   * changes nothing; one that already committed resolves normally. */
  signal?: AbortSignal
  /** Cancels the call after this many milliseconds, as `signal` would. */
  timeoutMs?: number
}

/** The signal that cancels a call: the caller's, its timeout, or both. Bad options are
 * `InvalidArgumentError`s, before anything runs. */
export function callSignal(opts: CallOptions | undefined): AbortSignal | undefined {
  const signals: AbortSignal[] = []
  const { signal, timeoutMs } = opts ?? {}
  if (signal !== undefined) {
    if (!(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError(`options.signal must be an AbortSignal, got ${describe(signal)}`)
    }
    signals.push(signal)
  }
  if (timeoutMs !== undefined) {
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new InvalidArgumentError(`options.timeoutMs must be a finite number >= 0, got ${describe(timeoutMs)}`)
    }
    signals.push(AbortSignal.timeout(Math.ceil(timeoutMs)))
  }
  if (signals.length <= 1) return signals[0]
  return AbortSignal.any(signals)
}

function abortError(signal: AbortSignal): LibraVDBError {
  const reason = signal.reason instanceof Error ? `: ${signal.reason.message}` : ''
  return new AbortError(`the operation was cancelled before it committed; nothing was changed${reason}`)
}

/**
 * Runs a native write with a cancel token wired to the caller's signal/timeout. The native
 * side checks the token between chunks and before committing, so the promise rejects with
 * `AbortError` only when nothing changed. With `onProgress`, the count the work keeps on the
 * token is reported.
 */
export async function cancellableWrite<T>(
  opts: CallOptions | undefined,
  run: (token: CancelToken | undefined) => Promise<T>,
  onProgress?: (done: number) => void,
): Promise<T> {
  const signal = callSignal(opts)
  if (!signal && !onProgress) return call(() => run(undefined))
  if (signal?.aborted) throw abortError(signal)
  const token = new binding.CancelToken()
  const onAbort = () => token.cancel()
  signal?.addEventListener('abort', onAbort, { once: true })
  // Work that counts on the token (exports, imports) reports every 100 ms and at the end.
  const timer = onProgress && setInterval(() => onProgress(token.progress()), 100)
  try {
    return await call(() => run(token))
  } catch (e) {
    throw signal && e instanceof LibraVDBError && e.code === 'ERR_ABORTED' ? abortError(signal) : e
  } finally {
    clearInterval(timer)
    signal?.removeEventListener('abort', onAbort)
    onProgress?.(token.progress())
  }
}

/**
 * Runs a native read that can be abandoned: when the signal fires, the promise rejects with
 * `AbortError` at once (a read changes nothing), and the token tells the native work to stop
 * computing (searches check it before each query).
 */
export async function cancellableRead<T>(
  opts: CallOptions | undefined,
  run: (token: CancelToken | undefined) => Promise<T>,
): Promise<T> {
  const signal = callSignal(opts)
  if (!signal) return call(() => run(undefined))
  if (signal.aborted) throw abortError(signal)
  const token = new binding.CancelToken()
  let onAbort: () => void = () => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      token.cancel()
      reject(abortError(signal))
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  const work = call(() => run(token))
  work.catch(() => {}) // after an abort, its rejection has no one to go to
  try {
    return await Promise.race([work, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Error codes the native engine declares (for the consistency test). */
export function nativeErrorCodes(): string[] {
  return binding.errorCodes()
}

/** The SIMD instruction set the distance kernels use on this CPU. */
export function simdLevel(): string {
  return binding.simdLevel()
}

/** Options of one index or quantization type and their defaults (`null`: chosen from the data). */
export type TypeOptions = Readonly<Record<string, number | string | null>>

/** Every index and quantization type with its options and their defaults, from the engine
 * (the one place they are defined). */
export interface ConfigOptions {
  /** Per index type (`flat`, `hnsw`, `ivfpq`, `auto`): its options and their defaults. */
  readonly index: Readonly<Record<string, TypeOptions>>
  /** Per quantization type (`scalar`, `product`): its options and their defaults. */
  readonly quantization: Readonly<Record<string, TypeOptions>>
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') for (const v of Object.values(o)) deepFreeze(v)
  return Object.freeze(o)
}

export const configOptions: ConfigOptions = deepFreeze(JSON.parse(binding.configOptions()) as ConfigOptions)
