//! The index of a collection and how rows enter it.
//!
//! Flat needs no structure. IVF-PQ keeps inverted lists of codes in memory (see [`super::ivf`]).
//! HNSW keeps a graph whose level-0 lists live in mmap'd chunk files
//! (`<collection>/links/`) and whose upper levels are checkpointed to `graph-<gen>.seg`.
//! With HNSW a vector never changes in place: an update or upsert appends a new row and
//! tombstones the old one, so the new vector is linked like any insert and the old node keeps
//! routing searches until `optimize()` repairs around it.

use std::path::Path;

use libravdb_core::{FlatIndex, HnswGraph, Neighbor};
use libravdb_storage::ChunkedLinks;

use super::State;
use super::ivf::IvfState;
use crate::config::CollectionConfig;
use crate::error::Result;
use crate::ops::Op;
use crate::pool::pool;

#[derive(Debug)]
pub(crate) enum IndexState {
    Flat(FlatIndex),
    Hnsw(Box<HnswGraph<ChunkedLinks>>),
    IvfPq(Box<IvfState>),
}

impl IndexState {
    /// A new, empty index for `config`; `links_dir` holds HNSW level-0 chunks (None: memory).
    pub(super) fn create(config: &CollectionConfig, links_dir: Option<&Path>, links_shift: u32) -> Result<Self> {
        if let Some(p) = config.index.ivf_params() {
            return Ok(IndexState::IvfPq(Box::new(IvfState::new(p))));
        }
        Ok(match config.index.hnsw_params() {
            None => IndexState::Flat(FlatIndex::new(config.metric)),
            Some(p) => {
                let links = ChunkedLinks::open(links_dir, p.level0_width(), links_shift, 0)?;
                IndexState::Hnsw(Box::new(HnswGraph::new(p, config.metric, links)))
            }
        })
    }

    /// Whether updates append a new row instead of writing in place (the old row stays in
    /// the graph or its list until `optimize()`).
    pub(super) fn appends_on_update(&self) -> bool {
        matches!(self, IndexState::Hnsw(_) | IndexState::IvfPq(_))
    }

    pub(super) fn kind(&self) -> &'static str {
        match self {
            IndexState::Flat(_) => "flat",
            IndexState::Hnsw(_) => "hnsw",
            IndexState::IvfPq(_) => "ivfpq",
        }
    }

    /// Bytes of index structure (0 for flat).
    pub(super) fn bytes(&self) -> usize {
        match self {
            IndexState::Flat(_) => 0,
            IndexState::Hnsw(g) => g.bytes(),
            IndexState::IvfPq(ivf) => ivf.index.as_ref().map_or(0, |i| i.bytes()),
        }
    }

    /// Flushes mapped index pages (HNSW level-0 links).
    pub(super) fn flush(&self) -> Result<()> {
        if let IndexState::Hnsw(g) = self {
            g.level0().flush()?;
        }
        Ok(())
    }
}

impl State {
    /// Rows the table will have after `op` is applied (new ids take reclaimed rows first).
    pub(super) fn rows_after(&self, op: &Op) -> usize {
        let appends = self.index.appends_on_update();
        let needed = match op {
            Op::Put { ids, .. } if appends => ids.len(),
            Op::Put { ids, .. } => ids.iter().filter(|id| !self.ids.contains(id)).count(),
            Op::Update { items } if appends => items.iter().filter(|i| i.vector.is_some()).count(),
            Op::Update { .. } | Op::Delete { .. } | Op::Repair => 0,
        };
        self.ids.rows() + needed.saturating_sub(self.ids.free_count())
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
        if let IndexState::Hnsw(g) = &mut self.index {
            let rows = self.ids.rows();
            g.level0_mut().grow_to(rows)?;
            g.add_rows(rows);
        }
        Ok(())
    }

    /// Links `rows` (written by `apply`) into the index, in parallel on the worker pool.
    /// Runs under the collection's read lock: searches go on meanwhile.
    pub(super) fn link(&self, rows: &[u32]) {
        if rows.is_empty() {
            return;
        }
        match &self.index {
            IndexState::Hnsw(g) => pool().install(|| g.link(&self.vectors, rows)),
            // Untrained: training files every live row.
            IndexState::IvfPq(ivf) => {
                if let Some(index) = &ivf.index {
                    pool().install(|| index.add(&self.vectors, rows));
                }
            }
            IndexState::Flat(_) => {}
        }
    }

    /// The `k` nearest live rows of one prepared query (on codes + re-rank when quantized).
    /// `breadth` widens the search: HNSW beam width or IVF lists probed (None: the default).
    pub(super) fn knn(
        &self,
        query: &[f32],
        k: usize,
        breadth: Option<usize>,
        metric: libravdb_core::Metric,
        accept: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<Neighbor> {
        if let Some(found) = self.knn_quantized(query, k, breadth, metric, accept) {
            return found;
        }
        let live = |row: u32| accept(row);
        match &self.index {
            IndexState::Flat(flat) => flat.search(&self.vectors, query, k, live),
            IndexState::Hnsw(g) => g.search(&self.vectors, query, k, breadth.unwrap_or(g.params().ef_search), live),
            IndexState::IvfPq(ivf) => match (&ivf.index, ivf.nprobe()) {
                (Some(index), Some(nprobe)) => {
                    let rerank = ivf.params.rerank;
                    let found = index.search(query, breadth.unwrap_or(nprobe), k * rerank.max(1), live);
                    if rerank > 0 { self.rerank(query, found, k, metric) } else { found }
                }
                // Not trained yet: exact.
                _ => FlatIndex::new(metric).search(&self.vectors, query, k, live),
            },
        }
    }

    /// Repairs the index around deleted rows (after which nothing refers to them); returns
    /// how many neighbour lists were rewritten (HNSW) or list entries removed (IVF-PQ).
    pub(super) fn repair(&self) -> usize {
        match &self.index {
            IndexState::Flat(_) => 0,
            IndexState::Hnsw(g) => pool().install(|| g.repair(&self.vectors, |row| !self.ids.is_live(row))),
            IndexState::IvfPq(ivf) => {
                ivf.index.as_ref().map_or(0, |index| pool().install(|| index.retain(|row| self.ids.is_live(row))))
            }
        }
    }
}

/// Where vector chunks live.
pub(super) fn vectors_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("vectors")
}

/// Where HNSW level-0 chunks live.
pub(super) fn links_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("links")
}

/// Chunk shift of a new link table for `config` (0 when there is none).
pub(super) fn links_shift(config: &CollectionConfig) -> u32 {
    config.index.hnsw_params().map_or(0, |p| ChunkedLinks::shift_for(p.level0_width()))
}
