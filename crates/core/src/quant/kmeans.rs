//! k-means with k-means++ seeding (Arthur & Vassilvitskii, 2007) and a bounded number of
//! Lloyd iterations; the assignment step runs in parallel on the current rayon pool. Seeded:
//! the same data and seed give the same centroids.

use rand::{RngExt, SeedableRng, rngs::StdRng};
use rayon::prelude::*;

use crate::distance::Metric;

/// Dimensions up to which the assignment step scores all centroids component by component
/// (product-quantizer sub-spaces: 2-16 components, where a kernel call per centroid costs
/// more than the arithmetic).
const SHORT_DIM: usize = 16;

/// The centroid nearest to `x` given the centroids by component (layout (dim, k)); `dist`
/// is scratch of length k.
fn nearest_short(x: &[f32], by_component: &[f32], dist: &mut [f32]) -> usize {
    let k = dist.len();
    dist.iter_mut().for_each(|d| *d = 0.0);
    for (d, &v) in x.iter().enumerate() {
        for (o, c) in dist.iter_mut().zip(&by_component[d * k..(d + 1) * k]) {
            *o += (v - c) * (v - c);
        }
    }
    argmin(dist)
}

/// Index of the smallest value (the first of equals).
pub(crate) fn argmin(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v < values[best] {
            best = i;
        }
    }
    best
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
        let changed: usize = assign
            .par_iter_mut()
            .enumerate()
            .map_init(
                || vec![0.0f32; if dim <= SHORT_DIM { k } else { 0 }],
                |dist, (i, a)| {
                    let best = if dim <= SHORT_DIM {
                        nearest_short(row(i), &by_component, dist)
                    } else {
                        (0..k)
                            .map(|c| (l2(row(i), &centroids[c * dim..(c + 1) * dim]), c))
                            .min_by(|x, y| x.0.total_cmp(&y.0))
                            .map_or(0, |b| b.1)
                    };
                    let moved = (*a != best) as usize;
                    *a = best;
                    moved
                },
            )
            .sum();
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
