import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LibraVDB } from '../index'

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'src', 'cli.ts'), ...args], { encoding: 'utf8', cwd: join(__dirname, '..') })

describe('npx libravdb (CLI)', () => {
  it('exports beside a running writer, imports into a new database, prints stats', { timeout: 120_000 }, async () => {
    const d = mkdtempSync(join(tmpdir(), 'libravdb-cli-'))
    const db = await LibraVDB.open(join(d, 'src'))
    const c = await db.createCollection('docs', { dimension: 4, metric: 'cosine', schema: { kind: 'string' } })
    await c.insertBatch(Array.from({ length: 3000 }, (_, i) => ({ id: `d${i}`, vector: [1, i % 7, i % 3, 1], metadata: { kind: i % 2 ? 'a' : 'b' } })))
    await db.close() // a reader sees the checkpoint; the writer could stay open (readOnly)
    const writer = await LibraVDB.open(join(d, 'src')) // holds the lock while the CLI reads

    const exp = cli(['export', join(d, 'src'), 'docs', join(d, 'docs.parquet'), '--filter', '{"kind":"a"}'])
    expect(exp.status, exp.stderr).toBe(0)
    expect(exp.stdout).toMatch(/exported to .*docs\.parquet: 1,500 records/)
    const ndjson = cli(['export', join(d, 'src'), 'docs', join(d, 'all.jsonl')])
    expect(ndjson.stdout).toMatch(/3,000 records/)
    await writer.close()

    const imp = cli(['import', join(d, 'dst'), 'copy', join(d, 'docs.parquet')])
    expect(imp.status, imp.stderr).toBe(0)
    expect(imp.stdout).toMatch(/imported .* into copy: 1,500 records/)
    const imp2 = cli(['import', join(d, 'dst'), 'all', join(d, 'all.jsonl'), '--config', '{"dimension":4,"metric":"cosine","index":{"type":"hnsw"}}'])
    expect(imp2.status, imp2.stderr).toBe(0)

    const stats = cli(['stats', join(d, 'dst')])
    expect(stats.status, stats.stderr).toBe(0)
    const parsed = JSON.parse(stats.stdout)
    expect(parsed.copy).toMatchObject({ count: 1500, dimension: 4, metric: 'cosine' })
    expect(parsed.all).toMatchObject({ count: 3000, activeIndex: 'hnsw' })
  })

  it('backs up beside a running writer; verify exits 1 on damage and lists it', { timeout: 120_000 }, async () => {
    const d = mkdtempSync(join(tmpdir(), 'libravdb-cli-'))
    const writer = await LibraVDB.open(join(d, 'src'))
    const c = await writer.createCollection('docs', { dimension: 4 })
    await c.insertBatch(Array.from({ length: 2000 }, (_, i) => ({ id: `d${i}`, vector: [1, i % 7, i % 3, 1], metadata: { i } })))
    await writer.close() // a checkpoint, then writes the CLI's read-only copy finds in the WAL
    const live = await LibraVDB.open(join(d, 'src'))
    await live.getCollection('docs').insertBatch([{ id: 'after', vector: [1, 2, 3, 4] }])
    const backup = cli(['backup', join(d, 'src'), join(d, 'bak')])
    expect(backup.status, backup.stderr).toBe(0)
    expect(backup.stdout).toMatch(/backed up 1 collections .* to /)
    await live.close()
    const ok = cli(['verify', join(d, 'bak')])
    expect([ok.status, ok.stdout]).toEqual([0, expect.stringMatching(/^ok: /m)])
    const copy = await LibraVDB.open(join(d, 'bak'))
    expect([await copy.getCollection('docs').count(), (await copy.getCollection('docs').get('after'))?.id]).toEqual([2001, 'after'])
    await copy.close()
    const chunk = join(d, 'bak', 'collections', 'docs', 'vectors', '000000.chunk')
    const bytes = readFileSync(chunk)
    bytes[100] ^= 1
    writeFileSync(chunk, bytes)
    const bad = cli(['verify', join(d, 'bak')])
    expect(bad.status).toBe(1)
    expect(bad.stdout).toContain(`damaged: ${chunk}`)
    expect(cli(['backup', join(d, 'src'), join(d, 'bak')]).stderr).toContain('ERR_INVALID_ARGUMENT') // not empty
  })

  it('prints the change feed as NDJSON beside the writer, from a sequence number or following', { timeout: 120_000 }, async () => {
    const d = mkdtempSync(join(tmpdir(), 'libravdb-cli-'))
    const db = await LibraVDB.open(join(d, 'src')) // the writer stays open: the CLI reads beside it
    const c = await db.createCollection('docs', { dimension: 2 })
    await c.insertBatch([{ id: 'a', vector: [1, 0], metadata: { n: 1 } }, { id: 'b', vector: [0, 1] }])
    await c.update('a', { metadata: { n: 2 } })
    await c.delete('b')
    const lines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l))
    const all = cli(['changes', join(d, 'src'), 'docs'])
    expect(all.status, all.stderr).toBe(0)
    expect(lines(all.stdout)).toEqual([
      { seq: 1, op: 'insert', id: 'a', vector: [1, 0], metadata: { n: 1 }, whole: true },
      { seq: 2, op: 'insert', id: 'b', vector: [0, 1], metadata: null, whole: true },
      { seq: 3, op: 'update', id: 'a', metadata: { n: 2 } },
      { seq: 4, op: 'delete', id: 'b' },
    ])
    expect(lines(cli(['changes', join(d, 'src'), 'docs', '--since', '2']).stdout).map((l) => l.seq)).toEqual([3, 4])
    expect(cli(['changes', join(d, 'src'), 'docs', '--since', 'now']).stdout).toBe('')
    expect(cli(['changes', join(d, 'src'), 'docs', '--since', 'x']).status).toBe(2)
    // --follow prints what the writer commits after it started, until interrupted.
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'src', 'cli.ts'), 'changes', join(d, 'src'), 'docs', '--since', '4', '--follow'], {
      cwd: join(__dirname, '..'),
    })
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((r) => setTimeout(r, 20))
    }
    await new Promise((r) => setTimeout(r, 300))
    await c.insert({ id: 'late', vector: [1, 1] })
    await until(() => out.includes('late'))
    child.kill('SIGINT')
    expect(await new Promise((r) => child.on('exit', r))).toBe(0)
    expect(lines(out)).toEqual([{ seq: 5, op: 'insert', id: 'late', vector: [1, 1], metadata: null, whole: true }])
    // Named vector fields print as arrays too.
    const multi = await db.createCollection('multi', { vectors: { title: { dimension: 2 }, body: { dimension: 3 } } })
    await multi.insert({ id: 'm', vectors: { title: [0.5, 0.25] } })
    await multi.update('m', { vectors: { title: null, body: [1, 2, 3] } })
    expect(lines(cli(['changes', join(d, 'src'), 'multi']).stdout)).toEqual([
      { seq: 1, op: 'insert', id: 'm', metadata: null, vectors: { title: [0.5, 0.25] }, whole: true },
      { seq: 2, op: 'update', id: 'm', vectors: { title: null, body: [1, 2, 3] } },
    ])
    await db.close()
  })

  it('bad usage exits 2 with the usage; engine errors exit 1 with their code', () => {
    const d = mkdtempSync(join(tmpdir(), 'libravdb-cli-'))
    for (const args of [[], ['frobnicate'], ['export', d], ['stats', d, '--bogus']]) {
      const r = cli(args)
      expect(r.status, args.join(' ')).toBe(2)
      expect(r.stderr).toContain('usage:')
    }
    const missing = cli(['import', join(d, 'db'), 'x', join(d, 'nope.ndjson')])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toContain('ERR_INVALID_ARGUMENT') // NDJSON needs --config
  })
})
