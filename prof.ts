import { LibraVDB } from './index'
import { sift5k } from './benches/datasets'
async function main() {
  const ds = sift5k()
  const db = await LibraVDB.open()
  const c = await db.createCollection('s', { dimension: 128, index: { type: 'hnsw' } })
  await c.insertBatch(Array.from({ length: 4500 }, (_, i) => ({ id: String(i), vector: ds.base.subarray(i * 128, (i + 1) * 128) })))
  const qs = Array.from({ length: 500 }, (_, i) => ds.queries.subarray(i * 128, (i + 1) * 128))
  const native = (c as any)['__native'] 
  const time = (name: string, f: (q: Float32Array) => unknown) => {
    for (let r = 0; r < 3; r++) { for (const q of qs) f(q) }
    const t0 = performance.now(); for (let r = 0; r < 10; r++) for (const q of qs) f(q)
    console.log(name.padEnd(40), ((performance.now() - t0) * 1000 / 5000).toFixed(2), 'us/query')
  }
  for (const ef of [10, 24]) {
    time(`facade searchSync ef=${ef}`, (q) => c.searchSync(q, { k: 10, efSearch: ef }))
    time(`facade searchSync ef=${ef} k=1`, (q) => c.searchSync(q, { k: 1, efSearch: ef }))
  }
  await db.close()
}
main()
