//! Insertion: Algorithm 1 of the paper with the neighbour-selection heuristic (Algorithm 4,
//! as hnswlib's `getNeighborsByHeuristic2`); a new node's own level-0 list takes up to `m0`
//! of the selected, as faiss's `add_links_starting_from` does. Rows are linked in parallel on
//! the current rayon pool; each list is written under its node's mutex, so two inserts
//! touching the same neighbour serialise only there.

use rayon::prelude::*;

use super::search::{Beam, Scorer};
use super::visited::with_visited;
use super::{Entry, HnswIndex, LinkTable};
use crate::index::topk::Neighbor;
use crate::vectors::VectorRows;

impl<L: LinkTable> HnswIndex<L> {
    /// Links `rows` (registered with `add_rows`, vectors written) into the graph, in parallel.
    pub fn link<V: VectorRows + ?Sized>(&self, vectors: &V, rows: &[u32]) {
        let mut rest = rows;
        if self.entry().is_none()
            && let Some((&first, tail)) = rows.split_first()
        {
            self.insert(vectors, first); // the first node becomes the entry point
            rest = tail;
        }
        rest.par_iter().with_min_len(16).for_each(|&row| self.insert(vectors, row));
    }

    /// Links one row.
    pub(super) fn insert<V: VectorRows + ?Sized>(&self, vectors: &V, row: u32) {
        let q = vectors.row(row);
        let scorer = self.vector_scorer(vectors, q);
        let level = self.level(row);
        let Some(entry) = self.entry() else {
            let mut e = self.entry.write();
            if e.is_none() {
                *e = Some(Entry { row, level });
                return;
            }
            drop(e);
            return self.insert(vectors, row);
        };
        let mut cur = Neighbor { row: entry.row, distance: scorer.score(entry.row) };
        let mut lc = entry.level;
        while lc > level {
            cur = self.greedy(&scorer, cur, lc);
            lc -= 1;
        }
        let top = level.min(entry.level);
        // Own lists are written on every level first; the back-links that make the node
        // reachable come after, so a concurrent search never lands on a node whose lower
        // levels are still empty.
        let mut back_links: Vec<(u8, Vec<Neighbor>)> = Vec::with_capacity(top as usize + 1);
        with_visited(self.len(), |visited| {
            for lc in (0..=top).rev() {
                let beam = Beam { entry: cur, ef: self.params.ef_construction, level: lc };
                let found = self.search_layer::<_, _, true>(&scorer, beam, visited, &|_| true);
                let found: Vec<Neighbor> = found.into_iter().filter(|n| n.row != row).collect();
                if let Some(&closest) = found.first() {
                    cur = closest;
                }
                let selected = self.select(vectors, &found, self.params.capacity(lc));
                {
                    let _guard = self.locks[row as usize].lock();
                    let ids: Vec<u32> = selected.iter().map(|n| n.row).collect();
                    self.write_list(row, lc, &ids);
                }
                back_links.push((lc, selected));
                // A fresh visited epoch per level, as each level is its own search.
                visited.reset_for(self.len());
            }
        });
        for (lc, selected) in back_links {
            let cap = self.params.capacity(lc);
            for n in &selected {
                self.add_link(vectors, n.row, row, n.distance, lc, cap);
            }
        }
        if level > entry.level {
            let mut e = self.entry.write();
            if e.is_none_or(|e| level > e.level) {
                *e = Some(Entry { row, level });
            }
        }
    }

    /// Adds `new` (at distance `d` from `node`) to `node`'s list at `level`, pruning with the
    /// heuristic when the list is full.
    fn add_link<V: VectorRows + ?Sized>(&self, vectors: &V, node: u32, new: u32, d: f32, level: u8, cap: usize) {
        let _guard = self.locks[node as usize].lock();
        let mut ids = Vec::with_capacity(cap + 1);
        self.neighbors_into(node, level, &mut ids);
        if ids.contains(&new) {
            return;
        }
        if ids.len() < cap {
            ids.push(new);
            self.write_list(node, level, &ids);
            return;
        }
        let base = vectors.row(node);
        let mut cands: Vec<Neighbor> =
            ids.iter().map(|&r| Neighbor { row: r, distance: self.dist(vectors, base, r) }).collect();
        cands.push(Neighbor { row: new, distance: d });
        cands.sort_unstable();
        let kept: Vec<u32> = self.select(vectors, &cands, cap).iter().map(|n| n.row).collect();
        self.write_list(node, level, &kept);
    }

    /// The neighbour-selection heuristic: walking `candidates` closest first, keeps one only
    /// if it is closer to the base than to every candidate kept so far, up to `m`. This keeps
    /// links that point in different directions, which is what makes the graph navigable.
    /// An exact duplicate of a kept candidate adds no direction and is dropped too: else the
    /// list of a vector stored many times fills with its copies (all at distance 0, never
    /// closer to each other than to the base) and nothing inserted later is reachable from them.
    pub(super) fn select<V: VectorRows + ?Sized>(
        &self,
        vectors: &V,
        candidates: &[Neighbor],
        m: usize,
    ) -> Vec<Neighbor> {
        let mut kept: Vec<Neighbor> = Vec::with_capacity(m);
        for &c in candidates {
            if kept.len() >= m {
                break;
            }
            let cv = vectors.row(c.row);
            if kept.iter().all(|k| self.dist(vectors, cv, k.row) >= c.distance && vectors.row(k.row) != cv) {
                kept.push(c);
            }
        }
        kept
    }
}
