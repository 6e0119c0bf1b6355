//! The change feed's reader: a cursor the facade's `changes()` iterator pulls batches from.

use std::sync::{Arc, Mutex};

use libravdb_engine::{ChangeCursor, Collection};
use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi_derive::napi;

use crate::job::{Job, job};

/// One committed write of one record, from the change feed (`libravdb_engine::Change`).
#[napi(object)]
pub struct NativeChange {
    pub seq: f64,
    /// `insert`, `update` or `delete`.
    pub op: String,
    pub id: String,
    /// The vector after the change; absent for a delete and an update that kept it.
    pub vector: Option<Float32Array>,
    /// Whether the change set the metadata (`metadata` absent then means: cleared).
    pub has_metadata: bool,
    /// The metadata JSON after the change.
    pub metadata: Option<String>,
    /// Named vector fields the change set (`vector`) or removed (none); see
    /// `libravdb_engine::Change::named`.
    pub named: Vec<NativeFieldChange>,
    /// The change carries the whole record; see `libravdb_engine::Change::whole`.
    pub whole: bool,
}

/// A named vector field of a change.
#[napi(object)]
pub struct NativeFieldChange {
    pub field: String,
    pub vector: Option<Float32Array>,
}

impl From<libravdb_engine::Change> for NativeChange {
    fn from(c: libravdb_engine::Change) -> Self {
        Self {
            seq: c.seq as f64,
            op: c.kind.as_str().to_string(),
            id: c.id,
            vector: c.vector.map(Float32Array::new),
            has_metadata: c.metadata.is_some(),
            metadata: c.metadata.flatten(),
            named: c
                .named
                .into_iter()
                .map(|(field, v)| NativeFieldChange { field, vector: v.map(Float32Array::new) })
                .collect(),
            whole: c.whole,
        }
    }
}

/// A position in a collection's change feed (native; use `Collection.changes()`).
#[napi]
pub struct NativeChangeReader {
    c: Arc<Collection>,
    cursor: Arc<Mutex<ChangeCursor>>,
}

impl NativeChangeReader {
    /// A reader after change `since` (`None`: after the latest; `oldest`: before the oldest
    /// change kept), off the JS thread (a read-only handle reads the WAL to find the latest).
    pub(crate) fn open(c: Arc<Collection>, since: Option<f64>, oldest: bool) -> AsyncTask<Job<NativeChangeReader>> {
        job(move || {
            if oldest {
                let cursor = c.oldest_change_cursor()?;
                return Ok(NativeChangeReader { c: c.clone(), cursor: Arc::new(Mutex::new(cursor)) });
            }
            let since = match since {
                Some(s) if !(s >= 0.0 && s.fract() == 0.0 && s <= (1u64 << 53) as f64) => {
                    return Err(libravdb_engine::Error::invalid(format!(
                        "since must be a sequence number (an integer >= 0) or 'now', got {s}"
                    )));
                }
                s => s.map(|s| s as u64),
            };
            let cursor = c.change_cursor(since)?;
            Ok(NativeChangeReader { c: c.clone(), cursor: Arc::new(Mutex::new(cursor)) })
        })
    }
}

#[napi]
impl NativeChangeReader {
    /// Up to `max` changes after the last one read; an empty array when there are none yet.
    #[napi(ts_return_type = "Promise<NativeChange[]>")]
    pub fn read(&self, max: u32) -> AsyncTask<Job<Vec<NativeChange>>> {
        let (c, cursor) = (self.c.clone(), self.cursor.clone());
        job(move || {
            // (A read that panicked left the cursor where it was: go on from there.)
            let mut cursor = cursor.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            Ok(c.read_changes(&mut cursor, max.max(1) as usize)?.into_iter().map(NativeChange::from).collect())
        })
    }
}
