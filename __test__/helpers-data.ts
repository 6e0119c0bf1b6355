/** Test data helpers without test-runner imports, for child processes too. */
import { rng } from '../benches/datasets'

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
