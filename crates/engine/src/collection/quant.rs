//! Quantized codes of a collection (DESIGN §5).
//!
//! Until the collection holds enough vectors, searches run on full precision and the status
//! is `pending`. Once it holds `MIN_TRAIN_VECTORS` (or the quantizer's minimum sample, if
//! larger), the quantizer trains on `trainRatio` of the live vectors (at least its minimum
//! sample, at most `MAX_SAMPLE`), taken at an even stride, and every row is encoded; from then
//! on rows are encoded as they are written. A training failure leaves search on full
//! precision and is reported in the status, never thrown at the write that triggered it.
//!
//! Search walks the codes (flat: a scan; HNSW: the graph, scored on codes), keeps
//! `k * oversampling` candidates, and re-ranks them on the full-precision vectors read
//! through the mmap'd chunks, which therefore need not stay resident.

use std::path::Path;

use libravdb_core::codec::{ByteReader, ByteWriter};
use libravdb_core::index::{Accept, CodeScorer, VectorIndex, Walk, rerank};
use libravdb_core::quant::{ProductQuantizer, Quantizer, ScalarQuantizer};
use libravdb_core::{Metric, Neighbor, VectorRows};
use libravdb_storage::ChunkedVectors;
use rayon::prelude::*;

use super::format::{Persistent, QUANT, VerifyReport, corrupted};
use crate::config::QuantizationConfig;
use crate::pool::pool;

/// Training state of a collection's quantizer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QuantStatus {
    Pending,
    Trained,
    Failed(String),
}

/// Training of something learned from the data (a quantizer, an IVF-PQ index): its status,
/// how often it has run, and when a failed one runs again. A failure is retried once the
/// collection has grown by half again since, or at `optimize()`; it never blocks a write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Training {
    pub status: QuantStatus,
    pub attempts: u32,
    /// Live rows at which a failed training runs again.
    pub retry_at: usize,
}

impl Training {
    pub fn new() -> Self {
        Self { status: QuantStatus::Pending, attempts: 0, retry_at: 0 }
    }

    /// Whether training should run with `live` rows (`threshold`: rows it needs at all;
    /// `retry_now`: retry a failure whatever the growth, as `optimize()` does).
    pub fn due(&self, live: usize, threshold: usize, retry_now: bool) -> bool {
        match self.status {
            QuantStatus::Pending => live >= threshold,
            QuantStatus::Failed(_) => live >= threshold && (retry_now || live >= self.retry_at),
            QuantStatus::Trained => false,
        }
    }

    /// Records an attempt made with `live` rows: trained, or failed with `error`.
    pub fn record(&mut self, failure: Option<String>, live: usize) {
        self.attempts += 1;
        match failure {
            None => self.status = QuantStatus::Trained,
            Some(e) => {
                self.status = QuantStatus::Failed(e);
                self.retry_at = live + live.div_ceil(2);
            }
        }
    }

    /// Checkpoint form: a status byte (0 pending, 1 trained, 2 failed), the attempts (u32)
    /// and the retry point (u64), then what `trained` writes (called only when trained;
    /// `None` counts as pending) or the failure message.
    pub fn encode(&self, trained: Option<&dyn Fn(&mut ByteWriter)>) -> Vec<u8> {
        let mut w = ByteWriter::default();
        let status = match (&self.status, trained) {
            (QuantStatus::Trained, Some(_)) => 1,
            (QuantStatus::Failed(_), _) => 2,
            _ => 0,
        };
        w.u8(status);
        w.u32(self.attempts);
        w.u64(self.retry_at as u64);
        match (&self.status, trained) {
            (QuantStatus::Trained, Some(write)) => write(&mut w),
            (QuantStatus::Failed(msg), _) => w.str(msg),
            _ => {}
        }
        w.buf
    }

    /// Reads [`Training::encode`] from a file of format `version` (before 3: no attempts or
    /// retry point; a failure then retries at the next write): the training and, when
    /// trained, the bytes that follow.
    pub fn decode(body: &[u8], version: u32) -> Result<(Training, &[u8]), String> {
        let (&status, rest) = body.split_first().ok_or("empty file")?;
        let mut r = ByteReader::new(rest);
        let (attempts, retry_at) = if version >= 3 {
            (r.u32().map_err(|e| e.0)?, r.u64().map_err(|e| e.0)? as usize)
        } else {
            (u32::from(status != 0), 0)
        };
        let rest = &rest[rest.len() - r.remaining()..];
        let status = match status {
            0 => QuantStatus::Pending,
            1 => QuantStatus::Trained,
            2 => QuantStatus::Failed(ByteReader::new(rest).str().map_err(|e| e.0)?.to_owned()),
            s => return Err(format!("training status {s}")),
        };
        let rest = if status == QuantStatus::Trained { rest } else { &[] };
        Ok((Training { status, attempts, retry_at }, rest))
    }
}

#[derive(Debug)]
pub(crate) struct QuantState {
    pub config: QuantizationConfig,
    pub training: Training,
    pub quantizer: Option<Quantizer>,
    /// Codes, layout (rows, code_bytes); empty until trained.
    pub codes: Vec<u8>,
    /// L2 collections whose codes have a row term ([`Quantizer::row_term`]: 8-bit scalar on a
    /// CPU with the integer kernel): each code's, so L2 is scored on integers. Rebuilt from the
    /// codes, never stored; empty otherwise.
    row_terms: Vec<f32>,
    /// Whether the collection's metric is L2 (the only one row terms serve).
    l2: bool,
}

/// Which rows of a space hold a live vector, for what trains on them (a quantizer, IVF-PQ):
/// the records' id map for the default field, the row map for a named field.
pub(crate) trait LiveRows: Sync {
    /// Rows of the space (live and dead).
    fn rows(&self) -> usize;
    fn live_count(&self) -> usize;
    fn is_live(&self, row: u32) -> bool;

    /// The live rows, in order.
    fn live_rows(&self) -> Vec<u32> {
        (0..self.rows() as u32).filter(|&r| self.is_live(r)).collect()
    }
}

impl LiveRows for crate::ids::IdMap {
    fn rows(&self) -> usize {
        crate::ids::IdMap::rows(self)
    }
    fn live_count(&self) -> usize {
        crate::ids::IdMap::live_count(self)
    }
    fn is_live(&self, row: u32) -> bool {
        crate::ids::IdMap::is_live(self, row)
    }
}

/// What a training produces: the quantizer, the codes of every row and their row terms.
pub(crate) struct Trained {
    quantizer: Quantizer,
    codes: Vec<u8>,
    row_terms: Vec<f32>,
}

impl QuantState {
    pub fn new(config: QuantizationConfig, metric: Metric) -> Self {
        Self {
            config,
            training: Training::new(),
            quantizer: None,
            codes: Vec::new(),
            row_terms: Vec::new(),
            l2: metric == Metric::L2,
        }
    }

    /// Whether this state keeps a row term per code of `q` (see `row_terms`).
    fn keeps_terms(&self, q: &Quantizer) -> bool {
        self.l2 && q.keeps_row_terms()
    }

    /// The row terms of every code, if this state keeps them (see `row_terms`).
    fn terms_of(&self, q: &Quantizer, codes: &[u8]) -> Vec<f32> {
        if !self.keeps_terms(q) {
            return Vec::new();
        }
        let cb = q.code_bytes();
        pool().install(|| codes.par_chunks_exact(cb).map(|code| q.row_term(code).unwrap_or_default()).collect())
    }

    /// Trains the quantizer if training is due ([`Training::due`]) with the live rows of
    /// `ids` (vectors in `vectors`); returns it and the codes of every row, or the failure.
    /// The caller holds the state's read lock (for `rebuild()`, a quantization it is building).
    pub fn train(
        &self,
        vectors: &ChunkedVectors,
        ids: &dyn LiveRows,
        retry_now: bool,
    ) -> Option<Result<Trained, String>> {
        let live = ids.live_count();
        if !self.training.due(live, self.threshold(), retry_now) {
            return None;
        }
        let dim = vectors.dim();
        let want = ((live as f64 * self.config.train_ratio() as f64) as usize)
            .max(self.min_sample())
            .min(QuantizationConfig::MAX_SAMPLE)
            .min(live);
        let live_rows = ids.live_rows();
        let sample = sample_rows(vectors, &live_rows, want);
        let trained = pool().install(|| match self.config {
            QuantizationConfig::Scalar { bits, .. } => {
                ScalarQuantizer::train(&sample, dim, bits).map(Quantizer::Scalar)
            }
            QuantizationConfig::Product { m, bits, .. } => {
                ProductQuantizer::train(&sample, dim, m, bits, 0x5eed).map(Quantizer::Product)
            }
        });
        Some(match trained {
            Err(e) => Err(e.0),
            Ok(q) => {
                let cb = q.code_bytes();
                let mut codes = vec![0u8; ids.rows() * cb];
                pool().install(|| {
                    codes.par_chunks_exact_mut(cb).enumerate().for_each(|(row, out)| {
                        q.encode(vectors.row(row as u32), out);
                    })
                });
                // Here, under the read lock, not at install under the write lock.
                let row_terms = self.terms_of(&q, &codes);
                Ok(Trained { quantizer: q, codes, row_terms })
            }
        })
    }

    /// Installs the outcome of a training on `live` rows: the quantizer and the codes of
    /// every row, or the failure.
    pub fn install(&mut self, outcome: Result<Trained, String>, live: usize) {
        match outcome {
            Ok(Trained { quantizer, codes, row_terms }) => {
                self.quantizer = Some(quantizer);
                self.codes = codes;
                self.row_terms = row_terms;
                self.training.record(None, live);
            }
            Err(e) => self.training.record(Some(e), live),
        }
    }

    /// Rows that have a code (all rows once trained, until new rows arrive).
    pub fn encoded_rows(&self) -> usize {
        self.trained().map_or(0, |q| self.codes.len() / q.code_bytes())
    }

    /// The trained quantizer, if any.
    pub fn trained(&self) -> Option<&Quantizer> {
        self.quantizer.as_ref().filter(|_| self.training.status == QuantStatus::Trained)
    }

    fn min_sample(&self) -> usize {
        match self.config {
            QuantizationConfig::Scalar { .. } => ScalarQuantizer::MIN_SAMPLE,
            QuantizationConfig::Product { bits, .. } => ProductQuantizer::min_sample(bits),
        }
    }

    /// Live vectors needed before training starts.
    pub fn threshold(&self) -> usize {
        QuantizationConfig::MIN_TRAIN_VECTORS.max(self.min_sample())
    }

    /// Encodes `v` as the code of `row` (no-op until trained).
    pub fn encode_row(&mut self, row: u32, v: &[f32]) {
        if let Some(q) = self.trained() {
            let cb = q.code_bytes();
            let end = (row as usize + 1) * cb;
            if self.codes.len() < end {
                self.codes.resize(end, 0);
            }
            let q = self.quantizer.as_ref().expect("trained");
            let code = &mut self.codes[end - cb..end];
            q.encode(v, code);
            if self.l2
                && let Some(term) = q.row_term(code)
            {
                if self.row_terms.len() <= row as usize {
                    self.row_terms.resize(row as usize + 1, 0.0);
                }
                self.row_terms[row as usize] = term;
            }
        }
    }

    /// Bytes of codes.
    pub fn code_bytes_total(&self) -> usize {
        self.codes.len()
    }

    /// Bytes held per row once trained: its code and row term.
    pub fn held_bytes_per_row(&self) -> Option<usize> {
        let q = self.trained()?;
        let term = if self.keeps_terms(q) { std::mem::size_of::<f32>() } else { 0 };
        Some(q.code_bytes() + term)
    }

    /// Bytes held: codes and their row terms.
    pub fn held_bytes(&self) -> usize {
        self.codes.len() + self.row_terms.len() * std::mem::size_of::<f32>()
    }
}

impl QuantStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            QuantStatus::Pending => "pending",
            QuantStatus::Trained => "trained",
            QuantStatus::Failed(_) => "failed",
        }
    }

    /// The training failure, if training failed.
    pub fn error(&self) -> Option<String> {
        match self {
            QuantStatus::Failed(e) => Some(e.clone()),
            _ => None,
        }
    }
}

/// The vectors of `want` of `rows`, taken at an even stride (a training sample).
pub(super) fn sample_rows(vectors: &ChunkedVectors, rows: &[u32], want: usize) -> Vec<f32> {
    let stride = rows.len() as f64 / want.max(1) as f64;
    let mut sample = Vec::with_capacity(want * vectors.dim());
    for i in 0..want.min(rows.len()) {
        sample.extend_from_slice(vectors.row(rows[(i as f64 * stride) as usize]));
    }
    sample
}

/// Search on the codes.
impl QuantState {
    /// The quantized search, once trained: candidates from the codes through `index` (rows
    /// `0..rows`; `k * oversampling` of them at `breadth`, which a graph widens for codes: see
    /// `VectorIndex::search_scored`), re-ranked on the full-precision rows of `vectors` (read
    /// through the mmap'd chunks).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn search(
        &self,
        index: &dyn VectorIndex<ChunkedVectors>,
        vectors: &ChunkedVectors,
        rows: usize,
        query: &[f32],
        k: usize,
        breadth: usize,
        metric: Metric,
        walk: Walk,
        accept: &Accept,
    ) -> Option<Vec<Neighbor>> {
        let q = self.trained()?;
        let depth = k * self.config.oversampling();
        let scorer = CodeScorer::new(q.prepare(query, metric), &self.codes, q.code_bytes(), &self.row_terms);
        let candidates = index.search_scored(&scorer, rows, depth, breadth, walk, accept)?;
        Some(rerank(vectors, metric.kernel(), query, candidates, k))
    }
}

/// Quantizer file body: the training ([`Training::encode`]), then for a trained
/// quantizer its serialised form (length-prefixed) and the codes (u64 length, then layout
/// (rows, code bytes)).
fn encode(q: &QuantState) -> Vec<u8> {
    let write = |w: &mut ByteWriter| {
        w.bytes(&q.quantizer.as_ref().expect("trained").to_bytes());
        w.u64(q.codes.len() as u64);
        w.buf.extend_from_slice(&q.codes);
    };
    q.training.encode(q.quantizer.as_ref().map(|_| &write as &dyn Fn(&mut ByteWriter)))
}

impl QuantState {
    /// The quantizer and codes of checkpoint `generation` (`rows` rows).
    pub(super) fn load(
        dir: &Path,
        generation: u64,
        config: QuantizationConfig,
        metric: Metric,
        rows: usize,
    ) -> crate::error::Result<QuantState> {
        let (version, body) = QUANT.read(dir, generation)?;
        let path = QUANT.path(dir, generation);
        let bad = |reason: String| corrupted(path.clone(), reason);
        let (training, rest) = Training::decode(&body, version).map_err(bad)?;
        let mut q = QuantState::new(config, metric);
        if training.status == QuantStatus::Trained {
            let mut r = ByteReader::new(rest);
            let quantizer = libravdb_core::quant::Quantizer::from_bytes(r.bytes().map_err(|e| bad(e.0))?)
                .ok_or_else(|| bad("unreadable quantizer".into()))?;
            let len = r.u64().map_err(|e| bad(e.0))? as usize;
            let codes = rest.len().checked_sub(len).map(|start| rest[start..].to_vec());
            match codes {
                Some(codes) if codes.len() == rows * quantizer.code_bytes() => q.codes = codes,
                _ => return Err(bad(format!("codes do not cover the {rows} rows"))),
            }
            q.row_terms = q.terms_of(&quantizer, &q.codes);
            q.quantizer = Some(quantizer);
        }
        q.training = training;
        Ok(q)
    }
}

impl Persistent for QuantState {
    fn save(&self, dir: &Path, generation: u64) -> crate::error::Result<()> {
        QUANT.write(dir, generation, &encode(self))
    }

    fn check(&self, dir: &Path, generation: u64, report: &mut VerifyReport) {
        QUANT.check_present(dir, generation, report);
    }
}
