/**
 * Group-by of search hits (`search(v, { groupBy, groupSize, k })`): the best `k` groups of
 * records sharing a metadata value, each with its best `groupSize` hits, so that the chunks
 * of one document come back as one result. The facade asks the engine for more candidates
 * than hits and groups them here; when the candidates run short of `k` full groups and more
 * exist, it asks again for four times as many, up to {@link MAX_GROUP_FETCH}.
 */
import type { SearchHit } from './records'

/** The most candidates a grouped search looks at. */
export const MAX_GROUP_FETCH = 10_000

export interface GroupSpec {
  field: string
  /** Hits per group. */
  size: number
  /** Groups returned. */
  groups: number
}

/** Candidates asked for first: four per wanted hit, at least 64. */
export function firstGroupFetch(g: GroupSpec): number {
  return Math.min(MAX_GROUP_FETCH, Math.max(64, g.groups * g.size * 4))
}

/**
 * Groups one query's hits (best first, with metadata): groups in the order of their best hit,
 * hits within a group best first, each hit with its `group` value (metadata stripped unless
 * `keepMetadata`). Records whose field is not a string, number or boolean are left out.
 * `settled`: `k` groups of `size` hits were found, or `fetched` ran short of the candidates
 * asked for (there are no more to look at).
 */
export function groupHits(hits: SearchHit[], g: GroupSpec, keepMetadata: boolean, asked: number): { hits: SearchHit[]; settled: boolean } {
  const groups = new Map<string, SearchHit[]>()
  for (const h of hits) {
    const value = h.metadata?.[g.field]
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue
    const key = `${typeof value}:${String(value)}`
    let members = groups.get(key)
    if (!members) {
      if (groups.size === g.groups) continue // only hits of the groups already chosen
      members = []
      groups.set(key, members)
    }
    if (members.length < g.size) {
      const { metadata, ...rest } = h
      members.push(keepMetadata ? { ...h, group: value } : { ...rest, group: value })
    }
  }
  const full = groups.size === g.groups && [...groups.values()].every((m) => m.length === g.size)
  return { hits: [...groups.values()].flat(), settled: full || hits.length < asked }
}

/** The next number of candidates to ask for, or undefined when every query has settled. */
export function nextGroupFetch(results: { settled: boolean }[], asked: number): number | undefined {
  if (results.every((r) => r.settled) || asked >= MAX_GROUP_FETCH) return undefined
  return Math.min(MAX_GROUP_FETCH, asked * 4)
}

/** A grouped search: candidates from `run` (with metadata), grouped per query, asked again
 * with more candidates while some query has found fewer than k full groups. */
export async function groupedSearch<O extends { k: number; includeMetadata: boolean }>(
  native: O,
  group: GroupSpec,
  run: (n: O) => Promise<SearchHit[][]>,
): Promise<SearchHit[][]> {
  let asked = firstGroupFetch(group)
  for (;;) {
    const grouped = (await run({ ...native, k: asked, includeMetadata: true })).map((h) => groupHits(h, group, native.includeMetadata, asked))
    const next = nextGroupFetch(grouped, asked)
    if (next === undefined) return grouped.map((g) => g.hits)
    asked = next
  }
}

/** {@link groupedSearch} on the calling thread, for one query (`searchSync`). */
export function groupedSearchSync<O extends { k: number; includeMetadata: boolean }>(
  native: O,
  group: GroupSpec,
  run: (n: O) => SearchHit[],
): SearchHit[] {
  let asked = firstGroupFetch(group)
  for (;;) {
    const grouped = groupHits(run({ ...native, k: asked, includeMetadata: true }), group, native.includeMetadata, asked)
    const next = nextGroupFetch([grouped], asked)
    if (next === undefined) return grouped.hits
    asked = next
  }
}
