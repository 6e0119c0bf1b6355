/**
 * The layout rules of scripts/check-layout.js (run by `npm run lint`): no import cycle between
 * sibling modules in any crate or in src/, no source file over 600 lines. Also shows the
 * checker finds what it looks for, on a small crate written for the test.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'

const layout = require('../scripts/check-layout.js') as {
  checkLayout(): { cycles: string[]; long: string[]; crates: { name: string; imports: number }[] }
  rustSiblingEdges(src: string): { edges: Map<string, Map<string, Set<string>>>; imports: number }
  findCycles(graph: Map<string, Iterable<string>>): string[]
}

const scratch = mkdtempSync(join(tmpdir(), 'layout-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

it('the workspace and src/ have no import cycle and no file over 600 lines', () => {
  const { cycles, long, crates } = layout.checkLayout()
  expect(crates.find((c) => c.name === 'engine')!.imports).toBeGreaterThan(20)
  expect(cycles).toEqual([])
  expect(long).toEqual([])
})

it('finds a cycle through a re-export and ignores parent and test imports', () => {
  const src = join(scratch, 'src')
  mkdirSync(join(src, 'coll'), { recursive: true })
  writeFileSync(join(src, 'lib.rs'), 'mod coll;\n')
  writeFileSync(join(src, 'coll', 'mod.rs'), 'mod a;\nmod b;\nmod c;\npub use b::Thing;\npub struct Top;\n')
  // a -> b through the parent's re-export; b -> a inline; c only uses its parent.
  writeFileSync(join(src, 'coll', 'a.rs'), 'use super::{Thing, Top};\npub fn f() {}\n')
  writeFileSync(join(src, 'coll', 'b.rs'), 'pub struct Thing;\nfn g() { super::a::f() }\n')
  writeFileSync(join(src, 'coll', 'c.rs'), 'use super::Top;\n#[cfg(test)]\nmod tests { use super::super::a::f; }\n')
  const { edges } = layout.rustSiblingEdges(src)
  const coll = edges.get('coll')!
  expect([...coll.get('a')!]).toEqual(['b'])
  expect([...coll.get('b')!]).toEqual(['a'])
  expect(coll.has('c')).toBe(false)
  expect(layout.findCycles(coll)).toEqual(['a -> b -> a'])
})
