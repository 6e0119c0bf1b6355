//! Vector quantizers: compact codes searched in place of full-precision vectors, with the
//! best candidates re-ranked on the originals (DESIGN §5).
//!
//! - [`ScalarQuantizer`]: per-dimension ranges (clipped at quantiles), 8 or 4 bits per value.
//! - [`ProductQuantizer`]: `m` sub-spaces, a k-means codebook each, 8 or 4 bits per sub-space.
//!
//! Every quantizer trains on a sample, encodes and decodes, prepares a query once and then
//! scores codes against it ([`Quantizer::prepare`] / [`PreparedQuery::distance`]) in the
//! metric's distance convention (smaller is closer), and serialises to bytes.

mod kernels;
mod kmeans;
mod pq;
mod sq;

pub use kmeans::{Centroids, kmeans, squared_lengths};
pub use pq::{ByteTable, CodeTable, ProductQuantizer};
pub use sq::ScalarQuantizer;

use crate::codec::{ByteReader, ByteWriter};
use crate::distance::Metric;

/// A trained quantizer of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantizer {
    Scalar(ScalarQuantizer),
    Product(ProductQuantizer),
}

/// A query prepared for scoring codes (precomputed per-dimension terms or lookup tables).
#[derive(Debug, Clone)]
pub enum PreparedQuery {
    Scalar(sq::Prepared),
    Product(pq::Prepared),
}

/// Whether `sample` (layout (n, dim)) holds at least `want` distinct rows (compared by hash
/// of their bits; stops counting at `want`).
pub(crate) fn has_distinct_rows(sample: &[f32], dim: usize, want: usize) -> bool {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut seen = std::collections::HashSet::with_capacity(want);
    for row in sample.chunks_exact(dim.max(1)) {
        let mut h = state.build_hasher();
        row.iter().for_each(|x| h.write_u32(x.to_bits()));
        seen.insert(h.finish());
        if seen.len() >= want {
            return true;
        }
    }
    false
}

/// Whether this CPU scores 8-bit codes on integers (AVX-512 VNNI), where L2 codes keep a row
/// term ([`Quantizer::row_term`]).
pub fn integer_code_kernel() -> bool {
    kernels::select_int_dot().is_some()
}

/// Why training failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrainError(pub String);

impl Quantizer {
    /// Components of the vectors it encodes.
    pub fn dim(&self) -> usize {
        match self {
            Quantizer::Scalar(q) => q.dim(),
            Quantizer::Product(q) => q.dim(),
        }
    }

    /// Bytes of one code.
    pub fn code_bytes(&self) -> usize {
        match self {
            Quantizer::Scalar(q) => q.code_bytes(),
            Quantizer::Product(q) => q.code_bytes(),
        }
    }

    /// Full-precision bytes per code byte.
    pub fn compression(&self) -> f64 {
        (self.dim() * 4) as f64 / self.code_bytes() as f64
    }

    /// Encodes `v` into `out` (`code_bytes()` long).
    pub fn encode(&self, v: &[f32], out: &mut [u8]) {
        match self {
            Quantizer::Scalar(q) => q.encode(v, out),
            Quantizer::Product(q) => q.encode(v, out),
        }
    }

    /// Reconstructs an approximation of the encoded vector into `out` (`dim()` long).
    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        match self {
            Quantizer::Scalar(q) => q.decode(code, out),
            Quantizer::Product(q) => q.decode(code, out),
        }
    }

    /// The term of `code` to keep beside it for L2 on integers
    /// ([`PreparedQuery::distance_with_term`]): 8-bit scalar codes on a CPU with the integer
    /// kernel; None where it would not be used.
    pub fn row_term(&self, code: &[u8]) -> Option<f32> {
        match self {
            Quantizer::Scalar(q) if self.keeps_row_terms() => Some(q.row_term(code)),
            _ => None,
        }
    }

    /// Whether its codes have a [`Quantizer::row_term`].
    pub fn keeps_row_terms(&self) -> bool {
        matches!(self, Quantizer::Scalar(q) if q.bits() == 8) && integer_code_kernel()
    }

    /// Prepares `query` for scoring codes under `metric`.
    pub fn prepare(&self, query: &[f32], metric: Metric) -> PreparedQuery {
        match self {
            Quantizer::Scalar(q) => PreparedQuery::Scalar(q.prepare(query, metric)),
            Quantizer::Product(q) => PreparedQuery::Product(q.prepare(query, metric)),
        }
    }

    /// Serialised form (see [`Quantizer::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = ByteWriter::default();
        match self {
            Quantizer::Scalar(q) => {
                w.u8(1);
                q.write(&mut w);
            }
            Quantizer::Product(q) => {
                w.u8(2);
                q.write(&mut w);
            }
        }
        w.buf
    }

    /// Reads what [`Quantizer::to_bytes`] wrote; `None` if the bytes are not a quantizer.
    pub fn from_bytes(bytes: &[u8]) -> Option<Quantizer> {
        let (&kind, rest) = bytes.split_first()?;
        let mut r = ByteReader::new(rest);
        let q = match kind {
            1 => Quantizer::Scalar(ScalarQuantizer::read(&mut r)?),
            2 => Quantizer::Product(ProductQuantizer::read(&mut r)?),
            _ => return None,
        };
        r.is_empty().then_some(q)
    }
}

impl PreparedQuery {
    /// Whether scoring is faster through [`PreparedQuery::distance_with_term`] (8-bit L2 on a
    /// CPU with the integer kernel).
    pub fn uses_row_term(&self) -> bool {
        matches!(self, PreparedQuery::Scalar(p) if p.uses_row_term())
    }

    /// [`PreparedQuery::distance`] given `code`'s [`Quantizer::row_term`].
    #[inline]
    pub fn distance_with_term(&self, code: &[u8], term: f32) -> f32 {
        match self {
            PreparedQuery::Scalar(p) => p.distance_with_term(code, term),
            PreparedQuery::Product(p) => p.distance(code),
        }
    }

    /// Distance (smaller is closer) between the prepared query and `code`.
    #[inline]
    pub fn distance(&self, code: &[u8]) -> f32 {
        match self {
            PreparedQuery::Scalar(p) => p.distance(code),
            PreparedQuery::Product(p) => p.distance(code),
        }
    }
}

#[cfg(test)]
mod tests;
