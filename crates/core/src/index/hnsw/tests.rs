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
struct CountingScorer<'a> {
    inner: VectorScorer<'a, DenseVectors>,
    scored: std::cell::Cell<usize>,
}

impl Scorer for CountingScorer<'_> {
    fn score(&self, row: u32) -> f32 {
        self.scored.set(self.scored.get() + 1);
        self.inner.score(row)
    }
}

/// Under a 5% and a 15% filter the walk through matches only returns only matches, finds the
/// exact filtered top 10 about as well as the walk through every row, and scores far fewer
/// rows; the planner picks it for tight filters only.
#[test]
fn two_hop_walk_keeps_recall_under_tight_filters_and_scores_fewer_rows() {
    let (v, q) = clustered(21, 12_000, 60, 32, 40, 8.0);
    let g = build(&v, HnswParams::default());
    let flat = FlatIndex::new(Metric::L2);
    for share in [20u32, 7] {
        let accept = |r: u32| r.wrapping_mul(2_654_435_761).is_multiple_of(share);
        let (mut hit, mut hit_through, mut scored, mut scored_through) = (0, 0, 0, 0);
        for i in 0..q.rows() as u32 {
            let truth: HashSet<u32> = flat.search(&v, q.row(i), 10, accept).iter().map(|n| n.row).collect();
            let run = |walk: Walk| {
                let s = CountingScorer { inner: g.vector_scorer(&v, q.row(i)), scored: 0.into() };
                let got = VectorIndex::<DenseVectors>::search_scored(&g, &s, v.rows(), 10, 64, walk, &accept).unwrap();
                assert_eq!(got.len(), 10);
                assert!(got.iter().all(|n| accept(n.row)), "{walk:?} returned a rejected row");
                (got.iter().filter(|n| truth.contains(&n.row)).count(), s.scored.get())
            };
            let (h, s) = run(Walk::Matches);
            let (ht, st) = run(Walk::Through);
            (hit, scored, hit_through, scored_through) = (hit + h, scored + s, hit_through + ht, scored_through + st);
        }
        let total = (q.rows() * 10) as f64;
        let (recall, recall_through) = (hit as f64 / total, hit_through as f64 / total);
        assert!(recall >= 0.95 && recall >= recall_through - 0.03, "1/{share}: {recall} vs {recall_through}");
        assert!(scored * 2 < scored_through, "1/{share}: scored {scored} rows vs {scored_through}");
    }
    // (The route depends on counts only: at 12,000 rows a 10% filter is scored exactly.)
    let live = 1_000_000;
    let walk =
        |matches, row_bytes| match VectorIndex::<DenseVectors>::filtered_route(&g, 10, 64, matches, live, row_bytes) {
            FilteredRoute::Search { walk, .. } => walk,
            FilteredRoute::Exact { .. } => panic!("{matches} matches of {live}: exact"),
        };
    assert_eq!(walk(live / 10, 1536), Walk::Matches);
    assert_eq!(walk(live / 10, 512), Walk::Through, "short rows are cheaper to pass through");
    assert_eq!(walk(live / 2, 1536), Walk::Through);
    assert_eq!(walk(live * 9 / 10, 1536), Walk::Through);
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
