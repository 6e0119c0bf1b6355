// Packs what a release publishes, into dist-pack/:
//   libravdb-<version>.tgz                  the facade: dist/ (CJS, ESM, types), README, LICENSE,
//                                           CHANGELOG, BENCHMARKS; no install script; one optional
//                                           dependency per platform package
//   libravdb-<platform>-<version>.tgz       one per binary found in native/ (normally the host's,
//                                           built by `npm run build:release`)
// Each package is staged in dist-pack/stage/ from the files it declares, then `npm pack`ed.
'use strict'
const { execFileSync } = require('node:child_process')
const { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const out = path.join(root, 'dist-pack')
const stage = path.join(out, 'stage')
const npmCmd = process.platform === 'win32' ? 'npm.cmd' : 'npm'

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'))
const writeJson = (file, value) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`)

function pack(dir) {
  const [info] = JSON.parse(execFileSync(npmCmd, ['pack', '--json', '--pack-destination', out], { cwd: dir, encoding: 'utf8' }))
  console.log(`pack-release: dist-pack/${info.filename} (${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${info.entryCount} files)`)
  return info.filename
}

function main() {
  const pkg = readJson(path.join(root, 'package.json'))
  if (!existsSync(path.join(root, 'dist', 'index.js')) || !existsSync(path.join(root, 'dist', 'index.mjs'))) {
    throw new Error('pack-release: dist/ is not built; run `npm run build:ts` first')
  }
  rmSync(out, { recursive: true, force: true })
  mkdirSync(stage, { recursive: true })

  // Platform packages: one per npm/<platform>/ directory that has a binary in native/.
  const platforms = readdirSync(path.join(root, 'npm'))
  const built = platforms.filter((p) => existsSync(path.join(root, 'native', `libravdb.${p}.node`)))
  if (built.length === 0) throw new Error('pack-release: no binary in native/; run `npm run build:release` first')
  for (const platform of built) {
    const dir = path.join(stage, `libravdb-${platform}`)
    mkdirSync(dir)
    const platformPkg = readJson(path.join(root, 'npm', platform, 'package.json'))
    writeJson(path.join(dir, 'package.json'), { ...platformPkg, version: pkg.version, repository: pkg.repository })
    cpSync(path.join(root, 'npm', platform, 'README.md'), path.join(dir, 'README.md'))
    cpSync(path.join(root, 'LICENSE'), path.join(dir, 'LICENSE'))
    cpSync(path.join(root, 'native', `libravdb.${platform}.node`), path.join(dir, `libravdb.${platform}.node`))
    pack(dir)
  }

  // The main package: what `files` selects, with a package.json fit to publish.
  const dir = path.join(stage, 'libravdb')
  mkdirSync(dir)
  const { scripts: _scripts, devDependencies: _dev, ...published } = pkg
  published.optionalDependencies = Object.fromEntries(platforms.sort().map((p) => [`libravdb-${p}`, pkg.version]))
  writeJson(path.join(dir, 'package.json'), published)
  for (const entry of pkg.files) cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true })
  for (const doc of ['README.md', 'LICENSE', 'CHANGELOG.md', 'BENCHMARKS.md']) cpSync(path.join(root, doc), path.join(dir, doc))
  pack(dir)
}

main()
