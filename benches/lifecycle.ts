/**
 * Index lifecycle: how long an `auto` index takes to promote at its threshold, what each
 * `rebuild()` transition costs beside building that configuration fresh, search latency
 * during a rebuild against idle, and the efSearch `tune()` picks with the recall it gives
 * on held-out queries against its target.
 */
import type { Collection, CollectionConfig, RebuildTarget } from '../index'
import { LibraVDB } from '../index'
import { type Dataset, recallAtK } from './datasets'
import { fmt, table } from './harness'

export interface TransitionResult {
  from: string
  to: string
  rebuildSeconds: number
  freshSeconds: number
}

export interface TuneResultRow {
  dataset: string
  target: number
  efSearch: number
  sampleRecall: number
  heldOutRecall: number
}

export interface LifecycleResult {
  records: number
  /** From the write that reached the threshold to the HNSW index serving. */
  promoteSeconds: number
  /** An HNSW collection of the same records built by insertBatch. */
  hnswBuildSeconds: number
  transitions: TransitionResult[]
  /** Single-query search latency on the HNSW index, idle and while it rebuilds (+ SQ8). */
  p99IdleMs: number
  p99DuringRebuildMs: number
  tune: TuneResultRow[]
}

const label = (c: Pick<CollectionConfig, 'index' | 'quantization'>) =>
  `${c.index?.type ?? 'flat'}${c.quantization ? ` + ${c.quantization.type === 'scalar' ? 'sq8' : 'pq'}` : ''}`

function records(ds: Dataset, n: number) {
  return { ids: Array.from({ length: n }, (_, i) => String(i)), vectors: ds.base.subarray(0, n * ds.dim) }
}

/** Seconds `fn` takes. */
async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return (performance.now() - t0) / 1000
}

/** p99 of single-query latency over the dataset's queries, cycled until `until` resolves
 * (or `rounds` passes when it is undefined), in ms. */
async function p99(c: Collection, ds: Dataset, until?: Promise<unknown>, rounds = 3): Promise<number> {
  const nq = ds.queries.length / ds.dim
  const times: number[] = []
  let done = until === undefined
  until?.then(() => (done = true))
  for (let i = 0; until ? !done : i < rounds * nq; i++) {
    const q = ds.queries.subarray((i % nq) * ds.dim, ((i % nq) + 1) * ds.dim)
    const t0 = performance.now()
    await c.search(q, { k: 10 })
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length * 0.99)] ?? 0
}

export async function benchLifecycle(ds: Dataset, n: number, tuneSets: Dataset[]): Promise<LifecycleResult> {
  const db = await LibraVDB.open()
  try {
    const all = records(ds, n)
    // auto: everything in one batch reaches the threshold; the promotion runs in the background.
    const auto = await db.createCollection('auto', { dimension: ds.dim, index: { type: 'auto', flatThreshold: n } })
    await auto.insertBatch(all)
    const promoteSeconds = await seconds(async () => {
      while (auto.stats().activeIndex !== 'hnsw') await new Promise((r) => setTimeout(r, 5))
    })
    await db.dropCollection('auto')

    const stages: Pick<CollectionConfig, 'index' | 'quantization'>[] = [
      { index: { type: 'flat' } },
      { index: { type: 'hnsw' } },
      { index: { type: 'ivfpq' } },
      { index: { type: 'hnsw' }, quantization: { type: 'scalar', bits: 8 } },
      { index: { type: 'flat' } },
    ]
    const c = await db.createCollection('c', { dimension: ds.dim, ...stages[0] })
    await c.insertBatch(all)
    const transitions: TransitionResult[] = []
    let hnswBuildSeconds = 0
    for (let i = 1; i < stages.length; i++) {
      const target: RebuildTarget = { index: stages[i].index, quantization: stages[i].quantization ?? null }
      const rebuildSeconds = await seconds(() => c.rebuild(target))
      const fresh = await db.createCollection('fresh', { dimension: ds.dim, ...stages[i] })
      const freshSeconds = await seconds(() => fresh.insertBatch(all))
      await db.dropCollection('fresh')
      if (i === 1) hnswBuildSeconds = freshSeconds
      transitions.push({ from: label(stages[i - 1]), to: label(stages[i]), rebuildSeconds, freshSeconds })
    }
    // Latency on HNSW: idle, then while it rebuilds into HNSW + SQ8 (searches use the old one).
    await c.rebuild({ index: { type: 'hnsw' }, quantization: null })
    const p99IdleMs = await p99(c, ds)
    const p99DuringRebuildMs = await p99(c, ds, c.rebuild({ quantization: { type: 'scalar', bits: 8 } }))

    const tune: TuneResultRow[] = []
    for (const t of tuneSets) {
      const metric = t.name.startsWith('debpkg') ? 'cosine' : 'l2'
      const h = await db.createCollection(`tune-${t.name}`, { dimension: t.dim, metric, index: { type: 'hnsw', m: 6, efConstruction: 40 } })
      const nb = t.base.length / t.dim
      await h.insertBatch(records(t, nb))
      const target = 0.95
      const r = await h.tune({ targetRecall: target, k: 10, sample: 500 })
      const nq = t.queries.length / t.dim
      const hits = await h.searchBatch(t.queries, { k: 10 }) // at the tuned default
      const found = hits.map((hs) => hs.map((x) => Number(x.id)))
      tune.push({
        dataset: t.name,
        target,
        efSearch: r.efSearch ?? 0,
        sampleRecall: r.recall,
        heldOutRecall: recallAtK(found.slice(0, nq), t.groundTruth!, t.gtK!, 10),
      })
    }
    return { records: n, promoteSeconds, hnswBuildSeconds, transitions, p99IdleMs, p99DuringRebuildMs, tune }
  } finally {
    await db.close()
  }
}

export function lifecycleSection(r: LifecycleResult): string {
  return [
    '## Index lifecycle: auto promotion, rebuild(), tune()',
    '',
    `${r.records.toLocaleString('en-US')} clustered 128-d records. An \`auto\` index (flatThreshold = ${r.records.toLocaleString('en-US')}) ` +
      `promoted to HNSW in ${fmt.n(r.promoteSeconds)} s after the write that reached the threshold ` +
      `(building HNSW directly by insertBatch: ${fmt.n(r.hnswBuildSeconds)} s); flat searches served meanwhile.`,
    '',
    'Each `rebuild()` from the previous configuration, beside creating that configuration and inserting the same records:',
    '',
    table(
      ['from', 'to', 'rebuild()', 'fresh build'],
      r.transitions.map((t) => [t.from, t.to, `${fmt.n(t.rebuildSeconds)} s`, `${fmt.n(t.freshSeconds)} s`]),
    ),
    '',
    `Single-query search p99 on HNSW: ${fmt.n(r.p99IdleMs)} ms idle, ${fmt.n(r.p99DuringRebuildMs)} ms while it rebuilds into HNSW + SQ8 ` +
      '(searches go to the old index; the build shares the cores).',
    '',
    '`tune({ targetRecall: 0.95, k: 10, sample: 500 })` on HNSW (m 6, efConstruction 40), checked on the held-out queries:',
    '',
    table(
      ['dataset', 'target', 'efSearch chosen', 'recall on sample', 'recall held out'],
      r.tune.map((t) => [t.dataset, fmt.n(t.target), String(t.efSearch), t.sampleRecall.toFixed(3), t.heldOutRecall.toFixed(3)]),
    ),
    '',
  ].join('\n')
}
