//! AVX2+FMA and AVX-512 kernels with explicit intrinsics.
//!
//! Four independent accumulators per loop hide the FMA latency (4 cycles, 2 ports). The
//! public wrappers are safe: [`super::detect`] hands them out only after checking the CPU.

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

    /// `SQUARE_DIFF`: sum of (a-b)^2; otherwise sum of a*b.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce<const SQUARE_DIFF: bool>(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let step = |acc: __m256, i: usize| {
            // SAFETY: callers keep `i + 8 <= n`, so both 8-float loads are in bounds.
            let (x, y) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
            if SQUARE_DIFF {
                let d = _mm256_sub_ps(x, y);
                _mm256_fmadd_ps(d, d, acc)
            } else {
                _mm256_fmadd_ps(x, y, acc)
            }
        };
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (j, a) in acc.iter_mut().enumerate() {
                *a = step(*a, i + 8 * j);
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = step(acc[0], i);
            i += 8;
        }
        let mut s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
        for j in i..n {
            s += if SQUARE_DIFF { (a[j] - b[j]) * (a[j] - b[j]) } else { a[j] * b[j] };
        }
        s
    }

    pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: only reachable through `detect`, after the avx2+fma check.
        unsafe { reduce::<true>(a, b) }
    }
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: as above.
        unsafe { reduce::<false>(a, b) }
    }
    pub fn neg_dot(a: &[f32], b: &[f32]) -> f32 {
        -dot(a, b)
    }
    /// [`reduce`] of `row` against four queries, each summed in exactly the order [`reduce`]
    /// uses (so results are bit-identical), two queries per pass so the 8 accumulators and
    /// the loads fit the 16 registers: the row is loaded once per pair.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    // The indexes address the accumulator grid and the load offsets together.
    #[allow(clippy::needless_range_loop)]
    fn reduce_pair<const SQUARE_DIFF: bool>(row: &[f32], q: [&[f32]; 2]) -> [f32; 2] {
        let n = row.len();
        let pr = row.as_ptr();
        let pq = [q[0].as_ptr(), q[1].as_ptr()];
        let fold = |acc: __m256, x: __m256, y: __m256| {
            if SQUARE_DIFF {
                let d = _mm256_sub_ps(y, x);
                _mm256_fmadd_ps(d, d, acc)
            } else {
                _mm256_fmadd_ps(y, x, acc)
            }
        };
        // SAFETY (all loads): callers pass queries of the row's length; loads stay below `n`.
        let load = |p: *const f32, i: usize| unsafe { _mm256_loadu_ps(p.add(i)) };
        let mut acc = [[_mm256_setzero_ps(); 4]; 2];
        let mut i = 0;
        while i + 32 <= n {
            for j in 0..4 {
                let x = load(pr, i + 8 * j);
                for k in 0..2 {
                    acc[k][j] = fold(acc[k][j], x, load(pq[k], i + 8 * j));
                }
            }
            i += 32;
        }
        while i + 8 <= n {
            let x = load(pr, i);
            for k in 0..2 {
                acc[k][0] = fold(acc[k][0], x, load(pq[k], i));
            }
            i += 8;
        }
        let mut out = [0.0f32; 2];
        for k in 0..2 {
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

    pub fn l2_sq_x4(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        // SAFETY: only reachable through `detect`, after the avx2+fma check.
        let (a, b) = unsafe { (reduce_pair::<true>(row, [q[0], q[1]]), reduce_pair::<true>(row, [q[2], q[3]])) };
        [a[0], a[1], b[0], b[1]]
    }
    pub fn neg_dot_x4(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        // SAFETY: as above.
        let (a, b) = unsafe { (reduce_pair::<false>(row, [q[0], q[1]]), reduce_pair::<false>(row, [q[2], q[3]])) };
        [-a[0], -a[1], -b[0], -b[1]]
    }
}

pub mod avx512 {
    use super::*;

    /// `SQUARE_DIFF`: sum of (a-b)^2; otherwise sum of a*b. The tail is a masked load.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce<const SQUARE_DIFF: bool>(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let fold = |acc: __m512, x: __m512, y: __m512| {
            if SQUARE_DIFF {
                let d = _mm512_sub_ps(x, y);
                _mm512_fmadd_ps(d, d, acc)
            } else {
                _mm512_fmadd_ps(x, y, acc)
            }
        };
        // SAFETY (all loads below): full loads stay below `n`; the tail load is masked to the
        // `n - i` remaining lanes, so no byte past the slices is read.
        let load = |p: *const f32, i: usize| unsafe { _mm512_loadu_ps(p.add(i)) };
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (j, a) in acc.iter_mut().enumerate() {
                *a = fold(*a, load(pa, i + 16 * j), load(pb, i + 16 * j));
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = fold(acc[0], load(pa, i), load(pb, i));
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u16 << (n - i)) - 1;
            let (x, y) = unsafe { (_mm512_maskz_loadu_ps(mask, pa.add(i)), _mm512_maskz_loadu_ps(mask, pb.add(i))) };
            acc[1] = fold(acc[1], x, y);
        }
        _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
    }

    pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: only reachable through `detect`, after the avx512f check.
        unsafe { reduce::<true>(a, b) }
    }
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: as above.
        unsafe { reduce::<false>(a, b) }
    }
    pub fn neg_dot(a: &[f32], b: &[f32]) -> f32 {
        -dot(a, b)
    }

    /// [`reduce`] of `row` against four queries at once, each summed in exactly the order
    /// [`reduce`] uses (results are bit-identical): 16 accumulators, and each 16-float piece of
    /// the row loaded once for the four.
    #[inline]
    #[target_feature(enable = "avx512f")]
    // The indexes address the accumulator grid and the load offsets together.
    #[allow(clippy::needless_range_loop)]
    fn reduce4<const SQUARE_DIFF: bool>(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        let n = row.len();
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
        // SAFETY (all loads): callers pass queries of the row's length; full loads stay below
        // `n` and the tail loads are masked to the remaining lanes.
        let load = |p: *const f32, i: usize| unsafe { _mm512_loadu_ps(p.add(i)) };
        let mut acc = [[_mm512_setzero_ps(); 4]; 4];
        let mut i = 0;
        while i + 64 <= n {
            for j in 0..4 {
                let x = load(pr, i + 16 * j);
                for k in 0..4 {
                    acc[k][j] = fold(acc[k][j], x, load(pq[k], i + 16 * j));
                }
            }
            i += 64;
        }
        while i + 16 <= n {
            let x = load(pr, i);
            for k in 0..4 {
                acc[k][0] = fold(acc[k][0], x, load(pq[k], i));
            }
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u16 << (n - i)) - 1;
            let x = unsafe { _mm512_maskz_loadu_ps(mask, pr.add(i)) };
            for k in 0..4 {
                let y = unsafe { _mm512_maskz_loadu_ps(mask, pq[k].add(i)) };
                acc[k][1] = fold(acc[k][1], x, y);
            }
        }
        acc.map(|a| _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3]))))
    }

    pub fn l2_sq_x4(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        // SAFETY: only reachable through `detect`, after the avx512f check.
        unsafe { reduce4::<true>(row, q) }
    }
    pub fn neg_dot_x4(row: &[f32], q: [&[f32]; 4]) -> [f32; 4] {
        // SAFETY: as above.
        unsafe { reduce4::<false>(row, q) }.map(|d| -d)
    }
}
