//! The query vectors a collection has been asked, kept as a bounded uniform sample (Vitter's
//! reservoir sampling, algorithm R): after n queries each of them is in the sample with the
//! same probability `capacity / n`. `tune()` and `index.targetRecall` measure recall on it,
//! so the recall they promise is the recall of queries like the users', not of stored vectors
//! (which a graph search finds too easily: their own node links to their nearest neighbours).
//!
//! In memory only (a reopened collection starts a new sample), accounted as a cache and
//! emptied under memory pressure. A search records its queries only if no other search is
//! recording at that moment: recording never makes a search wait.

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Seed of the reservoir's choices (which slot a new query replaces).
const SEED: u64 = 0x5a3b_1e00;

#[derive(Debug)]
pub(crate) struct QueryLog {
    dim: usize,
    /// Queries kept at most (0: off).
    capacity: usize,
    inner: Mutex<Reservoir>,
}

#[derive(Debug)]
struct Reservoir {
    /// Queries offered so far.
    seen: u64,
    /// Row-major, `len / dim` queries.
    vectors: Vec<f32>,
    rng: StdRng,
}

impl QueryLog {
    pub fn new(dim: usize, capacity: usize) -> Self {
        let inner = Reservoir { seen: 0, vectors: Vec::new(), rng: StdRng::seed_from_u64(SEED) };
        Self { dim, capacity, inner: Mutex::new(inner) }
    }

    /// Offers the queries of a row-major block (as searched: normalised for cosine).
    pub fn record(&self, queries: &[f32]) {
        if self.capacity == 0 {
            return;
        }
        let Some(mut guard) = self.inner.try_lock() else { return };
        let r = &mut *guard;
        for q in queries.chunks_exact(self.dim) {
            let held = r.vectors.len() / self.dim;
            if held < self.capacity {
                r.vectors.extend_from_slice(q);
            } else {
                let seen = r.seen;
                let slot = r.rng.random_range(0..=seen) as usize;
                if slot < self.capacity {
                    r.vectors[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(q);
                }
            }
            r.seen += 1;
        }
    }

    /// Queries held now.
    pub fn len(&self) -> usize {
        self.inner.lock().vectors.len() / self.dim
    }

    /// Up to `n` of the queries held (a uniform choice when more are held), row-major.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<f32> {
        let r = self.inner.lock();
        let held = r.vectors.len() / self.dim;
        if held <= n {
            return r.vectors.clone();
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let picked = rand::seq::index::sample(&mut rng, held, n);
        picked.iter().flat_map(|i| &r.vectors[i * self.dim..(i + 1) * self.dim]).copied().collect()
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> u64 {
        (self.inner.lock().vectors.capacity() * 4) as u64
    }

    /// Forgets every query (memory pressure): the sample fills again as searches come.
    pub fn clear(&self) {
        let mut r = self.inner.lock();
        r.vectors = Vec::new();
        r.seen = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_uniform_sample() {
        // 100 slots, 10,000 one-dimensional queries numbered 0..10000: each decile of the
        // stream should hold about a tenth of the sample (binomial, sd ~3).
        let log = QueryLog::new(1, 100);
        let mut counts = [0usize; 10];
        for round in 0..50 {
            let log = if round == 0 { &log } else { &QueryLog::new(1, 100) };
            let mut inner = log.inner.lock();
            inner.rng = StdRng::seed_from_u64(round);
            drop(inner);
            for i in 0..10_000 {
                log.record(&[i as f32]);
            }
            assert_eq!(log.len(), 100);
            for v in log.sample(100, 1) {
                counts[v as usize / 1000] += 1;
            }
        }
        // 5,000 picks over 10 deciles: 500 each, sd ~21.
        for c in counts {
            assert!((400..=600).contains(&c), "{counts:?}");
        }
        assert_eq!(log.sample(10, 2).len(), 10);
        log.clear();
        assert_eq!((log.len(), log.bytes()), (0, 0));
        let off = QueryLog::new(1, 0);
        off.record(&[1.0]);
        assert_eq!(off.len(), 0);
    }
}
