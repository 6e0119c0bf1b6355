//! Data shared by the calibration examples.

use rand::RngExt;
use rand::rngs::StdRng;

/// `count` unit vectors (cosine) around `centres`, each component moved by up to `spread`.
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
