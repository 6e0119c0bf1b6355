//! `rebuild()`: a new index and quantization built beside the serving ones from the stored
//! vectors, while searches and writes go on; writes made meanwhile reach the new index
//! before an atomic switch.
//!
//! 1. Under the writer lock: mark the state `rebuilding`, which makes every vector change
//!    append a row (no rewrite in place, no reuse of reclaimed rows), so that "the rows
//!    appended since row `n`" is everything the new index has not seen yet.
//! 2. Off the writer lock: train what needs training (quantizer, IVF-PQ) on the rows so far,
//!    then add rows in slices of [`SLICE`], each under the state's read lock (searches go
//!    on; a write waits for one slice at most), until fewer than a slice remain.
//! 3. Under the writer lock and then the state's write lock: add the last rows, swap index,
//!    quantization and configuration, and checkpoint (the manifest names the new
//!    configuration and link table). Then the old link table is deleted.
//!
//! Abort, error or crash before step 3 changes nothing: the new link table directory is
//! deleted (on the next open, after a crash) and the old index goes on serving.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use super::fields::field_dir;
use super::index::{IndexSource, IndexState, links_shift};
use super::quant::{LiveRows, QuantState};
use super::state::SpaceOf;
use super::{Collection, State, Writer};
use crate::cancel::Cancel;
use crate::config::{CollectionConfig, IndexConfig, QuantizationConfig, RecallTarget};
use crate::error::{Error, Result};
use crate::pool::pool;
use libravdb_core::Metric;
use libravdb_storage::ChunkedVectors;

/// Rows added to the new index per hold of the state's read lock.
const SLICE: usize = 4096;

/// How far a running rebuild is: rows added to the new index of the rows there are.
#[derive(Debug, Default)]
pub(crate) struct RebuildProgress {
    pub done: AtomicU64,
    pub total: AtomicU64,
}

/// What [`Collection::rebuild`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct RebuildReport {
    /// The index the collection now searches with.
    pub index: &'static str,
    /// Rows the new index was built over (live and deleted).
    pub rows: usize,
}

/// The index and quantization being built, and how far each has got.
struct Next {
    index: IndexState,
    quant: Option<QuantState>,
    /// Rows registered with the index (HNSW) or considered for it (others).
    added: usize,
    /// Rows an IVF-PQ index filed when it trained (it files every live row then).
    filed: usize,
}

/// The vectors a rebuild reads and which of their rows are live: the unnamed vector's
/// (vectors and the records' id map) or a named field's (its table and row map).
type Source<'a> = (&'a ChunkedVectors, &'a dyn LiveRows);

fn source<'a>(st: &'a State, of: SpaceOf) -> Result<Source<'a>> {
    st.space_of(of).map(|(space, live)| (&space.vectors, live))
}

impl Next {
    /// An empty index and quantization of `config` (files in `dir`, level-0 links in
    /// `links_dir`, loaded into memory when `load`).
    fn open(
        config: &CollectionConfig,
        dir: Option<&std::path::Path>,
        links_dir: Option<PathBuf>,
        load: bool,
    ) -> Result<Next> {
        let index = IndexState::open(IndexSource {
            config,
            dir,
            links_dir,
            generation: 0,
            links_shift: links_shift(config),
            rows: 0,
            read_only: false,
            load,
        })?;
        Ok(Next { index, quant: config.quantization.map(|q| QuantState::new(q, config.metric)), added: 0, filed: 0 })
    }

    /// Trains what waits for data (quantizer, IVF-PQ) on the rows of `source`.
    fn train(&mut self, (vectors, rows): Source, metric: libravdb_core::Metric) {
        let live = rows.live_count();
        if let Some(qs) = &mut self.quant
            && let Some(outcome) = qs.train(vectors, rows, true)
        {
            qs.install(outcome, live);
        }
        if let Some(ivf) = self.index.ivf_mut()
            && let Some(outcome) = ivf.train(vectors, rows, metric, true)
        {
            ivf.install_outcome(outcome, live);
            self.filed = rows.rows();
        }
    }

    /// Brings rows `added..end` of `source` into the new index and codes.
    fn add(&mut self, (vectors, rows): Source, end: usize) -> Result<()> {
        let start = self.added;
        if end <= start {
            return Ok(());
        }
        if let Some(qs) = &mut self.quant {
            for row in qs.encoded_rows().max(start)..end {
                qs.encode_row(row as u32, vectors.row(row as u32));
            }
        }
        self.index.register_rows(end)?;
        let live: Vec<u32> = (start.max(self.filed)..end).map(|r| r as u32).filter(|&r| rows.is_live(r)).collect();
        let index = self.index.active();
        pool().install(|| index.add(vectors, &live));
        self.added = end;
        Ok(())
    }
}

/// Clears the `rebuilding` mark of the target (and a background rebuild's pending mark)
/// however the rebuild ends, and deletes a link table that never served.
struct Cleanup<'a> {
    collection: &'a Collection,
    target: SpaceOf<'a>,
    unused_links: Option<PathBuf>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let mut st = self.collection.state.write();
        match self.target {
            SpaceOf::Default => {
                st.rebuilding = false;
                st.ids.hold_free_rows(false);
                self.collection.rebuild_pending.store(false, Ordering::Release);
            }
            SpaceOf::Field(name) => {
                if let Some(f) = st.field_mut(name) {
                    f.rebuilding = false;
                }
            }
        }
        drop(st);
        if let Some(dir) = self.unused_links.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

impl Collection {
    /// Builds `index` with `quantization` (None: full precision) beside the serving index
    /// from the stored vectors, while searches and writes go on, then switches to it
    /// atomically and persists the new configuration. `cancel` (or an error) before the
    /// switch leaves the collection as it was. Unchanged settings rebuild too: an IVF-PQ
    /// index retrains (nlist, codebooks) for today's size.
    pub fn rebuild(
        &self,
        index: IndexConfig,
        quantization: Option<QuantizationConfig>,
        cancel: &Cancel,
    ) -> Result<RebuildReport> {
        self.check_writable()?;
        self.check_default_vector("rebuild()")?;
        let Some(only) = self.rebuild_lock.try_lock() else {
            return Err(Error::invalid(format!("a rebuild of collection '{}' is already running", self.name)));
        };
        self.rebuild_holding(only, index, quantization, false, cancel)
    }

    /// [`Collection::rebuild`] once its lock is held (`only`, released before the
    /// background checks at the end); `regrowth`: an IVF-PQ index retraining for a growing
    /// collection (its lists sized for twice the records).
    pub(super) fn rebuild_holding(
        &self,
        only: parking_lot::MutexGuard<'_, ()>,
        index: IndexConfig,
        quantization: Option<QuantizationConfig>,
        regrowth: bool,
        cancel: &Cancel,
    ) -> Result<RebuildReport> {
        let current = self.config();
        // A recall target is tuned for afresh on the new index.
        let recall_target = current.recall_target.map(|t| RecallTarget { tuned_at: 0, ..t });
        let config = CollectionConfig { index, quantization, recall_target, ..current };
        config.check_index_and_quantization()?;
        let (links_name, links_dir) = {
            let w = self.writer.lock();
            let name = next_links_name(&w.links_dir);
            let dir = self.dir.as_ref().map(|d| d.join(&name));
            (name, dir)
        };
        let mut cleanup = Cleanup { collection: self, target: SpaceOf::Default, unused_links: links_dir.clone() };
        // The new level-0 table is held as the vectors are (mapped, or loaded).
        let load_links;
        {
            let _w = self.writer.lock();
            self.check_open()?;
            let mut st = self.state.write();
            st.rebuilding = true;
            st.ids.hold_free_rows(true);
            self.set_progress(0, st.ids.rows());
            load_links = !st.space.vectors.is_mapped() && st.space.vectors.is_file_backed();
        }
        let mut next = Next::open(&config, self.dir.as_deref(), links_dir.clone(), load_links)?;
        if let Some(ivf) = next.index.ivf_mut() {
            ivf.for_growth = regrowth;
        }
        self.catch_up(&mut next, SpaceOf::Default, self.metric, cancel)?;
        // The switch: no write runs now; searches wait only for the swap.
        let mut w = self.writer.lock();
        self.check_open()?;
        let old_links = self.dir.as_ref().map(|d| d.join(&w.links_dir));
        let rows = {
            let mut st = self.state.write();
            let rows = st.ids.rows();
            next.add(source(&st, SpaceOf::Default)?, rows)?;
            st.space.index = next.index;
            st.space.quant = next.quant;
            st.rebuilding = false;
            st.ids.hold_free_rows(false);
            self.rebuild_pending.store(false, Ordering::Release);
            rows
        };
        *self.config.write() = config;
        w.links_shift = links_shift(&self.config.read());
        w.links_dir = links_name;
        self.persist_switch(&mut w, &mut cleanup, old_links, rows)?;
        // Whatever still waits for data (a quantizer, IVF-PQ) trains on a later write; an
        // `auto` index rebuilt unpromoted may be due for promotion already. The cleanup runs
        // first: once the lock is released, the next rebuild may start and mark itself.
        drop(w);
        drop(cleanup);
        drop(only);
        self.maybe_rebuild();
        self.maybe_retune();
        Ok(RebuildReport { index: self.read_state()?.space.index.kind(), rows })
    }

    /// After the switch to the new index (`rows` rows): it serves now, so its link table is
    /// never deleted; the checkpoint persists the switch, and only then is the old table
    /// (`old_links`) garbage, deleted by `cleanup` (until then the manifest on disk names it).
    fn persist_switch(
        &self,
        w: &mut Writer,
        cleanup: &mut Cleanup,
        old_links: Option<PathBuf>,
        rows: usize,
    ) -> Result<()> {
        self.set_progress(rows, rows);
        cleanup.unused_links = None;
        self.force_checkpoint_locked(w)?;
        cleanup.unused_links = old_links;
        Ok(())
    }

    /// Trains what `next` waits for, then adds the rows of `target` to it, a slice per
    /// read-lock hold, until less than a slice is left (the caller adds the rest under the
    /// writer lock). Stops at `cancel` or when the collection closes.
    fn catch_up(&self, next: &mut Next, target: SpaceOf, metric: Metric, cancel: &Cancel) -> Result<()> {
        next.train(source(&*self.read_state()?, target)?, metric);
        loop {
            let rows = source(&*self.read_state()?, target)?.1.rows();
            self.set_progress(next.added, rows);
            if rows - next.added <= SLICE {
                break;
            }
            while next.added < rows {
                cancel.check()?;
                self.background.check()?; // closing
                let end = (next.added + SLICE).min(rows);
                next.add(source(&*self.read_state()?, target)?, end)?;
                self.set_progress(end, rows);
            }
        }
        cancel.check()?;
        self.background.check()
    }

    /// [`Collection::rebuild`] of named vector field `name`: its index and quantization become
    /// `field`'s (a configuration of its dimension and metric; an index and quantization
    /// named fields take), built beside the serving ones from the field's vectors while
    /// searches and writes go on, then switched to atomically and checkpointed.
    pub fn rebuild_field(&self, name: &str, field: &CollectionConfig, cancel: &Cancel) -> Result<RebuildReport> {
        self.check_writable()?;
        let Some(only) = self.rebuild_lock.try_lock() else {
            return Err(Error::invalid(format!("a rebuild of collection '{}' is already running", self.name)));
        };
        self.rebuild_field_holding(only, name, field, false, cancel)
    }

    /// [`Collection::rebuild_field`] once its lock is held; `regrowth` as for
    /// [`Collection::rebuild_holding`].
    pub(super) fn rebuild_field_holding(
        &self,
        only: parking_lot::MutexGuard<'_, ()>,
        name: &str,
        field: &CollectionConfig,
        regrowth: bool,
        cancel: &Cancel,
    ) -> Result<RebuildReport> {
        let next_config = self.config().with_vector_field_rebuilt(name, field)?;
        let (i, config) = next_config.vector_field(name)?;
        let config = config.clone();
        let (links_name, links_dir, load_links) = {
            let w = self.writer.lock();
            self.check_open()?;
            let links_name = next_links_name(&w.fields[i].links_dir);
            let links_dir = self.dir.as_ref().map(|d| field_dir(d, name).join(&links_name));
            let mut st = self.state.write();
            let f = &mut st.fields[i];
            f.rebuilding = true;
            self.set_progress(0, f.rows());
            (links_name, links_dir, !f.space.vectors.is_mapped() && f.space.vectors.is_file_backed())
        };
        let mut cleanup = Cleanup { collection: self, target: SpaceOf::Field(name), unused_links: links_dir.clone() };
        let field_files = self.dir.as_ref().map(|d| field_dir(d, name));
        let mut next = Next::open(&config, field_files.as_deref(), links_dir.clone(), load_links)?;
        if let Some(ivf) = next.index.ivf_mut() {
            ivf.for_growth = regrowth;
        }
        self.catch_up(&mut next, SpaceOf::Field(name), config.metric, cancel)?;
        let mut w = self.writer.lock();
        self.check_open()?;
        let old_links = self.dir.as_ref().map(|d| field_dir(d, name).join(&w.fields[i].links_dir));
        let rows = {
            let mut st = self.state.write();
            let rows = st.fields[i].rows();
            next.add(source(&st, SpaceOf::Field(name))?, rows)?;
            let f = &mut st.fields[i];
            f.space.index = next.index;
            f.space.quant = next.quant;
            f.rebuilding = false;
            rows
        };
        *self.config.write() = next_config;
        w.fields[i].rebuilt(&config, links_name);
        self.persist_switch(&mut w, &mut cleanup, old_links, rows)?;
        // As after the unnamed vector's rebuild: an `auto` index rebuilt unpromoted may be due
        // for promotion, a recall target for its tune on the new index.
        drop(w);
        drop(cleanup);
        drop(only);
        self.maybe_rebuild();
        self.maybe_retune();
        Ok(RebuildReport { index: self.read_state()?.field(name).map_or("flat", |f| f.space.index.kind()), rows })
    }

    /// Progress of the running (or last) rebuild: rows added to the new index, and rows in
    /// all (`done <= total`; both grow as writes add rows).
    pub fn rebuild_progress(&self) -> (u64, u64) {
        let total = self.rebuild_progress.total.load(Ordering::Acquire);
        (self.rebuild_progress.done.load(Ordering::Acquire).min(total), total)
    }

    fn set_progress(&self, done: usize, total: usize) {
        self.rebuild_progress.total.store(total as u64, Ordering::Release);
        self.rebuild_progress.done.store(done as u64, Ordering::Release);
    }
}

/// The directory name for the next link table: `links` -> `links-1` -> `links-2` ..
fn next_links_name(current: &str) -> String {
    let n = current.strip_prefix("links-").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    format!("links-{}", n + 1)
}
