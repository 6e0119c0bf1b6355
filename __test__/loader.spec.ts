import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { NO_BINARY_CODE, SUPPORTED_PLATFORMS, loadBinding, platformName } from '../src/loader'

describe('native loader', () => {
  const saved = process.env.LIBRAVDB_NATIVE_PATH
  afterEach(() => {
    if (saved === undefined) delete process.env.LIBRAVDB_NATIVE_PATH
    else process.env.LIBRAVDB_NATIVE_PATH = saved
  })

  it('names this machine as a supported platform', () => {
    expect(SUPPORTED_PLATFORMS as readonly string[]).toContain(platformName())
  })

  it('loads the binary built in this checkout', () => {
    delete process.env.LIBRAVDB_NATIVE_PATH
    const binding = loadBinding<{ simdLevel(): string }>()
    expect(typeof binding.simdLevel()).toBe('string')
  })

  it('a binary that does not load gives an error naming it, the platform and what to do', () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'libravdb-loader-')), `libravdb.${platformName()}.node`)
    writeFileSync(bad, 'not an ELF file')
    process.env.LIBRAVDB_NATIVE_PATH = bad
    let caught: NodeJS.ErrnoException | undefined
    try {
      loadBinding()
    } catch (e) {
      caught = e as NodeJS.ErrnoException
    }
    expect(caught?.code).toBe(NO_BINARY_CODE)
    expect(caught?.message).toContain(platformName())
    expect(caught?.message).toContain(`libravdb-${platformName()}`)
    expect(caught?.message).toContain(bad)
    expect(caught?.message).toContain('npm install')
  })

  it('a missing LIBRAVDB_NATIVE_PATH file is reported, not skipped', () => {
    process.env.LIBRAVDB_NATIVE_PATH = '/nonexistent/libravdb.node'
    expect(() => loadBinding()).toThrow(/LIBRAVDB_NATIVE_PATH=\/nonexistent\/libravdb.node: no such file/)
  })
})
