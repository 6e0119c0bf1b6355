//! Vectorisable kernels and the per-CPU choice between them.
//!
//! On x86_64 the kernels are explicit AVX2+FMA and AVX-512 intrinsics ([`x86`]): measured on
//! 128-d L2, LLVM's auto-vectorisation of lane-array loops produced 2-wide code at ~25 ns per
//! distance, the intrinsics ~4x faster. The portable `baseline` keeps the lane-array form (it
//! still beats a plain loop and is what other architectures run). [`detect`] hands out the
//! widest set the CPU runs.

use super::{Distance4Fn, DistanceFn, Kernels};

/// Independent partial sums of the portable kernels.
const LANES: usize = 16;

#[inline(always)]
fn reduce(mut acc: [f32; LANES]) -> f32 {
    // Pairwise tree: vector adds instead of a 32-step sequential chain.
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0]
}

/// `SQUARE_DIFF`: sum of (a-b)^2; otherwise sum of a*b. Fixed-size lane arrays keep bounds
/// checks out of the body, so LLVM emits packed SIMD for whatever the baseline target has.
#[inline(always)]
fn portable<const SQUARE_DIFF: bool>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a_body, a_tail) = a[..n].as_chunks::<LANES>();
    let (b_body, b_tail) = b[..n].as_chunks::<LANES>();
    let term = |x: f32, y: f32| if SQUARE_DIFF { (x - y) * (x - y) } else { x * y };
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_body.iter().zip(b_body) {
        for i in 0..LANES {
            acc[i] += term(x[i], y[i]);
        }
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(&x, &y)| term(x, y)).sum();
    reduce(acc) + tail
}

mod baseline {
    pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
        super::portable::<true>(a, b)
    }
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        super::portable::<false>(a, b)
    }
    pub fn neg_dot(a: &[f32], b: &[f32]) -> f32 {
        -dot(a, b)
    }
    pub fn l2_sq_x4(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        q.map(|q| l2_sq(q, row))
    }
    pub fn neg_dot_x4(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        q.map(|q| neg_dot(q, row))
    }
}

#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
use x86::{avx2, avx512};

macro_rules! kernel_set {
    ($m:ident, $isa:literal) => {
        Kernels {
            l2_sq: $m::l2_sq as DistanceFn,
            neg_dot: $m::neg_dot as DistanceFn,
            dot: $m::dot as DistanceFn,
            l2_sq_x4: $m::l2_sq_x4 as Distance4Fn,
            neg_dot_x4: $m::neg_dot_x4 as Distance4Fn,
            isa: $isa,
        }
    };
}

/// Every kernel set this CPU can run, widest first.
pub(super) fn available() -> Vec<Kernels> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            sets.push(kernel_set!(avx512, "avx512"));
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            sets.push(kernel_set!(avx2, "avx2+fma"));
        }
    }
    sets.push(kernel_set!(baseline, "baseline"));
    sets
}

/// The widest kernel set this CPU can run.
pub(super) fn detect() -> Kernels {
    available()[0]
}
