// Installs libravdb like a user and checks it works (`npm run test:package`, run by .ci/run):
//   1. packs the release tarballs (`npm run pack:release`; `--no-pack` reuses dist-pack/);
//   2. installs them into a fresh project in a temp directory, with cargo and rustc removed
//      from PATH, so nothing can be compiled;
//   3. (a) `require('libravdb')`, (b) `import { LibraVDB } from 'libravdb'` in an .mjs file,
//      (c) a strict TypeScript consumer under moduleResolution node16 and bundler each open a
//      database and run a search; internals are not importable; libravdb/langchain loads
//      under both;
//   4. (d) with the platform package removed, the load error names the platform and what to do;
//   5. prints the installed size and, on Linux, the newest glibc symbol the binary needs.
'use strict'
const { execFileSync, spawnSync } = require('node:child_process')
const { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const packDir = path.join(root, 'dist-pack')
const pkg = require(path.join(root, 'package.json'))
const TYPESCRIPT = pkg.devDependencies.typescript
const TYPES_NODE = pkg.devDependencies['@types/node']
const LANGCHAIN_CORE = pkg.devDependencies['@langchain/core']
const MAX_GLIBC = '2.17'

function fail(message) {
  console.error(`test-package: FAIL: ${message}`)
  process.exit(1)
}

/** PATH without any directory that holds cargo or rustc. */
function pathWithoutRust() {
  const exe = process.platform === 'win32' ? '.exe' : ''
  return process.env.PATH.split(path.delimiter)
    .filter((dir) => !existsSync(path.join(dir, `cargo${exe}`)) && !existsSync(path.join(dir, `rustc${exe}`)))
    .join(path.delimiter)
}

const env = { ...process.env, PATH: pathWithoutRust(), npm_config_audit: 'false', npm_config_fund: 'false' }
delete env.LIBRAVDB_NATIVE_PATH

function run(cwd, cmd, args) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8' })
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() }
}

function mustRun(cwd, cmd, args, what) {
  const r = run(cwd, cmd, args)
  if (r.status !== 0) fail(`${what}: exit ${r.status}\n${r.out}`)
  return r.out
}

function dirBytes(dir) {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    total += entry.isDirectory() ? dirBytes(p) : statSync(p).size
  }
  return total
}

// The same small program in each module flavour: a collection, three vectors, a search.
const PROGRAM = `
const db = await LibraVDB.open()
const docs = await db.createCollection('docs', { dimension: 3, metric: 'cosine', index: { type: 'hnsw' } })
await docs.insertBatch([
  { id: 'a', vector: [1, 0, 0], metadata: { kind: 'x' } },
  { id: 'b', vector: [0, 1, 0], metadata: { kind: 'x' } },
  { id: 'c', vector: [0.9, 0.1, 0], metadata: { kind: 'y' } },
])
const hits = await docs.search([1, 0, 0], { k: 2, filter: { kind: 'y' } })
await db.close()
if (hits.length !== 1 || hits[0].id !== 'c') throw new Error('unexpected hits ' + JSON.stringify(hits))
console.log(FLAVOUR + ': ok, top hit ' + hits[0].id)
`

function main() {
  if (!process.argv.includes('--no-pack')) {
    execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'pack:release'], { cwd: root, stdio: 'inherit' })
  }
  const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'))
  const main = tarballs.find((f) => f === `libravdb-${pkg.version}.tgz`)
  const platformTarballs = tarballs.filter((f) => f !== main)
  if (!main || platformTarballs.length === 0) fail(`dist-pack/ lacks the main or a platform tarball: ${tarballs.join(', ')}`)

  const project = mkdtempSync(path.join(os.tmpdir(), 'libravdb-package-'))
  console.log(`test-package: installing into ${project} (PATH without cargo/rustc)`)
  try {
    if (run(project, 'cargo', ['--version']).status === 0) fail('cargo is still on PATH')
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
    const install = mustRun(
      project,
      'npm',
      ['install', '--no-audit', '--no-fund', ...[main, ...platformTarballs].map((f) => path.join(packDir, f)), `typescript@${TYPESCRIPT}`, `@types/node@${TYPES_NODE}`, `@langchain/core@${LANGCHAIN_CORE}`],
      'npm install',
    )
    console.log(install.split('\n').slice(-2).join('\n'))

    // (a) CommonJS
    writeFileSync(
      path.join(project, 'a.cjs'),
      `const { LibraVDB } = require('libravdb')\nconst FLAVOUR = 'require'\n;(async () => {${PROGRAM}})().catch((e) => { console.error(e); process.exit(1) })\n` +
        `try { require('libravdb/dist/src/loader.js'); throw new Error('internals importable') } catch (e) { if (e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e }\n`,
    )
    console.log(mustRun(project, 'node', ['a.cjs'], '(a) require'))

    // (b) ES module
    writeFileSync(path.join(project, 'b.mjs'), `import { LibraVDB, NotFoundError } from 'libravdb'\nconst FLAVOUR = 'import'\n${PROGRAM}\nif (typeof NotFoundError !== 'function') throw new Error('NotFoundError missing')\n`)
    console.log(mustRun(project, 'node', ['b.mjs'], '(b) import'))

    // (c) strict TypeScript consumers: node16 (ESM .mts, compiled and run) and bundler
    const typed = `import { LibraVDB, type SearchHit, type CollectionConfig } from 'libravdb'\nconst FLAVOUR: string = 'typescript'\nconst config: CollectionConfig = { dimension: 3, metric: 'cosine' }\nvoid config\n${PROGRAM}\nconst typedHits: SearchHit[] = hits\nvoid typedHits\n`
    writeFileSync(path.join(project, 'c.mts'), typed)
    writeFileSync(path.join(project, 'bundler.ts'), typed)
    const base = { strict: true, target: 'ES2022', types: ['node'], skipLibCheck: false, noEmit: false }
    writeFileSync(
      path.join(project, 'tsconfig.node16.json'),
      JSON.stringify({ compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16', outDir: 'out' }, files: ['c.mts'] }),
    )
    writeFileSync(
      path.join(project, 'tsconfig.bundler.json'),
      JSON.stringify({ compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler', noEmit: true }, files: ['bundler.ts'] }),
    )
    const tsc = path.join(project, 'node_modules', 'typescript', 'bin', 'tsc')
    mustRun(project, 'node', [tsc, '-p', 'tsconfig.node16.json'], '(c) tsc node16')
    mustRun(project, 'node', [tsc, '-p', 'tsconfig.bundler.json'], '(c) tsc bundler')
    console.log(mustRun(project, 'node', ['out/c.mjs'], '(c) run the node16 build').replace('typescript', 'typescript (node16 + bundler tsc --strict)'))

    // the LangChain adapter, both module flavours
    const adapter = `
const store = await LibraVDBStore.fromTexts(['apple pie', 'rust code'], { n: 1 }, new SyntheticEmbeddings({ vectorSize: 8 }), { db: await LibraVDB.open(), collectionName: 'kb' })
const [doc] = await store.similaritySearch('apple pie', 1)
if (doc.pageContent !== 'apple pie' || doc.metadata.n !== 1) throw new Error('unexpected ' + JSON.stringify(doc))
console.log(FLAVOUR + ': libravdb/langchain ok')
`
    writeFileSync(
      path.join(project, 'lc.mjs'),
      `import { LibraVDB } from 'libravdb'\nimport { LibraVDBStore } from 'libravdb/langchain'\nimport { SyntheticEmbeddings } from '@langchain/core/utils/testing'\nconst FLAVOUR = 'import'\n${adapter}`,
    )
    writeFileSync(
      path.join(project, 'lc.cjs'),
      `const { LibraVDB } = require('libravdb')\nconst { LibraVDBStore } = require('libravdb/langchain')\nconst { SyntheticEmbeddings } = require('@langchain/core/utils/testing')\nconst FLAVOUR = 'require'\n;(async () => {${adapter}})().catch((e) => { console.error(e); process.exit(1) })\n`,
    )
    console.log(mustRun(project, 'node', ['lc.mjs'], 'libravdb/langchain (import)'))
    console.log(mustRun(project, 'node', ['lc.cjs'], 'libravdb/langchain (require)'))

    // the CLI the package installs as a bin
    const help = mustRun(project, path.join(project, 'node_modules', '.bin', 'libravdb'), ['--help'], 'npx libravdb --help')
    if (!help.includes('libravdb export')) fail(`libravdb --help printed:\n${help}`)
    console.log('cli: npx libravdb --help ok')

    // size, and the glibc the binary needs
    const installed = ['libravdb', ...platformTarballs.map((f) => f.replace(`-${pkg.version}.tgz`, ''))]
    for (const name of installed) {
      const bytes = dirBytes(path.join(project, 'node_modules', name))
      console.log(`test-package: installed ${name}: ${(bytes / 1024 / 1024).toFixed(2)} MiB`)
    }
    for (const name of installed.slice(1).filter((n) => n.endsWith('-gnu'))) {
      const binary = readdirSync(path.join(project, 'node_modules', name)).find((f) => f.endsWith('.node'))
      const symbols = run(project, 'objdump', ['-T', path.join(project, 'node_modules', name, binary)])
      if (symbols.status !== 0) {
        console.log('test-package: objdump not available; glibc requirement not checked')
        continue
      }
      const versions = [...symbols.out.matchAll(/GLIBC_([0-9.]+)/g)].map((m) => m[1])
      const newest = versions.sort((x, y) => x.localeCompare(y, undefined, { numeric: true })).at(-1)
      console.log(`test-package: ${binary} needs glibc >= ${newest}`)
      if (newest.localeCompare(MAX_GLIBC, undefined, { numeric: true }) > 0) fail(`${binary} needs glibc ${newest} > ${MAX_GLIBC}`)
    }

    // (d) platform package missing
    for (const name of installed.slice(1)) rmSync(path.join(project, 'node_modules', name), { recursive: true })
    const missing = run(project, 'node', ['-e', "try { require('libravdb') } catch (e) { console.log(e.code); console.log(e.message); process.exit(3) }"])
    if (missing.status !== 3) fail(`(d) require without the platform package: expected the load error, got exit ${missing.status}\n${missing.out}`)
    const platformName = installed[1].replace('libravdb-', '')
    for (const needle of ['ERR_LIBRAVDB_NO_BINARY', platformName, installed[1], 'npm install']) {
      if (!missing.out.includes(needle)) fail(`(d) the load error does not mention ${needle}:\n${missing.out}`)
    }
    console.log(`(d) without ${installed[1]}, require('libravdb') throws:\n${missing.out.replace(/^/gm, '    ')}`)
    console.log('test-package: ok')
  } finally {
    rmSync(project, { recursive: true, force: true })
  }
}

main()
