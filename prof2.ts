import { NativeDatabase } from './src/native'
import { sift5k } from './benches/datasets'
async function main() {
  const ds = sift5k()
  const db = await NativeDatabase.open(null, null)
  const c = await db.createCollection('s', { dimension: 128, index: { type: 'hnsw' } })
  const ids = Array.from({ length: 4500 }, (_, i) => String(i))
  await c.putBatch(ids, ds.base, ids.map(() => null), false, true, null)
  const qs = Array.from({ length: 500 }, (_, i) => ds.queries.subarray(i * 128, (i + 1) * 128))
  const time = (name: string, f: (q: Float32Array) => unknown) => {
    for (let r = 0; r < 3; r++) { for (const q of qs) f(q) }
    const t0 = performance.now(); for (let r = 0; r < 10; r++) for (const q of qs) f(q)
    console.log(name.padEnd(40), ((performance.now() - t0) * 1000 / 5000).toFixed(2), 'us/query')
  }
  const o = { k: 10, efSearch: 10, includeMetadata: false, includeVectors: false }
  time('native searchSync ef=10', (q) => c.searchSync(q, o))
  time('native count() (bare call)', () => c.count())
  const o1 = { k: 1, efSearch: 10, includeMetadata: false, includeVectors: false }
  time('native searchSync ef=10 k=1', (q) => c.searchSync(q, o1))
}
main()
