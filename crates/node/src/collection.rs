//! `NativeCollection`: batches, reads, search and the index lifecycle; the values it takes
//! and returns are in [`crate::values`].

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use libravdb_engine::{
    BatchOptions, Collection, HybridQuery, MetadataChange, NamedVectors, SearchParams, UpdateInput, parse_filter,
};
use napi::bindgen_prelude::{AsyncTask, Float32Array, Float32ArraySlice, Uint8Array};
use napi_derive::napi;

use crate::CancelToken;
use crate::changes::NativeChangeReader;
use crate::fields::{NativeFieldInfo, NativeNamedBlock, NativeNamedUpdate, NativeNamedVector, NativeVectorField};
use crate::job::{Job, guarded, job};
use crate::values::{
    NativeBatchReport, NativeHits, NativeHybridPlan, NativeQueryPlan, NativeRecord, NativeScanPage,
    NativeSearchOptions, NativeStats, NativeTransferReport, NativeTuneReport, NativeVerifyReport, unpack, unpack_ids,
};

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
        self.c.dimension() as u32
    }

    #[napi(getter)]
    pub fn metric(&self) -> String {
        self.c.metric().as_str().to_owned()
    }

    /// The named vector fields, in declaration order.
    #[napi(getter)]
    pub fn vector_fields(&self) -> Vec<NativeFieldInfo> {
        let config = self.c.config();
        let field = |(name, c): &(String, libravdb_engine::CollectionConfig)| NativeFieldInfo {
            name: name.clone(),
            dimension: c.dimension as u32,
            metric: c.metric.as_str().to_owned(),
        };
        config.vectors.iter().map(field).collect()
    }

    /// Inserts (or with `upsert`, inserts-or-replaces) records. `ids` and `metadata` (JSON
    /// text, empty for none) are packed strings; `vectors` is row-major (n x dimension) and
    /// must not be mutated until the promise settles.
    /// `named`: the named vector fields' vectors, a block per field.
    #[napi(ts_return_type = "Promise<NativeBatchReport>")]
    #[allow(clippy::too_many_arguments)]
    pub fn put_batch(
        &self,
        ids: Vec<Uint8Array>,
        vectors: Float32Array,
        metadata: Vec<Uint8Array>,
        upsert: bool,
        atomic: bool,
        cancel: Option<&CancelToken>,
        named: Option<Vec<NativeNamedBlock>>,
    ) -> AsyncTask<Job<NativeBatchReport>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        job(move || {
            let config = c.config();
            let named = named
                .iter()
                .flatten()
                .map(|b| {
                    let present: Vec<bool> = b.present.iter().map(|&p| p != 0).collect();
                    // The rows' width (the engine checks it against the field's dimension).
                    let carried = present.iter().filter(|&&p| p).count();
                    let dim = match carried {
                        0 => config.vector_field(&b.field)?.1.dimension,
                        n => b.vectors.len() / n,
                    };
                    Ok(NamedVectors { field: b.field.clone(), dim, present, vectors: b.vectors.to_vec().into() })
                })
                .collect::<libravdb_engine::Result<Vec<_>>>()?;
            let report = c.put_batch_named(
                unpack_ids(&ids)?,
                &vectors,
                unpack(&metadata)?,
                named,
                upsert,
                BatchOptions { atomic },
                &cancel,
            )?;
            Ok(report.into())
        })
    }

    /// Replaces vectors and/or metadata of existing records. Per item, `changes` bit 0 says
    /// it takes the next row of `vectors`; bits 1-2 say its metadata is kept (0), replaced by
    /// its entry in `metadata` (1) or cleared (2). `named`: named vector fields set or removed.
    #[napi(ts_return_type = "Promise<NativeBatchReport>")]
    #[allow(clippy::too_many_arguments)]
    pub fn update_batch(
        &self,
        ids: Vec<Uint8Array>,
        changes: Uint8Array,
        vectors: Float32Array,
        metadata: Vec<Uint8Array>,
        atomic: bool,
        cancel: Option<&CancelToken>,
        named: Option<Vec<NativeNamedUpdate>>,
    ) -> AsyncTask<Job<NativeBatchReport>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        let dim = c.dimension();
        job(move || {
            let ids = unpack_ids(&ids)?;
            let mut metadata = unpack(&metadata)?;
            if changes.len() != ids.len() || metadata.len() != ids.len() {
                return Err(libravdb_engine::Error::invalid(
                    "update batch: ids, changes and metadata differ in length",
                ));
            }
            let mut rows = vectors.chunks_exact(dim.max(1));
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
                inputs.push(UpdateInput { id, vector, metadata, named: Vec::new() });
            }
            for u in named.iter().flatten() {
                let input = inputs
                    .get_mut(u.item as usize)
                    .ok_or_else(|| libravdb_engine::Error::invalid("update batch: a named vector for no item"))?;
                input.named.push((u.field.clone(), u.vector.as_ref().map(|v| v.to_vec())));
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
            let (records, next, seq) = c.scan_page(after, limit as usize, filter.as_ref(), include_vectors)?;
            Ok(NativeScanPage { records: records.into_iter().map(NativeRecord::from).collect(), next, seq: seq as f64 })
        })
    }

    /// A reader of the change feed after change `since` (absent: after the latest; `oldest`:
    /// from the oldest change kept).
    #[napi(ts_return_type = "Promise<NativeChangeReader>")]
    pub fn open_changes(&self, since: Option<f64>, oldest: bool) -> AsyncTask<Job<NativeChangeReader>> {
        NativeChangeReader::open(self.c.clone(), since, oldest)
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
        job(move || {
            let filter = options.parsed_filter()?;
            let hits = match &options.using {
                Some(field) => c.search_field(field, &queries, params, filter.as_ref(), &cancel)?,
                None => c.search_cancellable(&queries, params, filter.as_ref(), &cancel)?,
            };
            Ok(hits.into())
        })
    }

    /// Searches by a vector, `options.text`, a sparse vector (`options.sparseIndices`,
    /// `sparseValues`), named vector fields' query vectors (`fields`), or several fused
    /// (`options.fusion`); the filter applies to each signal before fusion.
    #[napi(ts_return_type = "Promise<NativeHits>")]
    pub fn hybrid_search(
        &self,
        vector: Option<Float32Array>,
        options: NativeSearchOptions,
        cancel: Option<&CancelToken>,
        fields: Option<Vec<NativeNamedVector>>,
    ) -> AsyncTask<Job<NativeHits>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        let params = SearchParams::from(&options);
        job(move || {
            let query = HybridQuery {
                vector: vector.as_ref().map(|v| v.to_vec()),
                text: options.text_query(),
                sparse: options.sparse_query()?,
                fields: fields.iter().flatten().map(|f| (f.field.clone(), f.vector.to_vec())).collect(),
            };
            Ok(c.hybrid_search(&query, params, options.fusion()?, options.parsed_filter()?.as_ref(), &cancel)?.into())
        })
    }

    /// How a hybrid search with these options (and a query vector when `with_vector`) would
    /// run each signal.
    #[napi(catch_unwind)]
    pub fn explain_hybrid(&self, options: NativeSearchOptions, with_vector: bool) -> napi::Result<NativeHybridPlan> {
        guarded(|| {
            let vector = with_vector.then(|| vec![1.0; self.c.dimension()]);
            let query =
                HybridQuery { vector, text: options.text_query(), sparse: options.sparse_query()?, fields: Vec::new() };
            let filter = options.parsed_filter()?;
            Ok(self.c.explain_hybrid(&query, SearchParams::from(&options), options.fusion()?, filter.as_ref())?.into())
        })
    }

    /// The terms a text field's analyzer makes of `text` (what its index stores and a query
    /// looks up).
    #[napi(catch_unwind)]
    pub fn analyze(&self, field: String, text: String) -> napi::Result<Vec<String>> {
        guarded(|| self.c.analyze(&field, &text))
    }

    /// Of `fields`, those no live record's metadata holds (to warn about misspelt filters).
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn fields_never_seen(&self, fields: Vec<String>) -> AsyncTask<Job<Vec<String>>> {
        let c = self.c.clone();
        job(move || c.fields_never_seen(&fields))
    }

    /// The plan a search with these options would use (of field `options.using`, if named).
    #[napi(catch_unwind)]
    pub fn explain(&self, options: NativeSearchOptions) -> napi::Result<NativeQueryPlan> {
        guarded(|| {
            let (filter, params) = (options.parsed_filter()?, SearchParams::from(&options));
            let plan = match &options.using {
                Some(field) => self.c.explain_field(field, filter.as_ref(), params)?,
                None => self.c.explain(filter.as_ref(), params)?,
            };
            Ok(plan.into())
        })
    }

    /// The metadata schema as JSON (`{}` without one).
    #[napi(getter)]
    pub fn schema_json(&self) -> String {
        self.c.config().schema_json()
    }

    /// Counts the schema's changes since this handle opened: re-read `schemaJson` when it moved.
    #[napi(getter)]
    pub fn schema_version(&self) -> f64 {
        self.c.schema_version() as f64
    }

    /// The same search, on the calling thread: for hot loops where a thread hop costs more
    /// than the query.
    #[napi(catch_unwind)]
    pub fn search_sync(&self, queries: Float32ArraySlice, options: NativeSearchOptions) -> napi::Result<NativeHits> {
        guarded(|| {
            let (params, filter) = (SearchParams::from(&options), options.parsed_filter()?);
            let hits = match &options.using {
                Some(field) => self.c.search_field(field, &queries, params, filter.as_ref(), &Default::default())?,
                None => self.c.search_filtered(&queries, params, filter.as_ref())?,
            };
            Ok(hits.into())
        })
    }

    /// [`Self::search_into`] unless it would wait for a write (the state's lock is held or
    /// asked for): then `null`, and the facade sends the search to the pool instead.
    #[napi(catch_unwind)]
    pub fn search_now(
        &self,
        query: Float32ArraySlice,
        ef_search: u32,
        nprobe: u32,
        mut scores: Float32ArraySlice,
        using: Option<String>,
    ) -> napi::Result<Option<String>> {
        // SAFETY: as `search_into`: the facade made `scores` for this call.
        let out = unsafe { scores.as_mut() };
        guarded(|| self.c.search_into_now(&query, lean_params(ef_search, nprobe), using.as_deref(), out))
    }

    /// The lean single-query path behind `searchSync` without metadata or vectors: writes
    /// `scores.length` (= k) scores into `scores` and returns the hit ids joined by NUL.
    /// `efSearch` / `nprobe` 0 take the collection defaults; `using` names a vector field.
    #[napi(catch_unwind)]
    pub fn search_into(
        &self,
        query: Float32ArraySlice,
        ef_search: u32,
        nprobe: u32,
        mut scores: Float32ArraySlice,
        using: Option<String>,
    ) -> napi::Result<String> {
        // SAFETY: the JS facade owns `scores` (a private, reused buffer) and nothing else reads
        // or writes it during this synchronous call.
        let out = unsafe { scores.as_mut() };
        guarded(|| self.c.search_into(&query, lean_params(ef_search, nprobe), using.as_deref(), out))
    }

    /// [`NativeCollection::search_into`] off the JS thread: what `await search()` runs when it
    /// asks for ids and scores only (no filter, metadata, vectors or signal), so that it costs
    /// the hop to a worker and little more. `scores` is a buffer the facade made for this call
    /// and reads only once the promise resolves.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn search_lean(
        &self,
        query: Float32Array,
        ef_search: u32,
        nprobe: u32,
        mut scores: Float32Array,
        using: Option<String>,
    ) -> AsyncTask<Job<String>> {
        let c = self.c.clone();
        job(move || {
            // SAFETY: the facade made `scores` for this call alone and neither reads nor writes
            // it until the promise resolves; the task holds a reference, so it stays alive.
            let out = unsafe { scores.as_mut() };
            c.search_into(&query, lean_params(ef_search, nprobe), using.as_deref(), out)
        })
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
    /// `using`: rebuild named vector field `using` instead of the unnamed vector.
    #[napi(ts_return_type = "Promise<string>")]
    #[allow(clippy::too_many_arguments)]
    pub fn rebuild(
        &self,
        index: Option<String>,
        quantization: Option<String>,
        remove_quantization: bool,
        using: Option<String>,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<String>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        job(move || {
            if let Some(field) = &using {
                let config = c.config();
                let (_, current) = config.vector_field(field)?;
                let target = current.rebuild_target(index.as_deref(), quantization.as_deref(), remove_quantization)?;
                return Ok(c.rebuild_field(field, &target, &cancel)?.index.to_owned());
            }
            let target = c.config().rebuild_target(index.as_deref(), quantization.as_deref(), remove_quantization)?;
            let report = c.rebuild(target.index, target.quantization, &cancel)?;
            // A new index brings its own targetRecall (or none).
            if index.is_some() {
                c.set_recall_target(target.recall_target)?;
            }
            Ok(report.index.to_owned())
        })
    }

    /// Adds schema field `name` of type `kind` (`text_options`: a text field's options as
    /// JSON) and indexes it over the stored records (the engine's `Collection::add_field`).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn add_field(
        &self,
        name: String,
        kind: String,
        text_options: Option<String>,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<()>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        job(move || c.add_field(&name, &kind, text_options.as_deref(), &cancel))
    }

    /// Removes schema field `name` and its index (the records keep their values).
    /// Adds a named vector field (records lack it until a write sets it).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn add_vector_field(&self, field: NativeVectorField) -> AsyncTask<Job<()>> {
        let c = self.c.clone();
        job(move || {
            let (name, config) = field.config()?;
            c.add_vector_field(&name, config)
        })
    }

    /// Drops a named vector field with its vectors, index and files.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn drop_vector_field(&self, name: String) -> AsyncTask<Job<()>> {
        let c = self.c.clone();
        job(move || c.drop_vector_field(&name))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn drop_field(&self, name: String) -> AsyncTask<Job<()>> {
        let c = self.c.clone();
        job(move || c.drop_field(&name))
    }

    /// Finds and sets the smallest search breadth meeting `target_recall` on `queries` (a
    /// row-major block) or, without them, on the collection's recent queries or stored vectors
    /// (see the engine's `Collection::tune`).
    #[napi(ts_return_type = "Promise<NativeTuneReport>")]
    #[allow(clippy::too_many_arguments)]
    pub fn tune(
        &self,
        target_recall: f64,
        k: u32,
        sample: u32,
        queries: Option<Float32Array>,
        using: Option<String>,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<NativeTuneReport>> {
        let (c, cancel) = (self.c.clone(), CancelToken::flag(cancel));
        job(move || {
            let (k, sample, queries) = (k as usize, sample as usize, queries.as_deref());
            let r = match &using {
                Some(field) => c.tune_field(field, target_recall, k, sample, queries, &cancel)?,
                None => c.tune(target_recall, k, sample, queries, &cancel)?,
            };
            Ok(NativeTuneReport {
                knob: r.knob.map(str::to_owned),
                setting: r.setting.map(|s| s as u32),
                recall: r.recall,
                source: r.source.as_str().to_owned(),
                sample_size: r.sample_size as u32,
                sweep_settings: r.sweep.iter().map(|&(s, _)| s as u32).collect(),
                sweep_recalls: r.sweep.iter().map(|&(_, r)| r).collect(),
            })
        })
    }

    /// Forgets the sample of recent queries `tune()` measures on.
    #[napi]
    pub fn forget_recent_queries(&self) {
        self.c.forget_recent_queries();
    }

    /// Writes the records (those passing `filter`, canonical JSON) to a Parquet file at
    /// `path`; the token counts records written.
    #[napi(ts_return_type = "Promise<NativeTransferReport>")]
    pub fn export_parquet(
        &self,
        path: String,
        filter: Option<String>,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<NativeTransferReport>> {
        let (c, done, cancel) = (self.c.clone(), CancelToken::counter(cancel), CancelToken::flag(cancel));
        job(move || {
            let filter = filter.as_deref().map(parse_filter).transpose()?;
            let r = libravdb_interchange::export_parquet(&c, Path::new(&path), filter.as_ref(), &cancel, &mut |n| {
                done.store(n, Ordering::Relaxed)
            })?;
            Ok(r.into())
        })
    }

    /// Stores the rows of the Parquet file at `path`, a batch at a time, stopping at the
    /// first invalid row; the token counts records committed.
    #[napi(ts_return_type = "Promise<NativeTransferReport>")]
    pub fn import_parquet(
        &self,
        path: String,
        upsert: bool,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<NativeTransferReport>> {
        let (c, done, cancel) = (self.c.clone(), CancelToken::counter(cancel), CancelToken::flag(cancel));
        job(move || {
            let r = libravdb_interchange::import_parquet(&c, Path::new(&path), upsert, &cancel, &mut |n| {
                done.store(n, Ordering::Relaxed)
            })?;
            Ok(r.into())
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

/// Search parameters of the lean paths: the breadth the call names (0: the collection's).
fn lean_params(ef_search: u32, nprobe: u32) -> SearchParams {
    SearchParams {
        ef_search: (ef_search > 0).then_some(ef_search as usize),
        nprobe: (nprobe > 0).then_some(nprobe as usize),
        ..Default::default()
    }
}
