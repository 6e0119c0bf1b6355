//! k-means with k-means++ seeding (Arthur & Vassilvitskii, 2007) and a bounded number of
//! Lloyd iterations; the assignment step runs in parallel on the current rayon pool. Seeded:
//! the same data and seed give the same centroids.

use rand::{RngExt, SeedableRng, rngs::StdRng};
use rayon::prelude::*;

use crate::distance::Metric;

/// Points per block of the k-means++ draw (and per parallel task of its update).
const PICK_BLOCK: usize = 256;

/// Points per parallel task of the assignment step of long vectors.
const ASSIGN_BLOCK: usize = 256;

/// Dimensions up to which the assignment step scores all centroids component by component
/// (product-quantizer sub-spaces: 2-16 components, where a kernel call per centroid costs
/// more than the arithmetic).
const SHORT_DIM: usize = 16;

/// Points the short-vector assignment scores together: each centroid column it loads serves
/// all of them.
const SHORT_POINTS: usize = 4;

/// The centroids nearest to four points `xs` (each `dim` long, dim <= [`SHORT_DIM`]), given
/// the centroids by component (layout (dim, k)) and their squared lengths `norms`; `dist` is
/// scratch of 4k. Ranks by `|c|^2 - 2 x·c`, the order of `|x - c|^2`. Product-quantizer
/// training spends its time here: with AVX2 and FMA, per component a column of 16 centroids
/// is loaded once for four points and multiplied into sums held in registers (the distance
/// form loaded, subtracted, squared and stored every centroid's sum per component per point).
pub(crate) fn nearest_short4(
    xs: [&[f32]; SHORT_POINTS],
    by_component: &[f32],
    norms: &[f32],
    dist: &mut [f32],
) -> [usize; 4] {
    let (k, dim) = (norms.len(), xs[0].len());
    assert!(xs.iter().all(|x| x.len() == dim) && by_component.len() >= dim * k && dist.len() >= SHORT_POINTS * k);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA; the lengths are checked above.
        return unsafe { nearest_short4_avx2(xs, by_component, norms, dist) };
    }
    short_dists(xs, by_component, norms, dist, 0);
    std::array::from_fn(|p| argmin(&dist[p * k..(p + 1) * k]))
}

/// `dist[p * k + c] = norms[c] - 2 xs[p]·c` for centroids `from..k`, one at a time.
#[inline(always)]
fn short_dists(xs: [&[f32]; SHORT_POINTS], by_component: &[f32], norms: &[f32], dist: &mut [f32], from: usize) {
    let k = norms.len();
    for c in from..k {
        for (p, x) in xs.iter().enumerate() {
            let dot: f32 = x.iter().enumerate().map(|(d, v)| v * by_component[d * k + c]).sum();
            dist[p * k + c] = norms[c] - 2.0 * dot;
        }
    }
}

/// [`nearest_short4`] with `dist[p * k + c] = norms[c] - 2 xs[p]·c` computed for blocks of 16
/// centroids in eight registers (the rest one by one), and the minima found with AVX2 blends
/// (SSE2 has none: compiled for it, the minimum's position tracking ran scalar, 16% of
/// training). The caller checks the lengths.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn nearest_short4_avx2(
    xs: [&[f32]; SHORT_POINTS],
    by_component: &[f32],
    norms: &[f32],
    dist: &mut [f32],
) -> [usize; 4] {
    use std::arch::x86_64::*;
    let (k, dim) = (norms.len(), xs[0].len());
    let blocked = k - k % 16;
    let two = _mm256_set1_ps(2.0);
    for b in (0..blocked).step_by(16) {
        let mut acc = [_mm256_setzero_ps(); 2 * SHORT_POINTS];
        for d in 0..dim {
            // SAFETY: d * k + b + 16 <= dim * k <= by_component.len(); d < dim = xs[p].len().
            unsafe {
                let column = by_component.as_ptr().add(d * k + b);
                let (c0, c1) = (_mm256_loadu_ps(column), _mm256_loadu_ps(column.add(8)));
                for (p, x) in xs.iter().enumerate() {
                    let x = _mm256_set1_ps(*x.get_unchecked(d));
                    acc[2 * p] = _mm256_fmadd_ps(x, c0, acc[2 * p]);
                    acc[2 * p + 1] = _mm256_fmadd_ps(x, c1, acc[2 * p + 1]);
                }
            }
        }
        // SAFETY: b + 16 <= k = norms.len(); p * k + b + 16 <= 4k <= dist.len().
        unsafe {
            let (n0, n1) = (_mm256_loadu_ps(norms.as_ptr().add(b)), _mm256_loadu_ps(norms.as_ptr().add(b + 8)));
            for p in 0..SHORT_POINTS {
                let out = dist.as_mut_ptr().add(p * k + b);
                _mm256_storeu_ps(out, _mm256_fnmadd_ps(two, acc[2 * p], n0));
                _mm256_storeu_ps(out.add(8), _mm256_fnmadd_ps(two, acc[2 * p + 1], n1));
            }
        }
    }
    short_dists(xs, by_component, norms, dist, blocked);
    // A loop, not a closure: a closure would be compiled without AVX2.
    let mut nearest = [0; SHORT_POINTS];
    for (p, n) in nearest.iter_mut().enumerate() {
        *n = argmin(&dist[p * k..(p + 1) * k]);
    }
    nearest
}

/// Index of the smallest value (the first of equals; NaN never wins, 0 if all are NaN).
/// One pass over 8 lanes, each keeping its minimum and where it was (compare and blend, which
/// vectorise), instead of one chain of dependent comparisons (which dominated
/// product-quantizer training) or a second pass to find the minimum's position.
#[inline(always)]
pub(crate) fn argmin(values: &[f32]) -> usize {
    let (chunks, tail) = values.as_chunks::<8>();
    let mut lanes = [f32::INFINITY; 8];
    let mut at = [u32::MAX; 8];
    for (i, c) in chunks.iter().enumerate() {
        for (j, ((l, a), &v)) in lanes.iter_mut().zip(&mut at).zip(c).enumerate() {
            let smaller = v < *l;
            *l = if smaller { v } else { *l };
            *a = if smaller { (i * 8 + j) as u32 } else { *a };
        }
    }
    // Across lanes the smallest value wins, the earlier index among equals.
    let mut best = (f32::INFINITY, u32::MAX);
    for (&l, &a) in lanes.iter().zip(&at) {
        if l < best.0 || (l == best.0 && a < best.1) {
            best = (l, a);
        }
    }
    for (j, &v) in tail.iter().enumerate() {
        if v < best.0 {
            best = (v, (chunks.len() * 8 + j) as u32);
        }
    }
    if best.1 == u32::MAX {
        // Nothing below infinity: the first infinity, else (all NaN) 0.
        return values.iter().position(|&v| v == f32::INFINITY).unwrap_or(0);
    }
    best.1 as usize
}

/// The squared length of each row of `rows` (layout (n, dim)).
pub fn squared_lengths(rows: &[f32], dim: usize) -> Vec<f32> {
    rows.chunks_exact(dim).map(|c| c.iter().map(|x| x * x).sum()).collect()
}

/// Centroids of long vectors (layout (k, dim)) with their squared lengths, ready to find the
/// nearest of them to blocks of points.
pub struct Centroids<'a> {
    centroids: &'a [f32],
    dim: usize,
    norms: std::borrow::Cow<'a, [f32]>,
}

impl<'a> Centroids<'a> {
    pub fn new(centroids: &'a [f32], dim: usize) -> Self {
        Self { centroids, dim, norms: squared_lengths(centroids, dim).into() }
    }

    /// With the squared lengths already at hand (from [`squared_lengths`]).
    pub fn with_norms(centroids: &'a [f32], dim: usize, norms: &'a [f32]) -> Self {
        Self { centroids, dim, norms: norms.into() }
    }

    /// The nearest centroid by L2 to each point of `points` (layout (n, dim)), ranked by
    /// `|c|^2 - 2 x·c` (the order of `|x - c|^2`) with the dot products of the whole block as
    /// one matrix product (`matrixmultiply`'s sgemm, register-blocked: 2-3x the pace of
    /// distance kernels reading each centroid once per four points). `scratch` is reused.
    pub fn nearest(&self, points: &[f32], scratch: &mut Vec<f32>) -> Vec<usize> {
        let (dim, k) = (self.dim, self.norms.len());
        let n = points.len() / dim;
        scratch.clear();
        scratch.resize(n * k, 0.0);
        // SAFETY: points is (n, dim) row-major, centroids (k, dim) read as its transpose
        // (dim, k), scratch (n, k) row-major; the strides stay inside each slice.
        unsafe {
            matrixmultiply::sgemm(
                n,
                dim,
                k,
                -2.0,
                points.as_ptr(),
                dim as isize,
                1,
                self.centroids.as_ptr(),
                1,
                dim as isize,
                0.0,
                scratch.as_mut_ptr(),
                k as isize,
                1,
            );
        }
        scratch
            .chunks_exact_mut(k)
            .map(|row| {
                row.iter_mut().zip(self.norms.iter()).for_each(|(d, norm)| *d += norm);
                argmin(row)
            })
            .collect()
    }
}

/// Clusters `data` (layout (n, dim), n >= k) into `k` centroids (layout (k, dim)) by L2.
pub fn kmeans(data: &[f32], dim: usize, k: usize, iterations: usize, seed: u64) -> Vec<f32> {
    let n = data.len() / dim;
    assert!(k > 0 && n >= k, "k-means needs at least k points");
    let l2 = Metric::L2.kernel();
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let mut rng = StdRng::seed_from_u64(seed);

    // k-means++: each next centre drawn with probability proportional to D(x)^2. Each step
    // updates D(x)^2 and sums it per block of points in one parallel pass; the draw walks the
    // block sums, then one block (a walk over every point was a sixth of PQ training).
    // Sub-vectors are scored inline: a kernel call per 4-16 components costs more than them.
    let distance = |x: &[f32], c: &[f32]| -> f32 {
        if dim <= SHORT_DIM { x.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum() } else { l2(x, c) }
    };
    let mut centroids = Vec::with_capacity(k * dim);
    centroids.extend_from_slice(row(rng.random_range(0..n)));
    let mut nearest = vec![f32::INFINITY; n];
    for c in 1..k {
        let newest = &centroids[(c - 1) * dim..c * dim];
        let sums: Vec<f64> = nearest
            .par_chunks_mut(PICK_BLOCK)
            .enumerate()
            .map(|(b, block)| {
                let mut lanes = [0.0f64; 8];
                for (j, d) in block.iter_mut().enumerate() {
                    *d = d.min(distance(row(b * PICK_BLOCK + j), newest));
                    lanes[j % 8] += *d as f64;
                }
                lanes.iter().sum()
            })
            .collect();
        let total: f64 = sums.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.random_range(0.0..total);
            let block = sums
                .iter()
                .position(|&s| {
                    target < s || {
                        target -= s;
                        false
                    }
                })
                .unwrap_or(sums.len() - 1);
            let first = block * PICK_BLOCK;
            let within = nearest[first..(first + PICK_BLOCK).min(n)].iter().position(|&d| {
                target -= d as f64;
                target < 0.0
            });
            within.map_or((first + PICK_BLOCK).min(n) - 1, |j| first + j)
        } else {
            rng.random_range(0..n)
        };
        centroids.extend_from_slice(row(pick));
    }

    // Lloyd iterations.
    let mut assign = vec![0usize; n];
    let mut by_component = vec![0.0f32; if dim <= SHORT_DIM { k * dim } else { 0 }];
    let mut norms = Vec::new();
    for _ in 0..iterations {
        if dim <= SHORT_DIM {
            for c in 0..k {
                for d in 0..dim {
                    by_component[d * k + c] = centroids[c * dim + d];
                }
            }
            norms = squared_lengths(&centroids, dim);
        }
        let changed: usize = if dim > SHORT_DIM {
            // Long vectors: each block of points against all centroids as one matrix product.
            let coarse = Centroids::new(&centroids, dim);
            assign
                .par_chunks_mut(ASSIGN_BLOCK)
                .enumerate()
                .map_init(Vec::new, |scratch, (b, block)| {
                    let points = &data[b * ASSIGN_BLOCK * dim..(b * ASSIGN_BLOCK + block.len()) * dim];
                    block.iter_mut().zip(coarse.nearest(points, scratch)).fold(0, |moved, (a, best)| {
                        let m = (*a != best) as usize;
                        *a = best;
                        moved + m
                    })
                })
                .sum()
        } else {
            assign
                .par_chunks_mut(SHORT_POINTS)
                .enumerate()
                .map_init(
                    || vec![0.0f32; SHORT_POINTS * k],
                    |dist, (chunk, assigned)| {
                        // A last chunk of fewer points repeats its last one.
                        let first = chunk * SHORT_POINTS;
                        let xs = std::array::from_fn(|p| row(first + p.min(assigned.len() - 1)));
                        let best = nearest_short4(xs, &by_component, &norms, dist);
                        assigned.iter_mut().zip(best).fold(0, |moved, (a, b)| {
                            let m = (*a != b) as usize;
                            *a = b;
                            moved + m
                        })
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
