/**
 * Crash safety, the short run of the kill harness (`__test__/crash/harness.ts`; the long run
 * is `npm run test:crash -- --rounds 100`): mixed writes, SIGKILL at random, reopen, and the
 * database holds exactly the acknowledged writes and schema changes (plus, whole or not at
 * all, the one in flight), verifies clean and searches.
 */
import { describe, expect, it } from 'vitest'
import { feedRounds } from './crash/feed'
import { crashRounds } from './crash/harness'
import { KINDS, type Kind } from './crash/workload'

describe('crash safety', () => {
  for (const kind of Object.keys(KINDS) as Kind[]) {
    it(`${kind}: loses no acknowledged write and applies none by half over 8 SIGKILLs`, async () => {
      const s = await crashRounds(kind, 8, 7)
      console.log(JSON.stringify(s))
      expect(s.acked).toBeGreaterThanOrEqual(8)
      expect(s.schemaChanges).toBeGreaterThan(0)
    }, 240_000)
  }
})

describe('change feed under SIGKILL', () => {
  it('a follower killed at random beside a writer killed at random resumes from its last seq: the replica ends equal to the source', async () => {
    const s = await feedRounds(6, 3)
    console.log(JSON.stringify(s))
    expect(s.changes).toBeGreaterThan(50)
  }, 240_000)
})
