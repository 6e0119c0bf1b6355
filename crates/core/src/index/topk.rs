//! Bounded best-k collection.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A candidate: an internal row id and its distance to the query (smaller is closer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    pub row: u32,
    pub distance: f32,
}

impl Eq for Neighbor {}

impl Ord for Neighbor {
    /// By distance, ties broken by the lower row, so results are deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance.total_cmp(&other.distance).then(self.row.cmp(&other.row))
    }
}

impl PartialOrd for Neighbor {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the `k` closest candidates seen so far in a max-heap whose top is the worst kept.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Neighbor>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        Self { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    /// The distance a candidate must beat to enter, or +inf while fewer than k are kept.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k { f32::INFINITY } else { self.heap.peek().map_or(f32::INFINITY, |n| n.distance) }
    }

    /// Offers a candidate; it is kept when it is among the k closest so far.
    #[inline]
    pub fn push(&mut self, row: u32, distance: f32) {
        if self.k == 0 {
            return;
        }
        let cand = Neighbor { row, distance };
        if self.heap.len() < self.k {
            self.heap.push(cand);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && cand < *worst
        {
            *worst = cand;
        }
    }

    /// The kept candidates, closest first.
    pub fn into_sorted(self) -> Vec<Neighbor> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_k_smallest_in_order_with_ties_by_row() {
        let mut t = TopK::new(3);
        for (row, d) in [(0, 5.0), (1, 1.0), (2, 3.0), (3, 1.0), (4, 9.0), (5, 0.5)] {
            t.push(row, d);
        }
        let rows: Vec<u32> = t.into_sorted().iter().map(|n| n.row).collect();
        assert_eq!(rows, vec![5, 1, 3]);
    }

    #[test]
    fn zero_k_keeps_nothing() {
        let mut t = TopK::new(0);
        t.push(1, 1.0);
        assert!(t.into_sorted().is_empty());
    }
}
