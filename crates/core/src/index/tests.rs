//! One recall and filter suite run through [`VectorIndex`] for every kind of index.

use std::collections::HashSet;

use rand::{RngExt, SeedableRng, rngs::StdRng};

use super::*;
use crate::Metric;
use crate::vectors::DenseVectors;

/// A Gaussian mixture: `n` vectors around `centres` centres, plus `nq` queries.
pub(crate) fn clustered(
    seed: u64,
    n: usize,
    nq: usize,
    dim: usize,
    centres: usize,
    sigma: f32,
) -> (DenseVectors, DenseVectors) {
    let mut rng = StdRng::seed_from_u64(seed);
    let c: Vec<f32> = (0..centres * dim).map(|_| rng.random_range(0.0f32..100.0)).collect();
    let mut draw = |count: usize| {
        let mut out = Vec::with_capacity(count * dim);
        for _ in 0..count {
            let k = rng.random_range(0..centres);
            for j in 0..dim {
                // Box-Muller.
                let (u1, u2): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random_range(0.0..1.0));
                let g = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos();
                out.push(c[k * dim + j] + sigma * g);
            }
        }
        DenseVectors::new(dim, out)
    };
    (draw(n), draw(nq))
}

const K: usize = 10;

/// Every kind over the same vectors, all rows added through the interface.
fn indexes(v: &DenseVectors) -> Vec<Box<dyn VectorIndex<DenseVectors>>> {
    let rows: Vec<u32> = (0..v.rows() as u32).collect();
    let params = HnswParams { m: 12, ef_construction: 100, ..HnswParams::default() };
    let mut links = VecLinks::new(params.level0_width());
    links.grow_to(v.rows());
    let mut hnsw = HnswIndex::new(params, Metric::L2, links);
    hnsw.add_rows(v.rows());
    let sample: Vec<f32> = (0..v.rows() as u32).flat_map(|r| v.row(r).to_vec()).collect();
    let ivf = IvfPq::train(&sample, v.dim(), Metric::L2, 64, v.dim() / 4, 8, 7).unwrap();
    let all: Vec<Box<dyn VectorIndex<DenseVectors>>> =
        vec![Box::new(FlatIndex::new(Metric::L2)), Box::new(hnsw), Box::new(IvfPqIndex::new(ivf, Some(12), 16))];
    for index in &all {
        index.add(v, &rows);
    }
    all
}

/// Recall@K of `index` against exact search among the rows `accept` lets through.
fn recall(index: &dyn VectorIndex<DenseVectors>, v: &DenseVectors, q: &DenseVectors, accept: &Accept) -> f64 {
    let exact = FlatIndex::new(Metric::L2);
    let mut hit = 0;
    for i in 0..q.rows() as u32 {
        let truth: HashSet<u32> = exact.search(v, q.row(i), K, accept).iter().map(|n| n.row).collect();
        let got = index.search(v, q.row(i), K, index.breadth(None, K), Walk::Through, accept);
        assert!(got.iter().all(|n| accept(n.row)), "{:?} returned a rejected row", index.kind());
        assert!(got.windows(2).all(|w| w[0].distance <= w[1].distance), "{:?}: not closest first", index.kind());
        hit += got.iter().filter(|n| truth.contains(&n.row)).count();
    }
    hit as f64 / (q.rows() * K) as f64
}

fn floor(kind: IndexKind) -> f64 {
    match kind {
        IndexKind::Flat => 1.0,
        IndexKind::Hnsw => 0.95,
        IndexKind::IvfPq => 0.9,
    }
}

#[test]
fn every_index_meets_its_recall_unfiltered_filtered_and_after_repair() {
    let (v, q) = clustered(11, 6000, 50, 32, 40, 6.0);
    let kinds: Vec<IndexKind> = indexes(&v).iter().map(|i| i.kind()).collect();
    assert_eq!(kinds, [IndexKind::Flat, IndexKind::Hnsw, IndexKind::IvfPq]);
    for index in indexes(&v) {
        let kind = index.kind();
        let all = recall(&*index, &v, &q, &|_| true);
        let third = recall(&*index, &v, &q, &|r| r % 3 == 0);
        assert!(all >= floor(kind), "{kind:?}: recall {all}");
        assert!(third >= floor(kind), "{kind:?}: filtered recall {third}");
        // Delete every other row, repair, and search the rest.
        let deleted = |r: u32| r % 2 == 1;
        let rewritten = index.repair(&v, &deleted);
        assert_eq!(rewritten > 0, kind != IndexKind::Flat, "{kind:?}");
        let after = recall(&*index, &v, &q, &|r| !deleted(r));
        assert!(after >= floor(kind), "{kind:?}: recall after repair {after}");
        assert_eq!(index.bytes() > 0, kind != IndexKind::Flat, "{kind:?}");
    }
}

#[test]
fn breadth_is_the_recall_knob_and_its_default_is_the_index_s() {
    let (v, q) = clustered(12, 6000, 50, 32, 40, 6.0);
    for index in indexes(&v) {
        let kind = index.kind();
        assert_eq!(index.breadth_knob().is_none(), kind == IndexKind::Flat);
        assert!(index.breadth(None, K) >= 1);
        if kind == IndexKind::Hnsw {
            assert_eq!(index.breadth(None, 500), 500, "the beam is at least k");
            assert_eq!(index.breadth(Some(20), K), 20);
        }
        let at = |breadth: usize| {
            let mut hit = 0;
            let exact = FlatIndex::new(Metric::L2);
            for i in 0..q.rows() as u32 {
                let truth: HashSet<u32> = exact.search(&v, q.row(i), K, |_| true).iter().map(|n| n.row).collect();
                hit += index
                    .search(&v, q.row(i), K, breadth, Walk::Through, &|_| true)
                    .iter()
                    .filter(|n| truth.contains(&n.row))
                    .count();
            }
            hit
        };
        assert!(at(1) <= at(64), "{kind:?}: a wider search finds no less");
        if kind != IndexKind::Flat {
            assert!(at(1) < at(64), "{kind:?}: breadth 1 should lose recall");
        }
    }
}

#[test]
fn scored_search_ranks_like_full_precision_and_the_planner_routes_by_selectivity() {
    let (v, q) = clustered(13, 6000, 20, 32, 20, 6.0);
    for index in indexes(&v) {
        let kind = index.kind();
        let scorer =
            VectorScorer { vectors: &v, query: q.row(0), kernel: Metric::L2.kernel(), kernel4: Metric::L2.kernel_x4() };
        match index.search_scored(&scorer, v.rows(), K, 64, Walk::Through, &|_| true) {
            None => assert_eq!(kind, IndexKind::IvfPq, "only IVF-PQ scores its own codes"),
            Some(found) => {
                let exact = FlatIndex::new(Metric::L2).search(&v, q.row(0), K, |_| true);
                let same = found.iter().filter(|n| exact.iter().any(|e| e.row == n.row)).count();
                assert!(same >= K - 1, "{kind:?}: {same} of {K}");
            }
        }
        let live = v.rows();
        let breadth = index.breadth(None, K);
        // A handful of matches: scoring them directly is exact and cheapest.
        assert!(matches!(index.filtered_route(K, breadth, 5, live), FilteredRoute::Exact { .. }), "{kind:?}");
        // Nearly every row matches: an approximate index searches, no narrower than unfiltered.
        match index.filtered_route(K, breadth, live * 9 / 10, live) {
            FilteredRoute::Search { breadth: b, .. } => {
                assert_ne!(kind, IndexKind::Flat);
                assert!(b >= breadth, "{kind:?}: {b} < {breadth}");
            }
            FilteredRoute::Exact { .. } => assert_eq!(kind, IndexKind::Flat),
        }
        assert_eq!(index.unplanned_filter_breadth(K, breadth).is_none(), kind == IndexKind::Flat);
    }
}

#[test]
fn hnsw_stays_navigable_when_one_vector_is_stored_many_times() {
    // 1,000 copies of one vector first (the entry point is one of them), then 500 others:
    // each of those must stay reachable from the copies.
    let dim = 16;
    let (others, _) = clustered(11, 500, 0, dim, 8, 5.0);
    let mut v = DenseVectors::new(dim, vec![50.0f32; 1000 * dim]);
    for r in 0..others.rows() as u32 {
        v.push(others.row(r));
    }
    let params = HnswParams { m: 8, ef_construction: 64, ..HnswParams::default() };
    // Under inner product a vector's distance to itself is not 0: compare rows found.
    for metric in [Metric::L2, Metric::Dot] {
        let mut links = VecLinks::new(params.level0_width());
        links.grow_to(v.rows());
        let mut hnsw = HnswIndex::new(params, metric, links);
        hnsw.add_rows(v.rows());
        hnsw.add(&v, &(0..v.rows() as u32).collect::<Vec<_>>());
        let index: &dyn VectorIndex<DenseVectors> = &hnsw;
        let exact = FlatIndex::new(metric);
        let lost = (1000..v.rows() as u32)
            .filter(|&r| {
                let want = exact.search(&v, v.row(r), 1, |_| true)[0].distance;
                index.search(&v, v.row(r), 1, index.breadth(None, 1), Walk::Through, &|_| true)[0].distance > want
            })
            .count();
        // Before the fix 385 of the 500 were lost under L2; a parallel build may still miss
        // one or two at the default beam, as for any approximate search.
        assert!(lost <= 5, "{metric:?}: {lost} of 500 vectors inserted after the copies cannot be found");
    }
}
