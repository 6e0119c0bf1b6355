use libravdb_engine::{BatchOptions, Cancel, Database, DbOptions, ErrorCode, SearchParams};

use crate::common::*;

const P: SearchParams = SearchParams { include_metadata: true, include_vectors: true, ..SearchParams::nearest(10) };

#[test]
fn close_and_reopen_gives_the_same_records_and_results() {
    let tmp = tempfile::tempdir().unwrap();
    let v = random_vectors(1, 3000, 24);
    let q = random_vectors(2, 5 * 24, 1);
    let before = {
        let db = open(tmp.path());
        let c = db.create_collection("docs", config(24, "cosine")).unwrap();
        insert(&c, "a", &v[..1500 * 24]);
        insert(&c, "b", &v[1500 * 24..]);
        c.delete_batch(vec!["a-3".into()], BatchOptions::default(), &Cancel::new()).unwrap();
        let hits = c.search(&q, P).unwrap();
        db.close().unwrap();
        hits
    };
    let db = open(tmp.path());
    assert_eq!(db.list_collections().unwrap(), vec!["docs".to_string()]);
    let c = db.collection("docs").unwrap();
    assert_eq!(c.count().unwrap(), 2999);
    assert_eq!(c.search(&q, P).unwrap(), before);
    assert!(c.get("a-3").unwrap().is_none());
    assert_eq!(c.get("b-7").unwrap().unwrap().metadata.as_deref(), Some("{\"i\":7}"));
}

#[test]
fn writes_survive_without_close_via_wal_replay_and_across_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    // A tiny checkpoint threshold: several checkpoints happen, then a tail stays in the WAL.
    let options = DbOptions { checkpoint_wal_bytes: 20_000, ..DbOptions::default() };
    let v = random_vectors(3, 400, 8);
    {
        let db = Database::open(Some(tmp.path()), options.clone()).unwrap();
        let c = db.create_collection("c", config(8, "l2")).unwrap();
        for (i, chunk) in v.chunks(40 * 8).enumerate() {
            insert(&c, &format!("b{i}"), chunk);
        }
        c.delete_batch(vec!["b0-0".into()], BatchOptions::default(), &Cancel::new()).unwrap();
        assert!(c.stats().unwrap().wal_bytes > 0, "some writes must remain only in the WAL");
        std::mem::forget(db); // no close, no final checkpoint: as if the process died
    }
    // The forgotten handle still holds the flock; in a real crash the kernel drops it.
    let lock = tmp.path().join("LOCK");
    std::fs::remove_file(&lock).unwrap();
    let db = Database::open(Some(tmp.path()), options).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!(c.count().unwrap(), 399);
    for i in 0..10 {
        let rec = c.get(&format!("b{i}-5")).unwrap().unwrap();
        assert_eq!(rec.vector, v[(i * 40 + 5) * 8..(i * 40 + 6) * 8]);
    }
}

#[test]
fn second_opener_is_locked_out_and_closed_handles_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(tmp.path());
    let c = db.create_collection("c", config(2, "l2")).unwrap();
    let err = Database::open(Some(tmp.path()), DbOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Locked);
    db.close().unwrap();
    assert_eq!(c.count().unwrap_err().code(), ErrorCode::Closed);
    assert_eq!(db.list_collections().unwrap_err().code(), ErrorCode::Closed);
    let db = open(tmp.path());
    assert_eq!(db.collection("nope").unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(db.create_collection("c", config(2, "l2")).unwrap_err().code(), ErrorCode::AlreadyExists);
    db.drop_collection("c").unwrap();
    db.close().unwrap();
    assert!(open(tmp.path()).list_collections().unwrap().is_empty());
}

#[test]
fn a_damaged_rows_file_is_reported_as_corruption_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let db = open(tmp.path());
        let c = db.create_collection("c", config(2, "l2")).unwrap();
        insert(&c, "r", &[1.0, 2.0, 3.0, 4.0]);
        db.close().unwrap();
    }
    let seg = tmp.path().join("collections/c/rows-1.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x40;
    std::fs::write(&seg, bytes).unwrap();
    let err = Database::open(Some(tmp.path()), DbOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Corrupted);
    assert!(err.to_string().contains("rows-1.seg"), "{err}");
}

/// The silent-loss reproduction: 100 records checkpointed, 50 more only in the WAL, then one
/// bit of the first WAL record's length flipped. Opening must fail with `ERR_CORRUPTED` and
/// leave the log as it was, never open with the 50 acknowledged writes gone.
#[test]
fn a_damaged_wal_record_is_corruption_and_the_log_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let v = random_vectors(11, 150, 8);
    {
        let db = open(tmp.path());
        let c = db.create_collection("c", config(8, "l2")).unwrap();
        insert(&c, "a", &v[..100 * 8]);
        db.close().unwrap();
        let db = open(tmp.path());
        let c = db.collection("c").unwrap();
        for i in 0..5 {
            insert(&c, &format!("b{i}"), &v[(100 + i * 10) * 8..(110 + i * 10) * 8]);
        }
        std::mem::forget(db); // crash: the 50 live only in the WAL
    }
    std::fs::remove_file(tmp.path().join("LOCK")).unwrap();
    let wal = tmp.path().join("collections/c/wal.log");
    let clean = std::fs::read(&wal).unwrap();
    // Offsets past the 8-byte magic: length (the reproduction), payload CRC, header CRC, payload.
    for at in [11, 8, 14, 18, 48] {
        let mut bytes = clean.clone();
        bytes[at] ^= 1;
        std::fs::write(&wal, &bytes).unwrap();
        let err = Database::open(Some(tmp.path()), DbOptions::default()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Corrupted, "byte {at}: {err}");
        assert!(err.to_string().contains("wal.log"), "{err}");
        assert_eq!(std::fs::read(&wal).unwrap(), bytes, "nothing truncated");
    }
    std::fs::write(&wal, &clean).unwrap();
    let db = open(tmp.path());
    assert_eq!(db.collection("c").unwrap().count().unwrap(), 150);
}

/// A WAL record missing from the middle of the log (its sequence number skipped) is
/// corruption, not a shorter history.
#[test]
fn a_missing_wal_record_is_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let v = random_vectors(12, 30, 8);
    {
        let db = open(tmp.path());
        let c = db.create_collection("c", config(8, "l2")).unwrap();
        for i in 0..3 {
            insert(&c, &format!("b{i}"), &v[i * 80..(i + 1) * 80]);
        }
        std::mem::forget(db);
    }
    std::fs::remove_file(tmp.path().join("LOCK")).unwrap();
    let wal = tmp.path().join("collections/c/wal.log");
    let bytes = std::fs::read(&wal).unwrap();
    // Records are equal in size: cut out the second one.
    let rec = (bytes.len() - 8) / 3;
    let mut cut = bytes[..8 + rec].to_vec();
    cut.extend_from_slice(&bytes[8 + 2 * rec..]);
    std::fs::write(&wal, &cut).unwrap();
    let err = Database::open(Some(tmp.path()), DbOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Corrupted, "{err}");
    assert!(err.to_string().contains("missing"), "{err}");
}

/// Every file a checkpoint names is required: a deleted one is `ERR_CORRUPTED` naming it,
/// never `ERR_IO` and never a collection that opens with less.
#[test]
fn a_deleted_file_is_corruption_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let v = random_vectors(13, 200, 8);
    {
        let db = open(tmp.path());
        let c = db.create_collection("c", hnsw_config(8, "l2")).unwrap();
        insert(&c, "a", &v);
        db.close().unwrap();
    }
    let dir = tmp.path().join("collections/c");
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    // (`changes/` holds the change feed's archives, which retention deletes: not required.)
    let mut files: Vec<String> =
        names.into_iter().filter(|n| n != "vectors" && n != "links" && n != "changes").collect();
    files.extend(["vectors/000000.chunk".to_string(), "links/000000.chunk".to_string()]);
    assert!(files.iter().any(|f| f.starts_with("rows-")) && files.iter().any(|f| f.starts_with("graph-")));
    for f in files {
        let path = dir.join(&f);
        let saved = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let err = Database::open(Some(tmp.path()), DbOptions::default()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Corrupted, "{f}: {err}");
        let shown = f.rsplit('/').next().unwrap();
        assert!(err.to_string().contains(shown), "{f}: {err}");
        std::fs::write(&path, saved).unwrap();
    }
    assert_eq!(open(tmp.path()).collection("c").unwrap().count().unwrap(), 200);
}

/// Flipped bytes in vector and link chunks open cleanly (open does not read them) but
/// `verify()` names each damaged file; a clean collection verifies with nothing skipped.
#[test]
fn verify_reports_each_damaged_chunk_and_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let v = random_vectors(14, 500, 8);
    {
        let db = open(tmp.path());
        let c = db.create_collection("h", hnsw_config(8, "l2")).unwrap();
        insert(&c, "a", &v);
        let f = db.create_collection("f", config(8, "l2")).unwrap();
        insert(&f, "a", &v);
        db.close().unwrap();
    }
    {
        let db = open(tmp.path());
        for (name, r) in db.verify().unwrap() {
            assert!(r.damaged.is_empty(), "{name}: {r:?}");
            assert_eq!(r.chunks_skipped, 0, "{name}");
            assert!(r.chunks_checked >= 1 && r.files_checked >= 3, "{name}: {r:?}");
        }
    }
    let flip = |rel: &str, at: usize| {
        let p = tmp.path().join(rel);
        let mut b = std::fs::read(&p).unwrap();
        b[at] ^= 0x40;
        std::fs::write(&p, b).unwrap();
    };
    flip("collections/h/vectors/000000.chunk", 8 * 4 * 123 + 5);
    flip("collections/h/links/000000.chunk", 300);
    flip("collections/f/vectors/000000.chunk", 77);
    let db = open(tmp.path());
    let h = db.collection("h").unwrap();
    let r = h.verify().unwrap();
    let files: Vec<String> = r.damaged.iter().map(|d| d.file.display().to_string()).collect();
    assert_eq!(files.len(), 2, "{r:?}");
    assert!(files[0].ends_with("vectors/000000.chunk") && files[1].ends_with("links/000000.chunk"), "{files:?}");
    // Damage to a segment after open is found too.
    let rows = std::fs::read_dir(tmp.path().join("collections/f"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("rows-"))
        .unwrap();
    flip(&format!("collections/f/{rows}"), 40);
    let r = db.collection("f").unwrap().verify().unwrap();
    let files: Vec<String> = r.damaged.iter().map(|d| d.file.display().to_string()).collect();
    assert_eq!(files.len(), 2, "{r:?}");
    assert!(files.iter().any(|f| f.ends_with(&rows)) && files.iter().any(|f| f.ends_with("vectors/000000.chunk")));
    // Written since the checkpoint: skipped now, checked after the next one.
    insert(&h, "b", &v[..80]);
    let r = h.verify().unwrap();
    assert!(r.chunks_skipped >= 1, "{r:?}");
}

/// A read-only handle beside the writer: sees the last checkpoint plus the WAL, picks up new
/// writes, checkpoints, collections and drops on refresh, and refuses writes.
#[test]
fn read_only_handles_follow_the_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let v = random_vectors(15, 600, 8);
    let ro = DbOptions { read_only: true, ..DbOptions::default() };
    let writer =
        Database::open(Some(tmp.path()), DbOptions { checkpoint_wal_bytes: 1 << 30, ..DbOptions::default() }).unwrap();
    let c = writer.create_collection("h", hnsw_config(8, "l2")).unwrap();
    insert(&c, "a", &v[..200 * 8]);
    let reader = Database::open(Some(tmp.path()), ro.clone()).unwrap();
    let r = reader.collection("h").unwrap();
    assert_eq!(r.count().unwrap(), 200, "the WAL tail is replayed");
    let err = r.delete_batch(vec!["a-1".into()], BatchOptions::default(), &Cancel::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReadOnly);
    assert_eq!(reader.create_collection("x", config(2, "l2")).unwrap_err().code(), ErrorCode::ReadOnly);

    insert(&c, "b", &v[200 * 8..400 * 8]);
    c.delete_batch(vec!["a-0".into()], BatchOptions::default(), &Cancel::new()).unwrap();
    assert_eq!(r.count().unwrap(), 200, "nothing changes before a refresh");
    reader.refresh().unwrap();
    assert_eq!(r.count().unwrap(), 399, "new WAL records applied");
    assert!(r.get("a-0").unwrap().is_none());

    writer.collection("h").unwrap().optimize(&Cancel::new()).unwrap(); // a checkpoint
    insert(&c, "c", &v[400 * 8..]);
    let f = writer.create_collection("f", config(8, "l2")).unwrap();
    insert(&f, "z", &v[..80]);
    reader.refresh().unwrap();
    assert_eq!(r.count().unwrap(), 599, "new checkpoint loaded through the same handle");
    assert_eq!(reader.collection("f").unwrap().count().unwrap(), 10);
    let q = &v[450 * 8..451 * 8];
    let p = SearchParams { k: 1, ..P };
    assert_eq!(r.search(q, p).unwrap().ids, vec!["c-50".to_string()]);
    assert_eq!(r.search(q, p).unwrap().ids, c.search(q, p).unwrap().ids);

    writer.drop_collection("f").unwrap();
    reader.refresh().unwrap();
    assert_eq!(reader.collection("f").unwrap_err().code(), ErrorCode::NotFound);
    // The reader changed no file: the writer reopens and verifies clean.
    reader.close().unwrap();
    writer.close().unwrap();
    let db = open(tmp.path());
    assert_eq!(db.collection("h").unwrap().count().unwrap(), 599);
    assert!(db.collection("h").unwrap().verify().unwrap().damaged.is_empty());
}
