//! A collection on disk, and how it survives crashes.
//!
//! The files are listed in `format.rs`.
//!
//! Checkpoint: msync the vector chunks, fdatasync the metadata record file, write `rows-<g+1>.seg`, then the manifest naming
//! generation g+1 and the WAL sequence it covers (each atomically), then empty the WAL and
//! delete generation g. A crash at any point leaves a manifest whose files all exist.
//! Recovery: read the manifest, load its rows file, map the chunks, replay WAL ops with a
//! sequence above the manifest's, then link the rows replay appended. Vector rows written
//! after the checkpoint may or may not have reached the chunk files; replay rewrites every
//! one of them. Level-0 lists of old nodes may hold links added after the checkpoint; they
//! are sanitised on load (links to rows the checkpoint does not know are dropped) and the
//! replayed inserts add them again.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use libravdb_storage::{ChunkedVectors, IoContext, Wal, fsutil, segment};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use super::account::loads_into_memory;
use super::changes;
use super::fields::{FieldSource, VectorField, field_dir};
use super::format::{
    FIELDS_DIR, FIRST_LINKS_DIR, FORMAT_VERSION, MANIFEST_MAGIC, RECORD_PREFIX, ROWS, SEGMENTS, WAL_FILE, corrupted,
    manifest_path,
};
use super::index::{IndexSource, links_shift};
use super::meta::MetadataStore;
use super::payload::Filterable;
use super::queries::QueryLog;
use super::rows::{self, Texts};
use super::space::VectorSpace;
use super::state::Written;
use super::{Collection, OPEN, State, Writer};
use crate::config::{CollectionConfig, DbOptions};
use crate::error::{Error, Result};
use crate::ids::IdMap;
use crate::ops::{Logged, Op};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Manifest {
    name: String,
    config: CollectionConfig,
    chunk_shift: u32,
    /// Chunk shift of the HNSW link table (0 without one).
    #[serde(default)]
    links_shift: u32,
    /// Directory of the HNSW link table: `links`, or `links-<n>` after a rebuild.
    #[serde(default = "first_links_dir")]
    links_dir: String,
    generation: u64,
    rows: u64,
    wal_seq: u64,
    /// The last change-feed sequence number the checkpoint covers (0 before format 5).
    #[serde(default)]
    change_seq: u64,
    /// CRC32 per vector chunk of the bytes its rows occupy at this checkpoint.
    #[serde(default)]
    vector_crcs: Vec<u32>,
    /// CRC32 per HNSW link chunk, likewise.
    #[serde(default)]
    link_crcs: Vec<u32>,
    /// Named vector fields, in the configuration's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldManifest>,
}

/// A named vector field's part of the manifest: its tables and rows at the checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct FieldManifest {
    pub name: String,
    chunk_shift: u32,
    links_shift: u32,
    rows: u64,
    pub vector_crcs: Vec<u32>,
    pub link_crcs: Vec<u32>,
    /// The field's level-0 link table directory (a `rebuild({ using })` moves it).
    #[serde(default = "first_links_dir")]
    pub links_dir: String,
}

impl FieldManifest {
    /// A new field's entry (no rows yet).
    pub(super) fn new(name: &str, config: &CollectionConfig) -> FieldManifest {
        FieldManifest {
            name: name.to_owned(),
            chunk_shift: ChunkedVectors::shift_for(config.dimension),
            links_shift: links_shift(config),
            links_dir: first_links_dir(),
            ..Default::default()
        }
    }

    /// The entry after a rebuild of the field switched to an index of `config` whose link
    /// table is `links_dir`.
    pub(super) fn rebuilt(&mut self, config: &CollectionConfig, links_dir: String) {
        self.links_shift = links_shift(config);
        self.links_dir = links_dir;
    }

    /// Opens the field this entry describes, from checkpoint `generation` of `dir`.
    pub(super) fn open(
        &self,
        config: &CollectionConfig,
        dir: Option<&Path>,
        generation: u64,
        read_only: bool,
        load: bool,
    ) -> Result<VectorField> {
        VectorField::open(
            &self.name,
            FieldSource {
                config,
                dir,
                generation,
                chunk_shift: self.chunk_shift,
                links_shift: self.links_shift,
                links_dir: &self.links_dir,
                rows: self.rows as usize,
                read_only,
                load,
            },
        )
    }
}

fn first_links_dir() -> String {
    FIRST_LINKS_DIR.into()
}

impl Manifest {
    /// The checkpoint generation it names.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }
}

fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let body = serde_json::to_vec_pretty(m).map_err(|e| Error::Internal(e.to_string()))?;
    segment::write(&manifest_path(dir), MANIFEST_MAGIC, FORMAT_VERSION, &body)?;
    Ok(())
}

/// The manifest and the format version it was written in.
pub(super) fn read_manifest(dir: &Path) -> Result<(Manifest, u32)> {
    let path = manifest_path(dir);
    let (version, body) = segment::read(&path, MANIFEST_MAGIC, FORMAT_VERSION)?;
    let m = serde_json::from_slice(&body).map_err(|e| corrupted(path, format!("unreadable manifest: {e}")))?;
    Ok((m, version))
}

impl Collection {
    fn assemble(
        name: String,
        dir: Option<PathBuf>,
        config: CollectionConfig,
        options: DbOptions,
        state: State,
        writer: Writer,
    ) -> Collection {
        let wal_bytes = writer.wal.as_ref().map_or_else(Default::default, Wal::len_gauge);
        let committed_changes = writer.changes.into();
        let recent = QueryLog::new(config.dimension, options.query_sample);
        let c = Collection {
            name,
            dir,
            dim: config.dimension,
            metric: config.metric,
            config: RwLock::new(config),
            options,
            state: RwLock::new(state),
            writer: Mutex::new(writer),
            rebuild_lock: Mutex::new(()),
            rebuild_progress: Default::default(),
            me: Default::default(),
            background: Default::default(),
            background_rebuild: Default::default(),
            rebuild_pending: Default::default(),
            recent,
            backups: Default::default(),
            tuning: Default::default(),
            index_error: Mutex::new(None),
            committed_changes,
            schema_version: Default::default(),
            wal_bytes,
            held: Default::default(),
            write_buffers: Default::default(),
            status: AtomicU8::new(OPEN),
        };
        {
            let st = c.state.read();
            c.account(&st);
            // A compressed collection re-ranks from its files from the start.
            // (One read of the configuration per statement: see `stats()`.)
            let mmap = c.config.read().mmap;
            let _ = st.release_full_precision(mmap, c.memory_bounded());
        }
        c
    }

    /// Creates a new collection, in `dir` (which must not exist) or in memory.
    pub(crate) fn create(
        name: &str,
        dir: Option<PathBuf>,
        config: CollectionConfig,
        options: DbOptions,
    ) -> Result<Collection> {
        let chunk_shift = ChunkedVectors::shift_for(config.dimension);
        let links_shift = links_shift(&config);
        let wal = match &dir {
            None => None,
            Some(dir) => {
                // Build the directory under a temporary name, then rename: a crash never
                // leaves a collection directory without a manifest.
                let parent = dir.parent().expect("collection dir has a parent");
                let staging = parent.join(format!(".creating-{name}"));
                let _ = fs::remove_dir_all(&staging);
                fsutil::create_dir_all(&staging)?;
                let manifest = Manifest {
                    name: name.into(),
                    config: config.clone(),
                    chunk_shift,
                    links_shift,
                    links_dir: first_links_dir(),
                    generation: 0,
                    rows: 0,
                    wal_seq: 0,
                    change_seq: 0,
                    vector_crcs: Vec::new(),
                    link_crcs: Vec::new(),
                    fields: new_fields(&config),
                };
                write_manifest(&staging, &manifest)?;
                drop(Wal::open(&staging.join(WAL_FILE), options.fsync, false)?);
                fs::rename(&staging, dir).at(dir)?;
                fsutil::sync_dir(parent)?;
                Some(Wal::open(&dir.join(WAL_FILE), options.fsync, false)?.0)
            }
        };
        let load = dir.is_some() && loads_into_memory(&config, &options, 0);
        let space = VectorSpace::open(
            IndexSource {
                config: &config,
                dir: dir.as_deref(),
                links_dir: dir.as_ref().map(|d| d.join(first_links_dir())),
                generation: 0,
                links_shift,
                rows: 0,
                read_only: false,
                load,
            },
            chunk_shift,
        )?;
        let metadata = match &dir {
            Some(dir) => MetadataStore::create(dir, 0, Vec::new(), options.metadata_cache_bytes)?,
            None => MetadataStore::heap(Vec::new()),
        };
        let filterable = (!config.schema.is_empty()).then(|| Filterable::build(&config, &IdMap::default(), &metadata));
        let fields = new_fields(&config)
            .iter()
            .zip(&config.vectors)
            .map(|(f, (_, fc))| f.open(fc, dir.as_deref(), 0, false, load))
            .collect::<Result<Vec<_>>>()?;
        let state = State { space, ids: IdMap::default(), metadata, filterable, fields, rebuilding: false, seq: 0 };
        let writer = Writer {
            wal,
            seq: 0,
            changes: 0,
            wal_first_change: None,
            generation: 0,
            chunk_shift,
            links_shift,
            links_dir: first_links_dir(),
            vector_crcs: Vec::new(),
            link_crcs: Vec::new(),
            fields: new_fields(&config),
        };
        Ok(Self::assemble(name.into(), dir, config, options, state, writer))
    }

    /// Opens an existing collection directory: loads the last checkpoint, replays the WAL.
    pub(crate) fn open(dir: PathBuf, options: DbOptions) -> Result<Collection> {
        let (m, version) = read_manifest(&dir)?;
        let dim = m.config.dimension;
        let read_only = options.read_only;
        let (ids, texts) = if m.generation == 0 {
            (IdMap::default(), Texts::Inline(Vec::new()))
        } else {
            rows::load(&dir, m.generation)?
        };
        let metadata = match texts {
            Texts::File { epoch, len, spans, checksummed } => {
                MetadataStore::open(&dir, epoch, len, spans, checksummed, read_only, options.metadata_cache_bytes)?
            }
            // A version-2 checkpoint (texts in its rows segment) seen by a reader: keep them.
            Texts::Inline(texts) if read_only => MetadataStore::heap(texts),
            // Into a record file of this generation (a crash before the next checkpoint
            // comes back here and writes it again).
            Texts::Inline(texts) => MetadataStore::create(&dir, m.generation, texts, options.metadata_cache_bytes)?,
        };
        if ids.rows() as u64 != m.rows {
            return Err(corrupted(
                ROWS.path(&dir, m.generation),
                format!("{} rows, manifest says {}", ids.rows(), m.rows),
            ));
        }
        let load = loads_into_memory(&m.config, &options, ids.rows());
        let space = VectorSpace::open(
            IndexSource {
                config: &m.config,
                dir: Some(&dir),
                links_dir: Some(dir.join(&m.links_dir)),
                generation: m.generation,
                links_shift: m.links_shift,
                rows: ids.rows(),
                read_only,
                load,
            },
            m.chunk_shift,
        )?;
        if m.fields.len() != m.config.vectors.len() {
            return Err(corrupted(manifest_path(&dir), "its vector fields and their tables disagree"));
        }
        let fields = m
            .fields
            .iter()
            .zip(&m.config.vectors)
            .map(|(f, (_, fc))| f.open(fc, Some(&dir), m.generation, read_only, load))
            .collect::<Result<Vec<_>>>()?;
        let mut state = State { space, ids, metadata, filterable: None, fields, rebuilding: false, seq: m.change_seq };
        if !m.config.schema.is_empty() {
            state.filterable = Some(Filterable::open(&dir, m.generation, &m.config, &state.ids, &state.metadata)?);
        }
        let wal_path = dir.join(WAL_FILE);
        let (wal, records) = if read_only {
            // Another process writes this log: read it, change nothing.
            (None, if wal_path.exists() { Wal::read_records(&wal_path)? } else { Vec::new() })
        } else {
            remove_stale_files(&dir, m.generation, &m.links_dir, state.metadata.path());
            for f in &m.fields {
                remove_stale_files(&field_dir(&dir, &f.name), m.generation, &f.links_dir, None);
            }
            // A field dropped (or one being added) when the process died.
            for entry in fs::read_dir(dir.join(FIELDS_DIR)).into_iter().flatten().flatten() {
                if !m.fields.iter().any(|f| *entry.file_name() == *f.name) {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
            Wal::finish_rotation(&wal_path)?;
            changes::prune(&dir, options.change_retention)?;
            if version >= 2 && !wal_path.exists() {
                // Created with the collection: without it, writes since the checkpoint are gone.
                return Err(corrupted(wal_path, "the write-ahead log is missing"));
            }
            let (wal, records) = Wal::open(&wal_path, options.fsync, version < 2)?;
            (Some(wal), records)
        };
        let wal_first_change = records.iter().find_map(|r| match Op::peek_changes(r) {
            Ok(Some((first, n))) if n > 0 => Some(first),
            _ => None,
        });
        let ops = check_sequence(&records, m.wal_seq, dim).map_err(|reason| corrupted(wal_path.clone(), reason))?;
        let (seq, written) = replay(&mut state, ops, m.wal_seq, dim, &wal_path)?;
        state.link(&written);
        if version < FORMAT_VERSION && !read_only {
            // The WAL was rewritten in this format by `Wal::open`; record that the collection
            // now is in it (segment bodies did not change between versions).
            write_manifest(&dir, &m)?;
        }
        let writer = Writer {
            wal,
            seq,
            changes: state.seq,
            wal_first_change,
            generation: m.generation,
            chunk_shift: m.chunk_shift,
            links_shift: m.links_shift,
            links_dir: m.links_dir.clone(),
            vector_crcs: m.vector_crcs,
            link_crcs: m.link_crcs,
            fields: m.fields,
        };
        let legacy_wal = version < 5 && writer.wal.as_ref().is_some_and(|w| !w.is_empty());
        let c = Self::assemble(m.name, Some(dir), m.config, options, state, writer);
        if legacy_wal {
            // Its records name no change numbers: checkpointed now, the WAL starts afresh and
            // every record in it from here on is in the change feed.
            c.checkpoint_locked(&mut c.writer.lock())?;
        }
        Ok(c)
    }

    /// [`Collection::open`] for a read-only handle, retried when the writer checkpoints
    /// meanwhile (its files change generation under the reader's feet; a failure that comes
    /// with an unchanged manifest is real).
    pub(crate) fn open_read_only(dir: PathBuf, options: DbOptions) -> Result<Collection> {
        let mut attempts = 0;
        loop {
            let before = read_manifest(&dir)?.0.generation;
            match Collection::open(dir.clone(), options.clone()) {
                Ok(c) => return Ok(c),
                Err(_) if attempts < 8 && read_manifest(&dir).map(|(m, _)| m.generation).ok() != Some(before) => {
                    attempts += 1
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Brings a read-only handle up to what the writer has made durable: the WAL records
    /// logged since the last refresh, or (after a checkpoint) the new checkpoint whole.
    pub(crate) fn refresh(&self) -> Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let mut w = self.writer.lock();
        self.check_open()?;
        let (m, _) = read_manifest(dir)?;
        if m.generation == w.generation {
            let wal_path = dir.join(WAL_FILE);
            let records = if wal_path.exists() { Wal::read_records(&wal_path)? } else { Vec::new() };
            // The WAL continues this handle's history unless a checkpoint came in between.
            if let Ok(ops) = check_sequence(&records, w.seq, self.dimension()) {
                let mut st = self.state.write();
                let (seq, written) = replay(&mut st, ops, w.seq, self.dimension(), &wal_path)?;
                st.link(&written);
                w.seq = seq;
                w.changes = st.seq;
                return Ok(());
            }
        }
        let fresh = Collection::open_read_only(dir.clone(), self.options.clone())?;
        std::mem::swap(&mut *w, &mut *fresh.writer.lock());
        std::mem::swap(&mut *self.state.write(), &mut *fresh.state.write());
        // The writer may have rebuilt or changed the schema: the configuration comes with
        // the checkpoint.
        let config = fresh.config();
        let fields = |c: &CollectionConfig| c.vectors.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        let before = self.config.read().clone();
        if config.schema_json() != before.schema_json() || fields(&config) != fields(&before) {
            self.schema_version.fetch_add(1, Ordering::AcqRel);
        }
        *self.config.write() = config;
        Ok(())
    }

    /// Writes a checkpoint and empties the WAL, if the WAL holds anything. The caller holds
    /// the writer lock.
    pub(super) fn checkpoint_locked(&self, w: &mut Writer) -> Result<()> {
        if w.wal.as_ref().is_some_and(|wal| !wal.is_empty()) { self.force_checkpoint_locked(w) } else { Ok(()) }
    }

    /// Writes a checkpoint even when the WAL is empty (after `optimize()` changed the graph).
    pub(super) fn force_checkpoint_locked(&self, w: &mut Writer) -> Result<()> {
        let (Some(dir), Some(wal)) = (&self.dir, &mut w.wal) else { return Ok(()) };
        let generation = w.generation + 1;
        {
            // Readers go on; writers are held off by the writer lock our caller holds.
            let st = self.state.read();
            st.space.vectors.flush()?;
            st.save(dir, generation)?;
            let vector_crcs = st.space.vectors.checksums(&w.vector_crcs);
            // Linking rewrites lists all over the graph: every link chunk is summed afresh.
            let link_crcs = st.space.index.links().map_or_else(Vec::new, |links| links.checksums(&[]));
            let fields = st
                .fields
                .iter()
                .zip(&w.fields)
                .map(|(f, last)| {
                    let (vector_crcs, link_crcs) = f.checksums(&last.vector_crcs);
                    FieldManifest { rows: f.rows() as u64, vector_crcs, link_crcs, ..last.clone() }
                })
                .collect();
            let manifest = Manifest {
                name: self.name.clone(),
                config: self.config(),
                chunk_shift: w.chunk_shift,
                links_shift: w.links_shift,
                links_dir: w.links_dir.clone(),
                generation,
                rows: st.ids.rows() as u64,
                wal_seq: w.seq,
                change_seq: w.changes,
                vector_crcs,
                link_crcs,
                fields,
            };
            write_manifest(dir, &manifest)?;
            st.space.vectors.mark_clean();
            for f in &st.fields {
                f.space.vectors.mark_clean();
            }
            w.vector_crcs = manifest.vector_crcs;
            w.link_crcs = manifest.link_crcs;
            w.fields = manifest.fields;
            let mmap = self.config.read().mmap;
            st.release_full_precision(mmap, self.memory_bounded())?;
            st.metadata.release_resident();
        }
        changes::retire_wal(dir, wal, w.wal_first_change.take(), self.options.change_retention)?;
        let fields: Vec<String> = w.fields.iter().map(|f| f.name.clone()).collect();
        for d in std::iter::once(dir.clone()).chain(fields.iter().map(|name| field_dir(dir, name))) {
            for kind in SEGMENTS {
                let _ = fs::remove_file(kind.path(&d, w.generation));
            }
        }
        w.generation = generation;
        Ok(())
    }
}

/// The manifest entries of `config`'s named vector fields, new.
fn new_fields(config: &CollectionConfig) -> Vec<FieldManifest> {
    config.vectors.iter().map(|(name, c)| FieldManifest::new(name, c)).collect()
}

/// Checks that the WAL records after `after` follow it without a gap; returns them decoded.
fn check_sequence(records: &[Vec<u8>], after: u64, dim: usize) -> std::result::Result<Vec<Logged>, String> {
    let mut seq = after;
    let mut ops = Vec::new();
    for payload in records {
        let logged = Op::decode(payload, dim).map_err(|e| e.0)?;
        if logged.seq <= after && ops.is_empty() {
            continue; // already in the state (a checkpoint covers it, or an earlier refresh)
        }
        if logged.seq != seq + 1 {
            return Err(format!("op {} follows op {seq}: logged writes are missing", logged.seq));
        }
        seq = logged.seq;
        ops.push(logged);
    }
    Ok(ops)
}

/// Applies ops checked by [`check_sequence`] (logged after op `after`) to `state`; returns
/// the last op applied and the rows the caller must link. `state.seq` follows the changes.
fn replay(state: &mut State, ops: Vec<Logged>, after: u64, dim: usize, wal_path: &Path) -> Result<(u64, Written)> {
    let mut seq = after;
    let mut written = Written::default();
    for Logged { seq: op_seq, changes, op } in ops {
        // Records before format 5 name no change numbers: they count on from the last.
        state.seq = changes.map_or(state.seq, |c| c.first - 1) + op.len() as u64;
        if let Op::Repair = op {
            // As `optimize()` did: on the graph as it stood, linked.
            state.link(&std::mem::take(&mut written));
            state.repair();
            state.after_repair();
            seq = op_seq;
            continue;
        }
        state.reserve_for(&op)?;
        let rows = state
            .apply(&op, dim)
            .map_err(|reason| corrupted(wal_path.to_path_buf(), format!("op {op_seq}: {reason}")))?;
        written.extend(rows);
        seq = op_seq;
    }
    Ok((seq, written))
}

/// Deletes rows/graph files of other generations and temp files left by an interrupted
/// checkpoint.
fn remove_stale_files(dir: &Path, generation: u64, links_dir: &str, records: Option<&Path>) {
    let keep = SEGMENTS.map(|kind| format!("{}{generation}.seg", kind.prefix));
    let keep_records = records.and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned());
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let generational = SEGMENTS.iter().any(|kind| name.starts_with(kind.prefix));
        // A record file an `optimize()` replaced, or one it was writing when the process died.
        let stale_records = name.starts_with(RECORD_PREFIX) && keep_records.as_deref() != Some(name.as_str());
        if (generational && !keep.contains(&name)) || stale_records || name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        } else if name.starts_with("links") && name != links_dir {
            // A link table a rebuild left behind: the one it replaced, or one it was
            // building when the process died before the switch.
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}
