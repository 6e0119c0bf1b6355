//! Queries: greedy descent through the upper levels, then a beam search of width `ef` at
//! level 0 that routes through every node but returns only accepted ones (tombstones and
//! filtered-out rows still carry the search, as in hnswlib's `searchBaseLayerST`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::visited::{Visited, with_visited};
use super::{HnswIndex, LinkTable};
use crate::distance::{Distance4Fn, DistanceFn};
use crate::index::Walk;
use crate::index::topk::Neighbor;
use crate::quant::PreparedQuery;
use crate::vectors::{VectorRows, prefetch_slice};

/// Distance from one fixed query to any row: what a graph walk needs. Full-precision vectors
/// ([`VectorScorer`]) or compressed codes ([`CodeScorer`]) both fit.
pub trait Scorer {
    /// Distance (smaller is closer) from the query to `row`.
    fn score(&self, row: u32) -> f32;
    /// [`Scorer::score`] of four rows, equal to four calls (a scorer may share the query's
    /// loads among them).
    fn score4(&self, rows: [u32; 4]) -> [f32; 4] {
        rows.map(|r| self.score(r))
    }
    /// Hints that `row` will be scored soon.
    fn prefetch(&self, _row: u32) {}
    /// Whether a walk should prefetch the first rows of the node it will expand next before
    /// it has finished this one (a guess: a closer row scored meanwhile changes the next
    /// node). Pays for small rows (8-bit codes: +3-12% q/s on debpkg100k), whose walk waits on
    /// each node's first rows; costs 1-5% on full-precision rows, whose walk is bound by their
    /// bytes.
    fn prefetch_next_node(&self) -> bool {
        false
    }
}

/// Scores rows of a vector table against a full-precision query.
pub struct VectorScorer<'a, V: ?Sized> {
    pub vectors: &'a V,
    pub query: &'a [f32],
    pub kernel: DistanceFn,
    /// `kernel` of the query against four rows (distances are symmetric: the x4 kernel of one
    /// row against four queries serves, the query in the row's place; bit-identical to four
    /// `kernel` calls).
    pub kernel4: Distance4Fn,
}

impl<V: VectorRows + ?Sized> Scorer for VectorScorer<'_, V> {
    #[inline]
    fn score(&self, row: u32) -> f32 {
        (self.kernel)(self.query, self.vectors.row(row))
    }
    #[inline]
    fn score4(&self, rows: [u32; 4]) -> [f32; 4] {
        (self.kernel4)(self.query, rows.map(|r| self.vectors.row(r)))
    }
    #[inline]
    fn prefetch(&self, row: u32) {
        self.vectors.prefetch(row)
    }
}

/// Scores rows by their quantized codes (layout: rows of `code_bytes`) against a prepared
/// query.
pub struct CodeScorer<'a> {
    prepared: PreparedQuery,
    codes: &'a [u8],
    code_bytes: usize,
    /// Each code's row term, when the prepared query scores with them.
    terms: Option<&'a [f32]>,
}

impl<'a> CodeScorer<'a> {
    /// `row_terms`: each code's [`crate::quant::Quantizer::row_term`], or empty; used when the
    /// query scores with them ([`PreparedQuery::uses_row_term`]) and they cover every code.
    pub fn new(prepared: PreparedQuery, codes: &'a [u8], code_bytes: usize, row_terms: &'a [f32]) -> Self {
        let terms = (prepared.uses_row_term() && row_terms.len() * code_bytes == codes.len()).then_some(row_terms);
        Self { prepared, codes, code_bytes, terms }
    }

    /// The code of `row`, if the codes reach it.
    #[inline]
    fn code(&self, row: u32) -> Option<&[u8]> {
        let s = row as usize * self.code_bytes;
        self.codes.get(s..s + self.code_bytes)
    }
}

impl Scorer for CodeScorer<'_> {
    #[inline]
    fn score(&self, row: u32) -> f32 {
        let code = self.code(row).expect("every row of the graph has a code");
        match self.terms {
            Some(terms) => self.prepared.distance_with_term(code, terms[row as usize]),
            None => self.prepared.distance(code),
        }
    }
    #[inline]
    fn prefetch(&self, row: u32) {
        if let Some(code) = self.code(row) {
            prefetch_slice(code);
        }
    }
    fn prefetch_next_node(&self) -> bool {
        true
    }
}

/// The beam of a walk over codes asked to search at `ef`: an eighth wider. Codes rank near
/// neighbours a little less exactly than full precision, so at the same beam the walk settles
/// on slightly different candidates: on real 384-d embeddings (debpkg100k, cosine and L2,
/// 8-bit codes, re-rank k x 2) recall@10 was 0.0002-0.0034 below full precision's at some
/// efSearch from 24 to 128 on one graph. Beams 10% and 15% wider each gave recall at or above
/// full precision's at every efSearch from 16 to 256 (debpkg20k and debpkg100k, cosine and
/// L2), still 1.4-1.9x full precision's queries/s.
pub fn code_walk_beam(ef: usize) -> usize {
    ef.saturating_add(ef.div_ceil(8))
}

/// The state of a beam search: candidates to expand, closest first, and the best `ef` results
/// kept so far, worst on top.
struct Frontier {
    candidates: BinaryHeap<Reverse<Neighbor>>,
    results: BinaryHeap<Neighbor>,
    ef: usize,
    /// Distance a candidate must beat: the worst kept result once `ef` are kept.
    bound: f32,
}

impl Frontier {
    /// A beam starting at `entry`, kept as a result if `keep`.
    fn new(entry: Neighbor, ef: usize, keep: bool) -> Self {
        let mut candidates = BinaryHeap::with_capacity(ef * 2);
        let mut results = BinaryHeap::with_capacity(ef + 1);
        candidates.push(Reverse(entry));
        if keep {
            results.push(entry);
        }
        let bound = if results.len() >= ef { entry.distance } else { f32::INFINITY };
        Self { candidates, results, ef, bound }
    }

    /// The closest candidate left, unless it is beyond every kept result (the search ends).
    #[inline]
    fn next(&mut self) -> Option<Neighbor> {
        self.candidates.pop().map(|Reverse(c)| c).filter(|c| c.distance <= self.bound)
    }

    /// The candidate [`Frontier::next`] would return next, if any is queued.
    #[inline]
    fn peek(&self) -> Option<u32> {
        self.candidates.peek().map(|Reverse(c)| c.row)
    }

    /// A scored row: queued if it could improve the results, and kept as one if `keep()`
    /// (asked only then).
    #[inline]
    fn offer(&mut self, n: Neighbor, keep: impl FnOnce() -> bool) {
        if self.results.len() < self.ef || n.distance < self.bound {
            self.candidates.push(Reverse(n));
            if keep() {
                self.results.push(n);
                if self.results.len() > self.ef {
                    self.results.pop();
                }
                if self.results.len() >= self.ef {
                    self.bound = self.results.peek().map_or(f32::INFINITY, |w| w.distance);
                }
            }
        }
    }

    fn into_results(self) -> Vec<Neighbor> {
        self.results.into_sorted_vec()
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
        VectorScorer { vectors, query, kernel: self.distance, kernel4: self.metric.kernel_x4() }
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
        visited.insert(entry.row);
        let mut beam = Frontier::new(entry, ef, ACCEPT_ALL || accept(entry.row));
        let mut buf = Vec::with_capacity(self.params.m0());
        let prefetch_next_node = level == 0 && scorer.prefetch_next_node();
        let mut next_rows = Vec::with_capacity(if prefetch_next_node { self.params.m0() } else { 0 });
        while let Some(c) = beam.next() {
            self.neighbors_into(c.row, level, &mut buf);
            buf.retain(|&n| visited.insert(n));
            // Rows are prefetched one group of four ahead of their scoring, not all at once:
            // a burst of 16-32 rows' lines overflows the core's outstanding misses and stalls
            // on the prefetches themselves. Walks over 8-bit codes gain 11-16% (debpkg100k);
            // full-precision walks, bound by the rows' bytes, neither gain nor lose.
            for &n in buf.iter().take(4) {
                scorer.prefetch(n);
            }
            if level == 0
                && let Some(next) = beam.peek()
            {
                self.prefetch_level0(next);
            }
            let mut fours = buf.chunks_exact(4);
            let mut ahead = buf.iter().skip(4);
            for four in &mut fours {
                for &n in ahead.by_ref().take(4) {
                    scorer.prefetch(n);
                }
                let rows = [four[0], four[1], four[2], four[3]];
                for (n, d) in rows.into_iter().zip(scorer.score4(rows)) {
                    beam.offer(Neighbor { row: n, distance: d }, || ACCEPT_ALL || accept(n));
                }
            }
            // The next node's first rows start on their way before this node's last ones are
            // scored (see `Scorer::prefetch_next_node`).
            if prefetch_next_node && let Some(next) = beam.peek() {
                self.neighbors_into(next, level, &mut next_rows);
                for &n in next_rows.iter().filter(|&&n| !visited.contains(n)).take(4) {
                    scorer.prefetch(n);
                }
            }
            for &n in fours.remainder() {
                beam.offer(Neighbor { row: n, distance: scorer.score(n) }, || ACCEPT_ALL || accept(n));
            }
        }
        beam.into_results()
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
        self.search_walk(scorer, k, ef, Walk::Through, accept)
    }

    /// [`HnswIndex::search_scored`] walking level 0 as `walk` says (without one row:
    /// [`Walk::Without`]).
    pub fn search_walk<S, F>(&self, scorer: &S, k: usize, ef: usize, walk: Walk, accept: F) -> Vec<Neighbor>
    where
        S: Scorer + ?Sized,
        F: Fn(u32) -> bool,
    {
        match walk {
            Walk::Without(row) => self.walk_from_entry(&Without { scorer, row }, k, ef, |r| r != row && accept(r)),
            Walk::Through => self.walk_from_entry(scorer, k, ef, accept),
        }
    }

    /// Greedy descent to level 0, then the level-0 beam search.
    fn walk_from_entry<S, F>(&self, scorer: &S, k: usize, ef: usize, accept: F) -> Vec<Neighbor>
    where
        S: Scorer + ?Sized,
        F: Fn(u32) -> bool,
    {
        let Some((start, _)) = self.descend(scorer, 0) else { return Vec::new() };
        let ef = ef.max(k);
        let mut found = with_visited(self.len(), |visited| {
            self.search_layer::<S, F, false>(scorer, Beam { entry: start, ef, level: 0 }, visited, &accept)
        });
        found.truncate(k);
        found
    }
}

/// A scorer that puts one row out of reach: at an infinite distance it is never moved to in
/// the descent, and the beam queues it last, so it is expanded only if nothing else is left
/// while the beam is not yet full.
struct Without<'a, S: ?Sized> {
    scorer: &'a S,
    row: u32,
}

impl<S: Scorer + ?Sized> Scorer for Without<'_, S> {
    #[inline]
    fn score(&self, row: u32) -> f32 {
        if row == self.row { f32::INFINITY } else { self.scorer.score(row) }
    }
    #[inline]
    fn prefetch(&self, row: u32) {
        self.scorer.prefetch(row)
    }
    fn prefetch_next_node(&self) -> bool {
        self.scorer.prefetch_next_node()
    }
}
