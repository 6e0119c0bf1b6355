//! Data shared by the examples.

use rand::RngExt;
use rand::rngs::StdRng;

/// `count` unit vectors (cosine) around `centres`, each component moved by up to `spread`.
#[allow(dead_code)] // not every example generates data
pub fn unit_clusters(rng: &mut StdRng, centres: &[Vec<f32>], count: usize, spread: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(count * centres[0].len());
    for _ in 0..count {
        let c = &centres[rng.random_range(0..centres.len())];
        let mut v: Vec<f32> = c.iter().map(|x| x + spread * rng.random_range(-1.0f32..1.0)).collect();
        libravdb_core::distance::normalize(&mut v);
        out.extend(v);
    }
    out
}

/// The vectors of an fvecs file (each row: its dimension as i32, then that many f32).
#[allow(dead_code)] // not every example reads files
pub fn read_fvecs(path: &str) -> libravdb_core::DenseVectors {
    let bytes = std::fs::read(path).expect("readable fvecs file");
    let dim = i32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let data = bytes
        .chunks_exact(4 * (dim + 1))
        .flat_map(|row| row[4..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())))
        .collect();
    libravdb_core::DenseVectors::new(dim, data)
}
