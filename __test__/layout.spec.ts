/** The facade's module graph has no import cycles (type-only imports included). */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

it('src/ has no import cycles', () => {
  const dir = join(__dirname, '..', 'src')
  const graph = new Map<string, string[]>()
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, f), 'utf8')
    graph.set(f.replace(/\.ts$/, ''), [...text.matchAll(/from '\.\/([\w-]+)'/g)].map((m) => m[1]))
  }
  const cycles: string[] = []
  const done = new Set<string>()
  const visit = (n: string, path: string[]) => {
    if (path.includes(n)) return void cycles.push([...path.slice(path.indexOf(n)), n].join(' -> '))
    if (done.has(n)) return
    for (const m of graph.get(n) ?? []) visit(m, [...path, n])
    done.add(n)
  }
  for (const n of graph.keys()) visit(n, [])
  expect(graph.size).toBeGreaterThan(5)
  expect(cycles).toEqual([])
})
