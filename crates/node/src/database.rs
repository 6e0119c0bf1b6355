//! `NativeDatabase`: open, collections, close.

use std::path::PathBuf;
use std::sync::Arc;

use libravdb_engine::{CollectionConfig, Database, DbOptions, IndexSpec, QuantSpec};
use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;

use crate::collection::{NativeCollection, NativeVerifyReport};
use crate::job::{Job, guarded, job};

/// Options of `LibraVDB.open`; `undefined` takes the engine default.
#[napi(object)]
pub struct NativeOpenOptions {
    /// fdatasync the WAL after every write batch before acknowledging it (default true).
    pub fsync: Option<bool>,
    /// Checkpoint a collection once its WAL exceeds this many bytes (default 64 MiB).
    pub checkpoint_wal_bytes: Option<f64>,
    /// Open beside another process's writer: no lock, no file changed, writes refused.
    pub read_only: Option<bool>,
}

/// Index options of a collection (`undefined` takes the engine default).
#[napi(object)]
pub struct NativeIndexConfig {
    #[napi(js_name = "type")]
    pub kind: String,
    /// HNSW: neighbours per node on upper levels (level 0 keeps 2m). IVF-PQ: sub-spaces.
    pub m: Option<i64>,
    /// HNSW: beam width while building.
    pub ef_construction: Option<i64>,
    /// HNSW: default beam width of a query.
    pub ef_search: Option<i64>,
    /// IVF-PQ: coarse lists (default: about the square root of the vectors at training).
    pub nlist: Option<i64>,
    /// IVF-PQ: lists probed per query by default.
    pub nprobe: Option<i64>,
    /// IVF-PQ: bits per sub-space code (8 or 4).
    pub bits: Option<i64>,
    /// IVF-PQ: candidates re-ranked on full precision, as a multiple of k (0: none).
    pub rerank: Option<i64>,
    /// auto: live records at which it stops being flat (default 10,000).
    pub flat_threshold: Option<i64>,
    /// auto: `hnsw` (default) or `ivfpq`.
    pub promote_to: Option<String>,
    /// hnsw, ivfpq, auto: recall@10 the default breadth is tuned for.
    pub target_recall: Option<f64>,
}

/// Quantization options of a collection (`undefined` takes the engine default).
#[napi(object)]
pub struct NativeQuantizationConfig {
    #[napi(js_name = "type")]
    pub kind: String,
    pub bits: Option<i64>,
    /// Product quantization: sub-spaces (must divide the dimension).
    pub m: Option<i64>,
    pub train_ratio: Option<f64>,
    pub oversampling: Option<i64>,
}

impl NativeIndexConfig {
    pub(crate) fn spec(&self) -> IndexSpec<'_> {
        IndexSpec {
            kind: Some(self.kind.as_str()),
            m: self.m,
            ef_construction: self.ef_construction,
            ef_search: self.ef_search,
            nlist: self.nlist,
            nprobe: self.nprobe,
            bits: self.bits,
            rerank: self.rerank,
            flat_threshold: self.flat_threshold,
            promote_to: self.promote_to.as_deref(),
            target_recall: self.target_recall,
        }
    }
}

impl NativeQuantizationConfig {
    pub(crate) fn spec(&self) -> QuantSpec<'_> {
        QuantSpec {
            kind: Some(self.kind.as_str()),
            bits: self.bits,
            m: self.m,
            train_ratio: self.train_ratio,
            oversampling: self.oversampling,
        }
    }
}

/// Configuration of a new collection.
#[napi(object)]
pub struct NativeCollectionConfig {
    pub dimension: i64,
    pub metric: Option<String>,
    pub index: Option<NativeIndexConfig>,
    pub quantization: Option<NativeQuantizationConfig>,
    /// Metadata field -> type (`string`, `int`, `float`, `bool`, `date`, `string[]`, `number[]`).
    pub schema: Option<std::collections::HashMap<String, String>>,
}

/// An open database (native handle; use the `LibraVDB` facade).
#[napi]
pub struct NativeDatabase {
    db: Arc<Database>,
}

#[napi]
impl NativeDatabase {
    /// Opens the database at `path` (created if missing), or an in-memory one without a path.
    #[napi(ts_return_type = "Promise<NativeDatabase>")]
    pub fn open(path: Option<String>, options: Option<NativeOpenOptions>) -> AsyncTask<Job<NativeDatabase>> {
        let mut opts = DbOptions::default();
        if let Some(o) = options {
            opts.fsync = o.fsync.unwrap_or(opts.fsync);
            opts.read_only = o.read_only.unwrap_or(opts.read_only);
            if let Some(bytes) = o.checkpoint_wal_bytes {
                opts.checkpoint_wal_bytes = bytes.max(0.0) as u64;
            }
        }
        let path = path.map(PathBuf::from);
        job(move || Ok(NativeDatabase { db: Arc::new(Database::open(path.as_deref(), opts.clone())?) }))
    }

    /// Creates a collection.
    #[napi(ts_return_type = "Promise<NativeCollection>")]
    pub fn create_collection(&self, name: String, config: NativeCollectionConfig) -> AsyncTask<Job<NativeCollection>> {
        let db = self.db.clone();
        job(move || {
            let spec = config.index.as_ref().map_or_else(IndexSpec::default, NativeIndexConfig::spec);
            let quant = config.quantization.as_ref().map_or_else(QuantSpec::default, NativeQuantizationConfig::spec);
            let mut schema: Vec<(String, String)> = config.schema.clone().unwrap_or_default().into_iter().collect();
            schema.sort();
            let cfg = CollectionConfig::from_api_quantized(config.dimension, config.metric.as_deref(), spec, quant)?
                .with_schema(schema)?;
            Ok(NativeCollection::new(db.create_collection(&name, cfg)?))
        })
    }

    /// The collection named `name` (`ERR_NOT_FOUND` if absent).
    #[napi(catch_unwind)]
    pub fn collection(&self, name: String) -> napi::Result<NativeCollection> {
        guarded(|| self.db.collection(&name).map(NativeCollection::new))
    }

    /// Names of all collections, sorted.
    #[napi(catch_unwind)]
    pub fn list_collections(&self) -> napi::Result<Vec<String>> {
        guarded(|| self.db.list_collections())
    }

    /// Deletes a collection and its files.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn drop_collection(&self, name: String) -> AsyncTask<Job<()>> {
        let db = self.db.clone();
        job(move || db.drop_collection(&name))
    }

    /// Read-only handles: picks up what the writer made durable since the last refresh.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn refresh(&self) -> AsyncTask<Job<()>> {
        let db = self.db.clone();
        job(move || db.refresh())
    }

    /// `verify()` of every collection, in one report.
    #[napi(ts_return_type = "Promise<NativeVerifyReport>")]
    pub fn verify(&self) -> AsyncTask<Job<NativeVerifyReport>> {
        let db = self.db.clone();
        job(move || {
            let mut report = NativeVerifyReport::default();
            for (name, r) in db.verify()? {
                report.add(&name, r);
            }
            Ok(report)
        })
    }

    /// Checkpoints every collection and releases files and the directory lock.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Job<()>> {
        let db = self.db.clone();
        job(move || db.close())
    }

    /// Whether the database lives in memory only.
    #[napi(getter)]
    pub fn in_memory(&self) -> bool {
        self.db.is_in_memory()
    }
}
