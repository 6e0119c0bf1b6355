/**
 * Child process of the auto-promotion kill test: creates an `auto` collection whose
 * threshold is <records>, inserts that many in acknowledged batches of 1,000 (printing
 * `ACK <n>` after each), and prints `BUILDING` while the promotion runs; the parent
 * SIGKILLs it then. argv: <dir> <records> <dimension>
 */
import { LibraVDB } from '../../index'
import { randomVectors, row } from '../helpers-data'

async function main() {
  const [dir, n, dim] = process.argv.slice(2).map((a, i) => (i === 0 ? a : Number(a))) as [string, number, number]
  const db = await LibraVDB.open(dir)
  const c = await db.createCollection('c', { dimension: dim, index: { type: 'auto', flatThreshold: n } })
  const block = randomVectors(7, n, dim)
  for (let from = 0; from < n; from += 1000) {
    await c.insertBatch(Array.from({ length: 1000 }, (_, i) => ({ id: String(from + i), vector: row(block, from + i, dim) })))
    process.stdout.write(`ACK ${from + 1000}\n`)
  }
  // The last batch reached the threshold: the promotion runs now, on a background thread.
  for (;;) {
    const s = c.stats()
    if (s.indexState === 'building') process.stdout.write('BUILDING\n')
    else if (s.activeIndex !== 'flat') {
      process.stdout.write('PROMOTED\n') // too late to kill it mid-build
      process.exit(0)
    }
    await new Promise((r) => setTimeout(r, 2))
  }
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e))
  process.exit(1)
})
