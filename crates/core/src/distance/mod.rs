//! Distance metrics and their kernels.
//!
//! Every index works with a *distance*: smaller is closer. For `L2` it is the squared
//! Euclidean distance; for `Dot` it is the negated inner product; for `Cosine` vectors are
//! normalised once on the way in and the distance is the negated inner product of unit
//! vectors. [`Metric::score`] turns a distance into what the API reports: the Euclidean
//! distance for `L2`, the similarity for `Cosine` and `Dot`.
//!
//! Kernels are plain loops over fixed-width lane arrays that LLVM vectorises; the widest
//! instruction set the CPU has is picked once per process ([`kernels`]), as hnswlib's
//! `L2Space` constructor does, and indexes store the chosen function pointer.
//! [`scalar`] holds the reference kernels every SIMD kernel is tested against.

pub mod scalar;
mod simd;

use std::sync::OnceLock;

/// A distance kernel over two slices of equal length.
pub type DistanceFn = fn(&[f32], &[f32]) -> f32;

/// A [`DistanceFn`] of one row against four queries at once (`[d(q0, row), .., d(q3, row)]`),
/// bit-identical to four calls: the row is read once for the four (batched exact search).
pub type Distance4Fn = fn(&[f32], [&[f32]; 4]) -> [f32; 4];

/// How similarity between vectors is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Euclidean distance. Score: the distance (lower is closer).
    L2,
    /// Cosine similarity; vectors are normalised on insert. Score: similarity in [-1, 1].
    Cosine,
    /// Inner product. Score: the inner product (higher is closer).
    Dot,
}

impl Metric {
    /// Parses the API spelling (`"l2"`, `"cosine"`, `"dot"`).
    pub fn parse(s: &str) -> Option<Metric> {
        match s {
            "l2" => Some(Metric::L2),
            "cosine" => Some(Metric::Cosine),
            "dot" => Some(Metric::Dot),
            _ => None,
        }
    }

    /// The API spelling of this metric.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::L2 => "l2",
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
        }
    }

    /// The fastest distance kernel for this metric on this CPU.
    pub fn kernel(self) -> DistanceFn {
        let k = kernels();
        match self {
            Metric::L2 => k.l2_sq,
            Metric::Cosine | Metric::Dot => k.neg_dot,
        }
    }

    /// [`Metric::kernel`] for one row against four queries.
    pub fn kernel_x4(self) -> Distance4Fn {
        let k = kernels();
        match self {
            Metric::L2 => k.l2_sq_x4,
            Metric::Cosine | Metric::Dot => k.neg_dot_x4,
        }
    }

    /// Converts an internal distance into the score the API reports.
    pub fn score(self, distance: f32) -> f32 {
        match self {
            Metric::L2 => distance.max(0.0).sqrt(),
            Metric::Cosine | Metric::Dot => -distance,
        }
    }

    /// Whether stored vectors and queries are normalised to unit length first.
    pub fn normalizes(self) -> bool {
        self == Metric::Cosine
    }
}

/// The kernel set chosen for this CPU.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    /// Squared Euclidean distance.
    pub l2_sq: DistanceFn,
    /// Negated inner product.
    pub neg_dot: DistanceFn,
    /// Inner product.
    pub dot: DistanceFn,
    /// `l2_sq` of one row against four queries.
    pub l2_sq_x4: Distance4Fn,
    /// `neg_dot` of one row against four queries.
    pub neg_dot_x4: Distance4Fn,
    /// Instruction set the kernels were compiled for (`"avx512"`, `"avx2+fma"`, `"baseline"`).
    pub isa: &'static str,
}

/// The kernels for the widest instruction set this CPU supports, detected once.
pub fn kernels() -> &'static Kernels {
    static KERNELS: OnceLock<Kernels> = OnceLock::new();
    KERNELS.get_or_init(simd::detect)
}

/// Every kernel set this CPU can run, widest first (for benchmarks and tests).
pub fn available_kernels() -> Vec<Kernels> {
    simd::available()
}

/// How far from 1 a norm may be for the vector to count as unit length already: float
/// rounding of a normalised 384-d vector stays well inside it.
const UNIT_NORM_TOLERANCE: f32 = 1e-5;

/// Scales `v` to unit length in place. Returns `false` (leaving `v` unchanged) when its norm
/// is zero or not finite, since such a vector has no direction. A vector already of unit
/// length (within rounding) is left bit for bit as it is, so normalising is idempotent: a
/// stored vector read back and written again (an export and import) does not drift.
pub fn normalize(v: &mut [f32]) -> bool {
    let norm = (kernels().dot)(v, v).sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return false;
    }
    if (norm - 1.0).abs() <= UNIT_NORM_TOLERANCE {
        return true;
    }
    let inv = 1.0 / norm;
    v.iter_mut().for_each(|x| *x *= inv);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    fn random_vec(rng: &mut StdRng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-10.0f32..10.0)).collect()
    }

    /// Every kernel available on this CPU agrees with the scalar reference, for lengths that
    /// exercise the lane loop, the tail and both together.
    #[test]
    fn simd_kernels_match_scalar_reference() {
        let mut rng = StdRng::seed_from_u64(7);
        for set in simd::available() {
            for n in [1usize, 3, 8, 15, 16, 31, 32, 33, 64, 100, 128, 384, 777, 1536] {
                let a = random_vec(&mut rng, n);
                let b = random_vec(&mut rng, n);
                let (l2, dot) = (scalar::l2_sq(&a, &b), scalar::dot(&a, &b));
                let tol = |x: f32| 1e-4 * x.abs().max(1.0);
                assert!(((set.l2_sq)(&a, &b) - l2).abs() <= tol(l2), "{} l2 n={n}", set.isa);
                assert!(((set.dot)(&a, &b) - dot).abs() <= tol(dot), "{} dot n={n}", set.isa);
                assert!(((set.neg_dot)(&a, &b) + dot).abs() <= tol(dot), "{} neg n={n}", set.isa);
            }
        }
    }

    /// The four-query kernels give, bit for bit, what four single calls give (batched and
    /// single searches must agree exactly), for every length shape.
    #[test]
    fn four_query_kernels_equal_four_single_calls() {
        let mut rng = StdRng::seed_from_u64(8);
        for set in simd::available() {
            for n in [1usize, 3, 8, 15, 16, 31, 32, 33, 64, 100, 128, 384, 777, 1536] {
                let row = random_vec(&mut rng, n);
                let qs: Vec<Vec<f32>> = (0..4).map(|_| random_vec(&mut rng, n)).collect();
                let q = [&qs[0][..], &qs[1][..], &qs[2][..], &qs[3][..]];
                assert_eq!((set.l2_sq_x4)(&row, q), q.map(|q| (set.l2_sq)(q, &row)), "{} l2 n={n}", set.isa);
                assert_eq!((set.neg_dot_x4)(&row, q), q.map(|q| (set.neg_dot)(q, &row)), "{} dot n={n}", set.isa);
            }
        }
    }

    #[test]
    fn scores_follow_the_metric() {
        let a = [1.0, 0.0];
        let b = [0.0, 2.0];
        assert!((Metric::L2.score(Metric::L2.kernel()(&a, &b)) - 5f32.sqrt()).abs() < 1e-6);
        assert_eq!(Metric::Dot.score(Metric::Dot.kernel()(&a, &[3.0, 1.0])), 3.0);
    }

    #[test]
    fn normalize_rejects_zero_and_scales_to_unit() {
        let mut z = [0.0f32; 4];
        assert!(!normalize(&mut z));
        let mut v = [3.0f32, 4.0];
        assert!(normalize(&mut v));
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        let mut rng = StdRng::seed_from_u64(3);
        for dim in [2, 128, 384, 1536] {
            let mut v = random_vec(&mut rng, dim);
            assert!(normalize(&mut v));
            let once = v.clone();
            assert!(normalize(&mut v));
            assert_eq!(v, once, "dim {dim}");
        }
    }
}
