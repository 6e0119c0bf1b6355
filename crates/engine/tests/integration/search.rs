use libravdb_engine::{Database, DbOptions, ErrorCode, SearchParams};

use crate::common::*;

const K10: SearchParams = SearchParams { include_metadata: true, include_vectors: false, ..SearchParams::nearest(10) };

#[test]
fn flat_search_on_sift5k_has_recall_one_against_ground_truth() {
    let dir = datasets().join("sift5k");
    let (dim, base) = read_vecs(&dir.join("base.fvecs"));
    let (_, queries) = read_vecs(&dir.join("query.fvecs"));
    let (gt_k, gt) = read_vecs(&dir.join("groundtruth.ivecs"));
    let base: Vec<f32> = base.iter().map(|b| f32::from_le_bytes(*b)).collect();
    let queries: Vec<f32> = queries.iter().map(|b| f32::from_le_bytes(*b)).collect();
    let gt: Vec<i32> = gt.iter().map(|b| i32::from_le_bytes(*b)).collect();

    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("sift", config(dim as i64, "l2")).unwrap();
    insert(&c, "v", &base);
    let hits = c.search(&queries, SearchParams { k: 10, ..K10 }).unwrap();
    let nq = queries.len() / dim;
    assert_eq!(hits.counts, vec![10; nq]);
    let mut found = 0;
    for q in 0..nq {
        let truth: Vec<String> = gt[q * gt_k..q * gt_k + 10].iter().map(|i| format!("v-{i}")).collect();
        found += hits.ids[q * 10..q * 10 + 10].iter().filter(|id| truth.contains(id)).count();
    }
    assert_eq!(found, nq * 10, "recall@10 must be exactly 1.0");
}

#[test]
fn scores_are_distance_for_l2_and_similarity_for_cosine_and_dot() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let l2 = db.create_collection("l2", config(2, "l2")).unwrap();
    let cos = db.create_collection("cos", config(2, "cosine")).unwrap();
    let dot = db.create_collection("dot", config(2, "dot")).unwrap();
    for c in [&l2, &cos, &dot] {
        insert(c, "p", &[3.0, 4.0, -1.0, 0.0]);
    }
    let p = SearchParams { k: 2, include_vectors: true, ..SearchParams::default() };
    let h = l2.search(&[0.0, 0.0], p).unwrap();
    assert_eq!((h.ids[0].as_str(), h.scores[0]), ("p-1", 1.0));
    assert_eq!(h.scores[1], 5.0);
    let h = cos.search(&[6.0, 8.0], p).unwrap();
    assert_eq!(h.ids[0], "p-0");
    assert!((h.scores[0] - 1.0).abs() < 1e-6 && (h.scores[1] + 0.6).abs() < 1e-6, "{:?}", h.scores);
    assert!((h.vectors.unwrap()[0] - 0.6).abs() < 1e-6, "cosine stores unit vectors");
    let h = dot.search(&[1.0, 1.0], p).unwrap();
    assert_eq!((h.ids[0].as_str(), h.scores[0], h.scores[1]), ("p-0", 7.0, -1.0));
}

#[test]
fn deleted_records_are_never_returned_and_batches_match_single_queries() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(16, "l2")).unwrap();
    let v = random_vectors(5, 500, 16);
    insert(&c, "r", &v);
    let doomed: Vec<String> = (0..500).step_by(2).map(|i| format!("r-{i}")).collect();
    c.delete_batch(doomed, Default::default(), &Default::default()).unwrap();
    let queries = random_vectors(6, 8, 16);
    let batch = c.search(&queries, SearchParams { k: 20, ..K10 }).unwrap();
    assert!(batch.ids.iter().all(|id| id[2..].parse::<usize>().unwrap() % 2 == 1));
    for q in 0..8 {
        let single = c.search(&queries[q * 16..(q + 1) * 16], SearchParams { k: 20, ..K10 }).unwrap();
        assert_eq!(single.ids, batch.ids[q * 20..(q + 1) * 20]);
    }
}

#[test]
fn bad_queries_are_rejected_with_codes() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(4, "cosine")).unwrap();
    let p = SearchParams { k: 1, ..Default::default() };
    assert_eq!(c.search(&[1.0; 3], p).unwrap_err().code(), ErrorCode::DimensionMismatch);
    assert_eq!(c.search(&[], p).unwrap_err().code(), ErrorCode::DimensionMismatch);
    assert_eq!(c.search(&[f32::NAN, 0.0, 0.0, 0.0], p).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(c.search(&[0.0; 4], p).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(c.search(&[1.0; 4], SearchParams { k: 0, ..p }).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert!(c.search(&[1.0; 4], p).unwrap().ids.is_empty(), "empty collection: no hits, no error");
}

/// Batches are answered by blocked scans (groups of queries share one pass over the rows):
/// every query's hits equal its single search, unfiltered, exact-planned and with more
/// queries than one group holds, on a flat index and an HNSW one (query by query there).
#[test]
fn blocked_batches_equal_single_queries_with_and_without_filters() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    for (name, cfg) in [("flat", config(24, "cosine")), ("hnsw", hnsw_config(24, "cosine"))] {
        let c = db.create_collection(name, cfg.with_schema(vec![("bucket".into(), "int".into())]).unwrap()).unwrap();
        let n = 3000;
        let v = clustered_vectors(9, n, 24, 20);
        let ids: Vec<String> = (0..n).map(|i| format!("r-{i}")).collect();
        let metadata = (0..n).map(|i| Some(format!(r#"{{"bucket":{}}}"#, i % 50))).collect();
        c.put_batch(ids, &v, metadata, false, Default::default(), &Default::default()).unwrap();
        c.delete_batch((0..n).step_by(5).map(|i| format!("r-{i}")).collect(), Default::default(), &Default::default())
            .unwrap();
        let nq = 150; // more than one group of 64
        let queries = random_vectors(10, nq, 24);
        let selective = libravdb_engine::parse_filter(r#"{"field":"bucket","op":"lt","value":2}"#).unwrap();
        for filter in [None, Some(&selective)] {
            let params = SearchParams { k: 10, ..K10 };
            let batch = c.search_filtered(&queries, params, filter).unwrap();
            let mut at = 0;
            for q in 0..nq {
                let single = c.search_filtered(&queries[q * 24..(q + 1) * 24], params, filter).unwrap();
                let count = batch.counts[q] as usize;
                assert_eq!(single.ids, batch.ids[at..at + count], "{name} query {q} filter {}", filter.is_some());
                assert_eq!(single.scores, batch.scores[at..at + count]);
                at += count;
            }
        }
    }
}

#[test]
fn range_search_returns_exactly_the_records_within_the_bound_on_flat_and_most_of_them_on_graphs() {
    let dim = 16;
    let v = clustered_vectors(21, 3000, dim, 12);
    let queries = clustered_vectors(22, 20, dim, 12);
    for metric in ["l2", "cosine", "dot"] {
        let db = Database::open(None, DbOptions::default()).unwrap();
        let flat = db.create_collection("flat", config(dim as i64, metric)).unwrap();
        let hnsw = db.create_collection("hnsw", hnsw_config(dim as i64, metric)).unwrap();
        insert(&flat, "v", &v);
        insert(&hnsw, "v", &v);
        let (mut found, mut reached, mut total) = (0, 0, 0);
        for q in queries.chunks_exact(dim) {
            // The bound: the score of the 40th neighbour, so ~40 records are inside.
            let all = flat.search(q, SearchParams { k: 3000, ..Default::default() }).unwrap();
            let bound = all.scores[39];
            let inside: Vec<&String> = all
                .ids
                .iter()
                .zip(&all.scores)
                .filter(|&(_, &s)| if metric == "l2" { s <= bound } else { s >= bound })
                .map(|(id, _)| id)
                .collect();
            let range = SearchParams { k: 1000, score_bound: Some(bound), ..Default::default() };
            let got = flat.search(q, range).unwrap();
            assert_eq!(got.ids.iter().collect::<Vec<_>>(), inside, "{metric}: flat is exact");
            // A cap below the count keeps the best `k`.
            let capped = flat.search(q, SearchParams { k: 5, ..range }).unwrap();
            assert_eq!(capped.ids, got.ids[..5], "{metric}");
            let graph = hnsw.search(q, range).unwrap();
            assert!(graph.scores.iter().all(|&s| if metric == "l2" { s <= bound } else { s >= bound }), "{metric}");
            reached += graph.ids.iter().filter(|id| inside.contains(id)).count();
            found += graph.ids.len();
            total += inside.len();
        }
        assert_eq!(found, reached, "{metric}: the graph returns nothing outside the bound");
        // Inner product on unnormalised vectors is not a metric: a graph walk reaches ~70% of
        // the range here, as it finds fewer of the top 10 (not asserted).
        if metric != "dot" {
            assert!(reached as f64 >= 0.95 * total as f64, "{metric}: HNSW reached {reached} of {total}");
        }
    }
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(dim as i64, "l2")).unwrap();
    insert(&c, "v", &v);
    let err =
        c.search(&v[..dim], SearchParams { k: 10, score_bound: Some(f32::NAN), ..Default::default() }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
}

/// MMR as written in the paper, on plain vectors: the reference the engine is held to.
fn reference_mmr(query: &[f32], cands: &[Vec<f32>], k: usize, diversity: f32) -> Vec<usize> {
    let cos = |a: &[f32], b: &[f32]| {
        let d: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        d / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
    };
    let mut picked: Vec<usize> = Vec::new();
    while picked.len() < k.min(cands.len()) {
        let value = |i: usize| {
            let redundancy = picked.iter().map(|&p| cos(&cands[i], &cands[p])).fold(f32::NEG_INFINITY, f32::max);
            (1.0 - diversity) * cos(query, &cands[i]) - diversity * if picked.is_empty() { 0.0 } else { redundancy }
        };
        let best = (0..cands.len()).filter(|i| !picked.contains(i)).fold(None, |b: Option<usize>, i| match b {
            Some(b) if value(b) >= value(i) => Some(b),
            _ => Some(i),
        });
        picked.push(best.unwrap());
    }
    picked
}

#[test]
fn diversity_picks_as_the_reference_mmr_does_from_the_fetched_candidates() {
    let dim = 8;
    // Tight clusters: the nearest 30 of a query are near-copies, so diversity has work to do.
    let v = clustered_vectors(31, 2000, dim, 6);
    let queries = clustered_vectors(32, 10, dim, 6);
    for metric in ["cosine", "l2", "dot"] {
        let db = Database::open(None, DbOptions::default()).unwrap();
        let c = db.create_collection("c", config(dim as i64, metric)).unwrap();
        insert(&c, "v", &v);
        let mut reordered = 0;
        for q in queries.chunks_exact(dim) {
            let fetched = c.search(q, SearchParams { include_vectors: true, ..SearchParams::nearest(30) }).unwrap();
            let cands: Vec<Vec<f32>> =
                fetched.vectors.as_ref().unwrap().chunks_exact(dim).map(<[f32]>::to_vec).collect();
            for diversity in [0.0, 0.5, 0.9] {
                let p = SearchParams { diversity: Some(diversity), fetch_k: Some(30), ..SearchParams::nearest(5) };
                let got = c.search(q, p).unwrap();
                // Cosine similarity ignores scale: the raw query serves for every metric.
                let want: Vec<&String> =
                    reference_mmr(q, &cands, 5, diversity).into_iter().map(|i| &fetched.ids[i]).collect();
                assert_eq!(got.ids.iter().collect::<Vec<_>>(), want, "{metric} diversity {diversity}");
                reordered += usize::from(diversity > 0.0 && got.ids[..] != fetched.ids[..5]);
            }
        }
        assert!(reordered >= 10, "{metric}: diversity changed the picks of {reordered} of 20 searches");
    }
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(dim as i64, "l2")).unwrap();
    insert(&c, "v", &v);
    for bad in [
        SearchParams { diversity: Some(1.5), ..SearchParams::nearest(5) },
        SearchParams { diversity: Some(0.5), fetch_k: Some(0), ..SearchParams::nearest(5) },
    ] {
        assert_eq!(c.search(&v[..dim], bad).unwrap_err().code(), ErrorCode::InvalidArgument);
    }
}
