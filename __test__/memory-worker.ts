/**
 * Child process of memory.spec.ts: inserts 100k records with 2 KB of metadata text each into
 * an on-disk (`disk`) or in-memory (`memory`) database and prints the growth of its anonymous
 * RSS (RssAnon in /proc/self/status: heap and anonymous maps, not file-backed pages).
 */
import { readFileSync, rmSync } from 'node:fs'
import { LibraVDB } from '../index'

const rssAnon = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

async function main() {
  const [mode, dir] = process.argv.slice(2)
  const db = await LibraVDB.open(mode === 'disk' ? dir : undefined, { fsync: false })
  const c = await db.createCollection('c', { dimension: 8 })
  const filler = 'x'.repeat(2000)
  gc()
  const before = rssAnon()
  for (let b = 0; b < 100; b++) {
    const records = Array.from({ length: 1000 }, (_, j) => ({
      id: `r${b * 1000 + j}`,
      vector: new Float32Array(8).fill(j),
      metadata: { text: `${filler}${b * 1000 + j}` },
    }))
    await c.insertBatch(records)
  }
  gc()
  const s = c.stats()
  console.log(JSON.stringify({ growth: rssAnon() - before, text: s.metadataBytes, cache: s.memory.cache }))
  await db.close()
  if (mode === 'disk') rmSync(dir, { recursive: true, force: true })
}

void main()
