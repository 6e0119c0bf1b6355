import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { noisyAtRecall, qpsAtRecall } from '../benches/ann'
import { clustered, readVecs, recallAtK } from '../benches/datasets'
import { runInterleaved } from '../benches/rounds'
import { spread } from '../benches/harness'
import { jsScan } from '../benches/jsscan'
import { storageModesSection } from '../benches/storage'
import { escapeXml, lineChart } from '../benches/svg'
import { writeVecs } from '../benches/vecfile'
import { tempDir } from './helpers'

/** Minimal XML well-formedness check: balanced, properly nested tags, one root. */
function wellFormed(xml: string): boolean {
  const stack: string[] = []
  let roots = 0
  for (const m of xml.matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*?)(\/?)>/g)) {
    const [, close, name, attrs, self] = m
    if (/[<&](?!(lt|gt|amp|quot|apos);)/.test(attrs)) return false
    if (close) {
      if (stack.pop() !== name) return false
    } else if (!self) {
      if (stack.length === 0) roots++
      stack.push(name)
    }
  }
  const text = xml.replace(/<[^>]*>/g, '')
  return stack.length === 0 && roots === 1 && !/&(?!(lt|gt|amp|quot|apos);)/.test(text) && !text.includes('<')
}

describe('benchmark harness', () => {
  it('computes recall@k on hand-made cases', () => {
    const truth = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(recallAtK([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], truth, 10, 10)).toBe(1)
    expect(recallAtK([[10, 9, 8, 7, 6, 50, 51, 52, 53, 54]], truth, 10, 10)).toBe(0.5)
    expect(recallAtK([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], []], truth, 10, 10)).toBe(0.5)
    expect(recallAtK([[2, 99]], truth, 10, 2)).toBe(0.5) // only the first k of the truth count
    expect(recallAtK([[3, 99]], truth, 10, 2)).toBe(0)
  })

  it('interpolates queries/s at a target recall and says when it is never reached', () => {
    const sweep = [
      { ef: 10, recall: 0.9, qps: 1000 },
      { ef: 20, recall: 0.96, qps: 400 },
      { ef: 40, recall: 0.99, qps: 200 },
    ]
    expect(qpsAtRecall(sweep, 0.95)).toBeCloseTo(500)
    expect(qpsAtRecall(sweep, 0.8)).toBe(1000)
    expect(qpsAtRecall(sweep, 0.999)).toBeUndefined()
  })

  it('flags q/s at a target recall when the bracketing points varied by more than 30%', () => {
    const sweep = [
      { ef: 10, recall: 0.8, qps: 2000, qpsSpread: 0.9 },
      { ef: 20, recall: 0.9, qps: 1500, qpsSpread: 0.1 },
      { ef: 40, recall: 0.97, qps: 900, qpsSpread: 0.35 },
    ]
    expect(noisyAtRecall(sweep, 0.95)).toBe(true) // ef 20 and 40 bracket it; ef 40 varied 35%
    expect(noisyAtRecall(sweep, 0.85)).toBe(true) // ef 10 and 20; ef 10 varied 90%
    const quiet = sweep.map((p) => (p.ef === 40 ? { ...p, qpsSpread: 0.2 } : p))
    expect(noisyAtRecall(quiet, 0.95)).toBe(false) // ef 10's noise is outside the bracket
    expect(noisyAtRecall([{ ef: 10, recall: 0.99, qps: 1, qpsSpread: 0.1 }], 0.95)).toBe(false)
    expect(noisyAtRecall(sweep, 0.999)).toBe(false)
  })

  it('reads back fvecs and ivecs files it wrote, and rejects malformed ones', () => {
    const dir = tempDir()
    const f = Float32Array.from([1.5, -2, 3, 4, 5.25, 6])
    writeVecs(join(dir, 'a.fvecs'), 3, f)
    expect(readVecs(join(dir, 'a.fvecs'))).toEqual({ dim: 3, n: 2, data: f })
    const i = Int32Array.from([7, 8, 9, 10])
    writeVecs(join(dir, 'b.ivecs'), 2, i)
    expect(readVecs(join(dir, 'b.ivecs'))).toEqual({ dim: 2, n: 2, data: i })
    writeFileSync(join(dir, 'bad.fvecs'), Buffer.from([3, 0, 0, 0, 1, 2]))
    expect(() => readVecs(join(dir, 'bad.fvecs'))).toThrow(/not an fvecs/)
  })

  it('generates the same clustered data for the same seed, and the JS scan is exact', () => {
    const a = clustered({ n: 200, nq: 5, dim: 8, centres: 4, sigma: 3, seed: 1 })
    const b = clustered({ n: 200, nq: 5, dim: 8, centres: 4, sigma: 3, seed: 1 })
    expect(a.base).toEqual(b.base)
    expect(clustered({ n: 200, nq: 5, dim: 8, centres: 4, sigma: 3, seed: 2 }).base).not.toEqual(a.base)
    const q = a.queries.subarray(0, 8)
    const d = (i: number) => a.base.subarray(i * 8, i * 8 + 8).reduce((s, x, j) => s + (x - q[j]) ** 2, 0)
    const all = Array.from({ length: 200 }, (_, i) => i).sort((x, y) => d(x) - d(y) || x - y)
    expect(jsScan(a.base, 8, q, 5)).toEqual(all.slice(0, 5))
  })

  it('never prints an RSS growth under the noise floor as a figure, and names failed points', () => {
    const parts = { vectors: 0, index: 0, codes: 0, payload: 0, ids: 0, metadata: 0, cache: 0, buffers: 0, mapped: 0, resident: 0, held: 0 }
    const point = { n: 1000, anonBytes: -3 * 2 ** 20, fileBytes: 5 * 2 ** 20, v8HeapBytes: 0, cacheBytes: 0, heldBytes: 2 ** 20, parts, vectorsInMemory: false, qps: 1000, qpsAfterRelease: 900, residentAfterRelease: 0 }
    const md = storageModesSection({ sizes: [1000, 2000], series: [{ label: 'mmap true', points: [point, { error: 'boom' }] }] })
    expect(md).toContain('| mmap true | 1,000 | < 2 | < 2 / 0.0 | 5.0 | 1.0 | mapped | 1000 | 900 |')
    expect(md).toContain('failed: boom')
    expect(md).not.toMatch(/\| -\d/)
  })

  it('interleaves the libraries round by round, and reports one that fails without losing the others', async () => {
    const dir = tempDir()
    const log = join(dir, 'rounds.log')
    // A worker speaking the protocol of rounds.ts: ready, one line per round, its result on done.
    const worker = join(dir, 'worker.js')
    writeFileSync(
      worker,
      `const fs = require('node:fs'); const name = process.argv[2]; const failAt = Number(process.argv[3]); let n = 0
      console.log('a line that is not JSON'); console.log(JSON.stringify({ ready: true }))
      require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
        if (l === 'done') { console.log(JSON.stringify({ buildSeconds: 1, threads: 1, sweep: [{ ef: 1, recall: 1, qps: n }] })); process.exit(0) }
        n++; if (n === failAt) { console.error('worker ' + name + ' broke'); process.exit(3) }
        fs.appendFileSync(${JSON.stringify(log)}, name + n + ' '); console.log(JSON.stringify({ round: n }))
      })`,
    )
    const launch = (lib: string, failAt = 0) => ({ lib, command: process.execPath, args: [worker, lib, String(failAt)] })
    const results = await runInterleaved([launch('a'), launch('b', 2), launch('c'), { lib: 'd', command: '/nonexistent/python', args: [] }], 3)
    expect(readFileSync(log, 'utf8').trim()).toBe('a1 b1 c1 a2 c2 a3 c3')
    expect(results.map((r) => r.lib)).toEqual(['a', 'b', 'c', 'd'])
    expect(results[0]).toMatchObject({ lib: 'a', sweep: [{ qps: 3 }] })
    expect(results[1]).toMatchObject({ lib: 'b', error: expect.stringContaining('worker b broke') })
    expect(results[2]).toMatchObject({ lib: 'c', sweep: [{ qps: 3 }] })
    expect(results[3]).toMatchObject({ lib: 'd', error: expect.any(String) })
  })

  it('summarises repeated runs by median and range', () => {
    expect(spread([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5 })
  })

  it('writes well-formed SVG with escaped text, also for empty and log-scale charts', () => {
    const svg = lineChart({
      title: 'recall <vs> q/s & "more"',
      xLabel: 'recall',
      yLabel: 'q/s',
      yLog: true,
      series: [
        { name: 'a&b', points: [[0.9, 1000], [0.95, 500], [0.99, 100]] },
        { name: 'c', points: [[0.8, 2000]] },
      ],
    })
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(wellFormed(svg)).toBe(true)
    expect(svg).toContain('a&amp;b')
    expect(svg).toContain('<polyline')
    expect(wellFormed(lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] }))).toBe(true)
    expect(wellFormed('<svg><g></svg>')).toBe(false)
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;')
  })
})
