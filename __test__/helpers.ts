import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'

const made: string[] = []

/** A fresh temp directory, removed after the current test. */
export function tempDir(prefix = 'libravdb-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Seeded PRNG (mulberry32): the same seed gives the same data on every run. */
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

/** n x dim uniform values in [-1, 1), row-major. */
export function randomVectors(seed: number, n: number, dim: number): Float32Array {
  const r = rng(seed)
  const out = new Float32Array(n * dim)
  for (let i = 0; i < out.length; i++) out[i] = r() * 2 - 1
  return out
}

export function row(block: Float32Array, i: number, dim: number): Float32Array {
  return block.subarray(i * dim, (i + 1) * dim)
}

/** ../shared/datasets beside the checkout, or $LIBRAVDB_DATASETS. */
export const DATASETS = process.env.LIBRAVDB_DATASETS ?? join(__dirname, '..', '..', 'shared', 'datasets')

/** Reads an fvecs (`int32 d` + d float32 per row) or ivecs file into one block. */
export function readVecs(path: string): { dim: number; n: number; data: Float32Array | Int32Array } {
  const buf = readFileSync(path)
  const dim = buf.readInt32LE(0)
  const n = buf.length / (4 * (dim + 1))
  const isInt = path.endsWith('.ivecs')
  const data = isInt ? new Int32Array(n * dim) : new Float32Array(n * dim)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      const off = 4 * (i * (dim + 1) + 1 + j)
      data[i * dim + j] = isInt ? buf.readInt32LE(off) : buf.readFloatLE(off)
    }
  }
  return { dim, n, data }
}
