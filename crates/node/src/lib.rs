//! libravdb-node: the napi-rs glue between `libravdb-engine` and the TypeScript facade.
//!
//! Conversions, task structs and error mapping only; decisions belong in the engine.
//! Heavy calls return an `AsyncTask` whose work runs on the libuv pool ([`job`]); getters
//! and O(dim) work stay synchronous.

mod changes;
mod collection;
mod database;
mod error;
mod fields;
mod job;
mod values;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use libravdb_engine::{Cancel, ErrorCode};
use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;

use crate::fields::NativeVectorField;
use crate::job::{Job, job};
use crate::values::NativeFileInfo;

pub use collection::NativeCollection;
pub use database::NativeDatabase;

/// Every error code the engine can raise (checked against `src/errors.ts` by a test).
#[napi]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL.iter().map(|c| c.as_str().to_owned()).collect()
}

/// Every index and quantization type with its options and their defaults, as JSON (the
/// facade checks option names against it and shows it as `LibraVDB.defaults`).
#[napi]
pub fn config_options() -> String {
    libravdb_engine::config::options_json()
}

/// What the Parquet file at `path` holds: rows, vector dimension and, for a file an export
/// wrote, the metric and schema (JSON of `[name, type]` pairs).
#[napi(ts_return_type = "Promise<NativeFileInfo>")]
pub fn parquet_file_info(path: String) -> AsyncTask<Job<NativeFileInfo>> {
    job(move || {
        let info = libravdb_interchange::file_info(std::path::Path::new(&path))?;
        Ok(NativeFileInfo {
            rows: info.rows as f64,
            dimension: info.dimension as u32,
            metric: info.metric,
            schema: serde_json::to_string(&info.schema).expect("pairs of strings serialise"),
            index: info.index,
            quantization: info.quantization,
            vectors: info
                .vectors
                .into_iter()
                .map(|f| NativeVectorField {
                    name: f.name,
                    dimension: f.dimension as i64,
                    metric: Some(f.metric),
                    index: Some(f.index),
                    quantization: f.quantization,
                })
                .collect(),
        })
    })
}

/// The instruction set the distance kernels were compiled for on this CPU.
#[napi]
pub fn simd_level() -> String {
    libravdb_engine::kernels_isa().to_owned()
}

/// A cancellation flag shared with running native work. The facade calls `cancel()` when the
/// user's `AbortSignal` fires; engine loops check it between chunks, before committing.
#[napi]
#[derive(Default)]
pub struct CancelToken {
    inner: Cancel,
    /// Items done so far by the work this token was passed to (exports and imports count
    /// records), read by JS to report progress.
    done: Arc<AtomicU64>,
}

#[napi]
impl CancelToken {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation of the work this token was passed to.
    #[napi]
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    /// Items the work has done so far (records exported or imported).
    #[napi]
    pub fn progress(&self) -> f64 {
        self.done.load(Ordering::Relaxed) as f64
    }
}

impl CancelToken {
    /// The counter the work updates (a fresh one when there is no token).
    pub(crate) fn counter(token: Option<&CancelToken>) -> Arc<AtomicU64> {
        token.map(|t| t.done.clone()).unwrap_or_default()
    }

    pub(crate) fn flag(token: Option<&CancelToken>) -> Cancel {
        token.map(|t| t.inner.clone()).unwrap_or_default()
    }
}
