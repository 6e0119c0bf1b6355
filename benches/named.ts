/**
 * Named vector fields: what a second field costs. On debpkg20k (20,000 real 384-d sentence
 * embeddings, cosine, held-out queries with exact ground truth), in memory, HNSW at the
 * defaults:
 * - search speed: a one-vector collection of the embeddings beside a two-field collection
 *   (the same embeddings as `body`, a 256-d field beside them) searched `using: 'body'`,
 *   query by query on the calling thread, rounds interleaved; recall@10 of each;
 * - filtered: the same, with `bucket < K` (1% and 10% of the records, exact filtered ground
 *   truth): the field's search is planned among the records that have it;
 * - memory: the two-field collection against the two one-field collections it amounts to.
 */
import { LibraVDB } from '../index'
import { type Dataset, bucketsOf, randomProjection, recallAtK } from './datasets'
import { table } from './harness'

export interface NamedResult {
  dataset: string
  n: number
  queries: number
  /** Queries per second, median of the rounds: one-vector collection, field `body`. */
  oneQps: number
  fieldQps: number
  oneRecall: number
  fieldRecall: number
  /** Filtered, `bucket < limit` of 1000: the same figures. */
  filtered: { limit: number; oneQps: number; fieldQps: number; oneRecall: number; fieldRecall: number }[]
  /** Held bytes (heap and anonymous memory, as memory limits count them). */
  oneBytes: number
  secondBytes: number
  twoFieldBytes: number
}

const held = (m: Record<string, number>) => m.vectors + m.index + m.codes + m.payload + m.ids + m.metadata

export async function benchNamed(ds: Dataset, nq: number, rounds: number): Promise<NamedResult> {
  const n = ds.base.length / ds.dim
  const dim = ds.dim
  const row = (i: number) => ds.base.subarray(i * dim, (i + 1) * dim)
  const second = randomProjection(dim, 256, 7)
  await using db = await LibraVDB.open()
  const hnsw = { type: 'hnsw' } as const
  const { bucket, filteredGt } = bucketsOf(ds)
  const schema = { bucket: 'int' } as const
  const one = await db.createCollection('one', { dimension: dim, metric: 'cosine', index: hnsw, schema })
  const alone = await db.createCollection('alone', { vectors: { title: { dimension: 256, metric: 'cosine', index: hnsw } } })
  const two = await db.createCollection('two', {
    vectors: { body: { dimension: dim, metric: 'cosine', index: hnsw }, title: { dimension: 256, metric: 'cosine', index: hnsw } },
    schema,
  })
  const ids = Array.from({ length: n }, (_, i) => String(i))
  await one.insertBatch(ids.map((id, i) => ({ id, vector: row(i), metadata: { bucket: bucket[i] } })))
  for (let start = 0; start < n; start += 2000) {
    const batch = ids.slice(start, start + 2000)
    const titles = batch.map((_, j) => second(row(start + j)))
    await alone.insertBatch(batch.map((id, j) => ({ id, vectors: { title: titles[j] } })))
    await two.insertBatch(batch.map((id, j) => ({ id, vectors: { body: row(start + j), title: titles[j] }, metadata: { bucket: bucket[start + j] } })))
  }
  const queries = Array.from({ length: Math.min(nq, ds.queries.length / dim) }, (_, q) => ds.queries.subarray(q * dim, (q + 1) * dim))
  const run = (search: (q: Float32Array) => { id: string }[]) => {
    const t0 = performance.now()
    const found = queries.map((q) => search(q).map((h) => Number(h.id)))
    return { qps: queries.length / ((performance.now() - t0) / 1000), found }
  }
  const oneRuns: number[] = []
  const fieldRuns: number[] = []
  let recalls = [0, 0]
  for (let r = 0; r < rounds; r++) {
    const a = run((q) => one.searchSync(q, { k: 10 }))
    const b = run((q) => two.searchSync(q, { k: 10, using: 'body' }))
    oneRuns.push(a.qps)
    fieldRuns.push(b.qps)
    recalls = [recallAtK(a.found, ds.groundTruth!, ds.gtK!, 10), recallAtK(b.found, ds.groundTruth!, ds.gtK!, 10)]
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
  const filtered = [10, 100].map((limit) => {
    const gt = filteredGt.get(limit)!
    const filter = { bucket: { $lt: limit } }
    const runs: [number[], number[]] = [[], []]
    let recall = [0, 0]
    for (let r = 0; r < rounds; r++) {
      const a = run((q) => one.searchSync(q, { k: 10, filter }))
      const b = run((q) => two.searchSync(q, { k: 10, filter, using: 'body' }))
      runs[0].push(a.qps)
      runs[1].push(b.qps)
      recall = [recallAtK(a.found, gt.ids, gt.k, 10), recallAtK(b.found, gt.ids, gt.k, 10)]
    }
    return { limit, oneQps: median(runs[0]), fieldQps: median(runs[1]), oneRecall: recall[0], fieldRecall: recall[1] }
  })
  const memory = db.memoryUsage().collections as unknown as Record<string, Record<string, number>>
  return {
    dataset: ds.name,
    n,
    queries: queries.length,
    oneQps: median(oneRuns),
    fieldQps: median(fieldRuns),
    oneRecall: recalls[0],
    fieldRecall: recalls[1],
    filtered,
    oneBytes: held(memory.one),
    secondBytes: held(memory.alone),
    twoFieldBytes: held(memory.two),
  }
}

export function namedSection(r: NamedResult): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`
  return [
    '## Named vector fields: what a second field costs',
    '',
    `${r.dataset}: ${r.n} records, ${r.queries} held-out queries, cosine, HNSW at the defaults, in memory, ` +
      'query by query on the calling thread (`searchSync`), rounds interleaved, median.',
    '',
    table(
      ['collection', 'searched', 'q/s', 'recall@10', 'held memory'],
      [
        ['one vector (384-d)', 'the vector', r.oneQps.toFixed(0), r.oneRecall.toFixed(3), mib(r.oneBytes)],
        ['one field (256-d)', '-', '-', '-', mib(r.secondBytes)],
        ['two fields (384-d body, 256-d title)', "using: 'body'", r.fieldQps.toFixed(0), r.fieldRecall.toFixed(3), mib(r.twoFieldBytes)],
        ...r.filtered.flatMap((f) => [
          [`one vector, bucket < ${f.limit} (${f.limit / 10}%)`, 'the vector', f.oneQps.toFixed(0), f.oneRecall.toFixed(3), ''],
          [`two fields, bucket < ${f.limit} (${f.limit / 10}%)`, "using: 'body'", f.fieldQps.toFixed(0), f.fieldRecall.toFixed(3), ''],
        ]),
      ],
    ),
    '',
    `Searching one field of the two-field collection runs at ${(r.fieldQps / r.oneQps).toFixed(2)}x the one-vector ` +
      `collection's q/s; the two-field collection holds ${(r.twoFieldBytes / (r.oneBytes + r.secondBytes)).toFixed(2)}x ` +
      'what the two one-field collections hold together.',
    '',
  ].join('\n')
}
