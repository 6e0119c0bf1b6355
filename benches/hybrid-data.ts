/**
 * Records and queries of the hybrid-retrieval benchmark: debpkg20k (real sentence
 * embeddings of Debian package lines, and the lines as text) or a synthetic set of any size
 * (clustered 64-d vectors, texts of 8-30 words drawn from a Zipf-distributed vocabulary of
 * 50,000 made-up words, queries of 2-5 such words).
 */
import { clustered, debpkg20k, debpkg20kTexts, rng } from './datasets'

export interface HybridData {
  dim: number
  n: number
  nq: number
  base: Float32Array
  texts: string[]
  queries: Float32Array
  queryTexts: string[]
}

const VOCABULARY = 50_000

export function hybridData(kind: 'debpkg20k' | 'synthetic', n: number, nq: number): HybridData {
  if (kind === 'debpkg20k') {
    const d = debpkg20k()
    const t = debpkg20kTexts()
    nq = Math.min(nq, t.queries.length)
    return { dim: d.dim, n: t.base.length, nq, base: d.base, texts: t.base, queries: d.queries.subarray(0, nq * d.dim), queryTexts: t.queries.slice(0, nq) }
  }
  const d = clustered({ n, nq, dim: 64, centres: 200, sigma: 20, seed: 31 })
  const r = rng(32)
  // Zipf (s = 1) by inverse transform over the harmonic series' running sums.
  const cumulative = new Float64Array(VOCABULARY)
  let sum = 0
  for (let i = 0; i < VOCABULARY; i++) cumulative[i] = sum += 1 / (i + 1)
  const word = () => {
    const x = r() * sum
    let lo = 0
    let hi = VOCABULARY - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cumulative[mid] < x) lo = mid + 1
      else hi = mid
    }
    return `w${lo.toString(36)}`
  }
  const sentence = (min: number, max: number) => Array.from({ length: min + Math.floor(r() * (max - min + 1)) }, word).join(' ')
  return {
    dim: d.dim,
    n,
    nq,
    base: d.base,
    texts: Array.from({ length: n }, () => sentence(8, 30)),
    queries: d.queries,
    queryTexts: Array.from({ length: nq }, () => sentence(2, 5)),
  }
}
