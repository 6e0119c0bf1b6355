/**
 * faiss-cpu as a peer: a Python venv the bench creates in .tools/faiss-venv (PyPI, pinned)
 * runs benches/faiss_peer.py on the same files as the Node workers (HNSWFlat for the HNSW
 * workload, IVFPQ + RefineFlat for the IVF-PQ comparison). When the venv cannot be set up the
 * report says why.
 */
import { cpus } from 'node:os'
import { join } from 'node:path'
import type { Launch } from './rounds'
import { venvPython } from './venv'

const FAISS = 'faiss-cpu==1.15.1'
const NUMPY = 'numpy==2.4.6'

/** `metric: 'cosine'`: vectors and queries normalised, METRIC_INNER_PRODUCT (faiss's cosine). */
export type FaissSpec = { base: string; queries: string; gt: string; metric?: 'l2' | 'cosine' } & (
  | { index: 'hnsw'; m: number; efConstruction: number; efs: number[] }
  | { index: 'ivfpq'; m: number; nprobes: number[]; rerank: number }
)

/** The launch of faiss on `spec` for {@link runInterleaved}: it builds on every core and
 * queries on one; when the venv cannot be set up, `{ lib: 'faiss', error }` for the report. */
export function faissLaunch(spec: FaissSpec): Launch | { lib: string; error: string } {
  const exe = venvPython('faiss-venv', [FAISS, NUMPY], 'faiss')
  if (typeof exe !== 'string') return { lib: 'faiss', error: exe.error }
  const args = JSON.stringify({ ...spec, buildThreads: cpus().length, driven: true })
  return { lib: 'faiss', command: exe, args: [join(__dirname, 'faiss_peer.py'), args] }
}
