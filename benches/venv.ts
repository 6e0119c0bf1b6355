/** Python tools the benchmarks run (faiss, bm25s): each in its own venv under .tools/, created
 * on first use from PyPI with pinned versions, never at run time of the library. */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

const made = new Map<string, string | { error: string }>()

/** The python of venv `.tools/<name>` once `module` imports in it (installing `packages`
 * when it does not), or why it could not be set up. */
export function venvPython(name: string, packages: string[], module: string): string | { error: string } {
  const known = made.get(name)
  if (known) return known
  const venv = join(__dirname, '..', '.tools', name)
  const exe = join(venv, 'bin', 'python')
  let out: string | { error: string }
  try {
    if (!existsSync(exe)) execFileSync('python3', ['-m', 'venv', venv], { stdio: 'ignore' })
    execFileSync(exe, ['-c', `import ${module}`], { stdio: 'ignore' })
    out = exe
  } catch {
    try {
      execFileSync(join(venv, 'bin', 'pip'), ['install', '--quiet', ...packages], { stdio: 'ignore', timeout: 600_000 })
      out = exe
    } catch (e) {
      out = { error: `could not install ${packages.join(' ')} into ${venv}: ${(e as Error).message.split('\n')[0]}` }
    }
  }
  made.set(name, out)
  return out
}
