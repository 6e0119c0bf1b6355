//! Builds HNSW on an fvecs file and prints build time and recall/QPS over an ef sweep:
//! `cargo run --release -p libravdb-core --example hnsw -- base.fvecs query.fvecs`.
//! `BATCH=N` links the rows in calls of N, as a collection filled by batches of N does.

mod common;

use std::time::Instant;

use common::read_fvecs;

use libravdb_core::{FlatIndex, HnswIndex, HnswParams, Metric, VecLinks, VectorRows};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (base, queries) = (read_fvecs(&args[1]), read_fvecs(&args[2]));
    let params = HnswParams::default();
    let mut links = VecLinks::new(params.level0_width());
    links.grow_to(base.rows());
    let mut g = HnswIndex::new(params, Metric::L2, links);
    g.add_rows(base.rows());
    let rows: Vec<u32> = (0..base.rows() as u32).collect();
    let t = Instant::now();
    let batch = std::env::var("BATCH").ok().and_then(|b| b.parse().ok()).unwrap_or(rows.len()).max(1);
    for chunk in rows.chunks(batch) {
        g.link(&base, chunk);
    }
    println!(
        "build {} x {}: {:.2} s on {} threads",
        base.rows(),
        base.dim(),
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    let flat = FlatIndex::new(Metric::L2);
    let truth: Vec<Vec<u32>> = (0..queries.rows() as u32)
        .map(|i| flat.search(&base, queries.row(i), 10, |_| true).iter().map(|n| n.row).collect())
        .collect();
    for ef in [10, 16, 24, 32, 48, 64, 96, 128] {
        let t = Instant::now();
        let mut hit = 0;
        for (i, want) in truth.iter().enumerate() {
            let got = g.search(&base, queries.row(i as u32), 10, ef, |_| true);
            hit += got.iter().filter(|n| want.contains(&n.row)).count();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "ef {ef:4}: recall@10 {:.4}  {:8.0} q/s",
            hit as f64 / (queries.rows() * 10) as f64,
            queries.rows() as f64 / secs
        );
    }
}
