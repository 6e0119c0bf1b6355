/**
 * Every file kind a collection writes, damaged three ways (a flipped byte, a zeroed block, a
 * truncation): each is found by open (ERR_CORRUPTED naming the file) or by verify(), and no
 * damaged read returns changed data or a parse error. The table it prints is the README's.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LibraVDB, LibraVDBError } from '../index'
import { randomVectors, row } from './helpers'

const DIM = 16
const N = 10_000

/** Metadata of record `i` (a title, a text field, a sparse vector). */
const meta = (i: number) => ({
  title: `record number ${i}`,
  kind: `k${i % 7}`,
  body: `alpha beta record ${i} gamma`,
  splade: { indices: [i % 50, 60 + (i % 13)], values: [0.5, 1.5] },
})

const scratch: string[] = []
/** A temp directory kept until the file's tests are done. */
function tempDir(): string {
  scratch.push(mkdtempSync(join(tmpdir(), 'libravdb-integrity-')))
  return scratch.at(-1)!
}
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true })
})

/** A database holding one collection of each file-writing kind, checkpointed and closed
 * (`closed`), and a copy taken while writes since the checkpoint sit in the WAL (`live`). */
let closed: string
let live: string
beforeAll(async () => {
  closed = tempDir()
  const vectors = randomVectors(31, N + 50, DIM)
  const records = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, k) => ({ id: `r${from + k}`, vector: row(vectors, from + k, DIM), metadata: meta(from + k) }))
  const db = await LibraVDB.open(closed)
  const schema = { kind: 'string', body: 'text', splade: 'sparse' } as const
  const h = await db.createCollection('h', { dimension: DIM, index: { type: 'hnsw', m: 8 }, quantization: { type: 'scalar', bits: 8 }, schema })
  const ivf = await db.createCollection('ivf', { dimension: DIM, index: { type: 'ivfpq', nlist: 8, m: 4 } })
  for (const c of [h, ivf]) await c.insertBatch(records(0, N))
  expect([h.stats().quantization, ivf.stats().quantization]).toEqual(['trained', 'trained'])
  await db.close()
  const again = await LibraVDB.open(closed)
  // Three batches logged, not checkpointed: three WAL records.
  for (const [from, to] of [[N, N + 20], [N + 20, N + 35], [N + 35, N + 50]]) await again.getCollection('h').insertBatch(records(from, to))
  live = tempDir()
  cpSync(closed, live, { recursive: true }) // a crash snapshot: the WAL holds the three
  await again.close()
}, 120_000)

/** Every file under `dir`, relative, with its kind: `rows-3.seg` -> `rows segment`. */
function fileKinds(dir: string): Map<string, string> {
  const kinds = new Map<string, string>()
  const root = join(dir, 'collections')
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else if (statSync(p).size > 0) kinds.set(relative(root, p), kindOf(relative(root, p)))
    }
  }
  walk(root)
  return kinds
}

function kindOf(rel: string): string {
  const name = rel.split('/').at(-1)!
  if (rel.includes('/vectors/')) return 'vector chunk'
  if (rel.includes('/links')) return 'link chunk'
  if (rel.includes('/changes/')) return 'change log'
  if (name.endsWith('.seg')) return `${name.replace(/-\d+\.seg$/, '')} segment`
  if (name.endsWith('.rec')) return 'metadata records'
  if (name === 'wal.log') return 'WAL'
  return name
}

type Damage = 'flip' | 'zero' | 'truncate'

function damage(path: string, how: Damage): void {
  const bytes = readFileSync(path)
  if (how === 'truncate') return truncateSync(path, Math.floor(bytes.length / 2))
  const at = Math.floor(bytes.length / 2)
  if (how === 'flip') bytes[at] ^= 0x10
  else bytes.fill(0, Math.max(0, at - 2048), Math.min(bytes.length, at + 2048))
  writeFileSync(path, bytes)
}

/** How the damage showed: at open (the error's code and whether it names the file), or in
 * verify(), or 'missed'. Reads of every record must not return changed metadata. */
async function detect(base: string, rel: string, how: Damage): Promise<string> {
  const dir = tempDir()
  cpSync(base, dir, { recursive: true })
  const path = join(dir, 'collections', rel)
  damage(path, how)
  let db: LibraVDB
  try {
    db = await LibraVDB.open(dir)
  } catch (e) {
    expect(e).toBeInstanceOf(LibraVDBError)
    expect((e as LibraVDBError).code, `${rel} ${how}: ${e}`).toBe('ERR_CORRUPTED')
    expect(String((e as Error).message), `${rel} ${how}`).toContain(relative(dir, path).split('/').at(-1))
    rmSync(dir, { recursive: true, force: true })
    return 'open'
  }
  try {
    const report = await db.verify()
    // No read hands back changed metadata: each record is what was written, or ERR_CORRUPTED.
    for (const name of db.listCollections()) {
      const c = db.getCollection(name)
      for (let i = 0; i < N; i += 97) {
        try {
          const rec = await c.get(`r${i}`)
          if (rec) expect(rec.metadata, `${rel} ${how}: r${i}`).toEqual(meta(i))
        } catch (e) {
          expect((e as LibraVDBError).code, `${rel} ${how}: get r${i}: ${e}`).toBe('ERR_CORRUPTED')
        }
      }
    }
    const named = report.damaged.some((d) => d.file === path)
    return named ? 'verify' : 'missed'
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('every file a collection writes is checksummed', () => {
  const rows: string[] = []
  afterAll(() => console.log(['| file | flipped byte | zeroed 4 KiB | cut in half |', '|---|---|---|---|', ...rows].join('\n')))

  it('a flipped byte, a zeroed block and a truncation are each found by open or verify()', async () => {
    const seen = new Map<string, Record<Damage, string>>()
    for (const [rel, kind] of fileKinds(closed)) {
      if (kind === 'WAL') continue // empty after a clean close: see the next test
      const found = {} as Record<Damage, string>
      for (const how of ['flip', 'zero', 'truncate'] as const) found[how] = await detect(closed, rel, how)
      if (!seen.has(kind)) {
        seen.set(kind, found)
        rows.push(`| ${kind} (\`${rel.split('/').at(-1)}\`) | ${found.flip} | ${found.zero} | ${found.truncate} |`)
      }
      for (const how of ['flip', 'zero', 'truncate'] as const) expect(found[how], `${rel} ${how}`).not.toBe('missed')
    }
    // Every kind of file the two collections write was damaged.
    expect([...seen.keys()].sort()).toEqual(
      ['change log', 'graph segment', 'ivf segment', 'link chunk', 'manifest', 'metadata records', 'payload segment', 'quant segment', 'rows segment', 'text segment', 'vector chunk'].sort(),
    )
  }, 300_000)

  it('the WAL: damage before its last record fails open; a cut is read as a crash tore it', async () => {
    const rel = join('h', 'wal.log')
    const found = {} as Record<Damage, string>
    for (const how of ['flip', 'zero'] as const) found[how] = await detect(live, rel, how)
    expect(found).toEqual({ flip: 'open', zero: 'open' })
    // Cut in half (inside the second of three records): the first batch is kept, the rest is
    // dropped as an append torn by a crash would be. Nothing on disk tells a cut that falls
    // inside the last record kept from a torn append (SQLite's WAL and LevelDB's log read it
    // the same way); verify() then finds the log intact.
    const dir = tempDir()
    cpSync(live, dir, { recursive: true })
    damage(join(dir, 'collections', rel), 'truncate')
    const db = await LibraVDB.open(dir)
    try {
      const h = db.getCollection('h')
      expect(await h.get(`r${N}`)).toMatchObject({ metadata: meta(N) })
      expect(await h.get(`r${N + 49}`)).toBeNull()
      expect((await db.verify()).ok).toBe(true)
    } finally {
      await db.close()
    }
    rows.push(`| WAL (\`wal.log\`, three records) | ${found.flip} | ${found.zero} | read as a torn append: records past the cut dropped |`)
  })

  it('damaged metadata is ERR_CORRUPTED on read and refuses writes that would rewrite it', async () => {
    const dir = tempDir()
    cpSync(closed, dir, { recursive: true })
    const file = join(dir, 'collections', 'h', 'metadata-0.rec')
    const bytes = readFileSync(file)
    bytes[4] ^= 0x10 // inside record r0's title
    writeFileSync(file, bytes)
    const db = await LibraVDB.open(dir)
    try {
      const c = db.getCollection('h')
      await expect(c.get('r0')).rejects.toMatchObject({ code: 'ERR_CORRUPTED', message: expect.stringContaining("'r0'") })
      expect(await c.get('r1')).toMatchObject({ metadata: meta(1) })
      await expect(c.search(row(randomVectors(31, 1, DIM), 0, DIM), { k: 1, includeMetadata: true })).rejects.toMatchObject({ code: 'ERR_CORRUPTED' })
      const r = await c.updateBatch([{ id: 'r0', metadata: { title: 'new' } }, { id: 'r1', metadata: { title: 'new' } }], { atomic: false })
      expect(r.errors).toEqual([expect.objectContaining({ id: 'r0', code: 'ERR_CORRUPTED' })])
      expect(await c.get('r1')).toMatchObject({ metadata: { title: 'new' } })
      const report = await db.verify()
      expect(report.damaged).toEqual([{ collection: 'h', file, reason: expect.stringContaining("record 'r0'") }])
    } finally {
      await db.close()
    }
  })
})
