//! `tune()`: the smallest search breadth (HNSW `efSearch`, IVF-PQ `nprobe`) whose recall@k
//! on queries like the users' meets a target, made the collection's default.
//!
//! The queries, in order of preference ([`SampleSource`]): a sample the caller passes (a
//! query log); else the collection's uniform sample of the queries it has been asked
//! (`queries.rs`), once it holds [`MIN_RECENT`]; else a seeded sample of stored live vectors,
//! each searched as if it were not in the collection: never returned, and never scored to
//! route on ([`Walk::Without`]). A stored vector left in the graph is an easy query: the walk
//! reaches its node, whose links are exactly its nearest neighbours (on 30,000 MiniLM
//! embeddings a 0.95 target tuned that way gave 0.85 on held-out queries).
//!
//! Exact neighbours come from the flat kernels; the sweep of breadths runs from narrow to wide
//! through the same search path as `search()` (codes and re-ranking included) and stops at
//! the first breadth that meets the target. Every query takes the state's read lock on its
//! own, so writes interleave.

use std::collections::HashSet;

use libravdb_core::index::{BreadthKnob, Walk};
use libravdb_core::{FlatIndex, Metric};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use super::Collection;
use super::read::prepare_vectors;
use super::space::VectorSpace;
use super::state::SpaceOf;
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
/// Recent queries the collection must hold before `tune()` measures on them rather than on
/// stored vectors.
pub const MIN_RECENT: usize = 100;

/// Where the queries `tune()` measured recall on came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleSource {
    /// The caller's own sample (`tune({ queries })`).
    Queries,
    /// The collection's sample of the queries it has been asked.
    Recent,
    /// Stored vectors, each searched as if it were not in the collection.
    Stored,
}

impl SampleSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SampleSource::Queries => "queries",
            SampleSource::Recent => "recent",
            SampleSource::Stored => "stored",
        }
    }
}

/// What [`Collection::tune`] measured and set.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneReport {
    /// The option set: `efSearch` (HNSW) or `nprobe` (IVF-PQ); None for an exact index.
    pub knob: Option<&'static str>,
    /// The value now the collection's default (None for an exact index).
    pub setting: Option<usize>,
    /// Recall@k measured at `setting` on the sample.
    pub recall: f64,
    /// Where the sample came from, and how many queries it held.
    pub source: SampleSource,
    pub sample_size: usize,
    /// Every breadth measured, narrow to wide, with its recall.
    pub sweep: Vec<(usize, f64)>,
}

impl Collection {
    /// Finds the smallest breadth whose recall@`k` on a sample of queries reaches `target`,
    /// and makes it the collection's default (persisted). The sample: `queries` (row-major,
    /// all of them) when given; else up to `sample` of the recent queries, once the collection
    /// holds [`MIN_RECENT`]; else `sample` stored vectors (see the module docs). When no
    /// breadth of the sweep reaches the target, the widest measured is set and its recall
    /// reported.
    pub fn tune(
        &self,
        target: f64,
        k: usize,
        sample: usize,
        queries: Option<&[f32]>,
        cancel: &Cancel,
    ) -> Result<TuneReport> {
        self.check_default_vector("tune()")?;
        self.tune_space(SpaceOf::Default, target, k, sample, queries, cancel)
    }

    /// [`Collection::tune`] of named vector field `field`: its breadth is tuned on `queries`
    /// (of the field's dimension) or on a sample of its stored vectors (the recent queries
    /// sampled are the unnamed vector's), and made the field's default.
    pub fn tune_field(
        &self,
        field: &str,
        target: f64,
        k: usize,
        sample: usize,
        queries: Option<&[f32]>,
        cancel: &Cancel,
    ) -> Result<TuneReport> {
        self.config.read().vector_field(field)?;
        self.tune_space(SpaceOf::Field(field), target, k, sample, queries, cancel)
    }

    fn tune_space(
        &self,
        of: SpaceOf,
        target: f64,
        k: usize,
        sample: usize,
        queries: Option<&[f32]>,
        cancel: &Cancel,
    ) -> Result<TuneReport> {
        self.check_writable()?;
        RecallTarget::new("targetRecall", target)?;
        if !(1..=1000).contains(&k) {
            return Err(Error::invalid(format!("k must be an integer from 1 to 1000, got {k}")));
        }
        if !(1..=10_000).contains(&sample) {
            return Err(Error::invalid(format!("sample must be an integer from 1 to 10000, got {sample}")));
        }
        let (dim, metric) = match of {
            SpaceOf::Default => (self.dimension(), self.metric),
            SpaceOf::Field(name) => {
                let config = self.config.read();
                let (_, f) = config.vector_field(name)?;
                (f.dimension, f.metric)
            }
        };
        let given = match queries {
            Some(q) if q.len() / dim.max(1) > 10_000 => {
                return Err(Error::invalid(format!("tune() takes at most 10000 queries, got {}", q.len() / dim)));
            }
            Some(q) => Some(self.prepare_sample(q, of, dim, metric)?),
            None => None,
        };
        // Each query, and the stored row it was taken from (None: not a stored vector).
        let (source, queries, knob, nlist) = {
            let st = self.read_state()?;
            let (space, live) = st.space_of(of)?;
            let seed = SEED ^ live.live_count() as u64;
            let unseen = |block: Vec<f32>| -> Vec<(Option<u32>, Vec<f32>)> {
                block.chunks_exact(dim).map(|q| (None, q.to_vec())).collect()
            };
            let (source, queries) = if let Some(block) = given {
                (SampleSource::Queries, unseen(block))
            } else if matches!(of, SpaceOf::Default) && self.recent.len() >= MIN_RECENT {
                (SampleSource::Recent, unseen(self.recent.sample(sample, seed)))
            } else {
                let live = live.live_rows();
                let mut rng = StdRng::seed_from_u64(seed);
                let picked = rand::seq::index::sample(&mut rng, live.len(), sample.min(live.len()));
                (
                    SampleSource::Stored,
                    picked.iter().map(|i| (Some(live[i]), space.vectors.row(live[i]).to_vec())).collect(),
                )
            };
            let index = space.index.active();
            (
                source,
                queries,
                index.breadth_knob(),
                space.index.ivf().and_then(|i| i.index.as_ref()).map(|i| i.ivf.nlist()),
            )
        };
        if queries.is_empty() {
            return Err(Error::invalid("tune() needs stored records to sample, or queries"));
        }
        // Exact neighbours of each query among the live rows (a stored one's own row excluded).
        let exact = FlatIndex::new(metric);
        let truth: Vec<HashSet<u32>> = self.per_query(queries.len(), cancel, |st, i| {
            let (space, live) = st.space_of(of)?;
            let (own, v) = &queries[i];
            let found = exact.search(&space.vectors, v, k, |r| Some(r) != *own && live.is_live(r));
            Ok(found.iter().map(|n| n.row).collect())
        })?;
        let recall_at = |breadth: Option<usize>| -> Result<f64> {
            let hits: Vec<usize> = self.per_query(queries.len(), cancel, |st, i| {
                let (space, live) = st.space_of(of)?;
                let (own, v) = &queries[i];
                let walk = own.map_or(Walk::Through, Walk::Without);
                let accept = |r| Some(r) != *own && live.is_live(r);
                let found = space.knn_walk(v, k, breadth, metric, live.rows(), walk, &accept);
                Ok(found.iter().filter(|n| truth[i].contains(&n.row)).count())
            })?;
            let possible: usize = truth.iter().map(HashSet::len).sum();
            Ok(if possible == 0 { 1.0 } else { hits.iter().sum::<usize>() as f64 / possible as f64 })
        };
        let Some(knob) = knob else {
            return Ok(TuneReport {
                knob: None,
                setting: None,
                recall: recall_at(None)?,
                source,
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
        let live = st.ids.live_count();
        match of {
            SpaceOf::Default => {
                if st.space.index.set_default_breadth(setting) {
                    let mut config = self.config.write();
                    config.index = config.index.with_default_breadth(setting);
                    if let Some(t) = &mut config.recall_target {
                        t.tuned_at = live.max(1);
                    }
                }
            }
            SpaceOf::Field(name) => {
                let f = st.present_field_mut(name)?;
                let live = f.live_count();
                if f.space.index.set_default_breadth(setting) {
                    let mut config = self.config.write();
                    if let Some((_, fc)) = config.vectors.iter_mut().find(|(n, _)| n == name) {
                        fc.index = fc.index.with_default_breadth(setting);
                        if let Some(t) = &mut fc.recall_target {
                            t.tuned_at = live.max(1);
                        }
                    }
                }
            }
        }
        drop(st);
        self.force_checkpoint_locked(&mut w)?;
        let knob = match knob {
            BreadthKnob::EfSearch => "efSearch",
            BreadthKnob::Nprobe => "nprobe",
        };
        Ok(TuneReport { knob: Some(knob), setting: Some(setting), recall, source, sample_size: queries.len(), sweep })
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
        if self.options.read_only {
            return;
        }
        // The first space whose recall target is due: the unnamed vector's, then each field's.
        let due = {
            let config = self.config.read();
            let Ok(st) = self.read_state() else { return };
            let due = |target: Option<RecallTarget>, space: &VectorSpace, rebuilding: bool, live: usize| {
                target.filter(|t| {
                    !rebuilding
                        && space.index.active().breadth_knob().is_some()
                        && live >= MIN_AUTO_TUNE
                        && (t.tuned_at == 0 || live >= 2 * t.tuned_at)
                })
            };
            let default = due(config.recall_target, &st.space, st.rebuilding, st.ids.live_count()).map(|t| (None, t));
            default.or_else(|| {
                st.fields.iter().find_map(|f| {
                    let (_, fc) = config.vector_field(&f.name).ok()?;
                    due(fc.recall_target, &f.space, f.rebuilding, f.live_count()).map(|t| (Some(f.name.clone()), t))
                })
            })
        };
        let Some((field, target)) = due else { return };
        self.in_background(super::auto::tuning, Collection::maybe_retune, "libravdb-tune", move |c| {
            let tuned = match field.as_deref() {
                None => c.tune(target.recall, 10, 200, None, &c.background),
                Some(name) => c.tune_field(name, target.recall, 10, 200, None, &c.background),
            };
            match tuned {
                Ok(_) | Err(Error::Aborted | Error::Closed(_) | Error::NotFound(_)) => {}
                Err(e) => {
                    let of = field.map_or(String::new(), |name| format!(" of field '{name}'"));
                    *c.index_error.lock() = Some(format!("tuning{of} for targetRecall failed: {e}"));
                }
            }
        });
    }

    /// Forgets the sample of queries this collection has been asked (after the queries
    /// changed: a new embedding model, another language): `tune()` then measures on stored
    /// vectors until searches fill it again.
    pub fn forget_recent_queries(&self) {
        self.recent.clear();
    }

    /// A caller's sample of queries for space `of` (of `dim` and `metric`) checked like a
    /// search's, normalised for cosine; not offered to the sample of recent queries.
    fn prepare_sample(&self, queries: &[f32], of: SpaceOf, dim: usize, metric: Metric) -> Result<Vec<f32>> {
        match of {
            SpaceOf::Default => self.check_query_block(queries, "tune() queries")?,
            SpaceOf::Field(name) if queries.is_empty() || !queries.len().is_multiple_of(dim) => {
                let what = format!("tune() queries for field '{name}'");
                return Err(Error::DimensionMismatch { what, expected: dim, got: queries.len() });
            }
            SpaceOf::Field(_) => {}
        }
        prepare_vectors(queries, dim, metric)
    }

    /// `f` of each query `0..n`, in parallel on the worker pool, a few queries per worker at a
    /// time under one hold of the state's read lock (writes wait for one such round at most);
    /// stops when `cancel` fires. The lock is taken here, never in a pool task: a task waiting
    /// for it would hold a worker that a rebuild, holding the write lock, waits for.
    fn per_query<T: Send>(
        &self,
        n: usize,
        cancel: &Cancel,
        f: impl Fn(&super::State, usize) -> Result<T> + Sync,
    ) -> Result<Vec<T>> {
        let round = pool().current_num_threads() * 4;
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(round) {
            let st = self.read_state()?;
            let done: Vec<T> = pool().install(|| {
                (start..(start + round).min(n))
                    .into_par_iter()
                    .map(|i| {
                        cancel.check()?;
                        f(&st, i)
                    })
                    .collect::<Result<_>>()
            })?;
            out.extend(done);
        }
        Ok(out)
    }
}
