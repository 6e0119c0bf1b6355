use std::collections::HashSet;

use super::*;
use crate::index::FlatIndex;
use crate::index::tests::clustered;
use crate::vectors::{DenseVectors, VectorRows};

fn build(vectors: &DenseVectors, params: HnswParams) -> HnswIndex<VecLinks> {
    let mut links = VecLinks::new(params.level0_width());
    links.grow_to(vectors.rows());
    let mut g = HnswIndex::new(params, Metric::L2, links);
    g.add_rows(vectors.rows());
    let rows: Vec<u32> = (0..vectors.rows() as u32).collect();
    g.link(vectors, &rows);
    g
}

fn recall(
    g: &HnswIndex<VecLinks>,
    v: &DenseVectors,
    q: &DenseVectors,
    ef: usize,
    live: impl Fn(u32) -> bool + Copy,
) -> f64 {
    let flat = FlatIndex::new(Metric::L2);
    let mut hit = 0;
    for i in 0..q.rows() as u32 {
        let truth: HashSet<u32> = flat.search(v, q.row(i), 10, live).iter().map(|n| n.row).collect();
        let got = g.search(v, q.row(i), 10, ef, live);
        assert!(got.iter().all(|n| live(n.row)));
        hit += got.iter().filter(|n| truth.contains(&n.row)).count();
    }
    hit as f64 / (q.rows() * 10) as f64
}

#[test]
fn recall_on_overlapping_clusters_is_high_at_default_parameters() {
    let (v, q) = clustered(1, 8000, 100, 32, 50, 20.0);
    let g = build(&v, HnswParams::default());
    let r = recall(&g, &v, &q, 64, |_| true);
    assert!(r >= 0.95, "recall {r}");
}

#[test]
fn levels_are_reproducible_and_geometric() {
    let g = HnswIndex::new(HnswParams::default(), Metric::L2, VecLinks::new(33));
    let levels: Vec<u8> = (0..100_000).map(|r| g.level_for(r)).collect();
    let again: Vec<u8> = (0..100_000).map(|r| g.level_for(r)).collect();
    assert_eq!(levels, again);
    let above0 = levels.iter().filter(|&&l| l > 0).count() as f64 / 1e5;
    assert!((above0 - 1.0 / 16.0).abs() < 0.01, "P(level > 0) = {above0}");
}

#[test]
fn deleted_rows_are_never_returned_and_repair_restores_recall() {
    let (v, q) = clustered(2, 6000, 100, 24, 40, 15.0);
    let g = build(&v, HnswParams::default());
    let deleted = |r: u32| r.is_multiple_of(5); // 20%
    let live = |r: u32| !deleted(r);
    let before = recall(&g, &v, &q, 64, live);
    let rewritten = g.repair(&v, deleted);
    assert!(rewritten > 0);
    let after = recall(&g, &v, &q, 64, live);
    assert!(after >= 0.95, "recall after repair {after} (before {before})");
    assert!(!deleted(g.entry().unwrap().row));
    // No live list links to a deleted node any more.
    let mut buf = Vec::new();
    for r in (0..6000u32).filter(|&r| live(r)) {
        g.neighbors_into(r, 0, &mut buf);
        assert!(buf.iter().all(|&n| live(n)), "row {r} still links to a deleted node");
    }
}

#[test]
fn export_import_round_trip_gives_identical_results_and_drops_dangling_links() {
    let (v, q) = clustered(3, 3000, 20, 16, 20, 10.0);
    let params = HnswParams::default();
    let g = build(&v, params);
    let before: Vec<_> = (0..20).map(|i| g.search(&v, q.row(i), 10, 64, |_| true)).collect();
    let parts = g.export();
    // Move the level-0 table into the new graph, with one dangling link planted.
    let HnswIndex { level0, .. } = g;
    let row0 = level0.links(7);
    let n = row0[0].load(Ordering::Relaxed) as usize;
    row0[1 + n].store(999_999, Ordering::Relaxed);
    row0[0].store(n as u32 + 1, Ordering::Relaxed);
    let g2 = HnswIndex::import(params, Metric::L2, level0, parts).unwrap();
    let mut buf = Vec::new();
    g2.neighbors_into(7, 0, &mut buf);
    assert!(!buf.contains(&999_999));
    let after: Vec<_> = (0..20).map(|i| g2.search(&v, q.row(i), 10, 64, |_| true)).collect();
    assert_eq!(before, after);
}

/// Counts the rows a walk scores.
/// The planner's route (it depends on counts only): few matches are scored exactly; more are
/// walked with a beam that narrows with the selectivity, never below 3/8 of the unfiltered one.
#[test]
fn filtered_route_scores_few_matches_and_keeps_a_beam_for_the_rest() {
    let (v, _) = clustered(21, 2_000, 1, 32, 40, 8.0);
    let g = build(&v, HnswParams::default());
    let live = 1_000_000;
    let route = |matches| VectorIndex::<DenseVectors>::filtered_route(&g, 10, 64, matches, live);
    let beam = |matches| match route(matches) {
        FilteredRoute::Search { breadth, .. } => breadth,
        FilteredRoute::Exact { reason } => panic!("{matches} matches of {live}: {reason}"),
    };
    // 1%: 10,000 rows scored in order cost less than the ~41,000 row reads of a walk.
    assert!(matches!(route(live / 100), FilteredRoute::Exact { .. }));
    assert_eq!(beam(live / 10), 29);
    assert_eq!(beam(live / 2), 48);
    assert_eq!(beam(live * 9 / 10), 64, "never wider than the unfiltered beam");
    assert!(beam(live / 5) > beam(live / 10) && beam(live / 5) < beam(live / 2));
    // k bounds the beam from below.
    match VectorIndex::<DenseVectors>::filtered_route(&g, 100, 64, live / 10, live) {
        FilteredRoute::Search { breadth, .. } => assert_eq!(breadth, 100),
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_walk_without_a_row_neither_returns_nor_scores_it() {
    struct Counting<'a> {
        inner: search::VectorScorer<'a, DenseVectors>,
        scored: std::cell::RefCell<HashSet<u32>>,
    }
    impl Scorer for Counting<'_> {
        fn score(&self, row: u32) -> f32 {
            self.scored.borrow_mut().insert(row);
            self.inner.score(row)
        }
    }
    let (v, _) = clustered(5, 3000, 10, 16, 30, 10.0);
    let g = build(&v, HnswParams::default());
    // Stored vectors as queries, among them the entry point (where every descent starts).
    let entry = g.entry().unwrap().row;
    for row in [entry, 1, 77, 2999] {
        let scorer = Counting { inner: g.vector_scorer(&v, v.row(row)), scored: Default::default() };
        let found = g.search_walk(&scorer, 10, 64, Walk::Without(row), |_| true);
        assert_eq!(found.len(), 10);
        assert!(found.iter().all(|n| n.row != row), "row {row} returned");
        assert!(!scorer.scored.borrow().contains(&row), "row {row} scored");
        // Its own neighbours are still found: the rest of the graph stays reachable.
        let truth: HashSet<u32> =
            FlatIndex::new(Metric::L2).search(&v, v.row(row), 10, |r| r != row).iter().map(|n| n.row).collect();
        assert!(found.iter().filter(|n| truth.contains(&n.row)).count() >= 8, "row {row}: {found:?}");
    }
}

/// A walk scores neighbours four at a time ([`Scorer::score4`], the query's loads shared):
/// the same distances, bit for bit, so the same results as scoring them one by one, for L2
/// and for the inner product, through every available kernel set (AVX-512, AVX2, baseline).
#[test]
fn scoring_four_rows_at_once_walks_exactly_as_scoring_one_by_one() {
    let (v, q) = clustered(9, 4000, 40, 48, 30, 10.0);
    for metric in [Metric::L2, Metric::Dot] {
        let mut links = VecLinks::new(HnswParams::default().level0_width());
        links.grow_to(v.rows());
        let mut g = HnswIndex::new(HnswParams::default(), metric, links);
        g.add_rows(v.rows());
        g.link(&v, &(0..v.rows() as u32).collect::<Vec<_>>());
        for kernels in crate::distance::available_kernels() {
            let (kernel, kernel4) = match metric {
                Metric::L2 => (kernels.l2_sq, kernels.l2_sq_x4),
                _ => (kernels.neg_dot, kernels.neg_dot_x4),
            };
            for i in 0..q.rows() as u32 {
                let batched = search::VectorScorer { vectors: &v, query: q.row(i), kernel, kernel4 };
                let single = Switched {
                    inner: search::VectorScorer { vectors: &v, query: q.row(i), kernel, kernel4 },
                    four_at_once: false,
                    next_node_early: false,
                };
                let a = g.search_walk(&batched, 10, 64, Walk::Through, |_| true);
                let b = g.search_walk(&single, 10, 64, Walk::Through, |_| true);
                let bits = |x: &[Neighbor]| x.iter().map(|n| (n.row, n.distance.to_bits())).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "{metric:?} on {}, query {i}", kernels.isa);
            }
        }
    }
}

/// Prefetching the next node's rows early ([`Scorer::prefetch_next_node`]) is a hint: the walk
/// returns the same results, filtered or not.
#[test]
fn prefetching_the_next_node_early_changes_no_result() {
    let (v, q) = clustered(13, 4000, 40, 48, 30, 10.0);
    let g = build(&v, HnswParams::default());
    for i in 0..q.rows() as u32 {
        for ef in [10, 64] {
            let even = |r: u32| r.is_multiple_of(2);
            let plain = g.vector_scorer(&v, q.row(i));
            let early = Switched { inner: g.vector_scorer(&v, q.row(i)), four_at_once: true, next_node_early: true };
            assert_eq!(
                g.search_walk(&plain, 10, ef, Walk::Through, |_| true),
                g.search_walk(&early, 10, ef, Walk::Through, |_| true)
            );
            assert_eq!(
                g.search_walk(&plain, 10, ef, Walk::Through, even),
                g.search_walk(&early, 10, ef, Walk::Through, even)
            );
        }
    }
}

/// A full-precision scorer whose optional behaviours a test switches off or on.
struct Switched<'a> {
    inner: search::VectorScorer<'a, DenseVectors>,
    /// [`Scorer::score4`] through the x4 kernel (else four single calls).
    four_at_once: bool,
    /// [`Scorer::prefetch_next_node`].
    next_node_early: bool,
}

impl Scorer for Switched<'_> {
    fn score(&self, row: u32) -> f32 {
        self.inner.score(row)
    }
    fn score4(&self, rows: [u32; 4]) -> [f32; 4] {
        if self.four_at_once { self.inner.score4(rows) } else { rows.map(|r| self.inner.score(r)) }
    }
    fn prefetch(&self, row: u32) {
        self.inner.prefetch(row)
    }
    fn prefetch_next_node(&self) -> bool {
        self.next_node_early
    }
}
