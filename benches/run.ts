/**
 * `npm run bench [-- --quick] [-- --data base.fvecs --queries query.fvecs [--gt gt.ivecs]]`
 *
 * Runs the workloads, prints the tables and writes benches/results/REPORT.md + results.json.
 * `--quick` is the CI smoke run (well under 3 minutes).
 */
import { parseArgs } from 'node:util'
import { annSection, benchAnn, qpsAtRecall } from './ann'
import { type Dataset, clustered, readVecs, sift5k } from './datasets'
import { benchFlat, flatSection } from './flat'
import { machine, writeReport } from './harness'

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      data: { type: 'string' },
      queries: { type: 'string' },
      gt: { type: 'string' },
    },
  })
  const quick = values.quick ?? false
  const repeats = quick ? 3 : 5
  const datasets: { ds: Dataset; nq: number }[] = [
    { ds: sift5k(), nq: quick ? 200 : 500 },
    { ds: clustered({ n: 100_000, nq: 200, dim: 128, centres: 100, sigma: 20, seed: 7 }), nq: quick ? 20 : 100 },
  ]
  if (values.data) {
    if (!values.queries) throw new Error('--data needs --queries (an fvecs file of queries)')
    const base = readVecs(values.data)
    const queries = readVecs(values.queries)
    const gt = values.gt ? readVecs(values.gt) : undefined
    datasets.push({
      ds: {
        name: values.data,
        dim: base.dim,
        base: base.data as Float32Array,
        queries: queries.data as Float32Array,
        groundTruth: gt?.data as Int32Array | undefined,
        gtK: gt?.dim,
      },
      nq: quick ? 20 : 100,
    })
  }
  console.log(`Machine: ${machine()}${quick ? ' (quick mode)' : ''}\n`)
  const flat = []
  for (const { ds, nq } of datasets) {
    const r = await benchFlat(ds, nq, repeats)
    console.log(
      `${r.dataset}: JS scan ${r.jsScan.median.toFixed(0)} q/s, flat 1 thread ${r.flatSingle.median.toFixed(0)} q/s ` +
        `(${r.ratio.toFixed(1)}x, ${r.gbScannedPerSec.toFixed(1)} GB/s), batch ${r.flatBatch.median.toFixed(0)} q/s, recall@10 ${r.recallAt10.toFixed(3)}`,
    )
    flat.push(r)
  }
  const efs = quick ? [10, 16, 32, 64, 128] : [10, 16, 24, 32, 48, 64, 96, 128, 192, 256]
  const annSets: { ds: Dataset; nq: number }[] = [
    { ds: datasets[0].ds, nq: 500 },
    {
      ds: quick ? clustered({ n: 20_000, nq: 200, dim: 128, centres: 100, sigma: 20, seed: 7 }) : datasets[1].ds,
      nq: quick ? 100 : 200,
    },
  ]
  if (!quick) {
    // Overlapping clusters: where indexes differ (hnswlib needs ef ~64 for recall 0.95).
    annSets.push({ ds: clustered({ n: 100_000, nq: 200, dim: 64, centres: 300, sigma: 40, seed: 11 }), nq: 200 })
  }
  const ann = []
  for (const { ds, nq } of annSets) {
    const r = await benchAnn(ds, nq, efs, quick ? 1 : 3)
    for (const x of r.results) {
      if ('error' in x) console.log(`${r.dataset} ${x.lib}: unavailable (${x.error})`)
      else {
        const q = qpsAtRecall(x.sweep, 0.95)
        console.log(`${r.dataset} ${x.lib}: build ${x.buildSeconds.toFixed(2)} s (${x.threads} threads), q/s at recall 0.95 ${q ? q.toFixed(0) : 'not reached'}, RSS ${x.rssBytesPerVector.toFixed(0)} B/vector`)
      }
    }
    ann.push(r)
  }
  const dir = writeReport([flatSection(flat), annSection(ann)], { quick, flat, ann })
  console.log(`\nReport: ${dir}/REPORT.md`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
