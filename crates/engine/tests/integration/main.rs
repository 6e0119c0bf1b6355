//! Engine integration tests: one binary, one module per topic.

mod batches;
mod changes;
mod common;
mod filter;
mod hnsw;
mod ivf;
mod named;
mod named_filter;
mod named_ivf;
mod named_quant;
mod named_rebuild;
mod quant;
mod rebuild;
mod recovery;
mod schema;
mod search;
mod text;
mod tune;
