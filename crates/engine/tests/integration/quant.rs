use libravdb_engine::{
    BatchOptions, Cancel, Collection, CollectionConfig, Database, DbOptions, IndexSpec, QuantSpec, SearchParams,
};

use crate::common::*;

fn quantized(dim: usize, index: Option<&str>, kind: &str, bits: i64, m: Option<i64>) -> CollectionConfig {
    let index = IndexSpec { kind: index, ..Default::default() };
    let quant = QuantSpec { kind: Some(kind), bits: Some(bits), m, ..Default::default() };
    CollectionConfig::from_api_quantized(dim as i64, Some("l2"), index, quant).unwrap()
}

#[test]
fn recall_on_sift5k_stays_near_full_precision_for_every_quantizer() {
    let s = dataset("sift5k");
    let db = Database::open(None, DbOptions::default()).unwrap();
    for index in [None, Some("hnsw")] {
        let full_config = if index.is_some() { hnsw_config(s.dim as i64, "l2") } else { config(s.dim as i64, "l2") };
        let full = db.create_collection(&format!("full-{}", index.unwrap_or("flat")), full_config).unwrap();
        insert(&full, "v", &s.base);
        let reference = held_out_recall(&full, &s, None);
        for (name, kind, bits, m, slack) in [
            ("sq8", "scalar", 8, None, 0.01),
            ("sq4", "scalar", 4, None, 0.05),
            ("pq16x8", "product", 8, Some(16), 0.05),
        ] {
            let c = db
                .create_collection(
                    &format!("{name}-{}", index.unwrap_or("flat")),
                    quantized(s.dim, index, kind, bits, m),
                )
                .unwrap();
            insert(&c, "v", &s.base);
            let st = c.stats().unwrap();
            assert_eq!(st.quantization, "trained", "{name}");
            let r = held_out_recall(&c, &s, None);
            println!(
                "{name} {}: recall@10 {r:.4} (full precision {reference:.4}), compression {}x",
                index.unwrap_or("flat"),
                st.compression
            );
            assert!(r >= reference - slack, "{name} {index:?}: recall {r} vs full precision {reference}");
        }
    }
}

/// The promise of 8-bit codes over HNSW on real sentence embeddings (debpkg20k, cosine,
/// held-out queries): recall@10 at every efSearch as high as full precision's. The code walk
/// takes a beam an eighth wider for it (`code_walk_beam`); without that it fell 0.001-0.003
/// short at efSearch 24-128 on 100k such vectors. The two graphs are built separately, in
/// parallel, and one build's recall differs from another's by up to ~0.002: that is the slack.
#[test]
fn sq8_hnsw_keeps_full_precision_recall_at_every_ef_search_on_real_embeddings() {
    let d = dataset("debpkg20k");
    let db = Database::open(None, DbOptions::default()).unwrap();
    let full = db.create_collection("full", hnsw_config(d.dim as i64, "cosine")).unwrap();
    let index = IndexSpec { kind: Some("hnsw"), ..Default::default() };
    let sq8 = QuantSpec { kind: Some("scalar"), bits: Some(8), ..Default::default() };
    let codes = db
        .create_collection(
            "sq8",
            CollectionConfig::from_api_quantized(d.dim as i64, Some("cosine"), index, sq8).unwrap(),
        )
        .unwrap();
    insert(&full, "v", &d.base);
    insert(&codes, "v", &d.base);
    assert_eq!(codes.stats().unwrap().quantization, "trained");
    let mut short = Vec::new();
    for ef in [16, 24, 32, 48, 64, 96, 128] {
        let (f, c) = (held_out_recall(&full, &d, Some(ef)), held_out_recall(&codes, &d, Some(ef)));
        println!("efSearch {ef}: full precision {f:.4}, sq8 {c:.4}");
        if c < f - 0.002 {
            short.push(format!("efSearch {ef}: {c:.4} vs {f:.4}"));
        }
    }
    assert!(short.is_empty(), "sq8 recall below full precision's: {short:?}");
}

#[test]
fn deferred_training_one_record_at_a_time_searches_correctly_before_and_after() {
    let dim = 16;
    let v = random_vectors(3, 1500, dim);
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", quantized(dim, Some("hnsw"), "scalar", 8, None)).unwrap();
    let p = SearchParams { k: 1, ..Default::default() };
    for i in 0..1500 {
        let r = c
            .put_batch(
                vec![format!("r{i}")],
                &v[i * dim..(i + 1) * dim],
                vec![None],
                false,
                BatchOptions::default(),
                &Cancel::new(),
            )
            .unwrap();
        assert!(r.applied);
        let st = c.stats().unwrap();
        assert_eq!(st.quantization, if i + 1 < 1000 { "pending" } else { "trained" }, "after {} records", i + 1);
        if i % 97 == 0 || i == 998 || i == 999 {
            let own = c.search(&v[i * dim..(i + 1) * dim], p).unwrap();
            assert_eq!(own.ids, vec![format!("r{i}")], "a record finds itself after {} records", i + 1);
        }
    }
    assert_eq!(c.stats().unwrap().code_bytes, 1500 * dim);
}

/// Codes and what scores them come back at open: product codes and codebooks, and 8-bit scalar
/// codes of an L2 collection with their row terms (kept in memory, rebuilt from the codes,
/// where the CPU scores L2 on integers). Rows encoded at training and rows encoded one write
/// at a time after it search the same after reopening.
#[test]
fn codes_and_codebooks_persist_and_reload() {
    let dim = 32;
    let v = random_vectors(4, 5000, dim);
    let q = random_vectors(5, 10 * dim, 1);
    let p = SearchParams { k: 10, ef_search: Some(32), ..Default::default() };
    // Code bytes, and bytes held per row (8-bit scalar: a 4-byte term where L2 runs on integers).
    let sq8_held = dim + if libravdb_core::quant::integer_code_kernel() { 4 } else { 0 };
    for (config, code_bytes, held) in [
        (quantized(dim, None, "product", 8, Some(8)), 8, 8),
        (quantized(dim, Some("hnsw"), "scalar", 8, None), dim, sq8_held),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let before = {
            let db = open(tmp.path());
            let c = db.create_collection("c", config).unwrap();
            insert(&c, "r", &v[..4500 * dim]);
            assert_eq!(c.stats().unwrap().quantization, "trained");
            for i in 4500..5000 {
                let row = &v[i * dim..(i + 1) * dim];
                c.put_batch(vec![format!("r{i}")], row, vec![None], false, BatchOptions::default(), &Cancel::new())
                    .unwrap();
            }
            let hits = c.search(&q, p).unwrap();
            assert_eq!(c.stats().unwrap().memory.codes as usize, 5000 * held);
            db.close().unwrap();
            hits
        };
        let db = open(tmp.path());
        let c = db.collection("c").unwrap();
        let st = c.stats().unwrap();
        assert_eq!((st.quantization, st.code_bytes), ("trained", 5000 * code_bytes));
        assert_eq!(st.memory.codes as usize, 5000 * held, "row terms are rebuilt at open");
        assert_eq!(c.search(&q, p).unwrap(), before);
    }
}

/// `n` copies of one vector: a sample no quantizer can learn from.
fn constant_vectors(n: usize, dim: usize) -> Vec<f32> {
    vec![0.5; n * dim]
}

/// Whether each of `vectors` (inserted as `prefix-i`) is its own nearest neighbour, but for
/// at most 1% (HNSW is approximate and built in parallel).
fn finds_itself(c: &Collection, prefix: &str, vectors: &[f32]) -> bool {
    let n = vectors.len() / c.config().dimension;
    let hits = c.search(vectors, SearchParams { k: 1, ..Default::default() }).unwrap();
    let missed = (0..n).filter(|&i| hits.ids[i] != format!("{prefix}-{i}")).count();
    missed * 100 <= n
}

#[test]
fn failed_training_is_retried_after_half_again_and_persists_its_attempts() {
    let tmp = tempfile::tempdir().unwrap();
    let dim = 16;
    let varied = random_vectors(8, 600, dim);
    {
        let db = open(tmp.path());
        let c = db.create_collection("c", quantized(dim, Some("hnsw"), "scalar", 8, None)).unwrap();
        // 1,000 equal vectors reach the training threshold with nothing to learn.
        insert(&c, "same", &constant_vectors(1000, dim));
        let st = c.stats().unwrap();
        assert_eq!((st.quantization, st.quantization_attempts), ("failed", 1));
        assert!(st.quantization_error.unwrap().contains("too little variance"));
        // Writes and searches go on at full precision; 1,400 live rows are short of 1,500.
        insert(&c, "a", &varied[..400 * dim]);
        let st = c.stats().unwrap();
        assert_eq!((st.quantization, st.quantization_attempts), ("failed", 1));
        assert!(finds_itself(&c, "a", &varied[..400 * dim]));
        db.close().unwrap();
    }
    let db = open(tmp.path());
    let c = db.collection("c").unwrap();
    let st = c.stats().unwrap();
    assert_eq!((st.quantization, st.quantization_attempts), ("failed", 1), "the retry point survives a reopen");
    insert(&c, "b", &varied[400 * dim..]);
    let st = c.stats().unwrap();
    assert_eq!((st.quantization, st.quantization_attempts, st.quantization_error), ("trained", 2, None));
    assert_eq!(st.code_bytes, 1600 * dim);
    assert!(finds_itself(&c, "a", &varied[..400 * dim]) && finds_itself(&c, "b", &varied[400 * dim..]));
}

#[test]
fn optimize_and_rebuild_retry_a_failed_training_without_growth() {
    let db = Database::open(None, DbOptions::default()).unwrap();
    let dim = 16;
    let config = quantized(dim, None, "product", 8, Some(4));
    let varied = random_vectors(9, 400, dim);
    for (name, retry) in [("optimize", true), ("rebuild", false)] {
        let c = db.create_collection(name, config.clone()).unwrap();
        insert(&c, "same", &constant_vectors(4096, dim));
        // 400 distinct vectors: enough for 256 codewords, far short of half again.
        insert(&c, "v", &varied);
        assert_eq!(c.stats().unwrap().quantization, "failed");
        if retry {
            c.optimize(&Cancel::new()).unwrap();
        } else {
            c.rebuild(config.index, config.quantization, &Cancel::new()).unwrap();
        }
        let st = c.stats().unwrap();
        assert_eq!(st.quantization, "trained", "{name}");
        // The rebuilt quantization is new: its first training.
        assert_eq!(st.quantization_attempts, if retry { 2 } else { 1 }, "{name}");
        assert!(finds_itself(&c, "v", &varied), "{name}");
    }
}
