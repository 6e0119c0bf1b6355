import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ClosedError, LibraVDB } from '../index'

describe('await using', () => {
  it('closes the database when the block exits, and on a throw', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'libravdb-dispose-'))
    let kept: LibraVDB | undefined
    {
      await using db = await LibraVDB.open(dir)
      kept = db
      await db.createCollection('docs', { dimension: 2 })
    }
    expect(() => kept!.listCollections()).toThrow(ClosedError)

    await expect(
      (async () => {
        await using db = await LibraVDB.open(dir) // the lock of the first handle was released
        kept = db
        throw new Error('boom')
      })(),
    ).rejects.toThrow('boom')
    expect(() => kept!.listCollections()).toThrow(ClosedError)

    await using again = await LibraVDB.open(dir)
    expect(again.listCollections()).toEqual(['docs'])
  })
})
