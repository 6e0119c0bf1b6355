import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
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
