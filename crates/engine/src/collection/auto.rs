//! The `auto` index: exact (flat) while the collection is small; once it holds
//! `flatThreshold` live records, the target index is built by [`Collection::rebuild`] on a
//! background thread, off the write path, and switched to atomically. A crash during the
//! build reopens on the flat index and starts the build again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use super::Collection;
use crate::config::{AutoParams, IndexConfig};
use crate::error::Error;

impl Collection {
    /// Shares a new or opened collection, which lets it start its own background work.
    pub(crate) fn shared(self) -> Arc<Collection> {
        let c = Arc::new(self);
        let _ = c.me.set(Arc::downgrade(&c));
        c.maybe_promote();
        c.maybe_retune();
        c
    }

    /// Starts the promotion of an `auto` index if it is due: not promoted yet, enough live
    /// records, no rebuild or promotion running, none failed before.
    pub(super) fn maybe_promote(&self) {
        let IndexConfig::Auto(auto) = self.config.read().index else { return };
        if auto.promoted || self.options.read_only {
            return;
        }
        match self.read_state() {
            Ok(st) if st.ids.live_count() >= auto.flat_threshold && !st.rebuilding => {}
            _ => return,
        }
        if self.index_error.lock().is_some() {
            return;
        }
        self.in_background(promoting, Collection::maybe_promote, "libravdb-promote", move |c| {
            // Wait out a rebuild the user started; it may have changed the index meanwhile.
            let only = c.rebuild_lock.lock();
            let config = c.config();
            if config.index != IndexConfig::Auto(auto) {
                return;
            }
            let promoted = IndexConfig::Auto(AutoParams { promoted: true, ..auto });
            let quantization = config.quantization;
            match c.rebuild_holding(only, promoted, quantization, &c.background) {
                Ok(_) | Err(Error::Aborted | Error::Closed(_) | Error::NotFound(_)) => {}
                Err(e) => *c.index_error.lock() = Some(format!("promoting the auto index failed: {e}")),
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

/// The flag of a running `auto` promotion.
pub(super) fn promoting(c: &Collection) -> &AtomicBool {
    &c.promoting
}

/// The flag of a running background tune.
pub(super) fn tuning(c: &Collection) -> &AtomicBool {
    &c.tuning
}
