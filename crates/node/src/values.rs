//! The plain values a `NativeCollection` takes and returns, converted to and from JS:
//! batch reports, hits (packed), search options, plans, records, stats, verify and tune
//! reports.

use libravdb_engine::{
    BatchReport, Filter, Fusion, Hits, HybridPlan, QueryPlan, Record, SearchParams, SparseQuery, Stats, TextQuery,
    VerifyReport, Weights, parse_filter,
};
use libravdb_engine::{MemoryParts, MemoryUsage};
use napi::bindgen_prelude::{Float32Array, Uint8Array, Uint32Array};
use napi_derive::napi;

use crate::fields::{NativeFieldStats, NativeNamedVector, NativeVectorField};

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
    /// `queries`, `recent` or `stored`.
    pub source: String,
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
pub(crate) fn unpack(parts: &[Uint8Array]) -> libravdb_engine::Result<Vec<Option<String>>> {
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
pub(crate) fn unpack_ids(parts: &[Uint8Array]) -> libravdb_engine::Result<Vec<String>> {
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
    /// A hybrid search's score of each hit per signal, NaN where that signal missed it.
    pub vector_scores: Option<Float32Array>,
    pub text_scores: Option<Float32Array>,
    pub sparse_scores: Option<Float32Array>,
    /// Likewise for each named vector field of the query, in its order.
    pub field_scores: Option<Vec<Float32Array>>,
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
        let (vector_scores, text_scores, sparse_scores, field_scores) = match h.signals {
            Some(s) => (
                Some(Float32Array::new(s.vector)),
                Some(Float32Array::new(s.text)),
                Some(Float32Array::new(s.sparse)),
                Some(s.fields.into_iter().map(Float32Array::new).collect()),
            ),
            None => (None, None, None, None),
        };
        Self {
            field_scores,
            vector_scores,
            text_scores,
            sparse_scores,
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
    /// Range search: l2 `maxDistance` or cosine/dot `minScore` (the facade checks which).
    pub score_bound: Option<f64>,
    /// MMR: 0 (relevance only) to 1, and the candidates fetched.
    pub diversity: Option<f64>,
    /// MMR: candidates fetched; hybrid: candidates per signal.
    pub fetch_k: Option<u32>,
    /// Hybrid: the full-text query, and the text fields it searches (all when absent).
    pub text: Option<String>,
    pub text_fields: Option<Vec<String>>,
    /// Hybrid: `rrf` (default) or `weighted`; RRF's k; each signal's weight.
    pub fusion: Option<String>,
    pub fusion_k: Option<f64>,
    pub vector_weight: Option<f64>,
    pub text_weight: Option<f64>,
    pub sparse_weight: Option<f64>,
    /// Hybrid: a sparse query vector, and the sparse field it searches (the only one when absent).
    pub sparse_indices: Option<Vec<u32>>,
    pub sparse_values: Option<Vec<f64>>,
    pub sparse_field: Option<String>,
    /// The named vector field the query vector searches (absent: the unnamed one).
    pub using: Option<String>,
}

impl NativeSearchOptions {
    pub(crate) fn parsed_filter(&self) -> libravdb_engine::Result<Option<Filter>> {
        self.filter.as_deref().map(parse_filter).transpose()
    }

    /// The fusion these options ask for (RRF with k 60 and weights 1 unless said).
    pub(crate) fn fusion(&self) -> libravdb_engine::Result<Fusion> {
        let weight = |w: Option<f64>| w.map_or(1.0, |w| w as f32);
        let weights = Weights {
            vector: weight(self.vector_weight),
            text: weight(self.text_weight),
            sparse: weight(self.sparse_weight),
        };
        match self.fusion.as_deref() {
            None | Some("rrf") => {
                Ok(Fusion::Rrf { k: self.fusion_k.map_or(libravdb_engine::RRF_K, |k| k as f32), weights })
            }
            Some("weighted") => Ok(Fusion::Weighted { weights }),
            Some(other) => {
                Err(libravdb_engine::Error::invalid(format!("fusion must be rrf or weighted, got '{other}'")))
            }
        }
    }

    /// The sparse part of a hybrid query, if any.
    pub(crate) fn sparse_query(&self) -> libravdb_engine::Result<Option<SparseQuery>> {
        match (&self.sparse_indices, &self.sparse_values) {
            (None, None) => Ok(None),
            (Some(i), Some(v)) if i.len() == v.len() => Ok(Some(SparseQuery {
                pairs: i.iter().zip(v).map(|(&i, &v)| (i, v as f32)).collect(),
                field: self.sparse_field.clone(),
            })),
            _ => Err(libravdb_engine::Error::invalid("a sparse query needs as many values as indices")),
        }
    }

    /// The text part of a hybrid query, if any.
    pub(crate) fn text_query(&self) -> Option<TextQuery> {
        self.text.as_ref().map(|q| TextQuery { query: q.clone(), fields: self.text_fields.clone().unwrap_or_default() })
    }
}

/// What a full-text search reads (`explain()`).
#[napi(object)]
pub struct NativeTextPlan {
    pub fields: Vec<String>,
    /// The query's terms after analysis.
    pub terms: Vec<String>,
    /// Query terms present in the index, and the postings entries they hold.
    pub matched_terms: u32,
    pub postings: f64,
}

/// What a sparse-vector search reads (`explain()`).
#[napi(object)]
pub struct NativeSparsePlan {
    pub field: String,
    /// The query's dimensions present in the index, and their postings entries.
    pub matched_dims: u32,
    pub postings: f64,
}

/// How a hybrid search would run.
#[napi(object)]
pub struct NativeHybridPlan {
    pub vector: Option<NativeQueryPlan>,
    pub text: Option<NativeTextPlan>,
    pub sparse: Option<NativeSparsePlan>,
    /// Candidates per signal when both run.
    pub fetch_k: u32,
    pub fusion: String,
}

impl From<HybridPlan> for NativeHybridPlan {
    fn from(p: HybridPlan) -> Self {
        Self {
            vector: p.vector.map(Into::into),
            text: p.text.map(|t| NativeTextPlan {
                fields: t.fields,
                terms: t.terms,
                matched_terms: t.matched_terms as u32,
                postings: t.postings as f64,
            }),
            sparse: p.sparse.map(|s| NativeSparsePlan {
                field: s.field,
                matched_dims: s.matched_dims as u32,
                postings: s.postings as f64,
            }),
            fetch_k: p.fetch as u32,
            fusion: p.fusion.as_str().into(),
        }
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
            score_bound: o.score_bound.map(|b| b as f32),
            diversity: o.diversity.map(|d| d as f32),
            fetch_k: o.fetch_k.map(|f| f as usize),
        }
    }
}

/// A stored record.
#[napi(object)]
pub struct NativeRecord {
    pub id: String,
    pub vector: Float32Array,
    pub metadata: Option<String>,
    /// The named vector fields the record has.
    pub named: Vec<NativeNamedVector>,
}

impl From<Record> for NativeRecord {
    fn from(r: Record) -> Self {
        let named = r.named.into_iter().map(|(field, v)| NativeNamedVector { field, vector: Float32Array::new(v) });
        Self { id: r.id, vector: Float32Array::new(r.vector), metadata: r.metadata, named: named.collect() }
    }
}

/// One page of a scan.
#[napi(object)]
pub struct NativeScanPage {
    pub records: Vec<NativeRecord>,
    /// Cursor of the next page; absent when the scan is done.
    pub next: Option<u32>,
    /// The change-feed sequence number this page is consistent at.
    pub seq: f64,
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
    pub nlist: Option<u32>,
    pub index_bytes: f64,
    pub vector_bytes: f64,
    pub mapped_bytes: f64,
    pub resident_vector_bytes: f64,
    pub bytes_per_vector: f64,
    pub id_bytes: f64,
    pub metadata_bytes: f64,
    pub wal_bytes: f64,
    /// Change-feed sequence number of the last write applied.
    pub seq: f64,
    /// Bytes of checkpointed logs kept for the change feed.
    pub change_log_bytes: f64,
    pub file_backed: bool,
    /// `none`, `pending`, `trained` or `failed`.
    pub quantization: String,
    pub quantization_error: Option<String>,
    /// Trainings run so far (a failed one is retried after growth, `optimize()`, `rebuild()`).
    pub quantization_attempts: u32,
    pub code_bytes: f64,
    pub compression: f64,
    pub memory: NativeMemoryParts,
    /// `storage.mmap`: `true`, `false` or `auto`.
    pub mmap: String,
    pub vectors_in_memory: bool,
    pub cache_hits: f64,
    pub cache_misses: f64,
    pub cache_evictions: f64,
    pub cache_bytes: f64,
    pub cache_capacity: f64,
    /// Each named vector field.
    pub fields: Vec<NativeFieldStats>,
}

/// One collection's part of `memoryUsage()` (bytes).
#[napi(object)]
pub struct NativeMemoryParts {
    pub vectors: f64,
    pub index: f64,
    pub codes: f64,
    pub payload: f64,
    pub ids: f64,
    pub metadata: f64,
    pub cache: f64,
    pub buffers: f64,
    pub mapped: f64,
    pub resident: f64,
    pub held: f64,
}

impl From<MemoryParts> for NativeMemoryParts {
    fn from(p: MemoryParts) -> Self {
        Self {
            vectors: p.vectors as f64,
            index: p.index as f64,
            codes: p.codes as f64,
            payload: p.payload as f64,
            ids: p.ids as f64,
            metadata: p.metadata as f64,
            cache: p.cache as f64,
            buffers: p.buffers as f64,
            mapped: p.mapped as f64,
            resident: p.resident as f64,
            held: p.held() as f64,
        }
    }
}

/// `Database::memory_usage`.
#[napi(object)]
pub struct NativeMemoryUsage {
    pub total: f64,
    pub limit: Option<f64>,
    pub pressure: f64,
    pub under_pressure: bool,
    pub pressure_events: f64,
    pub names: Vec<String>,
    pub parts: Vec<NativeMemoryParts>,
}

impl From<MemoryUsage> for NativeMemoryUsage {
    fn from(u: MemoryUsage) -> Self {
        let (names, parts) = u.collections.into_iter().map(|(n, p)| (n, p.into())).unzip();
        Self {
            total: u.total as f64,
            limit: u.limit.map(|l| l as f64),
            pressure: u.pressure,
            under_pressure: u.under_pressure,
            pressure_events: u.pressure_events as f64,
            names,
            parts,
        }
    }
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
            nlist: s.nlist.map(|n| n as u32),
            index_bytes: s.index_bytes as f64,
            vector_bytes: s.vector_bytes as f64,
            mapped_bytes: s.mapped_bytes as f64,
            resident_vector_bytes: s.resident_vector_bytes as f64,
            bytes_per_vector: s.bytes_per_vector,
            id_bytes: s.id_bytes as f64,
            metadata_bytes: s.metadata_bytes as f64,
            wal_bytes: s.wal_bytes as f64,
            seq: s.seq as f64,
            change_log_bytes: s.change_log_bytes as f64,
            file_backed: s.file_backed,
            quantization: s.quantization.into(),
            quantization_error: s.quantization_error,
            quantization_attempts: s.quantization_attempts,
            code_bytes: s.code_bytes as f64,
            compression: s.compression,
            memory: s.memory.into(),
            mmap: s.mmap.into(),
            vectors_in_memory: s.vectors_in_memory,
            cache_hits: s.metadata_cache.hits as f64,
            cache_misses: s.metadata_cache.misses as f64,
            cache_evictions: s.metadata_cache.evictions as f64,
            cache_bytes: s.metadata_cache.bytes as f64,
            cache_capacity: s.metadata_cache.capacity as f64,
            fields: s.fields.into_iter().map(NativeFieldStats::from).collect(),
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
/// What `backup()` wrote: the collections copied and the bytes linked or copied.
#[napi(object)]
pub struct NativeBackupReport {
    pub collections: Vec<String>,
    pub bytes: f64,
}

impl From<libravdb_engine::BackupReport> for NativeBackupReport {
    fn from(r: libravdb_engine::BackupReport) -> Self {
        Self { collections: r.collections, bytes: r.bytes as f64 }
    }
}

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

/// What an export or import did (`libravdb_interchange::TransferReport`).
#[napi(object)]
pub struct NativeTransferReport {
    pub records: f64,
    pub bytes: f64,
    /// Export: the change-feed sequence number the file is consistent at.
    pub seq: f64,
}

impl From<libravdb_interchange::TransferReport> for NativeTransferReport {
    fn from(r: libravdb_interchange::TransferReport) -> Self {
        Self { records: r.records as f64, bytes: r.bytes as f64, seq: r.seq as f64 }
    }
}

/// What a Parquet file holds (`libravdb_interchange::FileInfo`).
#[napi(object)]
pub struct NativeFileInfo {
    pub rows: f64,
    /// The unnamed vector's (0: named vector fields only).
    pub dimension: u32,
    pub metric: Option<String>,
    /// JSON of `[name, type]` pairs.
    pub schema: String,
    /// The unnamed vector's index and quantization (API JSON), when the export recorded them.
    pub index: Option<String>,
    pub quantization: Option<String>,
    /// Named vector fields (`index` and `quantization` as API JSON).
    pub vectors: Vec<NativeVectorField>,
}
