//! Full-text search over a collection's `text` schema fields: each field has an analyzer
//! ([`analyzer`]) and an inverted index (term -> rows holding it, with their term
//! frequencies, plus each row's length in terms), kept in step with every write; queries are
//! scored with BM25 as Lucene defines it:
//!
//! `score(d, q) = sum over query terms t of idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avglen))`,
//! `idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))`
//!
//! where N and avglen count the rows whose field holds at least one term, a query term that
//! repeats counts each time (as Lucene and `rank-bm25` do), and a search over several fields
//! adds their scores. Lengths are exact (Lucene rounds them to one byte).

//!
//! Sparse vectors (`sparse` schema fields, [`sparse`]) are indexed here too: the same
//! inverted shape, scored by inner product.

pub mod analyzer;
mod codec;
mod index;
pub mod sparse;

pub use analyzer::{Analyzer, TextOptions, languages};
pub use index::{SparsePlan, TextIndex, TextSearch};
pub use libravdb_filter::sparse_pairs;

#[cfg(test)]
mod tests;
