/**
 * `npm run example:rag`: retrieval for RAG over real text. Stores the 20,000 Debian package
 * descriptions of ../shared/datasets/debpkg20k with their sentence embeddings
 * (all-MiniLM-L6-v2, 384-d, precomputed: no model runs here) and metadata, then answers
 * held-out questions: the passages an LLM prompt would get, with and without a metadata
 * filter, and recall@10 against the exact ground truth.
 *
 *   npm run example:rag [-- --limit 2000] [--data DIR]
 *
 * In a service the query vector comes from the same embedding model as the passages; here the
 * held-out queries' vectors ship with the dataset.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LibraVDB } from '../index'
import { SHARED_DATASETS, readVecs } from '../benches/datasets'

/** A coarse kind from the package name: what a user would filter retrieval by. */
function kindOf(pkg: string): string {
  if (pkg.endsWith('-dev')) return 'dev'
  if (pkg.startsWith('python3-')) return 'python'
  if (pkg.startsWith('lib')) return 'library'
  if (pkg.endsWith('-doc')) return 'doc'
  return 'program'
}

async function main() {
  const { values } = parseArgs({ options: { limit: { type: 'string' }, data: { type: 'string' } } })
  const dir = values.data ?? join(SHARED_DATASETS, 'debpkg20k')
  const texts = readFileSync(join(dir, 'base.txt'), 'utf8').split('\n')
  const base = readVecs(join(dir, 'base.fvecs'))
  const limit = Math.min(Number(values.limit ?? base.n), base.n)
  const queries = readVecs(join(dir, 'query.fvecs'))
  const questions = readFileSync(join(dir, 'query.txt'), 'utf8').split('\n')
  const dim = base.dim

  await using db = await LibraVDB.open() // in memory; give a path to keep it
  const passages = await db.createCollection('passages', {
    dimension: dim,
    metric: 'cosine',
    index: { type: 'hnsw', efSearch: 96 },
    schema: { kind: 'string' }, // indexed: filters on it are planned from counts
  })

  const t0 = performance.now()
  const ids: string[] = []
  for (let row = 0; row < limit; row++) ids.push(texts[row].slice(0, texts[row].indexOf(':')) || `row-${row}`)
  await passages.insertBatch({
    ids,
    vectors: (base.data as Float32Array).subarray(0, limit * dim), // columnar: no per-record objects
    metadata: ids.map((pkg, row) => ({ kind: kindOf(pkg), text: texts[row] })),
  })
  console.log(`stored ${await passages.count()} passages (${dim}-d) in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  // The context for three questions, as a prompt would get it.
  for (let q = 0; q < 3; q++) {
    const vector = (queries.data as Float32Array).subarray(q * dim, (q + 1) * dim)
    console.log(`\nquestion: "${questions[q]}"`)
    for (const hit of await passages.search(vector, { k: 3, includeMetadata: true })) {
      console.log(`  ${hit.score.toFixed(3)}  ${hit.metadata?.text}`)
    }
    const libs = await passages.query(vector).where('kind').eq('library').limit(2).withMetadata().execute()
    console.log('  libraries only:')
    for (const hit of libs) {
      if (hit.metadata?.kind !== 'library') throw new Error(`filter leak: ${hit.id}`)
      console.log(`  ${hit.score.toFixed(3)}  ${hit.metadata?.text}`)
    }
  }

  // Recall@10 against the exact neighbours (the ground truth covers the full 20,000).
  if (limit === base.n) {
    const truth = readVecs(join(dir, 'groundtruth.ivecs'))
    const vectors = (queries.data as Float32Array).subarray(0, queries.n * dim)
    const results = await passages.searchBatch(vectors, { k: 10 })
    let found = 0
    results.forEach((hits, q) => {
      const want = new Set(Array.from(truth.data.subarray(q * truth.dim, q * truth.dim + 10), (row) => ids[row]))
      found += hits.filter((h) => want.has(h.id)).length
    })
    console.log(`\nrecall@10 over ${queries.n} held-out questions: ${(found / (queries.n * 10)).toFixed(3)}`)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
