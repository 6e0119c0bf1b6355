/**
 * Child process of the ANN benchmark: builds one library's index on a dataset, sweeps its
 * recall / speed knob (efSearch; nprobe for IVF-PQ) with single queries in interleaved rounds
 * (best round kept per point; with `driven`, rounds come when the parent interleaves them
 * with the other libraries', see rounds.ts), and prints one JSON line. Run alone in its process so that its
 * RSS growth belongs to that library.
 * argv: JSON of `WorkerSpec`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { LibraVDB } from '../index'
import { readVecs } from './datasets'
import { type HnswlibModule, type LancedbModule, type UsearchModule, type ZvecModule, loadPeer } from './peers'

export interface WorkerSpec {
  lib: 'libravdb' | 'hnswlib-node' | 'usearch' | 'zvec' | 'lancedb'
  /** LibraVDB: index type (default hnsw). */
  index?: 'flat' | 'hnsw' | 'ivfpq'
  /** LibraVDB and LanceDB IVF-PQ: code shape (default: the index defaults, m = dim / 4, 8 bits). */
  ivf?: { m?: number; bits?: 8 | 4 }
  /** LibraVDB: quantization; usearch: 'i8' stores int8 vectors. */
  quantization?: { type: 'scalar' | 'product'; bits?: 8 | 4; m?: number } | 'i8'
  /** LibraVDB: vectors per insertBatch (default 10,000). */
  batch?: number
  /** LibraVDB: store on disk (a temp dir) so full precision can leave memory. */
  disk?: boolean
  /** The metric (default l2; cosine: each library's cosine, faiss's inner product). */
  metric?: 'l2' | 'cosine'
  /** The name the result carries (default `lib`): two runs of one library side by side. */
  label?: string
  base: string
  queries: string
  gt: string
  m: number
  efConstruction: number
  efs: number[]
  /** IVF-PQ: the nprobe sweep. */
  nprobes?: number[]
  /** Rounds to run on its own; ignored when `driven`. */
  repeats: number
  /** Run rounds when the parent says (benches/rounds.ts) instead of `repeats` on its own. */
  driven?: boolean
}

export interface SweepPoint {
  /** The knob's value: efSearch, or nprobe for IVF-PQ (0: flat, no knob). */
  ef: number
  recall: number
  qps: number
  /** (max - min) / max of the rounds' q/s at this point: above 0.3 the figure is flagged. */
  qpsSpread?: number
}

export interface WorkerResult {
  lib: string
  buildSeconds: number
  threads: number
  rssBytesPerVector: number
  /** RSS growth per vector after the query sweep (re-ranking faults full precision back). */
  rssAfterQueriesBytesPerVector: number
  /** The process's peak RSS (bytes), the base vectors it read included. */
  peakRssBytes?: number
  structBytesPerVector?: number
  /** LibraVDB: bytes of quantized codes per vector. */
  codeBytesPerVector?: number
  sweep: SweepPoint[]
}

/** A library's search of query `q`: its ids, best first (a promise for async-only APIs). */
type Search = (q: number) => number[] | Promise<number[]>

/** One sweep point: the knob's value, the search at that value, and what sets the library to
 * it before a timed pass (for libraries whose knob is a setting, not a search argument). */
interface SweepSpec {
  ef: number
  search: Search
  prepare?: () => void
}

/** Measures the sweep: each point warmed up once, then `repeats` rounds that time every point
 * once in turn (so a burst of load on the machine lands on one round, not on one point), the
 * best round kept per point, with the spread of its rounds and the ids it returned. */
async function runSweep(points: SweepSpec[], nq: number, repeats: number, driven: boolean) {
  const timed = async ({ search, prepare }: SweepSpec) => {
    prepare?.()
    const ids: number[][] = []
    const t0 = performance.now()
    for (let q = 0; q < nq; q++) {
      const found = search(q)
      ids.push(found instanceof Promise ? await found : found)
    }
    return { qps: (nq * 1000) / (performance.now() - t0), ids }
  }
  for (const p of points) {
    p.prepare?.()
    for (let q = 0; q < nq; q++) await p.search(q) // warm-up: one untimed pass (the JIT settles)
  }
  const rates: number[][] = points.map(() => [])
  const ids: number[][][] = points.map(() => [])
  const round = async () => {
    for (const [i, p] of points.entries()) {
      const t = await timed(p)
      rates[i].push(t.qps)
      ids[i] = t.ids
    }
  }
  if (driven) {
    // Rounds when the parent says (rounds.ts), interleaved with the other libraries'.
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
    for await (const line of createInterface({ input: process.stdin })) {
      if (line === 'done') break
      await round()
      process.stdout.write(`${JSON.stringify({ round: rates[0]?.length ?? 0 })}\n`)
    }
  } else {
    for (let r = 0; r < repeats; r++) await round()
  }
  return points.map((p, i) => {
    const best = Math.max(...rates[i])
    return { ef: p.ef, qps: best, qpsSpread: (best - Math.min(...rates[i])) / best, ids: ids[i] }
  })
}

function recallAt10(ids: number[][], gt: Int32Array, gtK: number): number {
  let hit = 0
  ids.forEach((found, q) => {
    const want = new Set(gt.subarray(q * gtK, q * gtK + 10))
    hit += found.slice(0, 10).filter((id) => want.has(id)).length
  })
  return hit / (ids.length * 10)
}

async function main() {
  const spec = JSON.parse(process.argv[2]) as WorkerSpec
  const base = readVecs(spec.base)
  const queries = readVecs(spec.queries)
  const gt = readVecs(spec.gt)
  const dim = base.dim
  const data = base.data as Float32Array
  const qdata = queries.data as Float32Array
  const q = (i: number) => qdata.subarray(i * dim, (i + 1) * dim)
  const qArrays = Array.from({ length: queries.n }, (_, i) => Array.from(q(i)))
  global.gc?.()
  const rss0 = process.memoryUsage().rss
  const sweep: SweepPoint[] = []
  let buildSeconds = 0
  let threads = 1
  let structBytesPerVector: number | undefined
  let codeBytesPerVector: number | undefined
  // Each library registers its sweep points (and what to release after them); they are
  // measured together below.
  const points: SweepSpec[] = []
  const point = (ef: number, search: Search, prepare?: () => void) => points.push({ ef, search, prepare })
  let release = async () => {}
  let rss1 = 0

  if (spec.lib === 'libravdb') {
    const dir = spec.disk ? mkdtempSync(join(tmpdir(), 'libravdb-worker-')) : undefined
    const db = await LibraVDB.open(dir)
    const quantization = typeof spec.quantization === 'object' ? spec.quantization : undefined
    const index =
      spec.index === 'flat'
        ? ({ type: 'flat' } as const)
        : spec.index === 'ivfpq'
          ? ({ type: 'ivfpq', ...spec.ivf } as const)
          : ({ type: 'hnsw', m: spec.m, efConstruction: spec.efConstruction } as const)
    const c = await db.createCollection('bench', { dimension: dim, metric: spec.metric ?? 'l2', index, quantization })
    const t0 = performance.now()
    const batch = spec.batch ?? 10_000
    for (let s = 0; s < base.n; s += batch) {
      const n = Math.min(batch, base.n - s)
      const ids = Array.from({ length: n }, (_, i) => String(s + i))
      await c.insertBatch({ ids, vectors: data.subarray(s * dim, (s + n) * dim) })
    }
    // The build ends when the index the collection settles on serves (an IVF-PQ index
    // retrains in the background as the collection doubles).
    // (and a quantizer the spec asks for, trained off the write path once there are enough
    // vectors, has its codes: waited for at most a minute, as one too small stays pending).
    const since = performance.now()
    const training = () => quantization !== undefined && c.stats().quantization === 'pending' && performance.now() - since < 60_000
    while (c.stats().indexState === 'building' || training()) await new Promise((r) => setTimeout(r, 20))
    buildSeconds = (performance.now() - t0) / 1000
    threads = (await import('node:os')).cpus().length
    const st = c.stats()
    structBytesPerVector = st.bytesPerVector
    codeBytesPerVector = st.codeBytes / base.n
    global.gc?.()
    rss1 = process.memoryUsage().rss
    if (spec.index === 'flat') point(0, (i) => c.searchSync(q(i), { k: 10 }).map((h) => Number(h.id)))
    else if (spec.index === 'ivfpq') {
      for (const nprobe of spec.nprobes ?? [8]) point(nprobe, (i) => c.searchSync(q(i), { k: 10, nprobe }).map((h) => Number(h.id)))
    } else for (const ef of spec.efs) point(ef, (i) => c.searchSync(q(i), { k: 10, efSearch: ef }).map((h) => Number(h.id)))
    release = async () => {
      await db.close()
      if (dir) rmSync(dir, { recursive: true, force: true })
    }
  } else if (spec.lib === 'hnswlib-node') {
    const { HierarchicalNSW } = loadPeer<HnswlibModule>('hnswlib-node')
    const index = new HierarchicalNSW(spec.metric ?? 'l2', dim)
    index.initIndex(base.n, spec.m, spec.efConstruction, 100)
    const t0 = performance.now()
    for (let i = 0; i < base.n; i++) index.addPoint(Array.from(data.subarray(i * dim, (i + 1) * dim)), i)
    buildSeconds = (performance.now() - t0) / 1000
    global.gc?.()
    rss1 = process.memoryUsage().rss
    for (const ef of spec.efs) {
      point(ef, (i) => index.searchKnn(qArrays[i], 10).neighbors, () => index.setEf(ef))
    }
  } else if (spec.lib === 'lancedb') {
    const lancedb = loadPeer<LancedbModule>('@lancedb/lancedb')
    const dir = mkdtempSync(join(tmpdir(), 'lancedb-'))
    const db = await lancedb.connect(dir)
    const t0 = performance.now()
    const rows = Array.from({ length: base.n }, (_, i) => ({ id: i, vector: Array.from(data.subarray(i * dim, (i + 1) * dim)) }))
    const table = await db.createTable('bench', rows)
    const numSubVectors = spec.ivf?.m ?? dim / 4
    const config = lancedb.Index.ivfPq({ numPartitions: Math.round(Math.sqrt(base.n)), numSubVectors, numBits: spec.ivf?.bits ?? 8, distanceType: spec.metric ?? 'l2' })
    await table.createIndex('vector', { config })
    buildSeconds = (performance.now() - t0) / 1000
    threads = (await import('node:os')).cpus().length
    codeBytesPerVector = numSubVectors
    global.gc?.()
    rss1 = process.memoryUsage().rss
    for (const nprobe of spec.nprobes ?? [8]) {
      point(nprobe, async (i) => {
        const hits = await table.vectorSearch(q(i)).distanceType(spec.metric ?? 'l2').nprobes(nprobe).refineFactor(16).limit(10).select(['id', '_distance']).toArray()
        return hits.map((h) => Number(h.id))
      })
    }
    release = async () => rmSync(dir, { recursive: true, force: true })
  } else if (spec.lib === 'zvec') {
    const z = loadPeer<ZvecModule>('@zvec/zvec')
    const schema = new z.ZVecCollectionSchema({
      name: 'bench',
      vectors: {
        name: 'v',
        dataType: z.ZVecDataType.VECTOR_FP32,
        dimension: dim,
        indexParams: { indexType: z.ZVecIndexType.HNSW, metricType: spec.metric === 'cosine' ? z.ZVecMetricType.COSINE : z.ZVecMetricType.L2, m: spec.m, efConstruction: spec.efConstruction },
      },
    })
    const dir = mkdtempSync(join(tmpdir(), 'zvec-'))
    const c = z.ZVecCreateAndOpen(join(dir, 'bench'), schema)
    const t0 = performance.now()
    // Its write batches take at most 1,024 documents; optimize() builds the index.
    for (let s = 0; s < base.n; s += 1000) {
      const docs = Array.from({ length: Math.min(1000, base.n - s) }, (_, i) => ({ id: String(s + i), vectors: { v: data.subarray((s + i) * dim, (s + i + 1) * dim) } }))
      const failed = c.insertSync(docs).find((st) => !st.ok)
      if (failed) throw new Error(`zvec insert: ${failed.message}`)
    }
    c.optimizeSync()
    buildSeconds = (performance.now() - t0) / 1000
    threads = (await import('node:os')).cpus().length
    global.gc?.()
    rss1 = process.memoryUsage().rss
    for (const ef of spec.efs) {
      const params = { indexType: z.ZVecIndexType.HNSW, ef }
      point(ef, (i) => c.querySync({ fieldName: 'v', topk: 10, vector: q(i), params, outputFields: [] }).map((d) => Number(d.id)))
    }
    release = async () => {
      c.closeSync?.()
      rmSync(dir, { recursive: true, force: true })
    }
  } else {
    const { Index } = loadPeer<UsearchModule>('usearch')
    const quantization = spec.quantization === 'i8' ? 'i8' : 'f32'
    const make = (ef: number) =>
      new Index({ dimensions: dim, metric: spec.metric === 'cosine' ? 'cos' : 'l2sq', connectivity: spec.m, expansion_add: spec.efConstruction, expansion_search: ef, quantization })
    const index = make(spec.efs[0])
    const keys = BigUint64Array.from({ length: base.n }, (_, i) => BigInt(i))
    const t0 = performance.now()
    index.add(keys, data, 0)
    buildSeconds = (performance.now() - t0) / 1000
    threads = (await import('node:os')).cpus().length
    global.gc?.()
    rss1 = process.memoryUsage().rss
    // expansion_search is fixed at construction: save once, load into an index per ef.
    const dir = mkdtempSync(join(tmpdir(), 'usearch-'))
    index.save(join(dir, 'index.usearch'))
    for (const ef of spec.efs) {
      const view = make(ef)
      view.load(join(dir, 'index.usearch'))
      point(ef, (i) => Array.from(view.search(q(i), 10, 1).keys, Number))
    }
    release = async () => rmSync(dir, { recursive: true, force: true })
  }
  for (const p of await runSweep(points, queries.n, spec.repeats, spec.driven ?? false)) {
    sweep.push({ ef: p.ef, qps: p.qps, qpsSpread: p.qpsSpread, recall: recallAt10(p.ids, gt.data as Int32Array, gt.dim) })
  }
  global.gc?.()
  const rssAfterQueries = process.memoryUsage().rss
  await release()
  const result: WorkerResult = {
    lib: spec.label ?? spec.lib,
    buildSeconds,
    threads,
    rssBytesPerVector: (rss1 - rss0) / base.n,
    rssAfterQueriesBytesPerVector: (rssAfterQueries - rss0) / base.n,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    structBytesPerVector,
    codeBytesPerVector,
    sweep,
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
