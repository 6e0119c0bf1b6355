//! Vectorisable kernels and the per-CPU choice between them.
//!
//! The kernels accumulate into `LANES` independent partial sums, a shape LLVM turns into
//! packed SIMD (4 ymm registers on AVX2, 2 zmm on AVX-512) with no `unsafe` intrinsics. Each
//! instruction set gets its own copy, compiled under `#[target_feature]`, and [`detect`]
//! hands out the widest one the CPU runs.

use super::{DistanceFn, Kernels};

/// Independent accumulators: enough to hide FMA latency on two FMA ports.
const LANES: usize = 32;

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

#[inline(always)]
fn l2_sq<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let body = n - n % LANES;
    let mut acc = [0.0f32; LANES];
    for (x, y) in a[..body].chunks_exact(LANES).zip(b[..body].chunks_exact(LANES)) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] = if FMA { d.mul_add(d, acc[i]) } else { acc[i] + d * d };
        }
    }
    let mut tail = 0.0;
    for (x, y) in a[body..n].iter().zip(&b[body..n]) {
        tail += (x - y) * (x - y);
    }
    reduce(acc) + tail
}

#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let body = n - n % LANES;
    let mut acc = [0.0f32; LANES];
    for (x, y) in a[..body].chunks_exact(LANES).zip(b[..body].chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] = if FMA { x[i].mul_add(y[i], acc[i]) } else { acc[i] + x[i] * y[i] };
        }
    }
    let mut tail = 0.0;
    for (x, y) in a[body..n].iter().zip(&b[body..n]) {
        tail += x * y;
    }
    reduce(acc) + tail
}

mod baseline {
    pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
        super::l2_sq::<false>(a, b)
    }
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        super::dot::<false>(a, b)
    }
    pub fn neg_dot(a: &[f32], b: &[f32]) -> f32 {
        -super::dot::<false>(a, b)
    }
}

/// Stamps out a kernel set compiled for `$features`. The public functions are safe because
/// [`detect`] hands them out only after checking that the CPU has `$features`.
#[cfg(target_arch = "x86_64")]
macro_rules! isa_kernels {
    ($name:ident, $features:literal) => {
        mod $name {
            #[target_feature(enable = $features)]
            fn l2_sq_impl(a: &[f32], b: &[f32]) -> f32 {
                super::l2_sq::<true>(a, b)
            }
            #[target_feature(enable = $features)]
            fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
                super::dot::<true>(a, b)
            }
            pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
                // SAFETY: only reachable through `detect`, after the feature check.
                unsafe { l2_sq_impl(a, b) }
            }
            pub fn dot(a: &[f32], b: &[f32]) -> f32 {
                // SAFETY: as above.
                unsafe { dot_impl(a, b) }
            }
            pub fn neg_dot(a: &[f32], b: &[f32]) -> f32 {
                -dot(a, b)
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
isa_kernels!(avx2, "avx2,fma");
#[cfg(target_arch = "x86_64")]
isa_kernels!(avx512, "avx512f,avx2,fma");

macro_rules! kernel_set {
    ($m:ident, $isa:literal) => {
        Kernels {
            l2_sq: $m::l2_sq as DistanceFn,
            neg_dot: $m::neg_dot as DistanceFn,
            dot: $m::dot as DistanceFn,
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
