//! The in-memory state of a collection: its concerns side by side, and what coordinates them
//! (how rows enter the index, searches through index and quantizer, each concern persisted).

use std::path::Path;

use libravdb_core::index::Walk;
use libravdb_core::{Metric, Neighbor, VectorRows};
use libravdb_storage::ChunkedVectors;

use super::format::{Persistent, VerifyReport, corrupted};
use super::index::IndexState;
use super::meta::{Damaged, MetadataStore};
use super::params::SearchParams;
use super::payload::Filterable;
use super::quant::QuantState;
use super::rows::Rows;
use crate::config::MmapMode;
use crate::error::Result;
use crate::ids::IdMap;
use crate::ops::Op;
use crate::pool::pool;

/// In-memory state of a collection, guarded by `Collection::state`. Each concern is a type
/// of its own that owns its operations: ids (`IdMap`), vectors (`ChunkedVectors`), the index
/// (`IndexState`, which also trains IVF-PQ), quantization (`QuantState`: training, codes,
/// search on them), payload indexes (`Filterable`), metadata (`MetadataStore`). Each owns
/// its files ([`Persistent`]). The `impl State` blocks only coordinate them: here (searching,
/// adding rows), apply.rs (applying a write to every concern), planner.rs (planning a
/// filtered search), account.rs (what it holds); persistence is `Writer`'s.
#[derive(Debug)]
pub(crate) struct State {
    pub vectors: ChunkedVectors,
    pub ids: IdMap,
    /// Row -> metadata JSON text.
    pub metadata: MetadataStore,
    pub index: IndexState,
    /// Quantized codes, when the collection is configured with quantization.
    pub quant: Option<QuantState>,
    /// Payload indexes, when the collection has a schema.
    pub filterable: Option<Filterable>,
    /// A `rebuild()` is building a new index beside this one.
    pub rebuilding: bool,
    /// Change-feed sequence number of the last record write applied: what a snapshot
    /// (`scan()`, `export()`, `stats().seq`) is consistent at.
    pub seq: u64,
}

impl State {
    /// An empty flat state (what a closed collection keeps).
    pub(super) fn empty(dim: usize, shift: u32) -> Result<State> {
        Ok(State {
            vectors: ChunkedVectors::open(None, dim, shift, 0)?,
            ids: IdMap::default(),
            metadata: MetadataStore::heap(Vec::new()),
            index: IndexState::empty(),
            quant: None,
            filterable: None,
            rebuilding: false,
            seq: 0,
        })
    }

    /// Row `row`'s metadata for a caller that returns it; `ERR_CORRUPTED` naming the record
    /// file and the record when its bytes changed on disk.
    pub(super) fn metadata_of(&self, row: u32) -> Result<Option<String>> {
        self.metadata.owned(row).map_err(|Damaged(path)| corrupted(path, Damaged::reason(self.ids.id(row))))
    }

    /// Each concern that owns checkpoint files, in the order a checkpoint saves them (the
    /// mapped vector chunks are the caller's: their checksums go in the manifest).
    fn each_persistent(&self, mut f: impl FnMut(&dyn Persistent) -> Result<()>) -> Result<()> {
        f(&Rows { ids: &self.ids, metadata: &self.metadata })?;
        f(&self.index)?;
        if let Some(q) = &self.quant {
            f(q)?;
        }
        if let Some(p) = &self.filterable {
            f(p)?;
        }
        Ok(())
    }

    /// Saves every concern as checkpoint `generation` in `dir`.
    pub(super) fn save(&self, dir: &Path, generation: u64) -> Result<()> {
        self.each_persistent(|c| c.save(dir, generation))
    }

    /// Checks every concern's files of checkpoint `generation` (`verify()`).
    pub(super) fn check(&self, dir: &Path, generation: u64, report: &mut VerifyReport) {
        let _ = self.each_persistent(|c| {
            c.check(dir, generation, report);
            Ok(())
        });
    }
}

impl State {
    /// Rows the table will have after `op` is applied (new ids take reclaimed rows first).
    pub(super) fn rows_after(&self, op: &Op) -> usize {
        let appends = self.appends_on_update();
        let needed = match op {
            Op::Put { ids, .. } if appends => ids.len(),
            Op::Put { ids, .. } => ids.iter().filter(|id| !self.ids.contains(id)).count(),
            Op::Update { items } if appends => items.iter().filter(|i| i.vector.is_some()).count(),
            Op::Update { .. } | Op::Delete { .. } | Op::Repair => 0,
        };
        self.ids.rows() + needed.saturating_sub(self.ids.reusable_count())
    }

    /// Whether updates append a new row instead of writing in place: always while a rebuild
    /// runs (so that it sees every changed vector as a row appended since it started).
    pub(super) fn appends_on_update(&self) -> bool {
        self.rebuilding || self.index.appends_on_update()
    }

    /// Maps the chunks `rows` rows need (vectors and links), so that applying does no I/O.
    pub(super) fn reserve(&mut self, rows: usize) -> Result<()> {
        self.vectors.reserve(rows)?;
        if let IndexState::Hnsw(g) = &mut self.index {
            g.level0_mut().reserve(rows)?;
        }
        Ok(())
    }

    /// Registers rows appended by `apply` with the index (they are linked by [`State::link`]).
    pub(super) fn register_rows(&mut self) -> Result<()> {
        self.index.register_rows(self.ids.rows())
    }

    /// Links `rows` (written by `apply`) into the index, in parallel on the worker pool.
    /// Runs under the collection's read lock: searches go on meanwhile. (An untrained IVF-PQ
    /// index files every live row when it trains.)
    pub(super) fn link(&self, rows: &[u32]) {
        if !rows.is_empty() {
            pool().install(|| self.index.active().add(&self.vectors, rows));
        }
    }

    /// The `k` nearest live rows of one prepared query (on codes + re-rank when quantized).
    /// `breadth` widens the search: HNSW beam width or IVF lists probed (None: the default).
    pub(super) fn knn(
        &self,
        query: &[f32],
        k: usize,
        breadth: Option<usize>,
        metric: Metric,
        accept: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<Neighbor> {
        self.knn_walk(query, k, breadth, metric, Walk::Through, accept)
    }

    /// [`State::knn`] with a graph walk other than through every row (a filter's plan).
    pub(super) fn knn_walk(
        &self,
        query: &[f32],
        k: usize,
        breadth: Option<usize>,
        metric: Metric,
        walk: Walk,
        accept: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<Neighbor> {
        let index = self.index.active();
        let breadth = index.breadth(breadth, k);
        let quantized = self
            .quant
            .as_ref()
            .and_then(|q| q.search(index, &self.vectors, self.ids.rows(), query, k, breadth, metric, walk, accept));
        if let Some(found) = quantized {
            return found;
        }
        index.search(&self.vectors, query, k, breadth, walk, accept)
    }

    /// Whether searches score a trained quantizer's codes (and read full precision only to
    /// re-rank).
    pub(super) fn quantized(&self) -> bool {
        self.quant.as_ref().is_some_and(|q| q.trained().is_some())
    }

    /// [`State::knn`] for each query of a row-major block, on the calling thread: one pass over
    /// the rows for the whole block when the search is exact on full precision (a flat index,
    /// an untrained IVF-PQ), query by query otherwise.
    pub(super) fn knn_batch(
        &self,
        queries: &[f32],
        k: usize,
        breadth: Option<usize>,
        metric: Metric,
        accept: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<Vec<Neighbor>> {
        let index = self.index.active();
        if self.quantized() {
            return queries.chunks_exact(self.vectors.dim()).map(|q| self.knn(q, k, breadth, metric, accept)).collect();
        }
        index.search_batch(&self.vectors, queries, k, index.breadth(breadth, k), accept)
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
    pub(super) fn release_full_precision(&self, mmap: MmapMode, bounded: bool) -> crate::error::Result<()> {
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

    /// Repairs the index around deleted rows (after which nothing refers to them); returns
    /// how many neighbour lists were rewritten (HNSW) or list entries removed (IVF-PQ).
    pub(super) fn repair(&self) -> usize {
        pool().install(|| self.index.active().repair(&self.vectors, &|row| !self.ids.is_live(row)))
    }
}
