//! Named vector fields (DESIGN §13): each a [`VectorSpace`] of its own, with rows of its own
//! tied to the records' rows by a map.
//!
//! A field's row holds one record's vector of that field; a record without the field has no
//! row in it, so a search `using` the field sees only the records that have it. A field's
//! rows never move with the record: setting one field's vector touches that field only
//! (under HNSW it takes a new row of the field and tombstones the old, as the default field
//! does; flat rewrites in place), and a record that moves to a new row of its own (an
//! update of the default vector under HNSW) only moves the map entry. `optimize()` repairs the
//! field's index around its gone rows and frees them; new vectors of the field take freed rows
//! first (lowest first, so a replay of the WAL gives the same rows), except while the field is
//! rebuilt.
//!
//! Files, per field under `<collection>/fields/<name>/`: `vectors/` and `links/` chunk
//! tables as the default field's, `graph-<generation>.seg`, and `owners-<generation>.seg`
//! (the field row -> record row map, freed rows marked).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use libravdb_core::codec::{ByteReader, ByteWriter};
use libravdb_core::index::Walk;
use libravdb_core::{Metric, Neighbor};
use roaring::RoaringBitmap;

use super::format::{FIELDS_DIR, OWNERS, Persistent, VerifyReport, corrupted};
use super::index::IndexSource;
use super::quant::LiveRows;
use super::route::{PlanKind, Planned, QueryPlan, counted_plan, nearest_allowed};
use super::space::VectorSpace;
use crate::config::CollectionConfig;
use crate::error::Result;

/// A field row whose vector was replaced or deleted.
const GONE: u32 = u32::MAX;
/// A gone row the index was repaired around (`optimize()`): free for a new vector.
const FREE: u32 = u32::MAX - 1;

/// Directory of named field `name`'s files in collection directory `dir`.
pub(crate) fn field_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(FIELDS_DIR).join(name)
}

#[derive(Debug)]
pub(crate) struct VectorField {
    pub name: String,
    pub metric: Metric,
    pub space: VectorSpace,
    /// Field row -> record row ([`GONE`]: replaced or deleted; [`FREE`]: then repaired around).
    owners: Vec<u32>,
    /// The [`FREE`] rows, taken lowest first.
    free: BTreeSet<u32>,
    /// Record row -> field row ([`GONE`]: the record has no vector of this field), as long
    /// as the highest record row that had one: a filtered search maps every match through
    /// it, and indexing a table costs less than a hash lookup there.
    rows_of: Vec<u32>,
    /// Records that have this field.
    live: usize,
    /// Rows gone since the index was last repaired around them (`optimize()`).
    unrepaired: usize,
    /// A `rebuild({ using })` is building a new index of this field: every vector set takes
    /// a new row (none is rewritten in place), so the rows past those it has seen are all
    /// it has yet to add.
    pub rebuilding: bool,
}

/// Where a field's checkpoint is read from.
pub(crate) struct FieldSource<'a> {
    pub config: &'a CollectionConfig,
    /// The collection's directory (None: in memory).
    pub dir: Option<&'a Path>,
    pub generation: u64,
    pub chunk_shift: u32,
    pub links_shift: u32,
    /// The level-0 link table's directory name.
    pub links_dir: &'a str,
    /// Field rows at the checkpoint.
    pub rows: usize,
    pub read_only: bool,
    pub load: bool,
}

impl VectorField {
    /// Field `name` as `source` describes it: new (generation 0), or as checkpointed.
    pub(super) fn open(name: &str, source: FieldSource) -> Result<VectorField> {
        let dir = source.dir.map(|d| field_dir(d, name));
        let owners = match &dir {
            Some(d) if source.generation > 0 => {
                let path = OWNERS.path(d, source.generation);
                let (_, body) = OWNERS.read(d, source.generation)?;
                decode_owners(&body, source.rows).map_err(|e| corrupted(path, e))?
            }
            _ => Vec::new(),
        };
        let space = VectorSpace::open(
            IndexSource {
                config: source.config,
                dir: dir.as_deref(),
                links_dir: dir.as_ref().map(|d| d.join(source.links_dir)),
                generation: source.generation,
                links_shift: source.links_shift,
                rows: owners.len(),
                read_only: source.read_only,
                load: source.load,
            },
            source.chunk_shift,
        )?;
        let mut rows_of = Vec::new();
        let mut live = 0;
        let mut free = BTreeSet::new();
        for (row, &owner) in owners.iter().enumerate().filter(|(_, o)| **o != GONE) {
            if owner == FREE {
                free.insert(row as u32);
            } else {
                set_entry(&mut rows_of, owner, row as u32);
                live += 1;
            }
        }
        // Rows gone (not freed) before the checkpoint count as unrepaired: the next
        // `optimize()` repairs.
        let unrepaired = owners.len() - live - free.len();
        Ok(VectorField {
            name: name.to_owned(),
            metric: source.config.metric,
            space,
            owners,
            free,
            rows_of,
            live,
            unrepaired,
            rebuilding: false,
        })
    }

    /// Rows of the field (live and gone).
    pub fn rows(&self) -> usize {
        self.owners.len()
    }

    /// Records that have this field.
    pub fn live_count(&self) -> usize {
        self.live
    }

    /// Heap bytes of the row map (owners, the record -> row table, the free rows; a B-tree
    /// entry counted as 8 bytes).
    pub fn map_bytes(&self) -> usize {
        (self.owners.capacity() + self.rows_of.capacity()) * 4 + self.free.len() * 8
    }

    /// The record row field row `row` belongs to (None: gone or free).
    pub fn owner(&self, row: u32) -> Option<u32> {
        self.owners.get(row as usize).copied().filter(|&o| o < FREE)
    }

    /// Record row `record`'s row of this field, if it has the field.
    pub fn row_of(&self, record: u32) -> Option<u32> {
        self.rows_of.get(record as usize).copied().filter(|&row| row != GONE)
    }

    /// Record row `record`'s vector of this field, if it has one.
    pub fn vector_of(&self, record: u32) -> Option<&[f32]> {
        self.row_of(record).map(|row| self.space.vectors.row(row))
    }

    /// Maps the chunks `extra` more rows need, so that applying does no I/O.
    pub(super) fn reserve(&mut self, extra: usize) -> Result<()> {
        self.space.reserve(self.owners.len() + extra)
    }

    /// Sets record row `record`'s vector to `v` (prepared); returns the field row to link
    /// when the vector took a new one (a freed row, or one past the end).
    pub(super) fn set(&mut self, record: u32, v: &[f32]) -> Result<Option<u32>> {
        if let Some(row) = self.row_of(record) {
            if !self.space.index.appends_on_update() && !self.rebuilding {
                self.space.set_row(row, v)?;
                return Ok(None);
            }
            self.owners[row as usize] = GONE;
            self.unrepaired += 1;
            self.live -= 1;
        }
        let reused = if self.rebuilding { None } else { self.free.pop_first() };
        let row = match reused {
            Some(row) => {
                self.space.set_row(row, v)?;
                self.owners[row as usize] = record;
                row
            }
            None => {
                let row = self.owners.len() as u32;
                self.space.set_row(row, v)?;
                self.owners.push(record);
                self.space.index.register_rows(self.owners.len())?;
                row
            }
        };
        set_entry(&mut self.rows_of, record, row);
        self.live += 1;
        Ok(Some(row))
    }

    /// Removes record row `record`'s vector (a record deleted, or the field cleared).
    pub(super) fn remove(&mut self, record: u32) {
        if let Some(row) = self.row_of(record) {
            self.rows_of[record as usize] = GONE;
            self.owners[row as usize] = GONE;
            self.unrepaired += 1;
            self.live -= 1;
        }
    }

    /// Whether rows went since the index was last repaired.
    pub fn needs_repair(&self) -> bool {
        self.unrepaired > 0
    }

    /// The index was repaired around every gone row ([`VectorField::repair`] ran): they
    /// are free for new vectors.
    pub(super) fn repaired(&mut self) {
        for (row, owner) in self.owners.iter_mut().enumerate().filter(|(_, o)| **o == GONE) {
            *owner = FREE;
            self.free.insert(row as u32);
        }
        self.unrepaired = 0;
    }

    /// Record row `from` moved to `to` (its vector of this field stays where it is).
    pub(super) fn moved(&mut self, from: u32, to: u32) {
        if let Some(row) = self.row_of(from) {
            self.rows_of[from as usize] = GONE;
            self.owners[row as usize] = to;
            set_entry(&mut self.rows_of, to, row);
        }
    }

    /// Plans a search of this field for `k` results among the records `allowed` holds (None:
    /// no filter), as [`super::State::plan`] does for the default vector: the matches are the
    /// allowed records that have the field, and the plan's `allowed` holds their field rows.
    pub(super) fn plan(&self, allowed: Option<&RoaringBitmap>, k: usize, breadth: usize) -> Planned {
        let live = self.live_count();
        let Some(allowed) = allowed else {
            return Planned { allowed: None, plan: QueryPlan::unfiltered(&self.space, breadth, live) };
        };
        // Built from sorted rows rather than inserted one by one (debpkg20k at 10%: the field's
        // search went from 0.77x to 0.92x the one-vector collection's q/s).
        let mut rows: Vec<u32> = allowed.iter().filter_map(|record| self.row_of(record)).collect();
        rows.sort_unstable();
        let rows = RoaringBitmap::from_sorted_iter(rows).expect("sorted, distinct rows");
        let plan = counted_plan(&self.space, k, breadth, rows.len() as usize, live);
        Planned { allowed: Some(rows).filter(|_| plan.plan != PlanKind::Unfiltered), plan }
    }

    /// The `k` nearest vectors of this field (field rows: see [`VectorField::owner`]) run as
    /// `planned` says ([`VectorField::plan`]); `breadth` as for the default field when no
    /// filter narrows it.
    pub(super) fn nearest(&self, query: &[f32], k: usize, breadth: Option<usize>, planned: &Planned) -> Vec<Neighbor> {
        match &planned.allowed {
            Some(rows) => nearest_allowed(&self.space, self.rows(), query, k, self.metric, &planned.plan, rows),
            None => self.knn(query, k, breadth),
        }
    }

    /// The `k` nearest vectors of this field, unfiltered; `breadth` as for the default field.
    pub(super) fn knn(&self, query: &[f32], k: usize, breadth: Option<usize>) -> Vec<Neighbor> {
        self.space
            .knn_walk(query, k, breadth, self.metric, self.rows(), Walk::Through, &|row| self.owner(row).is_some())
    }

    /// Repairs the index around gone rows; returns how many lists it rewrote.
    pub(super) fn repair(&self) -> usize {
        self.space.repair(&|row| self.owner(row).is_none())
    }

    /// The chunk checksums of the field's vectors and links as of now (`previous`: the
    /// last checkpoint's vector checksums, for chunks not written since).
    pub(super) fn checksums(&self, previous: &[u32]) -> (Vec<u32>, Vec<u32>) {
        let links = self.space.index.links().map_or_else(Vec::new, |l| l.checksums(&[]));
        (self.space.vectors.checksums(previous), links)
    }
}

/// A field's live rows: those a record owns.
impl LiveRows for VectorField {
    fn rows(&self) -> usize {
        self.owners.len()
    }
    fn live_count(&self) -> usize {
        self.live
    }
    fn is_live(&self, row: u32) -> bool {
        self.owner(row).is_some()
    }
}

/// A field's files of a checkpoint: its vectors are flushed, its index, codes and row map written
/// (`dir` is the collection's directory).
impl Persistent for VectorField {
    fn save(&self, dir: &Path, generation: u64) -> Result<()> {
        let dir = field_dir(dir, &self.name);
        self.space.vectors.flush()?;
        self.space.index.save(&dir, generation)?;
        if let Some(q) = &self.space.quant {
            q.save(&dir, generation)?;
        }
        let mut w = ByteWriter::with_capacity(4 + self.owners.len() * 4);
        w.u32(self.owners.len() as u32);
        for &o in &self.owners {
            w.u32(o);
        }
        OWNERS.write(&dir, generation, &w.buf)
    }

    fn check(&self, dir: &Path, generation: u64, report: &mut VerifyReport) {
        let dir = field_dir(dir, &self.name);
        // Every checkpoint writes it (one commits each field's addition).
        if generation > 0 {
            OWNERS.check(&dir, generation, report);
        }
        self.space.index.check(&dir, generation, report);
        if let Some(q) = &self.space.quant {
            q.check(&dir, generation, report);
        }
    }
}

/// Sets `table[record]` to `row`, growing the table (with [`GONE`]) to reach it.
fn set_entry(table: &mut Vec<u32>, record: u32, row: u32) {
    let at = record as usize;
    if table.len() <= at {
        table.resize(at + 1, GONE);
    }
    table[at] = row;
}

fn decode_owners(body: &[u8], rows: usize) -> std::result::Result<Vec<u32>, String> {
    let mut r = ByteReader::new(body);
    let n = r.u32().map_err(|e| e.0)? as usize;
    if n != rows {
        return Err(format!("{n} rows, manifest says {rows}"));
    }
    (0..n).map(|_| r.u32().map_err(|e| e.0)).collect()
}
