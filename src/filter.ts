/**
 * Object filters in the style of Pinecone / MongoDB, compiled into the canonical JSON tree the
 * engine executes:
 *
 * ```ts
 * { category: 'book', price: { $gte: 5, $lte: 20 }, $or: [{ tags: { $contains: 'sale' } }, { year: { $gt: 2020 } }] }
 * ```
 *
 * Operators: `$eq $ne $gt $gte $lt $lte $between $in $nin $exists $contains $containsAny
 * $containsAll`, combined with `$and`, `$or`, `$not`. A bare value means `$eq`; several
 * conditions in one object must all hold. Dates (`Date` objects, or ISO strings for `date`
 * schema fields) compare as epoch milliseconds. Errors name the path (`$or[1].price.$gte`).
 */
import { describe } from './check'
import { InvalidArgumentError, SchemaError } from './errors'

/** Types of schema fields. `text`: a string searched by BM25 (`search({ text })`);
 * `sparse`: a sparse vector `{ indices, values }` searched by inner product (`search({ sparse })`). */
export type FieldType = 'string' | 'int' | 'float' | 'bool' | 'date' | 'string[]' | 'number[]' | 'text' | 'sparse'

/** A `text` field with its analysis and scoring options (`'text'` alone takes the defaults). */
export interface TextField {
  /** Always `'text'`. */
  type: 'text'
  /** The language of the stemmer and stop words (default `'english'`): arabic, danish, dutch,
   * english, finnish, french, german, greek, hungarian, italian, norwegian, portuguese,
   * romanian, russian, spanish, swedish, tamil, turkish. */
  language?: string
  /** Reduce words to their Snowball stem (`running` -> `run`); default false, so exact
   * terms (names, codes) stay as written. */
  stemming?: boolean
  /** Drop the language's stop words (NLTK's list); default false. */
  stopWords?: boolean
  /** BM25 term-frequency saturation (default 1.2). */
  k1?: number
  /** BM25 length normalisation, 0 to 1 (default 0.75). */
  b?: number
}

/** Typed metadata fields: validated on write, indexed for filtering (text fields: for BM25). */
export type Schema = Record<string, FieldType | TextField>

/** The type of a schema entry. */
export function typeOf(spec: FieldType | TextField | undefined): FieldType | undefined {
  return typeof spec === 'object' ? spec.type : spec
}

/** A value a filter compares with. */
export type FilterValue = string | number | boolean | null | Date

/** Conditions on one field. */
export interface FieldCondition {
  /** Equal (a bare value means the same). */
  $eq?: FilterValue
  /** Not equal; records without the field match. */
  $ne?: FilterValue
  /** Greater than (numbers, strings by code point, dates). */
  $gt?: FilterValue
  /** Greater than or equal. */
  $gte?: FilterValue
  /** Less than. */
  $lt?: FilterValue
  /** Less than or equal. */
  $lte?: FilterValue
  /** Inclusive range `[low, high]`. */
  $between?: [FilterValue, FilterValue]
  /** Equal to one of these. */
  $in?: FilterValue[]
  /** Equal to none of these; records without the field match. */
  $nin?: FilterValue[]
  /** `true`: the field is present (null counts); `false`: absent. */
  $exists?: boolean
  /** The field is an array holding the value. */
  $contains?: FilterValue
  /** The field is an array holding at least one of these. */
  $containsAny?: FilterValue[]
  /** The field is an array holding all of these. */
  $containsAll?: FilterValue[]
}

/** A metadata filter. */
export interface Filter {
  /** Every one of these holds. */
  $and?: Filter[]
  /** At least one of these holds. */
  $or?: Filter[]
  /** This does not hold. */
  $not?: Filter
  [field: string]: FilterValue | FieldCondition | Filter[] | Filter | undefined
}

/** The engine's canonical filter tree. */
export type FilterNode =
  | {
      /** All hold. */
      and: FilterNode[]
    }
  | {
      /** One holds. */
      or: FilterNode[]
    }
  | {
      /** It does not hold. */
      not: FilterNode
    }
  | {
      /** The metadata field compared. */
      field: string
      /** The comparison, e.g. `'eq'`, `'gte'`, `'in'`, `'containsAll'`. */
      op: string
      /** What it is compared with (a list for list operators; dates as epoch ms). */
      value: unknown
    }

export const FIELD_TYPES: readonly FieldType[] = ['string', 'int', 'float', 'bool', 'date', 'string[]', 'number[]', 'text', 'sparse']
const TEXT_OPTIONS = ['type', 'language', 'stemming', 'stopWords', 'k1', 'b']

const OPS: Record<string, string> = {
  $eq: 'eq',
  $ne: 'ne',
  $gt: 'gt',
  $gte: 'gte',
  $lt: 'lt',
  $lte: 'lte',
  $between: 'between',
  $in: 'in',
  $nin: 'nin',
  $exists: 'exists',
  $contains: 'contains',
  $containsAny: 'containsAny',
  $containsAll: 'containsAll',
}
const LIST_OPS = new Set(['$in', '$nin', '$containsAny', '$containsAll', '$between'])

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !ArrayBuffer.isView(v)
}

/** A date as epoch milliseconds: from a `Date`, an ISO-8601 string or a finite number. */
export function toEpochMs(v: unknown, path: string): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : typeof v === 'number' ? v : NaN
  if (!Number.isFinite(t)) throw new SchemaError(`${path} must be a date (Date, ISO-8601 string or epoch ms), got ${describe(v)}`)
  return t
}

/** A comparable value for `field`, checked against its schema type. */
function scalar(v: unknown, type: FieldType | undefined, path: string): string | number | boolean | null {
  if (v instanceof Date || (type === 'date' && typeof v === 'string')) return toEpochMs(v, path)
  if (v === null || typeof v === 'string' || typeof v === 'boolean') {
    if (v !== null && type && !accepts(type, v)) throw new SchemaError(`${path} must be a ${elementType(type)}, got ${describe(v)}`)
    return v
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InvalidArgumentError(`${path} must be a finite number, got ${v}`)
    if (type && !accepts(type, v)) throw new SchemaError(`${path} must be a ${elementType(type)}, got ${v}`)
    return v
  }
  throw new InvalidArgumentError(`${path} must be a string, number, boolean, Date or null, got ${describe(v)}`)
}

function elementType(t: FieldType): string {
  return t === 'string[]' ? 'string' : t === 'number[]' ? 'number' : t
}

function accepts(t: FieldType, v: string | number | boolean): boolean {
  switch (t) {
    case 'string':
    case 'string[]':
    case 'text':
      return typeof v === 'string'
    case 'bool':
      return typeof v === 'boolean'
    default:
      return typeof v === 'number'
  }
}

function field(name: string, cond: unknown, schema: Schema, path: string): FilterNode {
  const type = typeOf(schema[name])
  if (!isPlainObject(cond)) {
    if (Array.isArray(cond)) {
      throw new InvalidArgumentError(`${path} is an array: use { $in: [...] } or { $containsAll: [...] }`)
    }
    return { field: name, op: 'eq', value: scalar(cond, type, path) }
  }
  const nodes: FilterNode[] = []
  for (const [key, v] of Object.entries(cond)) {
    const p = `${path}.${key}`
    const op = OPS[key]
    if (!op) throw new InvalidArgumentError(`${p}: unknown operator; expected one of ${Object.keys(OPS).join(', ')}`)
    if (key === '$exists') {
      if (typeof v !== 'boolean') throw new InvalidArgumentError(`${p} must be true or false, got ${describe(v)}`)
      nodes.push({ field: name, op, value: v })
    } else if (LIST_OPS.has(key)) {
      if (!Array.isArray(v)) throw new InvalidArgumentError(`${p} must be an array, got ${describe(v)}`)
      if (key === '$between' && v.length !== 2) throw new InvalidArgumentError(`${p} must be [low, high]`)
      nodes.push({ field: name, op, value: v.map((x, i) => scalar(x, type, `${p}[${i}]`)) })
    } else {
      nodes.push({ field: name, op, value: scalar(v, type, p) })
    }
  }
  if (nodes.length === 0) throw new InvalidArgumentError(`${path} has no conditions`)
  return nodes.length === 1 ? nodes[0] : { and: nodes }
}

/** Compiles an object filter into the canonical tree, checking it against `schema`. */
export function compileFilter(f: unknown, schema: Schema = {}, path = '$', depth = 0): FilterNode {
  if (depth > 32) throw new InvalidArgumentError(`${path}: filters nest at most 32 levels`)
  if (!isPlainObject(f)) throw new InvalidArgumentError(`${path} must be a filter object, got ${describe(f)}`)
  const nodes: FilterNode[] = []
  for (const [key, v] of Object.entries(f)) {
    if (v === undefined) continue
    const p = path === '$' ? key : `${path}.${key}`
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(v)) throw new InvalidArgumentError(`${p} must be an array of filters, got ${describe(v)}`)
      const kids = v.map((x, i) => compileFilter(x, schema, `${p}[${i}]`, depth + 1))
      nodes.push(key === '$and' ? { and: kids } : { or: kids })
    } else if (key === '$not') {
      nodes.push({ not: compileFilter(v, schema, p, depth + 1) })
    } else if (key.startsWith('$')) {
      throw new InvalidArgumentError(`${p}: unknown operator; expected $and, $or, $not or a field name`)
    } else {
      nodes.push(field(key, v, schema, p))
    }
  }
  return nodes.length === 1 ? nodes[0] : { and: nodes }
}

/** The field names a compiled filter reads, each once. */
export function filterFields(node: FilterNode, out: Set<string> = new Set()): Set<string> {
  if ('and' in node) node.and.forEach((n) => filterFields(n, out))
  else if ('or' in node) node.or.forEach((n) => filterFields(n, out))
  else if ('not' in node) filterFields(node.not, out)
  else out.add(node.field)
  return out
}

/** Checks a schema's shape (`where` names it in errors). */
export function validateSchema(v: unknown, where = 'collection config.schema'): Schema | undefined {
  if (v === undefined) return undefined
  if (!isPlainObject(v)) throw new InvalidArgumentError(`${where} must be an object, got ${describe(v)}`)
  for (const [name, t] of Object.entries(v)) {
    if (isPlainObject(t) && t.type === 'text') {
      const unknown = Object.keys(t).find((k) => !TEXT_OPTIONS.includes(k))
      if (unknown) {
        throw new InvalidArgumentError(`${where}.${name}.${unknown} is not a text field option; expected one of ${TEXT_OPTIONS.join(', ')}`)
      }
      continue // the values are the engine's to check
    }
    if (typeof t !== 'string' || !(FIELD_TYPES as readonly string[]).includes(t)) {
      throw new InvalidArgumentError(
        `${where}.${name} must be one of ${FIELD_TYPES.join(', ')} (or { type: 'text', ...options }), got ${describe(t)}`,
      )
    }
  }
  return v as Schema
}

/** A schema in the engine's form: field -> type, and each text field's options as JSON. */
export function nativeSchema(schema: Schema | undefined): { schema?: Record<string, string>; textOptions?: Record<string, string> } {
  if (!schema) return {}
  const types: Record<string, string> = {}
  const textOptions: Record<string, string> = {}
  for (const [name, spec] of Object.entries(schema)) {
    if (typeof spec === 'object') {
      const { type, ...options } = spec
      types[name] = type
      textOptions[name] = JSON.stringify(options)
    } else {
      types[name] = spec
    }
  }
  return { schema: types, textOptions }
}
