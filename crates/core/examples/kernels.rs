//! Times each distance kernel set this CPU runs against the scalar reference, then the rate at
//! which one core scores rows taken in random order from a table far larger than the caches
//! (a graph walk's access pattern, its bound):
//! `cargo run --release -p libravdb-core --example kernels`.

use std::hint::black_box;
use std::time::Instant;

use libravdb_core::distance::{DistanceFn, available_kernels, kernels, scalar};
use libravdb_core::vectors::prefetch_slice;
use rand::{RngExt, SeedableRng, rngs::StdRng};

fn time(name: &str, f: DistanceFn, base: &[f32], q: &[f32], dim: usize, scans: usize) {
    let t = Instant::now();
    let mut acc = 0.0f32;
    for _ in 0..scans {
        for row in base.chunks_exact(dim) {
            acc += f(black_box(q), row);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let bytes = (base.len() * 4 * scans) as f64;
    println!(
        "{name:>14}: {:6.2} GB/s  ({:.1} ns/distance)  [{acc:.0}]",
        bytes / secs / 1e9,
        secs * 1e9 / (scans * base.len() / dim) as f64
    );
}

fn main() {
    for (dim, n) in [(128usize, 100_000usize), (128, 4_000), (128, 256), (1536, 2_000)] {
        let base: Vec<f32> = (0..n * dim).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
        let q: Vec<f32> = (0..dim).map(|i| (i % 13) as f32 / 13.0).collect();
        let scans = (400_000_000 / (n * dim)).max(1);
        println!("dim {dim}, {n} rows ({} MB), L2:", n * dim * 4 / 1_000_000);
        time("scalar", scalar::l2_sq, &base, &q, dim, scans);
        for k in available_kernels() {
            time(k.isa, k.l2_sq, &base, &q, dim, scans);
        }
    }
    random_rows();
}

/// Scores 2,000,000 rows of a 100,000 x 384 table (154 MB) in a random order, prefetching the
/// row `ahead` places on (its first 512 bytes, as the HNSW walk does, or all of it).
fn random_rows() {
    let (rows, dim, n) = (100_000usize, 384usize, 2_000_000usize);
    let base: Vec<f32> = (0..rows * dim).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let q: Vec<f32> = (0..dim).map(|i| (i % 13) as f32 / 13.0).collect();
    let mut rng = StdRng::seed_from_u64(7);
    let order: Vec<usize> = (0..n).map(|_| rng.random_range(0..rows)).collect();
    let row = |r: usize| &base[r * dim..(r + 1) * dim];
    let dot = kernels().dot;
    println!("dim {dim}, {rows} rows ({} MB), rows in random order, inner product:", rows * dim * 4 / 1_000_000);
    for (ahead, whole) in [(0, false), (4, false), (16, false), (4, true), (16, true)] {
        let t = Instant::now();
        let mut acc = 0.0f32;
        for (i, &r) in order.iter().enumerate() {
            if ahead > 0
                && let Some(&next) = order.get(i + ahead)
            {
                if whole {
                    for line in row(next).chunks(16) {
                        prefetch_slice(line);
                    }
                } else {
                    prefetch_slice(row(next));
                }
            }
            acc += dot(black_box(&q), row(r));
        }
        let secs = t.elapsed().as_secs_f64();
        let what = if ahead == 0 {
            "no prefetch".to_string()
        } else {
            format!("prefetch {ahead} rows ahead, {}", if whole { "whole row" } else { "first 512 B" })
        };
        println!(
            "{what:>40}: {:6.2} GB/s  ({:.0} ns/row)  [{acc:.0}]",
            (n * dim * 4) as f64 / secs / 1e9,
            secs * 1e9 / n as f64
        );
    }
}
