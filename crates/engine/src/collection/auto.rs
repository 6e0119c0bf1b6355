//! Rebuilds a collection starts by itself, on a background thread, off the write path, each
//! by [`Collection::rebuild`] (built beside the serving index, switched to atomically):
//! - the `auto` index's promotion: exact (flat) while the collection is small; once it holds
//!   `flatThreshold` live records, the target index is built. A crash during the build
//!   reopens on the flat index and starts the build again.
//! - IVF-PQ regrowth: an index that chose its own `nlist` retrains once its lists hold twice
//!   what about the square root of the records would (2 x nlist^2), with lists for twice the
//!   records (see `ivf.rs`), so a collection filled in batches does not keep the few lists its
//!   first batch gave it.
//!
//! A named field's `auto` index and IVF-PQ regrowth work the same way on the field's records,
//! by [`Collection::rebuild_field`] (one rebuild at a time, the unnamed vector's first).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use super::Collection;
use super::fields::VectorField;
use super::space::VectorSpace;
use crate::config::{AutoParams, CollectionConfig, IndexConfig};
use crate::error::Error;

impl Collection {
    /// Shares a new or opened collection, which lets it start its own background work.
    pub(crate) fn shared(self) -> Arc<Collection> {
        let c = Arc::new(self);
        let _ = c.me.set(Arc::downgrade(&c));
        c.maybe_rebuild();
        c.maybe_retune();
        c
    }

    /// Starts a background rebuild if one is due (see the module notes): an `auto` index not
    /// promoted yet with enough live records, or an IVF-PQ index that has outgrown its lists;
    /// none while a rebuild runs, or after one of these failed.
    pub(super) fn maybe_rebuild(&self) {
        if self.options.read_only {
            return;
        }
        let index = self.config.read().index;
        let Ok(st) = self.read_state() else { return };
        let live = st.ids.live_count();
        if st.rebuilding {
            return;
        }
        let Some((target, regrowth, what)) = rebuild_due(index, &st.space, live) else {
            // Nothing due for the unnamed vector: a named field's rebuild may be.
            if st.fields.is_empty() {
                return;
            }
            let due = {
                let config = self.config.read();
                st.fields.iter().find_map(|f| field_rebuild_due(f, &config))
            };
            drop(st);
            if let Some(due) = due {
                self.rebuild_field_in_background(due);
            }
            return;
        };
        drop(st);
        if self.index_error.lock().is_some() {
            return;
        }
        // Cleared when a rebuild switches or ends (if one runs now, it covers this write).
        self.rebuild_pending.store(true, Ordering::Release);
        self.in_background(background_rebuild, Collection::maybe_rebuild, "libravdb-rebuild", move |c| {
            // Wait out a rebuild the user started; it may have changed the index meanwhile.
            let only = c.rebuild_lock.lock();
            let config = c.config();
            if config.index != index {
                c.rebuild_pending.store(false, Ordering::Release);
                return;
            }
            let outcome = c.rebuild_holding(only, target, config.quantization, regrowth, &c.background);
            if outcome.is_err() {
                // It may have failed before it could mark anything (a success cleared the
                // mark at its switch, and a newer one may have set it since).
                c.rebuild_pending.store(false, Ordering::Release);
            }
            match outcome {
                Ok(_) | Err(Error::Aborted | Error::Closed(_) | Error::NotFound(_)) => {}
                Err(e) => *c.index_error.lock() = Some(format!("{what} failed: {e}")),
            }
        });
    }

    /// Runs a field rebuild that is `due` on a background thread (one rebuild at a time, as
    /// the unnamed vector's), unless one of these failed before.
    fn rebuild_field_in_background(&self, due: FieldRebuild) {
        if self.index_error.lock().is_some() {
            return;
        }
        self.in_background(background_rebuild, Collection::maybe_rebuild, "libravdb-rebuild", move |c| {
            let only = c.rebuild_lock.lock();
            // A rebuild the user ran meanwhile may have done it, changed the field or dropped it.
            let still = c.read_state().ok().and_then(|st| {
                let f = st.field(&due.name)?;
                field_rebuild_due(f, &c.config.read())
            });
            if still.as_ref().map(|d| (&d.target, d.regrowth)) != Some((&due.target, due.regrowth)) {
                return;
            }
            match c.rebuild_field_holding(only, &due.name, &due.target, due.regrowth, &c.background) {
                Ok(_) | Err(Error::Aborted | Error::Closed(_) | Error::NotFound(_)) => {}
                Err(e) => *c.index_error.lock() = Some(format!("{} of field '{}' failed: {e}", due.what, due.name)),
            }
        });
    }

    /// Runs `work` on a thread of its own unless the `flag` of this collection says one
    /// already runs (set for the thread's life), then `recheck`: a trigger that came while
    /// the flag was set was dropped, so the thread looks again. The thread holds the
    /// collection.
    pub(super) fn in_background(
        &self,
        flag: fn(&Collection) -> &AtomicBool,
        recheck: fn(&Collection),
        name: &str,
        work: impl FnOnce(&Arc<Collection>) + Send + 'static,
    ) {
        if flag(self).swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(me) = self.me.get().and_then(Weak::upgrade) else {
            flag(self).store(false, Ordering::Release);
            return;
        };
        let spawned = std::thread::Builder::new().name(name.into()).spawn(move || {
            work(&me);
            flag(&me).store(false, Ordering::Release);
            recheck(&me);
        });
        if spawned.is_err() {
            flag(self).store(false, Ordering::Release);
        }
    }
}

/// The flag of a background rebuild, set from when it is started until it ends.
pub(super) fn background_rebuild(c: &Collection) -> &AtomicBool {
    &c.background_rebuild
}

/// The flag of a running background tune.
pub(super) fn tuning(c: &Collection) -> &AtomicBool {
    &c.tuning
}

/// A named field's rebuild that is due: its `auto` index's promotion, or its IVF-PQ index's
/// retraining for the field's grown records.
pub(super) struct FieldRebuild {
    name: String,
    /// The field's configuration to rebuild to.
    target: CollectionConfig,
    regrowth: bool,
    what: &'static str,
}

/// The rebuild field `f` (configured in `config`) is due for, if any.
pub(super) fn field_rebuild_due(f: &VectorField, config: &CollectionConfig) -> Option<FieldRebuild> {
    if f.rebuilding {
        return None;
    }
    let (_, fc) = config.vector_field(&f.name).ok()?;
    let (index, regrowth, what) = rebuild_due(fc.index, &f.space, f.live_count())?;
    Some(FieldRebuild { name: f.name.clone(), target: CollectionConfig { index, ..fc.clone() }, regrowth, what })
}

/// The rebuild a vector space (configured with `index`, holding `live` records) is due for:
/// the index to build, whether it is an IVF-PQ regrowth, and what it is (for errors).
fn rebuild_due(index: IndexConfig, space: &VectorSpace, live: usize) -> Option<(IndexConfig, bool, &'static str)> {
    match index {
        IndexConfig::Auto(auto) if !auto.promoted && live >= auto.flat_threshold => {
            Some((IndexConfig::Auto(AutoParams { promoted: true, ..auto }), false, "promoting the auto index"))
        }
        _ if space.index.ivf().is_some_and(|ivf| ivf.outgrown(live)) => {
            Some((index, true, "retraining the IVF-PQ index for the grown records"))
        }
        _ => None,
    }
}
