//! Memory accounting and the database's limit (DESIGN §9).
//!
//! Every collection reports its large structures as [`MemoryParts`], split into what the
//! process holds and cannot give back (heap and anonymous memory: ids, upper graph layers,
//! payload indexes, codes, caches, in-memory vectors and links) and what is file-backed and
//! reclaimable (mapped vector, link and metadata files, resident or not). The limit is
//! measured against the first kind only: the [`MemoryGovernor`] keeps the database's sum of
//! it, admits or refuses each write before it is logged, and notes when the sum crosses the
//! pressure threshold so that caches can shrink, mapped pages be released and the host be told.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Default share of the limit past which the database is under pressure.
pub const DEFAULT_PRESSURE: f64 = 0.8;

/// Bytes of one collection, by structure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryParts {
    /// Full-precision vectors held in anonymous memory (in-memory collections, `mmap: false`).
    pub vectors: u64,
    /// Index structure in anonymous memory (HNSW levels and upper layers, IVF-PQ lists and
    /// codebooks; level-0 links too when they are not file-backed).
    pub index: u64,
    /// Quantized codes.
    pub codes: u64,
    /// Payload indexes of the schema fields.
    pub payload: u64,
    /// The id map.
    pub ids: u64,
    /// Metadata held on the heap (in-memory collections) and the on-disk record file's
    /// offset table.
    pub metadata: u64,
    /// The decoded-record cache.
    pub cache: u64,
    /// Write buffers (the WAL's).
    pub buffers: u64,
    /// File-backed mappings (vectors, links, metadata): reclaimable, not in `held()`.
    pub mapped: u64,
    /// Of `mapped`, the bytes resident in this process now (Linux; 0 elsewhere or when not
    /// measured).
    pub resident: u64,
}

impl MemoryParts {
    /// What the process holds and cannot give back: what the limit is measured against.
    pub fn held(&self) -> u64 {
        self.vectors + self.index + self.codes + self.payload + self.ids + self.metadata + self.cache + self.buffers
    }
}

/// The database's limit and the running sum of what its collections hold.
#[derive(Debug)]
pub struct MemoryGovernor {
    /// Bytes; 0 means no limit.
    limit: AtomicU64,
    /// Share of the limit (f64 bits) past which the database is under pressure.
    pressure: AtomicU64,
    /// Sum of the collections' `held()` as last accounted.
    held: AtomicU64,
    /// Above the pressure threshold as of the last update.
    above: AtomicBool,
    /// Upward crossings of the threshold not yet taken by [`MemoryGovernor::take_crossing`].
    pending: AtomicBool,
    crossings: AtomicU64,
}

impl MemoryGovernor {
    pub fn new(limit: Option<u64>, pressure: f64) -> Result<Self> {
        let g = Self {
            limit: AtomicU64::new(0),
            pressure: AtomicU64::new(DEFAULT_PRESSURE.to_bits()),
            held: AtomicU64::new(0),
            above: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            crossings: AtomicU64::new(0),
        };
        g.set_pressure(pressure)?;
        g.set_limit(limit)?;
        Ok(g)
    }

    /// The limit in bytes, if any.
    pub fn limit(&self) -> Option<u64> {
        Some(self.limit.load(Ordering::Acquire)).filter(|&l| l > 0)
    }

    /// Sets (or with `None` removes) the limit. Lowering it below what is held is allowed:
    /// writes that add memory are refused until enough is freed or the limit is raised.
    pub fn set_limit(&self, limit: Option<u64>) -> Result<()> {
        if limit == Some(0) {
            return Err(Error::invalid("memoryLimit must be a positive number of bytes"));
        }
        self.limit.store(limit.unwrap_or(0), Ordering::Release);
        self.update(0, 0);
        Ok(())
    }

    /// The pressure threshold as a share of the limit.
    pub fn pressure(&self) -> f64 {
        f64::from_bits(self.pressure.load(Ordering::Acquire))
    }

    fn set_pressure(&self, pressure: f64) -> Result<()> {
        if !(pressure > 0.0 && pressure <= 1.0) {
            return Err(Error::invalid(format!("memoryPressure must be in (0, 1], got {pressure}")));
        }
        self.pressure.store(pressure.to_bits(), Ordering::Release);
        Ok(())
    }

    /// Bytes held by every collection, as last accounted.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    /// Whether the database is past its pressure threshold.
    pub fn under_pressure(&self) -> bool {
        self.above.load(Ordering::Acquire)
    }

    /// How many times the held bytes crossed the pressure threshold upwards.
    pub fn crossings(&self) -> u64 {
        self.crossings.load(Ordering::Acquire)
    }

    /// Replaces a collection's share `old` by `new` and notes a crossing of the threshold.
    /// Returns true when this update crossed it upwards.
    pub fn update(&self, old: u64, new: u64) -> bool {
        let held = if new >= old {
            self.held.fetch_add(new - old, Ordering::AcqRel) + (new - old)
        } else {
            self.held.fetch_sub(old - new, Ordering::AcqRel) - (old - new)
        };
        let above = self.limit().is_some_and(|limit| held as f64 > self.pressure() * limit as f64);
        let was = self.above.swap(above, Ordering::AcqRel);
        let crossed = above && !was;
        if crossed {
            self.crossings.fetch_add(1, Ordering::AcqRel);
            self.pending.store(true, Ordering::Release);
        }
        crossed
    }

    /// Whether the threshold was crossed since the last call (for the host's event).
    pub fn take_crossing(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }

    /// Refuses a write of `collection` that needs `need` more bytes when the database's limit
    /// (or the collection's own, `own = (held, limit)`) would be passed.
    pub fn admit(&self, collection: &str, need: u64, own: (u64, Option<u64>)) -> Result<()> {
        if need == 0 {
            return Ok(());
        }
        if let Some(limit) = own.1
            && own.0 + need > limit
        {
            return Err(Error::MemoryLimit(format!(
                "collection '{collection}': this write needs {} more and the collection holds {} of its memoryLimit {}; \
                 nothing was written. Delete records and optimize(), or raise the collection's memoryLimit",
                show(need),
                show(own.0),
                show(limit)
            )));
        }
        if let Some(limit) = self.limit() {
            let held = self.held();
            if held + need > limit {
                return Err(Error::MemoryLimit(format!(
                    "collection '{collection}': this write needs {} more and the database holds {} of its memoryLimit {}; \
                     nothing was written. Reads, deletes and optimize() still work; free memory or raise the limit \
                     (db.setMemoryLimit)",
                    show(need),
                    show(held),
                    show(limit)
                )));
            }
        }
        Ok(())
    }
}

/// Bytes as a short human figure (`12.3 MiB`).
pub fn show(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_is_noted_once_until_held_falls_back() {
        let g = MemoryGovernor::new(Some(1000), 0.8).unwrap();
        assert!(!g.update(0, 700));
        assert!(g.update(700, 850), "crossed 800");
        assert!(g.take_crossing());
        assert!(!g.update(850, 900), "still above: no second crossing");
        assert!(!g.take_crossing());
        g.update(900, 100);
        assert!(!g.under_pressure());
        assert!(g.update(100, 801));
        assert_eq!(g.crossings(), 2);
    }

    #[test]
    fn admit_refuses_past_either_limit() {
        let g = MemoryGovernor::new(Some(1000), 0.8).unwrap();
        g.update(0, 900);
        assert!(g.admit("c", 100, (0, None)).is_ok());
        let e = g.admit("c", 101, (0, None)).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::MemoryLimit);
        assert!(e.to_string().contains("collection 'c'"), "{e}");
        assert!(g.admit("c", 10, (95, Some(100))).is_err(), "the collection's own limit");
        g.set_limit(Some(2000)).unwrap();
        assert!(g.admit("c", 101, (0, None)).is_ok(), "a raised limit admits again");
        assert!(g.set_limit(Some(0)).is_err());
        assert!(MemoryGovernor::new(None, 1.5).is_err());
    }
}
