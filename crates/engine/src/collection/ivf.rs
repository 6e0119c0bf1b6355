//! The IVF-PQ index of a collection (DESIGN §4): training once enough vectors exist, and
//! its checkpoint file.
//!
//! Like a quantizer, the index needs data to train: until the collection holds
//! [`IvfParams::MIN_TRAIN_VECTORS`] (or the residual quantizer's minimum sample) searches are
//! exact and the status is `pending`. Training then picks `nlist` (when not given: about the
//! square root of the live vectors), runs k-means on up to `nlist * 128` vectors taken at an
//! even stride, trains the residual codebooks, and files every live row; rows written later
//! are filed as they come. A chosen `nlist` is revisited as the collection grows: once the
//! live records reach 2 x nlist^2 (the first time: twice those at training), the index
//! retrains in the background (`auto.rs`), for a collection still growing: with lists for
//! twice the live records, so they fit about the square root from half to twice the way to the
//! next retraining (at 4x), where lists for the records at hand only ever lagged behind (100k x
//! 384 filled 10,000 at a time ended with 245-283 lists, not 316, and queries scanned 12-29%
//! more codes). A `nlist` the user set stays. Deleted rows stay in their lists (skipped by
//! search) until `optimize()` removes them.

use libravdb_core::Metric;
use libravdb_core::codec::ByteWriter;
use libravdb_core::index::ivf::{MIN_SAMPLE_PER_LIST, SAMPLE_PER_LIST, default_nlist};
use libravdb_core::index::{FlatIndex, IvfPq, IvfPqIndex};
use libravdb_core::quant::ProductQuantizer;

use super::quant::{LiveRows, QuantStatus, Training, sample_rows};
use crate::config::{IvfParams, QuantizationConfig};
use crate::pool::pool;
use libravdb_core::VectorRows;
use libravdb_storage::ChunkedVectors;

/// Seed of the coarse and residual k-means.
const SEED: u64 = 0x1f_5eed;

#[derive(Debug)]
pub(crate) struct IvfState {
    pub params: IvfParams,
    pub training: Training,
    /// The trained index (status `Trained`).
    pub index: Option<IvfPqIndex>,
    /// What searches use until then.
    pub exact: FlatIndex,
    /// Training sizes a chosen `nlist` for twice the live records (a regrowth).
    pub for_growth: bool,
}

impl IvfState {
    pub fn new(params: IvfParams, metric: Metric) -> Self {
        Self { params, training: Training::new(), index: None, exact: FlatIndex::new(metric), for_growth: false }
    }

    /// Live vectors needed before training starts.
    pub fn threshold(&self) -> usize {
        let lists = self.params.nlist.map_or(0, |n| n * MIN_SAMPLE_PER_LIST);
        IvfParams::MIN_TRAIN_VECTORS.max(ProductQuantizer::min_sample(self.params.bits)).max(lists)
    }

    /// Checkpoint body: the training ([`Training::encode`]), then the index.
    pub fn encode(&self) -> Vec<u8> {
        let write = |w: &mut ByteWriter| w.buf.extend_from_slice(&self.index.as_ref().expect("trained").ivf.to_bytes());
        self.training.encode(self.index.as_ref().map(|_| &write as &dyn Fn(&mut ByteWriter)))
    }

    /// Reads [`IvfState::encode`] from a file of format `version`; rows must be below `rows`.
    pub fn decode(params: IvfParams, metric: Metric, body: &[u8], version: u32, rows: usize) -> Result<Self, String> {
        let (training, rest) = Training::decode(body, version)?;
        let mut state = Self { training, ..Self::new(params, metric) };
        if state.training.status == QuantStatus::Trained {
            state.install(IvfPq::from_bytes(rest, rows).ok_or("unreadable IVF-PQ index")?);
        }
        Ok(state)
    }

    /// Installs the outcome of a training on `live` rows: the trained index, or the failure.
    pub fn install_outcome(&mut self, outcome: Result<IvfPq, String>, live: usize) {
        match outcome {
            Ok(index) => {
                self.install(index);
                self.training.record(None, live);
            }
            Err(e) => self.training.record(Some(e), live),
        }
    }

    /// Whether the trained index should retrain for `live` records: it chose its own `nlist`
    /// and its lists hold twice the records about the square root of them would.
    pub fn outgrown(&self, live: usize) -> bool {
        self.params.nlist.is_none() && self.index.as_ref().is_some_and(|i| live >= 2 * i.ivf.nlist().pow(2))
    }

    /// Makes `trained` the index searches use, with the configured search settings.
    fn install(&mut self, trained: IvfPq) {
        self.index = Some(IvfPqIndex::new(trained, self.params.nprobe, self.params.rerank));
        self.training.status = QuantStatus::Trained;
    }
}

/// Training, given the rows it learns from.
impl IvfState {
    /// Trains the index if training is due ([`Training::due`]) with the live rows of `ids`
    /// (vectors in `vectors`), filing every live row; returns it or the failure. The caller
    /// holds the state's read lock (for `rebuild()`, an index it is building).
    pub(super) fn train(
        &self,
        vectors: &ChunkedVectors,
        ids: &dyn LiveRows,
        metric: Metric,
        retry_now: bool,
    ) -> Option<Result<IvfPq, String>> {
        let live = ids.live_count();
        if !self.training.due(live, self.threshold(), retry_now) {
            return None;
        }
        let p = self.params;
        let nlist = p.nlist.unwrap_or_else(|| default_nlist(if self.for_growth { 2 * live } else { live }));
        let want = (nlist * SAMPLE_PER_LIST)
            .max(ProductQuantizer::min_sample(p.bits))
            .min(QuantizationConfig::MAX_SAMPLE)
            .min(live);
        let live_rows = ids.live_rows();
        let sample = sample_rows(vectors, &live_rows, want);
        Some(pool().install(|| {
            let trained = IvfPq::train(&sample, vectors.dim(), metric, nlist, p.m, p.bits, SEED).map_err(|e| e.0)?;
            trained.add(vectors, &live_rows);
            Ok(trained)
        }))
    }
}
