//! The change feed: every committed record write in commit order, across checkpoints,
//! reopens and processes, and retention.

use std::collections::BTreeMap;
use std::path::Path;

use libravdb_engine::{
    BatchOptions, Cancel, Change, ChangeKind, ChangeRetention, Collection, Database, DbOptions, ErrorCode,
    MetadataChange, UpdateInput,
};

use crate::common::{config, random_vectors};

const DIM: usize = 4;

fn db_with(path: &Path, checkpoint_wal_bytes: u64, retention: ChangeRetention) -> Database {
    let options = DbOptions { checkpoint_wal_bytes, change_retention: retention, ..Default::default() };
    Database::open(Some(path), options).unwrap()
}

fn put(c: &Collection, ids: &[&str], upsert: bool, seed: u64) {
    let v = random_vectors(seed, ids.len(), DIM);
    let meta = ids.iter().map(|id| Some(format!("{{\"of\":\"{id}\"}}"))).collect();
    let ids = ids.iter().map(|s| s.to_string()).collect();
    let r = c.put_batch(ids, &v, meta, upsert, BatchOptions::default(), &Cancel::new()).unwrap();
    assert!(r.applied && r.failed == 0, "{r:?}");
}

/// Every change after `since`, read `max` at a time.
fn read_all(c: &Collection, since: u64, max: usize) -> Vec<Change> {
    let mut cursor = c.change_cursor(Some(since)).unwrap();
    let mut out = Vec::new();
    loop {
        let got = c.read_changes(&mut cursor, max).unwrap();
        assert!(got.len() <= max);
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
}

/// What the changes make of an empty collection: id -> (vector, metadata).
type Replica = BTreeMap<String, (Vec<f32>, Option<String>)>;

fn apply(replica: &mut Replica, changes: &[Change]) {
    for ch in changes {
        match ch.kind {
            ChangeKind::Delete => {
                replica.remove(&ch.id);
            }
            _ => {
                let entry = replica.entry(ch.id.clone()).or_insert_with(|| (Vec::new(), None));
                if let Some(v) = &ch.vector {
                    entry.0 = v.clone();
                }
                if let Some(m) = &ch.metadata {
                    entry.1 = m.clone();
                }
            }
        }
    }
}

fn contents(c: &Collection) -> Replica {
    let (records, next, _) = c.scan_page(None, 10_000, None, true).unwrap();
    assert!(next.is_none());
    records.into_iter().map(|r| (r.id, (r.vector, r.metadata))).collect()
}

#[test]
fn each_write_is_a_change_in_commit_order() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db_with(tmp.path(), 64 << 20, ChangeRetention::default());
    let c = db.create_collection("c", config(DIM as i64, "l2")).unwrap();
    assert_eq!(c.stats().unwrap().seq, 0);
    put(&c, &["a", "b", "c"], false, 1);
    put(&c, &["b", "d"], true, 2); // b replaces, d is new
    let items = vec![
        UpdateInput { id: "a".into(), vector: Some(vec![9.0; DIM]), metadata: MetadataChange::Keep, named: Vec::new() },
        UpdateInput { id: "c".into(), vector: None, metadata: MetadataChange::Clear, named: Vec::new() },
        UpdateInput {
            id: "d".into(),
            vector: None,
            metadata: MetadataChange::Set("{\"x\":1}".into()),
            named: Vec::new(),
        },
    ];
    c.update_batch(items, BatchOptions::default(), &Cancel::new()).unwrap();
    c.delete_batch(vec!["b".into()], BatchOptions::default(), &Cancel::new()).unwrap();
    assert_eq!(c.stats().unwrap().seq, 9);

    let all = read_all(&c, 0, 2);
    let seqs: Vec<u64> = all.iter().map(|ch| ch.seq).collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
    let shape: Vec<(ChangeKind, &str)> = all.iter().map(|ch| (ch.kind, ch.id.as_str())).collect();
    use ChangeKind::*;
    assert_eq!(
        shape,
        [
            (Insert, "a"),
            (Insert, "b"),
            (Insert, "c"),
            (Update, "b"),
            (Insert, "d"),
            (Update, "a"),
            (Update, "c"),
            (Update, "d"),
            (Delete, "b")
        ]
    );
    assert_eq!(all[5].vector.as_deref(), Some(&[9.0; DIM][..]));
    assert_eq!(all[5].metadata, None, "an update that kept the metadata says nothing of it");
    assert_eq!(all[6].metadata, Some(None), "a cleared metadata is Some(None)");
    assert_eq!(all[7].metadata, Some(Some("{\"x\":1}".into())));
    assert!(all[8].vector.is_none() && all[8].metadata.is_none());
    let whole: Vec<bool> = all.iter().map(|ch| ch.whole).collect();
    assert_eq!(
        whole,
        [true, true, true, true, true, false, false, false, false],
        "inserts and puts carry the whole record"
    );
    let mut replica = Replica::new();
    apply(&mut replica, &all);
    assert_eq!(replica, contents(&c));
    // From the middle of a batch, and from the latest: only what follows.
    assert_eq!(read_all(&c, 4, 100).first().map(|ch| ch.seq), Some(5));
    assert!(read_all(&c, 9, 100).is_empty());
    let past = c.change_cursor(Some(10)).unwrap_err();
    assert_eq!(past.code(), ErrorCode::InvalidArgument, "{past}");
}

#[test]
fn the_feed_crosses_checkpoints_and_reopens_and_a_cursor_follows_live_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut followed = Vec::new();
    {
        // A checkpoint every few batches: the feed is read from many archived logs.
        let db = db_with(tmp.path(), 2048, ChangeRetention::default());
        let c = db.create_collection("c", config(DIM as i64, "l2")).unwrap();
        let mut cursor = c.change_cursor(None).unwrap();
        for b in 0..60u64 {
            let ids: Vec<String> = (0..7).map(|i| format!("r{}", (b * 7 + i) % 150)).collect();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            put(&c, &refs, true, b);
            if b % 5 == 4 {
                c.delete_batch(vec![ids[0].clone()], BatchOptions::default(), &Cancel::new()).unwrap();
            }
            // A follower reading as the writer writes (3 at a time: it lags, then catches up).
            followed.extend(c.read_changes(&mut cursor, 3).unwrap());
        }
        followed.extend(read_all_from(&c, &mut cursor));
        assert!(c.stats().unwrap().change_log_bytes > 0, "checkpoints archived their logs");
        db.close().unwrap();
    }
    let db = db_with(tmp.path(), 2048, ChangeRetention::default());
    let c = db.collection("c").unwrap();
    let latest = c.stats().unwrap().seq;
    assert_eq!(latest, 60 * 7 + 12, "the sequence is durable");
    assert_eq!(followed.iter().map(|ch| ch.seq).collect::<Vec<_>>(), (1..=latest).collect::<Vec<_>>());
    let all = read_all(&c, 0, 50);
    assert_eq!(all, followed, "read back after reopening, the same changes");
    let mut replica = Replica::new();
    apply(&mut replica, &all);
    assert_eq!(replica, contents(&c));
    assert!(c.verify().unwrap().damaged.is_empty());
}

fn read_all_from(c: &Collection, cursor: &mut libravdb_engine::ChangeCursor) -> Vec<Change> {
    let mut out = Vec::new();
    loop {
        let got = c.read_changes(cursor, 64).unwrap();
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
}

#[test]
fn changes_past_retention_are_expired_and_a_snapshot_restarts_the_feed() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db_with(tmp.path(), 1024, ChangeRetention { bytes: 4096, ms: 3_600_000 });
    let c = db.create_collection("c", config(DIM as i64, "l2")).unwrap();
    for b in 0..40u64 {
        put(&c, &[&format!("x{b}"), &format!("y{b}")], false, b);
    }
    assert!(c.stats().unwrap().change_log_bytes <= 4096);
    let mut cursor = c.change_cursor(Some(0)).unwrap();
    let err = c.read_changes(&mut cursor, 10).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ChangesExpired, "{err}");
    // A snapshot says where it stands; the feed from there has everything after it.
    let (records, _, seq) = c.scan_page(None, 1000, None, true).unwrap();
    assert_eq!((records.len(), seq), (80, 80));
    put(&c, &["z"], false, 99);
    let after = read_all(&c, seq, 10);
    assert_eq!(after.iter().map(|ch| (ch.seq, ch.id.as_str())).collect::<Vec<_>>(), [(81, "z")]);
    // Nothing kept past a checkpoint: only the WAL's changes are there.
    drop(c);
    db.close().unwrap();
    let db = db_with(tmp.path(), 1024, ChangeRetention { bytes: 0, ms: 0 });
    let c = db.collection("c").unwrap();
    assert_eq!(c.stats().unwrap().change_log_bytes, 0, "opening prunes to the retention");
    assert_eq!(
        c.read_changes(&mut c.change_cursor(Some(10)).unwrap(), 10).unwrap_err().code(),
        ErrorCode::ChangesExpired
    );
}

#[test]
fn a_read_only_handle_follows_the_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = db_with(tmp.path(), 4096, ChangeRetention::default());
    let c = writer.create_collection("c", config(DIM as i64, "cosine")).unwrap();
    put(&c, &["a", "b"], false, 1);
    let reader = Database::open(Some(tmp.path()), DbOptions { read_only: true, ..Default::default() }).unwrap();
    let rc = reader.collection("c").unwrap();
    let mut cursor = rc.change_cursor(Some(0)).unwrap();
    let mut got = rc.read_changes(&mut cursor, 100).unwrap();
    for b in 0..30u64 {
        put(&c, &[&format!("n{b}")], false, b + 10);
        got.extend(rc.read_changes(&mut cursor, 100).unwrap());
    }
    assert_eq!(got.len(), 32);
    assert_eq!(got.iter().map(|ch| ch.seq).collect::<Vec<_>>(), (1..=32).collect::<Vec<_>>());
    // Cosine vectors come as stored (unit length).
    let norm: f32 = got[0].vector.as_ref().unwrap().iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-4);
    // "now" from a reader: after the writer's latest, whatever the reader has refreshed.
    let now = rc.change_cursor(None).unwrap();
    assert_eq!(now.after, 32);
}

#[test]
fn an_in_memory_collection_has_no_feed() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("m", config(DIM as i64, "l2")).unwrap();
    put(&c, &["a"], false, 1);
    assert_eq!(c.stats().unwrap().seq, 1);
    assert_eq!(c.change_cursor(None).unwrap_err().code(), ErrorCode::InvalidArgument);
}
