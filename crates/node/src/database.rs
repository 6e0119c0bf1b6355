//! `NativeDatabase`: open, collections, close.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libravdb_engine::memory::DEFAULT_PRESSURE;
use libravdb_engine::{CollectionConfig, Database, DbOptions, MemoryGovernor, MmapMode};
use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;

use crate::CancelToken;
use crate::collection::NativeCollection;
use crate::fields::NativeVectorField;
use crate::job::{Job, guarded, job};
use crate::values::{NativeBackupReport, NativeMemoryUsage, NativeVerifyReport};

/// Options of `LibraVDB.open`; `undefined` takes the engine default.
#[napi(object)]
pub struct NativeOpenOptions {
    /// fdatasync the WAL after every write batch before acknowledging it (default true).
    pub fsync: Option<bool>,
    /// Checkpoint a collection once its WAL exceeds this many bytes (default 64 MiB).
    pub checkpoint_wal_bytes: Option<f64>,
    /// Open beside another process's writer: no lock, no file changed, writes refused.
    pub read_only: Option<bool>,
    /// Bytes of heap and anonymous memory the database may hold (none: unlimited).
    pub memory_limit: Option<f64>,
    /// Share of the limit past which the database is under pressure (default 0.8).
    pub memory_pressure: Option<f64>,
    /// Bytes of metadata texts each on-disk collection caches (default 16 MiB).
    pub metadata_cache_bytes: Option<f64>,
    /// Query vectors each collection keeps for `tune()` (default 1000; 0: none).
    pub query_sample: Option<u32>,
    /// Bytes of checkpointed logs each collection keeps for its change feed (default 256 MiB).
    pub change_retention_bytes: Option<f64>,
    /// Milliseconds each collection keeps checkpointed logs for its change feed (default 24 h).
    pub change_retention_ms: Option<f64>,
}

/// Configuration of a new collection.
#[napi(object)]
pub struct NativeCollectionConfig {
    /// The unnamed vector's dimension (0 with `vectors`: named fields only).
    pub dimension: i64,
    /// Named vector fields, in declaration order.
    pub vectors: Option<Vec<NativeVectorField>>,
    pub metric: Option<String>,
    /// The `index` object as JSON text (its options are the engine's to check).
    pub index: Option<String>,
    /// The `quantization` object as JSON text.
    pub quantization: Option<String>,
    /// Metadata field -> type (`string`, `int`, `float`, `bool`, `date`, `string[]`, `number[]`).
    pub schema: Option<std::collections::HashMap<String, String>>,
    /// Text field -> its options as JSON (`language`, `stemming`, `stopWords`, `k1`, `b`).
    pub text_options: Option<std::collections::HashMap<String, String>>,
    /// This collection's own memory limit in bytes.
    pub memory_limit: Option<f64>,
    /// `storage.mmap`: `"true"`, `"false"` or `"auto"`.
    pub mmap: Option<String>,
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
        let path = path.map(PathBuf::from);
        job(move || {
            let mut opts = DbOptions::default();
            if let Some(o) = &options {
                opts.fsync = o.fsync.unwrap_or(opts.fsync);
                opts.read_only = o.read_only.unwrap_or(opts.read_only);
                if let Some(bytes) = o.checkpoint_wal_bytes {
                    opts.checkpoint_wal_bytes = bytes.max(0.0) as u64;
                }
                if let Some(bytes) = o.metadata_cache_bytes {
                    opts.metadata_cache_bytes = bytes.max(0.0) as u64;
                }
                if let Some(n) = o.query_sample {
                    opts.query_sample = n as usize;
                }
                if let Some(bytes) = o.change_retention_bytes {
                    opts.change_retention.bytes = bytes.max(0.0) as u64;
                }
                if let Some(ms) = o.change_retention_ms {
                    opts.change_retention.ms = ms.max(0.0) as u64;
                }
                let limit = o.memory_limit.map(|l| l.max(0.0) as u64);
                let pressure = o.memory_pressure.unwrap_or(DEFAULT_PRESSURE);
                opts.memory = Arc::new(MemoryGovernor::new(limit, pressure)?);
            }
            Ok(NativeDatabase { db: Arc::new(Database::open(path.as_deref(), opts)?) })
        })
    }

    /// Creates a collection.
    #[napi(ts_return_type = "Promise<NativeCollection>")]
    pub fn create_collection(&self, name: String, config: NativeCollectionConfig) -> AsyncTask<Job<NativeCollection>> {
        let db = self.db.clone();
        job(move || {
            let mut schema: Vec<(String, String)> = config.schema.clone().unwrap_or_default().into_iter().collect();
            schema.sort();
            let base = match &config.vectors {
                Some(fields) => CollectionConfig::named(
                    fields.iter().map(NativeVectorField::config).collect::<libravdb_engine::Result<Vec<_>>>()?,
                )?,
                None => CollectionConfig::from_api_json(
                    config.dimension,
                    config.metric.as_deref(),
                    config.index.as_deref(),
                    config.quantization.as_deref(),
                )?,
            };
            let cfg = base
                .with_schema(schema)?
                .with_text_options(config.text_options.clone().unwrap_or_default().into_iter().collect())?
                .with_memory_limit(config.memory_limit.map(|l| l.max(0.0) as u64))?
                .with_mmap(config.mmap.as_deref().map_or(Ok(MmapMode::Auto), MmapMode::parse)?);
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

    /// Writes a consistent copy of the database into `dest` while reads and writes go on
    /// (see the engine's `Database::backup`); the token counts bytes written.
    #[napi(ts_return_type = "Promise<NativeBackupReport>")]
    pub fn backup(&self, dest: String, cancel: Option<&CancelToken>) -> AsyncTask<Job<NativeBackupReport>> {
        let (db, done, cancel) = (self.db.clone(), CancelToken::counter(cancel), CancelToken::flag(cancel));
        job(move || Ok(db.backup(Path::new(&dest), &done, &cancel)?.into()))
    }

    /// Checkpoints every collection and releases files and the directory lock.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Job<()>> {
        let db = self.db.clone();
        job(move || db.close())
    }

    /// What every collection holds, by structure, and the limit.
    #[napi(catch_unwind)]
    pub fn memory_usage(&self) -> napi::Result<NativeMemoryUsage> {
        guarded(|| Ok(self.db.memory_usage()?.into()))
    }

    /// Sets (a number of bytes) or removes (`null`) the memory limit.
    #[napi(catch_unwind)]
    pub fn set_memory_limit(&self, limit: Option<f64>) -> napi::Result<()> {
        guarded(|| self.db.set_memory_limit(limit.map(|l| l.max(0.0) as u64)))
    }

    /// Whether the held memory crossed the pressure threshold since the last call.
    #[napi]
    pub fn take_pressure_crossing(&self) -> bool {
        self.db.take_pressure_crossing()
    }

    /// Empties caches and releases resident pages of mapped files in every collection.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn relieve_memory(&self) -> AsyncTask<Job<()>> {
        let db = self.db.clone();
        job(move || {
            db.relieve_memory();
            Ok(())
        })
    }

    /// Whether the database lives in memory only.
    #[napi(getter)]
    pub fn in_memory(&self) -> bool {
        self.db.is_in_memory()
    }
}
