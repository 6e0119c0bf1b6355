//! The change feed: every committed record write in commit order, read back from the logs.
//!
//! Each record an op writes has a sequence number (`ops.rs`: the op logs the first, its records
//! take the next ones). The WAL is the newest part of the feed; a checkpoint, instead of
//! emptying the WAL, moves it to `changes/<first change>.log` (a rename) and starts a new one,
//! and those archives are kept for `changeRetention` (bytes or age, whichever runs out first).
//! So the feed costs no extra write: it is the log the writer keeps anyway, kept longer.
//!
//! A reader needs no lock and no handle on the writer: it reads the files, so a read-only
//! handle in another process follows the writer as well as the writer's own process does. A
//! [`ChangeCursor`] remembers the file and offset it stopped at; when the file it read is
//! archived under it, the archive is the same file by another name (the name is the first
//! change it holds), and when that is gone too the cursor looks its position up by sequence
//! number again, which fails with `ERR_CHANGES_EXPIRED` if retention has deleted it.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use libravdb_storage::{FIRST_RECORD, IoContext, Wal, WalReader};

use super::Collection;
use super::format::{CHANGES_DIR, VerifyReport, WAL_FILE};
use crate::config::ChangeRetention;
use crate::error::{Error, Result};
use crate::ops::{Logged, MetadataChange, Op};

/// What a change did to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Update,
    Delete,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "insert",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
        }
    }
}

/// One committed write of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: u64,
    pub kind: ChangeKind,
    pub id: String,
    /// The record's vector after the change (as stored: normalised for cosine); `None` for a
    /// delete and for an update that kept the vector.
    pub vector: Option<Vec<f32>>,
    /// The record's metadata after the change: `Some(None)` when it has none (an insert
    /// without metadata, an update that cleared it); `None` for a delete and for an update
    /// that kept it.
    pub metadata: Option<Option<String>>,
    /// Named vector fields: an insert or a put lists every field the record has after it (the
    /// record is replaced whole); an update, the fields it set (`Some`) or removed (`None`).
    pub named: Vec<(String, Option<Vec<f32>>)>,
    /// The change carries the whole record (an insert, or an upsert that replaced one): what it
    /// does not list (a named field, metadata), the record does not have. Otherwise (an
    /// update) what it does not list was kept.
    pub whole: bool,
}

/// Bytes of log a read decodes at most (beyond the first record).
const READ_BYTES: usize = 4 << 20;

/// A position in the feed: the last change delivered, and where the next one is.
#[derive(Debug, Default)]
pub struct ChangeCursor {
    /// The last change delivered (the feed continues after it).
    pub after: u64,
    /// The log file (named by the first change it holds) and the byte offset to read next.
    at: Option<(u64, u64)>,
    /// Changes of records already read, not delivered yet (at most one read's worth).
    held: VecDeque<Change>,
}

/// A log file of the feed and the first change it holds.
struct LogFile {
    first: u64,
    reader: WalReader,
    /// The WAL (still appended to), not an archive.
    live: bool,
}

fn changes_dir(dir: &Path) -> PathBuf {
    dir.join(CHANGES_DIR)
}

fn archive_path(dir: &Path, first: u64) -> PathBuf {
    changes_dir(dir).join(format!("{first:020}.log"))
}

/// The archives in `dir`, oldest first: (first change, path).
fn archives(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let changes = changes_dir(dir);
    let entries = match fs::read_dir(&changes) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::from(libravdb_storage::StorageError::Io { path: changes, source: e })),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(first) = name.strip_suffix(".log").and_then(|n| n.parse::<u64>().ok()) {
            out.push((first, entry.path()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Bytes of the archived logs kept for the feed (what `stats().changeLogBytes` reports).
pub(super) fn archived_bytes(dir: &Path) -> u64 {
    archives(dir).map_or(0, |list| list.iter().filter_map(|(_, p)| fs::metadata(p).ok()).map(|m| m.len()).sum())
}

/// The first change a log's first record holds, read from its header alone; `None` for an
/// empty log or one whose first record predates the feed.
fn first_change(reader: &mut WalReader) -> Result<Option<u64>> {
    let Some(prefix) = reader.first_record_prefix(32)? else { return Ok(None) };
    Ok(Op::peek_changes(&prefix).ok().flatten().map(|(first, _)| first))
}

/// Retires the WAL at a checkpoint: moved to `changes/` when it holds changes and the
/// retention keeps any, else emptied; then the archives past the retention are deleted.
/// `first`: the first change the WAL holds (`None`: none).
pub(super) fn retire_wal(dir: &Path, wal: &mut Wal, first: Option<u64>, retention: ChangeRetention) -> Result<()> {
    match first {
        Some(first) if retention.bytes > 0 && retention.ms > 0 => {
            libravdb_storage::fsutil::create_dir_all(&changes_dir(dir))?;
            wal.rotate(&archive_path(dir, first))?;
        }
        _ => wal.reset()?,
    }
    prune(dir, retention)
}

/// Deletes the archives past `retention`: the oldest while they hold more than `bytes`, and
/// any older than `ms`.
pub(super) fn prune(dir: &Path, retention: ChangeRetention) -> Result<()> {
    let list = archives(dir)?;
    let sizes: Vec<(PathBuf, u64, Option<SystemTime>)> = list
        .into_iter()
        .filter_map(|(_, p)| {
            let m = fs::metadata(&p).ok()?;
            Some((p, m.len(), m.modified().ok()))
        })
        .collect();
    let mut total: u64 = sizes.iter().map(|s| s.1).sum();
    let oldest_kept = SystemTime::now().checked_sub(Duration::from_millis(retention.ms));
    for (path, len, modified) in sizes {
        let too_old = matches!((modified, oldest_kept), (Some(m), Some(limit)) if m < limit);
        if total <= retention.bytes && !too_old {
            break;
        }
        fs::remove_file(&path).at(&path)?;
        total -= len;
    }
    Ok(())
}

/// Checks every archived log's records against their checksums (`verify()`).
pub(super) fn check_archives(dir: &Path, report: &mut VerifyReport) {
    let Ok(list) = archives(dir) else { return };
    for (_, path) in list {
        let outcome = (|| {
            let Some(mut reader) = WalReader::open(&path, false)? else { return Ok(()) };
            let mut offset = 0;
            loop {
                let (records, end) = reader.read_from(offset, READ_BYTES)?;
                if records.is_empty() {
                    return Ok(());
                }
                offset = end;
            }
        })();
        report.file(path, outcome);
    }
}

/// The changes a logged op made, in order, with `seq > after`.
fn expand(logged: Logged, dim: usize, after: u64, out: &mut VecDeque<Change>) {
    let Some(info) = logged.changes else { return };
    let seq_of = |i: usize| info.first + i as u64;
    match logged.op {
        Op::Put { upsert, ids, vectors, metadata, named } => {
            let per_field: Vec<Vec<Option<&[f32]>>> = named.iter().map(|b| b.per_record().collect()).collect();
            for (i, (id, meta)) in ids.into_iter().zip(metadata).enumerate().filter(|(i, _)| seq_of(*i) > after) {
                let replaced = upsert && info.replaced.get(i).copied().unwrap_or(false);
                let fields =
                    named.iter().zip(&per_field).filter_map(|(b, v)| Some((b.field.clone(), Some(v[i]?.to_vec()))));
                out.push_back(Change {
                    seq: seq_of(i),
                    kind: if replaced { ChangeKind::Update } else { ChangeKind::Insert },
                    id,
                    vector: (dim > 0).then(|| vectors[i * dim..(i + 1) * dim].to_vec()),
                    metadata: Some(meta),
                    named: fields.collect(),
                    whole: true,
                });
            }
        }
        Op::Update { items } => {
            for (i, item) in items.into_iter().enumerate().filter(|(i, _)| seq_of(*i) > after) {
                out.push_back(Change {
                    seq: seq_of(i),
                    kind: ChangeKind::Update,
                    id: item.id,
                    vector: item.vector,
                    metadata: match item.metadata {
                        MetadataChange::Keep => None,
                        MetadataChange::Set(s) => Some(Some(s)),
                        MetadataChange::Clear => Some(None),
                    },
                    named: item.named,
                    whole: false,
                });
            }
        }
        Op::Delete { ids } => {
            for (i, id) in ids.into_iter().enumerate().filter(|(i, _)| seq_of(*i) > after) {
                out.push_back(Change {
                    seq: seq_of(i),
                    kind: ChangeKind::Delete,
                    id,
                    vector: None,
                    metadata: None,
                    named: Vec::new(),
                    whole: false,
                });
            }
        }
        Op::Repair => {}
    }
}

impl Collection {
    fn feed_dir(&self) -> Result<&Path> {
        self.dir.as_deref().ok_or_else(|| {
            Error::invalid("an in-memory collection keeps no change log: changes() needs a database directory")
        })
    }

    /// A cursor after change `since` (`None`: after the latest, so only new changes follow).
    /// `since` past the latest change is `ERR_INVALID_ARGUMENT`; one the collection no longer
    /// keeps is `ERR_CHANGES_EXPIRED` (from the first read).
    pub fn change_cursor(&self, since: Option<u64>) -> Result<ChangeCursor> {
        let dir = self.feed_dir()?;
        self.check_open()?;
        let latest = self.latest_change(dir)?;
        let after = match since {
            None => latest,
            Some(s) if s > latest => {
                return Err(Error::invalid(format!(
                    "since is {s}, past the latest change of collection '{}' ({latest})",
                    self.name
                )));
            }
            Some(s) => s,
        };
        Ok(ChangeCursor { after, at: None, held: VecDeque::new() })
    }

    /// A cursor before the oldest change the collection still keeps (after the latest when
    /// it keeps none).
    pub fn oldest_change_cursor(&self) -> Result<ChangeCursor> {
        let dir = self.feed_dir()?;
        self.check_open()?;
        let oldest = match archives(dir)?.first() {
            Some(&(first, _)) => Some(first),
            None => match open_wal(dir)? {
                Some(mut wal) => first_change(&mut wal)?,
                None => None,
            },
        };
        let after = match oldest {
            Some(first) => first - 1,
            None => self.latest_change(dir)?,
        };
        Ok(ChangeCursor { after, at: None, held: VecDeque::new() })
    }

    /// The newest change committed: the writer's count, or for a read-only handle the last
    /// one in the files (its own state may lag them until the next refresh).
    fn latest_change(&self, dir: &Path) -> Result<u64> {
        let applied = self.read_state()?.seq;
        if !self.options.read_only {
            return Ok(self.committed_changes.load(std::sync::atomic::Ordering::Acquire).max(applied));
        }
        let mut latest = applied;
        if let Some(mut log) = open_wal(dir)? {
            let mut offset = FIRST_RECORD;
            loop {
                let (records, end) = log.read_from(offset, READ_BYTES)?;
                if records.is_empty() {
                    break;
                }
                for payload in &records {
                    if let Ok(Some((first, n))) = Op::peek_changes(payload) {
                        latest = latest.max((first + n).saturating_sub(1));
                    }
                }
                offset = end;
            }
        }
        Ok(latest)
    }

    /// Up to `max` changes after `cursor.after`, oldest first; fewer (or none) when the feed
    /// has no more yet. Advances the cursor.
    pub fn read_changes(&self, cursor: &mut ChangeCursor, max: usize) -> Result<Vec<Change>> {
        let dir = self.feed_dir()?;
        self.check_open()?;
        let mut out = Vec::with_capacity(max.min(4096));
        while out.len() < max {
            if let Some(change) = cursor.held.pop_front() {
                cursor.after = change.seq;
                out.push(change);
                continue;
            }
            if !self.read_more(dir, cursor)? {
                break;
            }
        }
        Ok(out)
    }

    /// Reads the next records after the cursor's position into `cursor.held`; false when
    /// there are none yet.
    fn read_more(&self, dir: &Path, cursor: &mut ChangeCursor) -> Result<bool> {
        let target = cursor.after + 1;
        // Two tries: the file the cursor knows, then (if it ended) its successor.
        for _ in 0..2 {
            let (mut log, offset) = match cursor.at {
                Some((first, offset)) => match open_log(dir, first)? {
                    Some(log) => (log, offset),
                    None => match self.locate(dir, target)? {
                        Some(log) => (log, FIRST_RECORD),
                        None => return Ok(false),
                    },
                },
                None => match self.locate(dir, target)? {
                    Some(log) => (log, FIRST_RECORD),
                    None => return Ok(false),
                },
            };
            let (records, end) = log.reader.read_from(offset, READ_BYTES)?;
            cursor.at = Some((log.first, end));
            if records.is_empty() {
                if log.live {
                    return Ok(false);
                }
                // The end of an archive: the next file starts at `target`, if it exists yet.
                match open_log(dir, target)? {
                    Some(next) => cursor.at = Some((next.first, FIRST_RECORD)),
                    None => return Ok(false),
                }
                continue;
            }
            for payload in records {
                let logged = Op::decode(&payload, self.dim).map_err(|e| {
                    Error::from(libravdb_storage::StorageError::Corrupted {
                        path: log.reader.path().to_path_buf(),
                        reason: format!("an unreadable logged write: {}", e.0),
                    })
                })?;
                expand(logged, self.dim, cursor.after, &mut cursor.held);
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// The log holding change `target`: the newest file whose first change is at most
    /// `target`. `None` when no file holds it yet; `ERR_CHANGES_EXPIRED` when the files kept
    /// begin after it.
    fn locate(&self, dir: &Path, target: u64) -> Result<Option<LogFile>> {
        let mut candidates = archives(dir)?;
        let mut wal = open_wal(dir)?;
        let wal_first = match wal.as_mut() {
            Some(reader) => first_change(reader)?,
            None => None,
        };
        if let Some(first) = wal_first {
            candidates.push((first, dir.join(WAL_FILE)));
        }
        let oldest = candidates.first().map(|c| c.0);
        let expired = match oldest {
            Some(oldest) => oldest > target,
            // Nothing kept at all: expired if the change was committed.
            None => target <= self.read_state()?.seq,
        };
        if expired {
            return Err(Error::ChangesExpired(format!(
                "change {target} of collection '{}' is no longer kept (the oldest kept is {}): copy a new \
                 snapshot (scan() or export() report the seq they are consistent at) and follow from its seq, \
                 or keep changes longer (changeRetention)",
                self.name,
                oldest.map_or_else(|| "none".to_string(), |o| o.to_string()),
            )));
        }
        let Some(&(first, _)) = candidates.iter().rev().find(|c| c.0 <= target) else { return Ok(None) };
        if wal_first == Some(first) {
            return Ok(wal.map(|reader| LogFile { first, reader, live: true }));
        }
        open_log(dir, first)
    }
}

/// The log named by its first change: the archive if there is one, else the WAL if it
/// begins there.
fn open_log(dir: &Path, first: u64) -> Result<Option<LogFile>> {
    if let Some(reader) = WalReader::open(&archive_path(dir, first), false)? {
        return Ok(Some(LogFile { first, reader, live: false }));
    }
    let Some(mut reader) = open_wal(dir)? else { return Ok(None) };
    Ok((first_change(&mut reader)? == Some(first)).then_some(LogFile { first, reader, live: true }))
}

/// The collection's WAL, read as a live log (the writer may be appending).
fn open_wal(dir: &Path) -> Result<Option<WalReader>> {
    Ok(WalReader::open(&dir.join(WAL_FILE), true)?)
}
