//! Schema changes on a live collection: fields added (indexed over the stored records) and
//! dropped, checked writes, the planner's use of a new index, durability across reopen.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use libravdb_engine::{
    BatchOptions, Cancel, Collection, Database, DbOptions, ErrorCode, Fusion, HybridQuery, MetadataChange,
    SearchParams, TextQuery, UpdateInput, parse_filter,
};

use crate::common::*;

const DIM: usize = 8;

/// A flat collection (exact searches: the filters' answers compare exactly) of `n` records
/// `r<i>` with `bucket` = i % 100 and a `body` naming the bucket, no schema.
fn filled(db: &Database, n: usize) -> Arc<Collection> {
    let c = db.create_collection("c", config(DIM as i64, "l2")).unwrap();
    let ids = (0..n).map(|i| format!("r{i}")).collect();
    let meta = (0..n).map(|i| Some(format!(r#"{{"bucket":{},"body":"word{} common"}}"#, i % 100, i % 100))).collect();
    c.put_batch(ids, &random_vectors(7, n, DIM), meta, false, BatchOptions::default(), &Cancel::new()).unwrap();
    c
}

fn put(c: &Collection, id: &str, meta: &str) -> libravdb_engine::BatchReport {
    c.put_batch(vec![id.into()], &[1.0; DIM], vec![Some(meta.into())], true, BatchOptions::default(), &Cancel::new())
        .unwrap()
}

/// The ids of the `k` nearest passing `filter`, and the plan `explain()` gives it.
fn filtered(c: &Collection, filter: &str, k: usize) -> (Vec<String>, String) {
    let f = parse_filter(filter).unwrap();
    let q = [0.5; DIM];
    let p = SearchParams { k, ..Default::default() };
    let plan = c.explain(Some(&f), p).unwrap();
    (c.search_filtered(&q, p, Some(&f)).unwrap().ids, format!("{} ({})", plan.plan.as_str(), plan.reason))
}

#[test]
fn an_added_field_is_indexed_over_stored_records_and_checked_on_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let filter = r#"{"field":"bucket","op":"lt","value":3}"#;
    {
        let db = open(dir.path());
        let c = filled(&db, 5000);
        let (before, plan) = filtered(&c, filter, 10);
        assert!(plan.starts_with("scan") && plan.contains("outside the schema"), "{plan}");
        c.add_field("bucket", "int", None, &Cancel::new()).unwrap();
        assert_eq!(c.config().schema, vec![("bucket".to_owned(), "int".to_owned())]);
        let (after, plan) = filtered(&c, filter, 10);
        assert!(plan.starts_with("exact"), "the new index answers the filter: {plan}");
        assert_eq!(
            c.explain(Some(&parse_filter(filter).unwrap()), SearchParams::nearest(10)).unwrap().estimate,
            Some(150)
        );
        assert_eq!(after, before, "the index answers as the record-by-record filter did");
        let r = put(&c, "bad", r#"{"bucket":"seven"}"#);
        assert_eq!((r.applied, r.errors[0].code), (false, ErrorCode::Schema), "{:?}", r.errors);
        assert!(put(&c, "r5", r#"{"bucket":2}"#).applied);
        assert_eq!(filtered(&c, filter, 200).0.len(), 151, "an update moves a record into the filter");
    }
    let db = open(dir.path());
    let c = db.collection("c").unwrap();
    assert_eq!(c.config().schema, vec![("bucket".to_owned(), "int".to_owned())], "the schema survives reopening");
    let (ids, plan) = filtered(&c, filter, 200);
    assert_eq!((ids.len(), plan.starts_with("exact")), (151, true), "{plan}");
}

#[test]
fn a_stored_value_of_another_type_refuses_the_field_and_changes_nothing() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = filled(&db, 3000);
    put(&c, "r2048", r#"{"bucket":"many"}"#);
    let e = c.add_field("bucket", "int", None, &Cancel::new()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Schema);
    assert!(e.to_string().contains("'r2048'") && e.to_string().contains("\"many\""), "{e}");
    assert!(c.config().schema.is_empty(), "nothing changed");
    assert!(put(&c, "x", r#"{"bucket":"any"}"#).applied, "writes are not checked against the refused field");
    let (_, plan) = filtered(&c, r#"{"field":"bucket","op":"eq","value":3}"#, 10);
    assert!(plan.contains("outside the schema"), "{plan}");
    // Wrong names and types are refused before anything starts.
    c.add_field("bucket", "integer", None, &Cancel::new()).unwrap_err();
    let cancel = Cancel::new();
    cancel.cancel();
    assert_eq!(c.add_field("bucket", "string", None, &cancel).unwrap_err().code(), ErrorCode::Aborted);
    assert!(c.config().schema.is_empty(), "an aborted addition changes nothing");
    c.add_field("body", "string", None, &Cancel::new()).unwrap();
    assert_eq!(c.add_field("body", "text", None, &Cancel::new()).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(c.drop_field("nope").unwrap_err().code(), ErrorCode::InvalidArgument);
}

#[test]
fn a_text_field_added_late_answers_bm25_over_stored_records() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = filled(&db, 2000);
    let text = |c: &Collection| {
        let q = HybridQuery { text: Some(TextQuery { query: "word42".into(), fields: vec![] }), ..Default::default() };
        c.hybrid_search(&q, SearchParams::nearest(100), Fusion::default(), None, &Cancel::new()).map(|h| h.ids.len())
    };
    assert_eq!(text(&c).unwrap_err().code(), ErrorCode::InvalidArgument, "no text field yet");
    c.add_field("body", "text", Some(r#"{"stemming":true}"#), &Cancel::new()).unwrap();
    assert_eq!(text(&c).unwrap(), 20, "every stored record naming word42");
    assert!(c.config().schema_json().contains(r#""stemming":true"#));
    c.drop_field("body").unwrap();
    assert_eq!(text(&c).unwrap_err().code(), ErrorCode::InvalidArgument, "dropped");
}

#[test]
fn a_dropped_field_frees_its_type_and_index_and_stays_dropped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        let c = filled(&db, 1000);
        c.add_field("bucket", "int", None, &Cancel::new()).unwrap();
        c.add_field("body", "string", None, &Cancel::new()).unwrap();
        c.drop_field("bucket").unwrap();
        assert!(put(&c, "r5", r#"{"bucket":"free again"}"#).applied);
        let (ids, plan) = filtered(&c, r#"{"field":"bucket","op":"eq","value":"free again"}"#, 10);
        assert_eq!(ids, vec!["r5".to_owned()]);
        assert!(plan.contains("outside the schema"), "{plan}");
    }
    let db = open(dir.path());
    let c = db.collection("c").unwrap();
    assert_eq!(c.config().schema, vec![("body".to_owned(), "string".to_owned())]);
    assert_eq!(filtered(&c, r#"{"field":"body","op":"eq","value":"word5 common"}"#, 20).0.len(), 9);
}

/// Writes going on while a field is indexed reach its index: inserts, updates of rows
/// already indexed and not yet, deletes. The finished index answers every filter as the
/// record-by-record evaluation does.
#[test]
fn writes_during_the_addition_reach_the_new_index() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = filled(&db, 30_000);
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (c, done) = (c.clone(), done.clone());
        std::thread::spawn(move || {
            let mut i = 0usize;
            while !done.load(Ordering::Acquire) || i < 200 {
                let n = 30_000 + i;
                put(&c, &format!("n{i}"), &format!(r#"{{"bucket":{}}}"#, n % 100));
                let row = (i * 7919) % 30_000;
                c.update_batch(
                    vec![UpdateInput {
                        id: format!("r{row}"),
                        vector: None,
                        metadata: MetadataChange::Set(format!(r#"{{"bucket":{}}}"#, 100 + i % 5)),
                        named: Vec::new(),
                    }],
                    BatchOptions::default(),
                    &Cancel::new(),
                )
                .unwrap();
                c.delete_batch(
                    vec![format!("r{}", (i * 104_729 + 1) % 30_000)],
                    BatchOptions::default(),
                    &Cancel::new(),
                )
                .ok();
                i += 1;
            }
            i
        })
    };
    c.add_field("bucket", "int", None, &Cancel::new()).unwrap();
    done.store(true, Ordering::Release);
    let writes = writer.join().unwrap();
    assert!(writes >= 200);
    for f in [
        r#"{"field":"bucket","op":"gte","value":100}"#,
        r#"{"field":"bucket","op":"eq","value":42}"#,
        r#"{"field":"bucket","op":"lt","value":10}"#,
    ] {
        let (ids, plan) = filtered(&c, f, 100_000);
        assert!(!plan.contains("schema"), "the index answers: {plan}");
        let filter = parse_filter(f).unwrap();
        let all = c.search(&[0.5; DIM], SearchParams { k: 100_000, include_metadata: true, ..Default::default() });
        let all = all.unwrap();
        let mut want: Vec<&String> = all
            .ids
            .iter()
            .zip(all.metadata.as_ref().unwrap())
            .filter(|(_, m)| {
                let m: serde_json::Value = serde_json::from_str(m.as_deref().unwrap()).unwrap();
                libravdb_filter::matches(&filter, m.as_object())
            })
            .map(|(id, _)| id)
            .collect();
        let mut got: Vec<&String> = ids.iter().collect();
        want.sort();
        got.sort();
        assert_eq!(got.len(), want.len(), "{f}");
        assert_eq!(got, want, "{f}");
    }
}
