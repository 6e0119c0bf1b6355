//! Vector indexes behind one interface, [`VectorIndex`] (as hnswlib's `AlgorithmInterface`
//! and qdrant's `VectorIndex`): [`FlatIndex`] scans every row exactly and is the recall
//! oracle; [`HnswIndex`] walks a graph; [`IvfPqIndex`] probes inverted lists of
//! product-quantized codes and re-ranks. The engine holds one of them per collection and
//! talks to it through the trait only.

mod flat;
pub mod hnsw;
pub mod ivf;
mod topk;

pub use flat::FlatIndex;
pub use hnsw::{
    CodeScorer, GraphParts, HnswIndex, HnswParams, LinkTable, Scorer, VecLinks, VectorScorer, code_walk_beam,
};
pub use ivf::{IvfPq, IvfPqIndex};
pub use topk::{Neighbor, SelectTopK, TopK};

use crate::vectors::VectorRows;

/// Which rows a search may return (live ones, or those passing a filter).
pub type Accept<'a> = dyn Fn(u32) -> bool + Sync + 'a;

/// The kinds of index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    Flat,
    Hnsw,
    IvfPq,
}

impl IndexKind {
    /// The name the API uses (`stats().index`, `index.type`).
    pub fn as_str(self) -> &'static str {
        match self {
            IndexKind::Flat => "flat",
            IndexKind::Hnsw => "hnsw",
            IndexKind::IvfPq => "ivfpq",
        }
    }
}

/// The search option that sets an approximate index's breadth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreadthKnob {
    /// HNSW beam width.
    EfSearch,
    /// IVF lists probed.
    Nprobe,
}

/// How a graph walk treats rows the search may not return (other indexes ignore it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Walk {
    /// Through every row, rejected ones scored to route on (hnswlib's filtered search): it
    /// never loses the graph's connectivity, and under a tight filter reads mostly rows it
    /// cannot return.
    #[default]
    Through,
    /// Through every row but this one, which is neither returned nor scored to route on: the
    /// graph as if the row were not in it. `tune()` makes a stored vector a query this way:
    /// a query that is not in the graph cannot reach its own node, whose links are exactly
    /// its nearest neighbours.
    Without(u32),
}

/// How a filtered search runs on an index, chosen by the index's cost model.
#[derive(Debug, Clone, PartialEq)]
pub enum FilteredRoute {
    /// Score the matching rows directly: exact, and cheaper than searching here.
    Exact { reason: String },
    /// Search the index at `breadth`, returning only matches.
    Search { breadth: usize, reason: String },
}

/// What every index does. `V` is the table of full-precision vectors the index was built
/// over: rows are its row numbers, and every row an index holds must be in it.
pub trait VectorIndex<V: VectorRows + ?Sized>: Send + Sync {
    fn kind(&self) -> IndexKind;

    /// The search option that sets this index's breadth (None: exact, nothing to set).
    fn breadth_knob(&self) -> Option<BreadthKnob>;

    /// The breadth a search for `k` runs at: the caller's `requested` one or the index's
    /// default (HNSW: `efSearch`, never below `k`; IVF-PQ: `nprobe`; exact: `k`).
    fn breadth(&self, requested: Option<usize>, k: usize) -> usize;

    /// The `k` accepted rows closest to `query` (prepared: normalised for cosine), closest
    /// first, searching at `breadth` (ignored by exact indexes), walking a graph as `walk` says.
    fn search(
        &self,
        vectors: &V,
        query: &[f32],
        k: usize,
        breadth: usize,
        walk: Walk,
        accept: &Accept,
    ) -> Vec<Neighbor>;

    /// [`VectorIndex::search`] for each query of a row-major block (layout (n, dim)), on the
    /// calling thread (callers split large batches across threads). Exact indexes override it
    /// to read the rows once for the whole batch.
    fn search_batch(
        &self,
        vectors: &V,
        queries: &[f32],
        k: usize,
        breadth: usize,
        accept: &Accept,
    ) -> Vec<Vec<Neighbor>> {
        queries
            .chunks_exact(vectors.dim())
            .map(|q| self.search(vectors, q, k, breadth, Walk::Through, accept))
            .collect()
    }

    /// Candidates scored by `scorer` (compressed codes) instead of full precision, over rows
    /// `0..rows`; None for an index that keeps codes of its own. A graph walks a beam of
    /// [`code_walk_beam`]`(breadth)`, at least `k`.
    fn search_scored(
        &self,
        scorer: &dyn Scorer,
        rows: usize,
        k: usize,
        breadth: usize,
        walk: Walk,
        accept: &Accept,
    ) -> Option<Vec<Neighbor>>;

    /// Makes `rows` of `vectors` findable, in parallel on the current rayon pool (an HNSW
    /// index must have them registered first, see [`HnswIndex::add_rows`]).
    fn add(&self, vectors: &V, rows: &[u32]);

    /// Reconnects or drops around the rows `deleted` names, after which nothing refers to
    /// them; returns how many lists were rewritten or entries dropped.
    fn repair(&self, vectors: &V, deleted: &Accept) -> usize;

    /// Bytes of index structure (vectors not counted).
    fn bytes(&self) -> usize;

    /// The cost model of the filter planner: how to find `k` of `matches` rows (of `live`)
    /// when an unfiltered search would run at `breadth`.
    fn filtered_route(&self, k: usize, breadth: usize, matches: usize, live: usize) -> FilteredRoute;

    /// Breadth of a search whose filter is evaluated record by record (its matches cannot be
    /// counted first); None when the index scans every row anyway.
    fn unplanned_filter_breadth(&self, k: usize, breadth: usize) -> Option<usize>;
}

/// Share of `live` rows that `matches` are (0 when there are none).
fn selectivity(matches: usize, live: usize) -> f64 {
    if live == 0 { 0.0 } else { matches as f64 / live as f64 }
}

/// The `k` best of `candidates` re-scored exactly on the full-precision rows of `vectors`,
/// closest first (after a search on compressed codes).
pub fn rerank<V: VectorRows + ?Sized>(
    vectors: &V,
    distance: crate::distance::DistanceFn,
    query: &[f32],
    mut candidates: Vec<Neighbor>,
    k: usize,
) -> Vec<Neighbor> {
    let rows: Vec<u32> = candidates.iter().map(|c| c.row).collect();
    vectors.gather(&rows, &mut |i, v| candidates[i].distance = distance(query, v));
    candidates.sort_unstable();
    candidates.truncate(k);
    candidates
}

#[cfg(test)]
mod tests;
