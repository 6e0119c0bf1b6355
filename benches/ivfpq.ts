/**
 * IVF-PQ beside faiss and LanceDB: the same files, the same shape (about sqrt(n) lists, m
 * sub-spaces of 8 bits, k x 16 candidates re-ranked on full precision: faiss IndexIVFPQ +
 * IndexRefineFlat, LanceDB IVF_PQ with refineFactor 16), single queries one after another, an
 * nprobe sweep. faiss-cpu runs from a Python venv the bench creates in .tools/faiss-venv (PyPI,
 * pinned); LanceDB from benches/node_modules; when either fails the section says why.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { qpsAtRecall, runWorker, writeWorkerFiles } from './ann'
import type { Dataset } from './datasets'
import { fmt, table } from './harness'
import type { WorkerResult } from './peer-worker'

const FAISS = 'faiss-cpu==1.15.1'
const NUMPY = 'numpy==2.4.6'
const NPROBES = [4, 8, 16, 32, 64]
const venv = join(__dirname, '..', '.tools', 'faiss-venv')

type Outcome = WorkerResult | { lib: string; error: string }

export interface IvfPqComparison {
  dataset: string
  n: number
  dim: number
  m: number
  libravdb: Outcome
  faiss: Outcome
  lancedb: Outcome
}

/** The venv's python with faiss installed, or the reason it could not be set up. */
function faissPython(): string | { error: string } {
  const python = join(venv, 'bin', 'python')
  try {
    if (!existsSync(python)) execFileSync('python3', ['-m', 'venv', venv], { stdio: 'ignore' })
    execFileSync(python, ['-c', 'import faiss'], { stdio: 'ignore' })
  } catch {
    try {
      execFileSync(join(venv, 'bin', 'pip'), ['install', '--quiet', FAISS, NUMPY], { stdio: 'ignore', timeout: 600_000 })
    } catch (e) {
      return { error: `could not install ${FAISS} into ${venv}: ${(e as Error).message.split('\n')[0]}` }
    }
  }
  return python
}

function runFaiss(python: string, spec: object): Outcome {
  try {
    const out = execFileSync(python, [join(__dirname, 'faiss_ivfpq.py'), JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 22 })
    return JSON.parse(out.trim().split('\n').pop()!) as WorkerResult
  } catch (e) {
    return { lib: 'faiss', error: ((e as { stderr?: string }).stderr || (e as Error).message).split('\n').slice(-3).join(' ') }
  }
}

export async function benchIvfPq(sets: { ds: Dataset; m: number }[], nq: number, repeats: number): Promise<IvfPqComparison[]> {
  const python = faissPython()
  const out: IvfPqComparison[] = []
  for (const { ds, m } of sets) {
    const files = await writeWorkerFiles(ds, nq)
    const common = { base: files.base, queries: files.queries, gt: files.gt, nprobes: NPROBES, repeats }
    const libravdb = runWorker({ ...common, lib: 'libravdb', index: 'ivfpq', ivf: { m, bits: 8 }, m: 16, efConstruction: 200, efs: [] }, 'libravdb')
    const faiss = typeof python === 'string' ? runFaiss(python, { ...common, m, rerank: 16 }) : { lib: 'faiss', error: python.error }
    const lancedb = runWorker({ ...common, lib: 'lancedb', ivf: { m, bits: 8 }, m: 16, efConstruction: 200, efs: [] }, 'lancedb')
    rmSync(files.dir, { recursive: true, force: true })
    out.push({ dataset: ds.name, n: ds.base.length / ds.dim, dim: ds.dim, m, libravdb, faiss, lancedb })
  }
  return out
}

export function ivfpqSection(results: IvfPqComparison[]): string {
  const lines = [
    '## IVF-PQ beside faiss and LanceDB',
    '',
    'Same files, same shape: about sqrt(n) lists, m sub-spaces of 8 bits, k x 16 candidates re-ranked on full precision',
    '(faiss: IndexIVFPQ + IndexRefineFlat, k_factor 16, one OpenMP thread; LanceDB 0.39: IVF_PQ, refineFactor 16, its',
    'async query API awaited one query at a time). Single queries, best of interleaved rounds; build = train + add (LibraVDB:',
    'insertBatch on all cores, training inside; faiss: one thread; LanceDB: createTable from JS rows + createIndex, its',
    'own threads). Ratios: LibraVDB / peer q/s.',
    '',
  ]
  for (const r of results) {
    lines.push(`### ${r.dataset} (${r.n.toLocaleString('en-US')} x ${r.dim}), m = ${r.m}`, '')
    if ('error' in r.libravdb) {
      lines.push(`libravdb failed: ${r.libravdb.error}`, '')
      continue
    }
    const a = r.libravdb
    const peers = [r.faiss, r.lancedb].filter((p): p is WorkerResult => !('error' in p))
    for (const p of [r.faiss, r.lancedb]) if ('error' in p) lines.push(`${p.lib} unavailable: ${p.error}`, '')
    lines.push(
      table(
        ['nprobe', 'libravdb recall@10', 'libravdb q/s', ...peers.flatMap((p) => [`${p.lib} recall@10`, `${p.lib} q/s`])],
        a.sweep.map((x, i) => [
          String(x.ef),
          x.recall.toFixed(3),
          fmt.n(x.qps),
          ...peers.flatMap((p) => (p.sweep[i] ? [p.sweep[i].recall.toFixed(3), fmt.n(p.sweep[i].qps)] : ['', ''])),
        ]),
      ),
      '',
      table(
        ['', 'libravdb', ...peers.flatMap((p) => [p.lib, 'ratio'])],
        [
          ...[0.9, 0.95].map((t) => {
            const x = qpsAtRecall(a.sweep, t)
            return [
              `q/s at recall ${t}`,
              x ? fmt.n(x) : 'not reached',
              ...peers.flatMap((p) => {
                const y = qpsAtRecall(p.sweep, t)
                return [y ? fmt.n(y) : 'not reached', x && y ? `**${fmt.ratio(x / y)}**` : '']
              }),
            ]
          }),
          ['build s', `${a.buildSeconds.toFixed(1)} (${a.threads} threads)`, ...peers.flatMap((p) => [`${p.buildSeconds.toFixed(1)} (${p.lib === 'faiss' ? '1 thread' : 'own threads'})`, ''])],
          ['code bytes / vector', fmt.n(a.codeBytesPerVector ?? 0), ...peers.flatMap((p) => [fmt.n(p.codeBytesPerVector ?? 0), ''])],
        ],
      ),
      '',
    )
  }
  return lines.join('\n')
}
