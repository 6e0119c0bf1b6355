/**
 * Child process of the change-feed kill rounds: follows collection `c` of <dir> from a
 * read-only handle (beside the writer, which the parent also kills) into a replica database,
 * and after each batch it applied writes the last applied `seq` to <replica>/seq (temp file,
 * rename). Restarted, it resumes from that seq. It checks that the feed gives consecutive
 * sequence numbers (exit 3 otherwise) and prints `APPLIED <seq>` after each batch.
 * argv: <dir> <replica>
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LibraVDB, NotFoundError } from '../../index'
import { readyBatches } from '../../src/changes'
import { DIM } from './workload'

async function main() {
  const [dir, replicaDir] = process.argv.slice(2)
  const seqFile = join(replicaDir, 'seq')
  let applied = 0
  try {
    applied = Number(readFileSync(seqFile, 'utf8'))
  } catch {}
  const replicaDb = await LibraVDB.open(join(replicaDir, 'db'))
  const replica = replicaDb.listCollections().includes('c')
    ? replicaDb.getCollection('c')
    : await replicaDb.createCollection('c', { dimension: DIM, schema: { tag: 'string' } })
  // The writer may not have created the collection yet.
  let source
  for (;;) {
    source = await LibraVDB.open(dir, { readOnly: true, refreshIntervalMs: 0 }).catch(() => undefined)
    if (source?.listCollections().includes('c')) break
    await source?.close()
    await new Promise((r) => setTimeout(r, 20))
  }
  const feed = source.getCollection('c').changes({ since: applied, batchSize: 64, pollIntervalMs: 10 })
  // Whatever is ready, up to 64 changes, applied as one step.
  for await (const batch of readyBatches(feed, 64)) {
    for (const c of batch) {
      if (c.seq !== applied + 1) {
        console.error(`change ${c.seq} after ${applied}: the feed skipped or repeated`)
        process.exit(3)
      }
      applied = c.seq
      if (c.op === 'delete') await replica.deleteBatch([c.id], { atomic: false })
      else if (c.vector && c.metadata !== undefined) await replica.upsert({ id: c.id, vector: c.vector, metadata: c.metadata ?? undefined })
      else {
        // A partial update: of a record the replica has, unless a later change deleted it.
        await replica.update(c.id, { vector: c.vector, metadata: c.metadata }).catch((e: unknown) => {
          if (!(e instanceof NotFoundError)) throw e
        })
      }
    }
    writeFileSync(`${seqFile}.tmp`, String(applied))
    renameSync(`${seqFile}.tmp`, seqFile)
    process.stdout.write(`APPLIED ${applied}\n`)
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
