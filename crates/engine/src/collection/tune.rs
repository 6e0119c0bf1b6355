//! `tune()`: the smallest search breadth (HNSW `efSearch`, IVF-PQ `nprobe`) whose recall@k
//! on the collection's own vectors meets a target, made the collection's default.
//!
//! A seeded sample of stored live vectors serves as queries; each one's exact `k` nearest
//! neighbours (itself excluded) come from the flat kernels; then the sweep of breadths runs
//! from narrow to wide through the same search path as `search()` (codes and re-ranking
//! included) and stops at the first breadth that meets the target. Every query takes the
//! state's read lock on its own, so writes interleave. What this promises: recall on
//! queries distributed like the stored vectors; queries from elsewhere can do worse.

use std::collections::HashSet;

use libravdb_core::FlatIndex;
use libravdb_core::index::BreadthKnob;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use super::Collection;
use crate::cancel::Cancel;
use crate::config::RecallTarget;
use crate::error::{Error, Result};
use crate::pool::pool;

/// Breadths tried, narrow to wide (those below `k` are skipped; IVF-PQ stops at nlist).
const SWEEP: [usize; 20] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];
/// Seed of the query sample: the same collection state gives the same sample.
const SEED: u64 = 0x7e57_5eed;
/// Records a collection with a recall target holds before it first tunes itself.
pub const MIN_AUTO_TUNE: usize = 1000;

/// What [`Collection::tune`] measured and set.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneReport {
    /// The option set: `efSearch` (HNSW) or `nprobe` (IVF-PQ); None for an exact index.
    pub knob: Option<&'static str>,
    /// The value now the collection's default (None for an exact index).
    pub setting: Option<usize>,
    /// Recall@k measured at `setting` on the sample.
    pub recall: f64,
    pub sample_size: usize,
    /// Every breadth measured, narrow to wide, with its recall.
    pub sweep: Vec<(usize, f64)>,
}

impl Collection {
    /// Finds the smallest breadth whose recall@`k` on a sample of `sample` stored vectors
    /// reaches `target`, and makes it the collection's default (persisted). When no breadth
    /// of the sweep reaches it, the widest measured is set and its recall reported.
    pub fn tune(&self, target: f64, k: usize, sample: usize, cancel: &Cancel) -> Result<TuneReport> {
        self.check_writable()?;
        RecallTarget::new("targetRecall", target)?;
        if !(1..=1000).contains(&k) {
            return Err(Error::invalid(format!("k must be an integer from 1 to 1000, got {k}")));
        }
        if !(1..=10_000).contains(&sample) {
            return Err(Error::invalid(format!("sample must be an integer from 1 to 10000, got {sample}")));
        }
        let (queries, knob, nlist) = {
            let st = self.read_state()?;
            let live: Vec<u32> = (0..st.ids.rows() as u32).filter(|&r| st.ids.is_live(r)).collect();
            let mut rng = StdRng::seed_from_u64(SEED ^ live.len() as u64);
            let picked = rand::seq::index::sample(&mut rng, live.len(), sample.min(live.len()));
            let queries: Vec<(u32, Vec<f32>)> =
                picked.iter().map(|i| (live[i], st.vectors.row(live[i]).to_vec())).collect();
            let index = st.index.active();
            (queries, index.breadth_knob(), st.index.ivf().and_then(|i| i.index.as_ref()).map(|i| i.ivf.nlist()))
        };
        if queries.is_empty() {
            return Err(Error::invalid("tune() needs stored records to sample"));
        }
        // Exact neighbours of each sampled vector among the others.
        let exact = FlatIndex::new(self.metric);
        let truth: Vec<HashSet<u32>> = self.per_query(queries.len(), cancel, |st, i| {
            let (row, v) = &queries[i];
            let found = exact.search(&st.vectors, v, k, |r| r != *row && st.ids.is_live(r));
            found.iter().map(|n| n.row).collect()
        })?;
        let recall_at = |breadth: Option<usize>| -> Result<f64> {
            let hits: Vec<usize> = self.per_query(queries.len(), cancel, |st, i| {
                let (row, v) = &queries[i];
                let found = st.knn(v, k, breadth, self.metric, &|r| r != *row && st.ids.is_live(r));
                found.iter().filter(|n| truth[i].contains(&n.row)).count()
            })?;
            let possible: usize = truth.iter().map(HashSet::len).sum();
            Ok(if possible == 0 { 1.0 } else { hits.iter().sum::<usize>() as f64 / possible as f64 })
        };
        let Some(knob) = knob else {
            return Ok(TuneReport {
                knob: None,
                setting: None,
                recall: recall_at(None)?,
                sample_size: queries.len(),
                sweep: vec![],
            });
        };
        let candidates: Vec<usize> = match knob {
            BreadthKnob::EfSearch => SWEEP.iter().map(|&b| b.max(k)).collect(),
            BreadthKnob::Nprobe => SWEEP.iter().map(|&b| b.min(nlist.unwrap_or(b))).collect(),
        };
        let mut sweep: Vec<(usize, f64)> = Vec::new();
        for b in candidates {
            if sweep.last().is_some_and(|&(last, _)| last == b) {
                continue;
            }
            sweep.push((b, recall_at(Some(b))?));
            if sweep.last().is_some_and(|&(_, r)| r >= target) {
                break;
            }
        }
        let (setting, recall) = *sweep.last().expect("the sweep measured at least one breadth");
        // Make it the default, in memory and in the manifest.
        let mut w = self.writer.lock();
        self.check_open()?;
        let mut st = self.state.write();
        if st.index.set_default_breadth(setting) {
            let mut config = self.config.write();
            config.index = config.index.with_default_breadth(setting);
            if let Some(t) = &mut config.recall_target {
                t.tuned_at = st.ids.live_count().max(1);
            }
        }
        drop(st);
        self.force_checkpoint_locked(&mut w)?;
        let knob = match knob {
            BreadthKnob::EfSearch => "efSearch",
            BreadthKnob::Nprobe => "nprobe",
        };
        Ok(TuneReport { knob: Some(knob), setting: Some(setting), recall, sample_size: queries.len(), sweep })
    }

    /// Sets `index.targetRecall` (None clears it; see [`RecallTarget::new`]) and persists it; the collection then tunes
    /// itself for it (in the background) once it holds [`MIN_AUTO_TUNE`] records, and again
    /// after `rebuild()`, an `auto` promotion, and each doubling.
    pub fn set_recall_target(&self, target: Option<RecallTarget>) -> Result<()> {
        let mut w = self.writer.lock();
        self.check_open()?;
        self.config.write().recall_target = target.map(|t| RecallTarget { tuned_at: 0, ..t });
        self.force_checkpoint_locked(&mut w)?;
        drop(w);
        self.maybe_retune();
        Ok(())
    }

    /// Starts a background tune for the recall target if one is due: the active index has a
    /// breadth to tune, and the collection has not been tuned since it last changed index or
    /// has doubled since.
    pub(super) fn maybe_retune(&self) {
        let Some(target) = self.config.read().recall_target else { return };
        if self.options.read_only {
            return;
        }
        let due = match self.read_state() {
            Ok(st) => {
                let live = st.ids.live_count();
                !st.rebuilding
                    && st.index.active().breadth_knob().is_some()
                    && live >= MIN_AUTO_TUNE
                    && (target.tuned_at == 0 || live >= 2 * target.tuned_at)
            }
            Err(_) => false,
        };
        if due {
            self.in_background(super::auto::tuning, Collection::maybe_retune, "libravdb-tune", move |c| {
                match c.tune(target.recall, 10, 200, &c.background) {
                    Ok(_) | Err(Error::Aborted | Error::Closed(_) | Error::NotFound(_)) => {}
                    Err(e) => *c.index_error.lock() = Some(format!("tuning for targetRecall failed: {e}")),
                }
            });
        }
    }

    /// `f` of each query `0..n`, in parallel on the worker pool, each under its own hold of
    /// the state's read lock (writes wait for one query at most); stops when `cancel` fires.
    fn per_query<T: Send>(
        &self,
        n: usize,
        cancel: &Cancel,
        f: impl Fn(&super::State, usize) -> T + Sync,
    ) -> Result<Vec<T>> {
        pool().install(|| {
            (0..n)
                .into_par_iter()
                .map(|i| {
                    cancel.check()?;
                    Ok(f(&*self.read_state()?, i))
                })
                .collect()
        })
    }
}
