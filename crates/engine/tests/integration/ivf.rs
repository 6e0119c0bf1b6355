use libravdb_engine::{BatchOptions, Cancel, CollectionConfig, IndexSpec, SearchParams, parse_filter};

use crate::common::*;

fn ivf_config(dim: i64, metric: &str, spec: IndexSpec<'static>) -> CollectionConfig {
    CollectionConfig::from_api(dim, Some(metric), IndexSpec { kind: Some("ivfpq"), ..spec }).unwrap()
}

fn params(k: usize) -> SearchParams {
    SearchParams { k, ..Default::default() }
}

#[test]
fn exact_until_trained_then_recall_holds_for_each_metric() {
    let dim = 32;
    let v = clustered_vectors(1, 20_000, dim, 50);
    let queries = clustered_vectors(2, 100, dim, 50);
    for metric in ["l2", "cosine", "dot"] {
        let db = libravdb_engine::Database::open(None, Default::default()).unwrap();
        let ivf = db.create_collection("ivf", ivf_config(dim as i64, metric, IndexSpec::default())).unwrap();
        let flat = db.create_collection("flat", config(dim as i64, metric)).unwrap();
        insert(&ivf, "a", &v[..5000 * dim]);
        insert(&flat, "a", &v[..5000 * dim]);
        assert_eq!(ivf.stats().unwrap().quantization, "pending");
        // Untrained: exact, the same answers as flat.
        assert_eq!(ivf.search(&queries, params(10)).unwrap().ids, flat.search(&queries, params(10)).unwrap().ids);

        insert(&ivf, "b", &v[5000 * dim..]);
        insert(&flat, "b", &v[5000 * dim..]);
        let s = ivf.stats().unwrap();
        assert_eq!((s.index, s.quantization), ("ivfpq", "trained"), "{metric}");
        assert_eq!(s.code_bytes, 20_000 * 8, "{metric}: m = 32 / 4 = 8 bytes per vector");
        assert_eq!(s.compression, 16.0);
        let want = flat.search(&queries, params(10)).unwrap();
        let default = recall_at(&ivf.search(&queries, params(10)).unwrap(), &want, 10);
        assert!(default >= 0.95, "{metric}: recall@10 {default}");
        let one = SearchParams { nprobe: Some(1), ..params(10) };
        let narrow = recall_at(&ivf.search(&queries, one).unwrap(), &want, 10);
        let all = SearchParams { nprobe: Some(65_536), ..params(10) };
        let wide = recall_at(&ivf.search(&queries, all).unwrap(), &want, 10);
        assert!(narrow < default && wide >= default && wide >= 0.98, "{metric}: {narrow} {default} {wide}");
        let plan = ivf.explain(None, params(10)).unwrap();
        assert_eq!(plan.nprobe, Some(8), "{metric}: nlist ~141 -> nprobe max(141 / 16, 8)");
    }
}

#[test]
fn rerank_off_returns_code_order_and_bad_nprobe_is_rejected() {
    let dim = 16;
    let v = clustered_vectors(3, 12_000, dim, 20);
    let db = libravdb_engine::Database::open(None, Default::default()).unwrap();
    let c = db
        .create_collection("c", ivf_config(dim as i64, "l2", IndexSpec { rerank: Some(0), ..Default::default() }))
        .unwrap();
    insert(&c, "r", &v);
    let hits = c.search(&v[..dim], params(10)).unwrap();
    assert_eq!(hits.ids.len(), 10);
    assert!(hits.scores.windows(2).all(|w| w[0] <= w[1]), "ADC distances ascend");
    let err = c.search(&v[..dim], SearchParams { nprobe: Some(0), ..params(10) }).unwrap_err();
    assert!(err.to_string().contains("nprobe"), "{err}");
}

#[test]
fn lists_persist_replay_and_optimize_drops_deleted_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dim = 16;
    let v = clustered_vectors(4, 14_000, dim, 30);
    let queries = clustered_vectors(5, 50, dim, 30);
    let spec = IndexSpec { nlist: Some(64), nprobe: Some(12), ..Default::default() };
    let before = {
        let db = open(tmp.path());
        let c = db.create_collection("c", ivf_config(dim as i64, "l2", spec.clone())).unwrap();
        insert(&c, "a", &v[..12_000 * dim]);
        assert_eq!(c.stats().unwrap().quantization, "trained");
        insert(&c, "b", &v[12_000 * dim..]); // filed after training, logged in the WAL only
        assert!(c.stats().unwrap().wal_bytes > 0);
        let hits = c.search(&queries, params(10)).unwrap();
        std::mem::forget(db); // crash: no close, no final checkpoint
        hits
    };
    std::fs::remove_file(tmp.path().join("LOCK")).unwrap(); // the kernel drops a dead process's flock
    assert!(
        tmp.path()
            .join("collections/c")
            .read_dir()
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("ivf-"))
    );
    let db = open(tmp.path());
    let c = db.collection("c").unwrap();
    assert_eq!(c.search(&queries, params(10)).unwrap(), before, "checkpointed lists + replayed WAL answer identically");

    let doomed: Vec<String> = (0..12_000).step_by(5).map(|i| format!("a-{i}")).collect();
    c.delete_batch(doomed.clone(), BatchOptions::default(), &Cancel::new()).unwrap();
    let hits = c.search(&queries, params(50)).unwrap();
    assert!(hits.ids.iter().all(|id| !doomed.contains(id)), "deleted records are never returned");
    assert_eq!(c.optimize(&Cancel::new()).unwrap(), doomed.len(), "optimize drops every deleted row from its list");
    insert(&c, "c", &v[..2000 * dim]); // new records take the reclaimed rows
    let after = c.search(&queries, params(10)).unwrap();
    db.close().unwrap();
    let db = open(tmp.path());
    assert_eq!(db.collection("c").unwrap().search(&queries, params(10)).unwrap(), after);
    assert_eq!(db.collection("c").unwrap().count().unwrap(), 14_000 - doomed.len() + 2000);
}

#[test]
fn filtered_search_probes_more_lists_as_selectivity_falls() {
    let dim = 16;
    let n = 20_000;
    let v = clustered_vectors(6, n, dim, 40);
    let queries = clustered_vectors(7, 50, dim, 40);
    let db = libravdb_engine::Database::open(None, Default::default()).unwrap();
    let schema = vec![("bucket".to_string(), "int".to_string())];
    let ivf = db
        .create_collection(
            "ivf",
            ivf_config(dim as i64, "l2", IndexSpec::default()).with_schema(schema.clone()).unwrap(),
        )
        .unwrap();
    let flat = db.create_collection("flat", config(dim as i64, "l2").with_schema(schema).unwrap()).unwrap();
    for c in [&ivf, &flat] {
        let ids = (0..n).map(|i| format!("r{i}")).collect();
        let meta = (0..n).map(|i| Some(format!("{{\"bucket\":{}}}", i % 1000))).collect();
        c.put_batch(ids, &v, meta, false, BatchOptions::default(), &Cancel::new()).unwrap();
    }
    let mut last_nprobe = 0;
    // 50% and 25% probe (8 lists widened 2x and 4x); 0.1% scores its 20 matches exactly.
    for (limit, plan) in [(500, "probe"), (250, "probe"), (1, "exact")] {
        let f = parse_filter(&format!(r#"{{"field":"bucket","op":"lt","value":{limit}}}"#)).unwrap();
        let p = ivf.explain(Some(&f), params(10)).unwrap();
        assert_eq!(p.plan.as_str(), plan, "{limit}: {}", p.reason);
        if let Some(nprobe) = p.nprobe {
            assert!(nprobe > last_nprobe, "{limit}: {nprobe} lists");
            last_nprobe = nprobe;
        }
        let got = ivf.search_filtered(&queries, params(10), Some(&f)).unwrap();
        let want = flat.search_filtered(&queries, params(10), Some(&f)).unwrap();
        assert!(got.ids.iter().all(|id| id[1..].parse::<usize>().unwrap() % 1000 < limit));
        let r = recall_at(&got, &want, 10);
        assert!(r >= 0.95, "selectivity {limit}/1000: recall@10 {r}");
    }
}

/// Waits (bounded by progress, not by a clock) until no background rebuild is started or running.
fn wait_ready(c: &libravdb_engine::Collection) {
    while c.stats().unwrap().index_state == "building" {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn lists_grow_with_the_collection_unless_nlist_is_set() {
    let dim = 8;
    let v = clustered_vectors(7, 45_000, dim, 40);
    let queries = clustered_vectors(8, 50, dim, 40);
    let db = libravdb_engine::Database::open(None, Default::default()).unwrap();
    let grows = db.create_collection("grows", ivf_config(dim as i64, "l2", IndexSpec::default())).unwrap();
    let fixed = db
        .create_collection("fixed", ivf_config(dim as i64, "l2", IndexSpec { nlist: Some(100), ..Default::default() }))
        .unwrap();
    let flat = db.create_collection("flat", config(dim as i64, "l2")).unwrap();
    for c in [&grows, &fixed, &flat] {
        insert(c, "a", &v[..10_000 * dim]);
    }
    wait_ready(&grows);
    assert_eq!(grows.stats().unwrap().nlist, Some(100), "trained at 10,000: sqrt");
    for c in [&grows, &fixed, &flat] {
        insert(c, "b", &v[10_000 * dim..]);
    }
    // 45,000 live >= 2 x 100^2: the chosen lists are outgrown, the index retrains with lists
    // for twice the records (sqrt(90,000)), due again at 2 x 300^2 = 180,000.
    wait_ready(&grows);
    let s = grows.stats().unwrap();
    assert_eq!((s.nlist, s.count, s.index_error), (Some(300), 45_000, None));
    assert_eq!(fixed.stats().unwrap().nlist, Some(100), "a set nlist stays");
    // The retrained index holds every record and keeps its recall.
    let want = flat.search(&queries, params(10)).unwrap();
    let recall = recall_at(&grows.search(&queries, params(10)).unwrap(), &want, 10);
    assert!(recall >= 0.9, "recall@10 after the retraining {recall}");
    let all = SearchParams { nprobe: Some(65_536), ..params(10) };
    assert!(recall_at(&grows.search(&queries, all).unwrap(), &want, 10) >= 0.98);
}
