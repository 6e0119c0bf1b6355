//! AVX2+FMA and AVX-512 kernels with explicit intrinsics.
//!
//! Four independent accumulators per loop hide the FMA latency (4 cycles, 2 ports). One
//! generic reduction serves a single query and a batch of queries against one row: each piece
//! of the row is loaded once for all `Q` queries, and every query's sum is formed in the same
//! order whatever `Q` is, so batched and single distances are bit-identical. The public
//! wrappers are safe: [`super::detect`] hands them out only after checking the CPU.

use std::arch::x86_64::*;

pub mod avx2 {
    use super::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    /// Per query k: `SQUARE_DIFF`: sum of (q_k - row)^2; otherwise sum of q_k * row. Q is 1 or
    /// 2 (4 accumulators per query, and the loads, fit the 16 registers).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    // The indexes address the accumulator grid and the load offsets together.
    #[allow(clippy::needless_range_loop)]
    fn reduce<const Q: usize, const SQUARE_DIFF: bool>(row: &[f32], q: [&[f32]; Q]) -> [f32; Q] {
        let n = q.iter().fold(row.len(), |n, q| n.min(q.len()));
        let pr = row.as_ptr();
        let pq = q.map(<[f32]>::as_ptr);
        let fold = |acc: __m256, x: __m256, y: __m256| {
            if SQUARE_DIFF {
                let d = _mm256_sub_ps(y, x);
                _mm256_fmadd_ps(d, d, acc)
            } else {
                _mm256_fmadd_ps(y, x, acc)
            }
        };
        // SAFETY (all loads): callers keep `i + 8 <= n`, so every 8-float load is in bounds.
        let load = |p: *const f32, i: usize| unsafe { _mm256_loadu_ps(p.add(i)) };
        let mut acc = [[_mm256_setzero_ps(); 4]; Q];
        let mut i = 0;
        while i + 32 <= n {
            for j in 0..4 {
                let x = load(pr, i + 8 * j);
                for k in 0..Q {
                    acc[k][j] = fold(acc[k][j], x, load(pq[k], i + 8 * j));
                }
            }
            i += 32;
        }
        while i + 8 <= n {
            let x = load(pr, i);
            for k in 0..Q {
                acc[k][0] = fold(acc[k][0], x, load(pq[k], i));
            }
            i += 8;
        }
        let mut out = [0.0f32; Q];
        for k in 0..Q {
            let a = &acc[k];
            let mut s = hsum(_mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])));
            for j in i..n {
                let (x, y) = (q[k][j], row[j]);
                s += if SQUARE_DIFF { (x - y) * (x - y) } else { x * y };
            }
            out[k] = s;
        }
        out
    }

    pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: only reachable through `detect`, after the avx2+fma check.
        unsafe { reduce::<1, true>(b, [a])[0] }
    }
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: as above.
        unsafe { reduce::<1, false>(b, [a])[0] }
    }
    pub fn neg_dot(a: &[f32], b: &[f32]) -> f32 {
        -dot(a, b)
    }
    pub fn l2_sq_x4(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        // SAFETY: as above. Two pairs: four queries' accumulators would spill.
        let (a, b) = unsafe { (reduce::<2, true>(row, [q[0], q[1]]), reduce::<2, true>(row, [q[2], q[3]])) };
        [a[0], a[1], b[0], b[1]]
    }
    pub fn neg_dot_x4(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        // SAFETY: as above.
        let (a, b) = unsafe { (reduce::<2, false>(row, [q[0], q[1]]), reduce::<2, false>(row, [q[2], q[3]])) };
        [-a[0], -a[1], -b[0], -b[1]]
    }
}

pub mod avx512 {
    use super::*;

    /// Per query k: `SQUARE_DIFF`: sum of (q_k - row)^2; otherwise sum of q_k * row. Q is 1 or
    /// 4 (16 accumulators and the loads fit the 32 registers). The tail is a masked load.
    #[inline]
    #[target_feature(enable = "avx512f")]
    // The indexes address the accumulator grid and the load offsets together.
    #[allow(clippy::needless_range_loop)]
    fn reduce<const Q: usize, const SQUARE_DIFF: bool>(row: &[f32], q: [&[f32]; Q]) -> [f32; Q] {
        let n = q.iter().fold(row.len(), |n, q| n.min(q.len()));
        let pr = row.as_ptr();
        let pq = q.map(<[f32]>::as_ptr);
        let fold = |acc: __m512, x: __m512, y: __m512| {
            if SQUARE_DIFF {
                let d = _mm512_sub_ps(y, x);
                _mm512_fmadd_ps(d, d, acc)
            } else {
                _mm512_fmadd_ps(y, x, acc)
            }
        };
        // SAFETY (all loads below): full loads stay below `n`; the tail loads are masked to
        // the `n - i` remaining lanes, so no byte past the slices is read.
        let load = |p: *const f32, i: usize| unsafe { _mm512_loadu_ps(p.add(i)) };
        let mut acc = [[_mm512_setzero_ps(); 4]; Q];
        let mut i = 0;
        while i + 64 <= n {
            for j in 0..4 {
                let x = load(pr, i + 16 * j);
                for k in 0..Q {
                    acc[k][j] = fold(acc[k][j], x, load(pq[k], i + 16 * j));
                }
            }
            i += 64;
        }
        while i + 16 <= n {
            let x = load(pr, i);
            for k in 0..Q {
                acc[k][0] = fold(acc[k][0], x, load(pq[k], i));
            }
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u16 << (n - i)) - 1;
            let x = unsafe { _mm512_maskz_loadu_ps(mask, pr.add(i)) };
            for k in 0..Q {
                let y = unsafe { _mm512_maskz_loadu_ps(mask, pq[k].add(i)) };
                acc[k][1] = fold(acc[k][1], x, y);
            }
        }
        acc.map(|a| _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3]))))
    }

    pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: only reachable through `detect`, after the avx512f check.
        unsafe { reduce::<1, true>(b, [a])[0] }
    }
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: as above.
        unsafe { reduce::<1, false>(b, [a])[0] }
    }
    pub fn neg_dot(a: &[f32], b: &[f32]) -> f32 {
        -dot(a, b)
    }
    pub fn l2_sq_x4(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        // SAFETY: as above.
        unsafe { reduce::<4, true>(row, q) }
    }
    pub fn neg_dot_x4(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        // SAFETY: as above.
        unsafe { reduce::<4, false>(row, q) }.map(|d| -d)
    }
}
