//! Queries: greedy descent through the upper levels, then a beam search of width `ef` at
//! level 0 that routes through every node but returns only accepted ones (tombstones and
//! filtered-out rows still carry the search, as in hnswlib's `searchBaseLayerST`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::visited::{Visited, with_visited};
use super::{HnswIndex, LinkTable};
use crate::distance::DistanceFn;
use crate::index::topk::Neighbor;
use crate::vectors::VectorRows;

/// Distance from one fixed query to any row: what a graph walk needs. Full-precision vectors
/// ([`VectorScorer`]) or compressed codes (the engine's quantized scorer) both fit.
pub trait Scorer {
    /// Distance (smaller is closer) from the query to `row`.
    fn score(&self, row: u32) -> f32;
    /// Hints that `row` will be scored soon.
    fn prefetch(&self, _row: u32) {}
}

/// Scores rows of a vector table against a full-precision query.
pub struct VectorScorer<'a, V: ?Sized> {
    pub vectors: &'a V,
    pub query: &'a [f32],
    pub kernel: DistanceFn,
}

impl<V: VectorRows + ?Sized> Scorer for VectorScorer<'_, V> {
    #[inline]
    fn score(&self, row: u32) -> f32 {
        (self.kernel)(self.query, self.vectors.row(row))
    }
    #[inline]
    fn prefetch(&self, row: u32) {
        self.vectors.prefetch(row)
    }
}

/// Where and how wide a beam search runs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Beam {
    pub entry: Neighbor,
    pub ef: usize,
    pub level: u8,
}

impl<L: LinkTable> HnswIndex<L> {
    #[inline]
    pub(super) fn dist<V: VectorRows + ?Sized>(&self, vectors: &V, q: &[f32], row: u32) -> f32 {
        (self.distance)(q, vectors.row(row))
    }

    /// A scorer of full-precision rows of `vectors` against `query`.
    pub fn vector_scorer<'a, V: VectorRows + ?Sized>(&self, vectors: &'a V, query: &'a [f32]) -> VectorScorer<'a, V> {
        VectorScorer { vectors, query, kernel: self.distance }
    }

    /// Greedy walk at `level` from `start`: moves to the closest neighbour until none is closer.
    pub(super) fn greedy<S: Scorer + ?Sized>(&self, scorer: &S, start: Neighbor, level: u8) -> Neighbor {
        let mut cur = start;
        let mut buf = Vec::with_capacity(self.params.m);
        loop {
            let mut changed = false;
            self.neighbors_into(cur.row, level, &mut buf);
            for &n in &buf {
                scorer.prefetch(n);
            }
            for &n in &buf {
                let d = scorer.score(n);
                if d < cur.distance {
                    cur = Neighbor { row: n, distance: d };
                    changed = true;
                }
            }
            if !changed {
                return cur;
            }
        }
    }

    /// Beam search at `level` from `entry`. Returns up to `ef` accepted nodes, closest first.
    /// With `ACCEPT_ALL` the filter is skipped at compile time (the build's hot path).
    pub(super) fn search_layer<S, F, const ACCEPT_ALL: bool>(
        &self,
        scorer: &S,
        Beam { entry, ef, level }: Beam,
        visited: &mut Visited,
        accept: &F,
    ) -> Vec<Neighbor>
    where
        S: Scorer + ?Sized,
        F: Fn(u32) -> bool,
    {
        let mut candidates = BinaryHeap::with_capacity(ef * 2);
        let mut results: BinaryHeap<Neighbor> = BinaryHeap::with_capacity(ef + 1);
        visited.insert(entry.row);
        candidates.push(Reverse(entry));
        if ACCEPT_ALL || accept(entry.row) {
            results.push(entry);
        }
        // Distance a candidate must beat: the worst kept result once `ef` are kept.
        let mut bound = if results.len() >= ef { entry.distance } else { f32::INFINITY };
        let mut buf = Vec::with_capacity(self.params.m0());
        while let Some(Reverse(c)) = candidates.pop() {
            if c.distance > bound {
                break;
            }
            self.neighbors_into(c.row, level, &mut buf);
            buf.retain(|&n| visited.insert(n));
            for &n in &buf {
                scorer.prefetch(n);
            }
            for &n in &buf {
                let d = scorer.score(n);
                if results.len() < ef || d < bound {
                    candidates.push(Reverse(Neighbor { row: n, distance: d }));
                    if ACCEPT_ALL || accept(n) {
                        results.push(Neighbor { row: n, distance: d });
                        if results.len() > ef {
                            results.pop();
                        }
                        if results.len() >= ef {
                            bound = results.peek().map_or(f32::INFINITY, |w| w.distance);
                        }
                    }
                }
            }
        }
        results.into_sorted_vec()
    }

    /// The entry node reached by greedy descent down to level `target + 1`.
    pub(super) fn descend<S: Scorer + ?Sized>(&self, scorer: &S, target: u8) -> Option<(Neighbor, u8)> {
        let entry = self.entry()?;
        let mut cur = Neighbor { row: entry.row, distance: scorer.score(entry.row) };
        let mut level = entry.level;
        while level > target {
            cur = self.greedy(scorer, cur, level);
            level -= 1;
        }
        Some((cur, entry.level))
    }

    /// The `k` accepted rows closest to `query`, closest first, searching with beam width
    /// `max(ef, k)`. `vectors` must hold every row of the graph.
    pub fn search<V, F>(&self, vectors: &V, query: &[f32], k: usize, ef: usize, accept: F) -> Vec<Neighbor>
    where
        V: VectorRows + ?Sized,
        F: Fn(u32) -> bool,
    {
        self.search_scored(&self.vector_scorer(vectors, query), k, ef, accept)
    }

    /// [`HnswIndex::search`] with any [`Scorer`] (e.g. distances on quantized codes).
    pub fn search_scored<S, F>(&self, scorer: &S, k: usize, ef: usize, accept: F) -> Vec<Neighbor>
    where
        S: Scorer + ?Sized,
        F: Fn(u32) -> bool,
    {
        let Some((start, _)) = self.descend(scorer, 0) else { return Vec::new() };
        let beam = Beam { entry: start, ef: ef.max(k), level: 0 };
        let mut found =
            with_visited(self.len(), |visited| self.search_layer::<S, F, false>(scorer, beam, visited, &accept));
        found.truncate(k);
        found
    }
}
