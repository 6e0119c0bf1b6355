//! IVF-PQ (Jégou, Douze & Schmid, 2011): a k-means coarse quantizer cuts the space into
//! `nlist` cells; each vector is stored in the inverted list of its nearest centroid as the
//! product-quantized code of its residual (vector minus centroid). A query ranks the
//! centroids, probes the `nprobe` nearest lists and scores their codes by lookup tables
//! (ADC), so it reads `nprobe / nlist` of the codes and none of the full-precision vectors;
//! the caller re-ranks the best candidates exactly when it wants to.
//!
//! Scoring a code under each metric (distances: smaller is closer):
//! - L2: `|q - x|^2 ≈ |q - c - r̂|^2 = |q - c|^2 + (2 c·r̂ + |r̂|^2) - 2 q·r̂`. The middle term
//!   depends only on the row: it is computed when the row is added and kept beside its code
//!   (4 bytes), so one table of `q·r̂` serves every list, as for dot. (faiss instead
//!   precomputes the term per list, sub-space and codeword, and adds that table to the
//!   query's for each probed list: `m x 256` floats read and written per list, 24,576 at
//!   m 96, which on debpkg20k took as long as scanning the codes.)
//! - dot and cosine (unit vectors, where `-q·x` is the distance): `-q·x ≈ -q·c - q·r̂`; one
//!   table from `q` for the whole query, plus the list's `-q·c` (faiss's inner-product
//!   IVFPQ). Lists are still found by L2 to the centroids, as vectors were assigned.
//!
//! When the scores only pick candidates for a re-rank and the float table fills L1 or more
//! ([`BYTE_TABLE_FROM_M`] sub-spaces: 32 KiB), codes are scored through the table rounded to
//! bytes ([`ByteTable`]: a quarter of the size, in L1 while lists are scanned; a distance
//! within half a level per sub-space). `ivfpq_speed`, one core, k x 16 re-ranked: recall@10
//! did not move at any nprobe, either way. Queries/s at m 96 on debpkg20k rose 10% at nprobe
//! 4, 30% at 16 and 50% at 64 (cosine and L2 alike); at m 48 on debpkg100k 0-3% at nprobe 4-8,
//! 4-10% at 16 and 32, 10-13% at 64 (debpkg20k: -2% at 4, 5-11% from 16); at m 32 (debpkg100k)
//! 0-8%; at m 24, a 24 KiB table, nothing, so it stays in floats.
//!
//! Lists hold rows and codes contiguously, behind one lock: adding takes it briefly after
//! the codes are computed in parallel, searches share it.

use parking_lot::RwLock;
use rayon::prelude::*;

use super::{
    Accept, BreadthKnob, FilteredRoute, IndexKind, Neighbor, Scorer, SelectTopK, VectorIndex, Walk, rerank, selectivity,
};
use crate::codec::{ByteReader, ByteWriter};
use crate::distance::Metric;
use crate::quant::{Centroids, CodeTable, ProductQuantizer, Quantizer, TrainError, kmeans, squared_lengths};
use crate::vectors::VectorRows;

/// Lloyd iterations of the coarse quantizer.
const COARSE_ITERATIONS: usize = 20;

/// Training vectors needed per coarse centroid (faiss warns below 39).
pub const MIN_SAMPLE_PER_LIST: usize = 40;

/// Training vectors wanted per coarse centroid: a sample of 40 per list leaves whole
/// clusters without a centroid of their own, and the list of a centroid between them grows to
/// many times the mean (on 100k x 384 clustered data: largest list 4,952 of mean 316 at 40,
/// 2,289 at 128), and every query near it scans it.
pub const SAMPLE_PER_LIST: usize = 128;

/// Vectors whose lists are found together (one matrix product against the centroids).
const ASSIGN_ROWS: usize = 256;

/// Residual-quantizer training vectors per codeword.
const PQ_SAMPLE_PER_CODEWORD: usize = 32;

/// One inverted list: rows and their residual codes, layout (rows, code_bytes); under L2 also
/// each row's `2 c·r̂ + |r̂|^2` (see the module comment; empty for dot and cosine).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvList {
    pub rows: Vec<u32>,
    pub codes: Vec<u8>,
    pub norms: Vec<f32>,
}

#[derive(Debug)]
pub struct IvfPq {
    metric: Metric,
    dim: usize,
    /// Coarse centroids, layout (nlist, dim).
    centroids: Vec<f32>,
    /// Their squared lengths, for finding the list of added rows.
    centroid_norms: Vec<f32>,
    /// Quantizer of residuals.
    pq: ProductQuantizer,
    lists: RwLock<Vec<InvList>>,
}

/// Sub-spaces from which a scan that only ranks candidates for a re-rank scores through a
/// [`ByteTable`] (see the module comment): a float table of 32 x 256 x 4 bytes fills L1.
pub const BYTE_TABLE_FROM_M: usize = 32;

/// A default number of lists for `n` vectors: about the square root (at least 1), which
/// balances ranking centroids against scanning lists.
pub fn default_nlist(n: usize) -> usize {
    ((n as f64).sqrt().round() as usize).clamp(1, 65_536)
}

/// A default number of probed lists: 1/16 of them, at least 8 (at most all).
pub fn default_nprobe(nlist: usize) -> usize {
    (nlist / 16).max(8).min(nlist)
}

impl IvfPq {
    /// Trains the coarse quantizer (`nlist` centroids) and the residual quantizer (`m`
    /// sub-spaces of `2^bits` centroids) on `sample` (layout (n, dim)).
    pub fn train(
        sample: &[f32],
        dim: usize,
        metric: Metric,
        nlist: usize,
        m: usize,
        bits: u8,
        seed: u64,
    ) -> Result<Self, TrainError> {
        let n = sample.len() / dim;
        if nlist == 0 || n < nlist {
            return Err(TrainError(format!("{nlist} lists need at least as many sample vectors, got {n}")));
        }
        let centroids = kmeans(sample, dim, nlist, COARSE_ITERATIONS, seed);
        // The codebooks learn from residuals of an even-strided part of the sample: their
        // training scores every codeword per sub-space, and 32 points per codeword suffice
        // (64 gave the same recall on 100k x 384 and took 1.6x as long).
        let pq_rows = n.min(PQ_SAMPLE_PER_CODEWORD << bits);
        let mut residuals: Vec<f32> =
            (0..pq_rows).flat_map(|i| &sample[(i * n / pq_rows) * dim..(i * n / pq_rows + 1) * dim]).copied().collect();
        let coarse = Centroids::new(&centroids, dim);
        residuals.par_chunks_mut(ASSIGN_ROWS * dim).for_each_init(Vec::new, |scratch, block| {
            let lists = coarse.nearest(block, scratch);
            for (v, c) in block.chunks_exact_mut(dim).zip(lists) {
                for (x, c) in v.iter_mut().zip(&centroids[c * dim..(c + 1) * dim]) {
                    *x -= c;
                }
            }
        });
        let pq = ProductQuantizer::train(&residuals, dim, m, bits, seed ^ 0x9e37_79b9)?;
        Ok(Self::assemble(metric, dim, centroids, pq, vec![InvList::default(); nlist]))
    }

    /// The index of its parts.
    fn assemble(metric: Metric, dim: usize, centroids: Vec<f32>, pq: ProductQuantizer, lists: Vec<InvList>) -> Self {
        let centroid_norms = squared_lengths(&centroids, dim);
        Self { metric, dim, centroids, centroid_norms, pq, lists: RwLock::new(lists) }
    }

    /// The L2 row term `2 c·r̂ + |r̂|^2` of `code`, a residual of list `list` (`decoded`:
    /// scratch of `dim` values).
    fn row_term(&self, list: usize, code: &[u8], decoded: &mut [f32]) -> f32 {
        let c = &self.centroids[list * self.dim..(list + 1) * self.dim];
        self.pq.decode(code, decoded);
        decoded.iter().zip(c).map(|(r, c)| r * (r + 2.0 * c)).sum()
    }

    pub fn nlist(&self) -> usize {
        self.centroids.len() / self.dim
    }

    pub fn code_bytes(&self) -> usize {
        self.pq.code_bytes()
    }

    /// Rows held by the lists.
    pub fn len(&self) -> usize {
        self.lists.read().iter().map(|l| l.rows.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of centroids, codebooks, rows, codes and row terms.
    pub fn bytes(&self) -> usize {
        let lists: usize =
            self.lists.read().iter().map(|l| (l.rows.capacity() + l.norms.capacity()) * 4 + l.codes.capacity()).sum();
        // Codebooks are held twice (by centroid and by component).
        (self.centroids.len() + 2 * self.pq.dim() * (1 << self.pq.bits())) * 4 + lists
    }

    /// Adds `rows` of `vectors` (encoded in parallel on the current pool, in blocks whose
    /// lists are found together; rows must not be in the lists already).
    pub fn add<V: VectorRows + ?Sized>(&self, vectors: &V, rows: &[u32]) {
        let coarse = Centroids::with_norms(&self.centroids, self.dim, &self.centroid_norms);
        let encoded: Vec<(usize, Vec<u8>, Option<f32>)> = rows
            .par_chunks(ASSIGN_ROWS)
            .map_init(
                || (Vec::new(), Vec::new(), vec![0.0f32; self.dim]),
                |(points, scratch, decoded), block| {
                    points.clear();
                    block.iter().for_each(|&r| points.extend_from_slice(vectors.row(r)));
                    let lists = coarse.nearest(points, scratch);
                    // Residuals in place, then their codes together.
                    for (v, &list) in points.chunks_exact_mut(self.dim).zip(&lists) {
                        let c = &self.centroids[list * self.dim..(list + 1) * self.dim];
                        v.iter_mut().zip(c).for_each(|(x, c)| *x -= c);
                    }
                    let cb = self.code_bytes();
                    let mut codes = vec![0u8; lists.len() * cb];
                    self.pq.encode_batch(points, &mut codes);
                    let l2 = self.metric == Metric::L2;
                    lists
                        .into_iter()
                        .zip(codes.chunks_exact(cb))
                        .map(|(list, code)| (list, code.to_vec(), l2.then(|| self.row_term(list, code, decoded))))
                        .collect::<Vec<_>>()
                },
            )
            .flatten_iter()
            .collect();
        let mut lists = self.lists.write();
        for (&row, (list, code, norm)) in rows.iter().zip(encoded) {
            lists[list].rows.push(row);
            lists[list].codes.extend_from_slice(&code);
            lists[list].norms.extend(norm);
        }
    }

    /// Removes every row for which `keep` is false; returns how many were removed.
    pub fn retain(&self, keep: impl Fn(u32) -> bool + Sync) -> usize {
        let cb = self.code_bytes();
        let mut lists = self.lists.write();
        lists
            .par_iter_mut()
            .map(|l| {
                let before = l.rows.len();
                let mut w = 0;
                for i in 0..before {
                    if keep(l.rows[i]) {
                        l.rows[w] = l.rows[i];
                        l.codes.copy_within(i * cb..(i + 1) * cb, w * cb);
                        if let Some(&norm) = l.norms.get(i) {
                            l.norms[w] = norm;
                        }
                        w += 1;
                    }
                }
                l.rows.truncate(w);
                l.codes.truncate(w * cb);
                l.norms.truncate(w);
                before - w
            })
            .sum()
    }

    /// The `depth` rows closest to `query` by their codes among the `nprobe` nearest lists,
    /// skipping rows `accept` rejects; distances are approximate (ADC), closest first.
    pub fn search(&self, query: &[f32], nprobe: usize, depth: usize, accept: impl Fn(u32) -> bool) -> Vec<Neighbor> {
        self.scan(query, &self.nearest_lists(query, nprobe), depth, Scores::Distances, accept)
    }

    /// The `nprobe` lists nearest `query`, each with its centroid's distance to it (cosine
    /// and L2 rank by L2, as vectors were assigned; dot by dot).
    pub fn nearest_lists(&self, query: &[f32], nprobe: usize) -> Vec<(f32, usize)> {
        let rank = if self.metric == Metric::Dot { Metric::Dot.kernel() } else { Metric::L2.kernel() };
        let mut ranked: Vec<(f32, usize)> =
            self.centroids.chunks_exact(self.dim).enumerate().map(|(i, c)| (rank(query, c), i)).collect();
        let nprobe = nprobe.clamp(1, ranked.len());
        if nprobe < ranked.len() {
            ranked.select_nth_unstable_by(nprobe - 1, |a, b| a.0.total_cmp(&b.0));
            ranked.truncate(nprobe);
        }
        ranked
    }

    /// Every row `accept` passes in lists `ranked`, if they hold at most `depth` rows (a
    /// caller that scores candidates on full precision anyway then needs no codes scored);
    /// distances 0.
    pub fn rows_within(
        &self,
        ranked: &[(f32, usize)],
        depth: usize,
        accept: impl Fn(u32) -> bool,
    ) -> Option<Vec<Neighbor>> {
        let lists = self.lists.read();
        if ranked.iter().map(|&(_, l)| lists[l].rows.len()).sum::<usize>() > depth {
            return None;
        }
        let rows = ranked.iter().flat_map(|&(_, l)| lists[l].rows.iter().copied());
        Some(rows.filter(|&row| accept(row)).map(|row| Neighbor { row, distance: 0.0 }).collect())
    }

    /// The `depth` rows closest to `query` by their codes among lists `ranked`
    /// ([`IvfPq::nearest_lists`]), skipping rows `accept` rejects: closest first for
    /// [`Scores::Distances`], in no order for [`Scores::Ranking`] (the re-rank sorts).
    pub fn scan(
        &self,
        query: &[f32],
        ranked: &[(f32, usize)],
        depth: usize,
        scores: Scores,
        accept: impl Fn(u32) -> bool,
    ) -> Vec<Neighbor> {
        // Cosine scores as dot (one table per query; stored vectors and the query are unit
        // length, so `-q·x` is the distance), though its lists were found by L2.
        let l2 = self.metric == Metric::L2;
        // One table for every list: `-q·r̂`, doubled for L2 (`- 2 q·r̂`).
        let mut table = self.pq.prepare(query, Metric::Dot);
        if l2 {
            table.table_mut().iter_mut().for_each(|t| *t *= 2.0);
        }
        let top = SelectTopK::new(depth);
        let top = match (scores == Scores::Ranking && self.pq.m() >= BYTE_TABLE_FROM_M).then(|| table.to_byte_table()) {
            Some(Some(bytes)) => self.scan_lists(&bytes, query, ranked, top, accept),
            _ => self.scan_lists(&table, query, ranked, top, accept),
        };
        match scores {
            Scores::Distances => top.into_sorted(),
            Scores::Ranking => top.into_unordered(),
        }
    }

    /// [`IvfPq::scan`]'s loop over the lists, scoring codes through `table` (compiled once per
    /// kind of table, each inlined).
    fn scan_lists<T: CodeTable>(
        &self,
        table: &T,
        query: &[f32],
        ranked: &[(f32, usize)],
        mut top: SelectTopK,
        accept: impl Fn(u32) -> bool,
    ) -> SelectTopK {
        let l2 = self.metric == Metric::L2;
        let cb = self.code_bytes();
        let lists = self.lists.read();
        let neg_dot = Metric::Dot.kernel();
        for &(coarse, list) in ranked {
            let l = &lists[list];
            if l.rows.is_empty() {
                continue;
            }
            // L2: `|q - c|^2` (the list's rank) plus each row's term; dot: `-q·c`.
            let offset =
                if l2 { coarse } else { neg_dot(query, &self.centroids[list * self.dim..(list + 1) * self.dim]) };
            let norm = |i: usize| if l2 { l.norms[i] } else { 0.0 };
            let mut consider = |row: u32, d: f32| {
                if d < top.threshold() && accept(row) {
                    top.push(row, d);
                }
            };
            let (quads, rest) = l.rows.as_chunks::<4>();
            for (q, rows) in quads.iter().enumerate() {
                let d = table.distances4(&l.codes[q * 4 * cb..(q + 1) * 4 * cb]);
                for ((i, &row), d) in rows.iter().enumerate().zip(d) {
                    consider(row, offset + norm(q * 4 + i) + d);
                }
            }
            for (i, &row) in rest.iter().enumerate() {
                let i = quads.len() * 4 + i;
                consider(row, offset + norm(i) + table.distance(&l.codes[i * cb..(i + 1) * cb]));
            }
        }
        top
    }

    /// Serialised form: metric name, dim, nlist, centroids, the residual quantizer
    /// (length-prefixed), then per list its row count, rows and codes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let lists = self.lists.read();
        let mut w = ByteWriter::with_capacity(self.bytes() + 64);
        w.str(self.metric.as_str());
        w.u32(self.dim as u32);
        w.u32(self.nlist() as u32);
        w.f32s(&self.centroids);
        w.bytes(&Quantizer::Product(self.pq.clone()).to_bytes());
        for l in lists.iter() {
            w.u32(l.rows.len() as u32);
            for &r in &l.rows {
                w.u32(r);
            }
            w.buf.extend_from_slice(&l.codes);
        }
        w.buf
    }

    /// Reads [`IvfPq::to_bytes`]; `None` when the bytes are damaged or a row is `>= rows`.
    pub fn from_bytes(bytes: &[u8], rows: usize) -> Option<Self> {
        let mut r = ByteReader::new(bytes);
        let metric = Metric::parse(r.str().ok()?)?;
        let dim = r.u32().ok()? as usize;
        let nlist = r.u32().ok()? as usize;
        if dim == 0 || nlist == 0 {
            return None;
        }
        let centroids = r.f32s(nlist.checked_mul(dim)?).ok()?;
        let Quantizer::Product(pq) = Quantizer::from_bytes(r.bytes().ok()?)? else { return None };
        if pq.dim() != dim {
            return None;
        }
        let cb = pq.code_bytes();
        let mut lists = Vec::with_capacity(nlist);
        for _ in 0..nlist {
            let n = r.u32().ok()? as usize;
            let list_rows =
                (0..n).map(|_| r.u32().ok().filter(|&x| (x as usize) < rows)).collect::<Option<Vec<u32>>>()?;
            let codes = r.take(n.checked_mul(cb)?).ok()?.to_vec();
            lists.push(InvList { rows: list_rows, codes, norms: Vec::new() });
        }
        if !r.is_empty() {
            return None;
        }
        // The row terms are not stored: they follow from the codes.
        let ivf = Self::assemble(metric, dim, centroids, pq, Vec::new());
        if metric == Metric::L2 {
            lists.par_iter_mut().enumerate().for_each_init(
                || vec![0.0f32; dim],
                |decoded, (list, l)| {
                    l.norms = l.codes.chunks_exact(cb).map(|code| ivf.row_term(list, code, decoded)).collect()
                },
            );
        }
        *ivf.lists.write() = lists;
        Some(ivf)
    }
}

/// What the distances [`IvfPq::scan`] returns are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scores {
    /// Returned as they are: each the ADC distance through the float table.
    Distances,
    /// Only ranking candidates that are re-ranked on full precision: within half a byte
    /// level per sub-space of the ADC distance (see the module comment), returned unsorted.
    Ranking,
}

/// A trained [`IvfPq`] with its search settings: the lists a query probes by default and how
/// many candidates per result it re-ranks on full precision.
#[derive(Debug)]
pub struct IvfPqIndex {
    pub ivf: IvfPq,
    nprobe: usize,
    rerank: usize,
    distance: crate::distance::DistanceFn,
}

impl IvfPqIndex {
    /// `nprobe` None: [`default_nprobe`] of the trained list count. `rerank` 0 returns the
    /// codes' order and approximate distances.
    pub fn new(ivf: IvfPq, nprobe: Option<usize>, rerank: usize) -> Self {
        let nprobe = nprobe.unwrap_or_else(|| default_nprobe(ivf.nlist())).min(ivf.nlist());
        let distance = ivf.metric.kernel();
        Self { ivf, nprobe, rerank, distance }
    }
}

impl IvfPqIndex {
    /// Sets the default number of lists a query probes (`tune()`).
    pub fn set_nprobe(&mut self, nprobe: usize) {
        self.nprobe = nprobe.clamp(1, self.ivf.nlist());
    }
}

impl<V: VectorRows + ?Sized> VectorIndex<V> for IvfPqIndex {
    fn kind(&self) -> IndexKind {
        IndexKind::IvfPq
    }

    fn breadth_knob(&self) -> Option<BreadthKnob> {
        Some(BreadthKnob::Nprobe)
    }

    fn breadth(&self, requested: Option<usize>, _k: usize) -> usize {
        requested.unwrap_or(self.nprobe)
    }

    fn search(
        &self,
        vectors: &V,
        query: &[f32],
        k: usize,
        breadth: usize,
        _walk: Walk,
        accept: &Accept,
    ) -> Vec<Neighbor> {
        let depth = k * self.rerank.max(1);
        let lists = self.ivf.nearest_lists(query, breadth);
        if self.rerank == 0 {
            return self.ivf.scan(query, &lists, depth, Scores::Distances, accept);
        }
        // Probed lists holding no more rows than the re-rank reads: score them all on full
        // precision, no codes (the same result; at nprobe 1 on 20k rows, half the work).
        let found = match self.ivf.rows_within(&lists, depth, accept) {
            Some(all) => all,
            None => self.ivf.scan(query, &lists, depth, Scores::Ranking, accept),
        };
        rerank(vectors, self.distance, query, found, k)
    }

    fn search_scored(
        &self,
        _: &dyn Scorer,
        _: usize,
        _: usize,
        _: usize,
        _: Walk,
        _: &Accept,
    ) -> Option<Vec<Neighbor>> {
        None // scores its own codes
    }

    fn add(&self, vectors: &V, rows: &[u32]) {
        self.ivf.add(vectors, rows)
    }

    fn repair(&self, _vectors: &V, deleted: &Accept) -> usize {
        self.ivf.retain(|row| !deleted(row))
    }

    fn bytes(&self) -> usize {
        self.ivf.bytes()
    }

    fn filtered_route(&self, _k: usize, breadth: usize, matches: usize, live: usize) -> FilteredRoute {
        let selectivity = selectivity(matches, live);
        let nlist = self.ivf.nlist();
        // Lists hold matches in proportion: probe 1/selectivity more (at most 8x) so the
        // re-rank still finds enough candidates.
        let widen = (1.0 / selectivity.max(1e-9)).min(8.0);
        let nprobe = ((breadth as f64 * widen).ceil() as usize).min(nlist);
        // Probing scores about nprobe lists of codes; an exact distance costs several code
        // lookups, so direct scoring wins below a quarter of that.
        let scanned = nprobe * live / nlist;
        if matches <= scanned / 4 {
            FilteredRoute::Exact {
                reason: format!("{matches} matches <= a quarter of the ~{scanned} codes {nprobe} lists hold: exact"),
            }
        } else {
            FilteredRoute::Search {
                breadth: nprobe,
                reason: format!("selectivity {selectivity:.3}: probing {nprobe} lists, returning only matches"),
            }
        }
    }

    fn unplanned_filter_breadth(&self, _k: usize, breadth: usize) -> Option<usize> {
        Some((breadth * 4).min(self.ivf.nlist()))
    }
}

#[cfg(test)]
mod tests;
