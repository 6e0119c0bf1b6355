//! BM25 query speed on a synthetic corpus shaped like the hybrid benchmark's: `n` documents of
//! 8-30 words drawn from a Zipf (s = 1) vocabulary of 50,000 words, queries of 2-5 words.
//! `cargo run --release -p libravdb-text --example bm25_speed -- [n] [queries]`

use std::time::Instant;

use libravdb_text::{TextIndex, TextOptions};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde_json::{Map, Value};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let n = args.first().copied().unwrap_or(200_000);
    let nq = args.get(1).copied().unwrap_or(500);
    let vocabulary = 50_000;
    let cumulative: Vec<f64> = (0..vocabulary)
        .scan(0.0, |s, i| {
            *s += 1.0 / (i + 1) as f64;
            Some(*s)
        })
        .collect();
    let total = cumulative[vocabulary - 1];
    let mut rng = StdRng::seed_from_u64(32);
    let word = |rng: &mut StdRng| {
        let x = rng.random::<f64>() * total;
        format!("w{}", cumulative.partition_point(|&c| c < x))
    };
    let sentence = |rng: &mut StdRng, lo: usize, hi: usize| {
        let len = rng.random_range(lo..=hi);
        (0..len).map(|_| word(rng)).collect::<Vec<_>>().join(" ")
    };
    let mut index = TextIndex::new(vec![("text".to_string(), TextOptions::default())]);
    let t = Instant::now();
    for row in 0..n as u32 {
        let mut m = Map::new();
        m.insert("text".into(), Value::String(sentence(&mut rng, 8, 30)));
        index.insert(row, Some(&m));
    }
    println!("indexed {n} documents in {:.2} s, {} bytes held", t.elapsed().as_secs_f64(), index.bytes());
    let queries: Vec<String> = (0..nq).map(|_| sentence(&mut rng, 2, 5)).collect();
    let t = Instant::now();
    let mut found = 0;
    let (mut postings, mut scored) = (0, 0);
    for q in &queries {
        let (hits, info) = index.search(q, &[], 10, &|_| true).unwrap();
        found += hits.len();
        postings += info.postings;
        scored += info.candidates.unwrap_or(0);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{nq} queries: {:.0} q/s, {:.3} ms each; per query {:.2} hits, {:.0} postings in its terms' lists, {:.0} rows scored",
        nq as f64 / secs,
        secs * 1000.0 / nq as f64,
        found as f64 / nq as f64,
        postings as f64 / nq as f64,
        scored as f64 / nq as f64
    );
}
