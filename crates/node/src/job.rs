//! One generic libuv task for every async engine call.
//!
//! The closure runs once, in `compute`, on a libuv worker, inside `catch_unwind`, so a panic
//! becomes a rejected promise instead of an aborted process. It is `FnMut` and stays in the
//! task afterwards, so the JS buffers it captured (kept alive by napi references) are
//! released on the JS thread when the task is dropped, not on the worker.

use std::panic::{AssertUnwindSafe, catch_unwind};

use libravdb_engine::Result as EngineResult;
use napi::bindgen_prelude::{AsyncTask, ToNapiValue, TypeName};
use napi::{Env, Task};

use crate::error::{from_panic, to_napi};

type Work<T> = Box<dyn FnMut() -> EngineResult<T> + Send>;

/// An engine call to run off the JS thread.
pub struct Job<T> {
    work: Work<T>,
}

impl<T> Task for Job<T>
where
    T: ToNapiValue + TypeName + Send + 'static,
{
    type Output = T;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<T> {
        match catch_unwind(AssertUnwindSafe(|| (self.work)())) {
            Ok(result) => result.map_err(to_napi),
            Err(payload) => Err(from_panic(payload)),
        }
    }

    fn resolve(&mut self, _env: Env, output: T) -> napi::Result<T> {
        Ok(output)
    }
}

/// Wraps `work` as an `AsyncTask` (a Promise on the JS side).
pub fn job<T, F>(work: F) -> AsyncTask<Job<T>>
where
    T: ToNapiValue + TypeName + Send + 'static,
    F: FnMut() -> EngineResult<T> + Send + 'static,
{
    AsyncTask::new(Job { work: Box::new(work) })
}

/// Runs synchronous engine work with the same error and panic mapping as [`Job`].
pub fn guarded<T>(work: impl FnOnce() -> EngineResult<T>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result.map_err(to_napi),
        Err(payload) => Err(from_panic(payload)),
    }
}
