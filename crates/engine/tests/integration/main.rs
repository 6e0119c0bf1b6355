//! Engine integration tests: one binary, one module per topic.

mod batches;
mod common;
mod recovery;
mod search;
