//! What the allocator setting of `alloc.rs` buys: RSS growth of 100k x 128 inserted in 10k
//! batches into an in-memory collection, for 18 MB of live vectors and ids.
//!
//! ```text
//! cargo run --release -p libravdb-engine --example malloc_threshold
//! LIBRAVDB_TUNE_MALLOC=0 cargo run --release -p libravdb-engine --example malloc_threshold
//! ```

use libravdb_engine::{BatchOptions, Cancel, CollectionConfig, Database, DbOptions};

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map_or(0, |v| v.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0))
    };
    kb("RssAnon:") * 1024
}

fn main() {
    let before = rss();
    let db = Database::open(None, DbOptions::default()).expect("open");
    let config = CollectionConfig::from_api_json(128, None, None, None).expect("config");
    let c = db.create_collection("c", config).expect("create");
    let (n, batch, dim) = (100_000usize, 10_000usize, 128usize);
    let mut x = 1u32;
    for b in 0..n / batch {
        let ids: Vec<String> = (0..batch).map(|i| format!("id-{}", b * batch + i)).collect();
        let vectors: Vec<f32> = (0..batch * dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as f32 / u32::MAX as f32
            })
            .collect();
        c.put_batch(ids, &vectors, vec![None; batch], false, BatchOptions { atomic: true }, &Cancel::new())
            .expect("insert");
    }
    let live = c.stats().expect("stats").memory.held();
    println!(
        "tuned: {} | RssAnon growth {:.1} MB for {:.1} MB held",
        std::env::var("LIBRAVDB_TUNE_MALLOC").map_or("yes", |v| if v == "0" { "no" } else { "yes" }),
        (rss() - before) as f64 / 1e6,
        live as f64 / 1e6
    );
}
