//! Quantized named vector fields: each field trains its own quantizer on its own vectors
//! (once enough records have the field), searches its codes and re-ranks, and keeps its codes
//! across a clean reopen and a crash.

use libravdb_engine::{
    BatchOptions, Cancel, Collection, CollectionConfig, Database, DbOptions, IndexSpec, MetadataChange, NamedVectors,
    QuantSpec, SearchParams, UpdateInput,
};

use crate::common::*;

struct Sift {
    dim: usize,
    base: Vec<f32>,
    queries: Vec<f32>,
}

fn sift() -> Sift {
    let dir = datasets().join("sift5k");
    let bytes = |name: &str| -> (usize, Vec<f32>) {
        let (dim, raw) = read_vecs(&dir.join(name));
        (dim, raw.iter().map(|b| f32::from_le_bytes(*b)).collect())
    };
    let (dim, base) = bytes("base.fvecs");
    let (_, queries) = bytes("query.fvecs");
    Sift { dim, base, queries }
}

/// The exact `k` nearest (l2) of `rows` of `base` to `q`, as ids `s<i>`.
fn exact(base: &[f32], dim: usize, rows: &[usize], q: &[f32], k: usize) -> Vec<String> {
    let mut scored: Vec<(f32, usize)> = rows
        .iter()
        .map(|&i| (base[i * dim..(i + 1) * dim].iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(), i))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored.iter().take(k).map(|(_, i)| format!("s{i}")).collect()
}

fn field(dim: usize, index: Option<&str>, kind: &str, bits: i64, m: Option<i64>) -> CollectionConfig {
    let index = IndexSpec { kind: index, ..Default::default() };
    let quant = QuantSpec { kind: Some(kind), bits: Some(bits), m, ..Default::default() };
    CollectionConfig::from_api_quantized(dim as i64, Some("l2"), index, quant).unwrap()
}

/// Records `s<i>` for `rows`: every one has field `all`, the even ones field `even`.
fn put(c: &Collection, s: &Sift, rows: std::ops::Range<usize>) {
    let ids: Vec<String> = rows.clone().map(|i| format!("s{i}")).collect();
    let block = |name: &str, present: Vec<bool>| {
        let vectors: Vec<f32> = rows
            .clone()
            .zip(&present)
            .filter(|(_, p)| **p)
            .flat_map(|(i, _)| s.base[i * s.dim..(i + 1) * s.dim].to_vec())
            .collect();
        NamedVectors { field: name.into(), dim: s.dim, present, vectors: vectors.into() }
    };
    let named = vec![block("all", vec![true; ids.len()]), block("even", rows.clone().map(|i| i % 2 == 0).collect())];
    let n = ids.len();
    let r = c.put_batch_named(ids, &[], vec![None; n], named, false, BatchOptions::default(), &Cancel::new()).unwrap();
    assert!(r.applied && r.failed == 0, "{r:?}");
}

/// Recall@10 of field `name` over held-out queries against the exact answer over `rows`.
fn recall(c: &Collection, s: &Sift, name: &str, rows: &[usize]) -> f64 {
    let mut found = 0;
    let nq = s.queries.len() / s.dim;
    for q in s.queries.chunks_exact(s.dim) {
        let want = exact(&s.base, s.dim, rows, q, 10);
        let got = c.search_field(name, q, SearchParams::nearest(10), None, &Cancel::new()).unwrap();
        found += got.ids.iter().filter(|id| want.contains(id)).count();
    }
    found as f64 / (nq * 10) as f64
}

#[test]
fn each_field_trains_its_own_quantizer_and_keeps_it_across_reopen_and_crash() {
    let s = sift();
    let n = s.base.len() / s.dim;
    let all: Vec<usize> = (0..n).collect();
    let even: Vec<usize> = (0..n).step_by(2).collect();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let config = CollectionConfig::named(vec![
        ("all".into(), field(s.dim, Some("hnsw"), "scalar", 8, None)),
        ("even".into(), field(s.dim, None, "product", 4, Some(16))),
    ])
    .unwrap();
    let c = db.create_collection("sift", config).unwrap();

    // 1,200 records: 'all' has enough to train (1,000), 'even' (600) waits on full precision.
    put(&c, &s, 0..1200);
    let quant = |c: &Collection| c.stats().unwrap().fields.iter().map(|f| f.quantization).collect::<Vec<_>>();
    assert_eq!(quant(&c), ["trained", "pending"]);
    put(&c, &s, 1200..n);
    assert_eq!(quant(&c), ["trained", "trained"]);
    let stats = c.stats().unwrap();
    let (a, e) = (&stats.fields[0], &stats.fields[1]);
    assert_eq!((a.code_bytes, a.compression), (n * s.dim, 4.0));
    assert_eq!(e.code_bytes, (n / 2) * 8); // 16 sub-vectors of 4 bits
    assert!(stats.memory.codes as usize >= a.code_bytes + e.code_bytes);

    // Codes and re-ranking keep recall near exact (flat PQ: re-ranked from 32 x k candidates).
    let all_recall = recall(&c, &s, "all", &all);
    let even_recall = recall(&c, &s, "even", &even);
    println!("recall@10 on sift5k: all (hnsw + sq8) {all_recall:.3}, even (flat + pq16x4) {even_recall:.3}");
    assert!(all_recall >= 0.95, "all (hnsw + sq8) recall@10 {all_recall}");
    assert!(even_recall >= 0.9, "even (flat + pq16x4) recall@10 {even_recall}");

    // Records written after training get codes: each finds itself first.
    let moved: Vec<f32> = s.queries[..s.dim].to_vec();
    let upd = UpdateInput {
        id: "s2".into(),
        vector: None,
        metadata: MetadataChange::Keep,
        named: vec![("even".into(), Some(moved.clone())), ("all".into(), Some(moved.clone()))],
    };
    c.update_batch(vec![upd], BatchOptions::default(), &Cancel::new()).unwrap();
    let first = |c: &Collection, name: &str| {
        c.search_field(name, &moved, SearchParams::nearest(1), None, &Cancel::new()).unwrap().ids
    };
    assert_eq!((first(&c, "all"), first(&c, "even")), (vec!["s2".to_owned()], vec!["s2".to_owned()]));

    // A clean reopen loads the codes (trained, not retrained): the same answers.
    let before: Vec<_> = s
        .queries
        .chunks_exact(s.dim)
        .map(|q| c.search_field("even", q, SearchParams::nearest(10), None, &Cancel::new()).unwrap())
        .collect();
    drop(c);
    db.close().unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("sift").unwrap();
    assert_eq!(quant(&c), ["trained", "trained"]);
    assert_eq!(c.stats().unwrap().quantization_attempts, 0); // the default vector: none
    let after: Vec<_> = s
        .queries
        .chunks_exact(s.dim)
        .map(|q| c.search_field("even", q, SearchParams::nearest(10), None, &Cancel::new()).unwrap())
        .collect();
    assert_eq!(before, after);

    // Writes only in the WAL when the process dies: replayed, encoded, found.
    let fresh: Vec<f32> = s.queries[s.dim..2 * s.dim].to_vec();
    let upd = UpdateInput {
        id: "s4".into(),
        vector: None,
        metadata: MetadataChange::Keep,
        named: vec![("even".into(), Some(fresh.clone()))],
    };
    c.update_batch(vec![upd], BatchOptions::default(), &Cancel::new()).unwrap();
    drop(c);
    std::mem::forget(db);
    std::fs::remove_file(dir.path().join("LOCK")).unwrap();
    let db = Database::open(Some(dir.path()), DbOptions::default()).unwrap();
    let c = db.collection("sift").unwrap();
    assert_eq!(quant(&c), ["trained", "trained"]);
    let hit = c.search_field("even", &fresh, SearchParams::nearest(1), None, &Cancel::new()).unwrap();
    assert_eq!(hit.ids, ["s4"]);
    let report = c.verify().unwrap();
    assert!(report.damaged.is_empty(), "{report:?}");
    // A damaged code file is found by verify().
    drop(c);
    db.close().unwrap();
    let quant_file = std::fs::read_dir(dir.path().join("collections/sift/fields/even"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("quant-"))
        .expect("the field's codes are a file of its own");
    let mut bytes = std::fs::read(&quant_file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&quant_file, bytes).unwrap();
    let opened = Database::open(Some(dir.path()), DbOptions::default()).and_then(|db| db.collection("sift"));
    let damaged = match opened {
        Err(e) => e.to_string(),
        Ok(c) => format!("{:?}", c.verify().unwrap().damaged),
    };
    assert!(damaged.contains("quant-"), "{damaged}");
}

#[test]
fn a_field_added_with_quantization_trains_once_backfilled() {
    let s = sift();
    let n = 2000;
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("docs", hnsw_config(s.dim as i64, "l2")).unwrap();
    insert(&c, "s", &s.base[..n * s.dim]);
    c.add_vector_field("sq", field(s.dim, None, "scalar", 8, None)).unwrap();
    assert_eq!(c.stats().unwrap().fields[0].quantization, "pending");
    // The backfill: update batches setting the new field only.
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let updates = chunk
            .iter()
            .map(|&i| UpdateInput {
                id: format!("s-{i}"),
                vector: None,
                metadata: MetadataChange::Keep,
                named: vec![("sq".into(), Some(s.base[i * s.dim..(i + 1) * s.dim].to_vec()))],
            })
            .collect();
        let r = c.update_batch(updates, BatchOptions::default(), &Cancel::new()).unwrap();
        assert!(r.applied && r.failed == 0, "{r:?}");
    }
    let f = &c.stats().unwrap().fields[0];
    assert_eq!((f.quantization, f.count, f.compression), ("trained", n, 4.0));
    // Flat + sq8 re-ranked: the exact answer, as ids s-<i>.
    let rows: Vec<usize> = (0..n).collect();
    for q in s.queries.chunks_exact(s.dim).take(20) {
        let want: Vec<String> =
            exact(&s.base, s.dim, &rows, q, 10).iter().map(|id| id.replacen('s', "s-", 1)).collect();
        let got = c.search_field("sq", q, SearchParams::nearest(10), None, &Cancel::new()).unwrap();
        let same = got.ids.iter().filter(|id| want.contains(id)).count();
        assert!(same >= 9, "{:?} vs {want:?}", got.ids);
    }
}
