/**
 * After a filtered search found nothing: a warning (once per field, `process.emitWarning`
 * with code `LIBRAVDB_UNKNOWN_FIELD`) about filter fields outside the schema that no record
 * has, which is what a misspelt field name looks like. The records are read off the JS
 * thread; the search's result is not delayed.
 */
import { type FilterNode, type Schema, filterFields } from './filter'
import type { NativeCollection } from './native'

export class UnknownFieldWarning {
  readonly #collection: string
  readonly #schema: Schema
  readonly #native: NativeCollection
  /** Fields already looked up (each is warned about at most once). */
  readonly #checked = new Set<string>()

  constructor(collection: string, schema: Schema, native: NativeCollection) {
    this.#collection = collection
    this.#schema = schema
    this.#native = native
  }

  /** Looks up the fields of `filter` outside the schema not looked up before. */
  check(filter: FilterNode | undefined): void {
    if (!filter) return
    const fields = [...filterFields(filter)].filter((f) => !(f in this.#schema) && !this.#checked.has(f))
    if (fields.length === 0) return
    fields.forEach((f) => this.#checked.add(f))
    this.#native.fieldsNeverSeen(fields).then(
      (missing) => {
        for (const f of missing) {
          process.emitWarning(`collection '${this.#collection}': filter field '${f}' is not in the schema and no record has it (misspelt?)`, {
            code: 'LIBRAVDB_UNKNOWN_FIELD',
          })
        }
      },
      () => {},
    )
  }
}
