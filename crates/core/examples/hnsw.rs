//! Builds HNSW on an fvecs file and prints build time and recall/QPS over an ef sweep:
//! `cargo run --release -p libravdb-core --example hnsw -- base.fvecs query.fvecs`.
//! `BATCH=N` links the rows in calls of N, as a collection filled by batches of N does;
//! `ROUNDS=N` times each efSearch N times (best kept); `CODES=dot` or `CODES=l2` walks 8-bit
//! codes (below); with `RERANK=N` too, each efSearch compares, on the same graph, full
//! precision against code walks that return k x N candidates re-ranked on full precision, at
//! a beam of efSearch and of `code_walk_beam` (what a collection's code walk takes).

mod common;

use std::cell::Cell;
use std::time::Instant;

use common::read_fvecs;

use libravdb_core::index::hnsw::Scorer;
use libravdb_core::index::{CodeScorer, code_walk_beam, rerank};
use libravdb_core::quant::{Quantizer, ScalarQuantizer};
use libravdb_core::{DenseVectors, FlatIndex, HnswIndex, HnswParams, Metric, VecLinks, VectorRows};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (base, queries) = (read_fvecs(&args[1]), read_fvecs(&args[2]));
    let params = HnswParams::default();
    let mut links = VecLinks::new(params.level0_width());
    links.grow_to(base.rows());
    let mut idx = HnswIndex::new(params, Metric::L2, links);
    idx.add_rows(base.rows());
    let rows: Vec<u32> = (0..base.rows() as u32).collect();
    let t = Instant::now();
    let batch = std::env::var("BATCH").ok().and_then(|b| b.parse().ok()).unwrap_or(rows.len()).max(1);
    for chunk in rows.chunks(batch) {
        idx.link(&base, chunk);
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
    // `CODES=dot` (or 1): walk 8-bit scalar codes by inner product (the vectors must be unit
    // length, as a cosine collection stores them); `CODES=l2`: by L2. Not re-ranked: the code
    // walk's own cost and recall.
    let codes_metric = std::env::var("CODES").ok().map(|m| if m == "l2" { Metric::L2 } else { Metric::Dot });
    let codes = codes_metric.map(|_| {
        let sq = Quantizer::Scalar(ScalarQuantizer::train(&base_flat(&base), base.dim(), 8).expect("trainable"));
        let mut codes = vec![0u8; base.rows() * base.dim()];
        for (r, code) in codes.chunks_exact_mut(base.dim()).enumerate() {
            sq.encode(base.row(r as u32), code);
        }
        let terms: Vec<f32> = codes.chunks_exact(base.dim()).filter_map(|c| sq.row_term(c)).collect();
        (sq, codes, terms)
    });
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(1);
    if let (Some((sq, codes, terms)), Some(metric), Some(depth)) =
        (&codes, codes_metric, std::env::var("RERANK").ok().and_then(|r| r.parse::<usize>().ok()))
    {
        // Forms interleaved per round, so a burst of load hits all of them.
        for ef in [16usize, 24, 32, 48, 64, 96, 128, 192, 256] {
            let beams = [ef, code_walk_beam(ef)];
            let mut best = [f64::MAX; 3];
            let mut hits = [0usize; 3];
            for _ in 0..rounds {
                for (form, best) in best.iter_mut().enumerate() {
                    let t = Instant::now();
                    hits[form] = 0;
                    for (i, want) in truth.iter().enumerate() {
                        let q = queries.row(i as u32);
                        let got = if form == 0 {
                            idx.search_scored(&idx.vector_scorer(&base, q), 10, ef, |_| true)
                        } else {
                            let scorer = CodeScorer::new(sq.prepare(q, metric), codes, base.dim(), terms);
                            let found =
                                idx.search_scored(&scorer, 10 * depth, beams[form - 1].max(10 * depth), |_| true);
                            rerank(&base, Metric::L2.kernel(), q, found, 10)
                        };
                        hits[form] += got.iter().filter(|n| want.contains(&n.row)).count();
                    }
                    *best = best.min(t.elapsed().as_secs_f64());
                }
            }
            let recall = |h: usize| h as f64 / (queries.rows() * 10) as f64;
            println!(
                "ef {ef:4}: full {:.4} {:6.0} q/s | codes beam {:3}: {:.4} {:6.0} q/s | codes beam {:3}: {:.4} {:6.0} q/s",
                recall(hits[0]),
                queries.rows() as f64 / best[0],
                beams[0],
                recall(hits[1]),
                queries.rows() as f64 / best[1],
                beams[1],
                recall(hits[2]),
                queries.rows() as f64 / best[2],
            );
        }
        return;
    }
    for ef in [10, 16, 24, 32, 48, 64, 96, 128] {
        let mut best = f64::MAX;
        let mut hit = 0;
        let scored = Cell::new(0usize);
        for _ in 0..rounds {
            let t = Instant::now();
            hit = 0;
            scored.set(0);
            for (i, want) in truth.iter().enumerate() {
                let q = queries.row(i as u32);
                let got = match (&codes, codes_metric) {
                    (Some((sq, codes, terms)), Some(metric)) => {
                        let scorer = CodeScorer::new(sq.prepare(q, metric), codes, base.dim(), terms);
                        idx.search_scored(&Counting { scorer, scored: &scored }, 10, ef, |_| true)
                    }
                    _ => idx.search_scored(
                        &Counting { scorer: idx.vector_scorer(&base, q), scored: &scored },
                        10,
                        ef,
                        |_| true,
                    ),
                };
                hit += got.iter().filter(|n| want.contains(&n.row)).count();
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "ef {ef:4}: recall@10 {:.4}  {:8.0} q/s (best of {rounds}), {:.0} rows scored per query",
            hit as f64 / (queries.rows() * 10) as f64,
            queries.rows() as f64 / best,
            scored.get() as f64 / queries.rows() as f64
        );
    }
}

fn base_flat(b: &DenseVectors) -> Vec<f32> {
    (0..b.rows() as u32).flat_map(|r| b.row(r).to_vec()).collect()
}

/// Counts the rows `scorer` scores.
struct Counting<'a, S> {
    scorer: S,
    scored: &'a Cell<usize>,
}

impl<S: Scorer> Scorer for Counting<'_, S> {
    fn score(&self, row: u32) -> f32 {
        self.scored.set(self.scored.get() + 1);
        self.scorer.score(row)
    }
    fn score4(&self, rows: [u32; 4]) -> [f32; 4] {
        self.scored.set(self.scored.get() + 4);
        self.scorer.score4(rows)
    }
    fn prefetch(&self, row: u32) {
        self.scorer.prefetch(row)
    }
    fn prefetch_next_node(&self) -> bool {
        self.scorer.prefetch_next_node()
    }
}
