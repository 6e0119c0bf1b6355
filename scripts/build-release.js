// Builds the binary a release publishes, into native/libravdb.<platform>.node:
//   node scripts/build-release.js [--target <rust triple>]      (default: this host)
// The `dist` cargo profile (fat LTO, symbols stripped). Linux targets link through
// cargo-zigbuild, glibc ones against glibc 2.17 so the binary loads on RHEL/CentOS 7+,
// Ubuntu 14.04+ and Amazon Linux 2, not only on the build machine's glibc (2.36 here). zig
// comes from PyPI (`ziglang`) into a venv, cargo-zigbuild from crates.io, both pinned and kept
// in .tools/ (git-ignored): nothing is downloaded from anywhere else.
'use strict'
const { execFileSync } = require('node:child_process')
const { copyFileSync, existsSync, mkdirSync } = require('node:fs')
const path = require('node:path')

const CARGO_ZIGBUILD_VERSION = '0.24.1'
const ZIGLANG_VERSION = '0.17.1'

const root = path.join(__dirname, '..')
const tools = path.join(root, '.tools')

/** Rust triple -> napi-rs platform name, library file name and whether it links through zig.
 * Keep in step with napi.targets in package.json and SUPPORTED_PLATFORMS in src/loader.ts. */
const TARGETS = {
  'x86_64-unknown-linux-gnu': { platform: 'linux-x64-gnu', zigTarget: 'x86_64-unknown-linux-gnu.2.17' },
  'aarch64-unknown-linux-gnu': { platform: 'linux-arm64-gnu', zigTarget: 'aarch64-unknown-linux-gnu.2.17' },
  'x86_64-unknown-linux-musl': { platform: 'linux-x64-musl', zigTarget: 'x86_64-unknown-linux-musl' },
  'aarch64-unknown-linux-musl': { platform: 'linux-arm64-musl', zigTarget: 'aarch64-unknown-linux-musl' },
  'x86_64-apple-darwin': { platform: 'darwin-x64' },
  'aarch64-apple-darwin': { platform: 'darwin-arm64' },
  'x86_64-pc-windows-msvc': { platform: 'win32-x64-msvc' },
}

function hostTriple() {
  const out = execFileSync('rustc', ['-vV'], { encoding: 'utf8' })
  return /^host: (\S+)$/m.exec(out)[1]
}

function run(cmd, args, env) {
  console.log(`$ ${cmd} ${args.join(' ')}`)
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
}

/** PATH with cargo-zigbuild and a python that has zig, installing them on first use. */
function zigToolsPath() {
  const bin = path.join(tools, 'bin')
  if (!existsSync(path.join(bin, 'cargo-zigbuild'))) {
    run('cargo', ['install', `cargo-zigbuild@${CARGO_ZIGBUILD_VERSION}`, '--locked', '--root', tools])
  }
  const venv = path.join(tools, 'zig-venv')
  const venvBin = path.join(venv, process.platform === 'win32' ? 'Scripts' : 'bin')
  if (!existsSync(path.join(venvBin, 'python-zig')) && !existsSync(path.join(venvBin, 'python-zig.exe'))) {
    run('python3', ['-m', 'venv', venv])
    run(path.join(venvBin, 'pip'), ['install', '--quiet', `ziglang==${ZIGLANG_VERSION}`])
  }
  // cargo-zigbuild runs `python3 -m ziglang` when no `zig` is on PATH: the venv's python first.
  return [venvBin, bin, process.env.PATH].join(path.delimiter)
}

function libraryFile(triple) {
  if (triple.includes('windows')) return 'libravdb_node.dll'
  if (triple.includes('apple')) return 'liblibravdb_node.dylib'
  return 'liblibravdb_node.so'
}

function main() {
  const i = process.argv.indexOf('--target')
  const triple = i > 0 ? process.argv[i + 1] : hostTriple()
  const target = TARGETS[triple]
  if (!target) throw new Error(`build-release: no release target ${triple}; known: ${Object.keys(TARGETS).join(', ')}`)

  const cargoArgs = ['--profile', 'dist', '-p', 'libravdb-node', '--target', target.zigTarget ?? triple]
  if (target.zigTarget) run('cargo', ['zigbuild', ...cargoArgs], { PATH: zigToolsPath() })
  else run('cargo', ['build', ...cargoArgs])

  const built = path.join(root, 'target', triple, 'dist', libraryFile(triple))
  const out = path.join(root, 'native', `libravdb.${target.platform}.node`)
  mkdirSync(path.dirname(out), { recursive: true })
  copyFileSync(built, out)
  console.log(`build-release: ${path.relative(root, out)}`)
}

main()
