//! Windows inside one call that the integration tests cannot stop in the middle of: crashes,
//! and a lock held by a write.

use rand::{RngExt, SeedableRng, rngs::StdRng};

use super::*;
use crate::config::IndexSpec;
use crate::ops::Op;
use crate::{BatchOptions, Cancel, Database, SearchParams};

/// `optimize()` killed after its repair rewrote mapped link pages, before its checkpoint:
/// the reopened graph must not mix the old checkpoint's entry point and upper lists with the
/// rewritten level 0 (that once made a search of a stored vector return nothing, and made
/// `verify()` report the link chunk damaged).
#[test]
fn optimize_killed_before_its_checkpoint_replays_the_repair() {
    let tmp = tempfile::tempdir().unwrap();
    let dim = 8;
    let n = 3000;
    let mut rng = StdRng::seed_from_u64(5);
    let v: Vec<f32> = (0..n * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let config =
        CollectionConfig::from_api(dim as i64, Some("l2"), IndexSpec { kind: Some("hnsw"), ..Default::default() })
            .unwrap();
    let (cancel, opts) = (Cancel::new(), BatchOptions::default());
    {
        let db = Database::open(Some(tmp.path()), DbOptions::default()).unwrap();
        let c = db.create_collection("h", config).unwrap();
        let ids = (0..n).map(|i| format!("r{i}")).collect();
        c.put_batch(ids, &v, vec![None; n], false, opts, &cancel).unwrap();
        // Delete most records, the entry point among them, so that the repair moves it.
        c.delete_batch((0..n).filter(|i| i % 4 != 0).map(|i| format!("r{i}")).collect(), opts, &cancel).unwrap();
        let mut w = c.writer.lock();
        c.force_checkpoint_locked(&mut w).unwrap();
        // What `optimize()` does up to its checkpoint; then the process dies.
        c.log(&mut w, &Op::Repair, Vec::new()).unwrap();
        assert!(c.read_state().unwrap().repair() > 0);
        c.state.write().ids.reclaim_tombstones();
        drop(w);
        std::mem::forget(db);
    }
    std::fs::remove_file(tmp.path().join("LOCK")).unwrap();
    let db = Database::open(Some(tmp.path()), DbOptions::default()).unwrap();
    let c = db.collection("h").unwrap();
    assert_eq!(c.count().unwrap(), n / 4);
    let report = c.verify().unwrap();
    assert!(report.damaged.is_empty(), "{report:?}");
    for i in (0..n).step_by(4).take(100) {
        let hits = c.search(&v[i * dim..(i + 1) * dim], SearchParams { k: 10, ..Default::default() }).unwrap();
        assert_eq!(hits.ids.len(), 10, "record r{i}");
        assert_eq!(hits.ids[0], format!("r{i}"));
        assert!(hits.ids.iter().all(|id| id[1..].parse::<usize>().unwrap() % 4 == 0), "{:?}", hits.ids);
    }
    // The replayed repair reclaimed the deleted rows: new records take them.
    assert_eq!(c.read_state().unwrap().ids.rows(), n);
    assert_eq!(c.read_state().unwrap().ids.free_count(), n - n / 4);
}

/// The event-loop search path declines, rather than waits, while a write holds the state.
#[test]
fn search_into_now_declines_while_a_write_holds_the_state() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let config = CollectionConfig::from_api(2, Some("l2"), IndexSpec::default()).unwrap();
    let c = db.create_collection("c", config).unwrap();
    let (cancel, opts) = (Cancel::new(), BatchOptions::default());
    c.put_batch(vec!["a".into(), "b".into()], &[0.0, 0.0, 1.0, 1.0], vec![None; 2], false, opts, &cancel).unwrap();
    let mut scores = [0.0f32; 1];
    let params = SearchParams::nearest(1);
    let held = c.state.write();
    assert_eq!(c.search_into_now(&[0.9, 0.9], params, None, &mut scores).unwrap(), None);
    drop(held);
    assert_eq!(c.search_into_now(&[0.9, 0.9], params, None, &mut scores).unwrap().as_deref(), Some("b"));
    let mut waited = [0.0f32; 1];
    assert_eq!(c.search_into(&[0.9, 0.9], params, None, &mut waited).unwrap(), "b");
    assert_eq!(scores, waited, "the same search either way");
}
