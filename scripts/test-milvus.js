// `npm run test:milvus`: starts a real Milvus server and runs __test__/milvus/ against it.
// The server is Milvus Lite (PyPI `milvus-lite`, the embedded Milvus that speaks the same gRPC
// API as a Milvus cluster), installed into .tools/milvus-venv (pinned with the pymilvus it
// needs) and started on a free local port with a temporary data directory. When it cannot be
// started the reason is printed and the test is reported as skipped, never as passed.
'use strict'
const { execFileSync, spawn, spawnSync } = require('node:child_process')
const { existsSync, mkdtempSync, rmSync } = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const MILVUS_LITE = '3.2.2'
const PYMILVUS = '3.0.2'
const root = path.join(__dirname, '..')
const venv = path.join(root, '.tools', 'milvus-venv')
const python = path.join(venv, 'bin', 'python')

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

function installServer() {
  if (existsSync(python) && spawnSync(python, ['-c', 'import milvus_lite, pymilvus'], { stdio: 'ignore' }).status === 0) return
  console.log(`test-milvus: installing milvus-lite ${MILVUS_LITE} into ${path.relative(root, venv)}`)
  execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' })
  execFileSync(path.join(venv, 'bin', 'pip'), ['install', '--quiet', `milvus-lite==${MILVUS_LITE}`, `pymilvus==${PYMILVUS}`], { stdio: 'inherit' })
}

/** Starts the server; resolves with its process once it listens, rejects with its output. */
function startServer(port, dataDir) {
  return new Promise((resolve, reject) => {
    const server = spawn(python, ['-m', 'milvus_lite', 'server', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port)])
    let output = ''
    const timer = setTimeout(() => {
      server.kill()
      reject(new Error(`no "listening" after 120 s:\n${output}`))
    }, 120_000)
    const onData = (d) => {
      output += d
      if (/listening/i.test(output)) {
        clearTimeout(timer)
        resolve(server)
      }
    }
    server.stdout.on('data', onData)
    server.stderr.on('data', onData)
    server.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`milvus_lite exited with ${code}:\n${output}`))
    })
  })
}

async function main() {
  let server
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'libravdb-milvus-'))
  try {
    installServer()
    const port = await freePort()
    server = await startServer(port, dataDir)
    console.log(`test-milvus: Milvus Lite ${MILVUS_LITE} listening on 127.0.0.1:${port}`)
    const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'vitest.milvus.config.mts'], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, MILVUS_ADDRESS: `127.0.0.1:${port}` },
    })
    process.exitCode = r.status ?? 1
  } catch (e) {
    console.log(`test-milvus: SKIPPED: no Milvus server could be started here: ${e.message}`)
    process.exitCode = 0
  } finally {
    server?.kill()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

main()
