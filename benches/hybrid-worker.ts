/**
 * Child process of the hybrid-retrieval benchmark: builds one library's collection of
 * records (vector + text, full-text index on the text), then runs single queries one after
 * another: text only (BM25), vector only, and both fused with RRF (k 60, 50 candidates per
 * signal where the library takes that setting), printing q/s and p50/p99 latency of each and
 * the bytes its full-text index takes per document.
 * argv: JSON of `HybridSpec`.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../index'
import { type LancedbFtsModule, type ZvecFtsModule, loadPeer } from './peers'
import { hybridData } from './hybrid-data'

export interface HybridSpec {
  lib: 'libravdb' | 'zvec' | 'lancedb'
  data: 'debpkg20k' | 'synthetic'
  n: number
  nq: number
}

export interface Latency {
  qps: number
  p50ms: number
  p99ms: number
}

export interface HybridLib {
  lib: string
  buildS: number
  text: Latency
  vector: Latency
  hybrid: Latency
  /** On-disk bytes of the full-text index per document (undefined: not separable). */
  textBytesPerDoc?: number
  /** Mean hits returned per text query (a check that every library answered). */
  textHits: number
}

const K = 10
const FETCH = 50

async function measure(nq: number, run: (q: number) => Promise<number> | number): Promise<Latency & { hits: number }> {
  for (let q = 0; q < nq; q++) await run(q) // warm-up: one untimed pass, as the ann workers do (a 20-query warm-up left JIT and cache misses in p99)
  const times: number[] = []
  let hits = 0
  const start = performance.now()
  for (let q = 0; q < nq; q++) {
    const t = performance.now()
    hits += await run(q)
    times.push(performance.now() - t)
  }
  const total = (performance.now() - start) / 1000
  times.sort((a, b) => a - b)
  const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]
  return { qps: nq / total, p50ms: at(0.5), p99ms: at(0.99), hits: hits / nq }
}

function dirBytes(dir: string): number {
  let total = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size
  }
  return total
}

/** Bytes under the directories below `dir` whose names match `name`. */
function matchingDirBytes(dir: string, name: RegExp): number {
  let total = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue
    const p = join(dir, e.name)
    total += name.test(e.name) ? dirBytes(p) : matchingDirBytes(p, name)
  }
  return total
}

async function main() {
  const spec = JSON.parse(process.argv[2]) as HybridSpec
  const d = hybridData(spec.data, spec.n, spec.nq)
  const { dim, n, nq } = d
  const vec = (block: Float32Array, i: number) => block.subarray(i * dim, (i + 1) * dim)
  const dir = mkdtempSync(join(tmpdir(), `libravdb-hybrid-${spec.lib}-`))
  let out: HybridLib
  if (spec.lib === 'libravdb') {
    const t0 = performance.now()
    const db = await LibraVDB.open(dir)
    const c = await db.createCollection('docs', { dimension: dim, metric: 'cosine', index: { type: 'hnsw' }, schema: { text: 'text' } })
    for (let s = 0; s < n; s += 10_000) {
      const m = Math.min(10_000, n - s)
      const ids = Array.from({ length: m }, (_, i) => String(s + i))
      await c.insertBatch({ ids, vectors: d.base.subarray(s * dim, (s + m) * dim), metadata: ids.map((id) => ({ text: d.texts[Number(id)] })) })
    }
    const buildS = (performance.now() - t0) / 1000
    const text = await measure(nq, async (q) => (await c.search({ text: d.queryTexts[q] }, { k: K })).length)
    const vector = await measure(nq, async (q) => (await c.search(vec(d.queries, q), { k: K })).length)
    const hybrid = await measure(nq, async (q) => (await c.search({ vector: vec(d.queries, q), text: d.queryTexts[q] }, { k: K, fetchK: FETCH })).length)
    await db.close() // checkpoints: the text index is written to its segment
    const segDir = join(dir, 'collections', 'docs')
    const seg = readdirSync(segDir).find((f) => f.startsWith('text-'))
    out = { lib: 'libravdb', buildS, text, vector, hybrid, textHits: text.hits, textBytesPerDoc: seg ? statSync(join(segDir, seg)).size / n : undefined }
  } else if (spec.lib === 'zvec') {
    const z = loadPeer<ZvecFtsModule>('@zvec/zvec')
    const t0 = performance.now()
    const schema = new z.ZVecCollectionSchema({
      name: 'docs',
      vectors: { name: 'embedding', dataType: z.ZVecDataType.VECTOR_FP32, dimension: dim, indexParams: { indexType: z.ZVecIndexType.HNSW, metricType: z.ZVecMetricType.COSINE, m: 16, efConstruction: 200 } },
      fields: { name: 'text', dataType: z.ZVecDataType.STRING, indexParams: { indexType: z.ZVecIndexType.FTS, tokenizerName: 'standard', filters: ['lowercase'] } },
    })
    const c = z.ZVecCreateAndOpen(join(dir, 'zvec'), schema)
    for (let s = 0; s < n; s += 1000) {
      const docs = []
      for (let i = s; i < Math.min(n, s + 1000); i++) docs.push({ id: String(i), vectors: { embedding: vec(d.base, i) }, fields: { text: d.texts[i] } })
      const st = c.insertSync(docs)
      const bad = st.find((x) => !x.ok)
      if (bad) throw new Error(`zvec insert: ${bad.message}`)
    }
    c.optimizeSync()
    const buildS = (performance.now() - t0) / 1000
    const hnsw = { indexType: z.ZVecIndexType.HNSW, ef: 64 }
    const fts = (q: number) => ({ matchString: d.queryTexts[q] })
    const text = await measure(nq, (q) => c.querySync({ fieldName: 'text', fts: fts(q), topk: K, outputFields: [] }).length)
    const vector = await measure(nq, (q) => c.querySync({ fieldName: 'embedding', vector: vec(d.queries, q), topk: K, params: hnsw, outputFields: [] }).length)
    const hybrid = await measure(
      nq,
      (q) =>
        c.multiQuerySync({
          queries: [
            { fieldName: 'embedding', vector: vec(d.queries, q), numCandidates: FETCH, params: hnsw },
            { fieldName: 'text', fts: fts(q), numCandidates: FETCH },
          ],
          topk: K,
          rerank: { type: 'rrf', rankConstant: 60 },
          outputFields: [],
        }).length,
    )
    c.closeSync?.()
    // Its full-text index: the fts.*.rocksdb directories of its segments.
    const ftsBytes = matchingDirBytes(join(dir, 'zvec'), /^fts\..*\.rocksdb$/)
    out = { lib: 'zvec', buildS, text, vector, hybrid, textHits: text.hits, textBytesPerDoc: ftsBytes / n }
  } else {
    const lance = loadPeer<LancedbFtsModule>('@lancedb/lancedb')
    const t0 = performance.now()
    const conn = await lance.connect(join(dir, 'lance'))
    const rows = Array.from({ length: n }, (_, i) => ({ id: i, text: d.texts[i], vector: Array.from(vec(d.base, i)) }))
    const table = await conn.createTable('docs', rows)
    const before = dirBytes(join(dir, 'lance'))
    await table.createIndex('text', { config: lance.Index.fts() })
    const ftsBytes = dirBytes(join(dir, 'lance')) - before
    await table.createIndex('vector', { config: lance.Index.hnswSq({ distanceType: 'cosine' }) })
    const buildS = (performance.now() - t0) / 1000
    const rrf = await lance.rerankers.RRFReranker.create(60)
    const text = await measure(nq, async (q) => (await table.query().fullTextSearch(d.queryTexts[q]).limit(K).select(['id']).toArray()).length)
    const vector = await measure(nq, async (q) => (await table.vectorSearch(vec(d.queries, q)).distanceType('cosine').limit(K).select(['id']).toArray()).length)
    const hybrid = await measure(
      nq,
      async (q) =>
        (await table.query().nearestTo(vec(d.queries, q)).distanceType('cosine').fullTextSearch(d.queryTexts[q]).rerank(rrf).limit(K).select(['id']).toArray())
          .length,
    )
    out = { lib: 'lancedb', buildS, text, vector, hybrid, textHits: text.hits, textBytesPerDoc: ftsBytes / n }
  }
  rmSync(dir, { recursive: true, force: true })
  console.log(JSON.stringify(out))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
