//! Write batches: validate every item first, then log one WAL record and apply it.
//!
//! With `atomic` (the default) any invalid item rejects the whole batch and nothing changes;
//! otherwise valid items are applied and the invalid ones reported per item. Cancellation is
//! honoured up to the moment the WAL record is written; after that the batch is committed.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::checks::{
    ItemProblem, check_id, check_metadata, check_named_blocks, check_named_update, check_vector, prepared,
};
use super::meta::Damaged;
use super::state::Written;
use super::{Collection, POISONED, State, Writer};
use crate::cancel::Cancel;
use crate::error::{Error, ErrorCode, Result};
use crate::ops::{ChangeInfo, MetadataChange, NamedVectors, Op, UpdateItem};
use crate::pool::pool;

/// Items of a logged batch applied per hold of the state's write lock (a few ms of memory
/// copies and index updates): readers see a large batch appear slice by slice, never wait
/// for the whole of it. A crash still never leaves it half applied (replay applies it whole).
const APPLY_SLICE: usize = 4096;

/// Options shared by every batch call.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// All items or none (default `true`).
    pub atomic: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self { atomic: true }
    }
}

/// Why one item of a batch was not applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemError {
    /// Position of the item in the batch.
    pub index: u32,
    pub id: String,
    pub code: ErrorCode,
    pub message: String,
}

/// Outcome of a batch call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchReport {
    pub succeeded: u32,
    pub failed: u32,
    pub errors: Vec<ItemError>,
    /// `false` when an atomic batch was rejected (nothing changed).
    pub applied: bool,
}

/// One record of an update call.
#[derive(Debug, Clone)]
pub struct UpdateInput {
    pub id: String,
    pub vector: Option<Vec<f32>>,
    pub metadata: MetadataChange,
    /// Named vector fields to set (`Some`) or remove (`None`); the others are kept.
    pub named: Vec<(String, Option<Vec<f32>>)>,
}

/// Collects per-item problems and the indexes of the items that passed.
struct Triage {
    errors: Vec<ItemError>,
    valid: Vec<usize>,
    /// Upserts ([`Presence::Any`]): per valid item, whether its id exists (the change feed
    /// tells an insert from an update by it). Empty for other batches.
    existed: Vec<bool>,
}

/// What a batch asks of each id's existence before it runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Presence {
    /// Inserts: the id must be new.
    New,
    /// Upserts: either.
    Any,
    /// Updates and deletes: the id must exist.
    Existing,
}

impl Triage {
    /// The one triage of every batch: each id well-formed, once in the batch, new or existing
    /// as `presence` asks, then the item's own checks (`item(i)`). Checks `cancel` every
    /// 4,096 items.
    fn run<'a>(
        st: &State,
        ids: impl ExactSizeIterator<Item = &'a str>,
        presence: Presence,
        cancel: &Cancel,
        item: impl Fn(usize) -> std::result::Result<(), ItemProblem>,
    ) -> Result<Self> {
        let mut triage = Self { errors: Vec::new(), valid: Vec::with_capacity(ids.len()), existed: Vec::new() };
        let mut seen = HashSet::with_capacity(ids.len());
        for (i, id) in ids.enumerate() {
            if i % 4096 == 0 {
                cancel.check()?;
            }
            let row = st.ids.get(id);
            let outcome = check_id(id).and_then(|()| {
                if !seen.insert(id) {
                    return Err((ErrorCode::DuplicateId, format!("id '{id}' appears more than once in this batch")));
                }
                match (presence, row) {
                    (Presence::New, Some(_)) => {
                        Err((ErrorCode::DuplicateId, format!("id '{id}' already exists; use upsert to replace it")))
                    }
                    (Presence::Existing, None) => Err((ErrorCode::NotFound, format!("id '{id}' does not exist"))),
                    // Replacing or deleting a record un-indexes its metadata: it must read back.
                    (_, Some(row)) if !st.metadata.intact(row) => Err((ErrorCode::Corrupted, Damaged::reason(id))),
                    _ => item(i),
                }
            });
            match outcome {
                Ok(()) => {
                    triage.valid.push(i);
                    if presence == Presence::Any {
                        triage.existed.push(row.is_some());
                    }
                }
                Err((code, message)) => {
                    triage.errors.push(ItemError { index: i as u32, id: id.to_owned(), code, message })
                }
            }
        }
        Ok(triage)
    }

    /// The report for a rejected atomic batch, or `None` when the valid items should go ahead.
    fn rejection(&mut self, opts: BatchOptions) -> Option<BatchReport> {
        if opts.atomic && !self.errors.is_empty() {
            let errors = std::mem::take(&mut self.errors);
            Some(BatchReport { succeeded: 0, failed: errors.len() as u32, errors, applied: false })
        } else {
            None
        }
    }

    fn report(self) -> BatchReport {
        BatchReport {
            succeeded: self.valid.len() as u32,
            failed: self.errors.len() as u32,
            errors: self.errors,
            applied: true,
        }
    }
}

impl Collection {
    /// Inserts (`upsert: false`: every id must be new) or upserts records. `vectors` has
    /// layout (ids.len(), dim); `metadata` holds one JSON object text (or `None`) per id.
    pub fn put_batch(
        &self,
        ids: Vec<String>,
        vectors: &[f32],
        metadata: Vec<Option<String>>,
        upsert: bool,
        opts: BatchOptions,
        cancel: &Cancel,
    ) -> Result<BatchReport> {
        self.put_batch_named(ids, vectors, metadata, Vec::new(), upsert, opts, cancel)
    }

    /// [`Collection::put_batch`] with named vector fields' vectors: per field, which records
    /// carry it and their vectors (not prepared). A field a record does not carry, it lacks
    /// (an upsert replaces the record whole).
    #[allow(clippy::too_many_arguments)]
    pub fn put_batch_named(
        &self,
        ids: Vec<String>,
        vectors: &[f32],
        metadata: Vec<Option<String>>,
        named: Vec<NamedVectors<'_>>,
        upsert: bool,
        opts: BatchOptions,
        cancel: &Cancel,
    ) -> Result<BatchReport> {
        let dim = self.dimension();
        let n = ids.len();
        if vectors.len() != n * dim {
            return Err(Error::invalid(format!(
                "{n} ids need {} vector values ({n} x dimension {dim}), got {}",
                n * dim,
                vectors.len()
            )));
        }
        if metadata.len() != n {
            return Err(Error::invalid(format!("{n} ids need {n} metadata entries, got {}", metadata.len())));
        }
        let fields = check_named_blocks(&self.config.read(), &named, n)?;
        self.check_writable()?;
        let metric = self.metric;
        let mut w = self.writer.lock();
        let mut triage = {
            let st = self.read_state()?;
            let schema = self.checked_fields(&st);
            let vector_checks: Vec<_> = pool().install(|| {
                vectors.par_chunks_exact(dim.max(1)).with_min_len(256).map(|v| check_vector(v, metric)).collect()
            });
            let named_checks: Vec<Vec<Option<std::result::Result<(), ItemProblem>>>> = named
                .iter()
                .zip(&fields)
                .map(|(block, field)| block.per_record().map(|v| v.map(|v| check_vector(v, field.metric))).collect())
                .collect();
            let presence = if upsert { Presence::Any } else { Presence::New };
            Triage::run(&st, ids.iter().map(String::as_str), presence, cancel, |i| {
                let default = if dim > 0 { vector_checks[i].clone() } else { Ok(()) };
                let named = named_checks.iter().find_map(|c| c[i].clone().filter(|r| r.is_err()));
                default.and(named.unwrap_or(Ok(()))).and_then(|()| check_metadata(metadata[i].as_deref(), &schema))
            })?
        };
        if let Some(rejected) = triage.rejection(opts) {
            return Ok(rejected);
        }
        let op_vectors: Cow<[f32]> = if triage.valid.len() == n && !metric.normalizes() {
            Cow::Borrowed(vectors)
        } else {
            Cow::Owned(triage.valid.iter().flat_map(|&i| prepared(&vectors[i * dim..(i + 1) * dim], metric)).collect())
        };
        let mut ids = ids;
        let mut metadata = metadata;
        let (op_ids, op_meta) = if triage.valid.len() == n {
            (std::mem::take(&mut ids), std::mem::take(&mut metadata))
        } else {
            let ids_v = triage.valid.iter().map(|&i| std::mem::take(&mut ids[i])).collect();
            let meta_v = triage.valid.iter().map(|&i| metadata[i].take()).collect();
            (ids_v, meta_v)
        };
        let op_named = named
            .iter()
            .zip(&fields)
            .map(|(block, field)| {
                let per_record: Vec<Option<&[f32]>> = block.per_record().collect();
                let kept = triage.valid.iter().map(|&i| per_record[i]);
                NamedVectors {
                    field: block.field.clone(),
                    dim: block.dim,
                    present: kept.clone().map(|v| v.is_some()).collect(),
                    vectors: Cow::Owned(kept.flatten().flat_map(|v| prepared(v, field.metric)).collect()),
                }
            })
            .collect();
        let replaced = std::mem::take(&mut triage.existed);
        let op = Op::Put { upsert, ids: op_ids, vectors: op_vectors, metadata: op_meta, named: op_named };
        self.commit(&mut w, op, replaced, cancel)?;
        Ok(triage.report())
    }

    /// Replaces the vector and/or metadata of existing records.
    pub fn update_batch(&self, items: Vec<UpdateInput>, opts: BatchOptions, cancel: &Cancel) -> Result<BatchReport> {
        self.check_writable()?;
        let dim = self.dimension();
        let metric = self.metric;
        let mut w = self.writer.lock();
        let config = self.config();
        let mut triage = {
            let st = self.read_state()?;
            let schema = self.checked_fields(&st);
            Triage::run(&st, items.iter().map(|i| i.id.as_str()), Presence::Existing, cancel, |i| {
                let item = &items[i];
                if let MetadataChange::Set(json) = &item.metadata {
                    check_metadata(Some(json), &schema)?;
                }
                check_named_update(&config, &item.named)?;
                match &item.vector {
                    Some(_) if dim == 0 => Err((
                        ErrorCode::InvalidArgument,
                        "this collection has named vector fields only: set them with vectors".into(),
                    )),
                    Some(v) if v.len() != dim => Err((
                        ErrorCode::DimensionMismatch,
                        format!("vector has dimension {}, the collection's dimension is {dim}", v.len()),
                    )),
                    Some(v) => check_vector(v, metric),
                    None => Ok(()),
                }
            })?
        };
        if let Some(rejected) = triage.rejection(opts) {
            return Ok(rejected);
        }
        let mut items = items;
        let op_items = triage
            .valid
            .iter()
            .map(|&i| {
                let item = &mut items[i];
                UpdateItem {
                    id: std::mem::take(&mut item.id),
                    vector: item.vector.as_deref().map(|v| prepared(v, metric)),
                    metadata: std::mem::replace(&mut item.metadata, MetadataChange::Keep),
                    named: std::mem::take(&mut item.named)
                        .into_iter()
                        .map(|(name, v)| {
                            let metric = config.vector_field(&name).map_or(metric, |(_, f)| f.metric);
                            let v = v.map(|v| prepared(&v, metric));
                            (name, v)
                        })
                        .collect(),
                }
            })
            .collect();
        self.commit(&mut w, Op::Update { items: op_items }, Vec::new(), cancel)?;
        Ok(triage.report())
    }

    /// Deletes records by id; an id that does not exist is an `ERR_NOT_FOUND` item error.
    pub fn delete_batch(&self, ids: Vec<String>, opts: BatchOptions, cancel: &Cancel) -> Result<BatchReport> {
        self.check_writable()?;
        let mut w = self.writer.lock();
        self.delete_locked(&mut w, ids, opts, cancel)
    }

    /// Deletes every record whose metadata passes `filter`, as one atomic batch (no other
    /// write can come between finding the records and deleting them).
    pub fn delete_where(&self, filter: &libravdb_filter::Filter, cancel: &Cancel) -> Result<BatchReport> {
        self.check_writable()?;
        let mut w = self.writer.lock();
        let ids: Vec<String> = {
            let st = self.read_state()?;
            st.matching_rows(filter).into_iter().map(|row| st.ids.id(row).to_owned()).collect()
        };
        self.delete_locked(&mut w, ids, BatchOptions::default(), cancel)
    }

    fn delete_locked(
        &self,
        w: &mut Writer,
        ids: Vec<String>,
        opts: BatchOptions,
        cancel: &Cancel,
    ) -> Result<BatchReport> {
        let mut triage =
            Triage::run(&*self.read_state()?, ids.iter().map(String::as_str), Presence::Existing, cancel, |_| Ok(()))?;
        if let Some(rejected) = triage.rejection(opts) {
            return Ok(rejected);
        }
        let op_ids = triage.valid.iter().map(|&i| ids[i].clone()).collect();
        self.commit(w, Op::Delete { ids: op_ids }, Vec::new(), cancel)?;
        Ok(triage.report())
    }

    /// Repairs the index around deleted records (HNSW: reconnects their neighbours, unlinks
    /// them; IVF-PQ: drops them from their lists) and checkpoints the result. Searches go on
    /// meanwhile. Returns the number of neighbour lists rewritten or list entries dropped (0
    /// for flat).
    pub fn optimize(&self, cancel: &Cancel) -> Result<usize> {
        self.check_writable()?;
        // A rebuild counts on deleted rows staying where they are until its switch.
        let _no_rebuild = self.rebuild_lock.lock();
        let mut w = self.writer.lock();
        cancel.check()?;
        let mut rewritten = 0;
        let mut changed = false;
        if self.read_state()?.needs_repair() {
            // The repair rewrites mapped level-0 lists in place (and then empties the deleted
            // rows' lists), and a crash can land anywhere in it. A checkpoint first makes the
            // replay of a crash start from the graph the repair started from: with writes
            // after the checkpoint, their rows' links would be dropped from the rewritten
            // lists at open (links past the checkpoint's rows are), leaving the replayed repair
            // nearly empty lists it has no reason to rewrite (a field with 90% of its rows
            // replaced answered 1 hit of 10 after a SIGKILL in optimize()). Then the repair
            // is logged, so that a crash before the checkpoint below replays it.
            self.force_checkpoint_locked(&mut w)?;
            self.log(&mut w, &Op::Repair, Vec::new())?;
            rewritten = self.read_state()?.repair();
            self.state.write().after_repair();
            changed = true;
        }
        // Metadata texts rewritten or deleted since the last compaction: copied out of the
        // record file while searches go on, then switched to at the checkpoint.
        let mut retired = None;
        if let Some(dir) = &self.dir {
            let compacted = {
                let st = self.read_state()?;
                st.metadata.compact(dir, w.generation + 1, |row| st.ids.is_live(row))?
            };
            if let Some(c) = compacted {
                retired = Some(self.state.write().metadata.install(c));
                changed = true;
            }
        }
        // The full-text postings drop entries at each delete; their spare capacity goes now.
        if let Some(f) = &mut self.state.write().filterable {
            f.text.compact();
        }
        // A training that failed is tried again now, whatever the growth since (it persists
        // its outcome itself).
        self.train_if_due(&mut w, true)?;
        if changed {
            self.force_checkpoint_locked(&mut w)?;
            if let Some(old) = retired {
                let _ = std::fs::remove_file(old);
            }
            self.account(&*self.read_state()?);
        }
        Ok(rewritten)
    }

    /// Trains a quantizer or the IVF-PQ index once enough vectors exist, or retries a
    /// failed training when it is due (`retry_now`: whatever the growth). Reads under the
    /// read lock, installs the codes under the write lock; the caller holds the writer lock.
    pub(super) fn train_if_due(&self, w: &mut Writer, retry_now: bool) -> Result<()> {
        let (outcome, live) = {
            let st = self.state.read();
            (st.space.quant.as_ref().and_then(|q| q.train(&st.space.vectors, &st.ids, retry_now)), st.ids.live_count())
        };
        if let Some(outcome) = outcome {
            if let Some(q) = self.state.write().space.quant.as_mut() {
                q.install(outcome, live);
            }
            // Persist the codes now (and let full precision leave memory).
            self.checkpoint_locked(w)?;
        }
        let outcome = {
            let st = self.state.read();
            st.space.index.ivf().and_then(|ivf| ivf.train(&st.space.vectors, &st.ids, self.metric, retry_now))
        };
        if let Some(outcome) = outcome {
            if let Some(ivf) = self.state.write().space.index.ivf_mut() {
                ivf.install_outcome(outcome, live);
            }
            self.checkpoint_locked(w)?;
        }
        // Each named field's quantizer and IVF-PQ index, on the rows of the field.
        let fields = self.state.read().fields.len();
        for i in 0..fields {
            let (outcome, live) = {
                let st = self.state.read();
                let field = &st.fields[i];
                (
                    field.space.quant.as_ref().and_then(|q| q.train(&field.space.vectors, field, retry_now)),
                    field.live_count(),
                )
            };
            if let Some(outcome) = outcome {
                if let Some(q) = self.state.write().fields[i].space.quant.as_mut() {
                    q.install(outcome, live);
                }
                self.checkpoint_locked(w)?;
            }
            let outcome = {
                let st = self.state.read();
                let field = &st.fields[i];
                field.space.index.ivf().and_then(|ivf| ivf.train(&field.space.vectors, field, field.metric, retry_now))
            };
            if let Some(outcome) = outcome {
                if let Some(ivf) = self.state.write().fields[i].space.index.ivf_mut() {
                    ivf.install_outcome(outcome, live);
                }
                self.checkpoint_locked(w)?;
            }
        }
        Ok(())
    }

    /// Appends `op` to the WAL as the next operation, its records as the next changes (in
    /// memory: only counts them). `replaced`: an upsert's triage of which ids existed (the
    /// writer lock has held other writes off since). Returns the op's change-feed position.
    pub(super) fn log(&self, w: &mut Writer, op: &Op, replaced: Vec<bool>) -> Result<ChangeInfo> {
        let first = w.changes + 1;
        let changes = ChangeInfo { first, replaced };
        if let Some(wal) = &mut w.wal {
            let record = op.encode(w.seq + 1, &changes);
            // The encoded op and its framed copy in the WAL.
            self.write_buffers.store(2 * record.len() as u64, Ordering::Release);
            let logged = wal.append(&record);
            self.write_buffers.store(0, Ordering::Release);
            logged?;
            if op.len() > 0 {
                w.wal_first_change.get_or_insert(first);
            }
        }
        w.seq += 1;
        w.changes += op.len() as u64;
        self.committed_changes.store(w.changes, Ordering::Release);
        Ok(changes)
    }

    /// Logs `op` (see [`Collection::log`] for `replaced`) and applies it; checkpoints when the
    /// WAL has grown past the threshold.
    fn commit(&self, w: &mut Writer, op: Op, replaced: Vec<bool>, cancel: &Cancel) -> Result<()> {
        if op.len() == 0 {
            return Ok(());
        }
        cancel.check()?;
        {
            // Map the chunks new rows need now, so that applying after the WAL write does no I/O.
            let mut st = self.state.write();
            self.admit(&mut st, &op)?;
            st.reserve_for(&op)?;
            st.metadata.reserve(op.metadata_bytes())?;
        }
        let changes = self.log(w, &op, replaced)?;
        let mut written = Written::default();
        for start in (0..op.len()).step_by(APPLY_SLICE) {
            let items = start..(start + APPLY_SLICE).min(op.len());
            let mut st = self.state.write();
            // What a snapshot taken between two slices is consistent at.
            st.seq = changes.first + items.end as u64 - 1;
            match st.apply_items(&op, items, self.dimension()) {
                Ok(rows) => written.extend(rows),
                Err(reason) => {
                    self.status.store(POISONED, Ordering::Release);
                    return Err(Error::Internal(format!("applying a logged write failed: {reason}")));
                }
            }
        }
        // Graph linking is the slow part: it holds only the read lock, so searches go on.
        self.state.read().link(&written);
        self.train_if_due(w, false)?;
        let mmap = self.config.read().mmap;
        self.state.read().release_full_precision(mmap, self.memory_bounded())?;
        // A backup copying this collection holds checkpoints off (the WAL grows meanwhile): one
        // would replace the files it has linked.
        let backing_up = self.backups.load(Ordering::Acquire) > 0;
        if !backing_up && w.wal.as_ref().is_some_and(|wal| wal.len() >= self.options.checkpoint_wal_bytes) {
            self.checkpoint_locked(w)?;
        }
        self.account(&self.state.read());
        let transient = op.metadata_bytes() as usize + op.len() * (self.dimension() * 4 + 32);
        drop(op);
        crate::alloc::trim_after(transient);
        self.maybe_rebuild();
        self.maybe_retune();
        Ok(())
    }
}
