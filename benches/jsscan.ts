/**
 * The plain-JS baseline: a brute-force L2 scan over one Float32Array with a sorted top-k,
 * written the way a careful Node developer would (no allocation in the loop).
 */
export function jsScan(base: Float32Array, dim: number, q: Float32Array, k: number): number[] {
  const n = base.length / dim
  const bestD = new Float64Array(k).fill(Infinity)
  const bestI = new Int32Array(k).fill(-1)
  for (let i = 0; i < n; i++) {
    let d = 0
    const off = i * dim
    for (let j = 0; j < dim; j++) {
      const x = base[off + j] - q[j]
      d += x * x
    }
    if (d < bestD[k - 1]) {
      let p = k - 1
      while (p > 0 && bestD[p - 1] > d) {
        bestD[p] = bestD[p - 1]
        bestI[p] = bestI[p - 1]
        p--
      }
      bestD[p] = d
      bestI[p] = i
    }
  }
  return Array.from(bestI)
}

/** Exact ground truth (L2) computed with the JS scan; layout (nq, k). */
export function groundTruth(base: Float32Array, queries: Float32Array, dim: number, k: number): Int32Array {
  const nq = queries.length / dim
  const out = new Int32Array(nq * k)
  for (let q = 0; q < nq; q++) out.set(jsScan(base, dim, queries.subarray(q * dim, (q + 1) * dim), k), q * k)
  return out
}
