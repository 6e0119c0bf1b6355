//! Per-query latency of `Collection::search` on an fvecs file, without the Node binding (and a
//! process to profile with `perf record`):
//! `cargo run --release -p libravdb-engine --example search_latency -- base.fvecs query.fvecs [hnsw|sq8|ivfpq [m]]`
//! (`ROUNDS=N` passes over the queries per point, default 10).
//! HNSW sweeps efSearch (`sq8`: walking 8-bit scalar codes); IVF-PQ (m sub-spaces, default
//! dim / 4) sweeps nprobe.

use std::time::Instant;

use libravdb_engine::{
    BatchOptions, Cancel, CollectionConfig, Database, DbOptions, IndexSpec, QuantSpec, SearchParams,
};

fn read_fvecs(path: &str) -> (usize, Vec<f32>) {
    let bytes = std::fs::read(path).expect("readable fvecs file");
    let dim = i32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let data = bytes
        .chunks_exact(4 * (dim + 1))
        .flat_map(|row| row[4..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())))
        .collect();
    (dim, data)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ((dim, base), (_, queries)) = (read_fvecs(&args[1]), read_fvecs(&args[2]));
    let db = Database::open(None, DbOptions::default()).unwrap();
    let kind = args.get(3).map_or("hnsw", String::as_str);
    let m = args.get(4).map(|m| m.parse().expect("m is an integer"));
    let sq8 = kind == "sq8";
    let spec = IndexSpec { kind: Some(if sq8 { "hnsw" } else { kind }), m, ..Default::default() };
    let quant = QuantSpec { kind: sq8.then_some("scalar"), bits: sq8.then_some(8), ..Default::default() };
    let config = CollectionConfig::from_api_quantized(dim as i64, None, spec, quant).unwrap();
    let c = db.create_collection("bench", config).unwrap();
    let n = base.len() / dim;
    let ids = (0..n).map(|i| i.to_string()).collect();
    c.put_batch(ids, &base, vec![None; n], false, BatchOptions::default(), &Cancel::new()).unwrap();
    // The codes are trained off the write path.
    while sq8 && c.stats().unwrap().quantization != "trained" {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (knob, values) = if kind == "ivfpq" { ("nprobe", [4, 16, 64]) } else { ("ef", [10, 24, 64]) };
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(10);
    for ef in values {
        let params = if kind == "ivfpq" {
            SearchParams { k: 10, nprobe: Some(ef), ..Default::default() }
        } else {
            SearchParams { k: 10, ef_search: Some(ef), ..Default::default() }
        };
        let full = us_per_query(&queries, dim, rounds, |q| {
            std::hint::black_box(c.search(q, params).unwrap());
        });
        // The lean path under `searchSync` / `await search()` for ids and scores.
        let mut scores = [0f32; 10];
        let lean = us_per_query(&queries, dim, rounds, |q| {
            std::hint::black_box(c.search_into(q, params, None, &mut scores).unwrap());
        });
        println!("{knob} {ef:3}: {full:.2} us/query through Collection::search, {lean:.2} through search_into");
    }
}

/// Microseconds per query of `search` over `rounds` passes of the row-major `queries`.
fn us_per_query(queries: &[f32], dim: usize, rounds: usize, mut search: impl FnMut(&[f32])) -> f64 {
    let t = Instant::now();
    for _ in 0..rounds {
        queries.chunks_exact(dim).for_each(&mut search);
    }
    t.elapsed().as_secs_f64() * 1e6 / (rounds * queries.len() / dim) as f64
}
