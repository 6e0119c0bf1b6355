//! Where IVF-PQ training time goes, on an fvecs file filled as the engine fills it: trained
//! on the first `batch` rows (sqrt lists), retrained once the rows reach 2 x nlist^2 with lists
//! for twice the rows (engine `collection/ivf.rs`):
//!
//!   cargo run --release -p libravdb-core --example ivfpq_build -- base.fvecs [m] [batch]
//!
//! Prints, per training, the coarse k-means, the codebooks (with the residuals they learn
//! from) and the adding of every row, on the global rayon pool (all cores).

mod common;

use std::time::Instant;

use libravdb_core::index::ivf::{IvfPq, SAMPLE_PER_LIST, default_nlist};
use libravdb_core::quant::{ProductQuantizer, kmeans};
use libravdb_core::{Metric, VectorRows};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = common::read_fvecs(&args[1]);
    let dim = base.dim();
    let m: usize = args.get(2).map_or(48, |a| a.parse().expect("m"));
    let batch: usize = args.get(3).map_or(10_000, |a| a.parse().expect("batch"));
    let n = base.rows();
    let mut trained_at = None::<usize>;
    let mut total = 0.0;
    let mut filled = 0;
    while filled < n {
        filled = (filled + batch).min(n);
        let due = trained_at.is_none_or(|nlist: usize| filled >= 2 * nlist * nlist);
        if !due {
            continue;
        }
        let nlist = default_nlist(if trained_at.is_some() { 2 * filled } else { filled });
        let want = (nlist * SAMPLE_PER_LIST).max(ProductQuantizer::min_sample(8)).min(filled);
        // An even stride over the filled rows, as the engine samples.
        let sample: Vec<f32> = (0..want).flat_map(|i| base.row((i * filled / want) as u32).to_vec()).collect();
        let t = Instant::now();
        let centroids = kmeans(&sample, dim, nlist, 20, 1);
        let coarse = t.elapsed().as_secs_f64();
        drop(centroids);
        let t = Instant::now();
        let ivf = IvfPq::train(&sample, dim, Metric::Cosine, nlist, m, 8, 1).unwrap();
        let train = t.elapsed().as_secs_f64();
        let t = Instant::now();
        ivf.add(&base, &(0..filled as u32).collect::<Vec<_>>());
        let add = t.elapsed().as_secs_f64();
        total += train + add;
        println!(
            "{filled} rows, nlist {nlist}, sample {want}: coarse k-means {coarse:.2} s, train (coarse + codebooks) {train:.2} s, add {add:.2} s"
        );
        trained_at = Some(nlist);
    }
    println!("total train + add {total:.2} s on {} threads", rayon::current_num_threads());
}
