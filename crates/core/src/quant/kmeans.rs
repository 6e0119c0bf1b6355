//! k-means with k-means++ seeding (Arthur & Vassilvitskii, 2007) and a bounded number of
//! Lloyd iterations; the assignment step runs in parallel on the current rayon pool. Seeded:
//! the same data and seed give the same centroids.

use rand::{RngExt, SeedableRng, rngs::StdRng};
use rayon::prelude::*;

use crate::distance::Metric;
use crate::index::FlatIndex;
use crate::vectors::DenseVectors;

/// Points per parallel task of the assignment step of long vectors.
const ASSIGN_BLOCK: usize = 256;

/// Dimensions up to which the assignment step scores all centroids component by component
/// (product-quantizer sub-spaces: 2-16 components, where a kernel call per centroid costs
/// more than the arithmetic).
const SHORT_DIM: usize = 16;

/// The centroid nearest to `x` given the centroids by component (layout (dim, k)); `dist`
/// is scratch of length k. Product-quantizer training spends its time here: on x86-64 with
/// AVX2 the same code is compiled for 8-float vectors (the same operations in the same
/// order, so the same result).
fn nearest_short(x: &[f32], by_component: &[f32], dist: &mut [f32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { nearest_short_avx2(x, by_component, dist) };
    }
    nearest_short_body(x, by_component, dist)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn nearest_short_avx2(x: &[f32], by_component: &[f32], dist: &mut [f32]) -> usize {
    nearest_short_body(x, by_component, dist)
}

#[inline(always)]
fn nearest_short_body(x: &[f32], by_component: &[f32], dist: &mut [f32]) -> usize {
    let k = dist.len();
    dist.iter_mut().for_each(|d| *d = 0.0);
    for (d, &v) in x.iter().enumerate() {
        for (o, c) in dist.iter_mut().zip(&by_component[d * k..(d + 1) * k]) {
            *o += (v - c) * (v - c);
        }
    }
    argmin(dist)
}

/// Index of the smallest value (the first of equals; NaN never wins, 0 if all are NaN).
/// Two passes that vectorise, the minimum over 8 lanes then its first position, instead of
/// one chain of dependent comparisons (which dominated product-quantizer training).
#[inline(always)]
pub(crate) fn argmin(values: &[f32]) -> usize {
    let (chunks, tail) = values.as_chunks::<8>();
    let mut lanes = [f32::INFINITY; 8];
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = if v < *l { v } else { *l };
        }
    }
    let low = lanes.iter().chain(tail).fold(f32::INFINITY, |a, &v| if v < a { v } else { a });
    values.iter().position(|&v| v == low).unwrap_or(0)
}

/// Clusters `data` (layout (n, dim), n >= k) into `k` centroids (layout (k, dim)) by L2.
pub fn kmeans(data: &[f32], dim: usize, k: usize, iterations: usize, seed: u64) -> Vec<f32> {
    let n = data.len() / dim;
    assert!(k > 0 && n >= k, "k-means needs at least k points");
    let l2 = Metric::L2.kernel();
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let mut rng = StdRng::seed_from_u64(seed);

    // k-means++: each next centre drawn with probability proportional to D(x)^2.
    let mut centroids = Vec::with_capacity(k * dim);
    centroids.extend_from_slice(row(rng.random_range(0..n)));
    let mut nearest: Vec<f32> = (0..n).into_par_iter().map(|i| l2(row(i), &centroids[..dim])).collect();
    for c in 1..k {
        let total: f64 = nearest.iter().map(|&d| d as f64).sum();
        let pick = if total > 0.0 {
            let mut target = rng.random_range(0.0..total);
            nearest
                .iter()
                .position(|&d| {
                    target -= d as f64;
                    target < 0.0
                })
                .unwrap_or(n - 1)
        } else {
            rng.random_range(0..n)
        };
        centroids.extend_from_slice(row(pick));
        let newest = &centroids[c * dim..(c + 1) * dim];
        nearest.par_iter_mut().enumerate().for_each(|(i, d)| *d = d.min(l2(row(i), newest)));
    }

    // Lloyd iterations.
    let flat = FlatIndex::new(Metric::L2);
    let mut assign = vec![0usize; n];
    let mut by_component = vec![0.0f32; if dim <= SHORT_DIM { k * dim } else { 0 }];
    for _ in 0..iterations {
        if dim <= SHORT_DIM {
            for c in 0..k {
                for d in 0..dim {
                    by_component[d * k + c] = centroids[c * dim + d];
                }
            }
        }
        let changed: usize = if dim > SHORT_DIM {
            // Long vectors: each block of points against all centroids as a batch of exact
            // searches (blocked, four points per centroid read), k = 1.
            let table = DenseVectors::new(dim, centroids.clone());
            assign
                .par_chunks_mut(ASSIGN_BLOCK)
                .enumerate()
                .map(|(b, block)| {
                    let points = &data[b * ASSIGN_BLOCK * dim..(b * ASSIGN_BLOCK + block.len()) * dim];
                    let nearest = flat.search_batch(&table, points, 1, |_| true);
                    block.iter_mut().zip(nearest).fold(0, |moved, (a, n)| {
                        let best = n.first().map_or(0, |x| x.row as usize);
                        let m = (*a != best) as usize;
                        *a = best;
                        moved + m
                    })
                })
                .sum()
        } else {
            assign
                .par_iter_mut()
                .enumerate()
                .map_init(
                    || vec![0.0f32; if dim <= SHORT_DIM { k } else { 0 }],
                    |dist, (i, a)| {
                        let best = nearest_short(row(i), &by_component, dist);
                        let moved = (*a != best) as usize;
                        *a = best;
                        moved
                    },
                )
                .sum()
        };
        let mut sums = vec![0.0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (i, &c) in assign.iter().enumerate() {
            counts[c] += 1;
            for (s, &x) in sums[c * dim..(c + 1) * dim].iter_mut().zip(row(i)) {
                *s += x as f64;
            }
        }
        for c in 0..k {
            if counts[c] == 0 {
                // An empty cluster restarts at a random point.
                let p = rng.random_range(0..n);
                centroids[c * dim..(c + 1) * dim].copy_from_slice(row(p));
            } else {
                for d in 0..dim {
                    centroids[c * dim + d] = (sums[c * dim + d] / counts[c] as f64) as f32;
                }
            }
        }
        if changed == 0 {
            break;
        }
    }
    centroids
}
