/**
 * The change feed on real embeddings (debpkg20k, 384-d cosine, on disk, default settings):
 * how fast `changes()` reads a backlog (changes/s and MB/s of log), and how far a follower
 * lags behind a writer writing as fast as it can: one woken by the writes of its own process
 * (the writer's handle) and one polling from a read-only handle (what a follower in another
 * process sees). Lag in milliseconds is from the moment the write's promise resolved (its
 * batch durable) to the moment the follower took its change.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Collection, LibraVDB } from '../index'
import type { Dataset } from './datasets'
import { fmt, quantile, table } from './harness'

export interface FeedRead {
  changes: number
  megabytes: number
  seconds: number
  changesPerSec: number
}

export interface FeedLag {
  follower: string
  changes: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Most changes committed and not yet taken, seen when the follower took a batch. */
  maxBehind: number
}

export interface ChangesResults {
  dataset: string
  read: FeedRead
  writerBatch: number
  writerSeconds: number
  /** Changes/s the writer committed alone, and beside the two followers. */
  writerAlone: number
  writerFollowed: number
  lag: FeedLag[]
}


/** Writes batches of `batch` upserts (cycling over the dataset) for `seconds`; returns the
 * commit time of each batch's last seq. */
async function writeFlatOut(c: Collection, ds: Dataset, batch: number, seconds: number, commits: Map<number, number>): Promise<number> {
  const n = ds.base.length / ds.dim
  const end = performance.now() + seconds * 1000
  let written = 0
  for (let b = 0; performance.now() < end; b++) {
    const from = (b * batch) % (n - batch)
    await c.upsertBatch({
      ids: Array.from({ length: batch }, (_, i) => `doc-${from + i}`),
      vectors: ds.base.subarray(from * ds.dim, (from + batch) * ds.dim),
      metadata: Array.from({ length: batch }, (_, i) => ({ n: b, i })),
    })
    written += batch
    commits.set(c.stats().seq, performance.now())
  }
  return written
}

async function follow(c: Collection, name: string, ac: AbortController, commits: Map<number, number>, since: number, pollIntervalMs?: number): Promise<FeedLag> {
  const lags: number[] = []
  let maxBehind = 0
  let changes = 0
  for await (const ch of c.changes({ since, signal: ac.signal, batchSize: 1000, pollIntervalMs })) {
    changes++
    const committed = commits.get(ch.seq)
    if (committed !== undefined) {
      // The last change of a batch: its lag, and how far behind the writer this follower is.
      lags.push(Math.max(0, performance.now() - committed))
      const latest = [...commits.keys()].at(-1) ?? ch.seq
      maxBehind = Math.max(maxBehind, latest - ch.seq)
    }
  }
  return { follower: name, changes, p50Ms: quantile(lags, 0.5), p99Ms: quantile(lags, 0.99), maxMs: Math.max(0, ...lags), maxBehind }
}

export async function benchChanges(ds: Dataset, quick: boolean): Promise<ChangesResults> {
  const dir = mkdtempSync(join(tmpdir(), 'libravdb-changes-bench-'))
  try {
    const db = await LibraVDB.open(dir)
    const c = await db.createCollection('docs', { dimension: ds.dim, metric: 'cosine' })
    // A backlog: the whole dataset, then upserts over it, in batches of 1000.
    const total = quick ? 20_000 : 100_000
    const n = ds.base.length / ds.dim
    for (let done = 0; done < total; done += 1000) {
      const from = done % n
      await c.upsertBatch({
        ids: Array.from({ length: 1000 }, (_, i) => `doc-${from + i}`),
        vectors: ds.base.subarray(from * ds.dim, (from + 1000) * ds.dim),
        metadata: Array.from({ length: 1000 }, (_, i) => ({ n: done, i })),
      })
    }
    const bytes = c.stats().changeLogBytes + c.stats().walBytes
    let read = 0
    const t0 = performance.now()
    for await (const _ of c.changes({ since: 0, follow: false, batchSize: 1000 })) read++
    const seconds = (performance.now() - t0) / 1000
    const feedRead = { changes: read, megabytes: bytes / 2 ** 20, seconds, changesPerSec: read / seconds }

    const batch = 100
    const writerSeconds = quick ? 3 : 10
    const alone = (await writeFlatOut(c, ds, batch, writerSeconds, new Map())) / writerSeconds
    const commits = new Map<number, number>()
    const since = c.stats().seq
    const reader = await LibraVDB.open(dir, { readOnly: true, refreshIntervalMs: 0 })
    const ac = new AbortController()
    const followers = [follow(c, 'same process (woken by each write)', ac, commits, since), follow(reader.getCollection('docs'), 'read-only handle (polls every 50 ms)', ac, commits, since)]
    const written = await writeFlatOut(c, ds, batch, writerSeconds, commits)
    const last = c.stats().seq
    // Let both catch up, then stop them.
    await new Promise((r) => setTimeout(r, 500))
    ac.abort()
    const lag = await Promise.all(followers)
    for (const l of lag) if (l.changes < last - since) throw new Error(`${l.follower} took ${l.changes} of ${last - since} changes`)
    await reader.close()
    await db.close()
    return { dataset: ds.name, read: feedRead, writerBatch: batch, writerSeconds, writerAlone: alone, writerFollowed: written / writerSeconds, lag }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export function changesSection(r: ChangesResults): string {
  return [
    '## Change feed',
    '',
    `${r.dataset} (384-d cosine) on disk, default settings (fsync on). Reading a backlog of ${fmt.n(r.read.changes)} upserts`,
    `(${r.read.megabytes.toFixed(0)} MiB of log, archived by checkpoints and in the WAL) with \`changes({ since: 0 })\`, batches of 1000:`,
    '',
    table(['changes', 'seconds', 'changes/s', 'MB/s'], [[fmt.n(r.read.changes), r.read.seconds.toFixed(2), fmt.n(r.read.changesPerSec), (r.read.megabytes / r.read.seconds).toFixed(0)]]),
    '',
    `A writer upserting batches of ${r.writerBatch} as fast as it can for ${r.writerSeconds} s: ${fmt.n(r.writerAlone)} changes/s alone,`,
    `${fmt.n(r.writerFollowed)} changes/s with both followers below reading beside it. Lag: from the write's promise resolving to the`,
    'follower taking its last change.',
    '',
    table(
      ['follower', 'changes taken', 'lag p50', 'lag p99', 'lag max', 'most changes behind'],
      r.lag.map((l) => [l.follower, fmt.n(l.changes), `${l.p50Ms.toFixed(1)} ms`, `${l.p99Ms.toFixed(1)} ms`, `${l.maxMs.toFixed(1)} ms`, l.maxBehind.toLocaleString('en-US')]),
    ),
    '',
  ].join('\n')
}
