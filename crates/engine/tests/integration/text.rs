//! Full-text and hybrid search in a collection: the BM25 index kept in step with writes,
//! through the WAL, checkpoints, crash replay and `optimize()`, and fusion against a
//! reference built from each signal's own list.

use std::collections::HashMap;

use libravdb_engine::{
    BatchOptions, Cancel, Collection, CollectionConfig, Database, DbOptions, ErrorCode, Fusion, HybridQuery, IndexSpec,
    MetadataChange, SearchParams, SparseQuery, TextQuery, UpdateInput, Weights, parse_filter,
};
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::common::*;

const WORDS: [&str; 16] = [
    "kernel", "driver", "python", "library", "font", "audio", "video", "network", "client", "server", "tool", "the",
    "for", "data", "runs", "running",
];

fn text_config(dim: i64, index: Option<&str>) -> CollectionConfig {
    CollectionConfig::from_api(dim, Some("l2"), IndexSpec { kind: index, ..Default::default() })
        .unwrap()
        .with_schema(vec![("body".into(), "text".into()), ("kind".into(), "int".into())])
        .unwrap()
        .with_text_options(vec![("body".into(), r#"{"stemming":true,"stopWords":true}"#.into())])
        .unwrap()
}

fn random_body(rng: &mut StdRng) -> String {
    let n = rng.random_range(1..14);
    (0..n).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect::<Vec<_>>().join(" ")
}

fn meta(body: &str, kind: u32) -> String {
    serde_json::json!({ "body": body, "kind": kind }).to_string()
}

fn text_hits(c: &Collection, query: &str, k: usize, filter: Option<&str>) -> Vec<(String, f32)> {
    let q = HybridQuery { text: Some(TextQuery { query: query.into(), fields: vec![] }), ..Default::default() };
    let filter = filter.map(|f| parse_filter(f).unwrap());
    let hits =
        c.hybrid_search(&q, SearchParams::nearest(k), Fusion::default(), filter.as_ref(), &Cancel::new()).unwrap();
    hits.ids.into_iter().zip(hits.scores).collect()
}

/// Equal lists: the same scores, and the same ids except among equal scores (ties break by
/// row, and rows differ between a collection and its rebuild): every id scoring above the
/// last score is in both.
fn assert_same(got: &[(String, f32)], want: &[(String, f32)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * b.abs().max(1.0);
    for (g, w) in got.iter().zip(want) {
        assert!(close(g.1, w.1), "{what}: {got:?} vs {want:?}");
    }
    let Some(last) = want.last().map(|w| w.1) else { return };
    let above = |l: &[(String, f32)]| {
        let mut ids: Vec<String> = l.iter().filter(|x| !close(x.1, last)).map(|x| x.0.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(above(got), above(want), "{what}: {got:?} vs {want:?}");
}

/// The collection's text search equals that of a collection built afresh from its records.
fn assert_equals_rebuild(c: &Collection, docs: &HashMap<String, (Vec<f32>, String)>, rng: &mut StdRng, what: &str) {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let fresh = db.create_collection("fresh", text_config(4, None)).unwrap();
    let mut ids: Vec<&String> = docs.keys().collect();
    ids.sort();
    let vectors: Vec<f32> = ids.iter().flat_map(|id| docs[*id].0.clone()).collect();
    let metas = ids.iter().map(|id| Some(docs[*id].1.clone())).collect();
    let ids = ids.into_iter().cloned().collect();
    fresh.put_batch(ids, &vectors, metas, false, BatchOptions::default(), &Cancel::new()).unwrap();
    assert_eq!(c.count().unwrap(), fresh.count().unwrap(), "{what}");
    for _ in 0..20 {
        let q = random_body(rng);
        assert_same(&text_hits(c, &q, 10, None), &text_hits(&fresh, &q, 10, None), &format!("{what}: '{q}'"));
        let f = r#"{"field":"kind","op":"eq","value":1}"#;
        assert_same(
            &text_hits(c, &q, 5, Some(f)),
            &text_hits(&fresh, &q, 5, Some(f)),
            &format!("{what}: filtered '{q}'"),
        );
    }
}

#[test]
fn the_text_index_equals_a_rebuild_after_writes_reopen_crash_and_optimize() {
    let tmp = tempfile::tempdir().unwrap();
    // Small WAL threshold: checkpoints happen along the way and a tail stays in the log.
    let options = DbOptions { checkpoint_wal_bytes: 30_000, ..DbOptions::default() };
    let mut rng = StdRng::seed_from_u64(21);
    let mut docs: HashMap<String, (Vec<f32>, String)> = HashMap::new();
    let write_some = |c: &Collection, docs: &mut HashMap<String, (Vec<f32>, String)>, rng: &mut StdRng| {
        for _ in 0..300 {
            let id = format!("d{}", rng.random_range(0..400));
            let v: Vec<f32> = (0..4).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let m = meta(&random_body(rng), rng.random_range(0..3));
            let cancel = Cancel::new();
            match rng.random_range(0..4) {
                0 | 1 => {
                    c.put_batch(vec![id.clone()], &v, vec![Some(m.clone())], true, BatchOptions::default(), &cancel)
                        .unwrap();
                    docs.insert(id, (v, m));
                }
                2 if docs.contains_key(&id) => {
                    let item = UpdateInput {
                        id: id.clone(),
                        vector: None,
                        metadata: MetadataChange::Set(m.clone()),
                        named: Vec::new(),
                    };
                    let r = c.update_batch(vec![item], BatchOptions::default(), &cancel).unwrap();
                    assert!(r.applied);
                    docs.get_mut(&id).unwrap().1 = m;
                }
                _ => {
                    c.delete_batch(vec![id.clone()], BatchOptions::default(), &cancel).unwrap();
                    docs.remove(&id);
                }
            }
        }
    };
    {
        let db = Database::open(Some(tmp.path()), options.clone()).unwrap();
        let c = db.create_collection("c", text_config(4, Some("hnsw"))).unwrap();
        write_some(&c, &mut docs, &mut rng);
        assert_equals_rebuild(&c, &docs, &mut rng, "after writes");
        write_some(&c, &mut docs, &mut rng);
        assert!(c.stats().unwrap().wal_bytes > 0, "some writes must remain only in the WAL");
        std::mem::forget(db); // a crash: the tail is replayed from the WAL
    }
    std::fs::remove_file(tmp.path().join("LOCK")).unwrap();
    {
        let db = Database::open(Some(tmp.path()), options.clone()).unwrap();
        let c = db.collection("c").unwrap();
        assert_equals_rebuild(&c, &docs, &mut rng, "after crash replay");
        write_some(&c, &mut docs, &mut rng);
        c.optimize(&Cancel::new()).unwrap();
        assert_equals_rebuild(&c, &docs, &mut rng, "after optimize");
        write_some(&c, &mut docs, &mut rng);
        db.close().unwrap();
    }
    let db = Database::open(Some(tmp.path()), options).unwrap();
    let c = db.collection("c").unwrap();
    assert_equals_rebuild(&c, &docs, &mut rng, "after close and reopen");
    let files: Vec<String> = std::fs::read_dir(tmp.path().join("collections/c"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(files.iter().any(|f| f.starts_with("text-")), "the checkpoint saves the text index: {files:?}");
    let report = c.verify().unwrap();
    assert!(report.damaged.is_empty() && report.files_checked > 3, "{report:?}");
}

#[test]
fn fusion_equals_a_reference_from_each_signals_list() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", text_config(8, Some("flat"))).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    let n = 500;
    let v = random_vectors(9, n, 8);
    let ids: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    let metas = (0..n).map(|i| Some(meta(&random_body(&mut rng), (i % 3) as u32))).collect();
    c.put_batch(ids, &v, metas, false, BatchOptions::default(), &Cancel::new()).unwrap();
    let cancel = Cancel::new();
    for trial in 0..20 {
        let q: Vec<f32> = (0..8).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let text = random_body(&mut rng);
        let filter = (trial % 2 == 1).then(|| parse_filter(r#"{"field":"kind","op":"ne","value":2}"#).unwrap());
        let fetch = 40;
        let params = SearchParams { fetch_k: Some(fetch), ..SearchParams::nearest(10) };
        // Each signal alone, with the same filter and candidates.
        let vector_only = c.search_filtered(&q, SearchParams::nearest(fetch), filter.as_ref()).unwrap();
        let text_only = {
            let tq =
                HybridQuery { text: Some(TextQuery { query: text.clone(), fields: vec![] }), ..Default::default() };
            c.hybrid_search(&tq, SearchParams::nearest(fetch), Fusion::default(), filter.as_ref(), &cancel).unwrap()
        };
        let rank = |ids: &[String]| -> HashMap<String, usize> {
            ids.iter().enumerate().map(|(r, id)| (id.clone(), r + 1)).collect()
        };
        let (vr, tr) = (rank(&vector_only.ids), rank(&text_only.ids));
        let score = |ids: &[String], scores: &[f32], invert: bool| -> HashMap<String, f32> {
            let rel: Vec<f32> = scores.iter().map(|s| if invert { -s } else { *s }).collect();
            let (lo, hi) = rel.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &s| (a.min(s), b.max(s)));
            ids.iter()
                .zip(&rel)
                .map(|(id, &s)| (id.clone(), if hi > lo { (s - lo) / (hi - lo) } else { 1.0 }))
                .collect()
        };
        let (vs, ts) =
            (score(&vector_only.ids, &vector_only.scores, true), score(&text_only.ids, &text_only.scores, false));
        let all: Vec<&String> = vr.keys().chain(tr.keys().filter(|id| !vr.contains_key(*id))).collect();
        for (fusion, fused_of) in [
            (
                Fusion::Rrf { k: 60.0, weights: Weights { vector: 1.0, text: 2.0, sparse: 1.0 } },
                Box::new(|id: &String| {
                    vr.get(id).map_or(0.0, |&r| 1.0 / (60.0 + r as f32))
                        + tr.get(id).map_or(0.0, |&r| 2.0 / (60.0 + r as f32))
                }) as Box<dyn Fn(&String) -> f32>,
            ),
            (
                Fusion::Weighted { weights: Weights { vector: 0.7, text: 0.3, sparse: 1.0 } },
                Box::new(|id: &String| {
                    0.7 * vs.get(id).copied().unwrap_or(0.0) + 0.3 * ts.get(id).copied().unwrap_or(0.0)
                }),
            ),
        ] {
            let mut want: Vec<(String, f32)> = all.iter().map(|id| ((*id).clone(), fused_of(id))).collect();
            want.sort_by(|a, b| b.1.total_cmp(&a.1));
            want.truncate(10);
            let hq = HybridQuery {
                vector: Some(q.clone()),
                text: Some(TextQuery { query: text.clone(), fields: vec![] }),
                sparse: None,
                fields: Vec::new(),
            };
            let got = c.hybrid_search(&hq, params, fusion, filter.as_ref(), &cancel).unwrap();
            let got_list: Vec<(String, f32)> = got.ids.iter().cloned().zip(got.scores.iter().copied()).collect();
            assert_same(&got_list, &want, &format!("trial {trial} {fusion:?}"));
            // Each hit carries each signal's own score, NaN where that signal missed it.
            let signals = got.signals.as_ref().unwrap();
            for (i, id) in got.ids.iter().enumerate() {
                let vector_score = vector_only.ids.iter().position(|x| x == id).map(|p| vector_only.scores[p]);
                let text_score = text_only.ids.iter().position(|x| x == id).map(|p| text_only.scores[p]);
                assert_eq!(signals.vector[i].is_nan(), vector_score.is_none());
                assert_eq!(signals.text[i].is_nan(), text_score.is_none());
                if let Some(s) = text_score {
                    assert!((signals.text[i] - s).abs() < 1e-5);
                }
            }
        }
    }
}

#[test]
fn bad_text_queries_are_refused() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let plain = db.create_collection("plain", config(2, "l2")).unwrap();
    let tq = |fields: Vec<String>| HybridQuery {
        text: Some(TextQuery { query: "kernel".into(), fields }),
        ..Default::default()
    };
    let cancel = Cancel::new();
    let err = plain.hybrid_search(&tq(vec![]), SearchParams::nearest(3), Fusion::default(), None, &cancel).unwrap_err();
    assert!(err.to_string().contains("no text field"), "{err}");
    let c = db.create_collection("c", text_config(2, None)).unwrap();
    let err = c.hybrid_search(&tq(vec!["kind".into()]), SearchParams::nearest(3), Fusion::default(), None, &cancel);
    assert_eq!(err.unwrap_err().code(), ErrorCode::InvalidArgument);
    let bad_weights = Fusion::Weighted { weights: Weights { vector: -1.0, ..Weights::default() } };
    let hq = HybridQuery { vector: Some(vec![0.0, 1.0]), ..tq(vec![]) };
    assert!(c.hybrid_search(&hq, SearchParams::nearest(3), bad_weights, None, &cancel).is_err());
    let ranged = SearchParams { score_bound: Some(1.0), ..SearchParams::nearest(3) };
    assert!(c.hybrid_search(&hq, ranged, Fusion::default(), None, &cancel).is_err());
    let r = c.put_batch(
        vec!["a".into()],
        &[0.0, 1.0],
        vec![Some(r#"{"body":3}"#.into())],
        false,
        BatchOptions::default(),
        &cancel,
    );
    assert_eq!(r.unwrap().errors[0].code, ErrorCode::Schema, "a text field holds strings");
    let bad_options = CollectionConfig::from_api(2, Some("l2"), IndexSpec::default())
        .unwrap()
        .with_schema(vec![("body".into(), "text".into())])
        .unwrap()
        .with_text_options(vec![("body".into(), r#"{"language":"klingon"}"#.into())]);
    assert!(bad_options.unwrap_err().to_string().contains("language must be one of"));
}

#[test]
fn sparse_vectors_search_by_inner_product_fuse_with_the_other_signals_and_survive_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let config = || {
        CollectionConfig::from_api(4, Some("l2"), IndexSpec::default())
            .unwrap()
            .with_schema(vec![("body".into(), "text".into()), ("splade".into(), "sparse".into())])
            .unwrap()
    };
    let mut rng = StdRng::seed_from_u64(17);
    let random_sparse = |rng: &mut StdRng| -> Vec<(u32, f32)> {
        let mut dims: Vec<u32> = (0..rng.random_range(1..10)).map(|_| rng.random_range(0..60)).collect();
        dims.sort_unstable();
        dims.dedup();
        dims.into_iter().map(|d| (d, rng.random_range(0.0f32..3.0))).collect()
    };
    let to_json = |pairs: &[(u32, f32)]| serde_json::json!({ "indices": pairs.iter().map(|p| p.0).collect::<Vec<_>>(), "values": pairs.iter().map(|p| p.1).collect::<Vec<_>>() });
    let n = 300;
    let sparse: Vec<Vec<(u32, f32)>> = (0..n).map(|_| random_sparse(&mut rng)).collect();
    let vectors = random_vectors(2, n, 4);
    let cancel = Cancel::new();
    {
        let db = Database::open(Some(tmp.path()), DbOptions::default()).unwrap();
        let c = db.create_collection("c", config()).unwrap();
        let ids = (0..n).map(|i| format!("r{i}")).collect();
        let metas = (0..n)
            .map(|i| {
                Some(serde_json::json!({ "body": random_body(&mut rng), "splade": to_json(&sparse[i]) }).to_string())
            })
            .collect();
        c.put_batch(ids, &vectors, metas, false, BatchOptions::default(), &cancel).unwrap();
        let bad = c.put_batch(
            vec!["x".into()],
            &[0.0; 4],
            vec![Some(r#"{"splade":{"indices":[1,1],"values":[1,2]}}"#.into())],
            false,
            BatchOptions::default(),
            &cancel,
        );
        assert_eq!(bad.unwrap().errors[0].code, ErrorCode::Schema, "repeated indices are refused");
        std::mem::forget(db); // a crash: everything is in the WAL only
    }
    std::fs::remove_file(tmp.path().join("LOCK")).unwrap();
    let db = Database::open(Some(tmp.path()), DbOptions::default()).unwrap();
    let c = db.collection("c").unwrap();
    for trial in 0..20 {
        let q = random_sparse(&mut rng);
        let dot = |d: &[(u32, f32)]| -> Option<f32> {
            let parts: Vec<f32> =
                d.iter().filter_map(|(i, w)| q.iter().find(|(j, _)| j == i).map(|(_, v)| v * w)).collect();
            (!parts.is_empty()).then(|| parts.iter().sum())
        };
        let mut want: Vec<(String, f32)> =
            (0..n).filter_map(|i| dot(&sparse[i]).map(|s| (format!("r{i}"), s))).collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1));
        want.truncate(10);
        let sq = SparseQuery { pairs: q.clone(), field: None };
        let only = HybridQuery { sparse: Some(sq.clone()), ..Default::default() };
        let got = c.hybrid_search(&only, SearchParams::nearest(10), Fusion::default(), None, &cancel).unwrap();
        assert_same(
            &got.ids.iter().cloned().zip(got.scores.iter().copied()).collect::<Vec<_>>(),
            &want,
            &format!("trial {trial}"),
        );
        // Three signals by RRF: the reference from each signal's own list.
        let v: Vec<f32> = (0..4).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let text = random_body(&mut rng);
        let fetch = 30;
        let lists = [
            c.search(&v, SearchParams::nearest(fetch)).unwrap().ids,
            text_hits(&c, &text, fetch, None).into_iter().map(|h| h.0).collect(),
            c.hybrid_search(&only, SearchParams::nearest(fetch), Fusion::default(), None, &cancel).unwrap().ids,
        ];
        let mut fused: HashMap<String, f32> = HashMap::new();
        for list in &lists {
            for (r, id) in list.iter().enumerate() {
                *fused.entry(id.clone()).or_default() += 1.0 / (60.0 + r as f32 + 1.0);
            }
        }
        let mut want: Vec<(String, f32)> = fused.into_iter().collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1));
        want.truncate(10);
        let all = HybridQuery {
            vector: Some(v),
            text: Some(TextQuery { query: text, fields: vec![] }),
            sparse: Some(sq),
            ..Default::default()
        };
        let params = SearchParams { fetch_k: Some(fetch), ..SearchParams::nearest(10) };
        let got = c.hybrid_search(&all, params, Fusion::default(), None, &cancel).unwrap();
        assert_same(
            &got.ids.iter().cloned().zip(got.scores.iter().copied()).collect::<Vec<_>>(),
            &want,
            "three signals",
        );
        assert_eq!(got.signals.unwrap().sparse.len(), got.ids.len());
    }
    let wrong = HybridQuery {
        sparse: Some(SparseQuery { pairs: vec![(1, 1.0)], field: Some("body".into()) }),
        ..Default::default()
    };
    assert!(c.hybrid_search(&wrong, SearchParams::nearest(3), Fusion::default(), None, &cancel).is_err());
}
