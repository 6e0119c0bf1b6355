//! The view of stored vectors that indexes read: rows of `dim` f32, addressed by internal row id.

/// Read access to a table of `rows() x dim()` f32 vectors.
///
/// Storage may be split into several contiguous runs (e.g. one per mmap'd chunk file);
/// scans walk [`VectorRows::runs`] so the hot loop sees plain slices.
pub trait VectorRows: Sync {
    /// Components per vector.
    fn dim(&self) -> usize;
    /// Number of rows addressable by [`VectorRows::row`] (live or deleted).
    fn rows(&self) -> usize;
    /// The vector of `row`; `row < rows()`.
    fn row(&self, row: u32) -> &[f32];
    /// Calls `f(first_row, data)` for contiguous runs covering rows `0..rows()` in order;
    /// `data.len()` is a multiple of `dim()`.
    fn runs(&self, f: &mut dyn FnMut(u32, &[f32]));

    /// Calls `f(i, vector)` for each `rows[i]`: the scattered reads of a re-rank. Stores that
    /// keep full precision out of memory override it to read without mapping pages in.
    fn gather(&self, rows: &[u32], f: &mut dyn FnMut(usize, &[f32])) {
        for (i, &row) in rows.iter().enumerate() {
            f(i, self.row(row));
        }
    }

    /// Hints the CPU to start loading `row` into cache (graph searches issue this for all
    /// neighbours of a node before computing any distance, overlapping their memory latency).
    #[inline]
    fn prefetch(&self, row: u32) {
        if (row as usize) < self.rows() {
            prefetch_slice(self.row(row));
        }
    }
}

/// Prefetches the cache lines of `v` (at most 8, i.e. 512 bytes) into L1: a row of vectors or
/// of quantized codes.
#[inline]
pub fn prefetch_slice<T>(v: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let bytes = std::mem::size_of_val(v).min(512);
        let p = v.as_ptr() as *const i8;
        let mut off = 0;
        while off < bytes {
            // SAFETY: prefetch never faults, and `off` stays inside `v`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(off)) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// A heap-allocated row-major table: the simplest [`VectorRows`], used by tests and examples.
#[derive(Debug, Clone, Default)]
pub struct DenseVectors {
    dim: usize,
    /// Layout (rows, dim), row-major.
    data: Vec<f32>,
}

impl DenseVectors {
    /// A table of `data.len() / dim` rows; `data.len()` must be a multiple of `dim`.
    pub fn new(dim: usize, data: Vec<f32>) -> Self {
        assert!(dim > 0 && data.len().is_multiple_of(dim), "data length must be a multiple of dim");
        Self { dim, data }
    }

    /// Appends one row.
    pub fn push(&mut self, v: &[f32]) {
        assert_eq!(v.len(), self.dim);
        self.data.extend_from_slice(v);
    }
}

impl VectorRows for DenseVectors {
    fn dim(&self) -> usize {
        self.dim
    }
    fn rows(&self) -> usize {
        self.data.len() / self.dim
    }
    fn row(&self, row: u32) -> &[f32] {
        let start = row as usize * self.dim;
        &self.data[start..start + self.dim]
    }
    fn runs(&self, f: &mut dyn FnMut(u32, &[f32])) {
        if !self.data.is_empty() {
            f(0, &self.data);
        }
    }
}
