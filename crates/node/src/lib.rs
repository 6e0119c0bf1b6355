//! libravdb-node: the napi-rs glue between `libravdb-engine` and the TypeScript facade.
//!
//! Conversions, task structs and error mapping only; decisions belong in the engine.
//! Heavy calls return an `AsyncTask` whose work runs on the libuv pool ([`job`]); getters
//! and O(dim) work stay synchronous.

mod collection;
mod database;
mod error;
mod job;
mod values;

use libravdb_engine::{Cancel, ErrorCode};
use napi_derive::napi;

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
}

impl CancelToken {
    pub(crate) fn flag(token: Option<&CancelToken>) -> Cancel {
        token.map(|t| t.inner.clone()).unwrap_or_default()
    }
}
