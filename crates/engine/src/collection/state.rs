//! The in-memory state of a collection: its concerns side by side, and what coordinates them
//! (how rows enter the index, searches through index and quantizer, each concern persisted).

use std::path::Path;

use libravdb_core::index::Walk;
use libravdb_core::{Metric, Neighbor};

use super::fields::VectorField;
use super::format::{Persistent, VerifyReport, corrupted};
use super::meta::{Damaged, MetadataStore};
use super::payload::Filterable;
use super::quant::LiveRows;
use super::rows::Rows;
use super::space::VectorSpace;
use crate::config::MmapMode;
use crate::error::{Error, Result};
use crate::ids::IdMap;
use crate::ops::Op;

/// In-memory state of a collection, guarded by `Collection::state`. Each concern is a type
/// of its own that owns its operations: ids (`IdMap`), the vector space (`VectorSpace`:
/// vectors, the index, which also trains IVF-PQ, and quantization: training, codes, search
/// on them), payload indexes (`Filterable`), metadata (`MetadataStore`). Each owns
/// its files ([`Persistent`]). The `impl State` blocks only coordinate them: here (searching,
/// adding rows), apply.rs (applying a write to every concern), planner.rs (planning a
/// filtered search), account.rs (what it holds); persistence is `Writer`'s.
#[derive(Debug)]
pub(crate) struct State {
    /// The vector field: row `r`'s vector, index entry and code belong to the record of row
    /// `r` of `ids`.
    pub space: VectorSpace,
    pub ids: IdMap,
    /// Row -> metadata JSON text.
    pub metadata: MetadataStore,
    /// Payload indexes, when the collection has a schema.
    pub filterable: Option<Filterable>,
    /// Named vector fields, in the configuration's order (see fields.rs).
    pub fields: Vec<VectorField>,
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
            space: VectorSpace::empty(dim, shift)?,
            ids: IdMap::default(),
            metadata: MetadataStore::heap(Vec::new()),
            filterable: None,
            fields: Vec::new(),
            rebuilding: false,
            seq: 0,
        })
    }

    /// Every vector space the records' vectors live in: the default field's (unless the
    /// collection has named fields only) and each named field's.
    pub(super) fn spaces(&self) -> impl Iterator<Item = &VectorSpace> {
        std::iter::once(&self.space).chain(self.fields.iter().map(|f| &f.space)).filter(|s| !s.none)
    }

    /// [`State::spaces`], to change them.
    pub(super) fn spaces_mut(&mut self) -> impl Iterator<Item = &mut VectorSpace> {
        std::iter::once(&mut self.space).chain(self.fields.iter_mut().map(|f| &mut f.space)).filter(|s| !s.none)
    }

    /// [`VectorSpace::release_full_precision`] for every space.
    pub(super) fn release_full_precision(&self, mmap: MmapMode, bounded: bool) -> Result<()> {
        self.spaces().try_for_each(|s| s.release_full_precision(mmap, bounded))
    }

    /// Named vector field `name`.
    pub(super) fn field(&self, name: &str) -> Option<&VectorField> {
        self.fields.iter().find(|f| f.name == name)
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
        f(&self.space.index)?;
        if let Some(q) = &self.space.quant {
            f(q)?;
        }
        if let Some(p) = &self.filterable {
            f(p)?;
        }
        for field in &self.fields {
            f(field)?;
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

/// Which vector space an operation acts on (`rebuild()`, `tune()`): the unnamed vector's,
/// or named field `name`'s.
#[derive(Debug, Clone, Copy)]
pub(super) enum SpaceOf<'a> {
    Default,
    Field(&'a str),
}

impl State {
    /// The space `of` names and which of its rows are live; `ERR_INVALID_ARGUMENT` when the
    /// field is gone (dropped meanwhile).
    pub(super) fn space_of(&self, of: SpaceOf) -> Result<(&VectorSpace, &dyn LiveRows)> {
        match of {
            SpaceOf::Default => Ok((&self.space, &self.ids)),
            SpaceOf::Field(name) => {
                let f = self.present_field(name)?;
                Ok((&f.space, f))
            }
        }
    }

    /// Named vector field `name`, to change it.
    pub(super) fn field_mut(&mut self, name: &str) -> Option<&mut VectorField> {
        self.fields.iter_mut().find(|f| f.name == name)
    }

    /// Named vector field `name` of a configuration that has it, or `ERR_INVALID_ARGUMENT`
    /// when the state no longer (or not yet) does: the field was dropped, or is being added,
    /// between the caller's check of the configuration and its hold of the state.
    pub(super) fn present_field(&self, name: &str) -> Result<&VectorField> {
        self.field(name).ok_or_else(|| gone(name))
    }

    /// [`State::present_field`], to change it.
    pub(super) fn present_field_mut(&mut self, name: &str) -> Result<&mut VectorField> {
        self.field_mut(name).ok_or_else(|| gone(name))
    }
}

fn gone(name: &str) -> Error {
    Error::invalid(format!("vector field '{name}' is being added or dropped; try again"))
}

impl State {}

/// Rows a write appended, which the caller links into the indexes: the default field's and
/// each named field's (in `State::fields` order).
#[derive(Debug, Default)]
pub(crate) struct Written {
    pub rows: Vec<u32>,
    pub fields: Vec<Vec<u32>>,
}

impl Written {
    pub fn extend(&mut self, other: Written) {
        self.rows.extend(other.rows);
        self.fields.resize_with(self.fields.len().max(other.fields.len()), Vec::new);
        for (mine, theirs) in self.fields.iter_mut().zip(other.fields) {
            mine.extend(theirs);
        }
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
        self.rebuilding || self.space.index.appends_on_update()
    }

    /// Maps the chunks `op` needs (vectors and links of every field), so that applying does
    /// no I/O.
    pub(super) fn reserve_for(&mut self, op: &Op) -> Result<()> {
        let rows = self.rows_after(op);
        self.space.reserve(rows)?;
        for f in &mut self.fields {
            f.reserve(op.len())?;
        }
        Ok(())
    }

    /// Registers rows appended by `apply` with the index (they are linked by [`State::link`]).
    pub(super) fn register_rows(&mut self) -> Result<()> {
        self.space.index.register_rows(self.ids.rows())
    }

    /// Links the rows `apply` wrote into the indexes, in parallel on the worker pool. Runs
    /// under the collection's read lock: searches go on meanwhile.
    pub(super) fn link(&self, written: &Written) {
        self.space.link(&written.rows);
        for (field, rows) in self.fields.iter().zip(&written.fields) {
            field.space.link(rows);
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
        self.space.knn_walk(query, k, breadth, metric, self.ids.rows(), walk, accept)
    }

    /// [`State::knn`] for each query of a row-major block (see [`VectorSpace::knn_batch`]).
    pub(super) fn knn_batch(
        &self,
        queries: &[f32],
        k: usize,
        breadth: Option<usize>,
        metric: Metric,
        accept: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<Vec<Neighbor>> {
        self.space.knn_batch(queries, k, breadth, metric, self.ids.rows(), accept)
    }

    /// Repairs the index around deleted rows (after which nothing refers to them); returns
    /// how many neighbour lists were rewritten (HNSW) or list entries removed (IVF-PQ).
    pub(super) fn repair(&self) -> usize {
        self.space.repair(&|row| !self.ids.is_live(row)) + self.fields.iter().map(VectorField::repair).sum::<usize>()
    }

    /// Whether deleted rows (of the records, or of a named field) wait for [`State::repair`].
    pub(super) fn needs_repair(&self) -> bool {
        self.ids.has_tombstones() || self.fields.iter().any(VectorField::needs_repair)
    }

    /// After [`State::repair`]: nothing refers to the tombstones any more, so their rows can
    /// take new records (and a named field's gone rows its new vectors).
    pub(super) fn after_repair(&mut self) {
        self.ids.reclaim_tombstones();
        self.fields.iter_mut().for_each(VectorField::repaired);
    }
}
