/**
 * Argument checks shared by every public entry point: option objects, scalars, ids, and the
 * short value descriptions typed errors quote. Imports nothing but the error classes, so
 * any module can use it without an import cycle.
 */
import { InvalidArgumentError } from './errors'

/** An object that is not an array or a typed array. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v)
}

/** Rejects keys outside `allowed`, so a misspelt option never passes silently. */
export function checkKeys(where: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new InvalidArgumentError(`${where}: unknown option '${key}'; expected one of ${allowed.join(', ')}`)
    }
  }
}

/** Checks an optional options object and returns it (or `{}`). */
export function optionsObject<T extends object>(where: string, v: unknown, allowed: readonly string[]): Partial<T> {
  if (v === undefined) return {}
  if (!isPlainObject(v)) throw new InvalidArgumentError(`${where} must be an object, got ${describe(v)}`)
  checkKeys(where, v, allowed)
  return v as Partial<T>
}

/** A short description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return `an array of length ${v.length}`
  if (ArrayBuffer.isView(v)) return v.constructor.name
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '…' : v}'`
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  return typeof v
}

export function checkOptionalBoolean(where: string, v: unknown): boolean | undefined {
  if (v !== undefined && typeof v !== 'boolean') {
    throw new InvalidArgumentError(`${where} must be a boolean, got ${describe(v)}`)
  }
  return v
}

export function checkOptionalInteger(where: string, v: unknown, min: number, max?: number): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || (max !== undefined && v > max)) {
    const range = max === undefined ? `>= ${min}` : `in [${min}, ${max}]`
    throw new InvalidArgumentError(`${where} must be an integer ${range}, got ${describe(v)}`)
  }
  return v
}

export function checkOptionalFinite(where: string, v: unknown): number | undefined {
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) {
    throw new InvalidArgumentError(`${where} must be a finite number, got ${describe(v)}`)
  }
  return v
}

/** A callback option (`onProgress`, ...): a function or absent. */
export function checkOptionalFunction<F extends (...args: never[]) => unknown>(where: string, v: unknown): F | undefined {
  if (v !== undefined && typeof v !== 'function') {
    throw new InvalidArgumentError(`${where} must be a function, got ${describe(v)}`)
  }
  return v as F | undefined
}

/** A size in bytes: a number, or a string like `'512MB'`, `'2GiB'`, `'64 kB'` (decimal units
 * kB/MB/GB/TB are powers of 1000, binary KiB/MiB/GiB/TiB powers of 1024; `B` or no unit:
 * bytes). The one parser of sizes for every option that takes one. */
export type ByteSize = number | string

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
}

/** Parses a {@link ByteSize} into a positive whole number of bytes (`where` names the option). */
export function parseBytes(where: string, v: unknown): number {
  let bytes: number | undefined
  if (typeof v === 'number') bytes = v
  else if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v)
    const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined
    if (m && unit !== undefined) bytes = Math.floor(Number(m[1]) * unit)
  }
  if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new InvalidArgumentError(
      `${where} must be a positive number of bytes or a size like '512MB' or '2GiB' (units B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), got ${describe(v)}`,
    )
  }
  return bytes
}
