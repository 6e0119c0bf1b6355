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

use libravdb_core::index::{GraphParts, IndexKind, VectorIndex};
use libravdb_core::{FlatIndex, HnswIndex, Metric};
use libravdb_storage::{ChunkedLinks, ChunkedVectors};

use super::format::{GRAPH, IVF, Persistent, VerifyReport, corrupted};
use super::ivf::IvfState;
use crate::config::CollectionConfig;
use crate::error::Result;

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

/// Chunk shift of a new link table for `config` (0 when there is none).
pub(super) fn links_shift(config: &CollectionConfig) -> u32 {
    config.index.hnsw_params().map_or(0, |p| ChunkedLinks::shift_for(p.level0_width()))
}

/// The level-0 table is mapped chunk files (flushed here; their checksums are the manifest's);
/// the rest of the index is one segment: HNSW's upper levels (`graph-`), IVF-PQ's training,
/// centroids, codebooks and lists (`ivf-`). Flat has no files.
impl Persistent for IndexState {
    fn save(&self, dir: &Path, generation: u64) -> Result<()> {
        self.flush()?;
        match self {
            IndexState::Flat(_) => Ok(()),
            IndexState::Hnsw(g) => GRAPH.write(dir, generation, &g.export().encode()),
            IndexState::IvfPq(ivf) => IVF.write(dir, generation, &ivf.encode()),
        }
    }

    fn check(&self, dir: &Path, generation: u64, report: &mut VerifyReport) {
        // Both kinds: after a rebuild switched kinds, the files are the last checkpoint's.
        GRAPH.check_present(dir, generation, report);
        IVF.check_present(dir, generation, report);
    }
}
