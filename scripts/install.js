// `npm install` hook. Uses a native addon that already loads (a prebuilt platform package,
// or an earlier build); otherwise builds it from source with cargo. In a git checkout it
// also compiles the TypeScript facade into dist/.
'use strict'
const { execSync } = require('node:child_process')
const { existsSync } = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' })

function addonLoads() {
  for (const loader of ['native/index.js', 'dist/native/index.js']) {
    const file = path.join(root, loader)
    if (!existsSync(file)) continue
    try {
      require(file)
      return true
    } catch {
      // no binary for this platform next to this loader: try the next one
    }
  }
  return false
}

function hasCargo() {
  try {
    execSync('cargo --version', { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const fromSource = existsSync(path.join(root, 'crates'))
if (process.env.LIBRAVDB_FORCE_BUILD || !addonLoads()) {
  if (!fromSource || !hasCargo()) {
    console.error(
      'libravdb: no prebuilt binary matches this platform and the addon cannot be built here ' +
        '(it needs the Rust toolchain and the crates/ sources). Install Rust from https://rustup.rs ' +
        'and install libravdb from its git repository.',
    )
    process.exit(1)
  }
  console.log('libravdb: building the native addon from source (cargo build --release)...')
  run('npm run build')
}
if (fromSource && existsSync(path.join(root, 'node_modules', 'typescript'))) run('npm run build:ts')
