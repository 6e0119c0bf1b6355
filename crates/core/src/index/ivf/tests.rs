//! IVF-PQ: training, table distances, recall against exact search, the re-rank shortcut.

use super::*;
use crate::index::FlatIndex;
use crate::vectors::DenseVectors;

/// Gaussian blobs: `n` vectors around `centres` random centres.
fn blobs(n: usize, dim: usize, centres: usize, seed: u64) -> Vec<f32> {
    use rand::{RngExt, SeedableRng, rngs::StdRng};
    let mut rng = StdRng::seed_from_u64(seed);
    let c: Vec<f32> = (0..centres * dim).map(|_| rng.random_range(0.0..10.0)).collect();
    (0..n)
        .flat_map(|i| {
            let k = i % centres;
            let base = c[k * dim..(k + 1) * dim].to_vec();
            base.into_iter().map(|x| x + rng.random_range(-1.0f32..1.0)).collect::<Vec<_>>()
        })
        .collect()
}

/// The ADC distance of every row, through the query's one table (plus, under L2, the row's
/// term kept beside its code), equals the distance to its decoded vector, centroid plus
/// residual codeword, computed directly.
#[test]
fn table_distances_equal_decoded_distances_for_every_metric() {
    let (dim, n) = (16, 4096);
    let data = blobs(n, dim, 8, 11);
    let vectors = DenseVectors::new(dim, data.clone());
    let rows: Vec<u32> = (0..n as u32).collect();
    for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
        let mut data = data.clone();
        if metric == Metric::Cosine {
            data.chunks_exact_mut(dim).for_each(|v| {
                crate::distance::normalize(v);
            });
        }
        let vectors = if metric == Metric::Cosine { DenseVectors::new(dim, data.clone()) } else { vectors.clone() };
        let ivf = IvfPq::train(&data, dim, metric, 8, 4, 8, 3).unwrap();
        ivf.add(&vectors, &rows);
        for l in ivf.lists.read().iter() {
            assert_eq!(l.norms.len(), if metric == Metric::L2 { l.rows.len() } else { 0 });
        }
        let q = &data[5 * dim..6 * dim];
        let found = ivf.search(q, 8, n, |_| true);
        assert_eq!(found.len(), n);
        let lists = ivf.lists.read();
        for hit in found {
            // The list and code the index stored for the row.
            let (list, at) = lists
                .iter()
                .enumerate()
                .find_map(|(l, inv)| inv.rows.iter().position(|&r| r == hit.row).map(|i| (l, i)))
                .unwrap();
            let cb = ivf.code_bytes();
            let code = &lists[list].codes[at * cb..(at + 1) * cb];
            let mut decoded = vec![0.0f32; dim];
            ivf.pq.decode(code, &mut decoded);
            for (x, c) in decoded.iter_mut().zip(&ivf.centroids[list * dim..(list + 1) * dim]) {
                *x += c;
            }
            let direct = match metric {
                Metric::L2 => crate::distance::scalar::l2_sq(q, &decoded),
                Metric::Cosine | Metric::Dot => -crate::distance::scalar::dot(q, &decoded),
            };
            assert!(
                (hit.distance - direct).abs() <= 1e-3 * direct.abs().max(1.0),
                "{metric:?} row {}: {} vs {direct}",
                hit.row,
                hit.distance
            );
        }
    }
}

fn recall(ivf: &IvfPq, vectors: &DenseVectors, queries: &[f32], dim: usize, nprobe: usize, rerank: bool) -> f64 {
    let flat = FlatIndex::new(ivf.metric);
    let kernel = ivf.metric.kernel();
    let mut hit = 0;
    let nq = queries.len() / dim;
    for q in queries.chunks_exact(dim) {
        let truth: Vec<u32> = flat.search(vectors, q, 10, |_| true).iter().map(|n| n.row).collect();
        let mut found = ivf.search(q, nprobe, if rerank { 100 } else { 10 }, |_| true);
        if rerank {
            for n in &mut found {
                n.distance = kernel(q, vectors.row(n.row));
            }
            found.sort_unstable();
        }
        hit += found.iter().take(10).filter(|n| truth.contains(&n.row)).count();
    }
    hit as f64 / (nq * 10) as f64
}

/// Where the probed lists hold no more rows than the re-rank reads, the index scores
/// them all on full precision without the codes: the same hits as scanning the codes
/// first, and exactly the nearest rows of those lists.
#[test]
fn small_probed_lists_are_reranked_whole_with_the_same_hits() {
    let (n, dim) = (6000, 16);
    let data = blobs(n + 20, dim, 40, 5);
    let (base, queries) = data.split_at(n * dim);
    let vectors = DenseVectors::new(dim, base.to_vec());
    let ivf = IvfPq::train(base, dim, Metric::L2, 64, 4, 8, 3).unwrap();
    ivf.add(&vectors, &(0..n as u32).collect::<Vec<_>>());
    let index = IvfPqIndex::new(ivf, Some(1), 16);
    let kernel = Metric::L2.kernel();
    let (mut whole, mut scanned) = (0, 0);
    for q in queries.chunks_exact(dim) {
        for nprobe in [1, 2, 64] {
            let lists = index.ivf.nearest_lists(q, nprobe);
            let depth = 10 * 16;
            let via_codes =
                rerank(&vectors, kernel, q, index.ivf.scan(q, &lists, depth, Scores::Ranking, |_| true), 10);
            let got = VectorIndex::search(&index, &vectors, q, 10, nprobe, Walk::Through, &|_| true);
            assert_eq!(got, via_codes, "nprobe {nprobe}");
            match index.ivf.rows_within(&lists, depth, |_| true) {
                Some(all) => {
                    whole += 1;
                    assert_eq!(got, rerank(&vectors, kernel, q, all, 10), "the nearest rows of the lists");
                }
                None => scanned += 1,
            }
        }
    }
    assert!(whole > 0 && scanned > 0, "both routes taken: {whole} whole, {scanned} scanned");
}

#[test]
fn recall_rises_with_nprobe_and_reranking_recovers_precision() {
    let (n, dim) = (8000, 32);
    let data = blobs(n + 50, dim, 40, 1);
    let (base, queries) = data.split_at(n * dim);
    let vectors = DenseVectors::new(dim, base.to_vec());
    for metric in [Metric::L2, Metric::Dot] {
        let ivf = IvfPq::train(base, dim, metric, 64, 8, 8, 7).unwrap();
        ivf.add(&vectors, &(0..n as u32).collect::<Vec<_>>());
        assert_eq!(ivf.len(), n);
        let low = recall(&ivf, &vectors, queries, dim, 1, true);
        let high = recall(&ivf, &vectors, queries, dim, 16, true);
        assert!(high >= low, "{metric:?}: nprobe 16 {high} < nprobe 1 {low}");
        assert!(high >= 0.95, "{metric:?}: recall@10 with re-ranking {high}");
        let adc_only = recall(&ivf, &vectors, queries, dim, 16, false);
        assert!(adc_only >= 0.5, "{metric:?}: codes alone {adc_only}");
        let all = recall(&ivf, &vectors, queries, dim, 64, true);
        assert!(all >= high - 1e-9, "{metric:?}: probing every list {all} < {high}");
    }
}

#[test]
fn accept_retain_and_round_trip() {
    let (n, dim) = (3000, 16);
    let base = blobs(n, dim, 10, 2);
    let vectors = DenseVectors::new(dim, base.clone());
    let ivf = IvfPq::train(&base, dim, Metric::L2, 16, 4, 4, 3).unwrap();
    ivf.add(&vectors, &(0..n as u32).collect::<Vec<_>>());
    let q = &base[..dim];
    let found = ivf.search(q, 16, 50, |row| row % 2 == 1);
    assert!(!found.is_empty() && found.iter().all(|n| n.row % 2 == 1));
    assert_eq!(ivf.retain(|row| row % 3 != 0), n.div_ceil(3));
    assert!(ivf.search(q, 16, 3000, |_| true).iter().all(|n| n.row % 3 != 0));

    let bytes = ivf.to_bytes();
    let back = IvfPq::from_bytes(&bytes, n).unwrap();
    // The row terms are rebuilt from the codes as they were kept through `retain`.
    assert_eq!(*back.lists.read(), *ivf.lists.read());
    assert_eq!(back.search(q, 4, 20, |_| true), ivf.search(q, 4, 20, |_| true));
    assert_eq!(back.len(), ivf.len());
    assert!(IvfPq::from_bytes(&bytes, 10).is_none(), "rows beyond the table are rejected");
    for cut in [0, 7, bytes.len() / 2, bytes.len() - 1] {
        assert!(IvfPq::from_bytes(&bytes[..cut], n).is_none(), "cut at {cut}");
    }
}

#[test]
fn too_small_a_sample_is_a_training_error() {
    let base = blobs(10, 8, 2, 4);
    assert!(IvfPq::train(&base, 8, Metric::L2, 32, 2, 8, 1).unwrap_err().0.contains("32 lists"));
    assert_eq!(default_nlist(1_000_000), 1000);
    assert_eq!(default_nprobe(1000), 62);
    assert_eq!(default_nprobe(4), 4);
}
