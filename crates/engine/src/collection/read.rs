//! Reads: get by id, exact search (single and batch), counts and stats.

use libravdb_core::{FlatIndex, Neighbor, VectorRows, distance::normalize};
use rayon::prelude::*;

use super::auto::field_rebuild_due;
use super::meta::CacheStats;
use super::params::{SearchParams, SignalScores};
use super::route::{PlanKind, Planned, nearest_allowed};
use super::{Collection, QueryPlan, State};
use crate::cancel::Cancel;
use crate::config::MAX_K;
use crate::error::{Error, Result};
use crate::pool::pool;
use libravdb_filter::Filter;

/// Most queries a group of a batch shares one pass over the rows with: 64 queries of 384-d
/// are 96 KiB, which stays in cache beside the block of rows being scored.
const MAX_EXACT_GROUP: usize = 64;

/// Parses a filter from its canonical JSON text; errors name the offending path.
pub fn parse_filter(json: &str) -> Result<Filter> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| Error::invalid(format!("filter is not valid JSON: {e}")))?;
    Filter::parse(&value).map_err(|e| Error::invalid(e.to_string()))
}

/// A stored record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    /// The default field's vector as stored (unit length for cosine collections); empty in a
    /// collection of named fields only, or when a scan leaves vectors out.
    pub vector: Vec<f32>,
    pub metadata: Option<String>,
    /// The named vector fields the record has, in the configuration's order (as stored).
    pub named: Vec<(String, Vec<f32>)>,
}

/// Results of one or more queries, columnar: query `q`'s hits are the `counts[q]` entries
/// after those of the queries before it, best first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hits {
    pub counts: Vec<u32>,
    pub ids: Vec<String>,
    /// The distance for l2 (lower is closer), the similarity for cosine and dot.
    pub scores: Vec<f32>,
    pub metadata: Option<Vec<Option<String>>>,
    /// Layout (ids.len(), dim) when requested.
    pub vectors: Option<Vec<f32>>,
    /// A hybrid search's score of each hit per signal (see `hybrid.rs`).
    pub signals: Option<SignalScores>,
}

/// A collection's size and footprint.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Live records.
    pub count: usize,
    /// Rows including tombstones of deleted records and reclaimed rows.
    pub rows: usize,
    /// Tombstones: deleted records whose rows `optimize()` has not reclaimed yet.
    pub deleted: usize,
    /// Reclaimed rows that new records will take before the table grows.
    pub free_rows: usize,
    pub dimension: usize,
    pub metric: &'static str,
    /// The configured index type.
    pub index: &'static str,
    /// The index searches use now (`flat`, `hnsw` or `ivfpq`).
    pub active_index: &'static str,
    /// `building` while a `rebuild()` builds a new index beside the active one (or the
    /// collection has started one of its own: a promotion, a retraining), else `ready`.
    pub index_state: &'static str,
    /// Why the `auto` index's promotion (or a tune for the recall target) failed, if it did.
    pub index_error: Option<String>,
    /// `index.targetRecall`, and the live records at the last tune for it (0: not yet).
    pub recall_target: Option<crate::config::RecallTarget>,
    /// IVF-PQ: the lists of the trained index (None before training and for other indexes).
    pub nlist: Option<usize>,
    /// Bytes of index structure (HNSW graph: level-0 lists, levels, upper lists).
    pub index_bytes: usize,
    /// Bytes of stored vectors (rows x dim x 4).
    pub vector_bytes: usize,
    /// Bytes mapped for vector chunks (file-backed or anonymous; resident only as touched).
    pub mapped_bytes: usize,
    /// Bytes of the vector mappings resident in this process now (Linux; 0 elsewhere).
    pub resident_vector_bytes: usize,
    /// Bytes per stored row of vectors plus index structure (tombstones included).
    pub bytes_per_vector: f64,
    pub id_bytes: usize,
    pub metadata_bytes: usize,
    pub wal_bytes: u64,
    /// The change-feed sequence number of the last record write applied (0: none yet).
    pub seq: u64,
    /// Bytes of checkpointed logs kept on disk for the change feed (`changeRetention`).
    pub change_log_bytes: u64,
    pub file_backed: bool,
    /// `"none"`, or the quantizer's state: `"pending"` (too few vectors yet; searching on
    /// full precision), `"trained"`, `"failed"` (see `quantization_error`).
    pub quantization: &'static str,
    pub quantization_error: Option<String>,
    /// Trainings run so far (quantizer or IVF-PQ; a failed one is retried once the
    /// collection has grown by half again, and at `optimize()` or `rebuild()`).
    pub quantization_attempts: u32,
    /// Bytes of quantized codes held in memory (all rows).
    pub code_bytes: usize,
    /// Full-precision bytes per code byte (0 until trained).
    pub compression: f64,
    /// `storage.mmap` as configured, and whether the vectors are in anonymous memory now
    /// (in memory, `mmap: false`, or `auto` within its share of the budget).
    pub mmap: &'static str,
    pub vectors_in_memory: bool,
    /// This collection's part of `memoryUsage()`.
    pub memory: crate::memory::MemoryParts,
    /// The metadata text cache's counters (on-disk collections).
    pub metadata_cache: CacheStats,
    /// Each named vector field, in the configuration's order.
    pub fields: Vec<FieldStats>,
}

/// One named vector field's part of `stats()`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldStats {
    pub name: String,
    pub dimension: usize,
    pub metric: &'static str,
    pub index: &'static str,
    /// Records that have the field.
    pub count: usize,
    /// Rows of the field's table (replaced and deleted vectors included).
    pub rows: usize,
    pub vector_bytes: usize,
    pub index_bytes: usize,
    /// As [`Stats::quantization`], [`Stats::quantization_error`], [`Stats::code_bytes`] and
    /// [`Stats::compression`], for this field.
    pub quantization: &'static str,
    pub quantization_error: Option<String>,
    pub code_bytes: usize,
    pub compression: f64,
    /// `"building"` while `rebuild_field` (or the field's IVF-PQ regrowth) builds its next
    /// index, else `"ready"`.
    pub index_state: &'static str,
    /// IVF-PQ's lists, once trained.
    pub nlist: Option<usize>,
    /// As [`Stats::recall_target`], for this field.
    pub recall_target: Option<crate::config::RecallTarget>,
}

impl Collection {
    /// Live records.
    pub fn count(&self) -> Result<usize> {
        Ok(self.read_state()?.ids.live_count())
    }

    /// The record with this id, if it exists.
    pub fn get(&self, id: &str) -> Result<Option<Record>> {
        let st = self.read_state()?;
        let Some(row) = st.ids.get(id) else { return Ok(None) };
        st.record(row, true).map(Some)
    }

    /// A page of a scan in row order: up to `limit` live records after row `after` (None: from
    /// the start) passing `filter`; returns them, the cursor of the next page (None: done),
    /// and the change-feed sequence number the page is consistent at.
    pub fn scan_page(
        &self,
        after: Option<u32>,
        limit: usize,
        filter: Option<&Filter>,
        include_vectors: bool,
    ) -> Result<(Vec<Record>, Option<u32>, u64)> {
        if limit == 0 || limit > MAX_K {
            return Err(Error::invalid(format!("batchSize must be an integer from 1 to {MAX_K}, got {limit}")));
        }
        let st = self.read_state()?;
        let start = after.map_or(0, |a| a as usize + 1);
        let mut out = Vec::with_capacity(limit);
        let mut row = start;
        while row < st.ids.rows() && out.len() < limit {
            let r = row as u32;
            if st.ids.is_live(r) && filter.is_none_or(|f| st.row_matches(f, r)) {
                out.push(st.record(r, include_vectors)?);
            }
            row += 1;
        }
        let next = (row < st.ids.rows()).then(|| row as u32 - 1);
        Ok((out, next, st.seq))
    }

    /// Searches for the `k` nearest records of each query in `queries` (layout (n, dim)).
    /// One query runs on the calling thread; several run in parallel on the worker pool.
    pub fn search(&self, queries: &[f32], params: SearchParams) -> Result<Hits> {
        self.search_filtered(queries, params, None)
    }

    /// [`Collection::search`] returning only records whose metadata passes `filter` (see
    /// [`parse_filter`]); the plan is chosen once per call ([`Collection::explain`]).
    pub fn search_filtered(&self, queries: &[f32], params: SearchParams, filter: Option<&Filter>) -> Result<Hits> {
        self.search_cancellable(queries, params, filter, &Cancel::new())
    }

    /// [`Collection::search_filtered`] that stops computing once `cancel` fires (checked
    /// before each query) and returns `Err(Aborted)`.
    pub fn search_cancellable(
        &self,
        queries: &[f32],
        params: SearchParams,
        filter: Option<&Filter>,
        cancel: &Cancel,
    ) -> Result<Hits> {
        let dim = self.dimension();
        self.check_search(queries, params)?;
        let queries = self.prepare_queries(queries)?;
        let st = self.read_state()?;
        let metric = self.metric;
        // The index is asked for the candidates; `finish` makes hits of them.
        let asked = params;
        let params = SearchParams { k: params.candidates(), ..params };
        let planned = filter.map(|f| st.plan(f, params.k, st.space.breadth(params)));
        let breadth = params.breadth(st.space.index.active());
        let one = |q: &[f32]| st.nearest(q, params.k, breadth, metric, planned.as_ref(), filter);
        let one_unless_cancelled = |q: &[f32]| (!cancel.is_cancelled()).then(|| one(q));
        let nq = queries.len() / dim;
        let found: Option<Vec<Vec<Neighbor>>> = if nq == 1 {
            one_unless_cancelled(&queries).map(|hits| vec![hits])
        } else if let Some(group) = self.exact_batch_group(&st, planned.as_ref(), nq) {
            // Exact on full precision: groups of queries share one pass over the rows.
            let exact_rows: Option<Vec<u32>> = match &planned {
                Some(p) if p.plan.plan == PlanKind::Exact => p.allowed.as_ref().map(|a| a.iter().collect()),
                _ => None,
            };
            let flat = FlatIndex::new(metric);
            let batch = |g: &[f32]| -> Option<Vec<Vec<Neighbor>>> {
                (!cancel.is_cancelled()).then(|| match &exact_rows {
                    Some(rows) => flat.search_rows_batch(&st.space.vectors, rows, g, params.k),
                    None => st.knn_batch(g, params.k, breadth, metric, &|r| st.ids.is_live(r)),
                })
            };
            pool()
                .install(|| queries.par_chunks(group * dim).map(batch).collect::<Option<Vec<_>>>())
                .map(|groups| groups.into_iter().flatten().collect())
        } else {
            pool().install(|| queries.par_chunks_exact(dim).map(one_unless_cancelled).collect())
        };
        let found: Vec<Vec<Neighbor>> = found
            .ok_or(Error::Aborted)?
            .into_iter()
            .zip(queries.chunks_exact(dim))
            .map(|(f, q)| asked.finish(metric, &st.space.vectors, q, f))
            .collect();
        self.collect_hits(&st, &found, asked)
    }

    /// Queries per group when a batch of `nq` can be answered by blocked exact scans (see
    /// [`FlatIndex::search_batch`]): unfiltered or exact-planned on a flat index or an
    /// untrained IVF-PQ, without a trained quantizer. Groups are small enough to stay in cache
    /// beside a block of rows (at most [`MAX_EXACT_GROUP`] queries) and numerous enough to
    /// keep every worker busy. None: answer query by query.
    fn exact_batch_group(&self, st: &State, planned: Option<&Planned>, nq: usize) -> Option<usize> {
        let exact_plan = planned.is_some_and(|p| p.plan.plan == PlanKind::Exact && p.allowed.is_some());
        let unfiltered = planned.is_none_or(|p| p.plan.plan == PlanKind::Unfiltered);
        let exact_index = st.space.index.active().breadth_knob().is_none();
        if !(exact_plan || (unfiltered && exact_index && !st.space.quantized())) {
            return None;
        }
        let threads = pool().current_num_threads().max(1);
        Some(nq.div_ceil(threads).clamp(1, MAX_EXACT_GROUP))
    }

    /// How a search with `filter` would run: the payload indexes' estimate, the selectivity,
    /// the plan and why.
    pub fn explain(&self, filter: Option<&Filter>, params: SearchParams) -> Result<QueryPlan> {
        let st = self.read_state()?;
        let live = st.ids.live_count();
        let breadth = st.space.breadth(params);
        Ok(match filter {
            None => QueryPlan::unfiltered(&st.space, breadth, live),
            Some(f) => st.plan(f, params.k.max(1), breadth).plan,
        })
    }

    /// Fails unless `queries` is a non-empty row-major block of this dimension.
    pub(super) fn check_query_block(&self, queries: &[f32], what: &str) -> Result<()> {
        let dim = self.dimension();
        if dim == 0 {
            let config = self.config.read();
            let names: Vec<&str> = config.vectors.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::invalid(format!(
                "this collection has named vector fields only ({}): name the one to search with `using`",
                names.join(", ")
            )));
        }
        if queries.is_empty() || !queries.len().is_multiple_of(dim) {
            return Err(Error::DimensionMismatch { what: what.into(), expected: dim, got: queries.len() });
        }
        Ok(())
    }

    pub(super) fn check_search(&self, queries: &[f32], params: SearchParams) -> Result<()> {
        self.check_query_block(queries, "query vector")?;
        check_params(params)
    }
}

/// Checks a search's parameters (k, breadth, range bound, diversity).
pub(super) fn check_params(params: SearchParams) -> Result<()> {
    {
        if params.k == 0 || params.k > MAX_K {
            return Err(Error::invalid(format!("k must be an integer from 1 to {MAX_K}, got {}", params.k)));
        }
        if params.ef_search.is_some_and(|ef| ef == 0 || ef > MAX_K) {
            return Err(Error::invalid(format!("efSearch must be an integer from 1 to {MAX_K}")));
        }
        if params.nprobe.is_some_and(|n| n == 0 || n > 65_536) {
            return Err(Error::invalid("nprobe must be an integer from 1 to 65536"));
        }
        if params.score_bound.is_some_and(|b| !b.is_finite()) {
            return Err(Error::invalid("a range search's bound (maxDistance, minScore) must be a finite number"));
        }
        if params.diversity.is_some_and(|d| !(0.0..=1.0).contains(&d)) {
            return Err(Error::invalid("diversity must be a number from 0 to 1"));
        }
        if params.fetch_k.is_some_and(|f| f == 0 || f > MAX_K) {
            return Err(Error::invalid(format!("fetchK must be an integer from 1 to {MAX_K}")));
        }
        Ok(())
    }
}

impl Collection {
    /// Validates queries and normalises them for cosine; offers them to the sample of
    /// recent queries (`tune()` measures recall on it).
    pub(super) fn prepare_queries(&self, queries: &[f32]) -> Result<Vec<f32>> {
        let out = self.prepare_vectors(queries)?;
        self.recent.record(&out);
        Ok(out)
    }

    /// Checks that query vectors hold only finite numbers; normalises them for cosine.
    pub(super) fn prepare_vectors(&self, queries: &[f32]) -> Result<Vec<f32>> {
        prepare_vectors(queries, self.dimension(), self.metric)
    }

    pub(super) fn collect_hits(&self, st: &State, found: &[Vec<Neighbor>], params: SearchParams) -> Result<Hits> {
        let metric = self.metric;
        let counts = found.iter().map(|f| f.len() as u32).collect();
        self.hits_of(st, counts, found.iter().flatten().map(|n| (n.row, metric.score(n.distance))), params)
    }

    /// Hits of (row, score) pairs, `counts[q]` of them for query `q`, with what `params` asks
    /// to include.
    pub(super) fn hits_of(
        &self,
        st: &State,
        counts: Vec<u32>,
        found: impl Iterator<Item = (u32, f32)>,
        params: SearchParams,
    ) -> Result<Hits> {
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut hits = Hits {
            counts,
            ids: Vec::with_capacity(total),
            scores: Vec::with_capacity(total),
            metadata: params.include_metadata.then(|| Vec::with_capacity(total)),
            vectors: params.include_vectors.then(|| Vec::with_capacity(total * self.dimension())),
            signals: None,
        };
        for (row, score) in found {
            hits.ids.push(st.ids.id(row).to_owned());
            hits.scores.push(score);
            if let Some(m) = &mut hits.metadata {
                m.push(st.metadata_of(row)?);
            }
            if let Some(v) = &mut hits.vectors {
                v.extend_from_slice(st.space.vectors.row(row));
            }
        }
        Ok(hits)
    }

    /// Size and footprint.
    pub fn stats(&self) -> Result<Stats> {
        let st = self.read_state()?;
        let wal_bytes = self.wal_bytes.load(std::sync::atomic::Ordering::Acquire);
        let count = st.ids.live_count();
        let rows = st.ids.rows();
        let codes = st.space.codes();
        let index_bytes = st.space.index.active().bytes();
        // Read once: a guard taken inside the struct below would live to its end.
        let index_error = self.index_error.lock().clone();
        // One read of the configuration: guards in the struct literal below would all live to
        // the end of the statement, and a second read of the lock while a rebuild's switch
        // waits to write it would deadlock (the lock is fair: waiting writers block readers).
        let (index, recall_target, mmap) = {
            let config = self.config.read();
            (config.index.kind(), config.recall_target, config.mmap.as_str())
        };
        Ok(Stats {
            count,
            rows,
            deleted: rows - count - st.ids.free_count(),
            free_rows: st.ids.free_count(),
            dimension: self.dimension(),
            metric: self.metric.as_str(),
            index,
            active_index: st.space.index.kind(),
            index_state: if st.rebuilding || self.rebuild_pending.load(std::sync::atomic::Ordering::Acquire) {
                "building"
            } else {
                "ready"
            },
            index_error: index_error.clone(),
            recall_target,
            nlist: st.space.index.ivf().and_then(|ivf| ivf.index.as_ref()).map(|i| i.ivf.nlist()),
            index_bytes,
            vector_bytes: rows * self.dimension() * 4,
            mapped_bytes: st.space.vectors.mapped_bytes(),
            resident_vector_bytes: st.space.vectors.resident_bytes(),
            bytes_per_vector: (self.dimension() * 4) as f64 + index_bytes as f64 / rows.max(1) as f64,
            id_bytes: st.ids.heap_bytes(),
            metadata_bytes: st.metadata.text_bytes() as usize,
            wal_bytes,
            seq: st.seq,
            change_log_bytes: self.dir.as_deref().map_or(0, super::changes::archived_bytes),
            file_backed: st.space.vectors.is_file_backed(),
            quantization: codes.status(),
            quantization_error: codes.error(),
            quantization_attempts: codes.attempts(),
            code_bytes: codes.bytes,
            compression: codes.compression,
            memory: {
                let mut m = self.parts(&st, true);
                m.buffers = self.write_buffers.load(std::sync::atomic::Ordering::Acquire);
                m
            },
            metadata_cache: st.metadata.cache_stats(),
            mmap,
            vectors_in_memory: !st.space.vectors.is_mapped(),
            fields: {
                // One hold of the configuration for every field's entry.
                let config = self.config.read();
                st.fields
                    .iter()
                    .map(|f| (f, f.space.codes()))
                    .map(|(f, codes)| FieldStats {
                        name: f.name.clone(),
                        dimension: f.space.vectors.dim(),
                        metric: f.metric.as_str(),
                        index: f.space.index.kind(),
                        count: f.live_count(),
                        rows: f.rows(),
                        vector_bytes: f.rows() * f.space.vectors.dim() * 4,
                        index_bytes: f.space.index.active().bytes(),
                        quantization: codes.status(),
                        quantization_error: codes.error(),
                        code_bytes: codes.bytes,
                        compression: codes.compression,
                        // A rebuild that is due (an auto promotion, an IVF-PQ regrowth) is about to
                        // run: the background thread may not have marked the field yet.
                        index_state: if f.rebuilding
                            || (index_error.is_none() && field_rebuild_due(f, &config).is_some())
                        {
                            "building"
                        } else {
                            "ready"
                        },
                        nlist: f.space.index.ivf().and_then(|ivf| ivf.index.as_ref()).map(|i| i.ivf.nlist()),
                        recall_target: config.vector_field(&f.name).ok().and_then(|(_, c)| c.recall_target),
                    })
                    .collect()
            },
        })
    }
}

/// Checks that query vectors (rows of `dim`) hold only finite numbers; normalises them when
/// `metric` asks.
pub(super) fn prepare_vectors(queries: &[f32], dim: usize, metric: libravdb_core::Metric) -> Result<Vec<f32>> {
    if let Some((i, x)) = queries.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(Error::invalid(format!(
            "query {} has {x} at position {}; queries must contain only finite numbers",
            i / dim,
            i % dim
        )));
    }
    let mut out = queries.to_vec();
    if metric.normalizes() {
        for (q, v) in out.chunks_exact_mut(dim).enumerate() {
            if !normalize(v) {
                return Err(Error::invalid(format!("query {q} is all zeros, which has no cosine direction")));
            }
        }
    }
    Ok(out)
}

impl State {
    /// The record of live row `row`, with its vectors when `vectors` says so.
    pub(super) fn record(&self, row: u32, vectors: bool) -> Result<Record> {
        Ok(Record {
            id: self.ids.id(row).to_owned(),
            vector: if vectors && !self.space.none { self.space.vectors.row(row).to_vec() } else { Vec::new() },
            metadata: self.metadata_of(row)?,
            named: if vectors {
                self.fields.iter().filter_map(|f| Some((f.name.clone(), f.vector_of(row)?.to_vec()))).collect()
            } else {
                Vec::new()
            },
        })
    }

    /// The `k` nearest live rows to the prepared query `q` that pass `filter`, run as
    /// `planned` (None: unfiltered); `breadth` is the unfiltered search's.
    pub(super) fn nearest(
        &self,
        q: &[f32],
        k: usize,
        breadth: Option<usize>,
        metric: libravdb_core::Metric,
        planned: Option<&Planned>,
        filter: Option<&Filter>,
    ) -> Vec<Neighbor> {
        let Some(p) = planned else {
            return self.knn(q, k, breadth, metric, &|r| self.ids.is_live(r));
        };
        match (p.plan.plan, &p.allowed) {
            (PlanKind::Empty, _) => Vec::new(),
            (PlanKind::Unfiltered, _) => self.knn(q, k, breadth, metric, &|r| self.ids.is_live(r)),
            (_, Some(allowed)) => nearest_allowed(&self.space, self.ids.rows(), q, k, metric, &p.plan, allowed),
            (_, None) => match filter {
                Some(f) => self.knn(q, k, p.plan.breadth(), metric, &|r| self.row_matches(f, r)),
                None => Vec::new(), // a plan exists only for a filter
            },
        }
    }
}
