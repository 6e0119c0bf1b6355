//! What a collection holds in memory ([`MemoryParts`]), kept in the database's account after
//! every change, and the admission of writes against the memory limits.

use std::sync::atomic::Ordering;

use super::index::IndexState;
use super::space::VectorSpace;
use super::{Collection, State};
use crate::config::{CollectionConfig, DbOptions, MmapMode};
use crate::error::Result;
use crate::memory::MemoryParts;
use crate::ops::Op;
use libravdb_core::VectorRows;

/// Heap bytes per id beyond its characters: its span in the arena (8) and its hash-table
/// entry (5 at full load, ~10 with the table's spare capacity).
const ID_OVERHEAD: u64 = 18;

/// Heap bytes per named field row beyond its vector and index entry: its owner (4) and its
/// record's entry in the record -> row table (4, ~8 with the tables' spare capacity).
const FIELD_ROW_OVERHEAD: u64 = 16;

impl State {
    /// Bytes by structure; `with_resident` also measures the resident part of the mapped files
    /// (reads /proc/self/smaps: for `memoryUsage()`, not for every write).
    pub(super) fn memory_parts(&self, with_resident: bool) -> MemoryParts {
        let mut p = MemoryParts::default();
        self.space.add_memory(&mut p, with_resident);
        for field in &self.fields {
            field.space.add_memory(&mut p, with_resident);
            p.index += field.map_bytes() as u64;
        }
        if let Some(f) = &self.filterable {
            p.payload = f.bytes() as u64;
        }
        p.ids = self.ids.heap_bytes() as u64;
        p.metadata = self.metadata.held_bytes();
        p.cache = self.metadata.cache_stats().bytes;
        let (mapped, resident) = self.metadata.mapped_bytes(with_resident);
        p.mapped += mapped;
        p.resident += resident;
        p
    }

    /// Bytes a write of `op` adds to what the process holds (an estimate from the shape of
    /// each structure; rows taken from the free list still count).
    fn write_cost(&self, op: &Op, dim: usize, held: &MemoryParts) -> u64 {
        let new_rows = self.rows_after(op).saturating_sub(self.ids.rows()) as u64;
        let texts = op.metadata_bytes();
        let per_row = self.row_cost(dim, held);
        let rows = match op {
            Op::Put { ids, .. } => ids.len() as u64,
            Op::Update { items } => items.len() as u64,
            Op::Delete { .. } | Op::Repair => return 0,
        };
        let metadata = match op {
            Op::Put { .. } => {
                self.metadata.row_cost(0) * rows + self.metadata.row_cost(texts) - self.metadata.row_cost(0)
            }
            // Rewritten texts: on the heap they replace the old ones (counted in full, to be safe).
            _ => self.metadata.row_cost(texts).saturating_sub(self.metadata.row_cost(0)),
        };
        let ids = if matches!(op, Op::Put { .. }) { op.id_bytes() + rows * ID_OVERHEAD } else { 0 };
        new_rows * per_row + metadata + ids + self.named_cost(op)
    }

    /// Bytes the named vector fields' new rows of `op` add (each vector takes a new row).
    fn named_cost(&self, op: &Op) -> u64 {
        let cost = |name: &str, vectors: u64| {
            self.field(name).map_or(0, |f| vectors * (f.space.row_cost(f.space.vectors.dim()) + FIELD_ROW_OVERHEAD))
        };
        match op {
            Op::Put { named, .. } => {
                named.iter().map(|b| cost(&b.field, b.present.iter().filter(|&&p| p).count() as u64)).sum()
            }
            Op::Update { items } => {
                items.iter().flat_map(|i| &i.named).filter(|(_, v)| v.is_some()).map(|(n, _)| cost(n, 1)).sum()
            }
            Op::Delete { .. } | Op::Repair => 0,
        }
    }

    /// Held bytes per new row in the vectors, index, codes and payload indexes.
    fn row_cost(&self, dim: usize, held: &MemoryParts) -> u64 {
        let mut cost = self.space.row_cost(dim);
        let live = self.ids.live_count() as u64;
        if self.filterable.is_some() {
            cost += if live > 0 { held.payload.div_ceil(live) } else { 16 };
        }
        cost
    }
}

impl VectorSpace {
    /// Adds what this space holds to `p` (see [`State::memory_parts`]).
    fn add_memory(&self, p: &mut MemoryParts, with_resident: bool) {
        if self.none {
            return;
        }
        let vectors = self.vectors.data_bytes() as u64;
        if self.vectors.is_mapped() {
            p.mapped += vectors;
            if with_resident {
                p.resident += self.vectors.resident_bytes() as u64;
            }
        } else {
            p.vectors += vectors;
        }
        let mut index = self.index.active().bytes() as u64;
        if let Some(links) = self.index.links()
            && links.is_mapped()
        {
            let mapped = links.data_bytes() as u64;
            index = index.saturating_sub(mapped);
            p.mapped += mapped;
            if with_resident {
                p.resident += links.resident_bytes() as u64;
            }
        }
        if let Some(ivf) = self.index.ivf().and_then(|i| i.index.as_ref()) {
            // IVF-PQ's lists hold its codes: reported as codes, the rest as index.
            let codes = (ivf.ivf.len() * ivf.ivf.code_bytes()) as u64;
            p.codes += codes;
            index = index.saturating_sub(codes);
        }
        p.index += index;
        if let Some(q) = &self.quant {
            p.codes += q.held_bytes() as u64;
        }
    }

    /// Held bytes per new row of `dim` values in the vectors, index and codes.
    fn row_cost(&self, dim: usize) -> u64 {
        if self.none {
            return 0;
        }
        let mut cost = 0;
        if !self.vectors.is_mapped() {
            cost += dim as u64 * 4;
        }
        cost += match &self.index {
            IndexState::Hnsw(g) => {
                let width = g.params().level0_width() as u64 * 4;
                let links = if g.level0().is_mapped() { 0 } else { width };
                // Level and lock bytes, and the upper layers' share (1 row in m has one).
                links + 2 + width / g.params().m.max(1) as u64
            }
            _ => 0,
        };
        if let Some(ivf) = self.index.ivf() {
            // Code bytes and the row id in its list; a guess before training.
            cost += ivf.index.as_ref().map_or(dim as u64 / 4, |i| i.ivf.code_bytes() as u64) + 4;
        }
        if let Some(q) = &self.quant {
            cost += q.held_bytes_per_row().map_or(dim as u64, |b| b as u64);
        }
        cost
    }
}

/// Bytes of full-precision vectors and HNSW level-0 links `rows` rows take.
fn table_bytes(config: &CollectionConfig, rows: usize) -> u64 {
    let width = config.index.hnsw_params().map_or(0, |p| p.level0_width());
    (rows * (config.dimension + width) * 4) as u64
}

/// Whether an on-disk collection of `rows` rows holds its vectors and links in anonymous
/// memory (`storage.mmap`): always with `false`, never with `true`; with `auto` while they
/// take less than [`MmapMode::AUTO_SHARE`] of the database's remaining memory budget (never
/// without a limit: the page cache serves mapped files as fast once read).
pub(super) fn loads_into_memory(config: &CollectionConfig, options: &DbOptions, rows: usize) -> bool {
    match config.mmap {
        MmapMode::Off => true,
        MmapMode::On => false,
        MmapMode::Auto => options.memory.limit().is_some_and(|limit| {
            let remaining = limit.saturating_sub(options.memory.held());
            (table_bytes(config, rows) as f64) < MmapMode::AUTO_SHARE * remaining as f64
        }),
    }
}

impl State {
    /// `storage.mmap: 'auto'`: a loaded collection about to grow to `rows` rows past its share
    /// of the budget is served from its mapped files from here on.
    fn map_if_outgrown(&mut self, config: &CollectionConfig, options: &DbOptions, rows: usize) -> Result<()> {
        if config.mmap != MmapMode::Auto || self.space.vectors.is_mapped() || !self.space.vectors.is_file_backed() {
            return Ok(());
        }
        // The budget left once this collection's loaded tables are given back.
        let mine = table_bytes(config, self.ids.rows());
        let limit = options.memory.limit().unwrap_or(0);
        let remaining = limit.saturating_sub(options.memory.held().saturating_sub(mine));
        if (table_bytes(config, rows) as f64) < MmapMode::AUTO_SHARE * remaining as f64 {
            return Ok(());
        }
        self.map_loaded_tables()
    }

    /// Serves loaded vectors and level-0 links from their files from here on (no-op for
    /// mapped, in-memory and read-only tables).
    fn map_loaded_tables(&mut self) -> Result<()> {
        for space in self.spaces_mut() {
            space.vectors.into_mapped()?;
            if let IndexState::Hnsw(g) = &mut space.index {
                g.level0_mut().into_mapped()?;
            }
        }
        Ok(())
    }
}

impl Collection {
    /// What this collection holds, by structure, with the resident part of its mapped files.
    pub fn memory(&self) -> Result<MemoryParts> {
        let st = self.read_state()?;
        // Reads fill the text cache between writes: the account catches up here.
        self.account(&st);
        let mut parts = self.parts(&st, true);
        parts.buffers = self.write_buffers.load(Ordering::Acquire);
        Ok(parts)
    }

    /// Whether memory bounds this collection now: a database or collection limit is set, or
    /// the database is under pressure (see `State::release_full_precision`).
    pub(super) fn memory_bounded(&self) -> bool {
        let governor = &self.options.memory;
        governor.limit().is_some() || self.config.read().memory_limit.is_some() || governor.under_pressure()
    }

    /// What the state holds, and this collection's sample of recent queries (as a cache).
    pub(super) fn parts(&self, st: &State, with_resident: bool) -> MemoryParts {
        let mut parts = st.memory_parts(with_resident);
        parts.cache += self.recent.bytes();
        parts
    }

    /// Recomputes what this collection holds and brings the database's account up to date.
    /// Under pressure (the update crossed the threshold, or it stands past it), empties this
    /// collection's caches and releases resident mapped pages.
    pub(super) fn account(&self, st: &State) {
        let held = self.parts(st, false).held();
        let old = self.held.swap(held, Ordering::AcqRel);
        let governor = &self.options.memory;
        if governor.update(old, held) {
            self.relieve(st);
        }
    }

    /// Gives back what this collection can: its text cache, its sample of recent queries and
    /// the resident pages of its mapped files (they stay in the files and the page cache).
    pub(super) fn relieve(&self, st: &State) {
        st.metadata.relieve();
        self.recent.clear();
        // Memory is bounded now: full precision leaves as it does under a limit, and re-ranks
        // stop mapping it back in; other vectors' resident pages are released too.
        let mmap = self.config.read().mmap;
        for space in st.spaces() {
            let _ = space.release_full_precision(mmap, true);
            if !space.compressed() {
                let _ = space.vectors.release_resident();
            }
            if let Some(links) = space.index.links() {
                let _ = links.release_resident();
            }
        }
    }

    /// The database's pressure handling (DESIGN §9): an `'auto'` collection whose vectors
    /// are loaded moves them (and its links) to their mapped files, whatever its share of the
    /// budget; then caches are emptied and resident pages released, and the account updated.
    pub fn relieve_memory(&self) {
        if self.config.read().mmap == MmapMode::Auto && self.check_writable().is_ok() {
            // Writes apply rows under the writer lock: none runs while the tables move.
            let _w = self.writer.lock();
            if self.check_open().is_ok() {
                // On failure (mapping refused by the system) the tables stay loaded and serving;
                // the next write's admission tries again.
                let _ = self.state.write().map_loaded_tables();
            }
        }
        if let Ok(st) = self.read_state() {
            self.relieve(&st);
            self.account(&st);
        }
    }

    /// Takes this collection out of the database's account (closed or dropped).
    pub(super) fn unaccount(&self) {
        let old = self.held.swap(0, Ordering::AcqRel);
        self.options.memory.update(old, 0);
    }

    /// Refuses `op` with `ERR_MEMORY_LIMIT` when it would pass the database's limit or this
    /// collection's own; nothing is logged or applied then.
    pub(super) fn admit(&self, st: &mut State, op: &Op) -> Result<()> {
        let config = self.config.read().clone();
        st.map_if_outgrown(&config, &self.options, st.rows_after(op))?;
        let limit = config.memory_limit;
        let governor = &self.options.memory;
        if limit.is_none() && governor.limit().is_none() {
            return Ok(());
        }
        let held = self.parts(st, false);
        let need = st.write_cost(op, self.dimension(), &held);
        governor.admit(&self.name, need, (held.held(), limit))
    }
}
