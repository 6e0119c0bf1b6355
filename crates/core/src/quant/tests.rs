use rand::{RngExt, SeedableRng, rngs::StdRng};

use super::*;
use crate::distance::{Metric, scalar};

fn data(seed: u64, n: usize, dim: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Clustered: 16 centres in [0, 10)^dim, spread 1.
    let centres: Vec<f32> = (0..16 * dim).map(|_| rng.random_range(0.0f32..10.0)).collect();
    (0..n)
        .flat_map(|_| {
            let c = rng.random_range(0..16);
            (0..dim).map(|d| centres[c * dim + d] + rng.random_range(-1.0f32..1.0)).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn scalar_round_trip_error_is_at_most_half_a_level_inside_the_range() {
    let dim = 24;
    let v = data(1, 2000, dim);
    for bits in [8u8, 4] {
        let q = ScalarQuantizer::train(&v, dim, bits).unwrap();
        assert_eq!(q.code_bytes(), if bits == 8 { 24 } else { 12 });
        let (mut code, mut back) = (vec![0u8; q.code_bytes()], vec![0f32; dim]);
        let mut inside = 0;
        for row in v.chunks_exact(dim) {
            q.encode(row, &mut code);
            q.decode(&code, &mut back);
            for d in 0..dim {
                let (lo, hi) = q.range(d);
                if (lo..=hi).contains(&row[d]) {
                    inside += 1;
                    assert!((row[d] - back[d]).abs() <= q.max_error(d) * 1.0001, "bits {bits} d {d}");
                }
            }
        }
        assert!(inside as f64 >= 0.99 * v.len() as f64, "quantile clipping keeps ~99.8% inside");
    }
}

#[test]
fn code_distances_equal_distances_to_the_decoded_vectors() {
    // 400 dimensions: the integer inner-product kernel's full steps and its scalar tail.
    for dim in [32, 400] {
        code_distances_match_decoded(dim);
    }
}

fn code_distances_match_decoded(dim: usize) {
    let v = data(2, 10_000, dim);
    let queries = data(3, 20, dim);
    let quantizers = [
        Quantizer::Scalar(ScalarQuantizer::train(&v, dim, 8).unwrap()),
        Quantizer::Scalar(ScalarQuantizer::train(&v, dim, 4).unwrap()),
        Quantizer::Product(ProductQuantizer::train(&v, dim, 8, 8, 7).unwrap()),
        Quantizer::Product(ProductQuantizer::train(&v, dim, 16, 4, 7).unwrap()),
    ];
    for q in &quantizers {
        let (mut code, mut back) = (vec![0u8; q.code_bytes()], vec![0f32; dim]);
        for metric in [Metric::L2, Metric::Dot] {
            for query in queries.chunks_exact(dim) {
                let p = q.prepare(query, metric);
                for row in v.chunks_exact(dim).take(50) {
                    q.encode(row, &mut code);
                    q.decode(&code, &mut back);
                    let want =
                        if metric == Metric::L2 { scalar::l2_sq(query, &back) } else { -scalar::dot(query, &back) };
                    let got = p.distance(&code);
                    assert!((got - want).abs() <= 1e-3 * want.abs().max(1.0), "{q:?} {metric:?}: {got} vs {want}");
                    // With the code's row term (8-bit scalar: L2 on integers where the CPU can).
                    if let Some(term) = q.row_term(&code) {
                        let got = p.distance_with_term(&code, term);
                        assert!(
                            (got - want).abs() <= 1e-3 * want.abs().max(1.0),
                            "{q:?} {metric:?} with term: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn product_quantization_reconstructs_far_better_than_the_data_spread() {
    let dim = 32;
    let v = data(4, 10_000, dim);
    let pq = ProductQuantizer::train(&v, dim, 16, 8, 1).unwrap();
    assert_eq!((pq.code_bytes(), Quantizer::Product(pq.clone()).compression()), (16, 8.0));
    let (mut code, mut back) = (vec![0u8; 16], vec![0f32; dim]);
    let mean: Vec<f32> = (0..dim).map(|d| v.chunks_exact(dim).map(|r| r[d]).sum::<f32>() / 10_000.0).collect();
    let (mut err, mut spread) = (0.0f64, 0.0f64);
    for row in v.chunks_exact(dim) {
        pq.encode(row, &mut code);
        pq.decode(&code, &mut back);
        err += scalar::l2_sq(row, &back) as f64;
        spread += scalar::l2_sq(row, &mean) as f64;
    }
    assert!(err < 0.05 * spread, "PQ error {err} vs spread {spread}");
}

#[test]
fn training_is_seeded_and_rejects_bad_parameters() {
    let dim = 16;
    let v = data(5, 10_000, dim);
    assert_eq!(ProductQuantizer::train(&v, dim, 4, 8, 3).unwrap(), ProductQuantizer::train(&v, dim, 4, 8, 3).unwrap());
    assert!(ProductQuantizer::train(&v, dim, 5, 8, 3).unwrap_err().0.contains("divide"));
    assert!(ProductQuantizer::train(&v[..100 * dim], dim, 4, 8, 3).unwrap_err().0.contains("at least"));
    assert!(ScalarQuantizer::train(&v, dim, 6).is_err());
    assert!(ScalarQuantizer::train(&v[..10 * dim], dim, 8).is_err());
}

#[test]
fn training_refuses_a_sample_without_variance() {
    let dim = 16;
    let same = vec![0.25f32; 5_000 * dim];
    assert!(ScalarQuantizer::train(&same, dim, 8).unwrap_err().0.contains("too little variance"));
    assert!(ProductQuantizer::train(&same, dim, 4, 8, 3).unwrap_err().0.contains("too little variance"));
    // 255 distinct vectors cannot fill 256 codewords; 16 can fill the 16 of 4 bits.
    let few: Vec<f32> = (0..5_000 * dim).map(|i| ((i / dim) % 255) as f32).collect();
    assert!(ProductQuantizer::train(&few, dim, 4, 8, 3).is_err());
    assert!(ProductQuantizer::train(&few, dim, 4, 4, 3).is_ok());
    // One varying dimension is enough for scalar quantization.
    let mut one = same.clone();
    for (i, row) in one.chunks_exact_mut(dim).enumerate() {
        row[3] = i as f32;
    }
    assert!(ScalarQuantizer::train(&one, dim, 8).is_ok());
}

#[test]
fn serialisation_round_trips_and_rejects_garbage() {
    let dim = 16;
    let v = data(6, 1200, dim);
    let v_pq = data(7, 700, dim);
    for q in [
        Quantizer::Scalar(ScalarQuantizer::train(&v, dim, 4).unwrap()),
        Quantizer::Product(ProductQuantizer::train(&v_pq, dim, 8, 4, 2).unwrap()),
    ] {
        let bytes = q.to_bytes();
        assert_eq!(Quantizer::from_bytes(&bytes), Some(q.clone()));
        assert_eq!(Quantizer::from_bytes(&bytes[..bytes.len() - 1]), None);
    }
    assert_eq!(Quantizer::from_bytes(&[9, 1, 2]), None);
}

/// The codes of the first `rows` vectors of `v`, one after another.
fn codes_of_first(pq: &ProductQuantizer, v: &[f32], rows: usize) -> Vec<u8> {
    let cb = pq.code_bytes();
    let mut codes = vec![0u8; rows * cb];
    for (row, code) in v.chunks_exact(pq.dim()).zip(codes.chunks_exact_mut(cb)) {
        pq.encode(row, code);
    }
    codes
}

#[test]
fn four_codes_at_once_score_as_one_at_a_time() {
    // Even and odd sub-space counts (the odd one has a last unpaired table), 8 and 4 bits.
    for (dim, m, bits) in [(32, 8, 8u8), (28, 7, 8), (32, 16, 4)] {
        let v = data(9, 5_000, dim);
        let pq = ProductQuantizer::train(&v, dim, m, bits, 3).unwrap();
        let cb = pq.code_bytes();
        let codes = codes_of_first(&pq, &v, 4);
        for metric in [Metric::L2, Metric::Dot] {
            let p = pq.prepare(&v[100 * dim..101 * dim], metric);
            let four = p.distances4(&codes);
            for (i, got) in four.into_iter().enumerate() {
                let want = p.distance(&codes[i * cb..(i + 1) * cb]);
                assert!(
                    (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "m {m} bits {bits} {metric:?}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn byte_tables_score_within_half_a_level_per_sub_space() {
    let (dim, m) = (128, 64);
    let v = data(21, 5_000, dim);
    let pq = ProductQuantizer::train(&v, dim, m, 8, 5).unwrap();
    let cb = pq.code_bytes();
    let codes = codes_of_first(&pq, &v, 40);
    for metric in [Metric::L2, Metric::Dot] {
        let p = pq.prepare(&v[4_000 * dim..4_001 * dim], metric);
        // The table this CPU builds (AVX-512 where it has it) and the scalar one.
        for bytes in [p.to_byte_table().unwrap(), super::pq::byte_table(p.table())] {
            let bound = bytes.max_error() * 1.0001 + 1e-5;
            assert!(bytes.max_error() > 0.0);
            for four in codes.chunks_exact(4 * cb) {
                let got = bytes.distances4(four);
                for (i, got) in got.into_iter().enumerate() {
                    let code = &four[i * cb..(i + 1) * cb];
                    let want = p.distance(code);
                    assert!((got - want).abs() <= bound, "{metric:?}: {got} vs {want} (bound {bound})");
                    assert_eq!(got, bytes.distance(code));
                }
            }
        }
    }
    let four_bit = ProductQuantizer::train(&v, dim, 32, 4, 5).unwrap();
    assert!(four_bit.prepare(&v[..dim], Metric::L2).to_byte_table().is_none());
}

#[test]
fn argmin_takes_the_first_smallest_and_never_a_nan() {
    use super::kmeans::argmin;
    let mut v: Vec<f32> = (0..37).map(|i| (i as f32 - 20.0).abs()).collect(); // one 0 at 20
    assert_eq!(argmin(&v), 20);
    v[33] = 0.0; // a tie in the tail after the 8-lane chunks: the first wins
    assert_eq!(argmin(&v), 20);
    v[3] = f32::NAN;
    v[30] = -1.0;
    assert_eq!(argmin(&v), 30);
    assert_eq!(argmin(&[f32::NAN, 2.0, f32::NAN]), 1);
    assert_eq!(argmin(&[f32::NAN; 9]), 0);
}

/// The squared L2 distance of `x` to its nearest row of `centroids`, and to row `chosen`.
fn chosen_and_best(x: &[f32], centroids: &[f32], chosen: usize) -> (f32, f32) {
    let dim = x.len();
    let l2 = |c: &[f32]| crate::distance::scalar::l2_sq(x, c);
    let best = centroids.chunks_exact(dim).map(l2).fold(f32::INFINITY, f32::min);
    (l2(&centroids[chosen * dim..(chosen + 1) * dim]), best)
}

/// The blocked assignments (four sub-vectors against 16 codewords at a time, a matrix product
/// for long vectors) pick a centroid at the smallest distance, for centroid counts that are
/// and are not multiples of the block.
#[test]
fn blocked_assignment_picks_the_nearest_centroid() {
    use super::Centroids;
    use super::kmeans::nearest_short4;
    let mut rng = StdRng::seed_from_u64(31);
    for (dim, k) in [(8, 256), (3, 20), (16, 16), (384, 141), (40, 7)] {
        let centroids: Vec<f32> = (0..k * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let points: Vec<f32> = (0..64 * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let picked: Vec<usize> = if dim <= 16 {
            let mut by_component = vec![0.0; k * dim];
            for c in 0..k {
                for d in 0..dim {
                    by_component[d * k + c] = centroids[c * dim + d];
                }
            }
            let norms: Vec<f32> = centroids.chunks_exact(dim).map(|c| c.iter().map(|x| x * x).sum()).collect();
            let mut dist = vec![0.0; 4 * k];
            points
                .chunks_exact(4 * dim)
                .flat_map(|four| {
                    let xs = std::array::from_fn(|p| &four[p * dim..(p + 1) * dim]);
                    nearest_short4(xs, &by_component, &norms, &mut dist)
                })
                .collect()
        } else {
            Centroids::new(&centroids, dim).nearest(&points, &mut Vec::new())
        };
        assert_eq!(picked.len(), 64);
        for (x, &c) in points.chunks_exact(dim).zip(&picked) {
            let (chosen, best) = chosen_and_best(x, &centroids, c);
            assert!(chosen <= best + 1e-4 * best.max(1.0), "dim {dim}, k {k}: {chosen} vs nearest {best}");
        }
    }
}

/// Encoding a block of vectors together gives codes that decode as close to each vector as
/// one-by-one encoding does (the same codeword but for ties), for 8 and 4 bits and a block
/// that is not a multiple of four.
#[test]
fn batch_encoding_is_as_close_as_one_by_one() {
    let dim = 32;
    let v = data(41, 4099, dim);
    for (m, bits) in [(8, 8), (16, 4)] {
        let pq = ProductQuantizer::train(&v, dim, m, bits, 5).unwrap();
        let cb = pq.code_bytes();
        let mut batch = vec![0u8; 4099 * cb];
        pq.encode_batch(&v, &mut batch);
        let (mut one, mut back) = (vec![0u8; cb], vec![0.0f32; dim]);
        let mut same = 0;
        for (x, code) in v.chunks_exact(dim).zip(batch.chunks_exact(cb)) {
            pq.encode(x, &mut one);
            same += (one == code) as usize;
            pq.decode(code, &mut back);
            let batched = scalar::l2_sq(x, &back);
            pq.decode(&one, &mut back);
            let single = scalar::l2_sq(x, &back);
            assert!(batched <= single * (1.0 + 1e-4) + 1e-6, "m {m}, bits {bits}: {batched} vs {single}");
        }
        assert!(same >= 4099 * 99 / 100, "m {m}, bits {bits}: {same} of 4099 codes equal");
    }
}
