//! Measures what the filter planner must choose between, on one thread: for each selectivity,
//! scoring the matching rows exactly, and an HNSW walk that returns only matches at the
//! smallest beam reaching the target recall@10 (0.95 unless `--target=R`); beside the
//! unfiltered walk at that recall. The planner's cost model (`HnswIndex::filtered_route`) is
//! calibrated against this.
//!
//!   cargo run --release -p libravdb-core --example filtered_calibration -- [n] [dim] [--target=R]
//!   cargo run --release -p libravdb-core --example filtered_calibration -- base.fvecs query.fvecs [--cosine] [--target=R]
//!
//! Data: `n` unit vectors (cosine) around 200 random directions, queries drawn the same way
//! (or the fvecs files, L2 unless `--cosine`); a row matches a filter of selectivity s when a
//! hash of its row falls below s.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use libravdb_core::index::{FilteredRoute, VectorIndex};
use libravdb_core::vectors::DenseVectors;
use libravdb_core::{FlatIndex, HnswIndex, HnswParams, Metric, VecLinks, VectorRows};
use rand::{RngExt, SeedableRng, rngs::StdRng};

const K: usize = 10;

/// The vectors, counting the rows a search reads (its distance computations).
struct Counting<'a>(&'a DenseVectors, AtomicUsize);

impl VectorRows for Counting<'_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn rows(&self) -> usize {
        self.0.rows()
    }
    fn row(&self, row: u32) -> &[f32] {
        self.1.fetch_add(1, Ordering::Relaxed);
        self.0.row(row)
    }
    fn runs(&self, f: &mut dyn FnMut(u32, &[f32])) {
        self.0.runs(f)
    }
    fn prefetch(&self, row: u32) {
        self.0.prefetch(row)
    }
}

/// Rows read per query by `search` over `v`, averaged over the queries.
fn rows_read(v: &DenseVectors, nq: usize, search: impl Fn(&Counting, usize)) -> f64 {
    let counting = Counting(v, AtomicUsize::new(0));
    for q in 0..nq {
        search(&counting, q);
    }
    counting.1.load(Ordering::Relaxed) as f64 / nq as f64
}

fn matches(row: u32, selectivity: f64) -> bool {
    let h = (row as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    (h as f64) < selectivity * (1u64 << 24) as f64
}

/// Median latency (ms) and the results of `search` over every query.
fn run(nq: usize, mut search: impl FnMut(usize) -> Vec<u32>) -> (f64, Vec<Vec<u32>>) {
    let mut times = Vec::with_capacity(nq);
    let mut out = Vec::with_capacity(nq);
    for q in 0..nq {
        let t0 = Instant::now();
        out.push(search(q));
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[nq / 2], out)
}

fn recall(got: &[Vec<u32>], truth: &[Vec<u32>]) -> f64 {
    let hit: usize = got.iter().zip(truth).map(|(g, t)| g.iter().filter(|r| t.contains(r)).count()).sum();
    hit as f64 / truth.iter().map(Vec::len).sum::<usize>().max(1) as f64
}

fn main() {
    let (flags, args): (Vec<String>, Vec<String>) = std::env::args().skip(1).partition(|a| a.starts_with("--"));
    let target: f64 = flags
        .iter()
        .find_map(|f| f.strip_prefix("--target="))
        .map_or(0.95, |t| t.parse().expect("--target=R takes a recall"));
    let file_metric = if flags.iter().any(|f| f == "--cosine") { Metric::Cosine } else { Metric::L2 };
    let (base, queries, metric) = if args.first().is_some_and(|a| a.ends_with(".fvecs")) {
        (common::read_fvecs(&args[0]), common::read_fvecs(&args[1]), file_metric)
    } else {
        let n = args.first().map_or(100_000, |a| a.parse().expect("n is an integer"));
        let dim = args.get(1).map_or(384, |a| a.parse().expect("dim is an integer"));
        let mut rng = StdRng::seed_from_u64(17);
        let centres: Vec<Vec<f32>> =
            (0..200).map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()).collect();
        let base = DenseVectors::new(dim, common::unit_clusters(&mut rng, &centres, n, 0.9));
        (base, DenseVectors::new(dim, common::unit_clusters(&mut rng, &centres, 200, 0.9)), Metric::Cosine)
    };
    let (n, dim, nq) = (base.rows(), base.dim(), queries.rows().min(200));
    let q = |i: usize| queries.row(i as u32);

    let t0 = Instant::now();
    let params = HnswParams::default();
    let mut links = VecLinks::new(params.level0_width());
    links.grow_to(n);
    let mut hnsw = HnswIndex::new(params, metric, links);
    hnsw.add_rows(n);
    let rows: Vec<u32> = (0..n as u32).collect();
    VectorIndex::add(&hnsw, &base, &rows);
    println!("{n} x {dim}: HNSW m 16, efConstruction 200 built in {:.1} s", t0.elapsed().as_secs_f64());
    let flat = FlatIndex::new(metric);
    let efs = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];

    let truth_all = run(nq, |i| flat.search(&base, q(i), K, |_| true).iter().map(|x| x.row).collect()).1;
    let mut unfiltered = None;
    for &ef in &efs {
        let (p50, got) = run(nq, |i| hnsw.search(&base, q(i), K, ef, |_| true).iter().map(|x| x.row).collect());
        if recall(&got, &truth_all) >= target {
            unfiltered = Some((ef, p50));
            break;
        }
    }
    let (ef0, p50_0) = unfiltered.expect("target recall reached unfiltered");
    let reads0 = rows_read(&base, nq, |v, i| {
        hnsw.search(v, q(i), K, ef0, |_| true);
    });
    println!("unfiltered: ef {ef0}, p50 {p50_0:.3} ms, {reads0:.0} rows read per query\n");
    println!(
        "selectivity | matches | exact p50 ms | graph ef@{target} | graph p50 ms | graph rows read | at ef {ef0}: p50 ms, rows, recall | best / unfiltered | planner chooses"
    );
    for s in [0.01, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.8] {
        let allowed: Vec<u32> = (0..n as u32).filter(|&r| matches(r, s)).collect();
        let (exact_p50, truth) =
            run(nq, |i| flat.search_rows_batch(&base, &allowed, q(i), K).remove(0).iter().map(|x| x.row).collect());
        let mut graph = None;
        for &ef in &efs {
            let (p50, got) =
                run(nq, |i| hnsw.search(&base, q(i), K, ef, |r| matches(r, s)).iter().map(|x| x.row).collect());
            if recall(&got, &truth) >= target {
                graph = Some((ef, p50));
                break;
            }
        }
        let (p50_at0, got0) =
            run(nq, |i| hnsw.search(&base, q(i), K, ef0, |r| matches(r, s)).iter().map(|x| x.row).collect());
        let reads_at0 = rows_read(&base, nq, |v, i| {
            hnsw.search(v, q(i), K, ef0, |r| matches(r, s));
        });
        let at0 = format!("{p50_at0:.3}, {reads_at0:.0}, {:.3}", recall(&got0, &truth));
        let route = match VectorIndex::<DenseVectors>::filtered_route(&hnsw, K, ef0, allowed.len(), n) {
            FilteredRoute::Exact { .. } => "exact".to_string(),
            FilteredRoute::Search { breadth, .. } => format!("graph ef {breadth}"),
        };
        let (gef, gp50) = graph.map_or(("-".to_string(), f64::NAN), |(e, p)| (e.to_string(), p));
        let reads = graph.map_or(f64::NAN, |(ef, _)| {
            rows_read(&base, nq, |v, i| {
                hnsw.search(v, q(i), K, ef, |r| matches(r, s));
            })
        });
        let best = exact_p50.min(if gp50.is_nan() { f64::INFINITY } else { gp50 });
        println!(
            "{s:>11} | {:>7} | {exact_p50:>12.3} | {gef:>13} | {gp50:>12.3} | {reads:>15.0} | {at0:>24} | {:>17.2} | {route}",
            allowed.len(),
            best / p50_0,
        );
    }
}
