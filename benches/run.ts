/**
 * `npm run bench [-- options]`: runs the workloads, prints a summary, and writes
 * benches/results/REPORT.md, results.json and SVG plots.
 *
 *   --quick              CI smoke run (well under 3 minutes): small sets, one repeat, 20 s soak
 *   --scale 1m           1,000,000 x 128 instead of 100,000 for the clustered sets; the ann workload
 *                        runs 1,000,000 x 384 unit vectors (cosine) alone, LibraVDB beside faiss
 *   --soak-minutes N     soak length (default 30, quick 0.33)
 *   --no-peers           filtered workload: LibraVDB alone (skips the slow peer builds at 1M)
 *   --only a,b           run only these workloads (flat, ann, latency, ivfpq, quant, memory, filtered, hybrid, batch, streaming, changes, named, tenants, lifecycle, soak);
 *                        the report then holds only their sections
 *   --data F --queries Q [--gt G]   also run on your vectors (.fvecs / .npy; ground truth .ivecs / .npy)
 *   --real100k           also run ann, ivfpq and filtered on debpkg100k, 100k real sentence embeddings
 *                        (built into .tools/datasets on first use, ~85 min: benches/make_debpkg100k.py)
 */
import { parseArgs } from 'node:util'
import { annSection, benchAnn, qpsAtRecall } from './ann'
import { batchSection, benchBatch } from './batch'
import { benchChanges, changesSection } from './changes'
import { benchLatency, latencySection } from './latency'
import { type Dataset, clustered, debpkg100k, debpkg20k, loadVectors, sift5k } from './datasets'
import { benchFilteredReal, filteredRealSection } from './filtered-real'
import { benchFiltered, filteredSection } from './filtered'
import { benchHybrid, hybridSection } from './hybrid'
import { benchIvfPq, ivfpqSection } from './ivfpq'
import { benchFlat, benchFlatBatch, flatBatchSection, flatSection } from './flat'
import { benchLifecycle, lifecycleSection } from './lifecycle'
import { benchMemory, memorySection } from './memory'
import { benchNamed, namedSection } from './named'
import { benchStorageModes, storageModesSection } from './storage'
import { machine, writeReport } from './harness'
import { type RunResults, headlineSection } from './headline'
import { benchQuant, quantSection } from './quant'
import { benchSoak, soakSection, soakSlopes } from './soak'
import { benchStreaming, streamingSection } from './streaming'
import { benchTenants, tenantsSection } from './tenants'

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      scale: { type: 'string' },
      'soak-minutes': { type: 'string' },
      data: { type: 'string' },
      queries: { type: 'string' },
      gt: { type: 'string' },
      only: { type: 'string' },
      'no-peers': { type: 'boolean', default: false },
      real100k: { type: 'boolean', default: false },
    },
  })
  const WORKLOADS = ['flat', 'ann', 'latency', 'ivfpq', 'quant', 'memory', 'filtered', 'hybrid', 'batch', 'streaming', 'changes', 'named', 'tenants', 'lifecycle', 'soak'] as const
  const only = values.only?.split(',').map((s) => s.trim())
  for (const w of only ?? []) if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`--only takes ${WORKLOADS.join(', ')}; got '${w}'`)
  const runs = (w: (typeof WORKLOADS)[number]) => !only || only.includes(w)
  const quick = values.quick ?? false
  if (values.scale !== undefined && values.scale !== '1m') throw new Error(`--scale takes '1m', got '${values.scale}'`)
  const n = values.scale === '1m' ? 1_000_000 : 100_000
  const soakMinutes = Number(values['soak-minutes'] ?? (quick ? 1 / 3 : 30))
  const repeats = quick ? 1 : 3
  console.log(`Machine: ${machine()}${quick ? ' (quick mode)' : ''}\n`)

  const sift = sift5k()
  // 250 queries: the filtered bench holds the last 50 out to tune efSearch.
  const easy = clustered({ n: quick ? 20_000 : n, nq: 250, dim: 128, centres: 100, sigma: 20, seed: 7 })
  // The 100k x 384 set: overlapping clusters of the sentence-embedding shape, 5x debpkg20k.
  const big = () => clustered({ n: 100_000, nq: 300, dim: 384, centres: 300, sigma: 40, seed: 13 })
  const user: Dataset[] = []
  if (values.data) {
    if (!values.queries) throw new Error('--data needs --queries')
    const base = loadVectors(values.data)
    const queries = loadVectors(values.queries)
    const gt = values.gt ? loadVectors(values.gt) : undefined
    user.push({
      name: values.data,
      dim: base.dim,
      base: base.data as Float32Array,
      queries: queries.data as Float32Array,
      groundTruth: gt?.data as Int32Array | undefined,
      gtK: gt?.dim,
    })
  }

  const sections: string[] = []
  const json: RunResults & { quick: boolean; scale: number } = { quick, scale: n }
  const efs = quick ? [10, 16, 32, 64, 128] : [10, 16, 24, 32, 48, 64, 96, 128, 192, 256]

  if (runs('flat')) {
    const flat = []
    for (const [ds, nq] of [[sift, quick ? 200 : 500], [easy, quick ? 20 : 100], ...user.map((u) => [u, 100])] as [Dataset, number][]) {
      const r = await benchFlat(ds, nq, quick ? 3 : 5)
      console.log(`flat ${r.dataset}: ${r.flatSingle.median.toFixed(0)} q/s, ${r.ratio.toFixed(1)}x the JS scan, recall@10 ${r.recallAt10.toFixed(3)}`)
      flat.push(r)
    }
    const flatBatch = benchFlatBatch(quick)
    if ('error' in flatBatch) console.log(`flat batch: ${flatBatch.error}`)
    else console.log(`flat batch ${flatBatch.n} x ${flatBatch.dim}, one thread: ${flatBatch.singleQps.toFixed(0)} q/s single, ${flatBatch.batchQps.toFixed(0)} q/s batched (${(flatBatch.batchQps / flatBatch.singleQps).toFixed(1)}x)`)
    sections.push(flatSection(flat) + flatBatchSection(flatBatch))
    json.flat = flat
    json.flatBatch = flatBatch
  }

  if (runs('ann')) {
    const annSets: [Dataset, number, ('l2' | 'cosine')?, (readonly string[])?][] = []
    if (n === 1_000_000) {
      // The 1M run: the embedding shape (384-d, unit length, cosine) at 10x debpkg100k, beside
      // faiss (build time, peak RSS, recall and q/s); the Node peers would add an hour of builds.
      annSets.push([clustered({ n, nq: 200, dim: 384, centres: 1000, sigma: 40, seed: 17, unit: true }), 200, 'cosine', ['libravdb', 'faiss']])
    } else annSets.push([sift, 500], [easy, quick ? 100 : 200], ...user.map((u) => [u, 200] as [Dataset, number]))
    if (!quick && n !== 1_000_000) {
      // Overlapping clusters: where indexes differ (hnswlib needs ef ~64 for recall 0.95).
      annSets.push([clustered({ n, nq: 200, dim: 64, centres: 300, sigma: 40, seed: 11 }), 200])
      // Real sentence embeddings, the shape RAG services store (384-d, normalised): L2, and
      // cosine as they are searched (each library's cosine; faiss's inner product).
      annSets.push([debpkg20k(), 500], [debpkg20k(), 500, 'cosine'])
      if (values.real100k) annSets.push([debpkg100k(), 500], [debpkg100k(), 500, 'cosine'])
    }
    const ann = []
    for (const [ds, nq, metric, libs] of annSets) {
      const r = await benchAnn(ds, nq, efs, repeats, metric, libs)
      for (const x of r.results) {
        if ('error' in x) console.log(`hnsw ${r.dataset} ${x.lib}: unavailable (${x.error})`)
        else {
          const q = qpsAtRecall(x.sweep, 0.95)
          console.log(`hnsw ${r.dataset} ${x.lib}: build ${x.buildSeconds.toFixed(2)} s (${x.threads} threads), q/s at recall 0.95 ${q ? q.toFixed(0) : 'not reached'}, RSS ${x.rssBytesPerVector.toFixed(0)} B/vector${x.peakRssBytes ? `, peak RSS ${(x.peakRssBytes / 2 ** 30).toFixed(2)} GiB` : ''}`)
        }
      }
      ann.push(r)
    }
    sections.push(annSection(ann))
    json.ann = ann
  }

  if (runs('latency')) {
    const l = await benchLatency(debpkg20k(), quick)
    console.log(`latency: searchSync p50 ${l.syncP50Us.toFixed(0)} us, await search p50 ${l.awaitP50Us.toFixed(0)} us; ` +
      `${l.clients} clients ${(l.clientsQps / l.oneClientQps).toFixed(2)}x one, searchBatch ${(l.batchQps / l.oneClientQps).toFixed(2)}x`)
    sections.push(latencySection(l))
    json.latency = l
  }

  if (runs('ivfpq')) {
    const deb = debpkg20k()
    // debpkg20k is cosine (real sentence embeddings, unit length): what RAG users run; L2 beside it.
    const sets = quick
      ? [{ ds: deb, m: 48, metric: 'cosine' as const }]
      : [
          ...[48, 96].flatMap((m) => (['cosine', 'l2'] as const).map((metric) => ({ ds: deb, m, metric }))),
          { ds: big(), m: 48, metric: 'l2' as const },
          ...(values.real100k ? [48, 96].flatMap((m) => (['cosine', 'l2'] as const).map((metric) => ({ ds: debpkg100k(), m, metric }))) : []),
        ]
    const ivf = await benchIvfPq(sets, quick ? 200 : 500, repeats)
    for (const r of ivf) {
      const q = (x: (typeof r)['libravdb']) => ('error' in x ? x.error : `${qpsAtRecall(x.sweep, 0.9)?.toFixed(0) ?? 'n/a'} q/s at 0.90, build ${x.buildSeconds.toFixed(1)} s`)
      console.log(`ivfpq ${r.dataset} ${r.metric} m ${r.m}: libravdb ${q(r.libravdb)}; on disk ${q(r.libravdbDisk)}; faiss ${q(r.faiss)}; lancedb ${q(r.lancedb)}`)
    }
    sections.push(ivfpqSection(ivf))
    json.ivfpq = ivf
  }

  if (runs('quant')) {
    const quant = await benchQuant(easy, quick ? 100 : 200, efs, repeats)
    sections.push(quantSection(quant))
    json.quant = quant
    if (!quick) {
      // 384-d sentence embeddings: whether traversing codes pays off where distances cost more.
      const quant384 = await benchQuant(debpkg20k(), 500, efs, repeats)
      sections.push(quantSection(quant384))
      json.quant384 = quant384
    }
  }

  if (runs('memory')) {
    const base = quick ? 20_000 : n
    const memory = await benchMemory(easy, [base / 8, base / 4, base / 2, base])
    sections.push(memorySection(memory))
    json.memory = memory
    const storage = benchStorageModes(quick ? [5_000, 10_000] : [25_000, 50_000, 100_000, 200_000], 200)
    sections.push(storageModesSection(storage))
    json.storage = storage
  }

  if (runs('filtered')) {
    const filtered = await benchFiltered(easy, quick ? 100 : 200, !values['no-peers'])
    for (const x of filtered.results) {
      if ('error' in x) console.log(`filtered ${x.lib}: unavailable (${x.error})`)
      else console.log(`filtered ${x.lib} (efSearch ${x.efSearch}): ${x.points.map((p) => `${p.limit / 10}% recall ${p.recall.toFixed(3)} p99 ${p.p99ms.toFixed(2)} ms`).join('; ')}`)
    }
    sections.push(filteredSection(filtered))
    json.filtered = filtered
    // Real embeddings at the defaults, against the datasets' own filtered ground truth.
    const real = [await benchFilteredReal(debpkg20k(), quick ? 100 : 500)]
    if (values.real100k) real.push(await benchFilteredReal(debpkg100k(), 500))
    for (const r of real) console.log(`filtered ${r.dataset} at defaults: ${r.points.map((p) => `${p.limit / 10}% recall ${p.recall.toFixed(3)} p50 ${p.p50Us.toFixed(0)} us (${p.plan})`).join('; ')}`)
    sections.push(filteredRealSection(real))
    json.filteredReal = real
    if (!quick) {
      // The issue's shape: 384-d, where a row read costs three times more.
      const wide = await benchFiltered(big(), 200, !values['no-peers'])
      sections.push(filteredSection(wide, 'filtered-latency-384.svg'))
      json.filtered384 = wide
    }
  }

  if (runs('hybrid')) {
    const hybrid = await benchHybrid(quick)
    for (const run of hybrid.runs) {
      for (const x of run.results) {
        if ('error' in x) console.log(`hybrid ${run.data} ${x.lib}: unavailable (${x.error})`)
        else console.log(`hybrid ${run.data} ${x.lib}: text ${Math.round(x.text.qps)} q/s, vector ${Math.round(x.vector.qps)} q/s, hybrid ${Math.round(x.hybrid.qps)} q/s`)
      }
    }
    for (const row of hybrid.retrieval.rows) console.log(`retrieval ${row.signal}: first ${(row.top1 * 100).toFixed(1)}%`)
    sections.push(hybridSection(hybrid))
    json.hybrid = hybrid
  }

  if (runs('batch')) {
    const batch = await benchBatch(easy, quick)
    for (const b of batch) console.log(`${b.workload}: ${b.ratio.toFixed(1)}x`)
    sections.push(batchSection(batch))
    json.batch = batch
  }

  if (runs('streaming')) {
    const st = await benchStreaming(easy, quick)
    for (const r of st.rates) console.log(`streaming ${r.index} ${r.method}: ${r.recordsPerSec.toFixed(0)} records/s`)
    for (const m of st.memory) {
      console.log(m.error ? `ingest ${m.n}: ${m.error}` : `ingest ${m.n} (on disk): ${m.seconds!.toFixed(1)} s, peak anonymous RSS growth ${(m.peakAnonGrowth! / 2 ** 20).toFixed(0)} MiB`)
    }
    for (const t of st.transfer) console.log(`${t.format}: export ${t.exportMBps.toFixed(0)} MB/s, import ${t.importMBps.toFixed(0)} MB/s`)
    sections.push(streamingSection(st))
    json.streaming = st
  }

  if (runs('changes')) {
    const ch = await benchChanges(debpkg20k(), quick)
    console.log(`changes: read ${ch.read.changesPerSec.toFixed(0)} changes/s; writer ${ch.writerAlone.toFixed(0)} changes/s alone, ${ch.writerFollowed.toFixed(0)} followed; ` +
      ch.lag.map((l) => `${l.follower}: lag p50 ${l.p50Ms.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms`).join('; '))
    sections.push(changesSection(ch))
    json.changes = ch
  }

  if (runs('named')) {
    const nv = await benchNamed(debpkg20k(), quick ? 100 : 500, quick ? 1 : 5)
    console.log(`named: one vector ${nv.oneQps.toFixed(0)} q/s (recall ${nv.oneRecall.toFixed(3)}), field of two ${nv.fieldQps.toFixed(0)} q/s (recall ${nv.fieldRecall.toFixed(3)}); ` +
      `memory two fields ${(nv.twoFieldBytes / 2 ** 20).toFixed(1)} MiB vs ${((nv.oneBytes + nv.secondBytes) / 2 ** 20).toFixed(1)} MiB for the two alone`)
    sections.push(namedSection(nv))
    json.named = nv
  }

  if (runs('tenants')) {
    const t = await benchTenants(quick)
    console.log(`${t.collections} collections: ${t.createAndFillSeconds.toFixed(1)} s, ${(t.diskBytes / 2 ** 20).toFixed(1)} MiB on disk`)
    sections.push(tenantsSection(t))
    json.tenants = t
  }

  if (runs('lifecycle')) {
    const l = await benchLifecycle(easy, quick ? 20_000 : n, [sift, debpkg20k()])
    console.log(`lifecycle: promote ${l.promoteSeconds.toFixed(2)} s (fresh HNSW ${l.hnswBuildSeconds.toFixed(2)} s); ` +
      l.transitions.map((t) => `${t.from} -> ${t.to} ${t.rebuildSeconds.toFixed(2)} s (fresh ${t.freshSeconds.toFixed(2)} s)`).join('; '))
    console.log(`lifecycle: p99 ${l.p99IdleMs.toFixed(2)} ms idle, ${l.p99DuringRebuildMs.toFixed(2)} ms during rebuild; ` +
      l.tune.map((t) => `tune ${t.dataset}: efSearch ${t.efSearch}, sample ${t.sampleRecall.toFixed(3)}, held out ${t.heldOutRecall.toFixed(3)}`).join('; '))
    sections.push(lifecycleSection(l))
    json.lifecycle = l
  }

  if (runs('soak')) {
    const soak = benchSoak(Math.round(soakMinutes * 60), quick ? 5_000 : 50_000)
    console.log(`soak ${soak.seconds} s: ${soakSlopes(soak)}`)
    sections.push(soakSection(soak))
    json.soak = soak
  }

  sections.push(
    [
      '## Not measured yet',
      '',
      '- LanceDB in the HNSW and filtered workloads: it has no HNSW index of its own (IVF_HNSW_* are',
      '  IVF variants); it appears in the IVF-PQ comparison. @lancedb/lancedb 0.39 declares',
      '  `engines: node >= 22` and runs on this Node 20 with a warning.',
      '',
    ].join('\n'),
  )
  const dir = writeReport([headlineSection(json), ...sections], json)
  console.log(`\nReport: ${dir}/REPORT.md`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
