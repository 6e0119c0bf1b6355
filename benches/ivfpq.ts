/**
 * IVF-PQ beside faiss and LanceDB: the same files, the same shape (about sqrt(n) lists, m
 * sub-spaces of 8 bits, k x 16 candidates re-ranked on full precision: faiss IndexIVFPQ +
 * IndexRefineFlat, LanceDB IVF_PQ with refineFactor 16), single queries one after another, an
 * nprobe sweep. faiss-cpu runs from a Python venv (benches/faiss.ts); LanceDB from
 * benches/node_modules; when either fails the section says why.
 */
import { rmSync } from 'node:fs'
import { qpsAtRecall, runLibraries, writeWorkerFiles } from './ann'
import type { Dataset } from './datasets'
import { faissLaunch } from './faiss'
import { fmt, table } from './harness'
import type { WorkerResult } from './peer-worker'
import { nodeLaunch } from './rounds'

const NPROBES = [1, 2, 4, 8, 16, 32, 64]

type Outcome = WorkerResult | { lib: string; error: string }

export interface IvfPqComparison {
  dataset: string
  n: number
  dim: number
  m: number
  metric: 'l2' | 'cosine'
  /** In memory, and on disk with default settings (what users run). */
  libravdb: Outcome
  libravdbDisk: Outcome
  faiss: Outcome
  lancedb: Outcome
}

export async function benchIvfPq(
  sets: { ds: Dataset; m: number; metric: 'l2' | 'cosine' }[],
  nq: number,
  repeats: number,
): Promise<IvfPqComparison[]> {
  const out: IvfPqComparison[] = []
  for (const { ds, m, metric } of sets) {
    const files = await writeWorkerFiles(ds, nq)
    const common = { base: files.base, queries: files.queries, gt: files.gt, nprobes: NPROBES, metric }
    // One batch: the index trains on all vectors, as faiss does (filled in batches it
    // retrains as the collection doubles, see README "Known limits").
    const libravdb = { ...common, repeats, lib: 'libravdb', index: 'ivfpq', ivf: { m, bits: 8 }, batch: ds.base.length / ds.dim, m: 16, efConstruction: 200, efs: [] }
    const [mem, disk, faiss, lancedb] = await runLibraries(
      [
        nodeLaunch('peer-worker.ts', libravdb, 'libravdb'),
        nodeLaunch('peer-worker.ts', { ...libravdb, disk: true, label: 'libravdb (disk)' }, 'libravdb (disk)'),
        faissLaunch({ ...common, index: 'ivfpq', m, rerank: 16 }),
        nodeLaunch('peer-worker.ts', { ...common, repeats, lib: 'lancedb', ivf: { m, bits: 8 }, m: 16, efConstruction: 200, efs: [] }, 'lancedb'),
      ],
      repeats,
    )
    rmSync(files.dir, { recursive: true, force: true })
    out.push({ dataset: ds.name, n: ds.base.length / ds.dim, dim: ds.dim, m, metric, libravdb: mem, libravdbDisk: disk, faiss, lancedb })
  }
  return out
}

export function ivfpqSection(results: IvfPqComparison[]): string {
  const lines = [
    '## IVF-PQ beside faiss and LanceDB',
    '',
    'Same files, same shape: about sqrt(n) lists, m sub-spaces of 8 bits, k x 16 candidates re-ranked on full precision',
    '(faiss: IndexIVFPQ + IndexRefineFlat, k_factor 16, queries on one OpenMP thread; LanceDB 0.39: IVF_PQ, refineFactor 16, its',
    'async query API awaited one query at a time). Single queries, best of rounds interleaved across the libraries; build = train + add (LibraVDB:',
    'one insertBatch of every vector on all cores, training inside, as faiss trains on all of them; faiss: all cores; LanceDB: createTable from JS rows + createIndex, its',
    'own threads). LibraVDB runs twice: in memory, and on disk with default settings (what an application opening a',
    'directory gets). Cosine: unit vectors, faiss with METRIC_INNER_PRODUCT. Ratios: LibraVDB / peer q/s.',
    '',
  ]
  for (const r of results) {
    lines.push(`### ${r.dataset} (${r.n.toLocaleString('en-US')} x ${r.dim}), ${r.metric ?? 'l2'}, m = ${r.m}`, '')
    const ours = [r.libravdb, r.libravdbDisk].filter((x): x is WorkerResult => !('error' in x))
    const peers = [r.faiss, r.lancedb].filter((p): p is WorkerResult => !('error' in p))
    for (const p of [r.libravdb, r.libravdbDisk, r.faiss, r.lancedb]) if ('error' in p) lines.push(`${p.lib} unavailable: ${p.error}`, '')
    if (ours.length === 0) continue
    const all = [...ours, ...peers]
    lines.push(
      table(
        ['nprobe', ...all.flatMap((p) => [`${p.lib} recall@10`, `${p.lib} q/s`])],
        ours[0].sweep.map((x, i) => [String(x.ef), ...all.flatMap((p) => (p.sweep[i] ? [p.sweep[i].recall.toFixed(3), fmt.n(p.sweep[i].qps)] : ['', '']))]),
      ),
      '',
      table(
        ['', 'libravdb', 'q/s', ...peers.flatMap((p) => [p.lib, 'ratio'])],
        [
          ...[0.9, 0.95].flatMap((t) =>
            ours.map((a) => {
              const x = qpsAtRecall(a.sweep, t)
              return [
                `q/s at recall ${t}`,
                a.lib,
                x ? fmt.n(x) : 'not reached',
                ...peers.flatMap((p) => {
                  const y = qpsAtRecall(p.sweep, t)
                  return [y ? fmt.n(y) : 'not reached', x && y ? `**${fmt.ratio(x / y)}**` : '']
                }),
              ]
            }),
          ),
          // nprobe 1: the fixed per-query cost (ranking centroids, building the table).
          ...ours.map((a) => [
            'q/s at nprobe 1',
            a.lib,
            fmt.n(a.sweep[0].qps),
            ...peers.flatMap((p) => [fmt.n(p.sweep[0]?.qps ?? 0), p.sweep[0] ? `**${fmt.ratio(a.sweep[0].qps / p.sweep[0].qps)}**` : '']),
          ]),
          ...ours.map((a) => ['build s', a.lib, `${a.buildSeconds.toFixed(1)} (${a.threads} threads)`, ...peers.flatMap((p) => [`${p.buildSeconds.toFixed(1)} (${p.lib.startsWith('faiss') ? `${p.threads} threads` : 'own threads'})`, ''])]),
          ['code bytes / vector', 'libravdb', fmt.n(ours[0].codeBytesPerVector ?? 0), ...peers.flatMap((p) => [fmt.n(p.codeBytesPerVector ?? 0), ''])],
        ],
      ),
      '',
    )
  }
  return lines.join('\n')
}
