/**
 * `npm run demo`: creates a database in a temp directory, fills it with generated clustered
 * vectors and metadata, runs searches, shows persistence and a typed error, and prints
 * results and timings.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuplicateIdError, LibraVDB, simdLevel } from '../index'
import { clustered } from '../benches/datasets'

const ms = (t0: number) => `${(performance.now() - t0).toFixed(1)} ms`

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-demo-'))
  const n = 50_000
  const dim = 128
  const data = clustered({ n, nq: 100, dim, centres: 50, sigma: 15, seed: 1 })
  const categories = ['book', 'film', 'music', 'game']
  console.log(`LibraVDB demo: ${n} x ${dim} clustered vectors, database in ${dir} (kernels: ${simdLevel()})\n`)

  let t0 = performance.now()
  const db = await LibraVDB.open(dir)
  const docs = await db.createCollection('docs', { dimension: dim, metric: 'l2', index: { type: 'flat' } })
  for (let start = 0; start < n; start += 10_000) {
    await docs.insertBatch(
      Array.from({ length: 10_000 }, (_, i) => ({
        id: `doc-${start + i}`,
        vector: data.base.subarray((start + i) * dim, (start + i + 1) * dim),
        metadata: { category: categories[(start + i) % 4], price: ((start + i) % 100) / 2 },
      })),
    )
  }
  console.log(`inserted ${await docs.count()} records in 5 batches: ${ms(t0)} (WAL fsync per batch)`)

  const query = data.queries.subarray(0, dim)
  t0 = performance.now()
  const hits = await docs.search(query, { k: 5, includeMetadata: true })
  console.log(`\nsearch (async, k=5): ${ms(t0)}`)
  for (const h of hits) console.log(`  ${h.id.padEnd(10)} distance ${h.score.toFixed(2).padStart(7)}  ${JSON.stringify(h.metadata)}`)

  t0 = performance.now()
  for (let q = 0; q < 100; q++) docs.searchSync(data.queries.subarray(q * dim, (q + 1) * dim), { k: 10 })
  console.log(`searchSync: 100 queries in ${ms(t0)} (exact scan of ${n} vectors each, one thread)`)
  t0 = performance.now()
  await docs.searchBatch(data.queries, { k: 10 })
  console.log(`searchBatch: 100 queries in ${ms(t0)} (parallel on all cores)`)

  await docs.update('doc-0', { metadata: { category: 'book', price: 1, featured: true } })
  await docs.delete('doc-1')
  try {
    await docs.insert({ id: 'doc-2', vector: query })
  } catch (e) {
    if (e instanceof DuplicateIdError) console.log(`\ntyped error: ${e.code}: ${e.message}`)
  }

  // The same data in an HNSW index with 8-bit scalar quantization: approximate, much faster.
  t0 = performance.now()
  const fast = await db.createCollection('docs_hnsw', {
    dimension: dim,
    index: { type: 'hnsw', m: 16, efConstruction: 200 },
    quantization: { type: 'scalar', bits: 8 },
  })
  for (let start = 0; start < n; start += 10_000) {
    const ids = Array.from({ length: 10_000 }, (_, i) => `doc-${start + i}`)
    await fast.insertBatch({ ids, vectors: data.base.subarray(start * dim, (start + 10_000) * dim) })
  }
  console.log(`\nHNSW + SQ8 collection built in ${ms(t0)} (graph linked on all cores)`)
  let hit = 0
  t0 = performance.now()
  for (let q = 0; q < 100; q++) {
    const query = data.queries.subarray(q * dim, (q + 1) * dim)
    const approx = fast.searchSync(query, { k: 10 }).map((h) => h.id)
    const exact = new Set(docs.searchSync(query, { k: 10 }).map((h) => h.id))
    hit += approx.filter((id) => exact.has(id)).length
  }
  const st = fast.stats()
  console.log(`recall@10 against the exact index over 100 queries: ${(hit / 1000).toFixed(3)}`)
  let tq = performance.now()
  for (let q = 0; q < 100; q++) fast.searchSync(data.queries.subarray(q * dim, (q + 1) * dim), { k: 10 })
  tq = performance.now() - tq
  console.log(
    `HNSW searchSync: ${(tq * 10).toFixed(0)} us/query; codes ${(st.codeBytes / 2 ** 20).toFixed(1)} MiB ` +
      `(${st.compression}x smaller than the vectors); full precision mapped back by re-ranking: ` +
      `${(st.residentVectorBytes / 2 ** 20).toFixed(1)} MiB (clean file pages, released after each write)`,
  )

  t0 = performance.now()
  await db.close()
  const reopened = await LibraVDB.open(dir)
  const again = reopened.getCollection('docs')
  console.log(`\nclosed and reopened in ${ms(t0)}: ${await again.count()} records, doc-0 =`, (await again.get('doc-0'))?.metadata)
  const same = (await again.search(query, { k: 5 })).map((h) => h.id)
  console.log(`same top-5 after reopen: ${JSON.stringify(same) === JSON.stringify(hits.map((h) => h.id))}`)
  console.log('stats:', again.stats())
  console.log('collections:', reopened.listCollections())
  await reopened.close()
  rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
