/**
 * Finds and loads the native addon. A published install carries it in a platform package
 * (`libravdb-linux-x64-gnu`, ...), one optional dependency per target, of which npm installs
 * only the one whose `os`/`cpu`/`libc` match; a git checkout carries the binary it built in
 * `native/`. When nothing loads, the error names the platform, the package it looked for and
 * what to do, instead of a bare "Cannot find module".
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'

/** The targets a release builds, by napi-rs platform name (the suffix of the `.node` file and
 * of the platform package). Keep in step with `napi.targets` in package.json. */
export const SUPPORTED_PLATFORMS = [
  'linux-x64-gnu',
  'linux-arm64-gnu',
  'linux-x64-musl',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
] as const

/** Set on the error thrown when no binary loads, so a caller can tell it from other failures. */
export const NO_BINARY_CODE = 'ERR_LIBRAVDB_NO_BINARY'

function isMusl(): boolean {
  try {
    return readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    // no ldd: ask Node which libc it runs on (glibc builds report its version)
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
    return !report?.header?.glibcVersionRuntime
  }
}

/** This process's platform in napi-rs naming, e.g. `linux-x64-gnu`, `darwin-arm64`. */
export function platformName(): string {
  const { platform, arch } = process
  if (platform === 'linux') return `${platform}-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `${platform}-${arch}-msvc`
  return `${platform}-${arch}`
}

/** The version of this package, read from its package.json (two levels up from dist/src,
 * one from src/). */
function ownVersion(): string | undefined {
  for (const up of ['..', '../..']) {
    const file = path.join(__dirname, up, 'package.json')
    if (!existsSync(file)) continue
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
    if (pkg.name === 'libravdb') return pkg.version
  }
  return undefined
}

/**
 * Loads the addon: `LIBRAVDB_NATIVE_PATH` if set, else a binary built in this checkout's
 * `native/`, else the platform package. Throws an `Error` with code `ERR_LIBRAVDB_NO_BINARY`
 * that says what was tried and what to do.
 */
export function loadBinding<T>(): T {
  const platform = platformName()
  const file = `libravdb.${platform}.node`
  const packageName = `libravdb-${platform}`
  const failures: string[] = []

  const override = process.env.LIBRAVDB_NATIVE_PATH
  const localBuilds = override
    ? [override]
    : [path.join(__dirname, '..', 'native', file), path.join(__dirname, '..', '..', 'native', file)]
  for (const candidate of localBuilds) {
    if (!existsSync(candidate)) {
      if (override) failures.push(`LIBRAVDB_NATIVE_PATH=${override}: no such file`)
      continue
    }
    try {
      return require(candidate) as T
    } catch (e) {
      failures.push(`${candidate}: ${(e as Error).message}`)
    }
  }
  if (!override) {
    try {
      const binding = require(packageName) as T
      const expected = ownVersion()
      const found = (require(`${packageName}/package.json`) as { version: string }).version
      if (expected === undefined || found === expected) return binding
      failures.push(`${packageName} is version ${found}, libravdb is ${expected}: they must match`)
    } catch (e) {
      const err = e as NodeJS.ErrnoException
      failures.push(
        err.code === 'MODULE_NOT_FOUND' && err.message.includes(packageName)
          ? `${packageName}: not installed`
          : `${packageName}: ${err.message}`,
      )
    }
  }
  throw noBinaryError(platform, packageName, failures)
}

function noBinaryError(platform: string, packageName: string, failures: string[]): Error {
  const supported = (SUPPORTED_PLATFORMS as readonly string[]).includes(platform)
  const node = `Node.js ${process.versions.node}, Node-API ${process.versions.napi}`
  const lines = supported
    ? [
        `libravdb: the native addon for ${platform} (${node}) did not load.`,
        `It comes in the package ${packageName}, an optional dependency that npm installs with libravdb on this platform.`,
        'What to do:',
        `  - reinstall with optional dependencies: \`npm install libravdb\` (not --omit=optional or --no-optional);`,
        `    if node_modules or package-lock.json came from another OS or CPU, delete them and install again,`,
        `    or add it directly: \`npm install ${packageName}@${ownVersion() ?? '<the libravdb version>'}\`;`,
        '  - or build from source: clone the libravdb repository and run `npm install` there with Rust installed (https://rustup.rs).',
      ]
    : [
        `libravdb: no prebuilt binary exists for ${platform} (${node}).`,
        `Prebuilt: ${SUPPORTED_PLATFORMS.join(', ')}.`,
        'What to do: build from source: clone the libravdb repository and run `npm install` there with Rust installed (https://rustup.rs).',
      ]
  if (failures.length) lines.push('Tried:', ...failures.map((f) => `  - ${f}`))
  const err = new Error(lines.join('\n')) as NodeJS.ErrnoException
  err.code = NO_BINARY_CODE
  return err
}
