/**
 * The change feed: `collection.changes()` as an async iterable over the engine's change
 * reader. One native call reads up to `batchSize` changes off the JS thread; the iterator asks
 * for the next batch only when its consumer has taken the last one, so a slow consumer holds at
 * most one batch (backpressure by pulling). Once caught up it waits for a write through this
 * process (woken at once) or `pollIntervalMs` (a writer in another process), whichever first.
 */
import type { MetadataCodec } from './batch'
import type { SchemaView } from './schema'
import { checkOptionalBoolean, checkOptionalInteger, describe, optionsObject } from './check'
import { ClosedError, InvalidArgumentError } from './errors'
import { type NativeChange, type NativeCollection, call } from './native'
import type { Change, ChangesOptions } from './records'

/** Collections with feeds being iterated, and how many (see `follow`'s `finally`). */
const held = new Map<object, number>()

/**
 * Iterators waiting for the next write, per database handle and collection name: every
 * `getCollection()` returns a new handle object, and a write through any of them wakes the
 * feeds of all.
 */
const waiting = new WeakMap<object, Map<string, Set<() => void>>>()

/** Wakes the change iterators of collection `name` of `database` (a write through this
 * process finished). */
export function wakeFollowers(database: object, name: string): void {
  const set = waiting.get(database)?.get(name)
  if (set === undefined) return
  waiting.get(database)!.delete(name)
  for (const wake of set) wake()
}

/** Resolves at the next write to collection `name` of `database` through this process,
 * after `ms`, or when `signal` aborts. */
function nextWrite(database: object, name: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    let byName = waiting.get(database)
    if (byName === undefined) waiting.set(database, (byName = new Map()))
    let set = byName.get(name)
    if (set === undefined) byName.set(name, (set = new Set()))
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      waiting.get(database)?.get(name)?.delete(done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
    set.add(done)
  })
}

/** The change as the public API shows it. */
function toChange(c: NativeChange, metadata: MetadataCodec): Change {
  const change: Change = { seq: c.seq, op: c.op as Change['op'], id: c.id }
  if (c.vector != null) change.vector = c.vector
  if (c.hasMetadata) change.metadata = metadata.decode(c.metadata) ?? null
  if (c.named.length > 0) change.vectors = Object.fromEntries(c.named.map((f) => [f.field, f.vector ?? null]))
  if (c.whole) change.whole = true
  return change
}

/** `collection.changes(opts)`: options checked now, changes read as the iterator is pulled.
 * `owner` (the collection) is held by the iterator: a feed keeps its database open; writes
 * through any handle of `database`'s collection of that name wake it. */
export function followChanges(
  owner: object,
  database: object,
  native: NativeCollection,
  schema: SchemaView,
  opts: unknown,
): AsyncGenerator<Change> {
  const o = optionsObject<ChangesOptions>('changes options', opts, ['since', 'follow', 'signal', 'batchSize', 'pollIntervalMs'])
  const since = o.since ?? 'now'
  if (since !== 'now' && since !== 'oldest' && !(typeof since === 'number' && Number.isSafeInteger(since) && since >= 0)) {
    throw new InvalidArgumentError(`changes options.since must be a sequence number (an integer >= 0), 'now' or 'oldest', got ${describe(since)}`)
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`changes options.signal must be an AbortSignal, got ${describe(o.signal)}`)
  }
  const follows = checkOptionalBoolean('changes options.follow', o.follow) ?? true
  const batchSize = checkOptionalInteger('changes options.batchSize', o.batchSize, 1, 10_000) ?? 256
  const pollMs = checkOptionalInteger('changes options.pollIntervalMs', o.pollIntervalMs, 1, 60_000) ?? 50
  return follow(owner, database, native, schema, since, follows, batchSize, pollMs, o.signal)
}

async function* follow(
  owner: object,
  database: object,
  native: NativeCollection,
  schema: SchemaView,
  since: number | 'now' | 'oldest',
  follows: boolean,
  batchSize: number,
  pollMs: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<Change> {
  held.set(owner, (held.get(owner) ?? 0) + 1)
  try {
    const reader = await call(() => native.openChanges(typeof since === 'number' ? since : undefined, since === 'oldest'))
    while (!signal?.aborted) {
      const batch = await call(() => reader.read(batchSize))
      if (batch.length === 0) {
        if (!follows) return
        await nextWrite(database, native.name, pollMs, signal)
        continue
      }
      for (const c of batch) {
        if (signal?.aborted) return
        yield toChange(c, schema.codec)
      }
    }
  } catch (e) {
    // The collection was closed or dropped: the feed ends there.
    if (e instanceof ClosedError) return
    throw e
  } finally {
    // Referenced here so that the collection (and through it its database, which would close
    // when collected) lives as long as the iteration.
    const feeds = held.get(owner) ?? 1
    if (feeds > 1) held.set(owner, feeds - 1)
    else held.delete(owner)
  }
}

/**
 * The items of `feed` in batches of what is ready at once (at most `max`): a burst of writes
 * comes as one batch, a trickle item by item. For consumers that apply changes in bulk
 * (`copyToMilvus`'s follow). Ends with the feed.
 */
export async function* readyBatches<T>(feed: AsyncIterable<T>, max: number): AsyncGenerator<T[]> {
  const it = feed[Symbol.asyncIterator]()
  let next = it.next()
  for (;;) {
    const first = await next
    if (first.done) return
    const batch = [first.value]
    next = it.next()
    // Ready now means settled before the event loop turns (setImmediate).
    while (batch.length < max && (await Promise.race([next.then(() => true), new Promise<boolean>((r) => setImmediate(r, false))]))) {
      const r = await next
      if (r.done) break
      batch.push(r.value)
      next = it.next()
    }
    yield batch
  }
}
