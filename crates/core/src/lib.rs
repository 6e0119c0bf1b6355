//! libravdb-core: the pure compute part of LibraVDB.
//!
//! - [`distance`]: the metric enum, scalar reference kernels and SIMD kernels chosen once at
//!   runtime ([`distance::Metric::kernel`]).
//! - [`index`]: the vector indexes behind one interface. [`index::FlatIndex`] is exact and is
//!   the oracle every approximate index is measured against.
//! - [`quant`]: scalar and product quantizers (and k-means) for compressed search.
//! - [`vectors`]: the read-only view of stored vectors an index searches ([`VectorRows`]).
//!
//! No files, no napi: storage lives in `libravdb-storage`, the database in `libravdb-engine`.

pub mod codec;
pub mod distance;
pub mod index;
pub mod quant;
pub mod vectors;

pub use distance::Metric;
pub use index::{FlatIndex, GraphParts, HnswIndex, HnswParams, LinkTable, Neighbor, VecLinks};
pub use vectors::{DenseVectors, VectorRows};
