//! The index against a plain BM25 computed from the documents themselves, through random
//! inserts, updates and deletes, and through its serialised form.

use std::collections::HashMap;

use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde_json::{Map, Value, json};

use crate::{Analyzer, TextIndex, TextOptions};

const WORDS: [&str; 12] =
    ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "kiwi", "lime", "mango", "the", "of"];

fn random_text(rng: &mut StdRng) -> String {
    let n = rng.random_range(0..12);
    (0..n).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect::<Vec<_>>().join(" ")
}

fn meta(title: &str, body: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("title".into(), json!(title));
    if let Some(b) = body {
        m.insert("body".into(), json!(b));
    }
    m
}

/// BM25 (the crate docs' formula) of every live document, from the texts alone.
fn reference(
    docs: &HashMap<u32, Map<String, Value>>,
    fields: &[(String, TextOptions)],
    query: &str,
    k: usize,
) -> Vec<(u32, f64)> {
    let mut scores: HashMap<u32, f64> = HashMap::new();
    for (name, o) in fields {
        let a = Analyzer::new(o);
        let terms: HashMap<u32, Vec<String>> = docs
            .iter()
            .filter_map(|(&row, m)| m.get(name).and_then(Value::as_str).map(|t| (row, a.terms(t))))
            .filter(|(_, t)| !t.is_empty())
            .collect();
        let n = terms.len() as f64;
        let avg = terms.values().map(Vec::len).sum::<usize>() as f64 / n;
        for q in a.terms(query) {
            let df = terms.values().filter(|t| t.contains(&q)).count() as f64;
            if df == 0.0 {
                continue;
            }
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            let (k1, b) = (o.k1, o.b);
            for (&row, t) in &terms {
                let tf = t.iter().filter(|x| **x == q).count() as f64;
                if tf > 0.0 {
                    let norm = k1 * (1.0 - b + b * t.len() as f64 / avg);
                    *scores.entry(row).or_default() += idf * tf * (k1 + 1.0) / (tf + norm);
                }
            }
        }
    }
    let mut out: Vec<(u32, f64)> = scores.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(k);
    out
}

fn assert_same(got: &[(u32, f32)], want: &[(u32, f64)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((f64::from(g.1) - w.1).abs() < 1e-4 * w.1.max(1.0), "{what}: score {g:?} vs {w:?}");
        // Rows may differ only between equal scores.
        if g.0 != w.0 {
            let tied = want.iter().find(|x| x.0 == g.0).is_some_and(|x| (x.1 - w.1).abs() < 1e-9);
            assert!(tied, "{what}: row {} where {} was expected", g.0, w.0);
        }
    }
}

#[test]
fn search_equals_reference_bm25_through_writes_and_serialisation() {
    let fields = vec![
        ("body".to_string(), TextOptions { stemming: true, stop_words: true, ..TextOptions::default() }),
        ("title".to_string(), TextOptions { k1: 0.9, b: 0.4, ..TextOptions::default() }),
    ];
    let mut rng = StdRng::seed_from_u64(5);
    let mut index = TextIndex::new(fields.clone());
    let mut docs: HashMap<u32, Map<String, Value>> = HashMap::new();
    for step in 0..2000 {
        let row = rng.random_range(0..300u32);
        if let Some(old) = docs.remove(&row) {
            index.remove(row, Some(&old));
        }
        if rng.random_range(0..4) > 0 {
            let body = (rng.random_range(0..5) > 0).then(|| random_text(&mut rng));
            let m = meta(&random_text(&mut rng), body.as_deref());
            index.insert(row, Some(&m));
            docs.insert(row, m);
        }
        if step % 100 == 99 {
            for _ in 0..20 {
                let q = random_text(&mut rng);
                let (got, _) = index.search(&q, &[], 10, &|_| true).unwrap();
                assert_same(&got, &reference(&docs, &fields, &q, 10), &format!("step {step} query '{q}'"));
            }
        }
    }
    let loaded = TextIndex::from_bytes(&index.to_bytes(), &fields, &[]).unwrap();
    index.compact();
    for _ in 0..50 {
        let q = random_text(&mut rng);
        let want = reference(&docs, &fields, &q, 25);
        assert_same(&loaded.search(&q, &[], 25, &|_| true).unwrap().0, &want, "loaded");
        assert_same(&index.search(&q, &[], 25, &|_| true).unwrap().0, &want, "compacted");
        let title_only = reference(&docs, &fields[1..], &q, 5);
        assert_same(&index.search(&q, &["title".into()], 5, &|_| true).unwrap().0, &title_only, "title");
    }
}

#[test]
fn the_filter_applies_before_the_cut() {
    let fields = vec![("body".to_string(), TextOptions::default())];
    let mut index = TextIndex::new(fields);
    for row in 0..100u32 {
        let text = if row % 10 == 0 { "rare word" } else { "common word" };
        index.insert(row, Some(&meta("", Some(text))));
    }
    let (hits, info) = index.search("rare", &[], 5, &|r| r % 20 == 0).unwrap();
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [0, 20, 40, 60, 80]);
    assert_eq!((info.matched_terms, info.candidates), (1, Some(5)), "the filter applies before scoring");
    let plan = index.plan("rare words", &[]).unwrap();
    assert_eq!((plan.terms.len(), plan.matched_terms, plan.postings, plan.candidates), (2, 1, 10, None));
    assert!(index.search("rare", &["nope".into()], 5, &|_| true).unwrap_err().contains("'nope'"));
    assert!(index.search("absent", &[], 5, &|_| true).unwrap().0.is_empty());
}

#[test]
fn damaged_bytes_are_refused() {
    let fields = vec![("body".to_string(), TextOptions::default())];
    let mut index = TextIndex::new(fields.clone());
    index.insert(0, Some(&meta("", Some("alpha beta"))));
    index.insert(3, Some(&meta("", Some("beta gamma"))));
    let bytes = index.to_bytes();
    for cut in 0..bytes.len() {
        assert!(TextIndex::from_bytes(&bytes[..cut], &fields, &[]).is_err(), "cut at {cut}");
    }
    let other = vec![("body".to_string(), TextOptions { stemming: true, ..TextOptions::default() })];
    assert!(TextIndex::from_bytes(&bytes, &other, &[]).is_err());
}

fn random_sparse(rng: &mut StdRng) -> Vec<(u32, f32)> {
    let mut dims: Vec<u32> = (0..rng.random_range(0..8)).map(|_| rng.random_range(0..40)).collect();
    dims.sort_unstable();
    dims.dedup();
    dims.into_iter().map(|d| (d, rng.random_range(-1.0f32..2.0))).collect()
}

fn sparse_json(pairs: &[(u32, f32)]) -> Value {
    json!({ "indices": pairs.iter().map(|p| p.0).collect::<Vec<_>>(), "values": pairs.iter().map(|p| p.1).collect::<Vec<_>>() })
}

#[test]
fn sparse_search_equals_brute_force_inner_product_through_writes_and_serialisation() {
    let mut rng = StdRng::seed_from_u64(8);
    let mut index = TextIndex::new(vec![]).with_sparse(["splade".to_string()]);
    let mut docs: HashMap<u32, Vec<(u32, f32)>> = HashMap::new();
    let meta_of = |pairs: &[(u32, f32)]| {
        let mut m = Map::new();
        m.insert("splade".into(), sparse_json(pairs));
        m
    };
    let check = |index: &TextIndex, docs: &HashMap<u32, Vec<(u32, f32)>>, rng: &mut StdRng| {
        for _ in 0..20 {
            let q = random_sparse(rng);
            let mut want: Vec<(u32, f64)> = docs
                .iter()
                .filter(|(_, d)| d.iter().any(|(i, w)| *w != 0.0 && q.iter().any(|(j, _)| i == j)))
                .map(|(&row, d)| {
                    let dot: f64 = d
                        .iter()
                        .filter_map(|(i, w)| q.iter().find(|(j, _)| j == i).map(|(_, v)| f64::from(*v) * f64::from(*w)))
                        .sum();
                    (row, dot)
                })
                .collect();
            want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            want.truncate(10);
            let (got, _) = index.search_sparse(&q, None, 10, &|_| true).unwrap();
            assert_same(&got, &want, &format!("query {q:?}"));
        }
    };
    for step in 0..1500 {
        let row = rng.random_range(0..200u32);
        if let Some(old) = docs.remove(&row) {
            index.remove(row, Some(&meta_of(&old)));
        }
        if rng.random_range(0..4) > 0 {
            let v = random_sparse(&mut rng);
            index.insert(row, Some(&meta_of(&v)));
            docs.insert(row, v);
        }
        if step % 250 == 249 {
            check(&index, &docs, &mut rng);
        }
    }
    let loaded = TextIndex::from_bytes(&index.to_bytes(), &[], &["splade".to_string()]).unwrap();
    check(&loaded, &docs, &mut rng);
    assert!(TextIndex::from_bytes(&index.to_bytes(), &[], &[]).is_err());
    assert!(index.search_sparse(&[(1, 1.0)], Some("nope"), 5, &|_| true).unwrap_err().contains("'nope'"));
    assert!(crate::sparse_pairs(&json!({ "indices": [1, 1], "values": [1, 2] })).unwrap_err().contains("distinct"));
    assert!(crate::sparse_pairs(&json!({ "indices": [1], "values": [1, 2] })).is_err());
    assert!(crate::sparse_pairs(&json!({ "indices": [-1], "values": [1] })).is_err());
}
