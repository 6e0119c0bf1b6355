use libravdb_engine::{BatchOptions, Cancel, Database, DbOptions, ErrorCode, MetadataChange, UpdateInput};

use crate::common::*;

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn an_atomic_batch_with_one_bad_item_changes_nothing() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(2, "l2")).unwrap();
    insert(&c, "x", &[0.0, 0.0]);
    let cases: Vec<(Vec<String>, Vec<f32>, ErrorCode)> = vec![
        (ids(&["a", "b"]), vec![1.0, 1.0, f32::NAN, 0.0], ErrorCode::InvalidArgument),
        (ids(&["a", "b"]), vec![1.0, 1.0, f32::INFINITY, 0.0], ErrorCode::InvalidArgument),
        (ids(&["a", ""]), vec![1.0; 4], ErrorCode::InvalidArgument),
        (ids(&["a", "a"]), vec![1.0; 4], ErrorCode::DuplicateId),
        (ids(&["a", "x-0"]), vec![1.0; 4], ErrorCode::DuplicateId),
    ];
    for (batch_ids, vectors, code) in cases {
        let r =
            c.put_batch(batch_ids, &vectors, vec![None, None], false, BatchOptions::default(), &Cancel::new()).unwrap();
        assert!(!r.applied, "{r:?}");
        assert_eq!((r.failed, r.errors[0].index, r.errors[0].code), (1, 1, code));
        assert_eq!(c.count().unwrap(), 1);
        assert!(c.get("a").unwrap().is_none());
    }
    let err =
        c.put_batch(ids(&["a"]), &[1.0; 3], vec![None], false, BatchOptions::default(), &Cancel::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
}

#[test]
fn a_non_atomic_batch_applies_the_valid_items_and_lists_the_rest() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(2, "l2")).unwrap();
    let r = c
        .put_batch(
            ids(&["a", "b", "a", "c"]),
            &[1.0, 1.0, f32::NAN, 0.0, 2.0, 2.0, 3.0, 3.0],
            vec![None; 4],
            false,
            BatchOptions { atomic: false },
            &Cancel::new(),
        )
        .unwrap();
    assert!(r.applied);
    assert_eq!((r.succeeded, r.failed), (2, 2));
    assert_eq!(
        r.errors.iter().map(|e| (e.index, e.code)).collect::<Vec<_>>(),
        vec![(1, ErrorCode::InvalidArgument), (2, ErrorCode::DuplicateId)]
    );
    assert_eq!(c.get("c").unwrap().unwrap().vector, vec![3.0, 3.0]);
    assert_eq!(c.count().unwrap(), 2);
}

#[test]
fn a_cancelled_batch_changes_nothing() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(2, "l2")).unwrap();
    let cancel = Cancel::new();
    cancel.cancel();
    let err = c.put_batch(ids(&["a"]), &[1.0, 1.0], vec![None], false, BatchOptions::default(), &cancel).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Aborted);
    assert_eq!(c.count().unwrap(), 0);
}

#[test]
fn update_upsert_and_delete() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(2, "l2")).unwrap();
    insert(&c, "r", &[0.0, 0.0, 1.0, 1.0]);
    let upd = |id: &str, vector: Option<Vec<f32>>, metadata| UpdateInput {
        id: id.into(),
        vector,
        metadata,
        named: Vec::new(),
    };
    let r = c
        .update_batch(
            vec![
                upd("r-0", Some(vec![5.0, 5.0]), MetadataChange::Keep),
                upd("r-1", None, MetadataChange::Set("{\"k\":2}".into())),
            ],
            BatchOptions::default(),
            &Cancel::new(),
        )
        .unwrap();
    assert_eq!(r.succeeded, 2);
    let r0 = c.get("r-0").unwrap().unwrap();
    assert_eq!((r0.vector, r0.metadata.as_deref()), (vec![5.0, 5.0], Some("{\"i\":0}")));
    assert_eq!(c.get("r-1").unwrap().unwrap().metadata.as_deref(), Some("{\"k\":2}"));
    let missing = c
        .update_batch(vec![upd("nope", None, MetadataChange::Clear)], BatchOptions::default(), &Cancel::new())
        .unwrap();
    assert_eq!(missing.errors[0].code, ErrorCode::NotFound);
    let wrong_dim = c
        .update_batch(vec![upd("r-0", Some(vec![1.0]), MetadataChange::Keep)], BatchOptions::default(), &Cancel::new())
        .unwrap();
    assert_eq!(wrong_dim.errors[0].code, ErrorCode::DimensionMismatch);

    let r = c
        .put_batch(
            ids(&["r-1", "new"]),
            &[9.0, 9.0, 8.0, 8.0],
            vec![None, None],
            true,
            BatchOptions::default(),
            &Cancel::new(),
        )
        .unwrap();
    assert_eq!(r.succeeded, 2);
    assert_eq!(c.get("r-1").unwrap().unwrap().vector, vec![9.0, 9.0]);
    assert_eq!(c.count().unwrap(), 3);

    let r = c.delete_batch(ids(&["r-0", "ghost"]), BatchOptions::default(), &Cancel::new()).unwrap();
    assert!(!r.applied && r.errors[0].code == ErrorCode::NotFound);
    assert_eq!(c.count().unwrap(), 3);
    c.delete_batch(ids(&["r-0"]), BatchOptions::default(), &Cancel::new()).unwrap();
    assert!(c.get("r-0").unwrap().is_none());
    assert_eq!(c.stats().unwrap().deleted, 1);
}
