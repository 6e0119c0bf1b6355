//! IVF-PQ search speed and recall on one thread, before/after comparisons of the ADC path:
//!
//!   cargo run --release -p libravdb-core --example ivfpq_speed -- [n] [dim] [m]
//!   cargo run --release -p libravdb-core --example ivfpq_speed -- base.fvecs query.fvecs [m] [cosine|l2]
//!
//! Data: unit vectors (cosine) around 200 random directions, or an fvecs file and its held-out
//! queries; recall@10 of the code ranking re-ranked on full precision (k x 16 candidates),
//! against exact search.

mod common;

use std::time::Instant;

use libravdb_core::index::ivf::{IvfPq, SAMPLE_PER_LIST, Scores, default_nlist};
use libravdb_core::vectors::DenseVectors;
use libravdb_core::{FlatIndex, Metric, VectorRows};
use rand::{RngExt, SeedableRng, rngs::StdRng};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (base, queries, m, metric) = if args.first().is_some_and(|a| a.ends_with(".fvecs")) {
        let (base, queries) = (common::read_fvecs(&args[0]), common::read_fvecs(&args[1]));
        let m = args.get(2).map_or(base.dim() / 4, |m| m.parse().expect("m is an integer"));
        let metric = Metric::parse(args.get(3).map_or("cosine", String::as_str)).expect("cosine, l2 or dot");
        (base, queries, m, metric)
    } else {
        let nums: Vec<usize> = args.iter().map(|a| a.parse().expect("integers")).collect();
        let (n, dim) = (nums.first().copied().unwrap_or(30_000), nums.get(1).copied().unwrap_or(384));
        let mut rng = StdRng::seed_from_u64(5);
        let centres: Vec<Vec<f32>> =
            (0..200).map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()).collect();
        let base = DenseVectors::new(dim, common::unit_clusters(&mut rng, &centres, n, 1.2));
        let queries = DenseVectors::new(dim, common::unit_clusters(&mut rng, &centres, 300, 1.2));
        (base, queries, nums.get(2).copied().unwrap_or(dim / 4), Metric::Cosine)
    };
    let (n, dim, nq) = (base.rows(), base.dim(), queries.rows());
    let nlist = default_nlist(n);
    let t0 = Instant::now();
    // A training sample as the engine takes one.
    let sample: Vec<f32> =
        (0..(nlist * SAMPLE_PER_LIST).clamp(4096, n) as u32).flat_map(|r| base.row(r).to_vec()).collect();
    let ivf = IvfPq::train(&sample, dim, metric, nlist, m, 8, 1).unwrap();
    let rows: Vec<u32> = (0..n as u32).collect();
    ivf.add(&base, &rows);
    println!(
        "{n} x {dim} ({}), nlist {nlist}, m {m}: trained and added in {:.1} s",
        metric.as_str(),
        t0.elapsed().as_secs_f64()
    );
    let flat = FlatIndex::new(metric);
    let truth: Vec<Vec<u32>> = (0..nq)
        .map(|q| flat.search(&base, queries.row(q as u32), 10, |_| true).iter().map(|x| x.row).collect())
        .collect();
    let kernel = metric.kernel();
    // Each nprobe twice, interleaved, best of three: codes scored for their distances (the
    // float table) and only to rank candidates, as the index scores before its re-rank (a byte
    // table from BYTE_TABLE_FROM_M sub-spaces).
    for nprobe in [4, 8, 16, 32, 64] {
        let mut best = [f64::INFINITY; 2];
        let mut hits = [0usize; 2];
        for round in 0..6 {
            let (way, scores) = if round % 2 == 0 { (0, Scores::Distances) } else { (1, Scores::Ranking) };
            let t0 = Instant::now();
            let mut hit = 0;
            for (q, want) in truth.iter().enumerate() {
                let query = queries.row(q as u32);
                let mut found = ivf.scan(query, &ivf.nearest_lists(query, nprobe), 160, scores, |_| true);
                for c in &mut found {
                    c.distance = kernel(query, base.row(c.row));
                }
                found.sort_unstable();
                hit += found.iter().take(10).filter(|x| want.contains(&x.row)).count();
            }
            best[way] = best[way].min(t0.elapsed().as_secs_f64());
            hits[way] = hit;
        }
        let shown =
            |w: usize| format!("recall@10 {:.3}, {:.0} q/s", hits[w] as f64 / (nq * 10) as f64, nq as f64 / best[w]);
        println!("nprobe {nprobe:>3}: distances {} | ranking {}", shown(0), shown(1));
    }
}
