use std::path::{Path, PathBuf};

use std::collections::HashSet;

use libravdb_engine::{
    BatchOptions, Cancel, Collection, CollectionConfig, Database, DbOptions, Hits, IndexSpec, SearchParams,
};
use rand::{RngExt, SeedableRng, rngs::StdRng};

pub fn config(dim: i64, metric: &str) -> CollectionConfig {
    CollectionConfig::from_api(dim, Some(metric), IndexSpec::default()).unwrap()
}

pub fn hnsw_config(dim: i64, metric: &str) -> CollectionConfig {
    CollectionConfig::from_api(dim, Some(metric), IndexSpec { kind: Some("hnsw"), ..Default::default() }).unwrap()
}

pub fn open(path: &Path) -> Database {
    Database::open(Some(path), DbOptions::default()).unwrap()
}

pub fn random_vectors(seed: u64, n: usize, dim: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// `n` vectors around `centres` random centres (uniform in [0, 10)^dim, spread ±1).
pub fn clustered_vectors(seed: u64, n: usize, dim: usize, centres: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let c: Vec<f32> = (0..centres * dim).map(|_| rng.random_range(0.0f32..10.0)).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let k = rng.random_range(0..centres);
        out.extend((0..dim).map(|j| c[k * dim + j] + rng.random_range(-1.0f32..1.0)));
    }
    out
}

/// Inserts `n` records `prefix-i` with metadata `{"i":i}`; panics if any fails.
pub fn insert(c: &Collection, prefix: &str, vectors: &[f32]) {
    let n = vectors.len() / c.config().dimension;
    let ids = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let meta = (0..n).map(|i| Some(format!("{{\"i\":{i}}}"))).collect();
    let r = c.put_batch(ids, vectors, meta, false, BatchOptions::default(), &Cancel::new()).unwrap();
    assert!(r.applied && r.failed == 0, "{r:?}");
}

pub fn datasets() -> PathBuf {
    match std::env::var_os("LIBRAVDB_DATASETS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"),
    }
}

/// Reads an fvecs/ivecs file: each row is an i32 count followed by that many 4-byte values.
pub fn read_vecs(path: &Path) -> (usize, Vec<[u8; 4]>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let dim = i32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let mut out = Vec::new();
    for row in bytes.chunks_exact(4 * (dim + 1)) {
        out.extend(row[4..].chunks_exact(4).map(|b| <[u8; 4]>::try_from(b).unwrap()));
    }
    (dim, out)
}

/// Recall@k of `got` against `want`: both hold k hits per query (columnar), same queries.
pub fn recall_at(got: &Hits, want: &Hits, k: usize) -> f64 {
    let nq = want.counts.len();
    let mut hit = 0;
    for q in 0..nq {
        let truth: HashSet<&String> = want.ids[q * k..(q + 1) * k].iter().collect();
        hit += got.ids[q * k..(q + 1) * k].iter().filter(|id| truth.contains(id)).count();
    }
    hit as f64 / (nq * k) as f64
}

/// A dataset of `../shared/datasets`: base vectors, held-out queries and their exact
/// neighbours (base rows, nearest first, `gt_k` per query).
pub struct Dataset {
    pub dim: usize,
    pub base: Vec<f32>,
    pub queries: Vec<f32>,
    pub gt_k: usize,
    pub gt: Vec<i32>,
}

pub fn dataset(name: &str) -> Dataset {
    let dir = datasets().join(name);
    let f32s = |v: Vec<[u8; 4]>| v.into_iter().map(f32::from_le_bytes).collect::<Vec<f32>>();
    let (dim, base) = read_vecs(&dir.join("base.fvecs"));
    let (_, queries) = read_vecs(&dir.join("query.fvecs"));
    let (gt_k, gt) = read_vecs(&dir.join("groundtruth.ivecs"));
    Dataset {
        dim,
        base: f32s(base),
        queries: f32s(queries),
        gt_k,
        gt: gt.into_iter().map(i32::from_le_bytes).collect(),
    }
}

/// Recall@10 of the collection's search with `params` (k is 10) over the dataset's held-out
/// queries `from..to`.
pub fn recall_over(c: &Collection, d: &Dataset, (from, to): (usize, usize), params: SearchParams) -> f64 {
    let hits = c.search(&d.queries[from * d.dim..to * d.dim], SearchParams { k: 10, ..params }).unwrap();
    let mut found = 0;
    for (i, q) in (from..to).enumerate() {
        let truth: Vec<String> = d.gt[q * d.gt_k..q * d.gt_k + 10].iter().map(|i| format!("v-{i}")).collect();
        found += hits.ids[i * 10..i * 10 + 10].iter().filter(|id| truth.contains(id)).count();
    }
    found as f64 / ((to - from) * 10) as f64
}

/// Recall@10 over all the dataset's held-out queries at efSearch `ef` (None: the
/// collection's own).
pub fn held_out_recall(c: &Collection, d: &Dataset, ef: Option<usize>) -> f64 {
    recall_over(c, d, (0, d.queries.len() / d.dim), SearchParams { ef_search: ef, ..Default::default() })
}
