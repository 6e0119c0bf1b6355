//! Product quantization (Jégou, Douze & Schmid, 2011): the vector is cut into `m` sub-vectors
//! of `dim / m` components, each replaced by the index of its nearest centroid in a k-means
//! codebook of `2^bits` entries. A query builds a lookup table of its distance to every
//! centroid of every sub-space (layout (m, ksub)); the distance to a code is then `m` table
//! reads (asymmetric distance computation, ADC).

use rayon::prelude::*;

use super::kmeans::{argmin, nearest_short4, squared_lengths};
use super::{TrainError, has_distinct_rows, kmeans};
use crate::codec::{ByteReader, ByteWriter};
use crate::distance::Metric;

/// Lloyd iterations per sub-space codebook.
const ITERATIONS: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct ProductQuantizer {
    dim: usize,
    m: usize,
    bits: u8,
    /// Codebooks, layout (m, ksub, dsub).
    centroids: Vec<f32>,
    /// The same codebooks by component, layout (m, dsub, ksub), so a lookup table is built
    /// with loops over the 2^bits centroids that vectorise (sub-vectors are only a few
    /// components long).
    by_component: Vec<f32>,
    /// Squared length of every codeword, layout (m, ksub) (for [`ProductQuantizer::encode_batch`]).
    norms: Vec<f32>,
}

/// A query prepared against a [`ProductQuantizer`]: its lookup table.
#[derive(Debug, Clone)]
pub struct Prepared {
    ksub: usize,
    bits: u8,
    /// Distance of the query's sub-vector to each centroid, layout (m, ksub).
    lut: Vec<f32>,
}

impl ProductQuantizer {
    /// Fewest sample vectors training accepts for `bits`: 16 per centroid (4,096 for 8 bits,
    /// 256 for 4). faiss suggests 39 per centroid for well-trained codebooks; below that the
    /// codes are coarser, which the full-precision re-ranking absorbs.
    pub fn min_sample(bits: u8) -> usize {
        (1usize << bits) * 16
    }

    /// Trains `m` codebooks of `2^bits` (bits 8 or 4) centroids on `sample` (layout (n, dim)).
    pub fn train(sample: &[f32], dim: usize, m: usize, bits: u8, seed: u64) -> Result<Self, TrainError> {
        if bits != 8 && bits != 4 {
            return Err(TrainError(format!("product quantization takes 8 or 4 bits, got {bits}")));
        }
        if m == 0 || !dim.is_multiple_of(m) {
            return Err(TrainError(format!("m = {m} must divide the dimension {dim}")));
        }
        let n = sample.len() / dim;
        if n < Self::min_sample(bits) {
            return Err(TrainError(format!("needs at least {} sample vectors, got {n}", Self::min_sample(bits))));
        }
        let (dsub, ksub) = (dim / m, 1usize << bits);
        if !has_distinct_rows(sample, dim, ksub) {
            return Err(TrainError(format!(
                "too little variance: fewer distinct sample vectors than the {ksub} codewords of a sub-space"
            )));
        }
        let books: Vec<Vec<f32>> = (0..m)
            .into_par_iter()
            .map(|j| {
                let sub: Vec<f32> =
                    (0..n).flat_map(|i| sample[i * dim + j * dsub..i * dim + (j + 1) * dsub].to_vec()).collect();
                kmeans(&sub, dsub, ksub, ITERATIONS, seed ^ j as u64)
            })
            .collect();
        Ok(Self::from_codebooks(dim, m, bits, books.concat()))
    }

    /// A quantizer from its codebooks (layout (m, ksub, dsub)).
    fn from_codebooks(dim: usize, m: usize, bits: u8, centroids: Vec<f32>) -> Self {
        let (dsub, ksub) = (dim / m, 1usize << bits);
        let mut by_component = vec![0.0f32; centroids.len()];
        for j in 0..m {
            for c in 0..ksub {
                for d in 0..dsub {
                    by_component[(j * dsub + d) * ksub + c] = centroids[(j * ksub + c) * dsub + d];
                }
            }
        }
        let norms = squared_lengths(&centroids, dim / m);
        Self { dim, m, bits, centroids, by_component, norms }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn m(&self) -> usize {
        self.m
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    fn dsub(&self) -> usize {
        self.dim / self.m
    }

    fn ksub(&self) -> usize {
        1 << self.bits
    }

    pub fn code_bytes(&self) -> usize {
        if self.bits == 8 { self.m } else { self.m.div_ceil(2) }
    }

    fn centroid(&self, j: usize, c: usize) -> &[f32] {
        let (dsub, ksub) = (self.dsub(), self.ksub());
        let s = (j * ksub + c) * dsub;
        &self.centroids[s..s + dsub]
    }

    fn code_at(&self, code: &[u8], j: usize) -> usize {
        if self.bits == 8 { code[j] as usize } else { ((code[j / 2] >> ((j % 2) * 4)) & 0x0f) as usize }
    }

    /// The code of `v`: per sub-space, the nearest codeword. Distances to all `2^bits`
    /// codewords of a sub-space are accumulated component by component over the
    /// by-component codebook, a loop over codewords that vectorises (sub-vectors are only a
    /// few components long, too short for a distance kernel call per codeword to pay).
    pub fn encode(&self, v: &[f32], out: &mut [u8]) {
        let (dsub, ksub) = (self.dsub(), self.ksub());
        let mut dist = vec![0.0f32; ksub];
        out.iter_mut().for_each(|o| *o = 0);
        for j in 0..self.m {
            dist.iter_mut().for_each(|d| *d = 0.0);
            for d in 0..dsub {
                let x = v[j * dsub + d];
                let column = &self.by_component[(j * dsub + d) * ksub..(j * dsub + d + 1) * ksub];
                for (o, c) in dist.iter_mut().zip(column) {
                    *o += (x - c) * (x - c);
                }
            }
            let best = argmin(&dist) as u8;
            if self.bits == 8 {
                out[j] = best;
            } else {
                out[j / 2] |= best << ((j % 2) * 4);
            }
        }
    }

    /// The codes of `vectors` (layout (n, dim)) into `out` (layout (n, code bytes)): per
    /// sub-space, four vectors at a time against the codebook in registers (the kernel of
    /// codebook training), where [`ProductQuantizer::encode`] scores one vector's distances
    /// component by component. The nearest codeword by `|c|^2 - 2 x·c` may differ from
    /// `encode`'s in the last bit between equally near codewords.
    pub fn encode_batch(&self, vectors: &[f32], out: &mut [u8]) {
        let (dsub, ksub, cb) = (self.dsub(), self.ksub(), self.code_bytes());
        let n = vectors.len() / self.dim;
        out[..n * cb].iter_mut().for_each(|o| *o = 0);
        let mut dist = vec![0.0f32; 4 * ksub];
        for first in (0..n).step_by(4) {
            // A last group of fewer vectors repeats its last one.
            let at = |p: usize| (first + p).min(n - 1);
            for j in 0..self.m {
                let xs =
                    std::array::from_fn(|p| &vectors[at(p) * self.dim + j * dsub..at(p) * self.dim + (j + 1) * dsub]);
                let book = &self.by_component[j * dsub * ksub..(j + 1) * dsub * ksub];
                let best = nearest_short4(xs, book, &self.norms[j * ksub..(j + 1) * ksub], &mut dist);
                for (p, &b) in best.iter().enumerate().take(n - first) {
                    let code = &mut out[(first + p) * cb..(first + p + 1) * cb];
                    if self.bits == 8 {
                        code[j] = b as u8;
                    } else {
                        code[j / 2] |= (b as u8) << ((j % 2) * 4);
                    }
                }
            }
        }
    }

    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        let dsub = self.dsub();
        for j in 0..self.m {
            out[j * dsub..(j + 1) * dsub].copy_from_slice(self.centroid(j, self.code_at(code, j)));
        }
    }

    pub fn prepare(&self, q: &[f32], metric: Metric) -> Prepared {
        let (dsub, ksub) = (self.dsub(), self.ksub());
        let mut lut = vec![0.0f32; self.m * ksub];
        for (j, out) in lut.chunks_exact_mut(ksub).enumerate() {
            for d in 0..dsub {
                let x = q[j * dsub + d];
                let column = &self.by_component[(j * dsub + d) * ksub..(j * dsub + d + 1) * ksub];
                if metric == Metric::L2 {
                    for (o, c) in out.iter_mut().zip(column) {
                        *o += (x - c) * (x - c);
                    }
                } else {
                    for (o, c) in out.iter_mut().zip(column) {
                        *o -= x * c;
                    }
                }
            }
        }
        Prepared { ksub, bits: self.bits, lut }
    }

    pub(super) fn write(&self, w: &mut ByteWriter) {
        w.u32(self.dim as u32);
        w.u32(self.m as u32);
        w.u32(self.bits as u32);
        w.f32s(&self.centroids);
    }

    pub(super) fn read(r: &mut ByteReader<'_>) -> Option<Self> {
        let (dim, m, bits) = (r.u32().ok()? as usize, r.u32().ok()? as usize, r.u32().ok()? as u8);
        if m == 0 || !dim.is_multiple_of(m) || (bits != 8 && bits != 4) {
            return None;
        }
        let centroids = r.f32s((1usize << bits) * dim).ok()?;
        Some(Self::from_codebooks(dim, m, bits, centroids))
    }
}

impl Prepared {
    /// The table as a flat slice, layout (m, ksub).
    pub fn table(&self) -> &[f32] {
        &self.lut
    }

    /// The table to overwrite in place (to combine precomputed parts without allocating).
    pub fn table_mut(&mut self) -> &mut [f32] {
        &mut self.lut
    }

    /// The table in bytes, for 8-bit codes ([`ByteTable`]); `None` for 4-bit codes.
    pub fn to_byte_table(&self) -> Option<ByteTable> {
        if self.bits != 8 {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: checked just above.
            return Some(unsafe { bytes512::byte_table(&self.lut) });
        }
        Some(byte_table(&self.lut))
    }

    /// [`Prepared::distance`] of four codes at once (`codes`: layout (4, code bytes)). With
    /// 8-bit codes the four sums, each split in two, make eight independent chains of
    /// additions, so lookups issue at the pace of the loads rather than of one sum's latency
    /// (faiss scans four codes at a time for the same reason).
    #[inline]
    pub fn distances4(&self, codes: &[u8]) -> [f32; 4] {
        let cb = codes.len() / 4;
        if self.bits != 8 {
            return std::array::from_fn(|i| self.distance(&codes[i * cb..(i + 1) * cb]));
        }
        let (tables, _) = self.lut.as_chunks::<256>();
        let (c0, rest) = codes.split_at(cb);
        let (c1, rest) = rest.split_at(cb);
        let (c2, c3) = rest.split_at(cb);
        let mut even = [0.0f32; 4];
        let mut odd = [0.0f32; 4];
        let (t_pairs, t_rest) = tables.as_chunks::<2>();
        let ((p0, r0), (p1, r1)) = (c0.as_chunks::<2>(), c1.as_chunks::<2>());
        let ((p2, r2), (p3, r3)) = (c2.as_chunks::<2>(), c3.as_chunks::<2>());
        for ((((t, a), b), c), d) in t_pairs.iter().zip(p0).zip(p1).zip(p2).zip(p3) {
            even[0] += t[0][a[0] as usize];
            even[1] += t[0][b[0] as usize];
            even[2] += t[0][c[0] as usize];
            even[3] += t[0][d[0] as usize];
            odd[0] += t[1][a[1] as usize];
            odd[1] += t[1][b[1] as usize];
            odd[2] += t[1][c[1] as usize];
            odd[3] += t[1][d[1] as usize];
        }
        if let Some(t) = t_rest.first().filter(|_| cb % 2 == 1) {
            for (e, r) in even.iter_mut().zip([r0, r1, r2, r3]) {
                *e += t[r[0] as usize];
            }
        }
        std::array::from_fn(|i| even[i] + odd[i])
    }

    /// Sum of the lookup-table entries the code selects.
    #[inline]
    pub fn distance(&self, code: &[u8]) -> f32 {
        let mut s = 0.0;
        if self.bits == 8 {
            // One 256-entry table per sub-space: a u8 code indexes it without a bounds check,
            // and four running sums let the loads of consecutive sub-spaces overlap.
            let (tables, _) = self.lut.as_chunks::<256>();
            let (quads, rest) = code.as_chunks::<4>();
            let (table_quads, table_rest) = tables.split_at(quads.len() * 4);
            let mut acc = [0.0f32; 4];
            for (c, t) in quads.iter().zip(table_quads.chunks_exact(4)) {
                acc[0] += t[0][c[0] as usize];
                acc[1] += t[1][c[1] as usize];
                acc[2] += t[2][c[2] as usize];
                acc[3] += t[3][c[3] as usize];
            }
            for (&c, t) in rest.iter().zip(table_rest) {
                acc[0] += t[c as usize];
            }
            s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        } else {
            let m = self.lut.len() / self.ksub;
            for j in 0..m {
                let c = (code[j / 2] >> ((j % 2) * 4)) & 0x0f;
                s += self.lut[j * self.ksub + c as usize];
            }
        }
        s
    }
}

/// A lookup table that scores product-quantized codes: [`Prepared`] (floats) or [`ByteTable`].
pub trait CodeTable {
    /// The distance of one code.
    fn distance(&self, code: &[u8]) -> f32;
    /// The distances of four codes (`codes`: layout (4, code bytes)).
    fn distances4(&self, codes: &[u8]) -> [f32; 4];
}

impl CodeTable for Prepared {
    #[inline]
    fn distance(&self, code: &[u8]) -> f32 {
        Prepared::distance(self, code)
    }
    #[inline]
    fn distances4(&self, codes: &[u8]) -> [f32; 4] {
        Prepared::distances4(self, codes)
    }
}

impl CodeTable for ByteTable {
    #[inline]
    fn distance(&self, code: &[u8]) -> f32 {
        let (tables, _) = self.table.as_chunks::<256>();
        let sum: u32 = tables.iter().zip(code).map(|(t, &c)| t[c as usize] as u32).sum();
        self.bias + self.scale * sum as f32
    }

    #[inline]
    fn distances4(&self, codes: &[u8]) -> [f32; 4] {
        let cb = codes.len() / 4;
        let (tables, _) = self.table.as_chunks::<256>();
        let (c0, rest) = codes.split_at(cb);
        let (c1, rest) = rest.split_at(cb);
        let (c2, c3) = rest.split_at(cb);
        let mut acc = [0u32; 4];
        for ((((t, a), b), c), d) in tables.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
            acc[0] += t[*a as usize] as u32;
            acc[1] += t[*b as usize] as u32;
            acc[2] += t[*c as usize] as u32;
            acc[3] += t[*d as usize] as u32;
        }
        acc.map(|s| self.bias + self.scale * s as f32)
    }
}

/// [`Prepared::to_byte_table`] without vector instructions (the reference the AVX-512 form is
/// tested against).
pub(super) fn byte_table(lut: &[f32]) -> ByteTable {
    let (tables, _) = lut.as_chunks::<256>();
    let mins: Vec<f32> = tables.iter().map(|t| t.iter().copied().fold(f32::INFINITY, f32::min)).collect();
    let range = tables.iter().zip(&mins).map(|(t, lo)| t.iter().fold(0.0f32, |r, x| r.max(x - lo))).fold(0.0, f32::max);
    let scale = ByteTable::scale_for(range);
    let table = tables
        .iter()
        .zip(&mins)
        .flat_map(|(t, lo)| t.iter().map(move |x| ((x - lo) / scale + 0.5).clamp(0.0, 255.0) as u8))
        .collect();
    ByteTable { table, bias: mins.iter().sum(), scale }
}

/// A [`Prepared`] 8-bit table with each entry rounded to one of 256 levels: entry
/// `(t - min_j) / scale` of sub-space j, with one `scale` for all (the widest sub-space's range
/// / 255), so a distance is `bias + scale * sum(levels)` (`bias`: the sum of the minima),
/// within half a level per sub-space of the float table's. At 96 sub-spaces it is 24 KiB
/// against 96 KiB, small enough to stay in L1 while a list is scanned: ranking candidates for
/// a re-rank through it is faster (see [`crate::index::ivf`]).
#[derive(Debug, Clone)]
pub struct ByteTable {
    /// Layout (m, 256).
    table: Vec<u8>,
    bias: f32,
    scale: f32,
}

impl ByteTable {
    fn scale_for(range: f32) -> f32 {
        if range > 0.0 { range / 255.0 } else { 1.0 }
    }

    /// Largest difference between a distance here and through the float table: half a level
    /// per sub-space.
    pub fn max_error(&self) -> f32 {
        self.scale * 0.5 * (self.table.len() / 256) as f32
    }
}

#[cfg(target_arch = "x86_64")]
mod bytes512 {
    use std::arch::x86_64::*;

    /// [`super::Prepared::to_byte_table`], 16 entries a step.
    #[target_feature(enable = "avx512f")]
    pub(super) fn byte_table(lut: &[f32]) -> super::ByteTable {
        let (tables, _) = lut.as_chunks::<256>();
        let mut mins = Vec::with_capacity(tables.len());
        let mut range = 0.0f32;
        for t in tables {
            let (mut lo, mut hi) = (_mm512_set1_ps(f32::INFINITY), _mm512_set1_ps(f32::NEG_INFINITY));
            for c in t.as_chunks::<16>().0 {
                // SAFETY: `c` holds 16 floats.
                let v = unsafe { _mm512_loadu_ps(c.as_ptr()) };
                lo = _mm512_min_ps(lo, v);
                hi = _mm512_max_ps(hi, v);
            }
            let (lo, hi) = (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
            mins.push(lo);
            range = range.max(hi - lo);
        }
        let scale = super::ByteTable::scale_for(range);
        let inv = _mm512_set1_ps(1.0 / scale);
        let mut out = vec![0u8; lut.len()];
        for ((o, t), &lo) in out.as_chunks_mut::<256>().0.iter_mut().zip(tables).zip(&mins) {
            let lo = _mm512_set1_ps(lo);
            for (o, t) in o.as_chunks_mut::<16>().0.iter_mut().zip(t.as_chunks::<16>().0) {
                // SAFETY: 16 floats in, 16 bytes out.
                unsafe {
                    // Rounded to the nearest level, then saturated to 0..=255 on the way to bytes.
                    let v = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(t.as_ptr()), lo), inv);
                    let levels = _mm512_cvtps_epi32(_mm512_max_ps(v, _mm512_setzero_ps()));
                    _mm_storeu_si128(o.as_mut_ptr() as *mut __m128i, _mm512_cvtusepi32_epi8(levels));
                }
            }
        }
        super::ByteTable { table: out, bias: mins.iter().sum(), scale }
    }
}
