/**
 * Child process of `__test__/backup.spec.ts`: backs up the database in `dir` to `dest` while
 * a writer inserts, printing BACKING when the copy has started; the test SIGKILLs it then.
 * Usage: backup-worker.ts <dir> <dest>
 */
import { LibraVDB } from '../../index'
import { randomVectors } from '../helpers-data'

async function main(): Promise<void> {
  const [dir, dest] = process.argv.slice(2)
  const db = await LibraVDB.open(dir)
  const c = db.getCollection('big')
  let n = 0
  const writes = (async () => {
    for (;;) {
      const block = randomVectors(1000 + n, 100, 128)
      await c.insertBatch({ ids: Array.from({ length: 100 }, (_, i) => `w${n}-${i}`), vectors: block })
      n++
    }
  })()
  writes.catch(() => {})
  let told = false
  await db.backup(dest, {
    onProgress: ({ bytes }) => {
      if (bytes > 0 && !told) {
        told = true
        console.log('BACKING')
      }
    },
  })
  console.log('BACKING') // finished before the first progress report: the test kills now
  await new Promise(() => {})
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
