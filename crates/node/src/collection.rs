//! `NativeCollection`: batches, reads and search, converted to and from JS values.

use std::sync::Arc;

use libravdb_engine::{
    BatchOptions, BatchReport, Collection, Filter, Hits, MetadataChange, QueryPlan, Record, SearchParams, Stats,
    UpdateInput, VerifyReport, parse_filter,
};
use napi::bindgen_prelude::{AsyncTask, Float32Array, Float32ArraySlice, Uint8Array, Uint32Array};
use napi_derive::napi;

use crate::CancelToken;
use crate::job::{Job, guarded, job};

/// Per-item failure of a batch call.
#[napi(object)]
pub struct NativeItemError {
    pub index: u32,
    pub id: String,
    pub code: String,
    pub message: String,
}

/// What `tune()` measured and set; the sweep as two parallel arrays.
#[napi(object)]
pub struct NativeTuneReport {
    pub knob: Option<String>,
    pub setting: Option<u32>,
    pub recall: f64,
    pub sample_size: u32,
    pub sweep_settings: Vec<u32>,
    pub sweep_recalls: Vec<f64>,
}

/// Outcome of a batch call; `applied: false` means an atomic batch was rejected whole.
#[napi(object)]
pub struct NativeBatchReport {
    pub succeeded: u32,
    pub failed: u32,
    pub applied: bool,
    pub errors: Vec<NativeItemError>,
}

impl From<BatchReport> for NativeBatchReport {
    fn from(r: BatchReport) -> Self {
        Self {
            succeeded: r.succeeded,
            failed: r.failed,
            applied: r.applied,
            errors: r
                .errors
                .into_iter()
                .map(|e| NativeItemError { index: e.index, id: e.id, code: e.code.as_str().into(), message: e.message })
                .collect(),
        }
    }
}

/// Strings packed by the facade (`PackedStrings` in `src/batch.ts`): NUL-terminated UTF-8
/// entries in one or more buffers. Decoded here, on the worker thread, so that a large
/// batch costs the JS thread no string conversion. An empty entry decodes to `None`.
fn unpack(parts: &[Uint8Array]) -> libravdb_engine::Result<Vec<Option<String>>> {
    let mut out = Vec::new();
    for part in parts {
        let bytes: &[u8] = part;
        let Some(body) = bytes.strip_suffix(&[0]) else {
            return Err(libravdb_engine::Error::invalid("packed strings must end with NUL"));
        };
        for entry in body.split(|&b| b == 0) {
            let s = std::str::from_utf8(entry)
                .map_err(|e| libravdb_engine::Error::invalid(format!("packed string is not UTF-8: {e}")))?;
            out.push((!s.is_empty()).then(|| s.to_owned()));
        }
    }
    Ok(out)
}

/// [`unpack`] for ids: every entry present (an empty id is passed on for the engine to refuse).
fn unpack_ids(parts: &[Uint8Array]) -> libravdb_engine::Result<Vec<String>> {
    Ok(unpack(parts)?.into_iter().map(Option::unwrap_or_default).collect())
}

/// Search results of one or more queries, columnar (see the engine's `Hits`). Strings come
/// packed, each followed by NUL, with the byte end of each query's run, so that the facade
/// decodes them in slices instead of napi converting a million strings in one go.
#[napi(object)]
pub struct NativeHits {
    /// Hits per query, in query order.
    pub counts: Uint32Array,
    /// Hit ids, UTF-8, each followed by NUL.
    pub ids: Uint8Array,
    /// Byte offset in `ids` where each query's ids end.
    pub id_ends: Uint32Array,
    pub scores: Float32Array,
    /// Metadata JSON per hit, each followed by NUL (empty: none), when requested.
    pub metadata: Option<Uint8Array>,
    /// Byte offset in `metadata` where each query's entries end.
    pub metadata_ends: Option<Uint32Array>,
    /// Layout (hits, dimension) when requested.
    pub vectors: Option<Float32Array>,
}

/// Packs `strings` (grouped by `counts`) NUL-terminated; returns the bytes and each group's end.
fn pack<'a>(counts: &[u32], strings: impl Iterator<Item = &'a str>) -> (Vec<u8>, Vec<u32>) {
    let mut bytes = Vec::new();
    let mut ends = Vec::with_capacity(counts.len());
    let mut strings = strings;
    for &n in counts {
        for s in strings.by_ref().take(n as usize) {
            bytes.extend_from_slice(s.as_bytes());
            bytes.push(0);
        }
        ends.push(bytes.len() as u32);
    }
    (bytes, ends)
}

impl From<Hits> for NativeHits {
    fn from(h: Hits) -> Self {
        let (ids, id_ends) = pack(&h.counts, h.ids.iter().map(String::as_str));
        let metadata = h.metadata.as_ref().map(|m| pack(&h.counts, m.iter().map(|s| s.as_deref().unwrap_or(""))));
        let (metadata, metadata_ends) = match metadata {
            Some((bytes, ends)) => (Some(Uint8Array::new(bytes)), Some(Uint32Array::new(ends))),
            None => (None, None),
        };
        Self {
            counts: Uint32Array::new(h.counts),
            ids: Uint8Array::new(ids),
            id_ends: Uint32Array::new(id_ends),
            scores: Float32Array::new(h.scores),
            metadata,
            metadata_ends,
            vectors: h.vectors.map(Float32Array::new),
        }
    }
}

/// What a search returns and how wide it looks.
#[napi(object)]
pub struct NativeSearchOptions {
    pub k: u32,
    /// HNSW beam width for this query (default: the collection's `efSearch`).
    pub ef_search: Option<u32>,
    /// IVF-PQ lists probed for this query (default: the collection's `nprobe`).
    pub nprobe: Option<u32>,
    pub include_metadata: bool,
    pub include_vectors: bool,
    /// Filter in canonical JSON form (the facade compiles object filters into it).
    pub filter: Option<String>,
}

impl NativeSearchOptions {
    fn parsed_filter(&self) -> libravdb_engine::Result<Option<Filter>> {
        self.filter.as_deref().map(parse_filter).transpose()
    }
}

/// How a search would run (`explain()`).
#[napi(object)]
pub struct NativeQueryPlan {
    /// `unfiltered`, `exact`, `graph`, `probe`, `scan` or `empty`.
    pub plan: String,
    /// Matching records counted by the payload indexes (absent when they cannot answer).
    pub estimate: Option<f64>,
    pub live: f64,
    pub selectivity: Option<f64>,
    /// Beam width of a graph walk.
    pub ef_search: Option<u32>,
    /// IVF lists probed.
    pub nprobe: Option<u32>,
    pub reason: String,
}

impl From<QueryPlan> for NativeQueryPlan {
    fn from(p: QueryPlan) -> Self {
        Self {
            plan: p.plan.as_str().into(),
            estimate: p.estimate.map(|e| e as f64),
            live: p.live as f64,
            selectivity: p.selectivity,
            ef_search: p.ef.map(|e| e as u32),
            nprobe: p.nprobe.map(|n| n as u32),
            reason: p.reason,
        }
    }
}

impl From<&NativeSearchOptions> for SearchParams {
    fn from(o: &NativeSearchOptions) -> Self {
        SearchParams {
            k: o.k as usize,
            ef_search: o.ef_search.map(|e| e as usize),
            nprobe: o.nprobe.map(|n| n as usize),
            include_metadata: o.include_metadata,
            include_vectors: o.include_vectors,
        }
    }
}

/// A stored record.
#[napi(object)]
pub struct NativeRecord {
    pub id: String,
    pub vector: Float32Array,
    pub metadata: Option<String>,
}

impl From<Record> for NativeRecord {
    fn from(r: Record) -> Self {
        Self { id: r.id, vector: Float32Array::new(r.vector), metadata: r.metadata }
    }
}

/// One page of a scan.
#[napi(object)]
pub struct NativeScanPage {
    pub records: Vec<NativeRecord>,
    /// Cursor of the next page; absent when the scan is done.
    pub next: Option<u32>,
}

/// Size and footprint of a collection.
#[napi(object)]
pub struct NativeStats {
    pub count: f64,
    pub rows: f64,
    pub deleted: f64,
    pub free_rows: f64,
    pub dimension: u32,
    pub metric: String,
    pub index: String,
    pub active_index: String,
    pub index_state: String,
    pub index_error: Option<String>,
    /// `index.targetRecall`, if set.
    pub target_recall: Option<f64>,
    /// Live records at the last tune for it (0: not tuned yet).
    pub tuned_at: Option<f64>,
    pub index_bytes: f64,
    pub vector_bytes: f64,
    pub mapped_bytes: f64,
    pub resident_vector_bytes: f64,
    pub bytes_per_vector: f64,
    pub id_bytes: f64,
    pub metadata_bytes: f64,
    pub wal_bytes: f64,
    pub file_backed: bool,
    /// `none`, `pending`, `trained` or `failed`.
    pub quantization: String,
    pub quantization_error: Option<String>,
    pub code_bytes: f64,
    pub compression: f64,
}

impl From<Stats> for NativeStats {
    fn from(s: Stats) -> Self {
        Self {
            count: s.count as f64,
            rows: s.rows as f64,
            deleted: s.deleted as f64,
            free_rows: s.free_rows as f64,
            dimension: s.dimension as u32,
            metric: s.metric.into(),
            index: s.index.into(),
            active_index: s.active_index.into(),
            index_state: s.index_state.into(),
            index_error: s.index_error,
            target_recall: s.recall_target.map(|t| t.recall),
            tuned_at: s.recall_target.map(|t| t.tuned_at as f64),
            index_bytes: s.index_bytes as f64,
            vector_bytes: s.vector_bytes as f64,
            mapped_bytes: s.mapped_bytes as f64,
            resident_vector_bytes: s.resident_vector_bytes as f64,
            bytes_per_vector: s.bytes_per_vector,
            id_bytes: s.id_bytes as f64,
            metadata_bytes: s.metadata_bytes as f64,
            wal_bytes: s.wal_bytes as f64,
            file_backed: s.file_backed,
            quantization: s.quantization.into(),
            quantization_error: s.quantization_error,
            code_bytes: s.code_bytes as f64,
            compression: s.compression,
        }
    }
}

/// One damaged file found by `verify()`.
#[napi(object)]
pub struct NativeDamage {
    /// The collection it belongs to.
    pub collection: String,
    pub file: String,
    pub reason: String,
}

/// What `verify()` read and found (see the engine's `VerifyReport`).
#[napi(object)]
#[derive(Default)]
pub struct NativeVerifyReport {
    pub files_checked: u32,
    pub chunks_checked: u32,
    pub chunks_skipped: u32,
    pub damaged: Vec<NativeDamage>,
}

impl NativeVerifyReport {
    /// Adds collection `name`'s report to this one.
    pub(crate) fn add(&mut self, name: &str, r: VerifyReport) {
        self.files_checked += r.files_checked as u32;
        self.chunks_checked += r.chunks_checked as u32;
        self.chunks_skipped += r.chunks_skipped as u32;
        self.damaged.extend(r.damaged.into_iter().map(|d| NativeDamage {
            collection: name.to_owned(),
            file: d.file.display().to_string(),
            reason: d.reason,
        }));
    }
}

/// A collection handle (native; use the `Collection` facade).
#[napi]
pub struct NativeCollection {
    c: Arc<Collection>,
}

impl NativeCollection {
    pub(crate) fn new(c: Arc<Collection>) -> Self {
        Self { c }
    }
}

#[napi]
impl NativeCollection {
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.c.name().to_owned()
    }

    #[napi(getter)]
    pub fn dimension(&self) -> u32 {
        self.c.config().dimension as u32
    }

    #[napi(getter)]
    pub fn metric(&self) -> String {
        self.c.config().metric.as_str().to_owned()
    }

    /// Inserts (or with `upsert`, inserts-or-replaces) records. `ids` and `metadata` (JSON
    /// text, empty for none) are packed strings; `vectors` is row-major (n x dimension) and
    /// must not be mutated until the promise settles.
    #[napi(ts_return_type = "Promise<NativeBatchReport>")]
    pub fn put_batch(
        &self,
        ids: Vec<Uint8Array>,
        vectors: Float32Array,
        metadata: Vec<Uint8Array>,
        upsert: bool,
        atomic: bool,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<NativeBatchReport>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        job(move || {
            let report =
                c.put_batch(unpack_ids(&ids)?, &vectors, unpack(&metadata)?, upsert, BatchOptions { atomic }, &cancel)?;
            Ok(report.into())
        })
    }

    /// Replaces vectors and/or metadata of existing records. Per item, `changes` bit 0 says
    /// it takes the next row of `vectors`; bits 1-2 say its metadata is kept (0), replaced by
    /// its entry in `metadata` (1) or cleared (2).
    #[napi(ts_return_type = "Promise<NativeBatchReport>")]
    pub fn update_batch(
        &self,
        ids: Vec<Uint8Array>,
        changes: Uint8Array,
        vectors: Float32Array,
        metadata: Vec<Uint8Array>,
        atomic: bool,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<NativeBatchReport>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        let dim = c.config().dimension;
        job(move || {
            let ids = unpack_ids(&ids)?;
            let mut metadata = unpack(&metadata)?;
            if changes.len() != ids.len() || metadata.len() != ids.len() {
                return Err(libravdb_engine::Error::invalid(
                    "update batch: ids, changes and metadata differ in length",
                ));
            }
            let mut rows = vectors.chunks_exact(dim);
            let mut inputs = Vec::with_capacity(ids.len());
            for ((id, &change), meta) in ids.into_iter().zip(changes.iter()).zip(metadata.iter_mut()) {
                let vector = if change & 1 == 1 {
                    let row = rows
                        .next()
                        .ok_or_else(|| libravdb_engine::Error::invalid("update batch: too few vector rows"))?;
                    Some(row.to_vec())
                } else {
                    None
                };
                let metadata = match (change >> 1, meta.take()) {
                    (1, Some(json)) => MetadataChange::Set(json),
                    (2, _) => MetadataChange::Clear,
                    _ => MetadataChange::Keep,
                };
                inputs.push(UpdateInput { id, vector, metadata });
            }
            Ok(c.update_batch(inputs, BatchOptions { atomic }, &cancel)?.into())
        })
    }

    /// Deletes records by id (packed strings).
    #[napi(ts_return_type = "Promise<NativeBatchReport>")]
    pub fn delete_batch(
        &self,
        ids: Vec<Uint8Array>,
        atomic: bool,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<NativeBatchReport>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        job(move || Ok(c.delete_batch(unpack_ids(&ids)?, BatchOptions { atomic }, &cancel)?.into()))
    }

    /// Deletes every record whose metadata passes `filter` (canonical JSON), atomically.
    #[napi(ts_return_type = "Promise<NativeBatchReport>")]
    pub fn delete_where(&self, filter: String, cancel: Option<&CancelToken>) -> AsyncTask<Job<NativeBatchReport>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        job(move || Ok(c.delete_where(&parse_filter(&filter)?, &cancel)?.into()))
    }

    /// A page of records in storage order after cursor `after`, passing `filter`.
    #[napi(ts_return_type = "Promise<NativeScanPage>")]
    pub fn scan_page(
        &self,
        after: Option<u32>,
        limit: u32,
        filter: Option<String>,
        include_vectors: bool,
    ) -> AsyncTask<Job<NativeScanPage>> {
        let c = self.c.clone();
        job(move || {
            let filter = filter.as_deref().map(parse_filter).transpose()?;
            let (records, next) = c.scan_page(after, limit as usize, filter.as_ref(), include_vectors)?;
            Ok(NativeScanPage { records: records.into_iter().map(NativeRecord::from).collect(), next })
        })
    }

    /// The record with this id, or null.
    #[napi(ts_return_type = "Promise<NativeRecord | null>")]
    pub fn get(&self, id: String) -> AsyncTask<Job<Option<NativeRecord>>> {
        let c = self.c.clone();
        job(move || Ok(c.get(&id)?.map(NativeRecord::from)))
    }

    /// k-nearest-neighbour search for each query of a row-major block (n x dimension), off
    /// the JS thread. Several queries run in parallel; a cancelled search stops computing.
    #[napi(ts_return_type = "Promise<NativeHits>")]
    pub fn search(
        &self,
        queries: Float32Array,
        options: NativeSearchOptions,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<NativeHits>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        let params = SearchParams::from(&options);
        job(move || Ok(c.search_cancellable(&queries, params, options.parsed_filter()?.as_ref(), &cancel)?.into()))
    }

    /// Of `fields`, those no live record's metadata holds (to warn about misspelt filters).
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn fields_never_seen(&self, fields: Vec<String>) -> AsyncTask<Job<Vec<String>>> {
        let c = self.c.clone();
        job(move || c.fields_never_seen(&fields))
    }

    /// The plan a search with these options would use.
    #[napi(catch_unwind)]
    pub fn explain(&self, options: NativeSearchOptions) -> napi::Result<NativeQueryPlan> {
        guarded(|| Ok(self.c.explain(options.parsed_filter()?.as_ref(), SearchParams::from(&options))?.into()))
    }

    /// The metadata schema as JSON (`{}` without one).
    #[napi(getter)]
    pub fn schema_json(&self) -> String {
        self.c.config().schema_json()
    }

    /// The same search, on the calling thread: for hot loops where a thread hop costs more
    /// than the query.
    #[napi(catch_unwind)]
    pub fn search_sync(&self, queries: Float32ArraySlice, options: NativeSearchOptions) -> napi::Result<NativeHits> {
        guarded(|| {
            Ok(self
                .c
                .search_filtered(&queries, SearchParams::from(&options), options.parsed_filter()?.as_ref())?
                .into())
        })
    }

    /// The lean single-query path behind `searchSync` without metadata or vectors: writes
    /// `scores.length` (= k) scores into `scores` and returns the hit ids joined by NUL.
    /// `efSearch` / `nprobe` 0 take the collection defaults.
    #[napi(catch_unwind)]
    pub fn search_into(
        &self,
        query: Float32ArraySlice,
        ef_search: u32,
        nprobe: u32,
        mut scores: Float32ArraySlice,
    ) -> napi::Result<String> {
        let params = SearchParams {
            ef_search: (ef_search > 0).then_some(ef_search as usize),
            nprobe: (nprobe > 0).then_some(nprobe as usize),
            ..Default::default()
        };
        // SAFETY: the JS facade owns `scores` (a private, reused buffer) and nothing else reads
        // or writes it during this synchronous call.
        let out = unsafe { scores.as_mut() };
        guarded(|| self.c.search_into(&query, params, out))
    }

    /// Repairs the index around deleted records and checkpoints; resolves to the number of
    /// neighbour lists rewritten.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn optimize(&self, cancel: Option<&CancelToken>) -> AsyncTask<Job<u32>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        job(move || Ok(c.optimize(&cancel)? as u32))
    }

    /// Builds `index` / `quantization` (JSON text of the API objects) beside the serving
    /// index and switches to it (the engine's `Collection::rebuild`). `index` None keeps the
    /// index settings; `quantization` None keeps the quantization unless `remove_quantization`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn rebuild(
        &self,
        index: Option<String>,
        quantization: Option<String>,
        remove_quantization: bool,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<String>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        job(move || {
            let target = c.config().rebuild_target(index.as_deref(), quantization.as_deref(), remove_quantization)?;
            let report = c.rebuild(target.index, target.quantization, &cancel)?;
            // A new index brings its own targetRecall (or none).
            if index.is_some() {
                c.set_recall_target(target.recall_target.map(|t| t.recall))?;
            }
            Ok(report.index.to_owned())
        })
    }

    /// Finds and sets the smallest search breadth meeting `target_recall` (see the engine's
    /// `Collection::tune`).
    #[napi(ts_return_type = "Promise<NativeTuneReport>")]
    pub fn tune(
        &self,
        target_recall: f64,
        k: u32,
        sample: u32,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<NativeTuneReport>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        job(move || {
            let r = c.tune(target_recall, k as usize, sample as usize, &cancel)?;
            Ok(NativeTuneReport {
                knob: r.knob.map(str::to_owned),
                setting: r.setting.map(|s| s as u32),
                recall: r.recall,
                sample_size: r.sample_size as u32,
                sweep_settings: r.sweep.iter().map(|&(s, _)| s as u32).collect(),
                sweep_recalls: r.sweep.iter().map(|&(_, r)| r).collect(),
            })
        })
    }

    /// Progress of a running rebuild: rows added to the new index, and rows in all.
    #[napi(catch_unwind)]
    pub fn rebuild_progress(&self) -> Vec<f64> {
        let (done, total) = self.c.rebuild_progress();
        vec![done as f64, total as f64]
    }

    /// Reads every file of the collection and reports the damaged ones.
    #[napi(ts_return_type = "Promise<NativeVerifyReport>")]
    pub fn verify(&self) -> AsyncTask<Job<NativeVerifyReport>> {
        let c = self.c.clone();
        job(move || {
            let mut report = NativeVerifyReport::default();
            report.add(c.name(), c.verify()?);
            Ok(report)
        })
    }

    /// Live records.
    #[napi(catch_unwind)]
    pub fn count(&self) -> napi::Result<f64> {
        guarded(|| Ok(self.c.count()? as f64))
    }

    /// Size and footprint.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> napi::Result<NativeStats> {
        guarded(|| Ok(self.c.stats()?.into()))
    }
}
