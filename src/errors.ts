/**
 * Typed errors. Every error thrown by LibraVDB is a `LibraVDBError` with a stable `code`;
 * each code also has its own subclass, so both `err.code === 'ERR_NOT_FOUND'` and
 * `err instanceof NotFoundError` work.
 */

/** Every error code, in the order the engine declares them. */
export const ERROR_CODES = [
  'ERR_INVALID_ARGUMENT',
  'ERR_DIMENSION_MISMATCH',
  'ERR_SCHEMA',
  'ERR_NOT_FOUND',
  'ERR_ALREADY_EXISTS',
  'ERR_DUPLICATE_ID',
  'ERR_MEMORY_LIMIT',
  'ERR_QUANTIZATION',
  'ERR_CORRUPTED',
  'ERR_LOCKED',
  'ERR_CLOSED',
  'ERR_ABORTED',
  'ERR_IO',
  'ERR_INTERNAL',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** Why one item of a batch call was not applied. */
export interface BatchItemError {
  /** Position of the item in the batch. */
  index: number
  id: string
  code: ErrorCode
  message: string
}

/** Base class of every error LibraVDB throws. */
export class LibraVDBError extends Error {
  /** Stable, machine-readable code. */
  readonly code: ErrorCode
  /** For a rejected batch: every invalid item. */
  errors?: BatchItemError[]

  constructor(code: ErrorCode, message: string) {
    super(message)
    this.code = code
    this.name = new.target.name
  }

  /** The subclass instance for `code`. */
  static from(code: ErrorCode, message: string): LibraVDBError {
    const Ctor = ERROR_CLASSES[code] ?? InternalError
    return new Ctor(message)
  }
}

type CodedErrorClass = new (message: string) => LibraVDBError

function coded(code: ErrorCode, name: string): CodedErrorClass {
  const cls = class extends LibraVDBError {
    constructor(message: string) {
      super(code, message)
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  return cls
}

/** Malformed input or configuration. */
export const InvalidArgumentError = coded('ERR_INVALID_ARGUMENT', 'InvalidArgumentError')
/** A vector's length differs from the collection's dimension. */
export const DimensionMismatchError = coded('ERR_DIMENSION_MISMATCH', 'DimensionMismatchError')
/** Metadata does not match the collection's schema. */
export const SchemaError = coded('ERR_SCHEMA', 'SchemaError')
/** A collection or record does not exist. */
export const NotFoundError = coded('ERR_NOT_FOUND', 'NotFoundError')
/** A collection with that name exists already. */
export const AlreadyExistsError = coded('ERR_ALREADY_EXISTS', 'AlreadyExistsError')
/** A record id is repeated in a batch or already stored. */
export const DuplicateIdError = coded('ERR_DUPLICATE_ID', 'DuplicateIdError')
/** A write would exceed the configured memory limit. */
export const MemoryLimitError = coded('ERR_MEMORY_LIMIT', 'MemoryLimitError')
/** Quantizer training or encoding failed. */
export const QuantizationError = coded('ERR_QUANTIZATION', 'QuantizationError')
/** A file failed its checks; the message names it. */
export const CorruptedError = coded('ERR_CORRUPTED', 'CorruptedError')
/** Another open database (this process or another) holds the directory. */
export const LockedError = coded('ERR_LOCKED', 'LockedError')
/** The database or collection was closed. */
export const ClosedError = coded('ERR_CLOSED', 'ClosedError')
/** The operation was cancelled (AbortSignal or timeout) before it changed anything. */
export const AbortError = coded('ERR_ABORTED', 'AbortError')
/** The operating system refused a file operation. */
export const IoError = coded('ERR_IO', 'IoError')
/** A bug in LibraVDB (including a caught native panic); please report it. */
export const InternalError = coded('ERR_INTERNAL', 'InternalError')

const ERROR_CLASSES: Record<ErrorCode, CodedErrorClass> = {
  ERR_INVALID_ARGUMENT: InvalidArgumentError,
  ERR_DIMENSION_MISMATCH: DimensionMismatchError,
  ERR_SCHEMA: SchemaError,
  ERR_NOT_FOUND: NotFoundError,
  ERR_ALREADY_EXISTS: AlreadyExistsError,
  ERR_DUPLICATE_ID: DuplicateIdError,
  ERR_MEMORY_LIMIT: MemoryLimitError,
  ERR_QUANTIZATION: QuantizationError,
  ERR_CORRUPTED: CorruptedError,
  ERR_LOCKED: LockedError,
  ERR_CLOSED: ClosedError,
  ERR_ABORTED: AbortError,
  ERR_IO: IoError,
  ERR_INTERNAL: InternalError,
}

/** Whether `code` is one of LibraVDB's error codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code)
}
