/**
 * The report's headline table: one row per benchmark requirement, each figure taken from
 * the workloads of this run (ratios are LibraVDB / peer measured side by side).
 */
import type { FilteredRealResult } from './filtered-real'
import type { ChangesResults } from './changes'
import type { LatencyResults } from './latency'
import type { HybridResult } from './hybrid'
import type { StreamingResults } from './streaming'
import type { IvfPqComparison } from './ivfpq'
import type { FlatBatchResult } from './flat-batch-worker'
import type { TenantsResult } from './tenants'
import type { LifecycleResult } from './lifecycle'
import { type AnnResult, qpsAtRecall } from './ann'
import type { BatchRow } from './batch'
import type { FilteredResult } from './filtered'
import type { FilteredLib } from './filtered-worker'
import type { FlatResult } from './flat'
import { fmt, table } from './harness'
import type { MemoryResult } from './memory'
import type { WorkerResult } from './peer-worker'
import type { QuantResult } from './quant'
import { type SoakResult, soakSlopes } from './soak'
import type { StorageModesResult } from './storage'
import type { NamedResult } from './named'

export interface RunResults {
  flat?: FlatResult[]
  ann?: AnnResult[]
  quant?: QuantResult
  quant384?: QuantResult
  memory?: MemoryResult
  storage?: StorageModesResult
  filtered?: FilteredResult
  /** The filtered workload on the 100k x 384 set (full runs). */
  filtered384?: FilteredResult
  /** Filtered search at the defaults on real embeddings (debpkg20k; debpkg100k with --real100k). */
  filteredReal?: FilteredRealResult[]
  hybrid?: HybridResult
  batch?: BatchRow[]
  streaming?: StreamingResults
  changes?: ChangesResults
  named?: NamedResult
  latency?: LatencyResults
  ivfpq?: IvfPqComparison[]
  flatBatch?: FlatBatchResult | { lib: string; error: string }
  soak?: SoakResult
  tenants?: TenantsResult
  lifecycle?: LifecycleResult
}

const ok = <T extends object>(r: T | { lib: string; error: string }): r is T => !('error' in r)
const best = (r: WorkerResult) => r.sweep.reduce((a, b) => (b.recall > a.recall ? b : a))

export function headlineSection(r: RunResults): string {
  const rows: string[][] = []
  for (const f of r.flat ?? []) {
    rows.push([`Flat search, ${f.dataset}`, `${fmt.n(f.flatSingle.median)} q/s, recall@10 ${f.recallAt10.toFixed(3)}`, `${fmt.ratio(f.ratio)} a JS scan`])
  }
  for (const a of r.ann ?? []) {
    const libs = a.results.filter(ok)
    const ours = libs.find((x) => x.lib === 'libravdb')
    const q = ours && qpsAtRecall(ours.sweep, 0.95)
    if (!ours || !q) continue
    const vs = libs
      .filter((x) => !x.lib.startsWith('libravdb'))
      .map((x) => {
        const p = qpsAtRecall(x.sweep, 0.95)
        return `${p ? fmt.ratio(q / p) : 'n/a'} ${x.lib} (build ${(x.buildSeconds / ours.buildSeconds).toFixed(1)}x faster)`
      })
    rows.push([`HNSW q/s at recall 0.95, ${a.dataset}`, fmt.n(q), vs.join('; ')])
  }
  if (r.quant) {
    const byLabel = new Map(r.quant.rows.filter((x) => ok(x.result)).map((x) => [x.label, x.result as WorkerResult]))
    const full = byLabel.get('libravdb hnsw, none')
    for (const [label, res] of byLabel) {
      if (!full || !(label.startsWith('libravdb hnsw,') || label.startsWith('libravdb ivfpq,')) || res === full) continue
      const recall = best(res).recall
      rows.push([
        `Quantized: ${label.replace('libravdb ', '')} (${r.quant.dataset})`,
        `recall@10 ${recall.toFixed(3)} (full precision ${best(full).recall.toFixed(3)}), codes ${fmt.n(res.codeBytesPerVector ?? 0)} B/vector`,
        // Below ~100k vectors the process's RSS growth per vector is dominated by noise.
        r.quant.n >= 100_000
          ? `RSS ${((100 * res.rssBytesPerVector) / full.rssBytesPerVector).toFixed(0)}% of HNSW full precision`
          : `RSS not compared: ${r.quant.n.toLocaleString('en-US')} vectors is below the noise floor (100k)`,
      ])
    }
  }
  if (r.memory && r.memory.sizes.length >= 2) {
    const m = r.memory
    const last = m.sizes.length - 1
    const marginal = (rss: (number | null)[]) =>
      rss[last] != null && rss[last - 1] != null ? ((rss[last] as number) - (rss[last - 1] as number)) / (m.sizes[last] - m.sizes[last - 1]) : undefined
    const ours = marginal(m.series[0].rss)
    const others = m.series.slice(1).map((s) => {
      const x = marginal(s.rss)
      return `${s.label} ${x === undefined ? 'n/a' : fmt.n(x)}`
    })
    if (ours !== undefined) rows.push([`Memory, marginal bytes/vector (${m.dataset})`, `${fmt.n(ours)} (libravdb hnsw)`, others.join('; ')])
  }
  if (r.filtered) {
    const libs = r.filtered.results.filter((x): x is FilteredLib => 'points' in x)
    const ours = libs.find((x) => x.lib === 'libravdb')
    const peer = libs.find((x) => x.lib === 'hnswlib-node')
    if (ours) {
      const worstRecall = Math.min(...ours.points.map((p) => p.recall))
      const worstP99 = Math.max(...ours.points.map((p) => p.p99ms))
      const sel = ours.points[0]
      const peerSel = peer?.points.find((p) => p.limit === sel.limit)
      rows.push([
        `Filtered search, 0.1% to 100% (${r.filtered.n.toLocaleString('en-US')} vectors)`,
        `recall@10 >= ${worstRecall.toFixed(3)}, p99 <= ${worstP99.toFixed(2)} ms`,
        peerSel ? `at ${sel.limit / 10}%: p99 ${(peerSel.p99ms / sel.p99ms).toFixed(0)}x lower than hnswlib-node's filter callback` : 'LibraVDB alone',
      ])
    }
  }
  for (const b of r.batch ?? []) rows.push([`Batch vs single calls: ${b.workload}`, `${fmt.n(b.batchPerSec)} /s batched`, `${fmt.ratio(b.ratio)} single calls`])
  if (r.tenants) {
    const t = r.tenants
    rows.push([
      `${t.collections.toLocaleString('en-US')} small on-disk collections (10 vectors each)`,
      `${fmt.n(t.diskBytes / 2 ** 20)} MiB, ${fmt.n(t.createAndFillSeconds + t.closeSeconds)} s to create, fill and close`,
      `JS thread held <= ${fmt.n(Math.max(t.busyInsert200kWithMetadata, t.busySearchBatch1MHits))} ms by a 200k-record batch or a 1M-hit searchBatch`,
    ])
  }
  if (r.soak) {
    rows.push([
      `Soak, ${r.soak.seconds >= 120 ? `${Math.round(r.soak.seconds / 60)} min` : `${r.soak.seconds} s`} of mixed insert/delete/search/optimize`,
      soakSlopes(r.soak),
      '',
    ])
  }
  return ['## Headline', '', table(['requirement', 'LibraVDB', 'vs'], rows), ''].join('\n')
}
