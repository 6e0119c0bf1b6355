//! Queries: greedy descent through the upper levels, then a beam search of width `ef` at
//! level 0 that routes through every node but returns only accepted ones (tombstones and
//! filtered-out rows still carry the search, as in hnswlib's `searchBaseLayerST`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::visited::{Visited, with_visited};
use super::{HnswGraph, LinkTable};
use crate::index::topk::Neighbor;
use crate::vectors::VectorRows;

/// Where and how wide a beam search runs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Beam {
    pub entry: Neighbor,
    pub ef: usize,
    pub level: u8,
}

impl<L: LinkTable> HnswGraph<L> {
    #[inline]
    pub(super) fn dist<V: VectorRows + ?Sized>(&self, vectors: &V, q: &[f32], row: u32) -> f32 {
        (self.distance)(q, vectors.row(row))
    }

    /// Greedy walk at `level` from `start`: moves to the closest neighbour until none is closer.
    pub(super) fn greedy<V: VectorRows + ?Sized>(
        &self,
        vectors: &V,
        q: &[f32],
        start: Neighbor,
        level: u8,
    ) -> Neighbor {
        let mut cur = start;
        let mut buf = Vec::with_capacity(self.params.m);
        loop {
            let mut changed = false;
            self.neighbors_into(cur.row, level, &mut buf);
            for &n in &buf {
                vectors.prefetch(n);
            }
            for &n in &buf {
                let d = self.dist(vectors, q, n);
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
    pub(super) fn search_layer<V, F, const ACCEPT_ALL: bool>(
        &self,
        vectors: &V,
        q: &[f32],
        Beam { entry, ef, level }: Beam,
        visited: &mut Visited,
        accept: &F,
    ) -> Vec<Neighbor>
    where
        V: VectorRows + ?Sized,
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
                vectors.prefetch(n);
            }
            for &n in &buf {
                let d = self.dist(vectors, q, n);
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
    pub(super) fn descend<V: VectorRows + ?Sized>(&self, vectors: &V, q: &[f32], target: u8) -> Option<(Neighbor, u8)> {
        let entry = self.entry()?;
        let mut cur = Neighbor { row: entry.row, distance: self.dist(vectors, q, entry.row) };
        let mut level = entry.level;
        while level > target {
            cur = self.greedy(vectors, q, cur, level);
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
        let Some((start, _)) = self.descend(vectors, query, 0) else { return Vec::new() };
        let mut found = with_visited(self.len(), |visited| {
            self.search_layer::<V, F, false>(
                vectors,
                query,
                Beam { entry: start, ef: ef.max(k), level: 0 },
                visited,
                &accept,
            )
        });
        found.truncate(k);
        found
    }
}
