//! IVF-PQ on a named vector field: exact until the field's own records are enough to train,
//! trained on them (not on the collection's record count), retrained in the background with
//! more lists as the field grows, and kept across a reopen; an `auto` field promoted and a
//! field with a recall target tuned, each on its own records.

use libravdb_engine::{
    BatchOptions, Cancel, Collection, CollectionConfig, Database, DbOptions, IndexSpec, NamedVectors, SearchParams,
};

use crate::common::clustered_vectors;

const DIM: usize = 8;
/// Records; the field `body` is on three of four.
const N: usize = 45_000;

fn has_body(i: usize) -> bool {
    i % 4 != 3
}

/// Records `r<i>` with `body` (row `i` of `v`) on three of four, and `tag` on all.
fn put(c: &Collection, v: &[f32], rows: std::ops::Range<usize>) {
    let n = rows.len();
    let ids: Vec<String> = rows.clone().map(|i| format!("r{i}")).collect();
    let present: Vec<bool> = rows.clone().map(has_body).collect();
    // `tag`: the first two components, on every record.
    let tags: Vec<f32> = rows.clone().flat_map(|i| v[i * DIM..i * DIM + 2].to_vec()).collect();
    let body: Vec<f32> =
        rows.clone().filter(|&i| has_body(i)).flat_map(|i| v[i * DIM..(i + 1) * DIM].to_vec()).collect();
    let named = vec![
        NamedVectors { field: "body".into(), dim: DIM, present, vectors: body.into() },
        NamedVectors { field: "tag".into(), dim: 2, present: vec![true; n], vectors: tags.into() },
    ];
    let r = c.put_batch_named(ids, &[], vec![None; n], named, false, BatchOptions::default(), &Cancel::new()).unwrap();
    assert!(r.applied && r.failed == 0, "{r:?}");
}

/// Exact top `k` (l2) among the records `0..upto` that have `body`.
fn exact(v: &[f32], upto: usize, q: &[f32], k: usize) -> Vec<String> {
    let mut scored: Vec<(f32, usize)> = (0..upto)
        .filter(|&i| has_body(i))
        .map(|i| (v[i * DIM..(i + 1) * DIM].iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(), i))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored.iter().take(k).map(|(_, i)| format!("r{i}")).collect()
}

fn recall(c: &Collection, v: &[f32], upto: usize, queries: &[f32], params: SearchParams) -> f64 {
    let mut found = 0;
    for q in queries.chunks_exact(DIM) {
        let want = exact(v, upto, q, 10);
        let got = c.search_field("body", q, params, None, &Cancel::new()).unwrap().ids;
        found += got.iter().filter(|id| want.contains(id)).count();
    }
    found as f64 / (queries.len() / DIM * 10) as f64
}

fn body_stats(c: &Collection) -> libravdb_engine::FieldStats {
    c.stats().unwrap().fields.into_iter().find(|f| f.name == "body").unwrap()
}

#[test]
fn an_ivfpq_field_trains_on_its_records_regrows_and_reopens() {
    let v = clustered_vectors(21, N, DIM, 40);
    let queries = clustered_vectors(22, 50, DIM, 40);
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let ivf =
        CollectionConfig::from_api(DIM as i64, Some("l2"), IndexSpec { kind: Some("ivfpq"), ..Default::default() });
    let config = CollectionConfig::named(vec![
        ("body".into(), ivf.unwrap()),
        ("tag".into(), CollectionConfig::from_api(2, Some("l2"), IndexSpec::default()).unwrap()),
    ])
    .unwrap();
    let c = db.create_collection("c", config).unwrap();

    // 3,000 records have the field: too few to train, searches are exact.
    put(&c, &v, 0..4000);
    let s = body_stats(&c);
    assert_eq!((s.index, s.quantization, s.nlist, s.count), ("ivfpq", "pending", None, 3000));
    assert_eq!(recall(&c, &v, 4000, &queries, SearchParams::nearest(10)), 1.0);

    // 10,500 have it (14,000 records): trained on the field's rows, lists for them.
    put(&c, &v, 4000..14_000);
    let s = body_stats(&c);
    assert_eq!((s.quantization, s.count, s.index_state), ("trained", 10_500, "ready"));
    assert_eq!(s.nlist, Some(102), "sqrt of the field's 10,500 records, not of the 14,000 records");
    assert!(s.code_bytes > 0 && s.compression > 1.0, "{s:?}");

    // 33,750 >= 2 x 102^2: outgrown; retrained in the background with lists for twice them.
    put(&c, &v, 14_000..N);
    let mut waited = 0;
    while body_stats(&c).index_state == "building" {
        std::thread::sleep(std::time::Duration::from_millis(20));
        waited += 1;
        assert!(waited < 30_000, "the field's retraining never ended");
    }
    let s = body_stats(&c);
    assert_eq!((s.nlist, s.count), (Some(260), 33_750), "round(sqrt(2 x 33,750)) lists");
    assert_eq!(c.stats().unwrap().index_error, None);
    let default = recall(&c, &v, N, &queries, SearchParams::nearest(10));
    let all = recall(&c, &v, N, &queries, SearchParams { nprobe: Some(65_536), ..SearchParams::nearest(10) });
    println!("IVF-PQ field recall@10: default nprobe {default:.3}, every list {all:.3}");
    assert!(default >= 0.9, "recall@10 at the default nprobe {default}");
    assert!(all >= 0.98, "recall@10 probing every list {all}");

    // Reopened: the retrained index is loaded, not trained again.
    let before: Vec<_> = queries
        .chunks_exact(DIM)
        .map(|q| c.search_field("body", q, SearchParams::nearest(10), None, &Cancel::new()).unwrap().ids)
        .collect();
    drop(c);
    db.close().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("c").unwrap();
    let s = body_stats(&c);
    assert_eq!((s.quantization, s.nlist, s.index_state), ("trained", Some(260), "ready"));
    let after: Vec<_> = queries
        .chunks_exact(DIM)
        .map(|q| c.search_field("body", q, SearchParams::nearest(10), None, &Cancel::new()).unwrap().ids)
        .collect();
    assert_eq!(before, after);
    assert!(c.verify().unwrap().damaged.is_empty());
}

/// Waits (without a deadline a loaded machine could miss) for `cond`, failing after minutes.
fn wait_for(c: &Collection, what: &str, cond: impl Fn(&Collection) -> bool) {
    let mut waited = 0;
    while !cond(c) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        waited += 1;
        assert!(waited < 30_000, "{what} never happened");
    }
}

#[test]
fn a_field_promotes_its_auto_index_and_tunes_itself_for_its_recall_target() {
    let v = clustered_vectors(31, 6000, DIM, 40);
    let queries = clustered_vectors(32, 50, DIM, 40);
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let auto = r#"{"type":"auto","flatThreshold":2000,"promoteTo":"hnsw"}"#;
    let target = r#"{"type":"hnsw","efSearch":400,"targetRecall":0.9}"#;
    let config = CollectionConfig::named(vec![
        ("body".into(), CollectionConfig::from_api_json(DIM as i64, Some("l2"), Some(auto), None).unwrap()),
        ("tag".into(), CollectionConfig::from_api_json(2, Some("l2"), Some(target), None).unwrap()),
    ])
    .unwrap();
    let c = db.create_collection("c", config).unwrap();
    let field = |c: &Collection, name: &str| c.stats().unwrap().fields.into_iter().find(|f| f.name == name).unwrap();

    // 1,500 records have `body` (of 2,000): flat, exact, and no tune of `tag` yet below 1,000.
    put(&c, &v, 0..2000);
    assert_eq!((field(&c, "body").index, field(&c, "body").count), ("flat", 1500));
    assert_eq!(recall(&c, &v, 2000, &queries, SearchParams::nearest(10)), 1.0);

    // 3,000 have it: promoted in the background (the field's count, not the records').
    put(&c, &v, 2000..4000);
    wait_for(&c, "the promotion of body's auto index", |c| field(c, "body").index_state == "ready");
    let body = field(&c, "body");
    assert_eq!((body.index, body.count), ("hnsw", 3000));
    assert_eq!(c.stats().unwrap().index_error, None);
    let promoted = recall(&c, &v, 4000, &queries, SearchParams::nearest(10));
    assert!(promoted >= 0.95, "recall@10 after the promotion {promoted}");

    // `tag` (every record) tuned itself for 0.9: its efSearch is the tune's, no longer 400.
    wait_for(&c, "the tune of tag for its recall target", |c| {
        field(c, "tag").recall_target.is_some_and(|t| t.tuned_at > 0)
    });
    let tuned = field(&c, "tag").recall_target.unwrap();
    assert!(tuned.recall == 0.9 && tuned.tuned_at >= 1000, "{tuned:?}");
    let ef = c.explain_field("tag", None, SearchParams::nearest(10)).unwrap().ef;
    assert!(ef.is_some_and(|ef| ef != 400), "efSearch after the tune: {ef:?}");

    // Both survive a reopen: promoted, tuned.
    drop(c);
    db.close().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!(field(&c, "body").index, "hnsw");
    assert_eq!(field(&c, "tag").recall_target.map(|t| t.tuned_at), Some(tuned.tuned_at));
}
