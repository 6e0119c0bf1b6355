//! Scalar quantization: each component is mapped to `2^bits` levels between per-dimension
//! bounds taken at the 0.1% and 99.9% quantiles of the training sample (outliers clip).
//! 8 bits: one byte per component (4x smaller); 4 bits: two per byte (8x).
//!
//! Distances are computed on the codes without decoding them: with `q' = (q - min) / step`
//! per dimension, L2 is `sum(step^2 * (q' - code)^2)` and the inner product is
//! `sum(q * min) + sum((q * step) * code)`, so a query costs one pass of multiply-adds over
//! the code bytes.

use rayon::prelude::*;

use super::TrainError;
use super::kernels;
use crate::codec::{ByteReader, ByteWriter};
use crate::distance::Metric;

/// Per-dimension affine scalar quantizer.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarQuantizer {
    bits: u8,
    /// Lower bound per dimension (layout dim).
    min: Vec<f32>,
    /// Width of one level per dimension (layout dim).
    step: Vec<f32>,
}

/// A query prepared against a [`ScalarQuantizer`].
///
/// For 4-bit codes the per-dimension arrays are permuted to match the packing: within each
/// block of 16 dimensions, the 8 even dimensions (low nibbles of 8 bytes) come first, then
/// the 8 odd ones (high nibbles), so a kernel unpacks 8 bytes into two 8-lane vectors.
#[derive(Debug, Clone)]
pub struct Prepared {
    l2: bool,
    /// L2: `(q - min) / step`; inner product: `q * step` (layout dim, 4-bit: permuted).
    a: Vec<f32>,
    /// L2: `step^2` (layout dim, 4-bit: permuted); unused for inner product.
    w: Vec<f32>,
    /// Inner product: `sum(q * min)`.
    c: f32,
    kernel: kernels::CodeKernel,
    /// 8-bit codes on a CPU with the integer kernel: how they are scored there.
    int: IntRoute,
}

/// The integer scoring of an 8-bit query (AVX-512 VNNI), if any.
#[derive(Debug, Clone)]
enum IntRoute {
    None,
    /// Inner product: `a` rounded to 16 bits, scored by [`Prepared::distance`].
    Dot(IntQuery),
    /// L2: `sum(w (a - code)^2) = query_term - 2 sum(w a code) + row term`, with `w a =
    /// step (q - min)` rounded to 16 bits and `query_term = sum((q - min)^2)`; scored by
    /// [`Prepared::distance_with_term`].
    L2 {
        cross: IntQuery,
        query_term: f32,
    },
}

/// Per-dimension query values as integers (`a` of an inner-product query, `w a` of an L2 one):
/// `value[d] ~ scale * ints[d]`, with
/// `|ints[d]| <= kernels::int_dot_limit(dim)`, so `scale` is `max |value|` over ~2^14.4 at 384
/// dimensions; the rounding moves a distance by at most `scale / 2 * sum(code)`.
#[derive(Debug, Clone)]
struct IntQuery {
    ints: Vec<i16>,
    scale: f32,
    kernel: kernels::IntDotKernel,
}

impl IntQuery {
    fn new(a: &[f32], kernel: kernels::IntDotKernel) -> Self {
        let max = a.iter().fold(0f32, |m, x| m.max(x.abs()));
        let limit = kernels::int_dot_limit(a.len()) as f32;
        let scale = if max > 0.0 { max / limit } else { 1.0 };
        Self { ints: a.iter().map(|x| (x / scale).round().clamp(-limit, limit) as i16).collect(), scale, kernel }
    }

    /// `sum(ints * code)`, as a float.
    #[inline]
    fn dot(&self, code: &[u8]) -> f32 {
        (self.kernel)(&self.ints, code) as f32
    }
}

impl ScalarQuantizer {
    /// Fewest sample vectors training accepts.
    pub const MIN_SAMPLE: usize = 64;

    /// Trains on `sample` (layout (n, dim)) with `bits` per component (8 or 4).
    pub fn train(sample: &[f32], dim: usize, bits: u8) -> Result<Self, TrainError> {
        if bits != 8 && bits != 4 {
            return Err(TrainError(format!("scalar quantization takes 8 or 4 bits, got {bits}")));
        }
        let n = sample.len() / dim.max(1);
        if dim == 0 || n < Self::MIN_SAMPLE {
            return Err(TrainError(format!("needs at least {} sample vectors, got {n}", Self::MIN_SAMPLE)));
        }
        let levels = ((1u32 << bits) - 1) as f32;
        let (lo_i, hi_i) = (((n - 1) as f64 * 0.001) as usize, ((n - 1) as f64 * 0.999).ceil() as usize);
        let bounds: Vec<(f32, f32)> = (0..dim)
            .into_par_iter()
            .map(|d| {
                let mut col: Vec<f32> = (0..n).map(|i| sample[i * dim + d]).collect();
                col.sort_unstable_by(f32::total_cmp);
                (col[lo_i], col[hi_i])
            })
            .collect();
        if bounds.iter().any(|(lo, hi)| !lo.is_finite() || !hi.is_finite()) {
            return Err(TrainError("the sample holds non-finite values".into()));
        }
        if bounds.iter().all(|(lo, hi)| lo == hi) {
            return Err(TrainError(format!(
                "too little variance: all {n} sample vectors are one value in every dimension (0.1%-99.9% quantiles)"
            )));
        }
        let min = bounds.iter().map(|b| b.0).collect();
        let step = bounds.iter().map(|&(lo, hi)| ((hi - lo) / levels).max(f32::MIN_POSITIVE * 1e6)).collect();
        Ok(Self { bits, min, step })
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    pub fn dim(&self) -> usize {
        self.min.len()
    }

    pub fn code_bytes(&self) -> usize {
        if self.bits == 8 { self.dim() } else { self.dim().div_ceil(2) }
    }

    /// The trained range of dimension `d`: values inside it decode within [`Self::max_error`].
    pub fn range(&self, d: usize) -> (f32, f32) {
        (self.min[d], self.min[d] + self.step[d] * self.levels())
    }

    /// Largest error of a decoded component that was inside the trained range: half a level.
    pub fn max_error(&self, d: usize) -> f32 {
        self.step[d] / 2.0
    }

    fn levels(&self) -> f32 {
        ((1u32 << self.bits) - 1) as f32
    }

    fn level(&self, d: usize, x: f32) -> u8 {
        ((x - self.min[d]) / self.step[d]).round().clamp(0.0, self.levels()) as u8
    }

    pub fn encode(&self, v: &[f32], out: &mut [u8]) {
        if self.bits == 8 {
            for (d, (o, &x)) in out.iter_mut().zip(v).enumerate() {
                *o = self.level(d, x);
            }
        } else {
            out.iter_mut().for_each(|o| *o = 0);
            for (d, &x) in v.iter().enumerate() {
                out[d / 2] |= self.level(d, x) << ((d % 2) * 4);
            }
        }
    }

    /// The part of an L2 distance that depends on `code` alone, `sum(step^2 * code^2)`: kept
    /// beside 8-bit codes so L2 can be scored on integers ([`Prepared::distance_with_term`]).
    pub fn row_term(&self, code: &[u8]) -> f32 {
        (0..self.dim()).map(|d| (self.step[d] * code_at(code, d, self.bits) as f32).powi(2)).sum()
    }

    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        for (d, o) in out.iter_mut().enumerate() {
            *o = self.min[d] + code_at(code, d, self.bits) as f32 * self.step[d];
        }
    }

    pub fn prepare(&self, q: &[f32], metric: Metric) -> Prepared {
        let dim = self.dim();
        let l2 = metric == Metric::L2;
        let (mut a, mut w): (Vec<f32>, Vec<f32>) = if l2 {
            ((0..dim).map(|d| (q[d] - self.min[d]) / self.step[d]).collect(), self.step.iter().map(|s| s * s).collect())
        } else {
            ((0..dim).map(|d| q[d] * self.step[d]).collect(), Vec::new())
        };
        let c = if l2 { 0.0 } else { (0..dim).map(|d| q[d] * self.min[d]).sum() };
        if self.bits == 4 {
            a = kernels::permute_for_nibbles(&a);
            if l2 {
                w = kernels::permute_for_nibbles(&w);
            }
        }
        let int = match (self.bits == 8).then(kernels::select_int_dot).flatten() {
            Some(k) if l2 => {
                let wa: Vec<f32> = a.iter().zip(&w).map(|(a, w)| a * w).collect();
                let query_term = (0..dim).map(|d| (q[d] - self.min[d]).powi(2)).sum();
                IntRoute::L2 { cross: IntQuery::new(&wa, k), query_term }
            }
            Some(k) => IntRoute::Dot(IntQuery::new(&a, k)),
            None => IntRoute::None,
        };
        Prepared { l2, a, w, c, kernel: kernels::select(self.bits, l2), int }
    }

    pub(super) fn write(&self, w: &mut ByteWriter) {
        w.u32(self.bits as u32);
        w.u32(self.dim() as u32);
        w.f32s(&self.min);
        w.f32s(&self.step);
    }

    pub(super) fn read(r: &mut ByteReader<'_>) -> Option<Self> {
        let bits = r.u32().ok()? as u8;
        let dim = r.u32().ok()? as usize;
        let q = Self { bits, min: r.f32s(dim).ok()?, step: r.f32s(dim).ok()? };
        (bits == 8 || bits == 4).then_some(q)
    }
}

#[inline]
fn code_at(code: &[u8], d: usize, bits: u8) -> u8 {
    if bits == 8 { code[d] } else { (code[d / 2] >> ((d % 2) * 4)) & 0x0f }
}

impl Prepared {
    #[inline]
    pub fn distance(&self, code: &[u8]) -> f32 {
        if let IntRoute::Dot(int) = &self.int {
            return -(self.c + int.scale * int.dot(code));
        }
        let s = (self.kernel)(&self.a, &self.w, code);
        if self.l2 { s } else { -(self.c + s) }
    }
}

impl Prepared {
    /// Whether [`Prepared::distance_with_term`] is the faster route (8-bit L2 on a CPU with the
    /// integer kernel): it needs each code's [`ScalarQuantizer::row_term`].
    pub fn uses_row_term(&self) -> bool {
        matches!(self.int, IntRoute::L2 { .. })
    }

    /// [`Prepared::distance`] given `code`'s [`ScalarQuantizer::row_term`]: on integers when
    /// [`Prepared::uses_row_term`], else the same as `distance`.
    #[inline]
    pub fn distance_with_term(&self, code: &[u8], term: f32) -> f32 {
        match &self.int {
            IntRoute::L2 { cross, query_term } => query_term - 2.0 * cross.scale * cross.dot(code) + term,
            _ => self.distance(code),
        }
    }
}
