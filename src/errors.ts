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
  'ERR_READ_ONLY',
  'ERR_CLOSED',
  'ERR_ABORTED',
  'ERR_IO',
  'ERR_INTERNAL',
  'ERR_CHANGES_EXPIRED',
] as const

/** The stable, machine-readable code of a {@link LibraVDBError}: one of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number]

/** Why one item of a batch call was not applied. */
export interface BatchItemError {
  /** Position of the item in the batch. */
  index: number
  /** The item's id (`''` when it had none). */
  id: string
  /** Why it was rejected, e.g. `'ERR_DIMENSION_MISMATCH'`. */
  code: ErrorCode
  /** What was wrong with it, naming the field and value. */
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

/** Malformed input or configuration. */
export class InvalidArgumentError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message)
  }
}

/** A vector's length differs from the collection's dimension. */
export class DimensionMismatchError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_DIMENSION_MISMATCH', message)
  }
}

/** Metadata does not match the collection's schema. */
export class SchemaError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_SCHEMA', message)
  }
}

/** A collection or record does not exist. */
export class NotFoundError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_NOT_FOUND', message)
  }
}

/** A collection with that name exists already. */
export class AlreadyExistsError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_ALREADY_EXISTS', message)
  }
}

/** A record id is repeated in a batch or already stored. */
export class DuplicateIdError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_DUPLICATE_ID', message)
  }
}

/** A write would exceed the configured memory limit. */
export class MemoryLimitError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_MEMORY_LIMIT', message)
  }
}

/** Quantizer training or encoding failed. */
export class QuantizationError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_QUANTIZATION', message)
  }
}

/** A file failed its checks; the message names it. */
export class CorruptedError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_CORRUPTED', message)
  }
}

/** Another open database (this process or another) holds the directory. */
export class LockedError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_LOCKED', message)
  }
}

/** A write through a database opened with `readOnly: true`. */
export class ReadOnlyError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_READ_ONLY', message)
  }
}

/** The database or collection was closed. */
export class ClosedError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_CLOSED', message)
  }
}

/** The operation was cancelled (AbortSignal or timeout) before it changed anything. */
export class AbortError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_ABORTED', message)
  }
}

/** The operating system refused a file operation. */
export class IoError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_IO', message)
  }
}

/** A bug in LibraVDB (including a caught native panic); please report it. */
export class InternalError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_INTERNAL', message)
  }
}

/**
 * A change-feed position (`changes({ since })`) older than the changes the collection still
 * keeps (`changeRetention`): copy a fresh snapshot (`scan()` / `export()`, which report their
 * `seq`) and follow from there.
 */
export class ChangesExpiredError extends LibraVDBError {
  constructor(message: string) {
    super('ERR_CHANGES_EXPIRED', message)
  }
}

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
  ERR_READ_ONLY: ReadOnlyError,
  ERR_CLOSED: ClosedError,
  ERR_ABORTED: AbortError,
  ERR_IO: IoError,
  ERR_INTERNAL: InternalError,
  ERR_CHANGES_EXPIRED: ChangesExpiredError,
}

/** Whether `code` is one of LibraVDB's error codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code)
}
