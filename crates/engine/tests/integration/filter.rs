use libravdb_engine::{
    BatchOptions, Cancel, Collection, CollectionConfig, Database, DbOptions, ErrorCode, IndexSpec, SearchParams,
    parse_filter,
};

use crate::common::*;

fn schema_config(dim: i64, index: Option<&str>) -> CollectionConfig {
    CollectionConfig::from_api(dim, Some("l2"), IndexSpec { kind: index, ..Default::default() })
        .unwrap()
        .with_schema(vec![("bucket".into(), "int".into()), ("tag".into(), "string".into())])
        .unwrap()
}

/// Inserts n records with `bucket` = i % 1000 (so `bucket < x` selects x/1000 of them).
fn fill(c: &Collection, v: &[f32], dim: usize) {
    let n = v.len() / dim;
    let ids = (0..n).map(|i| format!("r{i}")).collect();
    let meta = (0..n).map(|i| Some(format!("{{\"bucket\":{},\"tag\":\"t{}\"}}", i % 1000, i % 7))).collect();
    c.put_batch(ids, v, meta, false, BatchOptions::default(), &Cancel::new()).unwrap();
}

#[test]
fn metadata_is_validated_against_the_schema() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", schema_config(2, None)).unwrap();
    let put = |meta: &str| {
        c.put_batch(
            vec!["a".into()],
            &[1.0, 2.0],
            vec![Some(meta.into())],
            false,
            BatchOptions::default(),
            &Cancel::new(),
        )
        .unwrap()
    };
    let r = put("{\"bucket\":\"12\"}");
    assert_eq!((r.applied, r.errors[0].code), (false, ErrorCode::Schema));
    assert!(
        r.errors[0].message.contains("bucket") && r.errors[0].message.contains("\"12\""),
        "{}",
        r.errors[0].message
    );
    assert_eq!(put("{\"bucket\":1.5}").errors[0].code, ErrorCode::Schema);
    assert_eq!(put("[1]").errors[0].code, ErrorCode::InvalidArgument);
    assert!(put("{\"bucket\":3,\"free\":{\"x\":1}}").applied, "fields outside the schema are free");
    assert!(
        parse_filter("{\"field\":\"bucket\",\"op\":\"gte\",\"value\":[1]}")
            .unwrap_err()
            .to_string()
            .contains("$.value")
    );
}

#[test]
fn filtered_flat_search_equals_exact_filtered_brute_force() {
    let dim = 8;
    let v = random_vectors(1, 3000, dim);
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", schema_config(dim as i64, None)).unwrap();
    fill(&c, &v, dim);
    let q = random_vectors(2, dim, 1);
    for json in [
        r#"{"field":"bucket","op":"lt","value":100}"#,
        r#"{"or":[{"field":"tag","op":"eq","value":"t3"},{"field":"bucket","op":"between","value":[500,510]}]}"#,
        r#"{"field":"free","op":"exists","value":false}"#,
        r#"{"field":"tag","op":"gt","value":"t4"}"#,
    ] {
        let f = parse_filter(json).unwrap();
        let got = c
            .search_filtered(&q, SearchParams { k: 20, include_metadata: true, ..Default::default() }, Some(&f))
            .unwrap();
        let all = c.search(&q, SearchParams { k: 3000, include_metadata: true, ..Default::default() }).unwrap();
        let want: Vec<&String> = all
            .ids
            .iter()
            .zip(all.metadata.as_ref().unwrap())
            .filter(|(_, m)| {
                let m: serde_json::Value = serde_json::from_str(m.as_deref().unwrap()).unwrap();
                libravdb_engine::Filter::parse(&serde_json::from_str(json).unwrap())
                    .map(|f| libravdb_filter_eval(&f, &m))
                    .unwrap()
            })
            .map(|(id, _)| id)
            .take(20)
            .collect();
        assert_eq!(got.ids.iter().collect::<Vec<_>>(), want, "{json}");
    }
}

fn libravdb_filter_eval(f: &libravdb_engine::Filter, m: &serde_json::Value) -> bool {
    libravdb_filter::matches(f, m.as_object())
}

#[test]
fn hnsw_filtered_recall_holds_at_every_selectivity() {
    let dim = 32;
    let n = 20_000;
    let v = random_vectors(3, n, dim);
    let db = Database::open(None, DbOptions::default()).unwrap();
    let h = db.create_collection("h", schema_config(dim as i64, Some("hnsw"))).unwrap();
    let f = db.create_collection("f", schema_config(dim as i64, None)).unwrap();
    fill(&h, &v, dim);
    fill(&f, &v, dim);
    let q = random_vectors(4, 50 * dim, 1);
    for limit in [0, 1, 10, 100, 250, 500, 1000] {
        let filter = parse_filter(&format!(r#"{{"field":"bucket","op":"lt","value":{limit}}}"#)).unwrap();
        // ef 128: uniform random data is hard for HNSW even unfiltered; this isolates the filter.
        let p = SearchParams { k: 10, ef_search: Some(128), ..Default::default() };
        let explained = h.explain(Some(&filter), p).unwrap();
        assert_eq!(explained.estimate, Some(n * limit / 1000), "{explained:?}");
        let plan = explained.plan.as_str();
        if (1..=10).contains(&limit) {
            assert_eq!(plan, "exact", "few matches are scored directly: {explained:?}");
        }
        if limit == 1000 {
            assert_eq!(plan, "unfiltered", "everything matches: a plain search: {explained:?}");
        }
        let got = h.search_filtered(&q, p, Some(&filter)).unwrap();
        if limit == 0 {
            assert_eq!((plan, got.ids.len()), ("empty", 0), "nothing matches: {explained:?}");
            continue;
        }
        let want = f.search_filtered(&q, p, Some(&filter)).unwrap();
        let recall = recall_at(&got, &want, 10);
        println!("selectivity {:.1}%: plan {plan}, recall@10 {recall:.3}", limit as f64 / 10.0);
        assert!(recall >= 0.95, "selectivity {limit}/1000: recall {recall}");
    }
}

/// Under 10-50% filters the planner walks the graph returning only matches; every hit passes
/// the filter, and recall against the exact filtered top 10 is about the unfiltered search's at
/// the same efSearch (this data is hard for HNSW: 0.46 unfiltered at ef 16).
#[test]
fn filtered_graph_walks_return_only_matches_at_the_unfiltered_recall() {
    let (dim, n) = (256, 24_000);
    let v = clustered_vectors(5, n, dim, 40);
    let db = Database::open(None, DbOptions::default()).unwrap();
    let h = db.create_collection("h", schema_config(dim as i64, Some("hnsw"))).unwrap();
    let f = db.create_collection("f", schema_config(dim as i64, None)).unwrap();
    fill(&h, &v, dim);
    fill(&f, &v, dim);
    let q = clustered_vectors(6, 40, dim, 40);
    // ef 16 keeps a graph walk cheaper than scoring 2,400 matches (10% of 24,000).
    let p = SearchParams { k: 10, ef_search: Some(16), ..Default::default() };
    let unfiltered = recall_at(&h.search_filtered(&q, p, None).unwrap(), &f.search_filtered(&q, p, None).unwrap(), 10);
    for limit in [100, 200, 500] {
        let filter = parse_filter(&format!(r#"{{"field":"bucket","op":"lt","value":{limit}}}"#)).unwrap();
        let explained = h.explain(Some(&filter), p).unwrap();
        assert_eq!(explained.plan.as_str(), "graph", "{explained:?}");
        assert!(explained.reason.contains("returning only matches"), "{explained:?}");
        let got = h.search_filtered(&q, p, Some(&filter)).unwrap();
        assert_eq!(got.ids.len(), q.len() / dim * 10);
        for id in &got.ids {
            let i: usize = id[1..].parse().unwrap();
            assert!(i % 1000 < limit, "{id} does not pass bucket < {limit}");
        }
        let recall = recall_at(&got, &f.search_filtered(&q, p, Some(&filter)).unwrap(), 10);
        println!(
            "selectivity {:.1}%: {}; recall@10 {recall:.3} (unfiltered {unfiltered:.3})",
            limit as f64 / 10.0,
            explained.reason
        );
        assert!(recall >= unfiltered - 0.05, "selectivity {limit}/1000: recall {recall} < unfiltered {unfiltered}");
    }
}

#[test]
fn payload_indexes_follow_updates_deletes_and_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dim = 4;
    let v = random_vectors(5, 2000, dim);
    let only_bucket_7 = parse_filter(r#"{"field":"bucket","op":"eq","value":7}"#).unwrap();
    let p = SearchParams { k: 100, ..Default::default() };
    {
        let db = open(tmp.path());
        let c = db.create_collection("c", schema_config(dim as i64, Some("hnsw"))).unwrap();
        fill(&c, &v, dim);
        assert_eq!(c.explain(Some(&only_bucket_7), p).unwrap().estimate, Some(2));
        let upd = libravdb_engine::UpdateInput {
            id: "r1".into(),
            vector: None,
            metadata: libravdb_engine::MetadataChange::Set("{\"bucket\":7}".into()),
            named: Vec::new(),
        };
        c.update_batch(vec![upd], BatchOptions::default(), &Cancel::new()).unwrap();
        c.delete_batch(vec!["r7".into()], BatchOptions::default(), &Cancel::new()).unwrap();
        let hits = c.search_filtered(&v[..dim], p, Some(&only_bucket_7)).unwrap();
        let mut ids = hits.ids.clone();
        ids.sort();
        assert_eq!(ids, vec!["r1".to_string(), "r1007".to_string()]);
        db.close().unwrap();
    }
    // The checkpoint stored the indexes; reopening loads them, and without the file (a
    // checkpoint from an older build) rebuilds them from the metadata: same answers.
    let payload_file = || {
        let files = std::fs::read_dir(tmp.path().join("collections/c")).unwrap();
        let mut found = files.flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().contains("payload-"));
        let file = found.next().expect("a payload index file");
        assert!(found.next().is_none(), "one checkpoint generation on disk");
        file
    };
    for drop_file in [false, true] {
        if drop_file {
            std::fs::remove_file(payload_file()).unwrap();
        }
        let db = open(tmp.path());
        let c = db.collection("c").unwrap();
        assert_eq!(c.explain(Some(&only_bucket_7), p).unwrap().estimate, Some(2));
        assert_eq!(c.search_filtered(&v[..dim], p, Some(&only_bucket_7)).unwrap().ids.len(), 2);
        let tag_3 = parse_filter(r#"{"field":"tag","op":"eq","value":"t3"}"#).unwrap();
        assert_eq!(c.explain(Some(&tag_3), p).unwrap().estimate, Some((0..2000).filter(|i| i % 7 == 3).count()));
        c.put_batch(
            vec!["x".into()],
            &v[..dim],
            vec![Some("{\"bucket\":7}".into())],
            false,
            BatchOptions::default(),
            &Cancel::new(),
        )
        .unwrap();
        db.close().unwrap(); // checkpoints, writing payload-2.seg / payload-3.seg
        let db = open(tmp.path());
        assert_eq!(db.collection("c").unwrap().explain(Some(&only_bucket_7), p).unwrap().estimate, Some(3));
        db.collection("c").unwrap().delete_batch(vec!["x".into()], BatchOptions::default(), &Cancel::new()).unwrap();
        db.close().unwrap();
    }
    // A damaged index file is reported, naming the file.
    let payload = payload_file();
    let mut bytes = std::fs::read(&payload).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&payload, bytes).unwrap();
    let err = Database::open(Some(tmp.path()), DbOptions::default()).expect_err("damaged payload index");
    assert_eq!(err.code(), ErrorCode::Corrupted);
    assert!(err.to_string().contains(&*payload.file_name().unwrap().to_string_lossy()), "{err}");
}
