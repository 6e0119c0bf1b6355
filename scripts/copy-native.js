// After `tsc`, puts the generated binding types beside the compiled facade, where
// dist/src/native.d.ts refers to them ('../native/index'). The binary itself stays in native/
// (a checkout) or comes from the platform package (an install): see src/loader.ts.
'use strict'
const { cpSync, existsSync, mkdirSync } = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const types = path.join(root, 'native', 'index.d.ts')
if (!existsSync(types)) {
  console.error('copy-native: native/index.d.ts is missing; run `npm run build` first')
  process.exit(1)
}
mkdirSync(path.join(root, 'dist', 'native'), { recursive: true })
cpSync(types, path.join(root, 'dist', 'native', 'index.d.ts'))
