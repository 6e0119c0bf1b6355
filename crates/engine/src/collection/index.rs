//! The index of a collection and how rows enter it: the one module that knows which kind of
//! index a collection has. Everything else reaches the index through
//! [`IndexState::active`], the [`VectorIndex`] interface of libravdb-core, or through the
//! few kind-specific hooks below (HNSW's mapped level-0 table, IVF-PQ's training).
//!
//! Flat needs no structure. IVF-PQ keeps inverted lists of codes in memory (see [`super::ivf`])
//! and searches exactly until trained. HNSW keeps a graph whose level-0 lists live in mmap'd
//! chunk files (`<collection>/links/`) and whose upper levels are checkpointed to
//! `graph-<gen>.seg`. With HNSW a vector never changes in place: an update or upsert appends
//! a new row and tombstones the old one, so the new vector is linked like any insert and the
//! old node keeps routing searches until `optimize()` repairs around it.

use std::path::{Path, PathBuf};

use libravdb_core::index::{GraphParts, IndexKind, VectorIndex, Walk};
use libravdb_core::{FlatIndex, HnswIndex, Metric, Neighbor, VectorRows};
use libravdb_storage::{ChunkedLinks, ChunkedVectors};

use super::State;
use super::format::{GRAPH, IVF, SegmentKind, corrupted};
use super::ivf::IvfState;
use super::params::SearchParams;
use crate::config::CollectionConfig;
use crate::config::MmapMode;
use crate::error::Result;
use crate::ops::Op;
use crate::pool::pool;

#[derive(Debug)]
pub(crate) enum IndexState {
    Flat(FlatIndex),
    Hnsw(Box<HnswIndex<ChunkedLinks>>),
    IvfPq(Box<IvfState>),
}

/// Where the index of a collection is opened from.
pub(super) struct IndexSource<'a> {
    pub config: &'a CollectionConfig,
    /// The collection directory (None: in memory).
    pub dir: Option<&'a Path>,
    /// Where HNSW keeps its level-0 table (None: in memory).
    pub links_dir: Option<PathBuf>,
    /// Checkpoint generation to load (0: none yet, a new index).
    pub generation: u64,
    pub links_shift: u32,
    /// Rows of the checkpoint.
    pub rows: usize,
    pub read_only: bool,
    /// Load the level-0 table into anonymous memory (`storage.mmap` false, or `auto` loading).
    pub load: bool,
}

impl IndexState {
    /// The index of `source.config`: new, or loaded from the checkpoint `source` names.
    pub(super) fn open(source: IndexSource) -> Result<Self> {
        let IndexSource { config, dir, links_dir, generation, links_shift, rows, read_only, load } = source;
        if let Some(params) = config.index.ivf_params() {
            let Some(dir) = dir.filter(|_| generation > 0) else {
                return Ok(IndexState::IvfPq(Box::new(IvfState::new(params, config.metric))));
            };
            let path = IVF.path(dir, generation);
            let (version, body) = IVF.read(dir, generation)?;
            let ivf = IvfState::decode(params, config.metric, &body, version, rows).map_err(|e| corrupted(path, e))?;
            return Ok(IndexState::IvfPq(Box::new(ivf)));
        }
        let Some(params) = config.index.hnsw_params() else {
            return Ok(IndexState::Flat(FlatIndex::new(config.metric)));
        };
        let width = params.level0_width();
        let links = match &links_dir {
            Some(d) if load => ChunkedLinks::open_loaded(d, width, links_shift, rows, read_only)?,
            Some(d) if read_only => ChunkedLinks::open_read_only(d, width, links_shift, rows)?,
            d => ChunkedLinks::open(d.as_deref(), width, links_shift, rows)?,
        };
        let graph = match dir.filter(|_| generation > 0) {
            None => HnswIndex::new(params, config.metric, links),
            Some(dir) => {
                let path = GRAPH.path(dir, generation);
                let (_, body) = GRAPH.read(dir, generation)?;
                let parts = GraphParts::decode(&body, rows).map_err(|e| corrupted(path.clone(), e.0))?;
                HnswIndex::import(params, config.metric, links, parts).map_err(|e| corrupted(path, e))?
            }
        };
        Ok(IndexState::Hnsw(Box::new(graph)))
    }

    /// An empty flat index (what a closed collection keeps).
    pub(super) fn empty() -> Self {
        IndexState::Flat(FlatIndex::new(Metric::L2))
    }

    /// The index searches use now (an untrained IVF-PQ index searches exactly).
    pub(super) fn active(&self) -> &dyn VectorIndex<ChunkedVectors> {
        match self {
            IndexState::Flat(flat) => flat,
            IndexState::Hnsw(g) => &**g,
            IndexState::IvfPq(ivf) => match &ivf.index {
                Some(index) => index,
                None => &ivf.exact,
            },
        }
    }

    /// The configured kind (`stats().index`), trained or not.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            IndexState::Flat(_) => IndexKind::Flat,
            IndexState::Hnsw(_) => IndexKind::Hnsw,
            IndexState::IvfPq(_) => IndexKind::IvfPq,
        }
        .as_str()
    }

    /// Whether updates append a new row instead of writing in place (the old row stays in
    /// the graph or its list until `optimize()`).
    pub(super) fn appends_on_update(&self) -> bool {
        matches!(self, IndexState::Hnsw(_) | IndexState::IvfPq(_))
    }

    /// IVF-PQ's training state and codes.
    pub(super) fn ivf(&self) -> Option<&IvfState> {
        if let IndexState::IvfPq(ivf) = self { Some(ivf) } else { None }
    }

    pub(super) fn ivf_mut(&mut self) -> Option<&mut IvfState> {
        if let IndexState::IvfPq(ivf) = self { Some(ivf) } else { None }
    }

    /// Sets the active index's default breadth (HNSW `efSearch`, IVF-PQ `nprobe`); false for
    /// an index without one (flat, untrained IVF-PQ).
    pub(super) fn set_default_breadth(&mut self, breadth: usize) -> bool {
        match self {
            IndexState::Hnsw(g) => g.set_ef_search(breadth),
            IndexState::IvfPq(ivf) => match &mut ivf.index {
                Some(index) => {
                    index.set_nprobe(breadth);
                    ivf.params.nprobe = Some(breadth);
                }
                None => return false,
            },
            IndexState::Flat(_) => return false,
        }
        true
    }

    /// HNSW's mapped level-0 table.
    pub(super) fn links(&self) -> Option<&ChunkedLinks> {
        if let IndexState::Hnsw(g) = self { Some(g.level0()) } else { None }
    }

    /// The checkpoint segment of the index, if it has one: its kind and body.
    pub(super) fn segment(&self) -> Option<(SegmentKind, Vec<u8>)> {
        match self {
            IndexState::Flat(_) => None,
            IndexState::Hnsw(g) => Some((GRAPH, g.export().encode())),
            IndexState::IvfPq(ivf) => Some((IVF, ivf.encode())),
        }
    }

    /// Registers rows `..rows` with the index before they are added (HNSW allocates their
    /// lists; the other kinds need nothing).
    pub(super) fn register_rows(&mut self, rows: usize) -> Result<()> {
        if let IndexState::Hnsw(g) = self {
            g.level0_mut().grow_to(rows)?;
            g.add_rows(rows);
        }
        Ok(())
    }

    /// Flushes mapped index pages (HNSW level-0 links).
    pub(super) fn flush(&self) -> Result<()> {
        if let Some(links) = self.links() {
            links.flush()?;
        }
        Ok(())
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

    /// With a trained quantizer or IVF-PQ index, full precision is read only to re-rank:
    /// drops this process's resident pages of the (file-backed) vector chunks. Dirty pages
    /// stay in the kernel's page cache and reach the file as usual (the WAL covers a crash
    /// before that).
    /// With `storage.mmap: 'auto'`, re-ranks then read full precision with `pread` (see
    /// `ChunkedTable::read_through_files`), so it stays out of the process.
    pub(super) fn release_full_precision(&self, mmap: MmapMode) -> crate::error::Result<()> {
        let ivf_trained = self.index.ivf().is_some_and(|ivf| ivf.index.is_some());
        let compressed = ivf_trained || self.quantized();
        self.vectors.read_through_files(compressed && mmap == MmapMode::Auto);
        if compressed {
            self.vectors.release_resident()?;
            self.vectors.advise_random();
        }
        Ok(())
    }

    /// Repairs the index around deleted rows (after which nothing refers to them); returns
    /// how many neighbour lists were rewritten (HNSW) or list entries removed (IVF-PQ).
    pub(super) fn repair(&self) -> usize {
        pool().install(|| self.index.active().repair(&self.vectors, &|row| !self.ids.is_live(row)))
    }
}

/// Chunk shift of a new link table for `config` (0 when there is none).
pub(super) fn links_shift(config: &CollectionConfig) -> u32 {
    config.index.hnsw_params().map_or(0, |p| ChunkedLinks::shift_for(p.level0_width()))
}
