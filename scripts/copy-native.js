// After `tsc`, puts the generated napi loader (and any locally built binary) beside the
// compiled facade, where dist/src/native.js looks for it ('../native/index.js').
'use strict'
const { cpSync, existsSync, mkdirSync, readdirSync } = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const from = path.join(root, 'native')
const to = path.join(root, 'dist', 'native')
if (!existsSync(from)) {
  console.error('copy-native: native/ is missing; run `npm run build` first')
  process.exit(1)
}
mkdirSync(to, { recursive: true })
for (const f of readdirSync(from)) cpSync(path.join(from, f), path.join(to, f))
