//! A vector space: one vector field's full-precision rows, the index over them and the
//! quantized codes searches score. What a search walks, with nothing of the records
//! around it (ids, metadata, payload indexes are `State`'s); rows are the caller's.

use libravdb_core::index::Walk;
use libravdb_core::{Metric, Neighbor, VectorRows};
use libravdb_storage::ChunkedVectors;

use super::format::vectors_dir;
use super::index::{IndexSource, IndexState};
use super::params::SearchParams;
use super::quant::{QuantState, Training};
use crate::config::MmapMode;
use crate::error::Result;
use crate::pool::pool;

/// A space's compressed codes: the quantizer's, or IVF-PQ's own.
pub(crate) struct Codes<'a> {
    /// Their training (None: full precision only).
    pub training: Option<&'a Training>,
    /// Bytes held (all rows).
    pub bytes: usize,
    /// Full-precision bytes per code byte (0 until trained).
    pub compression: f64,
}

impl Codes<'_> {
    /// `"none"`, `"pending"`, `"trained"` or `"failed"`.
    pub fn status(&self) -> &'static str {
        self.training.map_or("none", |t| t.status.as_str())
    }
    pub fn error(&self) -> Option<String> {
        self.training.and_then(|t| t.status.error())
    }
    pub fn attempts(&self) -> u32 {
        self.training.map_or(0, |t| t.attempts)
    }
}

#[derive(Debug)]
pub(crate) struct VectorSpace {
    pub vectors: ChunkedVectors,
    pub index: IndexState,
    /// Quantized codes, when the field is configured with quantization.
    pub quant: Option<QuantState>,
    /// No field at all: the default field of a collection of named vector fields only (a
    /// placeholder that is never written, linked or searched).
    pub none: bool,
}

impl VectorSpace {
    /// The space `source.config` describes: new, or loaded from the checkpoint `source` names
    /// (vector chunks of `chunk_shift`, mapped or loaded as `source` says).
    pub(super) fn open(source: IndexSource, chunk_shift: u32) -> Result<VectorSpace> {
        let (config, rows) = (source.config, source.rows);
        let dim = config.dimension;
        if dim == 0 {
            return VectorSpace::empty(0, chunk_shift);
        }
        let vectors = match source.dir.map(vectors_dir) {
            Some(d) if source.load => ChunkedVectors::open_loaded(&d, dim, chunk_shift, rows, source.read_only)?,
            Some(d) if source.read_only => ChunkedVectors::open_read_only(&d, dim, chunk_shift, rows)?,
            d => ChunkedVectors::open(d.as_deref(), dim, chunk_shift, rows)?,
        };
        let quant = match (config.quantization, source.dir.filter(|_| source.generation > 0)) {
            (None, _) => None,
            (Some(qc), None) => Some(QuantState::new(qc, config.metric)),
            (Some(qc), Some(dir)) => Some(QuantState::load(dir, source.generation, qc, config.metric, rows)?),
        };
        let index = IndexState::open(source)?;
        Ok(VectorSpace { vectors, index, quant, none: false })
    }

    /// An empty flat space (what a closed collection keeps); dimension 0: no field.
    pub(super) fn empty(dim: usize, shift: u32) -> Result<VectorSpace> {
        Ok(VectorSpace {
            vectors: ChunkedVectors::open(None, dim.max(1), shift, 0)?,
            index: IndexState::empty(),
            quant: None,
            none: dim == 0,
        })
    }

    /// Maps the chunks `rows` rows need (vectors and links), so that applying does no I/O.
    pub(super) fn reserve(&mut self, rows: usize) -> Result<()> {
        if self.none {
            return Ok(());
        }
        self.vectors.reserve(rows)?;
        if let IndexState::Hnsw(g) = &mut self.index {
            g.level0_mut().reserve(rows)?;
        }
        Ok(())
    }

    /// Writes row `row`'s vector and its code.
    pub(super) fn set_row(&mut self, row: u32, v: &[f32]) -> Result<()> {
        if self.none {
            return Ok(());
        }
        self.vectors.set_row(row, v)?;
        if let Some(q) = &mut self.quant {
            q.encode_row(row, v);
        }
        Ok(())
    }

    /// Links `rows` into the index, in parallel on the worker pool. (An untrained IVF-PQ
    /// index files every live row when it trains.)
    pub(super) fn link(&self, rows: &[u32]) {
        if !rows.is_empty() && !self.none {
            pool().install(|| self.index.active().add(&self.vectors, rows));
        }
    }

    /// The `k` nearest of `rows` rows accepted by `accept`, walking the graph as `walk` says
    /// (on codes + re-rank when quantized). `breadth` widens the search: HNSW beam width or
    /// IVF lists probed (None: the default).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn knn_walk(
        &self,
        query: &[f32],
        k: usize,
        breadth: Option<usize>,
        metric: Metric,
        rows: usize,
        walk: Walk,
        accept: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<Neighbor> {
        let index = self.index.active();
        let breadth = index.breadth(breadth, k);
        let quantized = self
            .quant
            .as_ref()
            .and_then(|q| q.search(index, &self.vectors, rows, query, k, breadth, metric, walk, accept));
        if let Some(found) = quantized {
            return found;
        }
        index.search(&self.vectors, query, k, breadth, walk, accept)
    }

    /// [`VectorSpace::knn_walk`] for each query of a row-major block, on the calling thread:
    /// one pass over the rows for the whole block when the search is exact on full precision
    /// (a flat index, an untrained IVF-PQ), query by query otherwise.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn knn_batch(
        &self,
        queries: &[f32],
        k: usize,
        breadth: Option<usize>,
        metric: Metric,
        rows: usize,
        accept: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<Vec<Neighbor>> {
        let index = self.index.active();
        if self.quantized() {
            return queries
                .chunks_exact(self.vectors.dim())
                .map(|q| self.knn_walk(q, k, breadth, metric, rows, Walk::Through, accept))
                .collect();
        }
        index.search_batch(&self.vectors, queries, k, index.breadth(breadth, k), accept)
    }

    /// Whether searches score a trained quantizer's codes (and read full precision only to
    /// re-rank).
    pub(super) fn quantized(&self) -> bool {
        self.quant.as_ref().is_some_and(|q| q.trained().is_some())
    }

    /// How wide a search with `params` runs on the active index (its default unless the
    /// call names one).
    pub(super) fn breadth(&self, params: SearchParams) -> usize {
        let index = self.index.active();
        index.breadth(params.breadth(index), params.k)
    }

    /// With a trained quantizer or IVF-PQ index, full precision is read only to re-rank.
    /// When memory is `bounded` (a limit is set, or the database is under pressure), drops
    /// this process's resident pages of the (file-backed) vector chunks (dirty pages stay in
    /// the kernel's page cache and reach the file as usual; the WAL covers a crash before
    /// that) and, with `storage.mmap: 'auto'`, re-ranks then read full precision with `pread`
    /// (see `ChunkedTable::read_through_files`), so it stays out of the process. Without a
    /// bound, re-ranks read through the map: 1.5-2.7x the queries per second of `pread` on
    /// 20k x 384 (the pages are file-backed, reclaimable, and reported as `resident`).
    pub(super) fn release_full_precision(&self, mmap: MmapMode, bounded: bool) -> Result<()> {
        let compressed = self.compressed();
        self.vectors.read_through_files(compressed && bounded && mmap == MmapMode::Auto);
        if compressed && bounded {
            self.vectors.release_resident()?;
            self.vectors.advise_random();
        }
        Ok(())
    }

    /// A trained quantizer or IVF-PQ index scores the codes: full precision only re-ranks.
    pub(super) fn compressed(&self) -> bool {
        self.index.ivf().is_some_and(|ivf| ivf.index.is_some()) || self.quantized()
    }

    /// The codes searches score, if any (for `stats()`).
    pub(super) fn codes(&self) -> Codes<'_> {
        let full = (self.vectors.dim() * 4) as f64;
        match (&self.quant, self.index.ivf()) {
            (Some(q), _) => Codes {
                training: Some(&q.training),
                bytes: q.code_bytes_total(),
                compression: q.trained().map_or(0.0, |q| q.compression()),
            },
            (None, Some(ivf)) => match &ivf.index {
                Some(index) => {
                    let cb = index.ivf.code_bytes();
                    Codes { training: Some(&ivf.training), bytes: index.ivf.len() * cb, compression: full / cb as f64 }
                }
                None => Codes { training: Some(&ivf.training), bytes: 0, compression: 0.0 },
            },
            (None, None) => Codes { training: None, bytes: 0, compression: 0.0 },
        }
    }

    /// Repairs the index around rows `dead` says are deleted (after which nothing refers to
    /// them); returns how many neighbour lists were rewritten (HNSW) or list entries removed
    /// (IVF-PQ).
    pub(super) fn repair(&self, dead: &(dyn Fn(u32) -> bool + Sync)) -> usize {
        pool().install(|| self.index.active().repair(&self.vectors, dead))
    }
}
