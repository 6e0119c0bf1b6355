import { join } from 'node:path'
import { LibraVDB } from './index'
import { readVecs } from './benches/datasets'
const d = '/work/shared/datasets/debpkg20k'
async function main() {
  const m = Number(process.argv[2] ?? 96)
  const base = readVecs(join(d, 'base.fvecs')), qs = readVecs(join(d, 'query.fvecs')), gt = readVecs(join(d, 'groundtruth.ivecs'))
  const db = await LibraVDB.open()
  const t0 = performance.now()
  const c = await db.createCollection('d', { dimension: 384, metric: 'cosine', index: { type: 'ivfpq', nlist: 141, m, rerank: 16 } })
  await c.insertBatch({ ids: Array.from({ length: base.n }, (_, i) => String(i)), vectors: base.data as Float32Array })
  console.log(`libravdb: debpkg20k, nlist 141, m ${m}: build ${((performance.now() - t0) / 1000).toFixed(1)} s (2 threads), ${c.stats().quantization}`)
  const q = (i: number) => (qs.data as Float32Array).subarray(i * 384, (i + 1) * 384)
  for (const nprobe of [4, 8, 16, 32, 64]) {
    let best = 0, hit = 0
    for (let r = 0; r < 3; r++) {
      hit = 0
      const t = performance.now()
      for (let i = 0; i < qs.n; i++) {
        const h = c.searchSync(q(i), { k: 10, nprobe })
        const want = new Set(Array.from(gt.data.subarray(i * gt.dim, i * gt.dim + 10)))
        hit += h.filter((x) => want.has(Number(x.id))).length
      }
      best = Math.max(best, (qs.n * 1000) / (performance.now() - t))
    }
    console.log(`nprobe ${String(nprobe).padStart(3)}: recall@10 ${(hit / (qs.n * 10)).toFixed(3)}, ${best.toFixed(0)} q/s`)
  }
  await db.close()
}
main()
