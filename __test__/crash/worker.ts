/**
 * Child process of the kill harness: opens the database, reads back the collection's state,
 * then runs seeded mixed writes forever, printing `BEGIN <json op>` before each and `ACK`
 * after it resolves (durable). The parent SIGKILLs it at a random moment.
 * argv: <dir> <kind> <seed> <checkpointBytes>
 */
import { LibraVDB } from '../../index'
import { rng } from '../../benches/datasets'
import { KINDS, type Kind, type Op, type Stored, apply, bFor, nextOp, vectorFor } from './workload'

async function run(c: import('../../index').Collection, op: Op, named: boolean): Promise<void> {
  switch (op.k) {
    case 'insert':
    case 'upsert': {
      const vectors = (id: string) => (named ? { vector: undefined, vectors: { a: vectorFor(id, op.v), ...(bFor(id, op.v) && { b: bFor(id, op.v) }) } } : { vector: vectorFor(id, op.v) })
      const records = op.ids.map((id) => ({ id, ...vectors(id), metadata: { tag: `t${op.v % 7}`, v: op.v } }))
      await (op.k === 'insert' ? c.insertBatch(records) : c.upsertBatch(records))
      break
    }
    case 'update':
      await c.updateBatch(op.ids.map((id) => ({ id, metadata: { tag: op.tag, v: -1 } })))
      break
    case 'delete':
      await c.deleteBatch(op.ids)
      break
    case 'deleteWhere':
      await c.deleteWhere({ tag: op.tag })
      break
    case 'optimize':
      await c.optimize()
      break
    case 'schema':
      await ('v' in c.schema ? c.dropField('v') : c.addField('v', 'int'))
      break
    case 'setB':
      await c.updateBatch(op.ids.map((id) => ({ id, vectors: { b: op.v % 2 === 0 ? vectorFor(`${id}/b`, op.v) : null } })))
      break
    case 'vectorField':
      await (c.stats().fields.some((f) => f.name === 'c') ? c.dropVectorField('c') : c.addVectorField('c', { dimension: 4 }))
      break
    case 'rebuildB': {
      const flat = c.stats().fields.find((f) => f.name === 'b')!.index === 'flat'
      await c.rebuild({ using: 'b', index: flat ? { type: 'hnsw', m: 8, efConstruction: 48 } : { type: 'flat' } })
      break
    }
  }
}

async function main() {
  const [dir, kind, seed, checkpointBytes] = process.argv.slice(2)
  const db = await LibraVDB.open(dir, { checkpointBytes: Number(checkpointBytes) })
  const c = db.listCollections().includes('c') ? db.getCollection('c') : await db.createCollection('c', KINDS[kind as Kind] as never)
  let state = new Map<string, Stored>()
  const named = kind === 'named'
  for await (const r of c.scan({ includeVectors: true })) {
    const m = r.metadata as { tag: string; v: number }
    state.set(r.id, { vector: named ? r.vectors!.a : r.vector!, b: r.vectors?.b, tag: m.tag, v: m.v })
  }
  const random = rng(Number(seed))
  for (let serial = Number(seed) * 1000; ; serial++) {
    const op = nextOp(random, state, serial, named)
    process.stdout.write(`BEGIN ${JSON.stringify(op)}\n`)
    await run(c, op, named)
    state = apply(state, op, named)
    process.stdout.write('ACK\n')
  }
}

void main()
