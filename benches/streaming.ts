/**
 * Streaming writes and file transfer: records/s of `ingest()` beside `insertBatch`, single
 * inserts, hnswlib-node `addPoint` and usearch `add` on the same records; peak memory of
 * `ingest()` as the source grows (child processes); export and import MB/s.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type IndexConfig, LibraVDB, type VectorRecord } from '../index'
import type { Dataset } from './datasets'
import { childResult, fmt, table } from './harness'
import type { IngestWorkerResult } from './ingest-worker'
import { type HnswlibModule, type UsearchModule, loadPeer } from './peers'

export interface IngestRate {
  index: string
  method: string
  recordsPerSec: number
}

export interface IngestMemory extends Partial<IngestWorkerResult> {
  n: number
  error?: string
}

export interface TransferRate {
  format: string
  records: number
  megabytes: number
  exportMBps: number
  importMBps: number
}

export interface StreamingResults {
  dataset: string
  n: number
  rates: IngestRate[]
  memory: IngestMemory[]
  transfer: TransferRate[]
}

async function libravdbRates(ds: Dataset, n: number, singles: number, index: IndexConfig, name: string): Promise<IngestRate[]> {
  const dim = ds.dim
  const vec = (i: number) => ds.base.subarray(i * dim, (i + 1) * dim)
  const db = await LibraVDB.open()
  const rates: IngestRate[] = []
  const time = async (method: string, count: number, work: (c: Awaited<ReturnType<typeof db.createCollection>>) => Promise<unknown>) => {
    const c = await db.createCollection(method.replace(/\W+/g, '-'), { dimension: dim, index })
    const t0 = performance.now()
    await work(c)
    rates.push({ index: name, method, recordsPerSec: (count * 1000) / (performance.now() - t0) })
  }
  await time('libravdb insert (one call per record)', singles, async (c) => {
    for (let i = 0; i < singles; i++) await c.insert({ id: String(i), vector: vec(i) })
  })
  await time('libravdb insertBatch (one call)', n, (c) => c.insertBatch({ ids: Array.from({ length: n }, (_, i) => String(i)), vectors: ds.base.subarray(0, n * dim) }))
  await time('libravdb ingest (async generator, batches of 1000)', n, (c) =>
    c.ingest(
      (async function* (): AsyncGenerator<VectorRecord> {
        for (let i = 0; i < n; i++) yield { id: String(i), vector: vec(i) }
      })(),
    ),
  )
  await db.close()
  return rates
}

function peerRates(ds: Dataset, n: number): IngestRate[] {
  const dim = ds.dim
  const rates: IngestRate[] = []
  try {
    const { HierarchicalNSW } = loadPeer<HnswlibModule>('hnswlib-node')
    const index = new HierarchicalNSW('l2', dim)
    index.initIndex(n, 16, 200, 100)
    const t0 = performance.now()
    for (let i = 0; i < n; i++) index.addPoint(Array.from(ds.base.subarray(i * dim, (i + 1) * dim)), i)
    rates.push({ index: 'hnsw', method: 'hnswlib-node addPoint (one call per record, 1 thread)', recordsPerSec: (n * 1000) / (performance.now() - t0) })
  } catch (e) {
    console.log(`streaming: hnswlib-node skipped: ${(e as Error).message}`)
  }
  try {
    const { Index } = loadPeer<UsearchModule>('usearch')
    const index = new Index({ dimensions: dim, metric: 'l2sq', connectivity: 16, expansion_add: 200, expansion_search: 64 })
    const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i))
    const t0 = performance.now()
    index.add(keys, ds.base.subarray(0, n * dim), 0)
    rates.push({ index: 'hnsw', method: 'usearch add (one batch call, all threads)', recordsPerSec: (n * 1000) / (performance.now() - t0) })
  } catch (e) {
    console.log(`streaming: usearch skipped: ${(e as Error).message}`)
  }
  return rates
}

async function transferRates(ds: Dataset, n: number): Promise<TransferRate[]> {
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-transfer-bench-'))
  const out: TransferRate[] = []
  try {
    const db = await LibraVDB.open(join(dir, 'db'), { fsync: false })
    const c = await db.createCollection('src', { dimension: ds.dim, schema: { group: 'int' } })
    await c.insertBatch({
      ids: Array.from({ length: n }, (_, i) => `rec-${i}`),
      vectors: ds.base.subarray(0, n * ds.dim),
      metadata: Array.from({ length: n }, (_, i) => ({ group: i % 100, note: `record ${i}` })),
    })
    for (const format of ['parquet', 'ndjson'] as const) {
      const file = join(dir, `src.${format}`)
      const e = await c.export(file)
      const i = await (await db.createCollection(`copy-${format}`, { dimension: ds.dim, schema: { group: 'int' } })).import(file)
      const mb = e.bytes / 2 ** 20
      out.push({ format, records: e.records, megabytes: mb, exportMBps: mb / (e.durationMs / 1000), importMBps: mb / (i.durationMs / 1000) })
    }
    await db.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return out
}

export async function benchStreaming(ds: Dataset, quick: boolean): Promise<StreamingResults> {
  const n = Math.min(ds.base.length / ds.dim, quick ? 10_000 : 50_000)
  const rates = [
    ...(await libravdbRates(ds, n, quick ? 1000 : 5000, { type: 'flat' }, 'flat')),
    ...(await libravdbRates(ds, n, quick ? 1000 : 5000, { type: 'hnsw' }, 'hnsw')),
    ...peerRates(ds, n),
  ]
  const memory: IngestMemory[] = []
  for (const size of quick ? [100_000, 500_000] : [100_000, 1_000_000, 2_000_000]) {
    const r = childResult<IngestWorkerResult>('ingest-worker.ts', { n: size, dim: 64, disk: true }, 'libravdb')
    memory.push({ n: size, ...r })
  }
  const transfer = await transferRates(ds, n)
  return { dataset: ds.name, n, rates, memory, transfer }
}

const mib = (b: number | undefined) => (b === undefined ? 'n/a' : `${(b / 2 ** 20).toFixed(0)} MiB`)

export function streamingSection(r: StreamingResults): string {
  return [
    '## Streaming writes and file transfer',
    '',
    `Records/s inserting the same ${fmt.n(r.n)} records of ${r.dataset} (in memory, default index settings; hnswlib-node`,
    'and usearch with m 16, efConstruction 200). Single calls await each insert; `ingest` pulls from an async generator.',
    '',
    table(
      ['index', 'method', 'records/s'],
      r.rates.map((x) => [x.index, x.method, fmt.n(x.recordsPerSec)]),
    ),
    '',
    'Peak memory of `ingest()` from an async generator into an on-disk flat collection (64-d, fsync off), one child process',
    'per source size. Anonymous RSS is what the process cannot give back; it holds the id index (growing with the',
    'collection) and the records in flight (bounded: at most 2 x 1000 read ahead). Vectors are in mapped files.',
    '',
    table(
      ['records', 'seconds', 'records/s', 'read ahead (max)', 'stored (vectors + ids)', 'peak RSS growth', 'peak anonymous RSS growth'],
      r.memory.map((m) =>
        m.error
          ? [fmt.n(m.n), `error: ${m.error}`, '', '', '', '', '']
          : [fmt.n(m.n), m.seconds!.toFixed(1), fmt.n(m.n / m.seconds!), fmt.n(m.maxAhead!), mib(m.stored), mib(m.peakRssGrowth), mib(m.peakAnonGrowth)],
      ),
    ),
    '',
    `Export and import of ${fmt.n(r.n)} records (vectors and two metadata fields) through a file, MB/s of the file.`,
    '',
    table(
      ['format', 'records', 'file', 'export MB/s', 'import MB/s'],
      r.transfer.map((t) => [t.format, fmt.n(t.records), `${t.megabytes.toFixed(1)} MiB`, t.exportMBps.toFixed(0), t.importMBps.toFixed(0)]),
    ),
    '',
  ].join('\n')
}
