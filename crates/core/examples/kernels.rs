//! Times each distance kernel set this CPU runs against the scalar reference:
//! `cargo run --release -p libravdb-core --example kernels`.

use std::hint::black_box;
use std::time::Instant;

use libravdb_core::distance::{DistanceFn, available_kernels, scalar};

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
}
