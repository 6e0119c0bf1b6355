/**
 * Every example runs to completion on a small input (each also checks its own results and
 * exits non-zero when they are wrong).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SHARED_DATASETS } from '../benches/datasets'

const root = join(__dirname, '..')

function runExample(file: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples', file), ...args], { cwd: root })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('close', (code) => resolve({ code, out }))
  })
}

describe('examples', () => {
  it('rag: passages for held-out questions, filtered to libraries', { timeout: 120_000 }, async () => {
    expect(existsSync(join(SHARED_DATASETS, 'debpkg20k', 'base.fvecs'))).toBe(true)
    const { code, out } = await runExample('rag.ts', ['--limit', '2000'])
    expect(code, out).toBe(0)
    expect(out).toContain('stored 2000 passages (384-d)')
    expect(out.match(/^question: /gm)).toHaveLength(3)
    expect(out.match(/libraries only:/g)).toHaveLength(3)
  })

  it('migrate: a new model\'s field added, backfilled and switched to while a client searches', { timeout: 120_000 }, async () => {
    const { code, out } = await runExample('migrate.ts', ['--limit', '3000'])
    expect(code, out).toBe(0)
    expect(out).toContain('next: 3000 of 3000 passages')
    expect(out).toMatch(/top-10 agreement between the fields on 50 held-out questions: (0\.[5-9]\d|1\.00)/)
    expect(out).toContain('fields now: next;')
  })

  it('ingest-file: a streamed NDJSON file arrives whole and survives a reopen', { timeout: 120_000 }, async () => {
    const { code, out } = await runExample('ingest-file.ts', ['--records', '5000', '--dim', '16'])
    expect(code, out).toBe(0)
    expect(out).toContain('ingested 5000 of 5000 records')
    expect(out).toContain('after reopen: 5000 records; rec-4999 present')
  })

  it('http-service: searches over HTTP while ingesting, typed errors as 400s', { timeout: 120_000 }, async () => {
    const { code, out } = await runExample('http-service.ts', ['--self-test', '--records', '3000', '--clients', '2'])
    expect(code, out).toBe(0)
    expect(out).toMatch(/ingested 3000 records over HTTP while 2 clients ran \d+ filtered searches/)
    expect(out).toContain('HTTP 400 {"code":"ERR_DIMENSION_MISMATCH"')
  })

  it('query-builder: builder, object filters and brute force agree', { timeout: 120_000 }, async () => {
    const { code, out } = await runExample('query-builder.ts', ['--products', '3000'])
    expect(code, out).toBe(0)
    expect(out.match(/ match \(/g)).toHaveLength(3)
  })
})
