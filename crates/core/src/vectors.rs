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
