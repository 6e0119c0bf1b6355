//! A collection: vectors, ids and metadata of one dimension and metric, with its WAL.
//!
//! Concurrency: readers share `state` through a read lock; writers are serialised by the
//! `writer` mutex, validate under a read lock, log to the WAL holding no state lock, then
//! take the write lock only to apply (memory copies), so searches never wait for an fsync.
//!
//! Imports run one way, top to bottom (`scripts/check-layout.js` checks it):
//!
//! Operations, each an `impl Collection` (or `impl State`) block:
//! - [`write`]: batch validation ([`checks`]: what each item must be) and commit; [`apply`]: a logged write applied to the state. [`read`]: get, search, stats; [`lean`]: the lean single-query search.
//!   [`hybrid`]: text / sparse signals and their fusion. [`results`]: a query's candidates
//!   made hits (range bound, MMR). [`planner`]: how a filtered search runs (counting the matches); [`route`]: the plan kinds and a planned search of one vector space.
//! - [`persist`]: manifest, checkpoint and recovery (each concern saved in turn); read-only
//!   refresh. [`verify`]: `verify()`, each concern asked, then manifest, WAL and chunks.
//!   [`backup`]: one collection's part of an online backup. [`changes`]: the change feed,
//!   read from the WAL and the logs checkpoints archive.
//! - [`rebuild`]: `rebuild()`, a new index built beside the serving one, then switched to.
//!   [`auto`]: rebuilds the collection starts itself on a background thread (the `auto`
//!   index's promotion, IVF-PQ retraining, the recall target's re-tuning).
//!   [`tune`]: `tune()`, the smallest search breadth meeting a recall target, measured on
//!   [`queries`] (the sample of recent queries) when there is no better sample.
//! - [`schema`]: fields added to and dropped from the schema of a live collection.
//!   [`named`]: searches of one named vector field.
//! - [`account`]: what the collection holds in memory, and admission against the limits.
//!
//! [`state`]: `State`, the concerns side by side and what coordinates them.
//!
//! Concerns, each owning its in-memory form and its files ([`format::Persistent`]):
//! [`rows`] (ids and metadata spans), [`meta`] (metadata texts), [`payload`] (payload and
//! text indexes), [`index`] (flat, HNSW or IVF-PQ: the one module that matches on the kind;
//! [`ivf`] its training), [`quant`] (quantizer and codes); [`space`] puts vectors, index and
//! codes together as what a search walks; [`fields`] (named vector fields: a space each,
//! tied to the records by a row map).
//!
//! Leaves: [`format`] (version, magics, file names, damage reports), [`params`] (search
//! parameters, signal scores).

mod account;
mod apply;
mod auto;
mod backup;
mod changes;
mod checks;
mod fields;
mod format;
mod hybrid;
mod index;
mod ivf;
mod lean;
mod meta;
mod named;
mod params;
mod payload;
mod persist;
mod planner;
mod quant;
mod queries;
mod read;
mod rebuild;
mod results;
mod route;
mod rows;
mod schema;
mod space;
mod state;
mod tune;
mod verify;
mod write;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use libravdb_storage::Wal;
use parking_lot::{Mutex, RwLock, RwLockReadGuard};

pub use changes::{Change, ChangeCursor, ChangeKind};
pub use format::{Damage, VerifyReport};
pub use hybrid::{Fusion, HybridPlan, HybridQuery, RRF_K, SparseQuery, TextQuery, Weights, fuse};
pub use meta::CacheStats;
pub use params::{SearchParams, SignalScores};
pub use read::{FieldStats, Hits, Record, Stats, parse_filter};
pub use rebuild::RebuildReport;
pub use route::{PlanKind, QueryPlan};
pub(crate) use state::State;
pub use tune::{SampleSource, TuneReport};
pub use write::{BatchOptions, BatchReport, ItemError, UpdateInput};

use crate::config::{CollectionConfig, DbOptions};
use crate::error::{Error, Result};

const OPEN: u8 = 0;
const CLOSED: u8 = 1;
const DROPPED: u8 = 2;
/// A write failed after it was logged: memory may lag the WAL until the database reopens.
const POISONED: u8 = 3;

/// The single-writer side: WAL and checkpoint bookkeeping, guarded by `Collection::writer`.
#[derive(Debug)]
struct Writer {
    /// `None` for in-memory collections.
    wal: Option<Wal>,
    /// Sequence number of the last logged op.
    seq: u64,
    /// Change-feed sequence number of the last record write logged (see `changes.rs`).
    changes: u64,
    /// The first change the WAL holds (`None`: none yet): the name its archive takes.
    wal_first_change: Option<u64>,
    /// Generation of the last checkpoint (names its files).
    generation: u64,
    /// Chunk shifts of the vector and (HNSW) link tables, fixed at creation.
    chunk_shift: u32,
    links_shift: u32,
    /// Name of the HNSW link table's directory (`links`, `links-<n>` after rebuilds).
    links_dir: String,
    /// Checksums of the vector and link chunks as of the last checkpoint (empty before the
    /// first, or from a build that did not write them): what `verify()` checks files against.
    vector_crcs: Vec<u32>,
    link_crcs: Vec<u32>,
    /// The named vector fields' tables and checksums as of the last checkpoint.
    fields: Vec<persist::FieldManifest>,
}

/// A named set of records searchable by vector similarity.
#[derive(Debug)]
pub struct Collection {
    name: String,
    /// Directory of the collection; `None` when in memory.
    dir: Option<PathBuf>,
    /// Dimension, metric and schema are fixed; the index and quantization change with
    /// `rebuild()` (under the writer lock).
    config: RwLock<CollectionConfig>,
    dim: usize,
    metric: libravdb_core::Metric,
    options: DbOptions,
    state: RwLock<State>,
    writer: Mutex<Writer>,
    /// Held for the whole of a `rebuild()` (one at a time; `optimize()` waits for it).
    rebuild_lock: Mutex<()>,
    rebuild_progress: rebuild::RebuildProgress,
    /// This collection as shared by its database (background work holds it).
    me: std::sync::OnceLock<std::sync::Weak<Collection>>,
    /// Cancels background work (a promotion, a retraining, a tune) when the collection closes.
    background: crate::cancel::Cancel,
    /// A background rebuild (an `auto` promotion, an IVF-PQ retraining) is started or running.
    background_rebuild: std::sync::atomic::AtomicBool,
    /// A background rebuild is due and has not switched yet (`stats().indexState` says
    /// `building` from the write that made it due until the new index serves).
    rebuild_pending: std::sync::atomic::AtomicBool,
    /// A uniform sample of the queries searched, for `tune()` (see `queries.rs`).
    recent: queries::QueryLog,
    /// Backups copying this collection now: the WAL's size does not trigger checkpoints.
    backups: std::sync::atomic::AtomicUsize,
    /// A background tune for the recall target is running.
    tuning: std::sync::atomic::AtomicBool,
    /// Why the last background rebuild or tune failed (not retried until the collection reopens).
    index_error: Mutex<Option<String>>,
    /// `Writer::changes`, readable without the writer lock (a feed starting at "now").
    committed_changes: AtomicU64,
    /// Counts schema changes (`schema.rs`, or a read-only refresh that found one): a binding
    /// that caches the schema reads it again when this moved.
    schema_version: AtomicU64,
    /// Bytes in the WAL, readable without the writer lock (`stats()` never waits on a write).
    wal_bytes: Arc<AtomicU64>,
    /// What this collection holds (heap and anonymous memory) as last accounted with the
    /// database's governor (`options.memory`).
    held: AtomicU64,
    /// Bytes of the encoded write being logged now (0 between writes).
    write_buffers: AtomicU64,
    status: AtomicU8,
}

impl Collection {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration as it stands (the index and quantization as last rebuilt).
    pub fn config(&self) -> CollectionConfig {
        self.config.read().clone()
    }

    /// Components per vector (fixed: read without the configuration's lock or a copy).
    pub fn dimension(&self) -> usize {
        self.dim
    }

    /// The metric (fixed, like the dimension).
    pub fn metric(&self) -> libravdb_core::Metric {
        self.metric
    }

    /// How many times the schema changed since this handle opened.
    pub fn schema_version(&self) -> u64 {
        self.schema_version.load(Ordering::Acquire)
    }

    /// Fails unless the collection is open and usable.
    fn check_open(&self) -> Result<()> {
        match self.status.load(Ordering::Acquire) {
            OPEN => Ok(()),
            CLOSED => Err(Error::Closed(format!("collection '{}' belongs to a closed database", self.name))),
            DROPPED => Err(Error::NotFound(format!("collection '{}' was dropped", self.name))),
            _ => Err(Error::Internal(format!(
                "collection '{}' failed while applying a logged write; reopen the database to recover it",
                self.name
            ))),
        }
    }

    /// Fails unless records have an unnamed vector (`what`: the operation, which acts on it).
    fn check_default_vector(&self, what: &str) -> Result<()> {
        if self.dim == 0 {
            return Err(Error::invalid(format!(
                "{what} acts on the unnamed vector; collection '{}' has named vector fields only",
                self.name
            )));
        }
        Ok(())
    }

    /// Fails with `ERR_READ_ONLY` on a read-only handle.
    fn check_writable(&self) -> Result<()> {
        if self.options.read_only {
            return Err(Error::ReadOnly(format!(
                "collection '{}' belongs to a database opened read-only; write through the process that opened it for writing",
                self.name
            )));
        }
        Ok(())
    }

    /// The state for reading, once the collection is known to be open.
    fn read_state(&self) -> Result<RwLockReadGuard<'_, State>> {
        self.check_open()?;
        let st = self.state.read();
        self.check_open()?; // closed while we waited for the lock
        Ok(st)
    }

    /// Checkpoints (when file-backed) and releases memory and files; later calls fail with
    /// `ERR_CLOSED` (`dropped: false`) or `ERR_NOT_FOUND` (`dropped: true`).
    pub(crate) fn close(&self, dropped: bool) -> Result<()> {
        // Stop rebuilds (background or not) and wait for them: their next slice sees the flag.
        self.background.cancel();
        drop(self.rebuild_lock.lock());
        let mut w = self.writer.lock();
        let result = if self.status.load(Ordering::Acquire) == OPEN && !dropped {
            self.checkpoint_locked(&mut w)
        } else {
            Ok(())
        };
        self.status.store(if dropped { DROPPED } else { CLOSED }, Ordering::Release);
        w.wal = None;
        let mut st = self.state.write();
        *st = State::empty(self.dimension(), w.chunk_shift)?;
        self.unaccount();
        result
    }
}

#[cfg(test)]
mod tests;
