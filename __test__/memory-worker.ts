/**
 * Child process of memory.spec.ts, so that its anonymous RSS (RssAnon in /proc/self/status:
 * heap and anonymous maps, not file-backed pages) measures one database alone. Prints one
 * JSON line.
 *
 * - `metadata <disk|memory> <dir>`: 100k records with 2 KB of metadata text each; growth and
 *   text are counted over the last 80k.
 * - `hnsw <dir> <mmap> [limit]`: 200k x 128 into an on-disk HNSW collection (vectors made
 *   batch by batch from a seed, so the process never holds them all), then recall@10 of 100
 *   queries against brute force over the same batches.
 */
import { readFileSync } from 'node:fs'
import { LibraVDB, MemoryLimitError } from '../index'
import { randomVectors } from './helpers-data'

const rssAnon = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

async function metadata(mode: string, dir: string) {
  const db = await LibraVDB.open(mode === 'disk' ? dir : undefined, { fsync: false })
  const c = await db.createCollection('c', { dimension: 8 })
  const filler = 'x'.repeat(2000)
  // The first 20k records warm up what does not grow with the data (V8's heap capacity for
  // the batches' garbage, malloc's arenas): growth is measured past them.
  let warm = { rss: 0, text: 0 }
  for (let b = 0; b < 100; b++) {
    const records = Array.from({ length: 1000 }, (_, j) => ({
      id: `r${b * 1000 + j}`,
      vector: new Float32Array(8).fill(j),
      metadata: { text: `${filler}${b * 1000 + j}` },
    }))
    await c.insertBatch(records)
    if (b === 19) {
      gc()
      warm = { rss: rssAnon(), text: c.stats().metadataBytes }
    }
  }
  gc()
  const s = c.stats()
  console.log(JSON.stringify({ growth: rssAnon() - warm.rss, text: s.metadataBytes - warm.text, cache: s.memory.cache }))
  await db.close()
}

const N = 200_000
const DIM = 128
const BATCH = 10_000
// Clustered (100 centres, small spread): the graph reaches a recall worth comparing.
const CENTRES = randomVectors(999, 100, DIM)
function batch(b: number): Float32Array {
  const noise = randomVectors(1000 + b, BATCH, DIM)
  for (let i = 0; i < BATCH; i++) {
    const c = ((b * BATCH + i) * 7919) % 100
    for (let j = 0; j < DIM; j++) noise[i * DIM + j] = CENTRES[c * DIM + j] + 0.15 * noise[i * DIM + j]
  }
  return noise
}

/** The 10 nearest of `n` rows to each query, by brute force over the batches. */
function bruteForce(queries: Float32Array, nq: number, n: number): string[][] {
  const best = Array.from({ length: nq }, () => [] as [number, number][])
  for (let b = 0; b < n / BATCH; b++) {
    const v = batch(b)
    for (let q = 0; q < nq; q++) {
      const top = best[q]
      for (let i = 0; i < BATCH; i++) {
        let d = 0
        for (let j = 0; j < DIM; j++) {
          const x = v[i * DIM + j] - queries[q * DIM + j]
          d += x * x
        }
        if (top.length < 10 || d < top[top.length - 1][0]) {
          top.push([d, b * BATCH + i])
          top.sort((a, c) => a[0] - c[0])
          if (top.length > 10) top.pop()
        }
      }
    }
  }
  return best.map((t) => t.map(([, row]) => String(row)))
}

async function hnsw(dir: string, mmap: string, limit?: string) {
  gc()
  const before = rssAnon()
  const db = await LibraVDB.open(dir, { fsync: false, memoryLimit: limit })
  const c = await db.createCollection('c', {
    dimension: DIM,
    index: { type: 'hnsw', m: 8, efConstruction: 48, efSearch: 160 },
    storage: { mmap: mmap === 'auto' ? 'auto' : mmap === 'true' },
  })
  let inserted = 0
  let maxTotal = 0
  let refused: string | undefined
  for (let b = 0; b < N / BATCH; b++) {
    try {
      await c.insertBatch({ ids: Array.from({ length: BATCH }, (_, i) => String(b * BATCH + i)), vectors: batch(b) })
    } catch (e) {
      if (!(e instanceof MemoryLimitError)) throw e
      refused = e.message
      break
    }
    inserted += BATCH
    maxTotal = Math.max(maxTotal, db.memoryUsage().total)
  }
  gc()
  const growth = rssAnon() - before
  const nq = 100
  const queries = batch(777).subarray(0, nq * DIM)
  const truth = bruteForce(queries, nq, inserted)
  let found = 0
  for (let q = 0; q < nq; q++) {
    const hits = await c.search(queries.subarray(q * DIM, (q + 1) * DIM), { k: 10 })
    const want = new Set(truth[q])
    found += hits.filter((h) => want.has(h.id)).length
  }
  const s = c.stats()
  console.log(
    JSON.stringify({
      inserted,
      refused,
      maxTotal,
      growth,
      recall: found / (nq * 10),
      vectorsInMemory: s.vectorsInMemory,
      usage: db.memoryUsage().collections.c,
    }),
  )
  await db.close()
}

const [kind, ...args] = process.argv.slice(2)
void (kind === 'metadata' ? metadata(args[0], args[1]) : hnsw(args[0], args[1], args[2]))
