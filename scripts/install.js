// `npm install` hook of a git checkout (the published package has no install script: its
// binary comes from a platform package). Builds the native addon from source when no build
// of it loads yet, then compiles the TypeScript facade into dist/.
'use strict'
const { execSync } = require('node:child_process')
const { existsSync, readdirSync } = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' })

/** Whether native/ holds a binary built here that this Node loads. */
function builtAddonLoads() {
  const dir = path.join(root, 'native')
  if (!existsSync(path.join(dir, 'index.d.ts'))) return false
  return readdirSync(dir)
    .filter((f) => f.endsWith('.node'))
    .some((f) => {
      try {
        require(path.join(dir, f))
        return true
      } catch {
        return false // built for another machine or Node-API level
      }
    })
}

if (process.env.LIBRAVDB_FORCE_BUILD || !builtAddonLoads()) {
  try {
    execSync('cargo --version', { stdio: 'ignore' })
  } catch {
    console.error('libravdb: building from source needs the Rust toolchain (https://rustup.rs).')
    process.exit(1)
  }
  console.log('libravdb: building the native addon from source (cargo build --release)...')
  run('npm run build')
}
if (existsSync(path.join(root, 'node_modules', 'typescript'))) run('npm run build:ts')
