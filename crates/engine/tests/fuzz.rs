//! Mutation fuzzing of every decoder, on stable Rust: real files written by the engine (WAL,
//! manifest, rows, graph, quantizer, payload-index and IVF segments) are damaged (bit flips,
//! byte stores, truncations, splices, huge length fields, appended junk) and opened. Half
//! the cases re-seal the damaged file's checksums, so the damage reaches the decoders behind
//! them instead of stopping at the checksum. Filter JSON is fuzzed the same way.
//!
//! Every case must end in `Ok` or a typed error: no panic, and no single allocation above
//! [`ALLOC_LIMIT`] (a length field of 2^32 must not allocate 4 GB), which this binary's
//! global allocator records.
//!
//! `cargo test -p libravdb-engine --test fuzz` runs 1,500 cases (seconds); set
//! `LIBRAVDB_FUZZ_CASES=100000` (and `LIBRAVDB_FUZZ_SEED`) for a long run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use libravdb_engine::{
    BatchOptions, Cancel, CollectionConfig, Database, DbOptions, IndexSpec, MetadataChange, QuantSpec, SearchParams,
    UpdateInput, parse_filter,
};
use rand::{RngExt, SeedableRng, rngs::StdRng};

/// Largest single allocation a decoder may make on these small files.
const ALLOC_LIMIT: usize = 256 << 20;

struct Recording;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

fn vectors(rng: &mut StdRng, n: usize, dim: usize) -> Vec<f32> {
    (0..n * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// One database per configuration: checkpointed, then written to again and left unclosed, so
/// that both the segments and the WAL hold records of every kind.
fn build(root: &Path) -> Vec<PathBuf> {
    let mut rng = StdRng::seed_from_u64(7);
    let hnsw = IndexSpec { kind: Some("hnsw"), m: Some(8), ..Default::default() };
    let sq8 = QuantSpec { kind: Some("scalar"), bits: Some(8), ..Default::default() };
    let pq = QuantSpec { kind: Some("product"), bits: Some(4), m: Some(2), ..Default::default() };
    let configs: Vec<(&str, CollectionConfig, usize)> = vec![
        (
            "flat-schema",
            CollectionConfig::from_api(4, Some("l2"), IndexSpec::default())
                .unwrap()
                .with_schema(vec![
                    ("n".into(), "int".into()),
                    ("tag".into(), "string".into()),
                    ("tags".into(), "string[]".into()),
                ])
                .unwrap(),
            200,
        ),
        ("hnsw-sq8", CollectionConfig::from_api_quantized(4, Some("cosine"), hnsw, sq8).unwrap(), 1100),
        ("flat-pq", CollectionConfig::from_api_quantized(4, Some("l2"), IndexSpec::default(), pq).unwrap(), 1100),
        (
            "ivfpq",
            CollectionConfig::from_api(4, Some("l2"), IndexSpec { kind: Some("ivfpq"), ..Default::default() }).unwrap(),
            10_000,
        ),
    ];
    let mut dirs = Vec::new();
    for (name, config, n) in configs {
        let dir = root.join(name);
        let put = |c: &libravdb_engine::Collection, from: usize, to: usize, v: &[f32]| {
            let ids = (from..to).map(|i| format!("id-{i}")).collect();
            let meta = (from..to)
                .map(|i| Some(format!(r#"{{"n":{i},"tag":"t{}","tags":["a","b{}"]}}"#, i % 5, i % 3)))
                .collect();
            c.put_batch(ids, v, meta, false, BatchOptions::default(), &Cancel::new()).unwrap();
        };
        {
            let db = Database::open(Some(&dir), DbOptions::default()).unwrap();
            let c = db.create_collection("c", config).unwrap();
            put(&c, 0, n, &vectors(&mut rng, n, 4));
            c.delete_batch(vec!["id-1".into(), "id-2".into()], BatchOptions::default(), &Cancel::new()).unwrap();
            db.close().unwrap();
        }
        let db = Database::open(Some(&dir), DbOptions::default()).unwrap();
        let c = db.collection("c").unwrap();
        put(&c, n, n + 20, &vectors(&mut rng, 20, 4));
        let update = UpdateInput {
            id: "id-5".into(),
            vector: Some(vec![0.5; 4]),
            metadata: MetadataChange::Clear,
            named: Vec::new(),
        };
        c.update_batch(vec![update], BatchOptions::default(), &Cancel::new()).unwrap();
        c.delete_batch(vec!["id-7".into()], BatchOptions::default(), &Cancel::new()).unwrap();
        std::mem::forget(db); // as if the process died: the WAL keeps the last writes
        std::fs::remove_file(dir.join("LOCK")).unwrap();
        dirs.push(dir);
    }
    dirs
}

/// Re-seals the checksums of a damaged file where its layout is known, so the damage reaches
/// the decoder: segment header CRC, or every WAL record's header and payload CRC.
fn reseal(name: &str, bytes: &mut [u8]) {
    if name == "wal.log" {
        let mut pos = 8;
        while pos + 12 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            let Some(end) = (pos + 12).checked_add(len).filter(|&e| e <= bytes.len()) else { break };
            let crc = crc32fast::hash(&bytes[pos + 12..end]);
            bytes[pos + 4..pos + 8].copy_from_slice(&crc.to_le_bytes());
            let header = crc32fast::hash(&bytes[pos..pos + 8]);
            bytes[pos + 8..pos + 12].copy_from_slice(&header.to_le_bytes());
            pos = end;
        }
    } else if bytes.len() >= 24 {
        let body_len = (bytes.len() - 24) as u64;
        bytes[12..20].copy_from_slice(&body_len.to_le_bytes());
        let crc = crc32fast::hash(&bytes[24..]);
        bytes[20..24].copy_from_slice(&crc.to_le_bytes());
    }
}

fn mutate(rng: &mut StdRng, bytes: &mut Vec<u8>) -> &'static str {
    if bytes.is_empty() {
        bytes.push(rng.random());
        return "grow";
    }
    let at = rng.random_range(0..bytes.len());
    match rng.random_range(0..7) {
        0 => {
            bytes[at] ^= 1 << rng.random_range(0..8);
            "bit flip"
        }
        1 => {
            bytes[at] = [0, 0xff, 0x80, 0x7f][rng.random_range(0..4)];
            "byte store"
        }
        2 => {
            bytes.truncate(at);
            "truncation"
        }
        3 => {
            let len = rng.random_range(1..=64.min(bytes.len() - at));
            let chunk = bytes[at..at + len].to_vec();
            let to = rng.random_range(0..bytes.len());
            bytes.splice(to..to, chunk);
            "splice"
        }
        4 => {
            // A length field: any aligned u32 or u64 set to a huge value.
            let at = at & !3;
            let big: [u64; 4] = [u32::MAX as u64, 1 << 31, u64::MAX, 1 << 40];
            let v = big[rng.random_range(0..4)];
            let width = if rng.random_bool(0.5) { 4 } else { 8 };
            let end = (at + width).min(bytes.len());
            bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
            "huge length"
        }
        5 => {
            let n = rng.random_range(1..64);
            bytes.extend((0..n).map(|_| rng.random::<u8>()));
            "appended junk"
        }
        _ => {
            let len = rng.random_range(1..=16.min(bytes.len() - at));
            bytes.drain(at..at + len);
            "deletion"
        }
    }
}

/// Opens the database and, when that works, reads through it as a user would.
fn exercise(dir: &Path) {
    let Ok(db) = Database::open(Some(dir), DbOptions::default()) else { return };
    if let Ok(c) = db.collection("c") {
        let _ = c.count();
        let _ = c.stats();
        let _ = c.get("id-3");
        let p = SearchParams { k: 5, include_metadata: true, ..Default::default() };
        let _ = c.search(&[0.1, 0.2, 0.3, 0.4], p);
        if let Ok(f) = parse_filter(r#"{"field":"n","op":"gte","value":3}"#) {
            let _ = c.search_filtered(&[0.1, 0.2, 0.3, 0.4], p, Some(&f));
        }
        let _ = c.scan_page(None, 50, None, true);
    }
    let _ = db.close();
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let c = dir.join("collections/c");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&c)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "tmp"))
        .collect();
    out.sort();
    out
}

#[test]
fn damaged_files_never_panic_or_over_allocate() {
    let cases: usize = std::env::var("LIBRAVDB_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1500);
    let seed: u64 = std::env::var("LIBRAVDB_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let tmp = tempfile::tempdir().unwrap();
    let dbs = build(&tmp.path().join("src"));
    // Pristine copies of every file, restored after each case (opening may rewrite them).
    let pristine: Vec<Vec<(PathBuf, Vec<u8>)>> =
        dbs.iter().map(|d| files(d).into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()).collect();
    for set in &pristine {
        let kinds: Vec<String> =
            set.iter().map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert!(kinds.iter().any(|k| k == "wal.log") && kinds.iter().any(|k| k.starts_with("rows-")), "{kinds:?}");
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut outcomes = [0usize; 2];
    for case in 0..cases {
        let d = rng.random_range(0..dbs.len());
        let (path, original) = &pristine[d][rng.random_range(0..pristine[d].len())];
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut bytes = original.clone();
        let mut what = Vec::new();
        for _ in 0..rng.random_range(1..=3) {
            what.push(mutate(&mut rng, &mut bytes));
        }
        let sealed = rng.random_bool(0.5);
        if sealed {
            reseal(&name, &mut bytes);
        }
        std::fs::write(path, &bytes).unwrap();
        LARGEST.store(0, Ordering::Relaxed);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let opened = Database::open(Some(&dbs[d]), DbOptions::default()).map(drop).is_ok();
            exercise(&dbs[d]);
            opened
        }));
        let largest = LARGEST.load(Ordering::Relaxed);
        let label = format!("case {case} (seed {seed}): {name} of {}, {what:?}, resealed {sealed}", dbs[d].display());
        let opened = outcome.unwrap_or_else(|_| panic!("panicked: {label}"));
        assert!(largest <= ALLOC_LIMIT, "allocated {largest} bytes at once: {label}");
        outcomes[opened as usize] += 1;
        // Restore the whole database: opening may have rewritten or removed files.
        for (p, b) in &pristine[d] {
            std::fs::write(p, b).unwrap();
        }
        for p in files(&dbs[d]) {
            if !pristine[d].iter().any(|(q, _)| q == &p) {
                std::fs::remove_file(p).unwrap();
            }
        }
        let _ = std::fs::remove_file(dbs[d].join("LOCK"));
    }
    println!("{cases} cases: {} refused with a typed error, {} opened", outcomes[0], outcomes[1]);
    assert!(outcomes[0] > cases / 4, "most damage must be detected: {outcomes:?}");
}

#[test]
fn damaged_filter_json_never_panics() {
    let filters = [
        r#"{"and":[{"field":"category","op":"eq","value":"book"},{"or":[{"field":"price","op":"between","value":[5,20]},{"not":{"field":"tags","op":"contains","value":"sale"}}]}]}"#,
        r#"{"field":"year","op":"in","value":[2020,2021,null,true,"x"]}"#,
        r#"{"field":"a.b.c","op":"exists","value":false}"#,
    ];
    let mut rng = StdRng::seed_from_u64(3);
    let mut rejected = 0;
    for case in 0..5000 {
        let mut bytes = filters[case % filters.len()].as_bytes().to_vec();
        for _ in 0..rng.random_range(1..=4) {
            mutate(&mut rng, &mut bytes);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let parsed = catch_unwind(|| parse_filter(&text).is_ok()).unwrap_or_else(|_| panic!("panicked on {text}"));
        rejected += usize::from(!parsed);
    }
    assert!(rejected > 1000);
}
