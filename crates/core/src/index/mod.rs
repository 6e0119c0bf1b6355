//! Vector indexes. [`FlatIndex`] scans every row exactly and is the recall oracle for the
//! approximate indexes.

mod flat;
pub mod hnsw;
pub mod ivf;
mod topk;

pub use flat::FlatIndex;
pub use hnsw::{GraphParts, HnswGraph, HnswParams, LinkTable, VecLinks};
pub use ivf::IvfPq;
pub use topk::{Neighbor, TopK};
