//! Kernels scoring scalar-quantized codes against a prepared query, without decoding.
//!
//! `l2`: `sum(w[d] * (a[d] - code[d])^2)`; `dot`: `sum(a[d] * code[d])`. 8-bit codes are one
//! byte per dimension; 4-bit codes pack dimension `2i` in the low and `2i + 1` in the high
//! nibble of byte `i`, and the query arrays come permuted per 16-dimension block (see
//! [`permute_for_nibbles`]). The AVX2 versions widen 8 codes at a time to 8 floats, the
//! AVX-512 ones (8-bit) 16; both keep four accumulators so the multiply-adds do not wait on
//! one another. The scalar versions are the reference they are tested against.

/// `(a, w, code) -> sum`; `w` is unused by inner-product kernels.
pub type CodeKernel = fn(&[f32], &[f32], &[u8]) -> f32;

/// `(a, code) -> sum(a[d] * code[d])` in integers: the inner product of 8-bit codes with a
/// query rounded to 16 bits (see [`int_dot_limit`]).
pub type IntDotKernel = fn(&[i16], &[u8]) -> i32;

/// The integer inner-product kernel for 8-bit codes, on a CPU with AVX-512 VNNI
/// (`vpdpwssd`: 32 code bytes widened to 16 bits and multiply-added in one step, against 16
/// bytes widened to floats and multiplied in three by the float kernel).
pub fn select_int_dot() -> Option<IntDotKernel> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
    {
        return Some(avx512::dot_u8_i16);
    }
    None
}

/// The largest magnitude a query value may be rounded to for [`IntDotKernel`] over `dim`
/// dimensions: `dim * 255 * limit` stays within `i32`, so no partial sum overflows (about 15
/// bits at 384 dimensions, 12 at 2,048).
pub fn int_dot_limit(dim: usize) -> i16 {
    (i32::MAX as usize / (255 * dim.max(1))).clamp(1, i16::MAX as usize) as i16
}

/// Reorders per-dimension values to the 4-bit kernel layout: in each block of 16 dimensions,
/// even dimensions first, then odd ones. A tail shorter than 16 keeps its order.
pub fn permute_for_nibbles(v: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(v.len());
    let blocks = v.len() / 16;
    for b in 0..blocks {
        let blk = &v[b * 16..(b + 1) * 16];
        out.extend(blk.iter().step_by(2));
        out.extend(blk.iter().skip(1).step_by(2));
    }
    out.extend_from_slice(&v[blocks * 16..]);
    out
}

/// The fastest kernel for `bits` (8 or 4) and the metric family on this CPU.
pub fn select(bits: u8, l2: bool) -> CodeKernel {
    #[cfg(target_arch = "x86_64")]
    if bits == 8 && is_x86_feature_detected!("avx512f") {
        return if l2 { avx512::l2_u8 } else { avx512::dot_u8 };
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        return match (bits, l2) {
            (8, true) => avx2::l2_u8,
            (8, false) => avx2::dot_u8,
            (_, true) => avx2::l2_u4,
            (_, false) => avx2::dot_u4,
        };
    }
    match (bits, l2) {
        (8, true) => scalar::l2_u8,
        (8, false) => scalar::dot_u8,
        (_, true) => scalar::l2_u4,
        (_, false) => scalar::dot_u4,
    }
}

pub mod scalar {
    /// Code value of dimension `d` in the kernel layout of `a` (4-bit: permuted blocks).
    #[inline]
    fn nibble_for_slot(code: &[u8], slot: usize, dim: usize) -> f32 {
        let blocks = dim / 16;
        let d = if slot < blocks * 16 {
            let (b, i) = (slot / 16, slot % 16);
            b * 16 + if i < 8 { 2 * i } else { 2 * (i - 8) + 1 }
        } else {
            slot
        };
        ((code[d / 2] >> ((d % 2) * 4)) & 0x0f) as f32
    }

    pub fn l2_u8(a: &[f32], w: &[f32], code: &[u8]) -> f32 {
        a.iter().zip(w).zip(code).map(|((a, w), &c)| w * (a - c as f32) * (a - c as f32)).sum()
    }
    pub fn dot_u8(a: &[f32], _w: &[f32], code: &[u8]) -> f32 {
        a.iter().zip(code).map(|(a, &c)| a * c as f32).sum()
    }
    pub fn l2_u4(a: &[f32], w: &[f32], code: &[u8]) -> f32 {
        (0..a.len()).map(|s| w[s] * (a[s] - nibble_for_slot(code, s, a.len())).powi(2)).sum()
    }
    pub fn dot_u4(a: &[f32], _w: &[f32], code: &[u8]) -> f32 {
        (0..a.len()).map(|s| a[s] * nibble_for_slot(code, s, a.len())).sum()
    }
    #[cfg(test)]
    pub fn dot_u8_i16(a: &[i16], code: &[u8]) -> i32 {
        a.iter().zip(code).map(|(&a, &c)| a as i32 * c as i32).sum()
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// 8-bit codes: 16 bytes widened to 16 floats per step, four accumulators.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn run_u8<const L2: bool>(a: &[f32], w: &[f32], code: &[u8]) -> f32 {
        let n = a.len().min(code.len());
        // SAFETY (the loads below): callers keep `i + 16 <= n`; `w` (L2) has `a.len()` values.
        let widen = |i: usize| unsafe {
            _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(code.as_ptr().add(i) as *const __m128i)))
        };
        let fold = |acc: __m512, i: usize| {
            let c = widen(i);
            let av = unsafe { _mm512_loadu_ps(a.as_ptr().add(i)) };
            if L2 {
                let wv = unsafe { _mm512_loadu_ps(w.as_ptr().add(i)) };
                let d = _mm512_sub_ps(av, c);
                _mm512_fmadd_ps(_mm512_mul_ps(d, d), wv, acc)
            } else {
                _mm512_fmadd_ps(av, c, acc)
            }
        };
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (j, acc) in acc.iter_mut().enumerate() {
                *acc = fold(*acc, i + 16 * j);
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = fold(acc[0], i);
            i += 16;
        }
        let mut s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
        for d in i..n {
            let c = code[d] as f32;
            s += if L2 { w[d] * (a[d] - c) * (a[d] - c) } else { a[d] * c };
        }
        s
    }

    /// 8-bit codes against a 16-bit query: 32 bytes widened to 16 bits per step, multiplied
    /// pairwise and added into 32-bit lanes by `vpdpwssd`; two accumulators.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn run_dot_u8_i16(a: &[i16], code: &[u8]) -> i32 {
        let n = a.len().min(code.len());
        // SAFETY (the loads below): callers keep `i + 32 <= n`.
        let step = |acc: __m512i, i: usize| unsafe {
            let c = _mm512_cvtepu8_epi16(_mm256_loadu_si256(code.as_ptr().add(i) as *const __m256i));
            _mm512_dpwssd_epi32(acc, c, _mm512_loadu_si512(a.as_ptr().add(i) as *const _))
        };
        let mut acc = [_mm512_setzero_si512(); 2];
        let mut i = 0;
        while i + 64 <= n {
            acc[0] = step(acc[0], i);
            acc[1] = step(acc[1], i + 32);
            i += 64;
        }
        if i + 32 <= n {
            acc[0] = step(acc[0], i);
            i += 32;
        }
        let mut s = _mm512_reduce_add_epi32(_mm512_add_epi32(acc[0], acc[1]));
        for d in i..n {
            s += a[d] as i32 * code[d] as i32;
        }
        s
    }

    /// SAFETY: handed out by `select_int_dot` only after the avx512f, avx512bw and
    /// avx512vnni checks.
    pub fn dot_u8_i16(a: &[i16], code: &[u8]) -> i32 {
        unsafe { run_dot_u8_i16(a, code) }
    }

    // SAFETY (both): handed out by `select` only after the avx512f check.
    pub fn l2_u8(a: &[f32], w: &[f32], code: &[u8]) -> f32 {
        unsafe { run_u8::<true>(a, w, code) }
    }
    pub fn dot_u8(a: &[f32], w: &[f32], code: &[u8]) -> f32 {
        unsafe { run_u8::<false>(a, w, code) }
    }

    #[cfg(test)]
    mod tests {
        use super::super::scalar;

        #[test]
        fn avx512_code_kernels_match_the_scalar_ones() {
            if !is_x86_feature_detected!("avx512f") {
                return;
            }
            for dim in [1usize, 7, 15, 16, 17, 63, 64, 65, 100, 128, 384, 390] {
                let a: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin() * 20.0).collect();
                let w: Vec<f32> = (0..dim).map(|i| 0.5 + (i % 5) as f32).collect();
                let c8: Vec<u8> = (0..dim).map(|i| (i * 37 % 256) as u8).collect();
                let close = |x: f32, y: f32| (x - y).abs() <= 1e-3 * y.abs().max(1.0);
                assert!(close(super::l2_u8(&a, &w, &c8), scalar::l2_u8(&a, &w, &c8)), "l2_u8 {dim}");
                assert!(close(super::dot_u8(&a, &w, &c8), scalar::dot_u8(&a, &w, &c8)), "dot_u8 {dim}");
            }
        }

        #[test]
        fn integer_dot_kernel_is_exact() {
            if crate::quant::kernels::select_int_dot().is_none() {
                return;
            }
            for dim in [1usize, 31, 32, 33, 63, 64, 65, 100, 384, 390, 4096] {
                let limit = crate::quant::kernels::int_dot_limit(dim);
                // Extremes of both ranges, both signs: the sums the limit must keep in i32.
                let a: Vec<i16> = (0..dim).map(|i| if i % 3 == 0 { -limit } else { limit - (i % 7) as i16 }).collect();
                let c8: Vec<u8> = (0..dim).map(|i| if i % 2 == 0 { 255 } else { (i * 37 % 256) as u8 }).collect();
                assert_eq!(super::dot_u8_i16(&a, &c8), scalar::dot_u8_i16(&a, &c8), "dot_u8_i16 {dim}");
                let all_max = vec![limit; dim];
                let all_255 = vec![255u8; dim];
                let want = dim as i64 * 255 * limit as i64;
                assert!(want <= i32::MAX as i64);
                assert_eq!(super::dot_u8_i16(&all_max, &all_255) as i64, want, "largest sum {dim}");
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
    }

    /// 8 bytes at `p` widened to 8 floats.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn widen(bytes: __m128i) -> __m256 {
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn run<const L2: bool, const NIBBLES: bool>(a: &[f32], w: &[f32], code: &[u8]) -> f32 {
        let n = a.len();
        let lanes = if NIBBLES { 16 } else { 8 };
        let body = n - n % lanes;
        let (mut acc0, mut acc1, mut acc2, mut acc3) =
            (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
        let fold = |acc: __m256, i: usize, c: __m256| {
            // SAFETY: `i + 8 <= body <= n` and `w` (L2) has `n` values.
            let av = unsafe { _mm256_loadu_ps(a.as_ptr().add(i)) };
            if L2 {
                let wv = unsafe { _mm256_loadu_ps(w.as_ptr().add(i)) };
                let d = _mm256_sub_ps(av, c);
                _mm256_fmadd_ps(_mm256_mul_ps(d, d), wv, acc)
            } else {
                _mm256_fmadd_ps(av, c, acc)
            }
        };
        let mut i = 0;
        if !NIBBLES {
            // 8-bit codes, 32 a step into four independent chains: one accumulator would wait
            // on each multiply-add.
            while i + 32 <= body {
                // SAFETY: bytes i..i+32 of the codes are inside `code` (one byte per dimension).
                let at = |j: usize| unsafe { _mm_loadl_epi64(code.as_ptr().add(i + j) as *const __m128i) };
                acc0 = fold(acc0, i, widen(at(0)));
                acc1 = fold(acc1, i + 8, widen(at(8)));
                acc2 = fold(acc2, i + 16, widen(at(16)));
                acc3 = fold(acc3, i + 24, widen(at(24)));
                i += 32;
            }
        }
        while i < body {
            if NIBBLES {
                // SAFETY: block i/16 of the codes is the 8 bytes at i/2, inside `code`.
                let bytes = unsafe { _mm_loadl_epi64(code.as_ptr().add(i / 2) as *const __m128i) };
                let low = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
                let high = _mm_and_si128(_mm_srli_epi16::<4>(bytes), _mm_set1_epi8(0x0f));
                acc0 = fold(acc0, i, widen(low));
                acc1 = fold(acc1, i + 8, widen(high));
            } else {
                // SAFETY: bytes i..i+8 of the codes are inside `code` (one byte per dimension).
                let bytes = unsafe { _mm_loadl_epi64(code.as_ptr().add(i) as *const __m128i) };
                acc0 = fold(acc0, i, widen(bytes));
            }
            i += lanes;
        }
        let mut s = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
        for d in body..n {
            let c = if NIBBLES { ((code[d / 2] >> ((d % 2) * 4)) & 0x0f) as f32 } else { code[d] as f32 };
            s += if L2 { w[d] * (a[d] - c) * (a[d] - c) } else { a[d] * c };
        }
        s
    }

    // SAFETY (all four): handed out by `select` only after the avx2+fma check.
    pub fn l2_u8(a: &[f32], w: &[f32], code: &[u8]) -> f32 {
        unsafe { run::<true, false>(a, w, code) }
    }
    pub fn dot_u8(a: &[f32], w: &[f32], code: &[u8]) -> f32 {
        unsafe { run::<false, false>(a, w, code) }
    }
    pub fn l2_u4(a: &[f32], w: &[f32], code: &[u8]) -> f32 {
        unsafe { run::<true, true>(a, w, code) }
    }
    pub fn dot_u4(a: &[f32], w: &[f32], code: &[u8]) -> f32 {
        unsafe { run::<false, true>(a, w, code) }
    }

    #[cfg(test)]
    mod tests {
        use super::super::{permute_for_nibbles, scalar};

        #[test]
        fn avx2_code_kernels_match_the_scalar_ones() {
            if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
                return;
            }
            for dim in [1usize, 7, 8, 15, 16, 17, 31, 32, 100, 128, 130] {
                let a: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin() * 20.0).collect();
                let w: Vec<f32> = (0..dim).map(|i| 0.5 + (i % 5) as f32).collect();
                let c8: Vec<u8> = (0..dim).map(|i| (i * 37 % 256) as u8).collect();
                let c4: Vec<u8> = (0..dim.div_ceil(2)).map(|i| (i * 53 % 256) as u8).collect();
                let (pa, pw) = (permute_for_nibbles(&a), permute_for_nibbles(&w));
                let close = |x: f32, y: f32| (x - y).abs() <= 1e-3 * y.abs().max(1.0);
                assert!(close(super::l2_u8(&a, &w, &c8), scalar::l2_u8(&a, &w, &c8)), "l2_u8 {dim}");
                assert!(close(super::dot_u8(&a, &w, &c8), scalar::dot_u8(&a, &w, &c8)), "dot_u8 {dim}");
                assert!(close(super::l2_u4(&pa, &pw, &c4), scalar::l2_u4(&pa, &pw, &c4)), "l2_u4 {dim}");
                assert!(close(super::dot_u4(&pa, &pw, &c4), scalar::dot_u4(&pa, &pw, &c4)), "dot_u4 {dim}");
            }
        }
    }
}
