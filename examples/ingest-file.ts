/**
 * `npm run example:ingest`: loads a large NDJSON file (one `{ id, vector, metadata }` per
 * line) into an on-disk collection in bounded memory with `collection.ingest()`: lines are
 * read as a stream and pulled only while at most `maxInFlight` batches wait to commit, so a
 * file of any size needs about `batchSize x maxInFlight` records of memory.
 * Then it reopens the database and checks every record arrived.
 *
 *   npm run example:ingest [-- --records 200000] [--dim 64] [--file path.ndjson]
 *
 * Without `--file` it first writes a file of generated records to a temp directory.
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { LibraVDB, type VectorRecord } from '../index'

const BATCH_SIZE = 2_000
const MAX_IN_FLIGHT = 2

/** Writes `n` records of dimension `dim` as NDJSON, honouring the stream's backpressure. */
async function writeSampleFile(path: string, n: number, dim: number): Promise<void> {
  const out = createWriteStream(path)
  let seed = 42
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * 2 - 1
  for (let i = 0; i < n; i++) {
    const record = { id: `rec-${i}`, vector: Array.from({ length: dim }, () => +random().toFixed(4)), metadata: { shard: i % 16 } }
    if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

async function main() {
  const { values } = parseArgs({ options: { records: { type: 'string' }, dim: { type: 'string' }, file: { type: 'string' } } })
  const work = mkdtempSync(join(tmpdir(), 'libravdb-ingest-'))
  const dim = Number(values.dim ?? 64)
  let file = values.file
  if (!file) {
    file = join(work, 'records.ndjson')
    const n = Number(values.records ?? 200_000)
    await writeSampleFile(file, n, dim)
    console.log(`wrote ${n} records to ${file} (${(statSync(file).size / 2 ** 20).toFixed(0)} MiB)`)
  }

  const t0 = performance.now()
  const rssBefore = process.memoryUsage().rss
  let peakRss = rssBefore
  let db = await LibraVDB.open(join(work, 'db'))
  const records = await db.createCollection('records', { dimension: dim, metric: 'cosine', index: { type: 'hnsw' } })

  // The file's lines as records, read lazily: ingest() pulls at most
  // maxInFlight x batchSize records ahead of what it has committed.
  let read = 0
  async function* lines(path: string): AsyncGenerator<VectorRecord> {
    for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
      if (line.trim() === '') continue
      read++
      yield JSON.parse(line) as VectorRecord
    }
  }
  const result = await records.ingest(lines(file), {
    batchSize: BATCH_SIZE,
    maxInFlight: MAX_IN_FLIGHT,
    onProgress: (p) => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss)
      if (p.ingested % 50_000 === 0) console.log(`  ${p.ingested} stored (${Math.round(p.ratePerSec)} records/s)`)
    },
  })
  const stored = result.succeeded
  if (result.failed > 0) console.log(`  ${result.failed} records rejected, e.g. line ${result.errors[0].index + 1}: ${result.errors[0].message}`)
  const seconds = (performance.now() - t0) / 1000
  console.log(
    `ingested ${stored} of ${read} records in ${seconds.toFixed(1)} s (${Math.round(stored / seconds)} records/s); ` +
      `peak RSS growth ${((peakRss - rssBefore) / 2 ** 20).toFixed(0)} MiB`,
  )
  await db.close()

  // Everything acknowledged is on disk: reopen and check.
  db = await LibraVDB.open(join(work, 'db'))
  const reopened = db.getCollection('records')
  const count = await reopened.count()
  const last = await reopened.get(`rec-${read - 1}`)
  if (!values.file && (count !== read || last === null)) throw new Error(`expected ${read} records after reopen, found ${count}`)
  console.log(`after reopen: ${count} records; rec-${read - 1} ${last ? 'present' : 'missing'}`)
  await db.close()
  rmSync(work, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
