use std::collections::HashSet;

use libravdb_engine::{BatchOptions, Cancel, Database, DbOptions, MetadataChange, SearchParams, UpdateInput};

use crate::common::*;

fn params(k: usize) -> SearchParams {
    SearchParams { k, ..Default::default() }
}

/// Recall@10 of the HNSW collection against a flat one holding the same records.
fn recall(h: &libravdb_engine::Collection, f: &libravdb_engine::Collection, queries: &[f32]) -> f64 {
    recall_at(&h.search(queries, params(10)).unwrap(), &f.search(queries, params(10)).unwrap(), 10)
}

#[test]
fn hnsw_reopen_gives_identical_results_and_replays_the_wal() {
    let tmp = tempfile::tempdir().unwrap();
    let dim = 16;
    let v = random_vectors(1, 3000, dim);
    let q = random_vectors(2, 20 * dim, 1);
    let options = DbOptions { checkpoint_wal_bytes: 60_000, ..DbOptions::default() };
    let before = {
        let db = Database::open(Some(tmp.path()), options.clone()).unwrap();
        let c = db.create_collection("h", hnsw_config(dim as i64, "l2")).unwrap();
        // The first batch passes the checkpoint threshold; the second stays in the WAL.
        insert(&c, "b0", &v[..2500 * dim]);
        insert(&c, "b1", &v[2500 * dim..]);
        assert_eq!(c.stats().unwrap().index, "hnsw");
        assert!(c.stats().unwrap().wal_bytes > 0);
        let hits = c.search(&q, params(10)).unwrap();
        std::mem::forget(db); // crash: no close, no final checkpoint
        hits
    };
    std::fs::remove_file(tmp.path().join("LOCK")).unwrap();
    let db = Database::open(Some(tmp.path()), options).unwrap();
    let c = db.collection("h").unwrap();
    assert_eq!(c.count().unwrap(), 3000);
    let after = c.search(&q, params(10)).unwrap();
    let same = before.ids.iter().zip(&after.ids).filter(|(a, b)| a == b).count();
    assert!(same as f64 >= 0.9 * before.ids.len() as f64, "replay relinks the tail: {same} of {}", before.ids.len());
    db.close().unwrap();
    // A clean close/reopen is exact.
    let db = open(tmp.path());
    let c = db.collection("h").unwrap();
    let again = c.search(&q, params(10)).unwrap();
    db.close().unwrap();
    let db = open(tmp.path());
    assert_eq!(db.collection("h").unwrap().search(&q, params(10)).unwrap(), again);
}

#[test]
fn updates_relink_and_deletes_plus_optimize_keep_recall() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let dim = 24;
    let h = db.create_collection("h", hnsw_config(dim as i64, "l2")).unwrap();
    let f = db.create_collection("f", config(dim as i64, "l2")).unwrap();
    let v = random_vectors(3, 5000, dim);
    for c in [&h, &f] {
        insert(c, "r", &v);
    }
    let q = random_vectors(4, 50 * dim, 1);
    assert!(recall(&h, &f, &q) >= 0.9);

    // Move a record: the new vector is found, the old position is not.
    let target: Vec<f32> = q[..dim].to_vec();
    for c in [&h, &f] {
        let item = UpdateInput {
            id: "r-7".into(),
            vector: Some(target.clone()),
            metadata: MetadataChange::Keep,
            named: Vec::new(),
        };
        c.update_batch(vec![item], BatchOptions::default(), &Cancel::new()).unwrap();
    }
    assert_eq!(h.search(&target, params(1)).unwrap().ids, vec!["r-7".to_string()]);
    assert_eq!(h.get("r-7").unwrap().unwrap().metadata.as_deref(), Some("{\"i\":7}"));
    assert_eq!(h.count().unwrap(), 5000);

    // Delete 20%.
    let doomed: Vec<String> = (0..5000).filter(|i| i % 5 == 1).map(|i| format!("r-{i}")).collect();
    for c in [&h, &f] {
        c.delete_batch(doomed.clone(), BatchOptions::default(), &Cancel::new()).unwrap();
    }
    let deleted: HashSet<&String> = doomed.iter().collect();
    assert!(h.search(&q, params(10)).unwrap().ids.iter().all(|id| !deleted.contains(id)));
    let rewritten = h.optimize(&Cancel::new()).unwrap();
    assert!(rewritten > 0);
    let r = recall(&h, &f, &q);
    assert!(r >= 0.95, "recall after deleting 20% and optimize: {r}");
    assert!(h.search(&q, params(10)).unwrap().ids.iter().all(|id| !deleted.contains(id)));
}

#[test]
fn optimize_reclaims_rows_that_new_records_reuse_across_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dim = 16;
    let v = random_vectors(9, 2000, dim);
    let q = random_vectors(10, 30 * dim, 1);
    {
        let db = open(tmp.path());
        let h = db.create_collection("h", hnsw_config(dim as i64, "l2")).unwrap();
        insert(&h, "a", &v[..1000 * dim]);
        let doomed: Vec<String> = (0..1000).filter(|i| i % 2 == 0).map(|i| format!("a-{i}")).collect();
        h.delete_batch(doomed, BatchOptions::default(), &Cancel::new()).unwrap();
        h.optimize(&Cancel::new()).unwrap();
        let s = h.stats().unwrap();
        assert_eq!((s.rows, s.deleted, s.free_rows), (1000, 0, 500));
        db.close().unwrap();
    }
    let db = open(tmp.path());
    let h = db.collection("h").unwrap();
    assert_eq!(h.stats().unwrap().free_rows, 500, "free rows survive reopen");
    insert(&h, "b", &v[1000 * dim..]);
    let s = h.stats().unwrap();
    assert_eq!((s.count, s.rows, s.free_rows), (1500, 1500, 0), "500 reused rows, 500 new");
    let f = db.create_collection("f", config(dim as i64, "l2")).unwrap();
    let odd: Vec<f32> = (0..1000).filter(|i| i % 2 == 1).flat_map(|i| v[i * dim..(i + 1) * dim].to_vec()).collect();
    let ids_odd = (0..1000).filter(|i| i % 2 == 1).map(|i| format!("a-{i}")).collect();
    f.put_batch(ids_odd, &odd, vec![None; 500], false, BatchOptions::default(), &Cancel::new()).unwrap();
    insert(&f, "b", &v[1000 * dim..]);
    let r = recall(&h, &f, &q);
    assert!(r >= 0.95, "recall with reused rows: {r}");
    assert_eq!(h.get("b-3").unwrap().unwrap().vector, v[1003 * dim..1004 * dim]);
}
