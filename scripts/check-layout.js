// The repository's layout rules, checked by `npm run lint` (and so by CI):
// - no import cycle between sibling modules: in each Rust crate (crates/*/src) and in the
//   TypeScript facade (src/);
// - no source file over MAX_LINES lines.
//
// Rust modules are resolved from the file tree (`a.rs`, `a/mod.rs`, `a/b.rs`); every path that
// starts with `crate::`, `super::` or `self::`, in `use` lines (groups expanded) and inline,
// is followed segment by segment to the module that defines the item, through `pub use`
// re-exports and a parent's own `use` lines. An import of module S's item by module T, where S and T are not one another's
// ancestor, is an edge between the two siblings under their common ancestor; a cycle of such
// edges is an error. A child using its parent's own items (`super::Collection`) is not a
// sibling edge.
//
// `node scripts/check-layout.js` prints the sibling edges per module and any problem;
// `--graph` prints every edge.
'use strict'
const { readFileSync, readdirSync, statSync, existsSync } = require('node:fs')
const path = require('node:path')

const MAX_LINES = 600
const root = path.join(__dirname, '..')

/** Source text without comments and string/char literals (lines kept). */
function stripRust(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/\/\/[^\n]*/g, '')
    .replace(/r#*"[\s\S]*?"#*/g, '""')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/'(?:[^'\\\n]|\\.)'/g, "' '")
}

/** `text` without its `#[cfg(test)] mod name { ... }` blocks (test code imports freely). */
function withoutTests(text) {
  const re = /#\[cfg\(test\)\]\s*mod\s+\w+\s*\{/g
  let m
  while ((m = re.exec(text))) {
    let depth = 1
    let i = m.index + m[0].length
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '{') depth++
      else if (text[i] === '}') depth--
    }
    text = text.slice(0, m.index) + text.slice(m.index, i).replace(/[^\n]/g, ' ') + text.slice(i)
    re.lastIndex = m.index + 1
  }
  return text
}

/** Expands a `use` tree (`a::{b, c::{d, e}}`) into full paths. */
function expandUse(tree) {
  tree = tree.replace(/\s+/g, '')
  const out = []
  const walk = (prefix, t) => {
    const brace = t.indexOf('{')
    if (brace < 0) {
      const p = (prefix + t).replace(/\bas\w+$/, '')
      if (p) out.push(p.replace(/::self$/, ''))
      return
    }
    const head = prefix + t.slice(0, brace)
    const inner = t.slice(brace + 1, t.lastIndexOf('}'))
    let depth = 0
    let start = 0
    for (let i = 0; i <= inner.length; i++) {
      const ch = inner[i]
      if (ch === '{') depth++
      else if (ch === '}') depth--
      else if ((ch === ',' || i === inner.length) && depth === 0) {
        const part = inner.slice(start, i)
        if (part) walk(head, part)
        start = i + 1
      }
    }
  }
  walk('', tree)
  return out.map((p) => p.split('::').filter(Boolean))
}

function listRust(dir) {
  const files = []
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name)
    if (statSync(p).isDirectory()) files.push(...listRust(p))
    else if (name.endsWith('.rs')) files.push(p)
  }
  return files
}

/** Test modules (`tests.rs`, `tests/`) are leaves: nothing imports them, they import anything. */
const isTestFile = (rel) => /(^|\/)tests(\.rs|\/)/.test(rel)

/** One crate's modules: `key` ('' for the root, 'a::b') -> { file, text, children, reexports }. */
function crateModules(src) {
  const modules = new Map()
  for (const file of listRust(src)) {
    const rel = path.relative(src, file).replace(/\\/g, '/').replace(/\.rs$/, '')
    if (isTestFile(rel + '.rs')) continue
    let parts = rel.split('/')
    if (parts[parts.length - 1] === 'mod' || rel === 'lib' || rel === 'main') parts = parts.slice(0, -1)
    if (rel === 'lib' || rel === 'main') parts = []
    modules.set(parts.join('::'), { file, parts, text: withoutTests(stripRust(readFileSync(file, 'utf8'))), reexports: new Map() })
  }
  for (const m of modules.values()) {
    // Names a module brings in with `use` (re-exported or not: its children see both).
    for (const [, tree] of m.text.matchAll(/\buse\s+([^;]+);/g)) {
      for (const p of expandUse(tree)) {
        const name = p[p.length - 1]
        if (name !== '*') m.reexports.set(name, p)
      }
    }
  }
  return modules
}

/** The module a path used from module `from` lands in (following re-exports), or null. */
function resolve(modules, from, segs, seen = 0) {
  let cur
  let i = 0
  if (segs[0] === 'crate') {
    cur = []
    i = 1
  } else if (segs[0] === 'self' || segs[0] === 'super') {
    cur = from.slice()
    while (segs[i] === 'self' || segs[i] === 'super') {
      if (segs[i] === 'super') cur = cur.slice(0, -1)
      i++
    }
  } else {
    // A path from the current module's own namespace: a child module or an item.
    cur = from.slice()
    if (!modules.has([...cur, segs[0]].join('::'))) return null
  }
  for (; i < segs.length; i++) {
    const next = [...cur, segs[i]].join('::')
    if (modules.has(next)) {
      cur = [...cur, segs[i]]
      continue
    }
    const m = modules.get(cur.join('::'))
    const re = m && m.reexports.get(segs[i])
    if (re && seen < 8) {
      const target = resolve(modules, cur, re, seen + 1)
      if (target) return target
    }
    break
  }
  return cur
}

/** Sibling edges of one crate: Map<parentKey, Map<from, Set<to>>>. */
function rustSiblingEdges(src) {
  const modules = crateModules(src)
  const edges = new Map()
  let imports = 0
  for (const m of modules.values()) {
    const paths = []
    for (const [, tree] of m.text.matchAll(/\buse\s+([^;]+);/g)) {
      for (const p of expandUse(tree)) if (/^(crate|super|self)$/.test(p[0]) || modules.has([...m.parts, p[0]].join('::'))) paths.push(p)
    }
    for (const [p] of m.text.matchAll(/\b(?:crate|super|self)(?:::\w+)+/g)) paths.push(p.split('::'))
    const targets = new Set()
    for (const p of paths) {
      const t = resolve(modules, m.parts, p)
      if (t) targets.add(t.join('::'))
    }
    for (const key of targets) {
      const t = key ? key.split('::') : []
      let common = 0
      while (common < t.length && common < m.parts.length && t[common] === m.parts[common]) common++
      if (common === t.length || common === m.parts.length) continue // ancestor or descendant
      imports++
      const parent = m.parts.slice(0, common).join('::')
      const a = m.parts[common]
      const b = t[common]
      if (!edges.has(parent)) edges.set(parent, new Map())
      const g = edges.get(parent)
      if (!g.has(a)) g.set(a, new Set())
      g.get(a).add(b)
    }
  }
  return { edges, imports, modules: modules.size }
}

/** Cycles of a directed graph (Map<node, Set|Array>), each as a path 'a -> b -> a'. */
function findCycles(graph) {
  const cycles = []
  const done = new Set()
  const visit = (n, stack) => {
    const at = stack.indexOf(n)
    if (at >= 0) return void cycles.push([...stack.slice(at), n].join(' -> '))
    if (done.has(n)) return
    for (const m of graph.get(n) ?? []) visit(m, [...stack, n])
    done.add(n)
  }
  for (const n of graph.keys()) visit(n, [])
  return cycles
}

/** The facade's import graph: file -> files it imports from src/ (type-only imports included). */
function tsGraph(dir = path.join(root, 'src')) {
  const graph = new Map()
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(path.join(dir, f), 'utf8')
    graph.set(f.replace(/\.ts$/, ''), [...text.matchAll(/from '\.\/([\w-]+)'/g)].map((m) => m[1]))
  }
  return graph
}

function sourceFiles() {
  const files = []
  const crates = path.join(root, 'crates')
  for (const c of readdirSync(crates)) {
    for (const sub of ['src', 'tests', 'benches']) {
      const d = path.join(crates, c, sub)
      if (existsSync(d)) files.push(...listRust(d))
    }
  }
  for (const d of ['src', '__test__', 'benches', 'examples', 'scripts']) {
    const walk = (dir) => {
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name)
        if (name === 'node_modules' || name === 'results' || name === 'fixtures') continue
        if (statSync(p).isDirectory()) walk(p)
        else if (/\.(ts|mts|js|mjs)$/.test(name)) files.push(p)
      }
    }
    if (existsSync(path.join(root, d))) walk(path.join(root, d))
  }
  for (const f of readdirSync(root)) if (f.endsWith('.ts')) files.push(path.join(root, f))
  return files
}

/** Everything the rules find: { cycles, long, crates: [{ name, imports, edges }] }. */
function checkLayout() {
  const cycles = []
  const crates = []
  for (const c of readdirSync(path.join(root, 'crates')).sort()) {
    const src = path.join(root, 'crates', c, 'src')
    if (!existsSync(src)) continue
    const { edges, imports, modules } = rustSiblingEdges(src)
    crates.push({ name: c, imports, modules, edges })
    for (const [parent, g] of edges) {
      for (const cyc of findCycles(g)) cycles.push(`crates/${c}: ${parent || 'crate'}: ${cyc}`)
    }
  }
  for (const cyc of findCycles(tsGraph())) cycles.push(`src: ${cyc}`)
  const long = []
  for (const f of sourceFiles()) {
    const lines = readFileSync(f, 'utf8').split('\n').length - 1
    if (lines > MAX_LINES) long.push(`${path.relative(root, f)}: ${lines} lines`)
  }
  return { cycles, long, crates }
}

module.exports = { checkLayout, findCycles, expandUse, rustSiblingEdges, tsGraph, MAX_LINES }

if (require.main === module) {
  const { cycles, long, crates } = checkLayout()
  for (const c of crates) {
    console.log(`crates/${c.name}: ${c.modules} modules, ${c.imports} imports between sibling modules`)
    if (process.argv.includes('--graph')) {
      for (const [parent, g] of c.edges) {
        for (const [a, bs] of g) console.log(`  ${parent || 'crate'}: ${a} -> ${[...bs].sort().join(', ')}`)
      }
    }
  }
  for (const c of cycles) console.error(`import cycle: ${c}`)
  for (const l of long) console.error(`over ${MAX_LINES} lines: ${l}`)
  if (cycles.length || long.length) process.exit(1)
  console.log('layout: no import cycles, no file over ' + MAX_LINES + ' lines')
}
