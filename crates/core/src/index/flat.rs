//! Exact search: every accepted row is compared with the query.
//!
//! Single queries run on the calling thread (a scan of 100k x 128 takes a few milliseconds,
//! less than handing work to another thread is worth at service concurrency). Batches are
//! blocked so that one pass over the rows serves every query of the batch.

use super::topk::{Neighbor, TopK};
use super::{Accept, BreadthKnob, FilteredRoute, IndexKind, Scorer, VectorIndex, VectorScorer, Walk};
use crate::distance::{Distance4Fn, DistanceFn, Metric};
use crate::vectors::VectorRows;

/// Exact nearest-neighbour search over a [`VectorRows`] table.
#[derive(Debug, Clone, Copy)]
pub struct FlatIndex {
    metric: Metric,
    distance: DistanceFn,
    distance4: Distance4Fn,
}

impl FlatIndex {
    /// A flat index using the fastest kernel for `metric` on this CPU.
    pub fn new(metric: Metric) -> Self {
        Self { metric, distance: metric.kernel(), distance4: metric.kernel_x4() }
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The `k` rows closest to `query` among those `accept` lets through, closest first.
    /// `query.len()` must equal `vectors.dim()` (normalised already for cosine).
    pub fn search<V, F>(&self, vectors: &V, query: &[f32], k: usize, accept: F) -> Vec<Neighbor>
    where
        V: VectorRows + ?Sized,
        F: Fn(u32) -> bool,
    {
        let dim = vectors.dim();
        debug_assert_eq!(query.len(), dim);
        let mut top = TopK::new(k);
        if k == 0 {
            return Vec::new();
        }
        let distance = self.distance;
        vectors.runs(&mut |first, data| {
            for (i, row) in data.chunks_exact(dim).enumerate() {
                let id = first + i as u32;
                if !accept(id) {
                    continue;
                }
                let d = distance(query, row);
                if d < top.threshold() {
                    top.push(id, d);
                }
            }
        });
        top.into_sorted()
    }

    /// The `k` of `rows` closest to `query`, closest first: a filter's matches, scored
    /// directly. Rows are read at random, so four are scored at once ([`Scorer::score4`], as a
    /// graph walk scores a node's neighbours: the same distances as one by one) and their
    /// cache misses overlap.
    pub fn search_rows<V>(
        &self,
        vectors: &V,
        rows: impl IntoIterator<Item = u32>,
        query: &[f32],
        k: usize,
    ) -> Vec<Neighbor>
    where
        V: VectorRows + ?Sized,
    {
        if k == 0 {
            return Vec::new();
        }
        let scorer = VectorScorer { vectors, query, kernel: self.distance, kernel4: self.distance4 };
        let mut top = TopK::new(k);
        let mut offer = |id: u32, d: f32| {
            if d < top.threshold() {
                top.push(id, d);
            }
        };
        let (mut four, mut held) = ([0u32; 4], 0);
        for row in rows {
            vectors.prefetch(row);
            four[held] = row;
            held += 1;
            if held == 4 {
                four.into_iter().zip(scorer.score4(four)).for_each(|(id, d)| offer(id, d));
                held = 0;
            }
        }
        for &id in &four[..held] {
            offer(id, scorer.score(id));
        }
        top.into_sorted()
    }

    /// [`FlatIndex::search`] for each query of a row-major `queries` block (layout
    /// (n, dim)), on the calling thread, blocked the way a matrix product is: the rows are
    /// read in blocks of about [`ROW_BLOCK_BYTES`], and each block is scored against every
    /// query while it sits in cache, so one pass over memory serves the whole batch instead of
    /// one pass per query. Results equal those of single searches exactly. Callers split large
    /// batches across threads.
    pub fn search_batch<V, F>(&self, vectors: &V, queries: &[f32], k: usize, accept: F) -> Vec<Vec<Neighbor>>
    where
        V: VectorRows + ?Sized,
        F: Fn(u32) -> bool,
    {
        let dim = vectors.dim();
        let mut tops: Vec<TopK> = queries.chunks_exact(dim).map(|_| TopK::new(k)).collect();
        if k == 0 {
            return vec![Vec::new(); tops.len()];
        }
        let block_rows = (ROW_BLOCK_BYTES / (dim * 4)).max(1);
        let mut accepted = Vec::with_capacity(block_rows);
        vectors.runs(&mut |first, data| {
            for (b, block) in data.chunks(block_rows * dim).enumerate() {
                let block_first = first + (b * block_rows) as u32;
                accepted.clear();
                accepted.extend((0..(block.len() / dim) as u32).filter(|&i| accept(block_first + i)));
                let rows =
                    accepted.iter().map(|&i| (block_first + i, &block[i as usize * dim..(i as usize + 1) * dim]));
                self.score_block(rows, queries, dim, &mut tops);
            }
        });
        tops.into_iter().map(TopK::into_sorted).collect()
    }

    /// The exact top-k of each query among `rows` (any order; a filter's matches), blocked
    /// like [`FlatIndex::search_batch`].
    pub fn search_rows_batch<V>(&self, vectors: &V, rows: &[u32], queries: &[f32], k: usize) -> Vec<Vec<Neighbor>>
    where
        V: VectorRows + ?Sized,
    {
        let dim = vectors.dim();
        let mut tops: Vec<TopK> = queries.chunks_exact(dim).map(|_| TopK::new(k)).collect();
        for block in rows.chunks((ROW_BLOCK_BYTES / (dim * 4)).max(1)) {
            self.score_block(block.iter().map(|&r| (r, vectors.row(r))), queries, dim, &mut tops);
        }
        tops.into_iter().map(TopK::into_sorted).collect()
    }

    /// Scores a block of rows (in cache after the first query) against every query, four
    /// queries per row read where it can, pushing into each query's top-k.
    fn score_block<'a>(
        &self,
        rows: impl Iterator<Item = (u32, &'a [f32])> + Clone,
        queries: &[f32],
        dim: usize,
        tops: &mut [TopK],
    ) {
        let (distance, distance4) = (self.distance, self.distance4);
        let mut quads = queries.chunks_exact(4 * dim);
        let mut quad_tops = tops.chunks_exact_mut(4);
        for (q, top) in quads.by_ref().zip(quad_tops.by_ref()) {
            let q = [&q[..dim], &q[dim..2 * dim], &q[2 * dim..3 * dim], &q[3 * dim..]];
            for (id, row) in rows.clone() {
                for (t, d) in top.iter_mut().zip(distance4(row, q)) {
                    if d < t.threshold() {
                        t.push(id, d);
                    }
                }
            }
        }
        for (q, top) in quads.remainder().chunks_exact(dim).zip(quad_tops.into_remainder()) {
            for (id, row) in rows.clone() {
                let d = distance(q, row);
                if d < top.threshold() {
                    top.push(id, d);
                }
            }
        }
    }
}

/// Bytes of rows scored against a whole batch of queries before moving on: well inside a
/// core's L2 cache (1-2 MiB on current x86 servers) beside the queries themselves.
pub const ROW_BLOCK_BYTES: usize = 256 * 1024;

impl<V: VectorRows + ?Sized> VectorIndex<V> for FlatIndex {
    fn kind(&self) -> IndexKind {
        IndexKind::Flat
    }

    fn breadth_knob(&self) -> Option<BreadthKnob> {
        None
    }

    fn breadth(&self, _requested: Option<usize>, k: usize) -> usize {
        k
    }

    fn search(
        &self,
        vectors: &V,
        query: &[f32],
        k: usize,
        _breadth: usize,
        _walk: Walk,
        accept: &Accept,
    ) -> Vec<Neighbor> {
        FlatIndex::search(self, vectors, query, k, accept)
    }

    fn search_batch(
        &self,
        vectors: &V,
        queries: &[f32],
        k: usize,
        _breadth: usize,
        accept: &Accept,
    ) -> Vec<Vec<Neighbor>> {
        FlatIndex::search_batch(self, vectors, queries, k, accept)
    }

    fn search_scored(
        &self,
        scorer: &dyn Scorer,
        rows: usize,
        k: usize,
        _breadth: usize,
        _walk: Walk,
        accept: &Accept,
    ) -> Option<Vec<Neighbor>> {
        let mut top = TopK::new(k);
        for row in (0..rows as u32).filter(|&r| accept(r)) {
            let d = scorer.score(row);
            if d < top.threshold() {
                top.push(row, d);
            }
        }
        Some(top.into_sorted())
    }

    fn add(&self, _vectors: &V, _rows: &[u32]) {}

    fn repair(&self, _vectors: &V, _deleted: &Accept) -> usize {
        0
    }

    fn bytes(&self) -> usize {
        0
    }

    fn filtered_route(&self, _k: usize, _breadth: usize, _matches: usize, _live: usize) -> FilteredRoute {
        FilteredRoute::Exact { reason: "exact index: distances to the matching records only".into() }
    }

    fn unplanned_filter_breadth(&self, _k: usize, _breadth: usize) -> Option<usize> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::scalar;
    use crate::vectors::DenseVectors;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    fn random_table(rng: &mut StdRng, n: usize, dim: usize) -> DenseVectors {
        DenseVectors::new(dim, (0..n * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
    }

    /// Brute force with the scalar kernel and a full sort: the independent reference.
    fn reference(v: &DenseVectors, q: &[f32], k: usize, metric: Metric) -> Vec<u32> {
        let mut all: Vec<(f32, u32)> = (0..v.rows() as u32)
            .map(|r| {
                let d = match metric {
                    Metric::L2 => scalar::l2_sq(q, v.row(r)),
                    _ => -scalar::dot(q, v.row(r)),
                };
                (d, r)
            })
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.into_iter().take(k).map(|(_, r)| r).collect()
    }

    #[test]
    fn matches_brute_force_for_every_metric() {
        let mut rng = StdRng::seed_from_u64(42);
        let v = random_table(&mut rng, 2000, 48);
        for metric in [Metric::L2, Metric::Dot, Metric::Cosine] {
            let index = FlatIndex::new(metric);
            for _ in 0..20 {
                let q: Vec<f32> = (0..48).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                let got: Vec<u32> = index.search(&v, &q, 10, |_| true).iter().map(|n| n.row).collect();
                assert_eq!(got, reference(&v, &q, 10, metric), "{metric:?}");
            }
        }
    }

    #[test]
    fn rejected_rows_are_never_returned() {
        let mut rng = StdRng::seed_from_u64(1);
        let v = random_table(&mut rng, 500, 16);
        let q = v.row(10).to_vec();
        let hits = FlatIndex::new(Metric::L2).search(&v, &q, 50, |r| r % 2 == 1);
        assert_eq!(hits.len(), 50);
        assert!(hits.iter().all(|n| n.row % 2 == 1));
        assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
    }

    #[test]
    fn batch_equals_single_queries() {
        let mut rng = StdRng::seed_from_u64(3);
        let v = random_table(&mut rng, 1000, 32);
        let qs = random_table(&mut rng, 17, 32);
        let index = FlatIndex::new(Metric::L2);
        let mut flat_q = Vec::new();
        qs.runs(&mut |_, d| flat_q.extend_from_slice(d));
        let batch = index.search_batch(&v, &flat_q, 5, |r| r % 3 != 0);
        for (i, got) in batch.iter().enumerate() {
            assert_eq!(got, &index.search(&v, qs.row(i as u32), 5, |r| r % 3 != 0));
        }
        // a list of rows, in any order
        let rows: Vec<u32> = (0..1000).filter(|r| r % 7 == 2).rev().collect();
        for metric in [Metric::L2, Metric::Dot] {
            let index = FlatIndex::new(metric);
            for i in 0..qs.rows() as u32 {
                // Bit-identical distances to the accepting scan (ties broken the same way).
                let single = index.search(&v, qs.row(i), 5, |r| r % 7 == 2);
                let bits = |x: &[Neighbor]| x.iter().map(|n| (n.row, n.distance.to_bits())).collect::<Vec<_>>();
                assert_eq!(bits(&index.search_rows(&v, rows.iter().copied(), qs.row(i), 5)), bits(&single));
            }
        }
        let by_rows = index.search_rows_batch(&v, &rows, &flat_q, 5);
        for (i, got) in by_rows.iter().enumerate() {
            assert_eq!(got, &index.search(&v, qs.row(i as u32), 5, |r| r % 7 == 2));
        }
    }
}
