/**
 * Hybrid retrieval: full-text (BM25), vector and fused search side by side with zvec
 * (`querySync` with an FTS clause, `multiQuerySync` with RRF) and LanceDB (FTS index,
 * `fullTextSearch`, hybrid query with its RRFReranker), each library in its own process; and
 * the retrieval table: how often a query naming a package exactly finds it first, by signal.
 */
import { LibraVDB } from '../index'
import { debpkg20k, debpkg20kTexts, packageName } from './datasets'
import { childResult, table } from './harness'
import type { HybridLib, HybridSpec } from './hybrid-worker'

type Outcome = HybridLib | { lib: string; error: string }

export interface HybridRun {
  data: string
  n: number
  nq: number
  results: Outcome[]
}

/** Share of known-item queries whose target ranks first, per signal. */
export interface RetrievalRow {
  signal: string
  top1: number
  top10: number
}

export interface HybridResult {
  runs: HybridRun[]
  retrieval: { queries: number; records: number; rows: RetrievalRow[] }
}

const LIBS = ['libravdb', 'zvec', 'lancedb'] as const

export async function benchHybrid(quick: boolean): Promise<HybridResult> {
  const sets: [HybridSpec['data'], number][] = quick ? [['debpkg20k', 20_000]] : [['debpkg20k', 20_000], ['synthetic', 200_000]]
  const nq = quick ? 100 : 500
  const runs: HybridRun[] = []
  for (const [data, n] of sets) {
    const results = LIBS.map((lib) => childResult<HybridLib>('hybrid-worker.ts', { lib, data, n, nq } satisfies HybridSpec, lib))
    runs.push({ data, n, nq, results })
  }
  return { runs, retrieval: await retrieval() }
}

/**
 * Known-item queries on debpkg20k. The collection holds the 20,000 base records and the 500
 * query records (vector and `package: description` text each). Query i looks for query
 * record i by its exact package name (the text signal) with, as the vector, the embedding of
 * the base record nearest to it (a semantically close but different package: what a
 * paraphrase of the need lands near). Counts how often record i ranks first (and within 10).
 */
async function retrieval(): Promise<HybridResult['retrieval']> {
  const d = debpkg20k()
  const t = debpkg20kTexts()
  const dim = d.dim
  const db = await LibraVDB.open()
  const c = await db.createCollection('pkgs', { dimension: dim, metric: 'cosine', index: { type: 'hnsw' }, schema: { text: 'text' } })
  const nb = t.base.length
  await c.insertBatch({ ids: t.base.map((_, i) => `b${i}`), vectors: d.base, metadata: t.base.map((text) => ({ text })) })
  await c.insertBatch({ ids: t.queries.map((_, i) => `q${i}`), vectors: d.queries, metadata: t.queries.map((text) => ({ text })) })
  const gtK = d.gtK ?? 1
  const signals: [string, (i: number, vector: Float32Array, name: string) => Promise<{ id: string }[]>][] = [
    ['vector', (_, vector) => c.search(vector, { k: 10 })],
    ['text (BM25)', (_, __, name) => c.search({ text: name }, { k: 10 })],
    ['hybrid, rrf', (_, vector, name) => c.search({ vector, text: name }, { k: 10 })],
    ['hybrid, weighted 0.5 / 0.5', (_, vector, name) => c.search({ vector, text: name }, { k: 10, fusion: { weights: { vector: 0.5, text: 0.5 } } })],
  ]
  const rows: RetrievalRow[] = []
  for (const [signal, run] of signals) {
    let top1 = 0
    let top10 = 0
    for (let i = 0; i < t.queries.length; i++) {
      const nearest = d.groundTruth![i * gtK]
      const hits = await run(i, d.base.subarray(nearest * dim, (nearest + 1) * dim), packageName(t.queries[i]))
      const at = hits.findIndex((h) => h.id === `q${i}`)
      if (at === 0) top1++
      if (at >= 0) top10++
    }
    rows.push({ signal, top1: top1 / t.queries.length, top10: top10 / t.queries.length })
  }
  await db.close()
  return { queries: t.queries.length, records: nb + t.queries.length, rows }
}

const ms = (x: number) => x.toFixed(3)
const qps = (x: number) => Math.round(x).toLocaleString('en-US')

export function hybridSection(r: HybridResult): string {
  let out = '## Hybrid retrieval: full text, vector, fused\n\n'
  out +=
    'Single queries one after another, k = 10: text only (BM25 over the record text), vector only (HNSW, cosine) and both fused with RRF (k 60, 50 candidates per signal). ' +
    'LibraVDB: `search({ text })`, `search(v)`, `search({ vector, text })` (async: each query hops to a worker thread); zvec: `querySync` with an FTS clause, `querySync`, `multiQuerySync` (synchronous, on the JS thread); ' +
    'LanceDB: FTS index + IVF-HNSW-SQ index, `fullTextSearch`, `vectorSearch`, hybrid query with `RRFReranker` (async). Index size: on-disk bytes of the full-text index per document (LibraVDB: its text segment; zvec: its `fts.*.rocksdb` directories; LanceDB: what its FTS index added to the table directory).\n\n'
  for (const run of r.runs) {
    out += `### ${run.data}, ${run.n.toLocaleString('en-US')} records, ${run.nq} queries\n\n`
    const rows = run.results.map((x) =>
      'error' in x
        ? [x.lib, 'error', x.error, '', '', '', '']
        : [
            x.lib,
            x.buildS.toFixed(1),
            `${qps(x.text.qps)} / ${ms(x.text.p99ms)}`,
            `${qps(x.vector.qps)} / ${ms(x.vector.p99ms)}`,
            `${qps(x.hybrid.qps)} / ${ms(x.hybrid.p99ms)}`,
            x.textBytesPerDoc === undefined ? 'n/a' : x.textBytesPerDoc.toFixed(0),
            x.textHits.toFixed(2),
          ],
    )
    out += table(['library', 'build s', 'text q/s / p99 ms', 'vector q/s / p99 ms', 'hybrid q/s / p99 ms', 'FTS bytes/doc', 'text hits/query'], rows) + '\n\n'
  }
  const rt = r.retrieval
  out += `### Retrieval: does a query naming the package find it first?\n\n`
  out +=
    `debpkg20k known items: ${rt.records.toLocaleString('en-US')} records (the base and the ${rt.queries} query lines); query i names query record i's package exactly ` +
    `(the text) and carries the embedding of the base record nearest to it (the vector: a semantically close, different package).\n\n`
  out += table(['signal', 'ranks first', 'in the top 10'], rt.rows.map((x) => [x.signal, `${(x.top1 * 100).toFixed(1)}%`, `${(x.top10 * 100).toFixed(1)}%`])) + '\n\n'
  return out
}
