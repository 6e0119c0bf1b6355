/**
 * Streaming reads: `scan()` pages through records in storage order with one native call per
 * page (off the JS thread), so memory stays bounded by `batchSize` however large the
 * collection.
 */
import type { MetadataCodec } from './batch'
import type { Metadata } from './records'
import { InvalidArgumentError } from './errors'
import { type NativeCollection, cancellableRead, type CallOptions } from './native'

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
}

/** Async generator over a collection's records, page by page. */
export async function* scanRecords(
  native: NativeCollection,
  o: ScanOptions,
  metadata: MetadataCodec,
): AsyncGenerator<ScannedRecord> {
  const batchSize = o.batchSize ?? 1000
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidArgumentError(`scan batchSize must be an integer >= 1, got ${batchSize}`)
  }
  let after: number | undefined
  for (;;) {
    const page = await cancellableRead(o, () => native.scanPage(after, batchSize, o.filterJson, o.includeVectors ?? false))
    for (const r of page.records) {
      const rec: ScannedRecord = { id: r.id }
      const m = metadata.decode(r.metadata)
      if (m !== undefined) rec.metadata = m
      if (o.includeVectors) rec.vector = r.vector
      yield rec
    }
    if (page.next == null) return
    after = page.next
  }
}
