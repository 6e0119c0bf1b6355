/**
 * ANN workload: LibraVDB's HNSW against hnswlib-node, usearch, zvec and faiss (IndexHNSWFlat,
 * from Python) on the same data, each in its own child process, their rounds interleaved
 * (rounds.ts): build time (m = 16, efConstruction = 200), recall@10 vs queries/s
 * over an efSearch sweep with one query at a time, and memory per vector.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../index'
import type { Dataset } from './datasets'
import { faissLaunch } from './faiss'
import { childResult, fmt, table, writePlot } from './harness'
import type { SweepPoint, WorkerResult, WorkerSpec } from './peer-worker'
import { type Launch, nodeLaunch, runInterleaved } from './rounds'
import { lineChart } from './svg'
import { writeVecs } from './vecfile'

export const LIBS = ['libravdb', 'hnswlib-node', 'usearch', 'zvec'] as const
/** LibraVDB walking 8-bit scalar codes (re-ranked on full precision), run beside the
 * defaults on wide vectors (>= 256 dimensions), where reading rows dominates a search. */
export const OURS_SQ8 = 'libravdb sq8'
const isOurs = (lib: string) => lib === 'libravdb' || lib === OURS_SQ8

export interface AnnResult {
  dataset: string
  n: number
  dim: number
  queries: number
  results: (WorkerResult | { lib: string; error: string })[]
}

/** Exact top-10 of each query, by LibraVDB's flat index (verified against SIFT's own GT in tests). */
async function exactTop10(ds: Dataset, nq: number): Promise<Int32Array> {
  const db = await LibraVDB.open()
  const c = await db.createCollection('gt', { dimension: ds.dim })
  const n = ds.base.length / ds.dim
  for (let s = 0; s < n; s += 20_000) {
    const m = Math.min(20_000, n - s)
    await c.insertBatch(Array.from({ length: m }, (_, i) => ({ id: String(s + i), vector: ds.base.subarray((s + i) * ds.dim, (s + i + 1) * ds.dim) })))
  }
  const hits = await c.searchBatch(ds.queries.subarray(0, nq * ds.dim), { k: 10 })
  await db.close()
  return Int32Array.from(hits.flatMap((h) => h.map((x) => Number(x.id))))
}

/** Files a worker reads: the dataset, its queries and exact top-10, in a temp dir. */
export interface WorkerFiles {
  dir: string
  base: string
  queries: string
  gt: string
  nq: number
}

export async function writeWorkerFiles(ds: Dataset, nq: number): Promise<WorkerFiles> {
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-ann-'))
  nq = Math.min(nq, ds.queries.length / ds.dim)
  const queries = ds.queries.subarray(0, nq * ds.dim)
  const gt = ds.groundTruth && ds.gtK === 100 ? sliceGt(ds.groundTruth, ds.gtK, nq) : await exactTop10(ds, nq)
  const files = { dir, base: join(dir, 'base.fvecs'), queries: join(dir, 'query.fvecs'), gt: join(dir, 'gt.ivecs'), nq }
  writeVecs(files.base, ds.dim, ds.base)
  writeVecs(files.queries, ds.dim, queries)
  writeVecs(files.gt, 10, gt)
  return files
}

/** Runs the launchable libraries side by side ({@link runInterleaved}); one that could not
 * be launched keeps its error, in its place. */
export async function runLibraries(
  launches: (Launch | { lib: string; error: string })[],
  repeats: number,
): Promise<(WorkerResult | { lib: string; error: string })[]> {
  const ran = await runInterleaved(launches.filter((l): l is Launch => 'command' in l), repeats)
  return launches.map((l) => ('command' in l ? ran.shift()! : l))
}

/** Runs one worker process; a failure becomes `{ lib, error }` for the report. */
export function runWorker(spec: WorkerSpec, label: string = spec.lib): WorkerResult | { lib: string; error: string } {
  const r = childResult<WorkerResult>('peer-worker.ts', spec, label)
  return { ...r, lib: label }
}

/**
 * `libs` limits the run to these libraries (of {@link LIBS}, {@link OURS_SQ8} and 'faiss'): the
 * 1M run measures LibraVDB beside faiss only, as each build there takes minutes.
 */
export async function benchAnn(
  ds: Dataset,
  nq: number,
  efs: number[],
  repeats: number,
  metric: 'l2' | 'cosine' = 'l2',
  libs?: readonly string[],
): Promise<AnnResult> {
  const files = await writeWorkerFiles(ds, nq)
  const common = { base: files.base, queries: files.queries, gt: files.gt, m: 16, efConstruction: 200, efs, metric }
  const wanted = (lib: string) => !libs || libs.includes(lib)
  const launches: ReturnType<typeof faissLaunch>[] = LIBS.filter(wanted).map((lib) => nodeLaunch('peer-worker.ts', { ...common, lib, repeats }, lib))
  if (ds.dim >= 256 && wanted(OURS_SQ8)) {
    launches.push(nodeLaunch('peer-worker.ts', { ...common, lib: 'libravdb', quantization: { type: 'scalar', bits: 8 }, repeats }, OURS_SQ8))
  }
  if (wanted('faiss')) launches.push(faissLaunch({ ...common, index: 'hnsw' }))
  const results = await runLibraries(launches, repeats)
  rmSync(files.dir, { recursive: true, force: true })
  return { dataset: metric === 'cosine' ? `${ds.name} (cosine)` : ds.name, n: ds.base.length / ds.dim, dim: ds.dim, queries: files.nq, results }
}

/** First 10 of each row of a 100-wide ground truth. */
function sliceGt(gt: Int32Array, k: number, nq: number): Int32Array {
  const out = new Int32Array(nq * 10)
  for (let q = 0; q < nq; q++) out.set(gt.subarray(q * k, q * k + 10), q * 10)
  return out
}

/** Whether the sweep points that bracket `target` recall varied by more than 30% between
 * repeated runs (the machine was busy): such figures are flagged in the report. */
export function noisyAtRecall(sweep: SweepPoint[], target: number): boolean {
  const pts = [...sweep].sort((a, b) => a.ef - b.ef)
  const i = pts.findIndex((p) => p.recall >= target)
  if (i < 0) return false
  return pts.slice(Math.max(0, i - 1), i + 1).some((p) => (p.qpsSpread ?? 0) > 0.3)
}

/** Queries/s at `target` recall, interpolated between sweep points; undefined if never reached. */
export function qpsAtRecall(sweep: SweepPoint[], target: number): number | undefined {
  const pts = [...sweep].sort((a, b) => a.ef - b.ef)
  for (let i = 0; i < pts.length; i++) {
    if (pts[i].recall >= target) {
      if (i === 0) return pts[0].qps
      const a = pts[i - 1]
      const b = pts[i]
      const t = (target - a.recall) / (b.recall - a.recall)
      return a.qps + t * (b.qps - a.qps)
    }
  }
  return undefined
}

function isOk(r: AnnResult['results'][number]): r is WorkerResult {
  return !('error' in r)
}

export function annSection(all: AnnResult[]): string {
  const out: string[] = ['## HNSW vs peers (one query at a time)', '']
  out.push(
    'Build: m = 16, efConstruction = 200, each library in its own process; threads = what the library',
    'uses (hnswlib-node adds one point per call, so it builds on 1 thread; LibraVDB, usearch and zvec use',
    'all cores; zvec\'s build is its inserts, 1,000 per call, plus `optimizeSync()`, which builds the',
    'index; faiss-cpu IndexHNSWFlat builds on all cores through OpenMP). Queries: k = 10, single queries on',
    'the JS thread (`searchSync`, `searchKnn`, `search`, `querySync`; faiss: `search` of one row from Python, one thread),',
    'best of repeated rounds, after one untimed pass of the queries at every efSearch. All libraries stay loaded, each in its process, and their rounds interleave: round 1',
    'of every library, then round 2 of every library (each round times every efSearch once, in turn), so a burst of',
    'load hits one round of all, not one library or one point. Ratios are LibraVDB / peer from the same run. Memory: RSS growth of the',
    'process during the build, per vector (includes ids and each library\'s bookkeeping); below',
    '~100k vectors it is dominated by allocator and GC effects of a few MB (even negative): read it',
    'from the default (100k) run. A q/s marked (±>30%) varied by more than 30% between the repeated',
    'runs of the sweep points around recall 0.95: the machine was busy; re-run before quoting it.',
    '',
  )
  for (const a of all) {
    const ok = a.results.filter(isOk)
    const ours = ok.find((r) => r.lib === 'libravdb')
    const sq8 = ok.find((r) => r.lib === OURS_SQ8)
    out.push(`### ${a.dataset} (${a.n.toLocaleString('en-US')} x ${a.dim}, ${a.queries} queries)`, '')
    const at = (r: WorkerResult | undefined, target: number) => r && qpsAtRecall(r.sweep, target)
    // LibraVDB (`mine`) over peer `r` at recall 0.95 and 0.99.
    const ratios = (mine: WorkerResult | undefined, r: WorkerResult) =>
      isOurs(r.lib) || !mine
        ? ''
        : [0.95, 0.99].map((t) => (at(mine, t) && at(r, t) ? `**${fmt.ratio(at(mine, t)! / at(r, t)!)}**` : 'n/a')).join(' / ')
    out.push(
      table(
        ['library', 'build s (threads)', 'q/s at recall 0.95 / 0.99', 'LibraVDB ratio 0.95 / 0.99', ...(sq8 ? ['LibraVDB sq8 ratio'] : []), 'build ratio', 'RSS bytes/vector'],
        a.results.map((r) => {
          if (!isOk(r)) return [r.lib, `unavailable: ${r.error}`, '', '', ...(sq8 ? [''] : []), '', '']
          const qps = at(r, 0.95)
          const build = isOurs(r.lib) || !ours ? '' : `${(r.buildSeconds / ours.buildSeconds).toFixed(2)}x faster`
          const peak = a.n >= 1_000_000 && r.peakRssBytes ? `; peak RSS ${(r.peakRssBytes / 2 ** 30).toFixed(2)} GiB` : ''
          const mem = (r.structBytesPerVector ? `${fmt.n(r.rssBytesPerVector)} (vectors + graph: ${fmt.n(r.structBytesPerVector)})` : fmt.n(r.rssBytesPerVector)) + peak
          const flag = qps && noisyAtRecall(r.sweep, 0.95) ? ' (±>30%)' : ''
          const q99 = at(r, 0.99)
          const shown = `${qps ? `${fmt.n(qps)}${flag}` : 'not reached'} / ${q99 ? fmt.n(q99) : 'not reached'}`
          return [r.lib, `${r.buildSeconds.toFixed(2)} (${r.threads})`, shown, ratios(ours, r), ...(sq8 ? [ratios(sq8, r)] : []), build, mem]
        }),
      ),
      '',
    )
    if (sq8) {
      out.push(
        `\`${OURS_SQ8}\`: the same index walking 8-bit scalar codes (\`quantization: { type: 'scalar' }\`), at a beam an eighth wider than efSearch, re-ranking k x 2 on full precision; its codes add a quarter of the vectors' memory.`,
        '',
      )
    }
    const slug = a.dataset.replace(/[^a-z0-9-]+/gi, '-')
    out.push(
      writePlot(
        `recall-qps-${slug}.svg`,
        lineChart({
          title: `${a.dataset}: recall@10 vs queries/s (single queries)`,
          xLabel: 'recall@10',
          yLabel: 'queries/s (log)',
          yLog: true,
          series: ok.map((r) => ({ name: r.lib, points: r.sweep.map((p) => [p.recall, p.qps] as [number, number]) })),
        }),
        `recall vs queries/s on ${a.dataset}`,
      ),
      '',
    )
    const efs = ok[0]?.sweep.map((p) => p.ef) ?? []
    out.push(
      table(
        ['efSearch', ...ok.map((r) => `${r.lib} recall / q/s`)],
        efs.map((ef) => [String(ef), ...ok.map((r) => {
          const p = r.sweep.find((s) => s.ef === ef)
          return p ? `${p.recall.toFixed(3)} / ${fmt.n(p.qps)}` : ''
        })]),
      ),
      '',
    )
  }
  return out.join('\n')
}
