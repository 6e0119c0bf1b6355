import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { IngestWorkerResult } from '../benches/ingest-worker'
import { AbortError, type Collection, DimensionMismatchError, InvalidArgumentError, LibraVDB, type VectorRecord } from '../index'

const DIM = 8

function record(i: number, dim = DIM): VectorRecord {
  const vector = new Float32Array(dim)
  for (let d = 0; d < dim; d++) vector[d] = Math.sin(i * 0.37 + d)
  return { id: `r${i}`, vector, metadata: { i } }
}

function* records(n: number, bad: (i: number) => boolean = () => false): Generator<VectorRecord> {
  for (let i = 0; i < n; i++) yield bad(i) ? { ...record(i), vector: new Float32Array(DIM + 1) } : record(i)
}

describe('ingest() and createWriteStream()', () => {
  const dbs: LibraVDB[] = []
  afterEach(async () => {
    for (const db of dbs.splice(0)) await db.close()
  })
  async function collection(): Promise<Collection> {
    const db = await LibraVDB.open()
    dbs.push(db)
    return db.createCollection('c', { dimension: DIM })
  }

  it('pulls lazily: never more than maxInFlight x batchSize records ahead of the committed count', async () => {
    const c = await collection()
    let committed = 0
    let pulled = 0
    let maxAhead = 0
    const progress: number[] = []
    async function* source() {
      for (let i = 0; i < 20_000; i++) {
        pulled++
        maxAhead = Math.max(maxAhead, pulled - committed)
        expect(pulled - committed).toBeLessThanOrEqual(3 * 500)
        yield record(i)
      }
    }
    const result = await c.ingest(source(), {
      batchSize: 500,
      maxInFlight: 3,
      onProgress: (p) => {
        committed = p.ingested + p.failed
        progress.push(p.ingested)
        expect(p.ratePerSec).toBeGreaterThan(0)
      },
    })
    expect(result).toMatchObject({ succeeded: 20_000, failed: 0, errors: [], errorsOmitted: 0 })
    expect(result.durationMs).toBeGreaterThan(0)
    expect(maxAhead).toBeGreaterThan(500) // it did read ahead while batches were in flight
    expect(progress.at(-1)).toBe(20_000)
    expect(await c.count()).toBe(20_000)
    expect(await c.get('r12345')).toMatchObject({ id: 'r12345', metadata: { i: 12345 } })
  })

  it('takes iterables, object-mode Readables and columnar batches', async () => {
    const c = await collection()
    expect((await c.ingest(records(1500), { batchSize: 400 })).succeeded).toBe(1500)
    expect((await c.ingest(Readable.from(records(3000)), { upsert: true })).succeeded).toBe(3000)
    function* columnar() {
      for (let b = 0; b < 3; b++) {
        const ids = Array.from({ length: 100 }, (_, i) => `col-${b}-${i}`)
        yield { ids, vectors: new Float32Array(100 * DIM).fill(b + 1) }
      }
    }
    expect((await c.ingest(columnar())).succeeded).toBe(300)
    expect(await c.count()).toBe(3300)
  })

  it('reports invalid records by their index in the stream, capped at maxErrors', async () => {
    const c = await collection()
    const bad = new Set([5, 1500, 2999])
    const r = await c.ingest(records(3000, (i) => bad.has(i)), { batchSize: 1000 })
    expect(r.succeeded).toBe(2997)
    expect(r.failed).toBe(3)
    expect(r.errors.map((e) => [e.index, e.id, e.code])).toEqual([
      [5, 'r5', 'ERR_DIMENSION_MISMATCH'],
      [1500, 'r1500', 'ERR_DIMENSION_MISMATCH'],
      [2999, 'r2999', 'ERR_DIMENSION_MISMATCH'],
    ])
    const dup = await c.ingest(records(50), { maxErrors: 10 }) // every id but r5 exists
    expect(dup).toMatchObject({ succeeded: 1, failed: 49, errorsOmitted: 39 })
    expect(dup.errors).toHaveLength(10)
    expect(dup.errors[9]).toMatchObject({ index: 10, id: 'r10', code: 'ERR_DUPLICATE_ID' })
  })

  it('atomic: the first invalid record stops it with its typed error; earlier batches stand', async () => {
    const c = await collection()
    const err = await c.ingest(records(5000, (i) => i === 2100), { batchSize: 1000, maxInFlight: 1, atomic: true }).catch((e) => e)
    expect(err).toBeInstanceOf(DimensionMismatchError)
    expect(err.errors[0]).toMatchObject({ index: 2100, id: 'r2100' })
    expect(err.progress).toMatchObject({ ingested: 2000, failed: 0 })
    expect(await c.count()).toBe(2000)
    expect(await c.get('r2000')).toBeNull()
  })

  it('abort stops pulling, committed batches stand, AbortError carries the progress', async () => {
    const c = await collection()
    const ac = new AbortController()
    let pulled = 0
    function* endless() {
      for (let i = 0; ; i++) {
        pulled++
        yield record(i)
      }
    }
    const err = await c
      .ingest(endless(), { batchSize: 1000, onProgress: (p) => p.ingested >= 5000 && ac.abort(), signal: ac.signal })
      .catch((e) => e)
    expect(err).toBeInstanceOf(AbortError)
    expect(err.progress.ingested).toBeGreaterThanOrEqual(5000)
    const count = await c.count()
    expect(count).toBe(err.progress.ingested)
    expect(count % 1000).toBe(0) // whole batches only, a prefix of the stream
    expect(pulled).toBeLessThanOrEqual(count + 2 * 1000)
    for (const i of [0, count - 1]) expect(await c.get(`r${i}`)).not.toBeNull()
    expect(await c.get(`r${count}`)).toBeNull()
  })

  it('a throwing source rejects with its own error after committed batches; timeoutMs aborts', async () => {
    const c = await collection()
    const boom = new Error('source broke')
    function* throwing() {
      yield* records(2500)
      throw boom
    }
    const err = await c.ingest(throwing(), { batchSize: 1000 }).catch((e) => e)
    expect(err).toBe(boom)
    expect(err.progress).toMatchObject({ ingested: 2000 })
    expect(await c.count()).toBe(2000)

    async function* slow() {
      for (let i = 10_000; ; i++) {
        await new Promise((r) => setTimeout(r, 5))
        yield record(i)
      }
    }
    const timedOut = await c.ingest(slow(), { batchSize: 10, timeoutMs: 200 }).catch((e) => e)
    expect(timedOut).toBeInstanceOf(AbortError)
    expect(await c.count()).toBe(2000 + timedOut.progress.ingested)
  })

  it('bad sources and options are typed errors before anything is written', async () => {
    const c = await collection()
    await expect(c.ingest(42 as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(c.ingest(records(10), { batchSize: 0 })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(c.ingest(records(10), { maxInFlight: 1.5 })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(c.ingest(records(10), { bogus: 1 } as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(() => c.createWriteStream({ highWaterMark: -1 })).toThrow(InvalidArgumentError)
    expect(await c.count()).toBe(0)
  })

  it('write stream: backpressure, drain, finish after every record is stored, pipeline', async () => {
    const c = await collection()
    const stream = c.createWriteStream({ batchSize: 100, highWaterMark: 50, maxInFlight: 1 })
    let i = 0
    let sawFalse = false
    while (i < 1000) {
      if (!stream.write(record(i++))) {
        sawFalse = true
        await once(stream, 'drain')
      }
    }
    stream.end()
    await once(stream, 'finish')
    expect(sawFalse).toBe(true)
    expect(await c.count()).toBe(1000)
    expect(stream.result).toMatchObject({ succeeded: 1000, failed: 0 })

    const s2 = c.createWriteStream({ batchSize: 256 })
    await pipeline(Readable.from(records(1000, () => false), { objectMode: true }).map((r) => ({ ...r, id: `p-${r.id}` })), s2)
    expect(s2.result.succeeded).toBe(1000)
    expect(await c.count()).toBe(2000)
  })

  it('write stream: an invalid record is an error event (atomic) or counted (atomic: false)', async () => {
    const c = await collection()
    const atomic = c.createWriteStream({ batchSize: 10, atomic: true })
    const err = await pipeline(Readable.from(records(30, (i) => i === 15)), atomic).catch((e) => e)
    expect(err).toBeInstanceOf(DimensionMismatchError)
    expect(err.errors[0].index).toBe(15)
    expect(await c.count()).toBe(10)

    const lenient = c.createWriteStream({ batchSize: 10 })
    await pipeline(Readable.from(records(30, (i) => i === 25)), lenient) // r0..r9 exist: duplicates
    expect(lenient.result).toMatchObject({ succeeded: 19, failed: 11 })
    expect(lenient.result.errors.map((e) => e.code)).toContain('ERR_DIMENSION_MISMATCH')
  })

  it('a million records stream through in flat memory (child process)', { timeout: 300_000 }, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'benches', 'ingest-worker.ts'), JSON.stringify({ n: 1_000_000, dim: 64, disk: false })], {
      encoding: 'utf8',
      cwd: join(__dirname, '..'),
    })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as IngestWorkerResult
    expect(out.count).toBe(1_000_000)
    expect(out.maxAhead).toBeLessThanOrEqual(2 * 1000)
    expect(out.sampleOk).toBe(true)
    // In memory the stored vectors and ids are resident; the stream itself may add at most
    // 160 MiB (records in flight, V8 heap growth, allocator slack) on top.
    expect(out.peakRssGrowth).toBeLessThan(out.stored + 160 * 2 ** 20)
  })
})
