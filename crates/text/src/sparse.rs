//! Sparse vectors (SPLADE, BM42 and the like: a few hundred weighted vocabulary dimensions
//! out of tens of thousands): an inverted index per `sparse` schema field, dimension -> rows
//! with their weight, searched by inner product term at a time.
//!
//! A field's value is `{ "indices": [u32...], "values": [f32...] }` (same length, indices
//! distinct); zero weights are not stored.

use std::collections::HashMap;

use serde_json::Value;

/// Rows with a weight in one dimension, ascending.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Weights {
    pub rows: Vec<u32>,
    pub weights: Vec<f32>,
}

/// The index of one sparse field.
#[derive(Debug, Default)]
pub(crate) struct SparseField {
    pub dims: HashMap<u32, Weights>,
}

impl SparseField {
    pub(crate) fn insert(&mut self, row: u32, v: &Value) {
        let Ok(pairs) = libravdb_filter::sparse_pairs(v) else { return }; // validated on write
        for (i, w) in pairs.into_iter().filter(|p| p.1 != 0.0) {
            let d = self.dims.entry(i).or_default();
            match d.rows.binary_search(&row) {
                Ok(at) => d.weights[at] = w,
                Err(at) => {
                    d.rows.insert(at, row);
                    d.weights.insert(at, w);
                }
            }
        }
    }

    pub(crate) fn remove(&mut self, row: u32, v: &Value) {
        let Ok(pairs) = libravdb_filter::sparse_pairs(v) else { return };
        for (i, _) in pairs {
            if let Some(d) = self.dims.get_mut(&i) {
                if let Ok(at) = d.rows.binary_search(&row) {
                    d.rows.remove(at);
                    d.weights.remove(at);
                }
                if d.rows.is_empty() {
                    self.dims.remove(&i);
                }
            }
        }
    }

    /// Inner products with `query` of every row holding one of its dimensions, added into
    /// `scores` (grown as needed); rows first touched are appended to `touched`.
    pub(crate) fn score(
        &self,
        query: &[(u32, f32)],
        scores: &mut Vec<f64>,
        seen: &mut Vec<bool>,
        touched: &mut Vec<u32>,
    ) -> usize {
        let mut read = 0;
        for &(i, q) in query {
            let Some(d) = self.dims.get(&i) else { continue };
            read += d.rows.len();
            for (&row, &w) in d.rows.iter().zip(&d.weights) {
                let r = row as usize;
                if scores.len() <= r {
                    scores.resize(r + 1, 0.0);
                    seen.resize(r + 1, false);
                }
                if !seen[r] {
                    seen[r] = true;
                    touched.push(row);
                }
                scores[r] += f64::from(q) * f64::from(w);
            }
        }
        read
    }

    pub(crate) fn bytes(&self) -> usize {
        self.dims.values().map(|d| (d.rows.capacity() + d.weights.capacity()) * 4 + 48).sum()
    }

    pub(crate) fn compact(&mut self) {
        for d in self.dims.values_mut() {
            d.rows.shrink_to_fit();
            d.weights.shrink_to_fit();
        }
        self.dims.shrink_to_fit();
    }
}
