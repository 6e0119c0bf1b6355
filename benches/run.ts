/**
 * `npm run bench [-- --quick] [-- --data base.fvecs --queries query.fvecs [--gt gt.ivecs]]`
 *
 * Runs the workloads, prints the tables and writes benches/results/REPORT.md + results.json.
 * `--quick` is the CI smoke run (well under 3 minutes).
 */
import { parseArgs } from 'node:util'
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
  const dir = writeReport([flatSection(flat)], { quick, flat })
  console.log(`\nReport: ${dir}/REPORT.md`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
