//! What a search is asked (`SearchParams`) and what a hybrid hit reports per signal
//! (`SignalScores`): shared by plain, batch and hybrid searches, below all of them.

use libravdb_core::VectorRows;
use libravdb_core::index::{BreadthKnob, VectorIndex};

/// What a search returns alongside ids and scores.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchParams {
    pub k: usize,
    /// HNSW beam width; `None` takes the collection's `efSearch` (raised to `k` if smaller).
    pub ef_search: Option<usize>,
    /// IVF-PQ lists probed; `None` takes the collection's `nprobe`.
    pub nprobe: Option<usize>,
    pub include_metadata: bool,
    pub include_vectors: bool,
    /// Range search: only hits whose score is within this bound (l2: distance at most it;
    /// cosine and dot: similarity at least it), at most `k` of them.
    pub score_bound: Option<f32>,
    /// MMR: pick `k` of the `fetch_k` nearest for diversity, 0 (relevance only) to 1 (see
    /// `results.rs`).
    pub diversity: Option<f32>,
    /// MMR: candidates fetched (default 4 x k, at least 20).
    pub fetch_k: Option<usize>,
}

impl SearchParams {
    /// The `k` nearest with the collection's settings and nothing more (usable in a const).
    pub const fn nearest(k: usize) -> Self {
        Self {
            k,
            ef_search: None,
            nprobe: None,
            include_metadata: false,
            include_vectors: false,
            score_bound: None,
            diversity: None,
            fetch_k: None,
        }
    }

    /// The breadth this call asks of `index` (HNSW: `ef_search`; IVF-PQ: `nprobe`).
    pub(crate) fn breadth<V: VectorRows + ?Sized>(&self, index: &dyn VectorIndex<V>) -> Option<usize> {
        match index.breadth_knob()? {
            BreadthKnob::EfSearch => self.ef_search,
            BreadthKnob::Nprobe => self.nprobe,
        }
    }
}

/// Each hit's score per signal, NaN where the signal did not return the hit (or did not run).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalScores {
    /// Distance (l2) or similarity (cosine, dot).
    pub vector: Vec<f32>,
    /// BM25.
    pub text: Vec<f32>,
    /// Inner product.
    pub sparse: Vec<f32>,
    /// Each named vector field of the query, in its order: distance or similarity.
    pub fields: Vec<Vec<f32>>,
}

/// A vector signal's score as relevance (higher is better) and back: l2 distances negate.
pub(super) fn relevance(metric: libravdb_core::Metric, score: f32) -> f32 {
    match metric {
        libravdb_core::Metric::L2 => -score,
        _ => score,
    }
}
