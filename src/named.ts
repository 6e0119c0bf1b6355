/**
 * Named vector fields on the write and read paths: a record's `vectors` object checked
 * against the fields and packed into one block per field (the engine's form), an update's
 * fields set or removed, and a stored record's fields read back.
 */
import { describe, isPlainObject } from './check'
import { InvalidArgumentError } from './errors'
import { type Metric, type VectorFieldConfig, validateVectorField } from './config'
import type { NativeFieldInfo, NativeNamedBlock, NativeNamedUpdate, NativeNamedVector, NativeRecord, NativeVectorField } from './native'
import type { Metadata, StoredRecord } from './records'
import { toVector } from './vectors'

/** A collection's named vector fields by name. */
export type VectorFields = ReadonlyMap<string, { dimension: number; metric: Metric }>

/** The fields a native collection reports, by name. */
export function vectorFields(infos: readonly NativeFieldInfo[]): VectorFields {
  return new Map(infos.map((f) => [f.name, { dimension: f.dimension, metric: f.metric as Metric }]))
}

/** A named vector field's configuration checked, in the engine's form (`path` names it in
 * errors). */
export function vectorFieldSpec(name: string, spec: VectorFieldConfig, path = `vectors.${name}`): NativeVectorField {
  if (typeof name !== 'string') throw new InvalidArgumentError(`a vector field's name must be a string, got ${describe(name)}`)
  const f = validateVectorField(path, spec)
  return {
    name,
    dimension: f.dimension,
    metric: f.metric,
    index: f.index && JSON.stringify(f.index),
    quantization: f.quantization && JSON.stringify(f.quantization),
  }
}

/** A field as the engine describes it (an export's file info) as `addVectorField` takes it. */
export function fieldConfig(f: NativeVectorField): VectorFieldConfig {
  const index = f.index == null ? undefined : (JSON.parse(f.index) as VectorFieldConfig['index'])
  const quantization = f.quantization == null ? undefined : (JSON.parse(f.quantization) as VectorFieldConfig['quantization'])
  return {
    dimension: f.dimension,
    ...(f.metric != null && { metric: f.metric as Metric }),
    ...(index && { index }),
    ...(quantization && { quantization }),
  }
}

/** `field` of `fields`, or `InvalidArgumentError` naming the fields there are. */
export function vectorField(fields: VectorFields, field: string, what: string) {
  const f = fields.get(field)
  if (f) return f
  const names = [...fields.keys()]
  throw new InvalidArgumentError(
    `${what}: '${field}' is not a vector field of this collection (its vector fields: ${names.length ? names.join(', ') : 'none: it has one unnamed vector'})`,
  )
}

/** A record's `vector` in a collection of named fields only: there is none to give. */
export function unnamedVectorProblem(vector: unknown): InvalidArgumentError | undefined {
  if (vector === undefined) return undefined
  return new InvalidArgumentError('vector: this collection has named vector fields only; give them as vectors: { field: vector }')
}

/** A record's `vectors` checked: an object of fields of this collection, each a vector of its
 * dimension (`null` only where `allowNull`: an update removing the field). */
function checkedVectors(fields: VectorFields, v: unknown, allowNull: boolean): [string, Float32Array | null][] {
  if (!isPlainObject(v)) throw new InvalidArgumentError(`vectors must be an object of field -> vector, got ${describe(v)}`)
  return Object.entries(v).map(([name, vector]) => {
    const f = vectorField(fields, name, 'vectors')
    if (vector === null && allowNull) return [name, null]
    return [name, toVector(vector, f.dimension, `vectors.${name}`)]
  })
}

/** A fused query's named fields' vectors (`{ vectors: { field: v } }`), checked, as the
 * engine takes them (undefined: none). */
export function fieldQueries(fields: VectorFields, vectors: unknown): NativeNamedVector[] | undefined {
  if (vectors === undefined) return undefined
  if (isPlainObject(vectors) && Object.keys(vectors).length === 0) {
    throw new InvalidArgumentError('search query.vectors names no field; give { field: query vector }')
  }
  return checkedVectors(fields, vectors, false).map(([field, vector]) => ({ field, vector: vector as Float32Array }))
}

/** Packs the named vectors of the records of a put batch, one block per field. */
export class NamedBlocks {
  readonly #fields: VectorFields
  readonly #present = new Map<string, number[]>()
  readonly #rows = new Map<string, Float32Array[]>()
  #records = 0

  constructor(fields: VectorFields) {
    this.#fields = fields
  }

  /** Checks the next record's `vectors` (absent: it carries none); throws on a problem, with
   * nothing added. */
  add(vectors: unknown): void {
    const checked = vectors === undefined ? [] : checkedVectors(this.#fields, vectors, false)
    const at = this.#records++
    for (const [name, v] of checked) {
      if (!this.#present.has(name)) {
        this.#present.set(name, [])
        this.#rows.set(name, [])
      }
      this.#present.get(name)!.push(at)
      this.#rows.get(name)!.push(v as Float32Array)
    }
  }

  /** The engine's blocks (undefined when no record carries a named vector). */
  blocks(): NativeNamedBlock[] | undefined {
    if (this.#present.size === 0) return undefined
    return [...this.#present].map(([field, at]) => {
      const present = new Uint8Array(this.#records)
      for (const i of at) present[i] = 1
      const rows = this.#rows.get(field)!
      const dim = this.#fields.get(field)!.dimension
      const vectors = new Float32Array(rows.length * dim)
      rows.forEach((v, r) => vectors.set(v, r * dim))
      return { field, present, vectors }
    })
  }
}

/** An update's `vectors` (item `item` of the batch sent) as the engine takes them. */
export function namedUpdates(fields: VectorFields, item: number, vectors: unknown): NativeNamedUpdate[] {
  if (vectors === undefined) return []
  return checkedVectors(fields, vectors, true).map(([field, vector]) => ({ item, field, vector: vector ?? undefined }))
}

/** A record's named vectors, by field (what `StoredRecord.vectors` holds). */
export function namedVectors(r: NativeRecord): Record<string, Float32Array> {
  return Object.fromEntries(r.named.map((n) => [n.field, n.vector]))
}

/** A stored record as `get()` returns it: `vectors` when the collection has named fields
 * (`named`), `metadata` when it has some. */
export function storedRecord(r: NativeRecord, metadata: Metadata | undefined, named: boolean): StoredRecord {
  const record: StoredRecord = { id: r.id, vector: r.vector }
  if (named) record.vectors = namedVectors(r)
  if (metadata !== undefined) record.metadata = metadata
  return record
}

