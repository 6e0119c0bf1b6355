//! libravdb-engine: databases and collections on top of `libravdb-core` (compute) and
//! `libravdb-storage` (files). This is the Rust API the Node binding calls; every entry point
//! validates its input and returns a typed [`Error`], never panics on bad input.
//!
//! - [`Database`]: a directory (or memory) of collections, one writer at a time.
//! - [`Collection`]: batches, reads, search, checkpoint and recovery.

mod alloc;
mod cancel;
pub mod collection;
pub mod config;
mod database;
mod error;
mod ids;
pub mod memory;
mod ops;
mod pool;

pub use cancel::Cancel;
pub use collection::{
    BatchOptions, BatchReport, Change, ChangeCursor, ChangeKind, Collection, Damage, FieldStats, Fusion, Hits,
    HybridPlan, HybridQuery, ItemError, PlanKind, QueryPlan, RRF_K, RebuildReport, Record, SampleSource, SearchParams,
    SignalScores, SparseQuery, Stats, TextQuery, TuneReport, UpdateInput, VerifyReport, Weights, fuse, parse_filter,
};
pub use config::{
    ChangeRetention, CollectionConfig, DbOptions, IndexConfig, IndexSpec, MmapMode, QuantSpec, QuantizationConfig,
};
pub use database::{BackupReport, Database, MemoryUsage};
pub use error::{Error, ErrorCode, Result};
pub use libravdb_core::Metric;
pub use libravdb_filter::Filter;
pub use libravdb_text::{SparsePlan, TextOptions, TextSearch};
pub use memory::{MemoryGovernor, MemoryParts};
pub use ops::{MetadataChange, NamedVectors};
pub use pool::pool;

/// The instruction set the distance kernels run with on this CPU (`"avx512"`, `"avx2+fma"`,
/// `"baseline"`).
pub fn kernels_isa() -> &'static str {
    libravdb_core::distance::kernels().isa
}
