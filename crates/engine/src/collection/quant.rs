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

use libravdb_core::codec::{ByteReader, ByteWriter};
use libravdb_core::index::{Accept, Scorer, VectorIndex, rerank};
use libravdb_core::quant::{PreparedQuery, ProductQuantizer, Quantizer, ScalarQuantizer};
use libravdb_core::{Metric, Neighbor, VectorRows};
use libravdb_storage::ChunkedVectors;
use rayon::prelude::*;

use crate::config::QuantizationConfig;
use crate::ids::IdMap;
use crate::pool::pool;

/// Training state of a collection's quantizer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QuantStatus {
    Pending,
    Trained,
    Failed(String),
}

#[derive(Debug)]
pub(crate) struct QuantState {
    pub config: QuantizationConfig,
    pub status: QuantStatus,
    pub quantizer: Option<Quantizer>,
    /// Codes, layout (rows, code_bytes); empty until trained.
    pub codes: Vec<u8>,
}

impl QuantState {
    pub fn new(config: QuantizationConfig) -> Self {
        Self { config, status: QuantStatus::Pending, quantizer: None, codes: Vec::new() }
    }

    /// Trains the quantizer if it waits and `ids` holds enough live rows (vectors in
    /// `vectors`); returns it and the codes of every row, or the failure. The caller holds
    /// the state's read lock (for `rebuild()`, a quantization it is building).
    pub fn train(&self, vectors: &ChunkedVectors, ids: &IdMap) -> Option<Result<(Quantizer, Vec<u8>), String>> {
        let live = ids.live_count();
        if self.status != QuantStatus::Pending || live < self.threshold() {
            return None;
        }
        let dim = vectors.dim();
        let want = ((live as f64 * self.config.train_ratio() as f64) as usize)
            .max(self.min_sample())
            .min(QuantizationConfig::MAX_SAMPLE)
            .min(live);
        let live_rows: Vec<u32> = (0..ids.rows() as u32).filter(|&r| ids.is_live(r)).collect();
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
                Ok((q, codes))
            }
        })
    }

    /// Installs a training outcome: the quantizer and the codes of every row, or the failure.
    pub fn install(&mut self, outcome: Result<(Quantizer, Vec<u8>), String>) {
        match outcome {
            Ok((q, codes)) => {
                self.quantizer = Some(q);
                self.codes = codes;
                self.status = QuantStatus::Trained;
            }
            Err(e) => self.status = QuantStatus::Failed(e),
        }
    }

    /// Rows that have a code (all rows once trained, until new rows arrive).
    pub fn encoded_rows(&self) -> usize {
        self.trained().map_or(0, |q| self.codes.len() / q.code_bytes())
    }

    /// The trained quantizer, if any.
    pub fn trained(&self) -> Option<&Quantizer> {
        self.quantizer.as_ref().filter(|_| self.status == QuantStatus::Trained)
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
            q.encode(v, &mut self.codes[end - cb..end]);
        }
    }

    /// Bytes held by codes.
    pub fn code_bytes_total(&self) -> usize {
        self.codes.len()
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

    /// Checkpoint form of something trained from the data (a quantizer, an IVF-PQ index): a
    /// status byte (0 pending, 1 trained, 2 failed), then what `trained` writes (called only
    /// when trained; `None` counts as pending) or the failure message.
    pub fn encode(&self, trained: Option<&dyn Fn(&mut ByteWriter)>) -> Vec<u8> {
        let mut w = ByteWriter::default();
        match (self, trained) {
            (QuantStatus::Trained, Some(write)) => {
                w.u8(1);
                write(&mut w);
            }
            (QuantStatus::Failed(msg), _) => {
                w.u8(2);
                w.str(msg);
            }
            _ => w.u8(0),
        }
        w.buf
    }

    /// Reads [`QuantStatus::encode`]: the status and, when trained, the bytes that follow.
    pub fn decode(body: &[u8]) -> Result<(QuantStatus, &[u8]), String> {
        let (&status, rest) = body.split_first().ok_or("empty file")?;
        Ok(match status {
            0 => (QuantStatus::Pending, rest),
            1 => (QuantStatus::Trained, rest),
            2 => (QuantStatus::Failed(ByteReader::new(rest).str().map_err(|e| e.0)?.to_owned()), &[]),
            s => return Err(format!("training status {s}")),
        })
    }
}

/// Scores rows by their codes against a prepared query.
struct CodeScorer<'a> {
    prepared: PreparedQuery,
    codes: &'a [u8],
    code_bytes: usize,
}

impl Scorer for CodeScorer<'_> {
    #[inline]
    fn score(&self, row: u32) -> f32 {
        let s = row as usize * self.code_bytes;
        self.prepared.distance(&self.codes[s..s + self.code_bytes])
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
    /// `0..rows`; `k * oversampling` of them, the beam at least that wide), re-ranked on the
    /// full-precision rows of `vectors` (read through the mmap'd chunks).
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
        accept: &Accept,
    ) -> Option<Vec<Neighbor>> {
        let q = self.trained()?;
        let depth = k * self.config.oversampling();
        let scorer = CodeScorer { prepared: q.prepare(query, metric), codes: &self.codes, code_bytes: q.code_bytes() };
        let candidates = index.search_scored(&scorer, rows, depth, breadth.max(depth), accept)?;
        Some(rerank(vectors, metric.kernel(), query, candidates, k))
    }
}
