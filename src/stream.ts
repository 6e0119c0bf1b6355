/**
 * Streaming reads: `scan()` pages through records in storage order with one native call per
 * page (off the JS thread), so memory stays bounded by `batchSize` however large the
 * collection. A scan reports the change-feed position it is consistent at (`seq`), so that a
 * copy can follow `changes({ since: scan.seq })` from it.
 */
import type { MetadataCodec } from './batch'
import { optionsObject } from './check'
import type { Metadata } from './records'
import { namedVectors } from './named'
import { InvalidArgumentError } from './errors'
import { type Filter, compileFilter } from './filter'
import { type NativeCollection, cancellableRead, type CallOptions } from './native'
import type { SchemaView } from './schema'

/** Options of {@link Collection.scan}. */
export interface ScanOptions extends CallOptions {
  /** Canonical filter JSON (the collection compiles object filters). */
  filterJson?: string
  /** Records per native call (default 1000). */
  batchSize?: number
  /** Include each record's vector (default false). */
  includeVectors?: boolean
}

/** A record yielded by a scan. */
export interface ScannedRecord {
  /** The record's id. */
  id: string
  /** Its metadata, unless the scan was asked not to include it. */
  metadata?: Metadata
  /** Its vector, when the scan includes vectors. */
  vector?: Float32Array
  /** Its named vector fields (a collection created with `vectors`), when the scan includes vectors. */
  vectors?: Record<string, Float32Array>
}

/**
 * The records of {@link Collection.scan}, page by page, and the change-feed position they
 * are consistent at.
 */
export interface RecordScan extends AsyncGenerator<ScannedRecord> {
  /**
   * The change-feed sequence number of the collection when the scan read its first page (set
   * once the first record is yielded, or the scan ends): every change after it is in
   * `changes({ since: seq })`. A record written while the scan runs may appear in its newer
   * state; applying the changes after `seq` to a copy of the scan brings the copy to the
   * collection's state (an upsert or delete applied twice changes nothing).
   */
  readonly seq: number | undefined
}

/** Options of `Collection.scan`. */
export interface ScanCallOptions extends CallOptions {
  /** Only records matching this filter. */
  filter?: Filter
  /** Records per native call (default 1000). */
  batchSize?: number
  /** Include each record's vector (default false). */
  includeVectors?: boolean
}

/** {@link RecordScan} over `native`, its options checked and its filter compiled. */
export function scanRecords(native: NativeCollection, opts: ScanCallOptions | undefined, schema: SchemaView): RecordScan {
  const { filter, ...o } = optionsObject<ScanCallOptions>('scan options', opts, ['filter', 'batchSize', 'includeVectors', 'signal', 'timeoutMs'])
  const filterJson = filter === undefined ? undefined : JSON.stringify(compileFilter(filter, schema.schema))
  const state: { seq?: number } = {}
  const scan = pages(native, { ...o, filterJson }, schema.codec, state) as RecordScan
  Object.defineProperty(scan, 'seq', { get: () => state.seq, enumerable: true })
  return scan
}

async function* pages(native: NativeCollection, o: ScanOptions, metadata: MetadataCodec, state: { seq?: number }): AsyncGenerator<ScannedRecord> {
  const batchSize = o.batchSize ?? 1000
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidArgumentError(`scan batchSize must be an integer >= 1, got ${batchSize}`)
  }
  let after: number | undefined
  for (;;) {
    const page = await cancellableRead(o, () => native.scanPage(after, batchSize, o.filterJson, o.includeVectors ?? false))
    state.seq ??= page.seq
    for (const r of page.records) {
      const rec: ScannedRecord = { id: r.id }
      const m = metadata.decode(r.metadata)
      if (m !== undefined) rec.metadata = m
      if (o.includeVectors) rec.vector = r.vector
      if (o.includeVectors && r.named.length > 0) rec.vectors = namedVectors(r)
      yield rec
    }
    if (page.next == null) return
    after = page.next
  }
}
