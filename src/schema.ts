/**
 * A collection's schema as the facade uses it (filters, `date` and `sparse` fields, the
 * unknown-field warning), read again from the engine whenever it changed: `addField` /
 * `dropField` through any handle, or a read-only handle's refresh finding a change.
 */
import { MetadataCodec } from './batch'
import { describe } from './check'
import { InvalidArgumentError } from './errors'
import { type FieldType, type Schema, type TextField, nativeSchema, validateSchema } from './filter'
import type { NativeCollection } from './native'
import { UnknownFieldWarning } from './unknown-fields'
import { type VectorFields, vectorFields } from './named'

export class SchemaView {
  readonly #native: NativeCollection
  /** The engine's `schemaVersion` the cached forms were made at. */
  #version = -1
  #schema: Schema = {}
  #codec = new MetadataCodec({})
  #unknownFields!: UnknownFieldWarning
  #fields: VectorFields = new Map()

  constructor(native: NativeCollection) {
    this.#native = native
  }

  /** Brings the cached forms up to date (one counter read when nothing changed). */
  #current(): this {
    const version = this.#native.schemaVersion
    if (version !== this.#version) {
      this.#schema = JSON.parse(this.#native.schemaJson) as Schema
      this.#codec = new MetadataCodec(this.#schema)
      this.#unknownFields = new UnknownFieldWarning(this.#native.name, this.#schema, this.#native)
      this.#fields = vectorFields(this.#native.vectorFields)
      this.#version = version
    }
    return this
  }

  /** The schema and the named vector fields at once (one counter read, where reading
   * `schema` and then `fields` reads it twice): what every search checks its options against. */
  snapshot(): { schema: Schema; fields: VectorFields } {
    this.#current()
    return { schema: this.#schema, fields: this.#fields }
  }

  /** The schema (`{}` without one). */
  get schema(): Schema {
    return this.#current().#schema
  }

  /** Metadata to and from the engine's JSON (dates, sparse vectors). */
  get codec(): MetadataCodec {
    return this.#current().#codec
  }

  /** The named vector fields, by name. */
  get fields(): VectorFields {
    return this.#current().#fields
  }

  /** Warns about filter fields that look misspelt. */
  get unknownFields(): UnknownFieldWarning {
    return this.#current().#unknownFields
  }
}

/** A field for `addField`, checked, in the engine's form: its type, and a text field's
 * options as JSON. */
export function fieldForEngine(name: unknown, spec: unknown): { name: string; kind: string; textOptions?: string } {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError(`addField name must be a non-empty string, got ${describe(name)}`)
  }
  const checked = validateSchema({ [name]: spec }, 'addField') as Record<string, FieldType | TextField>
  const { schema, textOptions } = nativeSchema(checked)
  return { name, kind: schema![name], textOptions: textOptions?.[name] }
}
