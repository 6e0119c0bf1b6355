//! Visited sets reused across searches: one per thread, cleared in O(1) by bumping an epoch
//! (hnswlib's `VisitedListPool`, qdrant's `visited_pool`). Marks are 16-bit, as hnswlib's:
//! 2 bytes per row per searching thread, and a full clear once every 65,535 searches.

use std::cell::RefCell;

/// Marks rows as visited for the current epoch.
pub struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

impl Visited {
    /// Starts a new search over `rows` rows (an O(1) clear).
    pub fn reset_for(&mut self, rows: usize) {
        self.reset(rows)
    }

    fn reset(&mut self, rows: usize) {
        if self.marks.len() < rows {
            self.marks.resize(rows.next_power_of_two(), 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.epoch = 1;
        }
    }

    /// Whether `row` is marked in this search.
    #[inline]
    pub fn contains(&self, row: u32) -> bool {
        self.marks[row as usize] == self.epoch
    }

    /// Marks `row`; returns `true` if it was not visited yet in this search.
    #[inline]
    pub fn insert(&mut self, row: u32) -> bool {
        let m = &mut self.marks[row as usize];
        if *m == self.epoch {
            false
        } else {
            *m = self.epoch;
            true
        }
    }
}

thread_local! {
    static VISITED: RefCell<Visited> = const { RefCell::new(Visited { marks: Vec::new(), epoch: 0 }) };
}

/// Runs `f` with this thread's visited set, reset for `rows` rows.
pub fn with_visited<R>(rows: usize, f: impl FnOnce(&mut Visited) -> R) -> R {
    VISITED.with(|v| {
        let mut v = v.borrow_mut();
        v.reset(rows);
        f(&mut v)
    })
}
