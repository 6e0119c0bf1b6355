/**
 * `npx tsx benches/bm25-crosscheck.ts [queries]`: LibraVDB's BM25 top 10 against bm25s
 * (PyPI, method "lucene", in .tools/bm25-venv) on debpkg20k's texts, the same analyzer's terms
 * given to both (`collection.analyze`). bm25s leaves out BM25's constant (k1 + 1) factor, so
 * its scores are compared after multiplying by it. Prints how many queries agree.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibraVDB } from '../index'
import { debpkg20kTexts } from './datasets'
import { venvPython } from './venv'

async function main() {
  const nq = Number(process.argv[2] ?? 200)
  const python = venvPython('bm25-venv', ['bm25s==0.2.14', 'numpy==2.4.6', 'scipy==1.17.1'], 'bm25s')
  if (typeof python !== 'string') throw new Error(python.error)
  const t = debpkg20kTexts()
  const db = await LibraVDB.open()
  const k1 = 1.2
  const b = 0.75
  const c = await db.createCollection('pkgs', { dimension: 2, schema: { text: { type: 'text', stemming: true, stopWords: true, k1, b } } })
  await c.insertBatch({ ids: t.base.map((_, i) => String(i)), vectors: new Float32Array(t.base.length * 2).fill(1), metadata: t.base.map((text) => ({ text })) })
  const queries = t.queries.slice(0, nq)
  const dir = mkdtempSync(join(tmpdir(), 'bm25-'))
  const file = join(dir, 'spec.json')
  writeFileSync(file, JSON.stringify({ docs: t.base.map((x) => c.analyze('text', x)), queries: queries.map((q) => c.analyze('text', q)), k: 10, k1, b }))
  const reference = JSON.parse(execFileSync(python, [join(__dirname, 'bm25_reference.py'), file], { encoding: 'utf8', maxBuffer: 1 << 26 })) as { ids: number[]; scores: number[] }[]
  rmSync(dir, { recursive: true, force: true })
  let same = 0
  let maxError = 0
  for (let q = 0; q < queries.length; q++) {
    const got = await c.search({ text: queries[q] }, { k: 10 })
    const want = reference[q]
    const scores = want.scores.map((s) => s * (k1 + 1))
    const errors = got.map((h, i) => Math.abs(h.score - scores[i]) / Math.max(1, scores[i]))
    maxError = Math.max(maxError, ...errors)
    // Same ids, except where scores tie at the cut.
    const last = scores[scores.length - 1]
    const above = (ids: string[], s: number[]) => ids.filter((_, i) => Math.abs(s[i] - last) > 1e-4 * last).sort()
    const ok =
      got.length === want.ids.length &&
      errors.every((e) => e < 1e-4) &&
      JSON.stringify(above(got.map((h) => h.id), got.map((h) => h.score))) === JSON.stringify(above(want.ids.map(String), scores))
    if (ok) same++
    else console.log(`query ${q} differs:`, got.map((h) => h.id).join(' '), '|', want.ids.join(' '))
  }
  console.log(`${same} of ${queries.length} queries: the same top 10 as bm25s (lucene); largest relative score difference ${maxError.toExponential(2)}`)
  await db.close()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
