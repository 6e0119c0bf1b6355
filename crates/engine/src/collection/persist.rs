//! A collection on disk, and how it survives crashes.
//!
//! ```text
//! <collection>/manifest     checksummed JSON: config, chunk shift, generation, rows, WAL position
//! <collection>/wal.log      ops logged since the last checkpoint
//! <collection>/vectors/     NNNNNN.vec chunk files, mapped (rows written in place)
//! <collection>/rows-<generation>.seg   ids, tombstones and metadata as of that checkpoint
//! ```
//!
//! Checkpoint: msync the vector chunks, write `rows-<g+1>.seg`, then the manifest naming
//! generation g+1 and the WAL sequence it covers (each atomically), then empty the WAL and
//! delete generation g. A crash at any point leaves a manifest whose files all exist.
//! Recovery: read the manifest, load its rows file, map the chunks, replay WAL ops with a
//! sequence above the manifest's. Vector rows written after the checkpoint may or may not
//! have reached the chunk files; replay rewrites every one of them.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU8;

use libravdb_core::FlatIndex;
use libravdb_storage::codec::{ByteReader, ByteWriter};
use libravdb_storage::{ChunkedVectors, StorageError, Wal, fsutil, segment};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use super::{Collection, OPEN, State, Writer};
use crate::config::{CollectionConfig, DbOptions};
use crate::error::{Error, Result};
use crate::ids::IdMap;
use crate::ops::Op;

/// On-disk format version written by this build (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST_MAGIC: &[u8; 8] = b"LVDBMANI";
const ROWS_MAGIC: &[u8; 8] = b"LVDBROWS";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    name: String,
    config: CollectionConfig,
    chunk_shift: u32,
    generation: u64,
    rows: u64,
    wal_seq: u64,
}

fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("manifest")
}

fn rows_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("rows-{generation}.seg"))
}

fn corrupted(path: PathBuf, reason: impl Into<String>) -> Error {
    Error::Storage(StorageError::Corrupted { path, reason: reason.into() })
}

fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let body = serde_json::to_vec_pretty(m).map_err(|e| Error::Internal(e.to_string()))?;
    segment::write(&manifest_path(dir), MANIFEST_MAGIC, FORMAT_VERSION, &body)?;
    Ok(())
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = manifest_path(dir);
    let (_, body) = segment::read(&path, MANIFEST_MAGIC, FORMAT_VERSION)?;
    serde_json::from_slice(&body).map_err(|e| corrupted(path, format!("unreadable manifest: {e}")))
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
        Collection {
            name,
            dir,
            index: FlatIndex::new(config.metric),
            config,
            options,
            state: RwLock::new(state),
            writer: Mutex::new(writer),
            status: AtomicU8::new(OPEN),
        }
    }

    /// Creates a new collection, in `dir` (which must not exist) or in memory.
    pub(crate) fn create(
        name: &str,
        dir: Option<PathBuf>,
        config: CollectionConfig,
        options: DbOptions,
    ) -> Result<Collection> {
        let chunk_shift = ChunkedVectors::shift_for(config.dimension);
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
                    generation: 0,
                    rows: 0,
                    wal_seq: 0,
                };
                write_manifest(&staging, &manifest)?;
                fs::rename(&staging, dir).map_err(|source| StorageError::Io { path: dir.clone(), source })?;
                fsutil::sync_dir(parent)?;
                Some(Wal::open(&dir.join("wal.log"), options.fsync)?.0)
            }
        };
        let vectors =
            ChunkedVectors::open(dir.as_ref().map(|d| d.join("vectors")).as_deref(), config.dimension, chunk_shift, 0)?;
        let state = State { vectors, ids: IdMap::default(), metadata: Vec::new() };
        let writer = Writer { wal, seq: 0, generation: 0, chunk_shift };
        Ok(Self::assemble(name.into(), dir, config, options, state, writer))
    }

    /// Opens an existing collection directory: loads the last checkpoint, replays the WAL.
    pub(crate) fn open(dir: PathBuf, options: DbOptions) -> Result<Collection> {
        let m = read_manifest(&dir)?;
        let dim = m.config.dimension;
        let (ids, metadata) =
            if m.generation == 0 { (IdMap::default(), Vec::new()) } else { load_rows(&dir, m.generation)? };
        if ids.rows() as u64 != m.rows {
            return Err(corrupted(
                rows_path(&dir, m.generation),
                format!("{} rows, manifest says {}", ids.rows(), m.rows),
            ));
        }
        let vectors = ChunkedVectors::open(Some(&dir.join("vectors")), dim, m.chunk_shift, ids.rows())?;
        let mut state = State { vectors, ids, metadata };
        remove_stale_files(&dir, m.generation);

        let wal_path = dir.join("wal.log");
        let (wal, records) = Wal::open(&wal_path, options.fsync)?;
        let mut seq = m.wal_seq;
        for payload in records {
            let (op_seq, op) = Op::decode(&payload, dim).map_err(|e| corrupted(wal_path.clone(), e.0))?;
            if op_seq <= m.wal_seq {
                continue; // already in the checkpoint (crash between manifest write and WAL reset)
            }
            if let Op::Put { ids, .. } = &op {
                state.vectors.reserve(state.ids.rows() + ids.len())?;
            }
            state.apply(&op, dim).map_err(|reason| corrupted(wal_path.clone(), format!("op {op_seq}: {reason}")))?;
            seq = op_seq;
        }
        let writer = Writer { wal: Some(wal), seq, generation: m.generation, chunk_shift: m.chunk_shift };
        Ok(Self::assemble(m.name, Some(dir), m.config, options, state, writer))
    }

    /// Writes a checkpoint and empties the WAL. The caller holds the writer lock.
    pub(super) fn checkpoint_locked(&self, w: &mut Writer) -> Result<()> {
        let (Some(dir), Some(wal)) = (&self.dir, &mut w.wal) else { return Ok(()) };
        if wal.is_empty() {
            return Ok(());
        }
        let generation = w.generation + 1;
        {
            // Readers go on; writers are held off by the writer lock our caller holds.
            let st = self.state.read();
            st.vectors.flush()?;
            segment::write(&rows_path(dir, generation), ROWS_MAGIC, FORMAT_VERSION, &encode_rows(&st))?;
            let manifest = Manifest {
                name: self.name.clone(),
                config: self.config.clone(),
                chunk_shift: w.chunk_shift,
                generation,
                rows: st.ids.rows() as u64,
                wal_seq: w.seq,
            };
            write_manifest(dir, &manifest)?;
        }
        wal.reset()?;
        let _ = fs::remove_file(rows_path(dir, w.generation));
        w.generation = generation;
        Ok(())
    }
}

/// Rows file body: row count (u64), then per row a live flag (u8) and, when live, the id
/// and the optional metadata JSON.
fn encode_rows(st: &State) -> Vec<u8> {
    let mut w = ByteWriter::with_capacity(st.ids.rows() * 32);
    w.u64(st.ids.rows() as u64);
    for row in 0..st.ids.rows() as u32 {
        if st.ids.is_live(row) {
            w.u8(1);
            w.str(st.ids.id(row));
            w.opt_str(st.metadata[row as usize].as_deref());
        } else {
            w.u8(0);
        }
    }
    w.buf
}

fn load_rows(dir: &Path, generation: u64) -> Result<(IdMap, Vec<Option<Box<str>>>)> {
    let path = rows_path(dir, generation);
    let (_, body) = segment::read(&path, ROWS_MAGIC, FORMAT_VERSION)?;
    let bad = |e: libravdb_storage::codec::DecodeError| corrupted(path.clone(), e.0);
    let mut r = ByteReader::new(&body);
    let rows = r.u64().map_err(bad)?;
    let mut ids = IdMap::default();
    let mut metadata = Vec::new();
    for _ in 0..rows {
        if r.u8().map_err(bad)? == 1 {
            let id = r.str().map_err(bad)?;
            if ids.contains(id) {
                return Err(corrupted(path.clone(), format!("id '{id}' appears twice")));
            }
            ids.push(id);
            metadata.push(r.opt_str().map_err(bad)?.map(Box::from));
        } else {
            ids.push_tombstone();
            metadata.push(None);
        }
    }
    Ok((ids, metadata))
}

/// Deletes rows files of other generations and temp files left by an interrupted checkpoint.
fn remove_stale_files(dir: &Path, generation: u64) {
    let keep = format!("rows-{generation}.seg");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if (name.starts_with("rows-") && name != keep) || name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}
