//! The map between user string ids and dense internal rows, with tombstones.
//!
//! A deleted row becomes a tombstone (its bit in `live` cleared) so that row numbers stored
//! elsewhere (vector chunks, graph links) stay valid; a tombstoned HNSW node even keeps
//! routing searches. `optimize()` reclaims tombstones once nothing refers to them any more;
//! new ids then take reclaimed rows, lowest first (a rule that does not depend on history,
//! so WAL replay assigns the same rows), before the table grows.

//!
//! Id strings are stored once, back to back in one byte arena, each row holding a packed
//! (start, length) span: 8 bytes per row plus the id's bytes, where a `Box<str>` per row costs
//! a 16-byte pointer and a heap block of at least 32. The hash table holds only rows and
//! hashes the strings it points at. Deleted ids leave garbage in the arena, which
//! `reclaim_tombstones` (run by `optimize()`) compacts away.

use std::collections::BTreeSet;
use std::hash::BuildHasher;

use fixedbitset::FixedBitSet;
use hashbrown::{DefaultHashBuilder, HashTable};

#[derive(Debug, Default)]
pub struct IdMap {
    /// Live rows, found by the hash of their id.
    by_id: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// The id bytes of every row (valid UTF-8 pieces: only `&str` bytes are appended).
    arena: Vec<u8>,
    /// Row -> span of its id in `arena`: start in the high 48 bits, length in the low 16
    /// (ids are at most `MAX_ID_BYTES` long); a tombstone has length 0.
    spans: Vec<u64>,
    /// Bit per row: set while the row is live.
    live: FixedBitSet,
    live_count: usize,
    /// Reclaimed rows, free for new ids.
    free: BTreeSet<u32>,
    /// While set, new ids get new rows at the end, never reclaimed ones (a rebuild is
    /// catching up with the rows appended since it started).
    hold_free: bool,
}

impl IdMap {
    /// The row of a live id.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.by_id.find(self.hasher.hash_one(id), |&row| self.id(row) == id).copied()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Assigns a row to `id` (which must not be live): the lowest reclaimed row, else a new
    /// one at the end. Returns the row.
    pub fn push(&mut self, id: &str) -> u32 {
        debug_assert!(!self.contains(id), "push of a live id");
        debug_assert!(!id.is_empty() && id.len() < 1 << 16);
        let span = ((self.arena.len() as u64) << 16) | id.len() as u64;
        self.arena.extend_from_slice(id.as_bytes());
        let reused = if self.hold_free { None } else { self.free.pop_first() };
        let row = match reused {
            Some(row) => {
                self.spans[row as usize] = span;
                row
            }
            None => {
                self.spans.push(span);
                self.live.grow(self.spans.len());
                self.spans.len() as u32 - 1
            }
        };
        let hash = self.hasher.hash_one(id);
        let (arena, spans, hasher) = (&self.arena, &self.spans, &self.hasher);
        self.by_id.insert_unique(hash, row, |&r| hasher.hash_one(span_str(arena, spans[r as usize])));
        self.live.insert(row as usize);
        self.live_count += 1;
        row
    }

    /// Reclaimed rows.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Rows [`IdMap::push`] will hand out before growing the table.
    pub fn reusable_count(&self) -> usize {
        if self.hold_free { 0 } else { self.free.len() }
    }

    /// Makes [`IdMap::push`] append rows only (`true`) or reuse reclaimed ones first again.
    pub fn hold_free_rows(&mut self, hold: bool) {
        self.hold_free = hold;
    }

    /// Whether any row is deleted and not yet reclaimed.
    pub fn has_tombstones(&self) -> bool {
        self.live_count() + self.free.len() < self.rows()
    }

    /// Marks every tombstone as free for reuse and compacts the id arena; returns how many
    /// rows were reclaimed.
    pub fn reclaim_tombstones(&mut self) -> usize {
        let before = self.free.len();
        for row in 0..self.spans.len() as u32 {
            if !self.is_live(row) {
                self.free.insert(row);
            }
        }
        let mut arena = Vec::with_capacity(self.spans.iter().map(|&s| (s & 0xffff) as usize).sum());
        for span in &mut self.spans {
            let len = *span & 0xffff;
            let start = (*span >> 16) as usize;
            let new_start = arena.len() as u64;
            arena.extend_from_slice(&self.arena[start..start + len as usize]);
            *span = (new_start << 16) | len;
        }
        self.arena = arena;
        self.free.len() - before
    }

    /// Whether `row` is reclaimed (free).
    pub fn is_free(&self, row: u32) -> bool {
        self.free.contains(&row)
    }

    /// Marks tombstoned rows as free (used when loading a checkpoint, after every row is in).
    pub fn mark_free(&mut self, rows: impl IntoIterator<Item = u32>) {
        for row in rows {
            debug_assert!(!self.is_live(row));
            self.free.insert(row);
        }
    }

    /// Appends a tombstone row (used when loading a checkpoint).
    pub fn push_tombstone(&mut self) {
        self.spans.push(0);
        self.live.grow(self.spans.len());
    }

    /// Tombstones the row of `id`; returns the row if it was live.
    pub fn remove(&mut self, id: &str) -> Option<u32> {
        let (arena, spans) = (&self.arena, &self.spans);
        let hash = self.hasher.hash_one(id);
        let entry = self.by_id.find_entry(hash, |&row| span_str(arena, spans[row as usize]) == id).ok()?;
        let (row, _) = entry.remove();
        self.spans[row as usize] = 0;
        self.live.set(row as usize, false);
        self.live_count -= 1;
        Some(row)
    }

    /// The id of a live row ("" for a tombstone).
    pub fn id(&self, row: u32) -> &str {
        span_str(&self.arena, self.spans[row as usize])
    }

    #[inline]
    pub fn is_live(&self, row: u32) -> bool {
        self.live.contains(row as usize)
    }

    /// Rows ever assigned (live and tombstoned).
    pub fn rows(&self) -> usize {
        self.spans.len()
    }

    /// The live rows as a bitmap.
    pub fn live_rows(&self) -> roaring::RoaringBitmap {
        self.live.ones().map(|row| row as u32).collect()
    }

    pub fn live_count(&self) -> usize {
        self.live_count
    }

    /// Approximate heap bytes held (arena, spans, hash table, bitset).
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.spans.capacity() * 8 + self.by_id.capacity() * 5 + self.live.len() / 8
    }
}

/// The string a span points at.
#[inline]
fn span_str(arena: &[u8], span: u64) -> &str {
    let start = (span >> 16) as usize;
    let bytes = &arena[start..start + (span & 0xffff) as usize];
    // SAFETY: spans only ever cover bytes copied from a `&str` in `push` (or moved whole by
    // the compaction in `reclaim_tombstones`), so they are valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

/// Reads an id written by an encoder, refusing what no write path could have stored (empty,
/// longer than `MAX_ID_BYTES`, holding NUL): a decoded file is checked, not trusted.
pub(crate) fn read_id<'a>(
    r: &mut libravdb_core::codec::ByteReader<'a>,
) -> Result<&'a str, libravdb_core::codec::DecodeError> {
    let id = r.str()?;
    if id.is_empty() || id.len() > crate::config::MAX_ID_BYTES || id.contains('\0') {
        return Err(libravdb_core::codec::DecodeError(format!("invalid id of {} bytes", id.len())));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_dense_and_deletes_tombstone() {
        let mut m = IdMap::default();
        assert_eq!(m.push("a"), 0);
        assert_eq!(m.push("b"), 1);
        assert_eq!(m.remove("a"), Some(0));
        assert_eq!(m.remove("a"), None);
        assert!(!m.is_live(0) && m.is_live(1));
        assert_eq!(m.push("a"), 2, "a re-inserted id gets a new row");
        assert_eq!((m.rows(), m.live_count()), (3, 2));
        assert_eq!(m.id(2), "a");
    }

    #[test]
    fn reclaimed_rows_are_reused_lowest_first() {
        let mut m = IdMap::default();
        for id in ["a", "b", "c", "d"] {
            m.push(id);
        }
        m.remove("d");
        m.remove("b");
        assert_eq!(m.reclaim_tombstones(), 2);
        assert_eq!(m.push("x"), 1);
        assert_eq!(m.push("y"), 3);
        assert_eq!(m.push("z"), 4, "no free rows left: the table grows");
        assert_eq!((m.rows(), m.live_count(), m.free_count()), (5, 5, 0));
        for (id, row) in [("a", 0), ("x", 1), ("c", 2), ("y", 3), ("z", 4)] {
            assert_eq!((m.get(id), m.id(row)), (Some(row), id));
        }
    }

    #[test]
    fn compaction_keeps_every_live_id_and_drops_deleted_bytes() {
        let mut m = IdMap::default();
        let ids: Vec<String> = (0..1000).map(|i| format!("id-ünïcode-{i}")).collect();
        for id in &ids {
            m.push(id);
        }
        for id in ids.iter().step_by(2) {
            m.remove(id);
        }
        let before = m.arena.len();
        m.reclaim_tombstones();
        assert!(m.arena.len() < before / 2 + 100);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(m.get(id).is_some(), i % 2 == 1, "{id}");
            if let Some(row) = m.get(id) {
                assert_eq!(m.id(row), id);
            }
        }
    }
}
