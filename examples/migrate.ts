/**
 * `npm run example:migrate`: moving a live collection to a new embedding model without
 * downtime. The passages of ../shared/datasets/debpkg20k are stored with their
 * all-MiniLM-L6-v2 embeddings in vector field `minilm`; a client keeps searching it the whole
 * time. Then:
 *
 *   1. `addVectorField('next', ...)`: the new model's field, empty, added while serving;
 *   2. backfill: `updateBatch` of `{ id, vectors: { next } }`, batch by batch, with progress
 *      (each update sets that one field; the passage's text, metadata and old vector stay);
 *   3. compare the two fields' top-10 on held-out questions;
 *   4. switch the queries to `using: 'next'`;
 *   5. `dropVectorField('minilm')`: the old model's vectors, index and files go.
 *
 *   npm run example:migrate [-- --limit 2000] [--data DIR]
 *
 * This repository ships one model's embeddings, so the "new model" here is a fixed random
 * projection of them to 256 dimensions (a stand-in with the same neighbourhoods, roughly:
 * what a real second model would give differs more). Everything else is as a service runs it.
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LibraVDB } from '../index'
import { SHARED_DATASETS, randomProjection, readVecs } from '../benches/datasets'

const NEXT_DIM = 256

async function main() {
  const { values } = parseArgs({ options: { limit: { type: 'string' }, data: { type: 'string' } } })
  const dir = values.data ?? join(SHARED_DATASETS, 'debpkg20k')
  const base = readVecs(join(dir, 'base.fvecs'))
  const queries = readVecs(join(dir, 'query.fvecs'))
  const limit = Math.min(Number(values.limit ?? base.n), base.n)
  const dim = base.dim
  const row = (data: Float32Array | Int32Array, i: number) => (data as Float32Array).subarray(i * dim, (i + 1) * dim)
  const nextModel = randomProjection(dim, NEXT_DIM, 2026) // the stand-in "new model"

  await using db = await LibraVDB.open() // in memory; give a path to keep it
  const passages = await db.createCollection('passages', {
    vectors: { minilm: { dimension: dim, metric: 'cosine', index: { type: 'hnsw' } } },
  })
  const ids = Array.from({ length: limit }, (_, i) => `p${i}`)
  for (let start = 0; start < limit; start += 1000) {
    const batch = ids.slice(start, start + 1000)
    await passages.insertBatch(batch.map((id, j) => ({ id, vectors: { minilm: row(base.data, start + j) }, metadata: { n: start + j } })))
  }
  console.log(`stored ${await passages.count()} passages with their ${dim}-d minilm vectors`)

  // A client searching the old field the whole time, as production traffic would.
  let searching = true
  let served = 0
  let using = 'minilm'
  const client = (async () => {
    for (let i = 0; searching; i++) {
      const q = i % queries.n
      const v = using === 'minilm' ? row(queries.data, q) : nextModel(row(queries.data, q))
      const hits = await passages.search(v, { using, k: 10 })
      if (hits.length !== 10) throw new Error(`a search during the migration found ${hits.length} hits`)
      served++
    }
  })()

  // 1. The new model's field, added while serving.
  await passages.addVectorField('next', { dimension: NEXT_DIM, metric: 'cosine', index: { type: 'hnsw' } })
  // 2. Backfill it, batch by batch, with progress.
  const t0 = performance.now()
  for (let start = 0; start < limit; start += 500) {
    const batch = ids.slice(start, start + 500)
    await passages.updateBatch(batch.map((id, j) => ({ id, vectors: { next: nextModel(row(base.data, start + j)) } })))
    const done = Math.min(start + 500, limit)
    if (done % 5000 === 0 || done === limit) console.log(`backfilled ${done} / ${limit}`)
  }
  const filled = passages.stats().fields.find((f) => f.name === 'next')!
  console.log(`next: ${filled.count} of ${limit} passages in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${served} searches served meanwhile`)
  if (filled.count !== limit) throw new Error('the backfill missed passages')

  // 3. The two fields' top-10 on held-out questions.
  let overlap = 0
  const sample = Math.min(50, queries.n)
  for (let q = 0; q < sample; q++) {
    const old = await passages.search(row(queries.data, q), { using: 'minilm', k: 10 })
    const fresh = await passages.search(nextModel(row(queries.data, q)), { using: 'next', k: 10 })
    const seen = new Set(old.map((h) => h.id))
    overlap += fresh.filter((h) => seen.has(h.id)).length / 10
  }
  const agreement = overlap / sample
  console.log(`top-10 agreement between the fields on ${sample} held-out questions: ${agreement.toFixed(2)}`)
  if (agreement < 0.5) throw new Error('the new field disagrees with the old one more than expected')

  // 4. Switch; 5. drop the old field.
  using = 'next'
  const before = served
  while (served < before + 20) await new Promise((r) => setTimeout(r, 1))
  await passages.dropVectorField('minilm')
  searching = false
  await client
  const left = passages.stats().fields.map((f) => f.name)
  console.log(`switched to next; dropped minilm; fields now: ${left.join(', ')}; ${served} searches served in all, none failed`)
  if (left.join() !== 'next') throw new Error('the old field is still there')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
