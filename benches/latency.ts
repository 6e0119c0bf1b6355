/**
 * What `await search()` costs beside `searchSync()` on real embeddings (debpkg20k, 384-d cosine,
 * HNSW defaults, in memory): per-query latency of each, the same queries, rounds alternating
 * between the two; and the throughput of 32 concurrent awaited clients against one.
 */
import { LibraVDB } from '../index'
import type { Dataset } from './datasets'
import { fmt, quantile, table } from './harness'

export interface LatencyResults {
  dataset: string
  queries: number
  syncP50Us: number
  syncP99Us: number
  awaitP50Us: number
  awaitP99Us: number
  oneClientQps: number
  clients: number
  clientsQps: number
  /** The same queries as one `searchBatch()` over every core: what concurrency could reach
   * with no per-query hop at all (the ceiling for the clients' figure). */
  batchQps: number
}


export async function benchLatency(ds: Dataset, quick: boolean): Promise<LatencyResults> {
  const dim = ds.dim
  const n = ds.base.length / dim
  const nq = ds.queries.length / dim
  const db = await LibraVDB.open()
  const c = await db.createCollection('c', { dimension: dim, metric: 'cosine', index: { type: 'hnsw' } })
  await c.insertBatch({ ids: Array.from({ length: n }, (_, i) => String(i)), vectors: ds.base })
  const q = (i: number) => ds.queries.subarray((i % nq) * dim, ((i % nq) + 1) * dim)
  const perRound = quick ? 500 : 2000
  const sync: number[] = []
  const awaited: number[] = []
  for (let round = 0; round < (quick ? 2 : 4); round++) {
    for (let i = 0; i < perRound; i++) {
      const t0 = performance.now()
      c.searchSync(q(i), { k: 10 })
      sync.push(performance.now() - t0)
    }
    for (let i = 0; i < perRound; i++) {
      const t0 = performance.now()
      await c.search(q(i), { k: 10 })
      awaited.push(performance.now() - t0)
    }
  }
  // Throughput: one awaited client against 32 concurrent ones, in alternating rounds; the best
  // round of each (a burst of load elsewhere on the machine lands on one round, not the ratio).
  const clients = 32
  let oneClientQps = 0
  let clientsQps = 0
  let batchQps = 0
  // The clients' queries, in one block.
  const perClient = Math.ceil(perRound / 8) // 63 in the quick run
  const batchQueries = new Float32Array(clients * perClient * dim)
  for (let k = 0; k < clients; k++) {
    for (let i = 0; i < perClient; i++) batchQueries.set(q(k * 101 + i), (k * perClient + i) * dim)
  }
  for (let round = 0; round < (quick ? 1 : 3); round++) {
    const t1 = performance.now()
    for (let i = 0; i < perRound; i++) await c.search(q(i), { k: 10 })
    oneClientQps = Math.max(oneClientQps, perRound / ((performance.now() - t1) / 1000))
    const t2 = performance.now()
    await Promise.all(Array.from({ length: clients }, async (_, k) => {
      for (let i = 0; i < perClient; i++) await c.search(q(k * 101 + i), { k: 10 })
    }))
    clientsQps = Math.max(clientsQps, (clients * perClient) / ((performance.now() - t2) / 1000))
    const t3 = performance.now()
    await c.searchBatch(batchQueries, { k: 10 })
    batchQps = Math.max(batchQps, (clients * perClient) / ((performance.now() - t3) / 1000))
  }
  await db.close()
  return {
    dataset: ds.name,
    queries: sync.length,
    syncP50Us: quantile(sync, 0.5) * 1000,
    syncP99Us: quantile(sync, 0.99) * 1000,
    awaitP50Us: quantile(awaited, 0.5) * 1000,
    awaitP99Us: quantile(awaited, 0.99) * 1000,
    oneClientQps,
    clients,
    clientsQps,
    batchQps,
  }
}

export function latencySection(r: LatencyResults): string {
  return [
    '## Awaited search beside searchSync',
    '',
    `${r.dataset} (384-d cosine), HNSW defaults, in memory, k = 10; ${fmt.n(r.queries)} queries each way, rounds alternating.`,
    '`searchSync()` runs on the calling thread; `await search()` too while it is alone and cheap (src/dispatch.ts), else on a libuv worker.',
    '',
    table(
      ['', 'p50', 'p99'],
      [
        ['searchSync()', `${r.syncP50Us.toFixed(0)} us`, `${r.syncP99Us.toFixed(0)} us`],
        ['await search()', `${r.awaitP50Us.toFixed(0)} us`, `${r.awaitP99Us.toFixed(0)} us`],
        ['difference', `+${(r.awaitP50Us - r.syncP50Us).toFixed(0)} us`, `${(r.awaitP99Us / r.syncP99Us).toFixed(2)}x`],
      ],
    ),
    '',
    `Awaited, one client: ${fmt.n(r.oneClientQps)} q/s; ${r.clients} concurrent clients: ${fmt.n(r.clientsQps)} q/s (${fmt.ratio(r.clientsQps / r.oneClientQps)}); best of alternating rounds.`,
    `The same queries as one \`searchBatch()\` (every core, no per-query hop or JS): ${fmt.n(r.batchQps)} q/s (${fmt.ratio(r.batchQps / r.oneClientQps)} one client), the ceiling the concurrent clients approach.`,
    '',
  ].join('\n')
}
