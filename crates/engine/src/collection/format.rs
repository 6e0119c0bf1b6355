//! The on-disk format of a collection: its version, each file kind's magic and name, and how
//! damage is reported. A leaf: it imports nothing of the collection, so every concern that
//! owns files (rows, metadata, payload, index, quantizer) and the checkpoint that orchestrates
//! them can name their files without importing one another.
//!
//! ```text
//! <collection>/manifest     checksummed JSON: config, chunk shift, generation, rows, WAL position
//! <collection>/wal.log      ops logged since the last checkpoint
//! <collection>/changes/     NNNN.log: logs checkpoints retired, kept for the change feed
//!                           (named by the sequence number of their first change)
//! <collection>/vectors/     NNNNNN.chunk files of vector rows, mapped (written in place)
//! <collection>/links/       HNSW only: NNNNNN.chunk files of level-0 neighbour lists, mapped
//! <collection>/rows-<generation>.seg   ids, tombstones and metadata spans as of that checkpoint
//! <collection>/metadata-<epoch>.rec    metadata JSON texts, appended (see meta.rs); a new
//!                                       epoch when `optimize()` compacts it
//! <collection>/graph-<generation>.seg  HNSW only: levels, entry point, upper-level lists
//! <collection>/quant-<generation>.seg  quantized only: training status, quantizer, codes
//! <collection>/payload-<generation>.seg with a schema: the payload indexes (bitmaps)
//! <collection>/text-<generation>.seg    with text fields: their inverted indexes (libravdb-text)
//! <collection>/ivf-<generation>.seg     IVF-PQ only: training status, centroids, codebooks, lists
//! <collection>/fields/<name>/          a named vector field (see fields.rs): vectors/, links/,
//!                                       graph-<generation>.seg, owners-<generation>.seg
//! ```

use std::path::{Path, PathBuf};

use libravdb_storage::{StorageError, segment};

use crate::error::{Error, Result};

/// On-disk format version written by this build (and the newest it reads).
/// - 1: the first format.
/// - 2: WAL records carry a header checksum and the log starts with a magic number; chunk
///   files grow with their rows instead of being created whole. Opening a version-1
///   collection rewrites its WAL and manifest in version 2 (segment bodies are unchanged).
/// - 3: metadata moves from the rows segment to an append-only record file; the rows segment
///   keeps a span per row. A version-2 rows segment is read as before and its texts copied to
///   a record file at open; the next checkpoint writes version 3.
/// - 4: each metadata span in the rows segment carries the CRC32 of its text, so the record
///   file is checksummed too. A version-3 rows segment is read without them: opening computes
///   them from the record file; the next checkpoint writes version 4.
/// - 5: WAL records carry the change-feed sequence number of their first record (and an
///   upsert which of its records replaced one); the manifest records the last one it covers;
///   checkpoints move the WAL to `changes/` instead of emptying it. Earlier WAL records are
///   replayed as before and are not in the feed.
pub const FORMAT_VERSION: u32 = 5;

/// A checkpoint's segment files: one per concern, named `<prefix><generation>.seg`, each
/// with its magic, written whole and checksummed by `libravdb_storage::segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentKind {
    pub prefix: &'static str,
    pub magic: &'static [u8; 8],
}

pub(crate) const ROWS: SegmentKind = SegmentKind { prefix: "rows-", magic: b"LVDBROWS" };
pub(crate) const GRAPH: SegmentKind = SegmentKind { prefix: "graph-", magic: b"LVDBHNSW" };
pub(crate) const QUANT: SegmentKind = SegmentKind { prefix: "quant-", magic: b"LVDBQUNT" };
pub(crate) const PAYLOAD: SegmentKind = SegmentKind { prefix: "payload-", magic: b"LVDBPAYL" };
pub(crate) const IVF: SegmentKind = SegmentKind { prefix: "ivf-", magic: b"LVDBIVFP" };
pub(crate) const TEXT: SegmentKind = SegmentKind { prefix: "text-", magic: b"LVDBTEXT" };
/// A named vector field's row map (in its directory, `fields/<name>/`).
pub(crate) const OWNERS: SegmentKind = SegmentKind { prefix: "owners-", magic: b"LVDBOWNR" };

/// Every segment kind a checkpoint may write (in the collection's directory or a field's).
pub(crate) const SEGMENTS: [SegmentKind; 7] = [ROWS, GRAPH, QUANT, PAYLOAD, IVF, TEXT, OWNERS];

impl SegmentKind {
    /// This kind's file of checkpoint `generation`.
    pub fn path(self, dir: &Path, generation: u64) -> PathBuf {
        dir.join(format!("{}{generation}.seg", self.prefix))
    }

    /// Writes `body` as this kind's file of `generation` (atomically: temp file, fsync, rename).
    pub fn write(self, dir: &Path, generation: u64, body: &[u8]) -> Result<()> {
        segment::write(&self.path(dir, generation), self.magic, FORMAT_VERSION, body)?;
        Ok(())
    }

    /// Reads this kind's file of `generation`, checked against its checksum: the format
    /// version it was written in and its body.
    pub fn read(self, dir: &Path, generation: u64) -> Result<(u32, Vec<u8>)> {
        Ok(segment::read(&self.path(dir, generation), self.magic, FORMAT_VERSION)?)
    }

    /// `verify()`'s check of this kind's file of `generation`.
    pub fn check(self, dir: &Path, generation: u64, report: &mut VerifyReport) {
        report.file(self.path(dir, generation), self.read(dir, generation).map(drop));
    }

    /// [`SegmentKind::check`] if the file exists (which segments a checkpoint wrote depends
    /// on the configuration it had).
    pub fn check_present(self, dir: &Path, generation: u64, report: &mut VerifyReport) {
        if self.path(dir, generation).exists() {
            self.check(dir, generation, report);
        }
    }
}

/// A concern of a collection that owns files (rows, payload indexes, the vector index,
/// quantized codes): it writes them at each checkpoint and reads them back for `verify()`.
/// Each loads itself through a constructor of its own (what it needs to load differs); the
/// checkpoint in `persist.rs` calls these without knowing the layouts.
pub(crate) trait Persistent {
    /// Makes what this concern holds durable as checkpoint `generation` in `dir`: its
    /// segment files written whole (temp file, fsync, rename), appended files synced.
    fn save(&self, dir: &Path, generation: u64) -> Result<()>;

    /// Reads this concern's files of checkpoint `generation` back, each against its
    /// checksum, and records every damaged one in `report`.
    fn check(&self, dir: &Path, generation: u64, report: &mut VerifyReport);
}

pub(crate) const MANIFEST_MAGIC: &[u8; 8] = b"LVDBMANI";
pub(crate) const WAL_FILE: &str = "wal.log";
/// Directory of the retired logs the change feed reads (see `changes.rs`).
pub(crate) const CHANGES_DIR: &str = "changes";
/// Metadata record files: `metadata-<epoch>.rec`.
pub(crate) const RECORD_PREFIX: &str = "metadata-";
/// Directory of the named vector fields' directories (`fields/<name>/`).
pub(crate) const FIELDS_DIR: &str = "fields";
/// The HNSW link table's first directory (`links-<n>` after rebuilds).
pub(crate) const FIRST_LINKS_DIR: &str = "links";

pub(crate) fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("manifest")
}

/// Where vector chunks live.
pub(crate) fn vectors_dir(dir: &Path) -> PathBuf {
    dir.join("vectors")
}

/// The metadata record file of `epoch`.
pub(crate) fn record_path(dir: &Path, epoch: u64) -> PathBuf {
    dir.join(format!("{RECORD_PREFIX}{epoch}.rec"))
}

/// `ERR_CORRUPTED` naming `path`.
pub(crate) fn corrupted(path: PathBuf, reason: impl Into<String>) -> Error {
    Error::Storage(StorageError::Corrupted { path, reason: reason.into() })
}

/// One damaged file found by `Collection::verify`.
#[derive(Debug, Clone, PartialEq)]
pub struct Damage {
    pub file: PathBuf,
    pub reason: String,
}

/// What `Collection::verify` read and found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyReport {
    /// Manifest, segments and WAL read whole and checked.
    pub files_checked: usize,
    /// Vector and link chunks whose bytes matched (or not) their checkpoint checksum.
    pub chunks_checked: usize,
    /// Chunks written since the last checkpoint (or from a build that kept no checksums):
    /// their files are checked against the next checkpoint's checksums.
    pub chunks_skipped: usize,
    pub damaged: Vec<Damage>,
}

impl VerifyReport {
    /// Counts one file read whole; records the damage `outcome` reports.
    pub(crate) fn file(&mut self, path: PathBuf, outcome: Result<()>) {
        self.files_checked += 1;
        if let Err(e) = outcome {
            let reason = match e {
                Error::Storage(StorageError::Corrupted { reason, .. }) => reason,
                other => other.to_string(),
            };
            self.damaged.push(Damage { file: path, reason });
        }
    }

    /// Counts a chunk table's check against its checkpoint checksums: `checked` of
    /// `occupied` chunks compared, `damaged` the files that differ.
    pub(crate) fn chunks(&mut self, occupied: usize, (checked, damaged): (usize, Vec<PathBuf>)) {
        self.chunks_checked += checked;
        self.chunks_skipped += occupied - checked;
        for file in damaged {
            self.damaged.push(Damage { file, reason: "chunk contents differ from the checkpoint's checksum".into() });
        }
    }
}
