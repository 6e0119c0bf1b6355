//! Named vector fields on a live collection: searches of one (`search(q, { using })`: the
//! field's index walked for the records that have the field and pass the filter, hits made
//! of their records), and fields added and dropped.
//!
//! Adding a field: the records lack it until a write sets it, so there is nothing to build;
//! under the writer lock its (empty) table and index are opened, joined to the state and the
//! configuration, and a checkpoint commits them (the manifest names the field). Writes that
//! set it are logged after that checkpoint, so replay always finds the field. Dropping one
//! commits the same way, then deletes its directory. A crash before either checkpoint leaves
//! the field as it was; a directory the manifest does not name is deleted at the next open.

use libravdb_core::{Metric, Neighbor};
use libravdb_filter::Filter;
use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::account::loads_into_memory;
use super::fields::field_dir;
use super::params::{SearchParams, relevance};
use super::persist::FieldManifest;
use super::read::{Hits, check_params, prepare_vectors};
use super::{Collection, QueryPlan, State};
use crate::cancel::Cancel;
use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::pool::pool;

impl Collection {
    /// [`Collection::search_cancellable`] on named vector field `field` (queries of its
    /// dimension): only records that have the field are found. A filter is evaluated over the
    /// records first (through the payload indexes where it can); the search of the matches
    /// that have the field is then planned as the default vector's is (scored one by one, or
    /// the field's index walked): see [`Collection::explain_field`]. `include_vectors`
    /// returns the field's vectors.
    pub fn search_field(
        &self,
        field: &str,
        queries: &[f32],
        params: SearchParams,
        filter: Option<&Filter>,
        cancel: &Cancel,
    ) -> Result<Hits> {
        let (dim, metric) = {
            let config = self.config.read();
            let (_, fc) = config.vector_field(field)?;
            (fc.dimension, fc.metric)
        };
        if queries.is_empty() || !queries.len().is_multiple_of(dim) {
            return Err(Error::DimensionMismatch {
                what: format!("query vector for field '{field}'"),
                expected: dim,
                got: queries.len(),
            });
        }
        check_params(params)?;
        let queries = prepare_vectors(queries, dim, metric)?;
        let st = self.read_state()?;
        let space = st.present_field(field)?;
        let asked = params;
        let k = params.candidates();
        let breadth = params.breadth(space.space.index.active());
        let planned = space.plan(st.records_passing(filter).as_ref(), k, space.space.breadth(params));
        let one = |q: &[f32]| -> Option<Vec<Neighbor>> {
            (!cancel.is_cancelled())
                .then(|| asked.finish(metric, &space.space.vectors, q, space.nearest(q, k, breadth, &planned)))
        };
        let found: Vec<Vec<Neighbor>> = if queries.len() == dim {
            vec![one(&queries).ok_or(Error::Aborted)?]
        } else {
            pool()
                .install(|| queries.par_chunks_exact(dim).map(one).collect::<Option<Vec<_>>>())
                .ok_or(Error::Aborted)?
        };
        let counts = found.iter().map(|f| f.len() as u32).collect();
        let records = found.iter().flatten().map(|n| {
            let record = space.owner(n.row).expect("a live row of the field");
            (record, metric.score(n.distance))
        });
        let mut hits = self.hits_of(&st, counts, records, SearchParams { include_vectors: false, ..params })?;
        if params.include_vectors {
            hits.vectors =
                Some(found.iter().flatten().flat_map(|n| space.space.vectors.row(n.row).iter().copied()).collect());
        }
        Ok(hits)
    }
}

impl Collection {
    /// How a search of named vector field `field` with `filter` would run (`explain({ using })`):
    /// the records that have the field and match are counted, and the plan chosen for that
    /// selectivity among the records that have the field.
    pub fn explain_field(&self, field: &str, filter: Option<&Filter>, params: SearchParams) -> Result<QueryPlan> {
        self.config.read().vector_field(field)?;
        let st = self.read_state()?;
        let space = st.present_field(field)?;
        let k = params.candidates();
        Ok(space.plan(st.records_passing(filter).as_ref(), k, space.space.breadth(params)).plan)
    }

    /// Adds named vector field `name` (`field`: its dimension, metric and index, as
    /// [`CollectionConfig::from_api_json`] builds them); records lack it until a write sets
    /// it. Durable once it returns.
    pub fn add_vector_field(&self, name: &str, field: CollectionConfig) -> Result<()> {
        self.check_writable()?;
        // One schema change or rebuild at a time; closing waits for it.
        let _only = self.rebuild_lock.lock();
        self.check_open()?;
        let mut w = self.writer.lock();
        let config = self.config();
        let field = CollectionConfig { mmap: config.mmap, ..field };
        let next = config.with_vector_field(name, field.clone())?;
        if let Some(dir) = &self.dir {
            // What a drop left behind when the process died before deleting it.
            let _ = std::fs::remove_dir_all(field_dir(dir, name));
        }
        let entry = FieldManifest::new(name, &field);
        let load = self.dir.is_some() && loads_into_memory(&field, &self.options, 0);
        let opened = entry.open(&field, self.dir.as_deref(), 0, false, load)?;
        self.state.write().fields.push(opened);
        w.fields.push(entry);
        *self.config.write() = next;
        let committed = self.force_checkpoint_locked(&mut w);
        if committed.is_err() {
            // Not durable: the field never was (no write could name it meanwhile).
            self.state.write().fields.pop();
            w.fields.pop();
            *self.config.write() = config;
        } else {
            self.schema_version.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        self.account(&self.state.read());
        committed
    }

    /// Drops named vector field `name`: its vectors, index and files. Durable once it returns.
    pub fn drop_vector_field(&self, name: &str) -> Result<()> {
        self.check_writable()?;
        let _only = self.rebuild_lock.lock();
        self.check_open()?;
        let mut w = self.writer.lock();
        let config = self.config();
        let next = config.without_vector_field(name)?;
        let (at, _) = config.vector_field(name)?;
        let removed = self.state.write().fields.remove(at);
        let entry = w.fields.remove(at);
        *self.config.write() = next;
        if let Err(e) = self.force_checkpoint_locked(&mut w) {
            // The manifest on disk still names the field: put it back as it was.
            self.state.write().fields.insert(at, removed);
            w.fields.insert(at, entry);
            *self.config.write() = config;
            return Err(e);
        }
        self.schema_version.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        drop(removed); // unmaps its files
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(field_dir(dir, name));
        }
        self.account(&self.state.read());
        Ok(())
    }
}

impl Collection {
    /// Named vector fields' query vectors of a hybrid search, checked (a field of the
    /// collection, named once, of its dimension) and prepared for its metric.
    pub(super) fn prepare_field_queries(&self, fields: &[(String, Vec<f32>)]) -> Result<Vec<(String, Vec<f32>)>> {
        let config = self.config.read();
        let mut out = Vec::with_capacity(fields.len());
        for (i, (name, q)) in fields.iter().enumerate() {
            if fields[..i].iter().any(|(other, _)| other == name) {
                return Err(Error::invalid(format!("vector field '{name}' is queried twice")));
            }
            let fc = config.vector_field_for(name, q.len(), || format!("query vector for field '{name}'"))?;
            out.push((name.clone(), prepare_vectors(q, fc.dimension, fc.metric)?));
        }
        Ok(out)
    }
}

/// One field's candidates in a hybrid search: its metric and (record row, relevance) best
/// first.
pub(super) type FieldList = (Metric, Vec<(u32, f32)>);

impl State {
    /// The records `filter` passes (None: no filter, every record): what a field's search
    /// accepts, its rows being records' through the field's row map.
    fn records_passing(&self, filter: Option<&Filter>) -> Option<RoaringBitmap> {
        filter.map(|f| self.matching_set(f))
    }

    /// Each field query's `k` best records passing `filter`, as a hybrid search fuses them:
    /// the field's metric and (record row, relevance: higher is better) best first.
    pub(super) fn field_lists(
        &self,
        queries: &[(String, Vec<f32>)],
        k: usize,
        params: SearchParams,
        filter: Option<&Filter>,
    ) -> Result<Vec<FieldList>> {
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let allowed = self.records_passing(filter);
        queries
            .iter()
            .map(|(name, q)| {
                let field = self.present_field(name)?;
                let breadth = params.breadth(field.space.index.active());
                let planned = field.plan(allowed.as_ref(), k, field.space.breadth(SearchParams { k, ..params }));
                let found = field.nearest(q, k, breadth, &planned).into_iter().filter_map(|n| {
                    Some((field.owner(n.row)?, relevance(field.metric, field.metric.score(n.distance))))
                });
                Ok((field.metric, found.collect()))
            })
            .collect()
    }
}
