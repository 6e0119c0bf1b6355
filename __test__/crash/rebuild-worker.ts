/**
 * Child process of the rebuild kill test: opens the database, starts `rebuild()` to the
 * index given as JSON and prints `BUILDING` once the new index holds rows; the parent
 * SIGKILLs it then. argv: <dir> <index json>
 */
import { LibraVDB } from '../../index'

async function main() {
  const [dir, index] = process.argv.slice(2)
  const db = await LibraVDB.open(dir)
  const c = db.getCollection('c')
  let told = false
  await c.rebuild(
    { index: JSON.parse(index) },
    {
      onProgress: ({ done }) => {
        if (done > 0 && !told) {
          told = true
          process.stdout.write('BUILDING\n')
        }
      },
    },
  )
  process.stdout.write('DONE\n')
  await db.close()
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e))
  process.exit(1)
})
