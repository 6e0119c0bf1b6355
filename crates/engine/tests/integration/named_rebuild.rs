//! `rebuild({ using })`: a named field's index and quantization rebuilt from its vectors
//! while writes go on, switched atomically, durable; the other field untouched.

use std::collections::HashSet;

use libravdb_engine::{
    BatchOptions, Cancel, Collection, CollectionConfig, Database, DbOptions, IndexSpec, MetadataChange, NamedVectors,
    QuantSpec, SearchParams, UpdateInput,
};

use crate::common::random_vectors;

const N: usize = 3000;
const DIM: usize = 16;

fn field(index: &str, quant: Option<&str>) -> CollectionConfig {
    let index = IndexSpec { kind: Some(index), ..Default::default() };
    let quant = QuantSpec { kind: quant, bits: quant.map(|_| 8), ..Default::default() };
    CollectionConfig::from_api_quantized(DIM as i64, Some("l2"), index, quant).unwrap()
}

fn put(c: &Collection, from: usize, vectors: &[f32]) {
    let n = vectors.len() / DIM;
    let ids: Vec<String> = (from..from + n).map(|i| format!("r{i}")).collect();
    let named = vec![
        NamedVectors { field: "body".into(), dim: DIM, present: vec![true; n], vectors: vectors.to_vec().into() },
        NamedVectors { field: "tag".into(), dim: 2, present: vec![true; n], vectors: vec![1.0; 2 * n].into() },
    ];
    let r = c.put_batch_named(ids, &[], vec![None; n], named, false, BatchOptions::default(), &Cancel::new()).unwrap();
    assert!(r.applied && r.failed == 0, "{r:?}");
}

fn nearest(c: &Collection, q: &[f32], k: usize) -> Vec<String> {
    c.search_field("body", q, SearchParams::nearest(k), None, &Cancel::new()).unwrap().ids
}

/// Exact top `k` (l2) of `vectors` (row `i` is record `r<i>`).
fn exact(vectors: &[f32], q: &[f32], k: usize) -> Vec<String> {
    let mut scored: Vec<(f32, usize)> = vectors
        .chunks_exact(DIM)
        .enumerate()
        .map(|(i, v)| (v.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(), i))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored.iter().take(k).map(|(_, i)| format!("r{i}")).collect()
}

#[test]
fn a_field_is_rebuilt_while_written_and_switches_durably() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let tag = CollectionConfig::from_api(2, Some("l2"), IndexSpec::default()).unwrap();
    let config = CollectionConfig::named(vec![("body".into(), field("flat", None)), ("tag".into(), tag)]).unwrap();
    let c = db.create_collection("docs", config).unwrap();
    let mut vectors = random_vectors(21, N, DIM);
    put(&c, 0, &vectors);

    // Rebuild body as HNSW + sq8 while another thread inserts 500 records and rewrites 200.
    let extra = random_vectors(22, 500, DIM);
    let rewritten = random_vectors(23, 200, DIM);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for (b, chunk) in extra.chunks(50 * DIM).enumerate() {
                put(&c, N + b * 50, chunk);
            }
            let updates = (0..200)
                .map(|i| UpdateInput {
                    id: format!("r{}", i * 7),
                    vector: None,
                    metadata: MetadataChange::Keep,
                    named: vec![("body".into(), Some(rewritten[i * DIM..(i + 1) * DIM].to_vec()))],
                })
                .collect();
            c.update_batch(updates, BatchOptions::default(), &Cancel::new()).unwrap();
        });
        let report = c.rebuild_field("body", &field("hnsw", Some("scalar")), &Cancel::new()).unwrap();
        assert_eq!(report.index, "hnsw");
        writer.join().unwrap();
    });
    vectors.extend_from_slice(&extra);
    for i in 0..200 {
        let at = i * 7 * DIM;
        vectors[at..at + DIM].copy_from_slice(&rewritten[i * DIM..(i + 1) * DIM]);
    }

    let check = |c: &Collection| {
        let stats = c.stats().unwrap();
        let body = &stats.fields[0];
        assert_eq!((body.index, body.quantization, body.count), ("hnsw", "trained", N + 500));
        assert_eq!((stats.fields[1].index, stats.fields[1].count), ("flat", N + 500));
        assert_eq!(c.config().vector_field("body").unwrap().1.index.kind(), "hnsw");
        // Every record written before, during and after the switch finds itself.
        for i in (0..N + 500).step_by(37).chain((0..200).map(|i| i * 7)) {
            assert_eq!(nearest(c, &vectors[i * DIM..(i + 1) * DIM], 1), [format!("r{i}")], "r{i}");
        }
        let queries = random_vectors(24, 20, DIM);
        let mut found = 0;
        for q in queries.chunks_exact(DIM) {
            let want: HashSet<String> = exact(&vectors, q, 10).into_iter().collect();
            found += nearest(c, q, 10).iter().filter(|id| want.contains(*id)).count();
        }
        assert!(found as f64 / 200.0 >= 0.9, "recall@10 after the rebuild {}", found as f64 / 200.0);
    };
    check(&c);
    drop(c);
    db.close().unwrap();

    // Reopened: the new index and its link table; the old table is gone.
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("docs").unwrap();
    check(&c);
    let field_dir = dir.path().join("collections/docs/fields/body");
    let mut tables: Vec<String> = std::fs::read_dir(&field_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("links"))
        .collect();
    tables.sort();
    assert_eq!(tables, ["links-1"]);

    // A cancelled rebuild changes nothing and leaves no table behind.
    let cancel = Cancel::new();
    cancel.cancel();
    assert!(c.rebuild_field("body", &field("flat", None), &cancel).is_err());
    assert_eq!(c.stats().unwrap().fields[0].index, "hnsw");
    assert!(!field_dir.join("links-2").exists());

    // Back to flat without quantization: exact again.
    c.rebuild_field("body", &field("flat", None), &Cancel::new()).unwrap();
    let f = &c.stats().unwrap().fields[0];
    assert_eq!((f.index, f.quantization), ("flat", "none"));
    let q = random_vectors(25, 1, DIM);
    assert_eq!(nearest(&c, &q, 10), exact(&vectors, &q, 10));
    // A field the collection lacks is refused.
    assert!(c.rebuild_field("nope", &field("flat", None), &Cancel::new()).is_err());
    assert!(c.verify().unwrap().damaged.is_empty());
}

#[test]
fn a_field_breadth_is_tuned_on_its_own_vectors_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let tag = CollectionConfig::from_api(2, Some("l2"), IndexSpec::default()).unwrap();
    let config = CollectionConfig::named(vec![("body".into(), field("hnsw", None)), ("tag".into(), tag)]).unwrap();
    let c = db.create_collection("docs", config).unwrap();
    let vectors = random_vectors(31, N, DIM);
    put(&c, 0, &vectors);
    // Held-out queries (not stored vectors): the recall users see.
    let queries = random_vectors(32, 100, DIM);
    let report = c.tune_field("body", 0.97, 10, 200, Some(&queries), &Cancel::new()).unwrap();
    let (setting, recall) = (report.setting.unwrap(), report.recall);
    assert_eq!(report.knob, Some("efSearch"));
    assert!(recall >= 0.97 || setting == 1024, "{report:?}");
    // The setting is the field's default now: searches without efSearch meet the measured recall.
    let mut found = 0;
    for q in queries.chunks_exact(DIM) {
        let want: HashSet<String> = exact(&vectors, q, 10).into_iter().collect();
        found += nearest(&c, q, 10).iter().filter(|id| want.contains(*id)).count();
    }
    assert!((found as f64 / 1000.0 - recall).abs() < 1e-9, "searched {} vs tuned {recall}", found as f64 / 1000.0);
    // On stored vectors when no queries are given (each searched as if absent).
    let stored = c.tune_field("body", 0.9, 10, 100, None, &Cancel::new()).unwrap();
    assert_eq!((stored.source.as_str(), stored.sample_size), ("stored", 100));
    // A flat field has nothing to tune; a missing field and a wrong dimension are refused.
    assert_eq!(c.tune_field("tag", 0.9, 10, 50, None, &Cancel::new()).unwrap().knob, None);
    assert!(c.tune_field("nope", 0.9, 10, 50, None, &Cancel::new()).is_err());
    assert!(c.tune_field("body", 0.9, 10, 50, Some(&[1.0; 3]), &Cancel::new()).is_err());
    // Durable: the reopened field searches with the tuned breadth.
    let again = c.tune_field("body", 0.97, 10, 200, Some(&queries), &Cancel::new()).unwrap();
    drop(c);
    db.close().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("docs").unwrap();
    let ef = match c.config().vector_field("body").unwrap().1.index {
        libravdb_engine::IndexConfig::Hnsw { ef_search, .. } => ef_search,
        other => panic!("{other:?}"),
    };
    assert_eq!(ef, again.setting.unwrap());
}
