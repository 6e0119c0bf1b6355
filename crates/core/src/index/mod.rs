//! Vector indexes. [`FlatIndex`] scans every row exactly and is the recall oracle for the
//! approximate indexes.

mod flat;
mod topk;

pub use flat::FlatIndex;
pub use topk::{Neighbor, TopK};
