//! Repair after deletions (`optimize()`): every live node that links to a deleted node gets
//! a new list chosen by the heuristic from its live neighbours, the live neighbours of its
//! deleted neighbours, and (when those are too few) a fresh search; then deleted nodes are
//! unlinked. Afterwards no live list points at a deleted node, so searches no longer route
//! through them, and the entry point is a live node.

use rayon::prelude::*;

use super::search::Beam;
use super::visited::with_visited;
use super::{Entry, HnswIndex, LinkTable};
use crate::index::topk::Neighbor;
use crate::vectors::VectorRows;

impl<L: LinkTable> HnswIndex<L> {
    /// Reconnects around the rows for which `deleted` is true and unlinks them. Returns how
    /// many lists were rewritten.
    pub fn repair<V, D>(&self, vectors: &V, deleted: D) -> usize
    where
        V: VectorRows + ?Sized,
        D: Fn(u32) -> bool + Sync,
    {
        let rows = self.len() as u32;
        self.fix_entry(&deleted);
        let rewritten: usize = (0..rows)
            .into_par_iter()
            .filter(|&r| !deleted(r))
            .map(|r| (0..=self.level(r)).filter(|&l| self.repair_list(vectors, r, l, &deleted)).count())
            .sum();
        for r in (0..rows).filter(|&r| deleted(r)) {
            let _guard = self.locks[r as usize].lock();
            for l in 0..=self.level(r) {
                self.write_list(r, l, &[]);
            }
        }
        rewritten
    }

    /// Rewrites `row`'s list at `level` if it links to a deleted node.
    fn repair_list<V, D>(&self, vectors: &V, row: u32, level: u8, deleted: &D) -> bool
    where
        V: VectorRows + ?Sized,
        D: Fn(u32) -> bool,
    {
        let mut ids = Vec::new();
        self.neighbors_into(row, level, &mut ids);
        if !ids.iter().any(|&n| deleted(n)) {
            return false;
        }
        let cap = self.params.capacity(level);
        let mut pool: Vec<u32> = ids.iter().copied().filter(|&n| !deleted(n)).collect();
        let mut hop = Vec::new();
        for &d in ids.iter().filter(|&&n| deleted(n)) {
            self.neighbors_into(d, level, &mut hop);
            pool.extend(hop.iter().copied().filter(|&n| n != row && !deleted(n)));
        }
        let base = vectors.row(row);
        let scorer = self.vector_scorer(vectors, base);
        if pool.len() < cap
            && let Some((start, _)) = self.descend(&scorer, level)
        {
            let found = with_visited(self.len(), |v| {
                let beam = Beam { entry: start, ef: self.params.ef_construction, level };
                self.search_layer::<_, _, false>(&scorer, beam, v, &|n| n != row && !deleted(n))
            });
            pool.extend(found.iter().map(|n| n.row));
        }
        pool.sort_unstable();
        pool.dedup();
        let mut cands: Vec<Neighbor> =
            pool.into_iter().map(|r| Neighbor { row: r, distance: self.dist(vectors, base, r) }).collect();
        cands.sort_unstable();
        let kept: Vec<u32> = self.select(vectors, &cands, cap).iter().map(|n| n.row).collect();
        let _guard = self.locks[row as usize].lock();
        self.write_list(row, level, &kept);
        true
    }

    /// Moves the entry point to a live node of the highest level, if it was deleted.
    fn fix_entry<D: Fn(u32) -> bool>(&self, deleted: &D) {
        let mut e = self.entry.write();
        if e.is_some_and(|e| deleted(e.row)) {
            *e = (0..self.len() as u32)
                .filter(|&r| !deleted(r))
                .max_by_key(|&r| (self.level(r), std::cmp::Reverse(r)))
                .map(|row| Entry { row, level: self.level(row) });
        }
    }
}
