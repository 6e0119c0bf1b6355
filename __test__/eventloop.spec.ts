import { afterEach, describe, expect, it } from 'vitest'
import { LibraVDB } from '../index'
import { randomVectors, row, tempDir } from './helpers'

let db: LibraVDB | undefined
afterEach(async () => {
  await db?.close()
  db = undefined
})

/** Starts a 10 ms interval; `stop()` returns the largest gap between ticks. */
function probe() {
  let last = performance.now()
  let worst = 0
  let ticks = 0
  const timer = setInterval(() => {
    const now = performance.now()
    worst = Math.max(worst, now - last)
    last = now
    ticks++
  }, 10)
  return {
    stop() {
      clearInterval(timer)
      return { worst: Math.max(worst, performance.now() - last), ticks }
    },
  }
}

describe('the event loop keeps ticking', () => {
  it('while 200k x 128 vectors are inserted in batches and searched', async () => {
    const dim = 128
    const n = 200_000
    const batch = 10_000
    const data = randomVectors(99, n, dim) // generated before the probe starts
    const queries = randomVectors(100, 64, dim)
    db = await LibraVDB.open(tempDir())
    const c = await db.createCollection('big', { dimension: dim })

    const p = probe()
    for (let start = 0; start < n; start += batch) {
      const records = Array.from({ length: batch }, (_, i) => ({ id: `v${start + i}`, vector: row(data, start + i, dim) }))
      await c.insertBatch(records)
    }
    const single = await Promise.all(Array.from({ length: 16 }, (_, q) => c.search(row(queries, q, dim), { k: 10 })))
    const batched = await c.searchBatch(queries, { k: 10 })
    const { worst, ticks } = p.stop()

    expect(await c.count()).toBe(n)
    expect(single.every((h) => h.length === 10)).toBe(true)
    expect(batched.map((h) => h[0].id).slice(0, 16)).toEqual(single.map((h) => h[0].id))
    console.log(`largest event-loop gap ${worst.toFixed(1)} ms over ${ticks} ticks`)
    expect(worst).toBeLessThan(50)
  })
})
