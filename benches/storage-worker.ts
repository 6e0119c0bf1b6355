/**
 * Child process of the storage-modes benchmark: builds one on-disk HNSW collection of `n`
 * clustered 128-d vectors with the given `storage.mmap`, quantization, 2 KB metadata per
 * record and memory limit, then measures resident memory (anonymous and file-backed growth
 * over the process before the collection existed), `memoryUsage()`, search q/s warm, and q/s
 * of the first sweep after a memory-pressure crossing released the mapped pages (they come
 * back from the page cache: the cost of degradation). Prints one JSON line.
 * argv: JSON {@link StorageSpec}.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type CollectionConfig, type CollectionMemory, LibraVDB } from '../index'
import { clustered } from './datasets'
import { residentBytes } from './harness'

export interface StorageSpec {
  n: number
  mmap: 'auto' | 'true' | 'false'
  quantization?: 'sq8'
  /** Bytes of text stored as metadata with each record (0: none). */
  metadataBytes: number
  memoryLimit?: string
  queries: number
}

export interface StorageResult {
  n: number
  anonBytes: number
  fileBytes: number
  /** Growth of the V8 heap (part of `anonBytes`): the JS side of writes and results. */
  v8HeapBytes: number
  /** Bytes of the metadata cache (part of `anonBytes`; bounded by `metadataCache`). */
  cacheBytes: number
  /** `memoryUsage().total`: what the limit is measured against. */
  heldBytes: number
  /** The collection's `memoryUsage()` parts. */
  parts: CollectionMemory
  vectorsInMemory: boolean
  qps: number
  qpsAfterRelease: number
  /** Resident full-precision bytes right after the release (0 when pages were dropped). */
  residentAfterRelease: number
}

const gc = () => (globalThis as { gc?: () => void }).gc?.()

async function main() {
  const spec = JSON.parse(process.argv[2]) as StorageSpec
  const dim = 128
  const ds = clustered({ n: spec.n, nq: spec.queries, dim, centres: 100, sigma: 20, seed: 31 })
  const text = 'x'.repeat(spec.metadataBytes)
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-storage-'))
  try {
    const db = await LibraVDB.open(dir, { fsync: false, memoryLimit: spec.memoryLimit })
    gc()
    const before = residentBytes()
    const heapBefore = process.memoryUsage().heapTotal
    const config: CollectionConfig = {
      dimension: dim,
      index: { type: 'hnsw', m: 12, efConstruction: 64 },
      storage: { mmap: spec.mmap === 'auto' ? 'auto' : spec.mmap === 'true' },
      ...(spec.quantization ? { quantization: { type: 'scalar', bits: 8 } } : {}),
    }
    const c = await db.createCollection('c', config)
    for (let s = 0; s < spec.n; s += 10_000) {
      const m = Math.min(10_000, spec.n - s)
      const ids = Array.from({ length: m }, (_, i) => String(s + i))
      const metadata = spec.metadataBytes ? ids.map((id) => ({ id, text })) : undefined
      await c.insertBatch({ ids, vectors: ds.base.subarray(s * dim, (s + m) * dim), metadata })
    }
    const q = (i: number) => ds.queries.subarray(i * dim, (i + 1) * dim)
    const sweep = () => {
      const t0 = performance.now()
      for (let i = 0; i < spec.queries; i++) c.searchSync(q(i), { k: 10, includeMetadata: spec.metadataBytes > 0 })
      return (spec.queries * 1000) / (performance.now() - t0)
    }
    sweep() // warm-up
    const qps = Math.max(sweep(), sweep())
    gc()
    const after = residentBytes()
    const heapAfter = process.memoryUsage().heapTotal
    const usage = db.memoryUsage()
    const stats = c.stats()
    // A limit just above what is held puts the database past its pressure threshold (0.8);
    // the next write empties caches and releases mapped pages (off the JS thread) and emits.
    const pressured = new Promise((resolve) => db.once('memoryPressure', resolve))
    db.setMemoryLimit(null)
    db.setMemoryLimit(Math.ceil(usage.total / 0.85))
    await c.insert({ id: 'pressure', vector: q(0) })
    await pressured
    for (let t = 0; t < 200 && c.stats().residentVectorBytes > stats.residentVectorBytes / 4; t++) await sleep(10)
    const residentAfterRelease = c.stats().residentVectorBytes
    const qpsAfterRelease = sweep()
    const out: StorageResult = {
      n: spec.n,
      anonBytes: after.anon - before.anon,
      fileBytes: after.file - before.file,
      v8HeapBytes: heapAfter - heapBefore,
      cacheBytes: stats.memory.cache,
      heldBytes: usage.total,
      parts: usage.collections.c,
      vectorsInMemory: stats.vectorsInMemory,
      qps,
      qpsAfterRelease,
      residentAfterRelease,
    }
    await db.close()
    console.log(JSON.stringify(out))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
