//! The map between user string ids and dense internal rows, with tombstones.
//!
//! A deleted row becomes a tombstone (its bit in `live` cleared) so that row numbers stored
//! elsewhere (vector chunks, graph links) stay valid; a tombstoned HNSW node even keeps
//! routing searches. `optimize()` reclaims tombstones once nothing refers to them any more;
//! new ids then take reclaimed rows, lowest first (a rule that does not depend on history,
//! so WAL replay assigns the same rows), before the table grows.

//!
//! Each id string is stored once, in `ids`; the hash table holds only rows and hashes the
//! strings it points at (about 50 bytes per record less than a `HashMap<String, u32>` beside
//! the row -> id vector).

use std::collections::BTreeSet;
use std::hash::BuildHasher;

use fixedbitset::FixedBitSet;
use hashbrown::{DefaultHashBuilder, HashTable};

#[derive(Debug, Default)]
pub struct IdMap {
    /// Live rows, found by the hash of their id.
    by_id: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// Row -> id; a tombstone keeps an empty string.
    ids: Vec<Box<str>>,
    /// Bit per row: set while the row is live.
    live: FixedBitSet,
    live_count: usize,
    /// Reclaimed rows, free for new ids.
    free: BTreeSet<u32>,
}

impl IdMap {
    /// The row of a live id.
    pub fn get(&self, id: &str) -> Option<u32> {
        let ids = &self.ids;
        self.by_id.find(self.hasher.hash_one(id), |&row| &*ids[row as usize] == id).copied()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Assigns a row to `id` (which must not be live): the lowest reclaimed row, else a new
    /// one at the end. Returns the row.
    pub fn push(&mut self, id: &str) -> u32 {
        let row = match self.free.pop_first() {
            Some(row) => {
                self.ids[row as usize] = id.into();
                row
            }
            None => {
                self.ids.push(id.into());
                self.live.grow(self.ids.len());
                self.ids.len() as u32 - 1
            }
        };
        debug_assert!(!self.contains(id), "push of a live id");
        let (ids, hasher) = (&self.ids, &self.hasher);
        self.by_id.insert_unique(hasher.hash_one(id), row, |&r| hasher.hash_one(&*ids[r as usize]));
        self.live.insert(row as usize);
        self.live_count += 1;
        row
    }

    /// Rows [`IdMap::push`] will hand out before growing the table.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Marks every tombstone as free for reuse; returns how many were reclaimed.
    pub fn reclaim_tombstones(&mut self) -> usize {
        let before = self.free.len();
        for row in 0..self.ids.len() as u32 {
            if !self.is_live(row) {
                self.free.insert(row);
            }
        }
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
        self.ids.push("".into());
        self.live.grow(self.ids.len());
    }

    /// Tombstones the row of `id`; returns the row if it was live.
    pub fn remove(&mut self, id: &str) -> Option<u32> {
        let ids = &self.ids;
        let entry = self.by_id.find_entry(self.hasher.hash_one(id), |&row| &*ids[row as usize] == id).ok()?;
        let (row, _) = entry.remove();
        self.ids[row as usize] = "".into();
        self.live.set(row as usize, false);
        self.live_count -= 1;
        Some(row)
    }

    /// The id of a live row.
    pub fn id(&self, row: u32) -> &str {
        &self.ids[row as usize]
    }

    #[inline]
    pub fn is_live(&self, row: u32) -> bool {
        self.live.contains(row as usize)
    }

    /// Rows ever assigned (live and tombstoned).
    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    pub fn live_count(&self) -> usize {
        self.live_count
    }

    /// Approximate heap bytes held (strings, hash table, bitset).
    pub fn heap_bytes(&self) -> usize {
        let strings: usize = self.ids.iter().map(|s| s.len()).sum();
        strings + self.by_id.capacity() * 5 + self.ids.capacity() * 16 + self.live.len() / 8
    }
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
    }
}
