/**
 * Reliability figures: many small collections (per-tenant layouts) on disk, and how long the
 * JS thread is held by large calls (its own CPU time between ticks of a 10 ms interval, read
 * from Linux schedstat, so other load on the machine does not count).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../index'
import { fmt, table } from './harness'

export interface TenantsResult {
  collections: number
  createAndFillSeconds: number
  closeSeconds: number
  reopenSeconds: number
  diskBytes: number
  /** Most JS-thread CPU between ticks, ms. */
  busyInsert200kWithMetadata: number
  busySearchBatch1MHits: number
  /** Longest stats() call during a 200k-record insert, ms (wall). */
  statsDuringInsertMs: number
}

function diskBytes(dir: string): number {
  let total = 0
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name))
    total += st.isDirectory() ? diskBytes(join(dir, name)) : st.blocks * 512
  }
  return total
}

const cpuMs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6

async function busiest(run: () => Promise<unknown>): Promise<number> {
  let last = cpuMs()
  let worst = 0
  const timer = setInterval(() => {
    const now = cpuMs()
    worst = Math.max(worst, now - last)
    last = now
  }, 10)
  await run()
  clearInterval(timer)
  return Math.max(worst, cpuMs() - last)
}

const random = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1)

export async function benchTenants(quick: boolean): Promise<TenantsResult> {
  const collections = quick ? 200 : 1000
  const dim = 128
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-tenants-'))
  try {
    let db = await LibraVDB.open(dir)
    let t0 = performance.now()
    for (let i = 0; i < collections; i++) {
      const c = await db.createCollection(`t${i}`, { dimension: dim, index: { type: i % 2 ? 'hnsw' : 'flat' } })
      await c.insertBatch({ ids: Array.from({ length: 10 }, (_, j) => `d${j}`), vectors: random(10 * dim) })
    }
    const createAndFillSeconds = (performance.now() - t0) / 1000
    t0 = performance.now()
    await db.close()
    const closeSeconds = (performance.now() - t0) / 1000
    const disk = diskBytes(dir)
    t0 = performance.now()
    db = await LibraVDB.open(dir)
    const reopenSeconds = (performance.now() - t0) / 1000
    await db.close()

    const mem = await LibraVDB.open()
    const n = 200_000
    const records = Array.from({ length: n }, (_, i) => ({
      id: `doc-${i}`,
      vector: Array.from(random(32)),
      metadata: { title: `title ${i}`, category: ['a', 'b', 'c'][i % 3], year: 2000 + (i % 25) },
    }))
    const docs = await mem.createCollection('docs', { dimension: 32 })
    const busyInsert200kWithMetadata = await busiest(() => docs.insertBatch(records))
    const busySearchBatch1MHits = await busiest(() => docs.searchBatch(random(10_000 * 32), { k: 100 }))
    const flat = await mem.createCollection('flat', { dimension: 64 })
    let statsDuringInsertMs = 0
    const pending = flat.insertBatch({ ids: Array.from({ length: n }, (_, i) => `v${i}`), vectors: random(n * 64) })
    const timer = setInterval(() => {
      const s = performance.now()
      flat.stats()
      statsDuringInsertMs = Math.max(statsDuringInsertMs, performance.now() - s)
    }, 1)
    await pending
    clearInterval(timer)
    await mem.close()
    return {
      collections,
      createAndFillSeconds,
      closeSeconds,
      reopenSeconds,
      diskBytes: disk,
      busyInsert200kWithMetadata,
      busySearchBatch1MHits,
      statsDuringInsertMs,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export function tenantsSection(r: TenantsResult): string {
  return [
    '## Reliability: many collections, and the JS thread under large calls',
    '',
    `${r.collections} on-disk collections of 10 x 128-d vectors (half flat, half HNSW):`,
    '',
    table(
      ['create + fill', 'close', 'reopen', 'disk', 'disk per collection'],
      [[`${fmt.n(r.createAndFillSeconds)} s`, `${fmt.n(r.closeSeconds)} s`, `${fmt.n(r.reopenSeconds)} s`, `${fmt.n(r.diskBytes / 2 ** 20)} MiB`, `${fmt.n(r.diskBytes / r.collections / 1024)} KiB`]],
    ),
    '',
    'Most JS-thread CPU between two ticks of a 10 ms interval (the loop is never held longer):',
    '',
    table(
      ['call', 'ms'],
      [
        ['insertBatch of 200k records with metadata (one call)', fmt.n(r.busyInsert200kWithMetadata)],
        ['searchBatch returning 1M hits', fmt.n(r.busySearchBatch1MHits)],
        ['longest stats() during a 200k x 64 insertBatch (wall)', fmt.n(r.statsDuringInsertMs)],
      ],
    ),
    '',
  ].join('\n')
}
