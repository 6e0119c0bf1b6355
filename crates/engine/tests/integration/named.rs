//! Named vector fields: records carrying several vectors (some absent), searched one field at
//! a time, updated field by field, durable across a clean reopen and a crash.

use std::collections::HashSet;

use libravdb_engine::{
    BatchOptions, Cancel, CollectionConfig, Database, DbOptions, ErrorCode, Hits, IndexSpec, MetadataChange, Metric,
    NamedVectors, SearchParams, UpdateInput, parse_filter,
};

use super::common::random_vectors;

const N: usize = 600;
const BODY: usize = 16;
const TITLE: usize = 4;

fn config() -> CollectionConfig {
    let body =
        CollectionConfig::from_api(BODY as i64, Some("cosine"), IndexSpec { kind: Some("hnsw"), ..Default::default() })
            .unwrap();
    let title = CollectionConfig::from_api(TITLE as i64, Some("l2"), IndexSpec::default()).unwrap();
    CollectionConfig::named(vec![("body".into(), body), ("title".into(), title)])
        .unwrap()
        .with_schema(vec![("lang".into(), "string".into())])
        .unwrap()
}

fn put(c: &libravdb_engine::Collection, ids: &[usize], body: &[f32], title: &[f32], upsert: bool) {
    let named = vec![
        NamedVectors {
            field: "body".into(),
            dim: BODY,
            present: vec![true; ids.len()],
            vectors: ids.iter().flat_map(|&i| body[i * BODY..(i + 1) * BODY].iter().copied()).collect(),
        },
        // Even records have a title.
        NamedVectors {
            field: "title".into(),
            dim: TITLE,
            present: ids.iter().map(|i| i % 2 == 0).collect(),
            vectors: ids
                .iter()
                .filter(|&&i| i % 2 == 0)
                .flat_map(|&i| title[i * TITLE..(i + 1) * TITLE].iter().copied())
                .collect(),
        },
    ];
    let lang = |i: usize| if i.is_multiple_of(3) { "en" } else { "de" };
    let r = c
        .put_batch_named(
            ids.iter().map(|i| format!("r{i}")).collect(),
            &[],
            ids.iter().map(|&i| Some(format!(r#"{{"lang":"{}"}}"#, lang(i)))).collect(),
            named,
            upsert,
            BatchOptions::default(),
            &Cancel::new(),
        )
        .unwrap();
    assert!(r.applied && r.failed == 0, "{r:?}");
}

/// The exact `k` nearest of `candidates` to `q` under `metric` (ids `r<i>`).
fn exact(q: &[f32], vectors: &[f32], dim: usize, metric: Metric, candidates: &[usize], k: usize) -> Vec<String> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut scored: Vec<(f32, usize)> = candidates
        .iter()
        .map(|&i| {
            let v = &vectors[i * dim..(i + 1) * dim];
            let d = match metric {
                Metric::Cosine => 1.0 - q.iter().zip(v).map(|(a, b)| a * b).sum::<f32>() / (norm(q) * norm(v)),
                _ => q.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum::<f32>(),
            };
            (d, i)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored.iter().take(k).map(|(_, i)| format!("r{i}")).collect()
}

/// Updates setting field `field` of records `id(i)` to row `i` of `v` (rows of `dim`), for
/// each `i` of `rows`.
fn field_updates(
    field: &str,
    id: impl Fn(usize) -> String,
    rows: std::ops::Range<usize>,
    v: &[f32],
    dim: usize,
) -> Vec<UpdateInput> {
    rows.map(|i| UpdateInput {
        id: id(i),
        vector: None,
        metadata: MetadataChange::Keep,
        named: vec![(field.into(), Some(v[i * dim..(i + 1) * dim].to_vec()))],
    })
    .collect()
}

fn search(c: &libravdb_engine::Collection, field: &str, q: &[f32], k: usize, filter: Option<&str>) -> Hits {
    let filter = filter.map(|f| parse_filter(f).unwrap());
    let params = SearchParams { include_metadata: true, ..SearchParams::nearest(k) };
    c.search_field(field, q, params, filter.as_ref(), &Cancel::new()).unwrap()
}

#[test]
fn named_fields_are_searched_one_at_a_time_and_survive_reopen_and_crash() {
    let dir = tempfile::tempdir().unwrap();
    let body = random_vectors(1, N, BODY);
    let title = random_vectors(2, N, TITLE);
    let queries = random_vectors(3, 20, BODY);
    let title_queries = random_vectors(4, 20, TITLE);
    let all: Vec<usize> = (0..N).collect();
    let even: Vec<usize> = (0..N).step_by(2).collect();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.create_collection("items", config()).unwrap();
    put(&c, &all, &body, &title, false);

    // Body (HNSW, cosine): held-out queries against the exact answer over every record.
    let mut hit = 0;
    for q in queries.chunks_exact(BODY) {
        let want: HashSet<String> = exact(q, &body, BODY, Metric::Cosine, &all, 10).into_iter().collect();
        hit += search(&c, "body", q, 10, None).ids.iter().filter(|id| want.contains(*id)).count();
    }
    assert!(hit as f64 / 200.0 >= 0.95, "body recall@10 {}", hit as f64 / 200.0);
    // Title (flat, l2): exact, and only the records that have a title.
    for q in title_queries.chunks_exact(TITLE) {
        assert_eq!(search(&c, "title", q, 10, None).ids, exact(q, &title, TITLE, Metric::L2, &even, 10));
    }
    // Filtered: the matches only, exactly the nearest of them.
    let en_even: Vec<usize> = even.iter().copied().filter(|i| i % 3 == 0).collect();
    let q = &title_queries[..TITLE];
    let hits = search(&c, "title", q, 5, Some(r#"{"field":"lang","op":"eq","value":"en"}"#));
    assert_eq!(hits.ids, exact(q, &title, TITLE, Metric::L2, &en_even, 5));
    assert!(hits.metadata.unwrap().iter().all(|m| m.as_deref() == Some(r#"{"lang":"en"}"#)));

    // get() returns the fields a record has.
    let r1 = c.get("r1").unwrap().unwrap();
    assert_eq!(r1.named.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["body"]);
    let r2 = c.get("r2").unwrap().unwrap();
    assert_eq!(r2.named[1], ("title".into(), title[2 * TITLE..3 * TITLE].to_vec()));

    // Field by field: r1 gains a title, r2 loses its body; r4 is deleted; r6 is replaced whole
    // by a record with a title only.
    let t1 = vec![9.0, 9.0, 9.0, 9.0];
    let updates = vec![
        UpdateInput {
            id: "r1".into(),
            vector: None,
            metadata: MetadataChange::Keep,
            named: vec![("title".into(), Some(t1.clone()))],
        },
        UpdateInput {
            id: "r2".into(),
            vector: None,
            metadata: MetadataChange::Keep,
            named: vec![("body".into(), None)],
        },
    ];
    let r = c.update_batch(updates, BatchOptions::default(), &Cancel::new()).unwrap();
    assert!(r.applied && r.failed == 0, "{r:?}");
    c.delete_batch(vec!["r4".into()], BatchOptions::default(), &Cancel::new()).unwrap();
    let only_title =
        vec![NamedVectors { field: "title".into(), dim: TITLE, present: vec![true], vectors: vec![8.0; 4].into() }];
    c.put_batch_named(vec!["r6".into()], &[], vec![None], only_title, true, BatchOptions::default(), &Cancel::new())
        .unwrap();

    let check = |c: &libravdb_engine::Collection| {
        assert_eq!(search(c, "title", &t1, 1, None).ids, ["r1"]);
        assert_eq!(search(c, "title", &[8.0; 4], 1, None).ids, ["r6"]);
        let r2_body = &body[2 * BODY..3 * BODY];
        let found = search(c, "body", r2_body, 50, None);
        assert!(!found.ids.iter().any(|id| id == "r2" || id == "r4" || id == "r6"), "{:?}", found.ids);
        let own = search(c, "body", &body[3 * BODY..4 * BODY], 1, None);
        assert_eq!(own.ids, ["r3"]);
        assert!(c.get("r4").unwrap().is_none());
        assert_eq!(c.get("r6").unwrap().unwrap().named, vec![("title".to_owned(), vec![8.0; 4])]);
        let stats = c.stats().unwrap();
        assert_eq!(stats.count, N - 1);
        assert_eq!((stats.fields[0].name.as_str(), stats.fields[0].count), ("body", N - 3));
        assert_eq!((stats.fields[1].name.as_str(), stats.fields[1].count), ("title", N / 2));
    };
    check(&c);
    let before: Vec<Hits> = queries.chunks_exact(BODY).map(|q| search(&c, "body", q, 10, None)).collect();
    drop(c);
    db.close().unwrap();

    // A clean reopen (from the checkpoint close wrote): the same answers.
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("items").unwrap();
    check(&c);
    let after: Vec<Hits> = queries.chunks_exact(BODY).map(|q| search(&c, "body", q, 10, None)).collect();
    assert_eq!(before, after);

    // Writes that live only in the WAL when the process dies: replayed at open.
    let t3 = vec![-7.0; 4];
    let upd = UpdateInput {
        id: "r3".into(),
        vector: None,
        metadata: MetadataChange::Keep,
        named: vec![("title".into(), Some(t3.clone()))],
    };
    c.update_batch(vec![upd], BatchOptions::default(), &Cancel::new()).unwrap();
    c.delete_batch(vec!["r5".into()], BatchOptions::default(), &Cancel::new()).unwrap();
    let fresh = vec![
        NamedVectors { field: "body".into(), dim: BODY, present: vec![true], vectors: queries[..BODY].to_vec().into() },
        NamedVectors { field: "title".into(), dim: TITLE, present: vec![true], vectors: vec![5.0; 4].into() },
    ];
    c.put_batch_named(vec!["new".into()], &[], vec![None], fresh, false, BatchOptions::default(), &Cancel::new())
        .unwrap();
    drop(c);
    std::mem::forget(db); // no close, no final checkpoint: as if the process died
    // The forgotten handle still holds the flock; in a real crash the kernel drops it.
    std::fs::remove_file(dir.path().join("LOCK")).unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("items").unwrap();
    assert_eq!(search(&c, "title", &t3, 1, None).ids, ["r3"]);
    assert_eq!(search(&c, "title", &[5.0; 4], 1, None).ids, ["new"]);
    assert_eq!(search(&c, "body", &queries[..BODY], 1, None).ids, ["new"]);
    assert!(c.get("r5").unwrap().is_none());
    assert_eq!(c.stats().unwrap().fields[1].count, N / 2 + 2);
    let report = c.verify().unwrap();
    assert!(report.damaged.is_empty(), "{report:?}");
}

#[test]
fn named_field_errors_are_typed_and_change_nothing() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("items", config()).unwrap();
    let cancel = Cancel::new();
    let code = |e: libravdb_engine::Error| e.code();
    // A field that does not exist, a vector of the wrong dimension, a search without `using`.
    let err = c.search_field("nope", &[0.0; 4], SearchParams::nearest(1), None, &cancel).unwrap_err();
    assert_eq!(code(err), ErrorCode::InvalidArgument);
    let err = c.search_field("title", &[0.0; 5], SearchParams::nearest(1), None, &cancel).unwrap_err();
    assert_eq!(code(err), ErrorCode::DimensionMismatch);
    assert_eq!(code(c.search(&[0.0; 4], SearchParams::nearest(1)).unwrap_err()), ErrorCode::InvalidArgument);
    let wrong = vec![NamedVectors { field: "title".into(), dim: 3, present: vec![true], vectors: vec![1.0; 3].into() }];
    let err = c.put_batch_named(vec!["a".into()], &[], vec![None], wrong, false, BatchOptions::default(), &cancel);
    assert_eq!(code(err.unwrap_err()), ErrorCode::DimensionMismatch);
    let unknown =
        vec![NamedVectors { field: "nope".into(), dim: 4, present: vec![true], vectors: vec![1.0; 4].into() }];
    let err = c.put_batch_named(vec!["a".into()], &[], vec![None], unknown, false, BatchOptions::default(), &cancel);
    assert_eq!(code(err.unwrap_err()), ErrorCode::InvalidArgument);
    // A zero body under cosine: the item is rejected, the batch with it (atomic).
    let zero =
        vec![NamedVectors { field: "body".into(), dim: BODY, present: vec![true], vectors: vec![0.0; BODY].into() }];
    let r =
        c.put_batch_named(vec!["a".into()], &[], vec![None], zero, false, BatchOptions::default(), &cancel).unwrap();
    assert!(!r.applied);
    assert_eq!(r.errors[0].code, ErrorCode::InvalidArgument);
    // An update naming a field of the wrong dimension: an item error.
    c.put_batch_named(vec!["a".into()], &[], vec![None], Vec::new(), false, BatchOptions::default(), &cancel).unwrap();
    let upd = UpdateInput {
        id: "a".into(),
        vector: None,
        metadata: MetadataChange::Keep,
        named: vec![("title".into(), Some(vec![1.0; 2]))],
    };
    let r = c.update_batch(vec![upd], BatchOptions::default(), &cancel).unwrap();
    assert_eq!(r.errors[0].code, ErrorCode::DimensionMismatch);
    assert_eq!(c.count().unwrap(), 1);
    assert!(c.get("a").unwrap().unwrap().named.is_empty());
    assert_eq!(c.stats().unwrap().fields.iter().map(|f| f.count).sum::<usize>(), 0);
    // Rebuild and tune act on the unnamed vector, which this collection does not have.
    let rebuilt = c.rebuild(libravdb_engine::IndexConfig::Flat, None, &cancel);
    assert_eq!(code(rebuilt.unwrap_err()), ErrorCode::InvalidArgument);
    // A field name that cannot name a directory is refused at creation.
    let flat = CollectionConfig::from_api_json(8, None, None, None).unwrap();
    assert!(CollectionConfig::named(vec![("a/b".into(), flat)]).is_err());
}

#[test]
fn vector_fields_come_and_go_on_a_live_collection() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = Cancel::new();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    // A one-vector collection gets a second model's field, backfilled by updates.
    let c = db.create_collection("docs", super::common::hnsw_config(8, "cosine")).unwrap();
    let old = random_vectors(5, 300, 8);
    super::common::insert(&c, "d", &old);
    let v2 =
        CollectionConfig::from_api(TITLE as i64, Some("l2"), IndexSpec { kind: Some("hnsw"), ..Default::default() })
            .unwrap();
    c.add_vector_field("v2", v2.clone()).unwrap();
    assert_eq!(c.add_vector_field("v2", v2).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(c.stats().unwrap().fields[0].count, 0);
    let new = random_vectors(6, 300, TITLE);
    let updates = field_updates("v2", |i| format!("d-{i}"), 0..300, &new, TITLE);
    c.update_batch(updates, BatchOptions::default(), &cancel).unwrap();
    let own =
        |c: &libravdb_engine::Collection, i: usize| search(c, "v2", &new[i * TITLE..(i + 1) * TITLE], 1, None).ids;
    assert_eq!(own(&c, 17), ["d-17"]);
    // The unnamed vector is untouched and still searched without `using`.
    let hits = c.search(&old[3 * 8..4 * 8], SearchParams::nearest(1)).unwrap();
    assert_eq!(hits.ids, ["d-3"]);
    assert!(dir.path().join("collections/docs/fields/v2").is_dir());
    drop(c);
    db.close().unwrap();

    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("docs").unwrap();
    assert_eq!(own(&c, 17), ["d-17"]);
    assert_eq!(c.stats().unwrap().fields[0].count, 300);
    c.drop_vector_field("v2").unwrap();
    assert!(!dir.path().join("collections/docs/fields/v2").exists());
    assert_eq!(
        code_of(c.search_field("v2", &new[..TITLE], SearchParams::nearest(1), None, &cancel)),
        ErrorCode::InvalidArgument
    );
    assert!(c.get("d-1").unwrap().unwrap().named.is_empty());
    drop(c);
    db.close().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("docs").unwrap();
    assert!(c.stats().unwrap().fields.is_empty());
    assert_eq!(c.count().unwrap(), 300);

    // A collection of named fields only keeps at least one.
    let items = db.create_collection("items", config()).unwrap();
    items.drop_vector_field("title").unwrap();
    assert_eq!(items.drop_vector_field("body").unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(items.drop_vector_field("nope").unwrap_err().code(), ErrorCode::InvalidArgument);
    // A directory a crash left behind (a field being added) is deleted at open.
    std::fs::create_dir_all(dir.path().join("collections/items/fields/ghost/vectors")).unwrap();
    drop((c, items));
    db.close().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    assert!(!dir.path().join("collections/items/fields/ghost").exists());
    assert_eq!(db.collection("items").unwrap().stats().unwrap().fields.len(), 1);
}

fn code_of<T: std::fmt::Debug>(r: libravdb_engine::Result<T>) -> ErrorCode {
    r.unwrap_err().code()
}

#[test]
fn several_fields_fuse_like_hybrid_signals() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("items", config()).unwrap();
    let (body, title) = (random_vectors(1, N, BODY), random_vectors(2, N, TITLE));
    put(&c, &(0..N).collect::<Vec<_>>(), &body, &title, false);
    let (qb, qt) = (random_vectors(8, 1, BODY), random_vectors(9, 1, TITLE));
    let query = libravdb_engine::HybridQuery {
        fields: vec![("body".into(), qb.clone()), ("title".into(), qt.clone())],
        ..Default::default()
    };
    let params = SearchParams { k: 10, fetch_k: Some(40), ..SearchParams::nearest(10) };
    let fusion = libravdb_engine::Fusion::default();
    let got = c.hybrid_search(&query, params, fusion, None, &Cancel::new()).unwrap();
    // The same as fusing each field's own search (rows are insertion order here); l2 ranks by
    // negated distance.
    let list = |field: &str, q: &[f32], sign: f32| -> Vec<(u32, f32)> {
        let h = search(&c, field, q, 40, None);
        h.ids.iter().zip(&h.scores).map(|(id, s)| (id[1..].parse().unwrap(), sign * s)).collect()
    };
    let (lb, lt) = (list("body", &qb, 1.0), list("title", &qt, -1.0));
    let want = libravdb_engine::fuse(&[&lb, &lt], &[1.0, 1.0], fusion, 10);
    let want_ids: Vec<String> = want.iter().map(|(r, _)| format!("r{r}")).collect();
    assert_eq!(got.ids, want_ids);
    // Each hit's score in each field's list (NaN where that field's search missed it).
    let signals = got.signals.unwrap();
    for (j, id) in got.ids.iter().enumerate() {
        let row: u32 = id[1..].parse().unwrap();
        let in_title = lt.iter().find(|(r, _)| *r == row).map(|(_, s)| -s);
        match in_title {
            Some(d) => assert!((signals.fields[1][j] - d).abs() < 1e-5),
            None => assert!(signals.fields[1][j].is_nan()),
        }
    }
    // A field of another dimension in a fused query: typed, nothing searched.
    let wrong =
        libravdb_engine::HybridQuery { fields: vec![("title".into(), qb.clone())], vector: None, ..query.clone() };
    let err = c.hybrid_search(&wrong, params, fusion, None, &Cancel::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DimensionMismatch);
}

#[test]
fn optimize_repairs_a_field_graph_around_replaced_vectors() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("items", config()).unwrap();
    let cancel = Cancel::new();
    let (body, title) = (random_vectors(1, N, BODY), random_vectors(2, N, TITLE));
    put(&c, &(0..N).collect::<Vec<_>>(), &body, &title, false);
    // Every body replaced (HNSW: a new row each, the old one gone): only records change, not
    // the record rows, so it is the field alone that waits for a repair.
    let fresh = random_vectors(3, N, BODY);
    let updates = field_updates("body", |i| format!("r{i}"), 0..N, &fresh, BODY);
    c.update_batch(updates, BatchOptions::default(), &cancel).unwrap();
    assert_eq!(c.stats().unwrap().fields[0].rows, 2 * N);
    assert!(c.optimize(&cancel).unwrap() > 0, "the field's graph is repaired");
    assert_eq!(c.optimize(&cancel).unwrap(), 0, "and once is enough");
    for i in [0, 17, 333] {
        assert_eq!(search(&c, "body", &fresh[i * BODY..(i + 1) * BODY], 1, None).ids, [format!("r{i}")]);
    }
}

#[test]
fn a_field_reuses_the_rows_optimize_freed_across_reopen_and_crash() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = Cancel::new();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.create_collection("items", config()).unwrap();
    let (body, title) = (random_vectors(1, N, BODY), random_vectors(2, N, TITLE));
    put(&c, &(0..N).collect::<Vec<_>>(), &body, &title, false);
    let set_bodies = |c: &libravdb_engine::Collection, ids: std::ops::Range<usize>, v: &[f32]| {
        let updates = field_updates("body", |i| format!("r{i}"), ids, v, BODY);
        c.update_batch(updates, BatchOptions::default(), &cancel).unwrap();
    };
    let rows = |c: &libravdb_engine::Collection| c.stats().unwrap().fields[0].rows;
    let finds_itself = |c: &libravdb_engine::Collection, v: &[f32], ids: std::ops::Range<usize>| {
        for i in ids.step_by(7) {
            assert_eq!(search(c, "body", &v[i * BODY..(i + 1) * BODY], 1, None).ids, [format!("r{i}")]);
        }
    };
    // Every body replaced: N new rows; optimize frees the N old ones; the next N replacements
    // take them, so the table stays at 2N rows.
    let fresh = random_vectors(3, N, BODY);
    set_bodies(&c, 0..N, &fresh);
    assert_eq!(rows(&c), 2 * N);
    c.optimize(&cancel).unwrap();
    let again = random_vectors(4, N, BODY);
    set_bodies(&c, 0..N, &again);
    assert_eq!(rows(&c), 2 * N, "the freed rows are reused");
    finds_itself(&c, &again, 0..N);
    let candidates: Vec<usize> = (0..N).collect();
    let q = random_vectors(5, 10, BODY);
    let mut found = 0;
    for q in q.chunks_exact(BODY) {
        let want = exact(q, &again, BODY, Metric::Cosine, &candidates, 10);
        found += search(&c, "body", q, 10, None).ids.iter().filter(|id| want.contains(id)).count();
    }
    assert!(found >= 90, "recall@10 over reused rows: {found} of 100");

    // Freed rows are on disk: after a clean reopen, replacements still take them.
    c.optimize(&cancel).unwrap();
    drop(c);
    db.close().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("items").unwrap();
    let third = random_vectors(6, N, BODY);
    set_bodies(&c, 0..100, &third);
    assert_eq!(rows(&c), 2 * N);
    finds_itself(&c, &third, 0..100);

    // A crash after an optimize and more replacements (in the WAL only): the replay takes the
    // same rows, and every vector is where its record finds it.
    c.optimize(&cancel).unwrap();
    set_bodies(&c, 100..300, &third);
    drop(c);
    std::mem::forget(db);
    std::fs::remove_file(dir.path().join("LOCK")).unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("items").unwrap();
    assert_eq!(rows(&c), 2 * N);
    finds_itself(&c, &third, 0..300);
    finds_itself(&c, &again, 300..N);
    assert!(c.verify().unwrap().damaged.is_empty());
}

#[test]
fn an_upsert_moves_the_record_and_keeps_a_flat_field_in_place() {
    // The unnamed vector under HNSW: an upsert gives the record a new row; its flat field's
    // vector is rewritten where it is, and a field the upsert does not carry is gone.
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("docs", super::common::hnsw_config(4, "l2")).unwrap();
    let flat = CollectionConfig::from_api(TITLE as i64, Some("l2"), IndexSpec::default()).unwrap();
    c.add_vector_field("t", flat).unwrap();
    let cancel = Cancel::new();
    let put = |id: &str, t: Option<Vec<f32>>| {
        let named =
            t.map(|v| vec![NamedVectors { field: "t".into(), dim: TITLE, present: vec![true], vectors: v.into() }]);
        let r = c
            .put_batch_named(
                vec![id.into()],
                &[1.0; 4],
                vec![None],
                named.unwrap_or_default(),
                true,
                BatchOptions::default(),
                &cancel,
            )
            .unwrap();
        assert!(r.applied);
    };
    put("a", Some(vec![1.0; TITLE]));
    put("b", Some(vec![2.0; TITLE]));
    put("a", Some(vec![3.0; TITLE]));
    let stats = c.stats().unwrap();
    assert_eq!((stats.rows, stats.fields[0].rows, stats.fields[0].count), (3, 2, 2));
    assert_eq!(search(&c, "t", &[3.0; TITLE], 1, None).ids, ["a"]);
    put("b", None);
    assert_eq!(c.stats().unwrap().fields[0].count, 1);
    assert!(c.get("b").unwrap().unwrap().named.is_empty());
    assert_eq!(search(&c, "t", &[2.0; TITLE], 5, None).ids, ["a"]);
}
