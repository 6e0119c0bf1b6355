#!/usr/bin/env node
/**
 * `npx libravdb <command>`: export, import and inspect a database directory from a shell.
 *
 *   libravdb stats  <dir> [collection]
 *   libravdb export <dir> <collection> <file> [--format parquet|ndjson] [--filter '<json>']
 *   libravdb import <dir> <collection> <file> [--format parquet|ndjson] [--config '<json>'] [--upsert]
 *   libravdb backup <dir> <dest>
 *   libravdb verify <dir>
 *   libravdb changes <dir> <collection> [--since N|oldest|now] [--follow]
 *
 * changes prints the collection's change feed as NDJSON, one `{ seq, op, id, vector?,
 * metadata?, vectors?, whole? }` per line, from the change after --since (default: the oldest kept) to the
 * latest, or with --follow on as the writer writes until Ctrl-C.
 * stats, export, backup, verify and changes open the database read-only, so they run beside the
 * service that writes it (backup copies its last checkpoint and its WAL; see
 * `LibraVDB.backup`). verify exits with status 1 when it finds damage, and lists it. import creates the collection when it does not exist (from the file's dimension,
 * metric and schema, or --config). On a terminal, progress is drawn on stderr; Ctrl-C cancels
 * (an export leaves no file, an import keeps the batches committed before).
 */
import { parseArgs } from 'node:util'
import type { CollectionConfig } from './config'
import { LibraVDB } from './db'
import type { Filter } from './filter'
import { LibraVDBError } from './errors'
import { type TransferProgress, type TransferResult, fileBytes } from './transfer'

const USAGE = `usage:
  libravdb stats  <dir> [collection]
  libravdb export <dir> <collection> <file> [--format parquet|ndjson] [--filter '<json>']
  libravdb import <dir> <collection> <file> [--format parquet|ndjson] [--config '<json>'] [--upsert]
  libravdb backup <dir> <dest>
  libravdb verify <dir>
  libravdb changes <dir> <collection> [--since N|oldest|now] [--follow]`

class UsageError extends Error {}

/** A one-line progress bar on stderr when it is a terminal; nothing otherwise. */
function progressBar(label: string): (p: TransferProgress) => void {
  const start = performance.now()
  if (!process.stderr.isTTY) return () => {}
  return ({ records, total }) => {
    const rate = Math.round(records / Math.max((performance.now() - start) / 1000, 1e-3))
    const width = 30
    const share = total ? Math.min(records / total, 1) : 0
    const bar = total ? `[${'#'.repeat(Math.round(share * width)).padEnd(width, '.')}] ${(share * 100).toFixed(0).padStart(3)}% ` : ''
    const count = total ? `${records.toLocaleString()}/${total.toLocaleString()}` : records.toLocaleString()
    process.stderr.write(`\r${label} ${bar}${count} records, ${rate.toLocaleString()}/s `)
  }
}

function json<T>(text: string | undefined, what: string): T | undefined {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text) as T
  } catch (e) {
    throw new UsageError(`${what} is not JSON: ${(e as Error).message}`)
  }
}

function summary(verb: string, r: TransferResult): string {
  const seconds = r.durationMs / 1000
  return `${verb} ${r.records.toLocaleString()} records (${(r.bytes / 2 ** 20).toFixed(1)} MiB) in ${seconds.toFixed(1)} s: ${Math.round(r.records / Math.max(seconds, 1e-3)).toLocaleString()} records/s, ${(r.bytes / 2 ** 20 / Math.max(seconds, 1e-3)).toFixed(1)} MiB/s`
}

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      filter: { type: 'string' },
      config: { type: 'string' },
      upsert: { type: 'boolean' },
      since: { type: 'string' },
      follow: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const [command, dir, name, file] = positionals
  if (values.help) {
    console.log(USAGE)
    return
  }
  const ac = new AbortController()
  process.once('SIGINT', () => ac.abort(new Error('interrupted')))
  const format = values.format as 'parquet' | 'ndjson' | undefined
  switch (command) {
    case 'stats': {
      if (!dir) throw new UsageError('stats needs <dir>')
      await using db = await LibraVDB.open(dir, { readOnly: true, refreshIntervalMs: 0 })
      const names = name ? [name] : db.listCollections()
      const out: Record<string, object> = {}
      for (const n of names) out[n] = db.getCollection(n).stats()
      console.log(JSON.stringify(out, null, 2))
      return
    }
    case 'export': {
      if (!dir || !name || !file) throw new UsageError('export needs <dir> <collection> <file>')
      await using db = await LibraVDB.open(dir, { readOnly: true, refreshIntervalMs: 0 })
      const filter = json<Filter>(values.filter, '--filter')
      const r = await db.getCollection(name).export(file, { format, filter, onProgress: progressBar(`export ${name}`), signal: ac.signal })
      if (process.stderr.isTTY) process.stderr.write('\n')
      console.log(`${summary(`exported to ${file}:`, r)}; consistent at change ${r.seq}`)
      return
    }
    case 'import': {
      if (!dir || !name || !file) throw new UsageError('import needs <dir> <collection> <file>')
      const config = json<Partial<CollectionConfig>>(values.config, '--config')
      await using db = await LibraVDB.open(dir)
      const opts = { format, upsert: values.upsert, onProgress: progressBar(`import ${name}`), signal: ac.signal }
      const t0 = performance.now()
      let r: TransferResult
      if (db.listCollections().includes(name)) {
        r = await db.getCollection(name).import(file, opts)
      } else {
        const created = await db.importCollection(name, file, config, opts)
        r = { records: await created.count(), bytes: fileBytes(file), durationMs: performance.now() - t0 }
      }
      if (process.stderr.isTTY) process.stderr.write('\n')
      console.log(summary(`imported ${file} into ${name}:`, r))
      return
    }
    case 'backup': {
      if (!dir || !name) throw new UsageError('backup needs <dir> <dest>')
      await using db = await LibraVDB.open(dir, { readOnly: true, refreshIntervalMs: 0 })
      const bar = process.stderr.isTTY
        ? ({ bytes, totalBytes }: { bytes: number; totalBytes: number }) =>
            process.stderr.write(`\rbackup ${(bytes / 2 ** 20).toFixed(1)} / ${(totalBytes / 2 ** 20).toFixed(1)} MiB `)
        : undefined
      const r = await db.backup(name, { onProgress: bar, signal: ac.signal })
      if (process.stderr.isTTY) process.stderr.write('\n')
      console.log(`backed up ${r.collections.length} collections (${(r.bytes / 2 ** 20).toFixed(1)} MiB) to ${name} in ${(r.durationMs / 1000).toFixed(1)} s`)
      return
    }
    case 'verify': {
      if (!dir) throw new UsageError('verify needs <dir>')
      let report
      try {
        await using db = await LibraVDB.open(dir, { readOnly: true, refreshIntervalMs: 0 })
        report = await db.verify()
      } catch (e) {
        // A file too damaged to open: that is the finding.
        if (!(e instanceof LibraVDBError && e.code === 'ERR_CORRUPTED')) throw e
        console.log(`damaged: ${e.message}`)
        process.exitCode = 1
        return
      }
      for (const d of report.damaged) console.log(`damaged: ${d.file} (collection ${d.collection}): ${d.reason}`)
      console.log(`${report.ok ? 'ok' : 'DAMAGED'}: ${report.filesChecked} files and ${report.chunksChecked} chunks checked, ${report.chunksSkipped} chunks written since the last checkpoint not checked`)
      if (!report.ok) process.exitCode = 1
      return
    }
    case 'changes': {
      if (!dir || !name) throw new UsageError('changes needs <dir> <collection>')
      const raw = values.since ?? 'oldest'
      const since = raw === 'oldest' || raw === 'now' ? raw : Number(raw)
      if (typeof since === 'number' && !(Number.isSafeInteger(since) && since >= 0)) {
        throw new UsageError(`--since must be a sequence number, 'oldest' or 'now', got '${raw}'`)
      }
      await using db = await LibraVDB.open(dir, { readOnly: true, refreshIntervalMs: 0 })
      const feed = db.getCollection(name).changes({ since, follow: values.follow ?? false, signal: ac.signal, batchSize: 1000 })
      for await (const c of feed) {
        const vectors = c.vectors && Object.fromEntries(Object.entries(c.vectors).map(([f, v]) => [f, v && Array.from(v)]))
        const line = JSON.stringify({ ...c, vector: c.vector && Array.from(c.vector), vectors })
        if (!process.stdout.write(`${line}\n`)) await new Promise((r) => process.stdout.once('drain', r))
      }
      return
    }
    default:
      throw new UsageError(command ? `unknown command '${command}'` : 'no command')
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      console.error(`libravdb: ${(e as Error).message}\n${USAGE}`)
      process.exit(2)
    }
    console.error(e instanceof LibraVDBError ? `libravdb: ${e.code}: ${e.message}` : e)
    process.exit(1)
  })
}
