/**
 * faiss-cpu as a peer: a Python venv the bench creates in .tools/faiss-venv (PyPI, pinned)
 * runs benches/faiss_peer.py on the same files as the Node workers (HNSWFlat for the HNSW
 * workload, IVFPQ + RefineFlat for the IVF-PQ comparison). When the venv cannot be set up the
 * report says why.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import type { Launch } from './rounds'

const FAISS = 'faiss-cpu==1.15.1'
const NUMPY = 'numpy==2.4.6'
const venv = join(__dirname, '..', '.tools', 'faiss-venv')

export type FaissSpec = { base: string; queries: string; gt: string } & (
  | { index: 'hnsw'; m: number; efConstruction: number; efs: number[] }
  | { index: 'ivfpq'; m: number; nprobes: number[]; rerank: number }
)

let python: string | { error: string } | undefined

/** The venv's python with faiss installed (set up once per run), or why it could not be. */
function faissPython(): string | { error: string } {
  if (python) return python
  const exe = join(venv, 'bin', 'python')
  try {
    if (!existsSync(exe)) execFileSync('python3', ['-m', 'venv', venv], { stdio: 'ignore' })
    execFileSync(exe, ['-c', 'import faiss'], { stdio: 'ignore' })
    python = exe
  } catch {
    try {
      execFileSync(join(venv, 'bin', 'pip'), ['install', '--quiet', FAISS, NUMPY], { stdio: 'ignore', timeout: 600_000 })
      python = exe
    } catch (e) {
      python = { error: `could not install ${FAISS} into ${venv}: ${(e as Error).message.split('\n')[0]}` }
    }
  }
  return python
}

/** The launch of faiss on `spec` for {@link runInterleaved}: it builds on every core and
 * queries on one; when the venv cannot be set up, `{ lib: 'faiss', error }` for the report. */
export function faissLaunch(spec: FaissSpec): Launch | { lib: string; error: string } {
  const exe = faissPython()
  if (typeof exe !== 'string') return { lib: 'faiss', error: exe.error }
  const args = JSON.stringify({ ...spec, buildThreads: cpus().length, driven: true })
  return { lib: 'faiss', command: exe, args: [join(__dirname, 'faiss_peer.py'), args] }
}
