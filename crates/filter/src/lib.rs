//! libravdb-filter: metadata filters (DESIGN §6).
//!
//! - [`ast`]: the filter tree, parsed from the canonical JSON form the TypeScript facade
//!   compiles both its QueryBuilder and Mongo-style object filters into; errors name the path.
//! - [`eval`]: a filter applied to one record's metadata (the reference semantics).
//! - [`index`]: payload indexes (roaring bitmaps per keyword, sorted numeric ranges) that
//!   answer a filter over indexed fields as a bitmap of rows, with its exact cardinality.
//!
//! The engine keeps one [`PayloadIndex`] per collection with a schema and plans filtered
//! searches with it (`libravdb-engine`, `collection/filter.rs`).

pub mod ast;
pub mod eval;
pub mod index;

pub use ast::{Filter, FilterError, Op, Scalar};
pub use eval::matches;
pub use index::{FieldType, PayloadIndex, sparse_pairs};
