//! The write-ahead log: the source of truth between checkpoints.
//!
//! File layout: the magic `LVDBWAL2`, then records. Record layout:
//! payload length (u32) | CRC32 of payload (u32) | CRC32 of the 8 bytes before it (u32) |
//! payload. A write batch is one record, appended with one `write` and (by default) one
//! `fdatasync` before the batch is acknowledged.
//!
//! The header checksum makes the length trustworthy (as LevelDB's and Qdrant's WAL headers
//! do), so damage can be told from a torn tail. Only the last, unacknowledged append can be
//! torn, and a torn append is one of: a header cut short by the end of the file, a verified
//! header whose payload runs past the end of the file, a verified header whose payload fails
//! its checksum and ends exactly at the end of the file, or zero bytes to the end of the
//! file (space the file system extended but never wrote). Only such a tail is cut off on
//! open; anything else that fails a checksum is `Corrupted`, and the file is left as it is.
//!
//! Files written before the header checksum (no magic; `len | crc | payload` records) are
//! read with the rules of that format and rewritten in this one before any append.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, Result, StorageError};
use crate::fsutil;

/// First bytes of every log in this format.
pub(crate) const MAGIC: &[u8; 8] = b"LVDBWAL2";
pub(crate) const RECORD_HEADER: usize = 12;
/// Header of the format before [`MAGIC`]: length and payload CRC only.
const LEGACY_RECORD_HEADER: usize = 8;
/// Largest payload a record may claim (a length past it is damage, never allocated).
pub const MAX_RECORD_BYTES: usize = 1 << 31;

/// An append-only log file.
#[derive(Debug)]
pub struct Wal {
    file: File,
    path: PathBuf,
    /// Bytes of records (the magic excluded), shared with readers of [`Wal::len_gauge`].
    len: Arc<AtomicU64>,
    sync: bool,
}

impl Wal {
    /// Opens (creating if absent) the log at `path` and returns it with the payloads of every
    /// intact record, oldest first. A torn tail is truncated away; damage anywhere else is
    /// [`StorageError::Corrupted`] and changes nothing on disk.
    /// `sync`: fdatasync after every append (the durable default). `accept_legacy`: a log
    /// without the magic may be one of the earlier format (the collection's manifest is
    /// older than this format); otherwise it is `Corrupted`.
    pub fn open(path: &Path, sync: bool, accept_legacy: bool) -> Result<(Wal, Vec<Vec<u8>>)> {
        let mut file = OpenOptions::new().create(true).truncate(false).read(true).write(true).open(path).at(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).at(path)?;
        let is_new = bytes.len() < MAGIC.len() && (MAGIC.starts_with(&bytes) || bytes.iter().all(|&b| b == 0));
        if is_new {
            // Empty, or a creation cut short before its magic was written.
            file.set_len(0).at(path)?;
            file.seek(SeekFrom::Start(0)).at(path)?;
            file.write_all(MAGIC).at(path)?;
            file.sync_all().at(path)?;
            return Ok((Wal { file, path: path.to_path_buf(), len: Arc::new(AtomicU64::new(0)), sync }, Vec::new()));
        }
        if !bytes.starts_with(MAGIC) {
            if !accept_legacy {
                return Err(StorageError::Corrupted {
                    path: path.to_path_buf(),
                    reason: "does not start with the write-ahead log's magic number".into(),
                });
            }
            let records = parse_legacy(&bytes, path)?;
            drop(file);
            return Self::rewrite(path, sync, records);
        }
        let (records, valid_len) = parse(&bytes[MAGIC.len()..], path)?;
        let valid_len = (MAGIC.len() + valid_len) as u64;
        if valid_len < bytes.len() as u64 {
            file.set_len(valid_len).at(path)?;
            file.sync_all().at(path)?;
        }
        file.seek(SeekFrom::End(0)).at(path)?;
        let len = Arc::new(AtomicU64::new(valid_len - MAGIC.len() as u64));
        Ok((Wal { file, path: path.to_path_buf(), len, sync }, records))
    }

    /// Reads the records of the log at `path` without changing the file (for `verify()` and
    /// for read-only handles while a writer appends): a torn tail, which `open` would cut, is
    /// left out, not reported.
    pub fn read_records(path: &Path) -> Result<Vec<Vec<u8>>> {
        let bytes = std::fs::read(path).at(path)?;
        match bytes.strip_prefix(MAGIC) {
            Some(records) => Ok(parse(records, path)?.0),
            None if bytes.len() < MAGIC.len() => Ok(Vec::new()),
            None => parse_legacy(&bytes, path),
        }
    }

    /// Replaces the log at `path` with one in this format holding `records` (atomically:
    /// temp file, fsync, rename), and opens it.
    fn rewrite(path: &Path, sync: bool, records: Vec<Vec<u8>>) -> Result<(Wal, Vec<Vec<u8>>)> {
        let mut bytes = MAGIC.to_vec();
        for r in &records {
            bytes.extend_from_slice(&frame(r));
        }
        fsutil::write_atomic(path, &bytes)?;
        let mut file = OpenOptions::new().read(true).write(true).open(path).at(path)?;
        file.seek(SeekFrom::End(0)).at(path)?;
        let len = Arc::new(AtomicU64::new((bytes.len() - MAGIC.len()) as u64));
        Ok((Wal { file, path: path.to_path_buf(), len, sync }, records))
    }

    /// Appends one record; durable on return when the log was opened with `sync`.
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        if payload.is_empty() || payload.len() > MAX_RECORD_BYTES {
            return Err(StorageError::Io {
                path: self.path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("a WAL record must hold 1 to {MAX_RECORD_BYTES} bytes, got {}", payload.len()),
                ),
            });
        }
        let rec = frame(payload);
        if let Err(e) = self.file.write_all(&rec) {
            // Leave no partial record behind for the next append to follow.
            let end = MAGIC.len() as u64 + self.len();
            let _ = self.file.set_len(end);
            let _ = self.file.seek(SeekFrom::Start(end));
            return Err(e).at(&self.path);
        }
        if self.sync {
            self.file.sync_data().at(&self.path)?;
        }
        self.len.fetch_add(rec.len() as u64, Ordering::Release);
        Ok(())
    }

    /// Moves the log's records to `archive` (a rename: nothing is copied) and continues with
    /// an empty log in its place. The empty log is made first as `<log>.next`, so a crash
    /// leaves either the old log in place or the archive beside a `.next` that
    /// [`Wal::finish_rotation`] (called before `open`) puts in place.
    pub fn rotate(&mut self, archive: &Path) -> Result<()> {
        let next = rotation_path(&self.path);
        fsutil::write_atomic(&next, MAGIC)?;
        fs::rename(&self.path, archive).at(archive)?;
        fs::rename(&next, &self.path).at(&self.path)?;
        if let Some(dir) = archive.parent() {
            fsutil::sync_dir(dir)?;
        }
        if let Some(dir) = self.path.parent() {
            fsutil::sync_dir(dir)?;
        }
        self.file = OpenOptions::new().read(true).write(true).open(&self.path).at(&self.path)?;
        self.file.seek(SeekFrom::End(0)).at(&self.path)?;
        self.len.store(0, Ordering::Release);
        Ok(())
    }

    /// Completes or undoes a [`Wal::rotate`] a crash interrupted: the new, empty log goes in
    /// place when the old one was already archived, else it is removed.
    pub fn finish_rotation(path: &Path) -> Result<()> {
        let next = rotation_path(path);
        if next.exists() {
            if path.exists() {
                fs::remove_file(&next).at(&next)?;
            } else {
                fs::rename(&next, path).at(path)?;
            }
        }
        Ok(())
    }

    /// Empties the log (after a checkpoint made its records redundant).
    pub fn reset(&mut self) -> Result<()> {
        self.file.set_len(MAGIC.len() as u64).at(&self.path)?;
        self.file.seek(SeekFrom::End(0)).at(&self.path)?;
        self.file.sync_all().at(&self.path)?;
        self.len.store(0, Ordering::Release);
        Ok(())
    }

    /// Bytes of records in the log.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A live view of [`Wal::len`] for readers that must not wait for the log's owner (a
    /// collection's `stats()` while a write holds the log).
    pub fn len_gauge(&self) -> Arc<AtomicU64> {
        self.len.clone()
    }
}

fn rotation_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

/// Header and payload of one record.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut rec = Vec::with_capacity(RECORD_HEADER + payload.len());
    rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    rec.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    let header_crc = crc32fast::hash(&rec[..8]);
    rec.extend_from_slice(&header_crc.to_le_bytes());
    rec.extend_from_slice(payload);
    rec
}

pub(crate) fn u32_at(bytes: &[u8], pos: usize) -> u32 {
    u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes"))
}

/// Splits the records after the magic into payloads; returns them and the length of the
/// intact prefix (shorter than `bytes` only when the rest is a torn tail).
fn parse(bytes: &[u8], path: &Path) -> Result<(Vec<Vec<u8>>, usize)> {
    let corrupted = |pos: usize, what: &str| StorageError::Corrupted {
        path: path.to_path_buf(),
        // Positions count from the start of the file, magic included.
        reason: format!("record at byte {}: {what}", pos + MAGIC.len()),
    };
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < RECORD_HEADER {
            break; // torn: the last append's header was cut short
        }
        if crc32fast::hash(&rest[..8]) != u32_at(rest, 8) {
            if rest.iter().all(|&b| b == 0) {
                break; // torn: space the file system extended but the append never filled
            }
            return Err(corrupted(pos, "its header fails its checksum and data follows it"));
        }
        let len = u32_at(rest, 0) as usize;
        if len == 0 || len > MAX_RECORD_BYTES {
            return Err(corrupted(pos, &format!("its header claims {len} payload bytes")));
        }
        let Some(payload) = rest.get(RECORD_HEADER..RECORD_HEADER + len) else {
            break; // torn: a verified length running past the end can only be the last append
        };
        if crc32fast::hash(payload) != u32_at(rest, 4) {
            if RECORD_HEADER + len == rest.len() {
                break; // torn: the last append's payload was not fully written
            }
            return Err(corrupted(pos, "its payload fails its checksum and more records follow"));
        }
        records.push(payload.to_vec());
        pos += RECORD_HEADER + len;
    }
    Ok((records, pos))
}

/// Reads a log of the format before the header checksum, with that format's rules: a record
/// cut short by the end of the file, or failing its checksum as the last record, is a torn
/// tail; a bad record with data after it is corruption.
fn parse_legacy(bytes: &[u8], path: &Path) -> Result<Vec<Vec<u8>>> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while bytes.len() - pos >= LEGACY_RECORD_HEADER {
        let len = u32_at(bytes, pos) as usize;
        let end = pos + LEGACY_RECORD_HEADER + len;
        if len == 0 || end > bytes.len() {
            break;
        }
        let payload = &bytes[pos + LEGACY_RECORD_HEADER..end];
        if crc32fast::hash(payload) != u32_at(bytes, pos + 4) {
            if end == bytes.len() {
                break;
            }
            return Err(StorageError::Corrupted {
                path: path.to_path_buf(),
                reason: format!("record at byte {pos} fails its checksum and is followed by more data"),
            });
        }
        records.push(payload.to_vec());
        pos = end;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn log_with(path: &Path, records: &[&[u8]]) -> Vec<u8> {
        let (mut wal, _) = Wal::open(path, false, false).unwrap();
        for r in records {
            wal.append(r).unwrap();
        }
        drop(wal);
        fs::read(path).unwrap()
    }

    fn expect_corrupted(path: &Path, bytes: &[u8]) {
        fs::write(path, bytes).unwrap();
        let err = Wal::open(path, false, false).unwrap_err();
        assert!(matches!(err, StorageError::Corrupted { .. }), "{err}");
        assert!(err.to_string().contains("wal.log"), "{err}");
        assert_eq!(fs::read(path).unwrap(), bytes, "a damaged log is left as it is");
    }

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        let mut bytes = log_with(&p, &[b"one", b"two"]);
        let good_len = bytes.len();
        // A crash mid-append: the next record's header and part of its payload.
        let torn = frame(b"three-but-torn");
        bytes.extend_from_slice(&torn[..RECORD_HEADER + 4]);
        fs::write(&p, &bytes).unwrap();
        let (mut wal, recs) = Wal::open(&p, true, false).unwrap();
        assert_eq!(recs, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(fs::metadata(&p).unwrap().len(), good_len as u64);
        wal.append(b"three").unwrap();
        drop(wal);
        assert_eq!(Wal::open(&p, true, false).unwrap().1.len(), 3);
    }

    #[test]
    fn every_kind_of_torn_tail_is_cut_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        let good = log_with(&p, &[b"first", b"second"]);
        let last = frame(b"the last append");
        let tails: Vec<Vec<u8>> = vec![
            last[..5].to_vec(),              // header cut short
            last[..last.len() - 1].to_vec(), // payload cut short
            vec![0; 40],                     // extended, never written
            {
                let mut t = last.clone(); // payload written out of order
                *t.last_mut().unwrap() ^= 1;
                t
            },
        ];
        for tail in tails {
            let mut bytes = good.clone();
            bytes.extend_from_slice(&tail);
            fs::write(&p, &bytes).unwrap();
            let (_, recs) = Wal::open(&p, false, false).unwrap();
            assert_eq!(recs, vec![b"first".to_vec(), b"second".to_vec()]);
            assert_eq!(fs::read(&p).unwrap(), good);
        }
    }

    #[test]
    fn a_flipped_length_bit_is_corruption_not_a_torn_tail() {
        // The reproduction of the silent-loss bug: one bit of the first record's length.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        let bytes = log_with(&p, &[&[7u8; 300], &[8u8; 300], &[9u8; 300]]);
        for bit in 0..32 {
            let mut b = bytes.clone();
            b[MAGIC.len() + bit / 8] ^= 1 << (bit % 8);
            expect_corrupted(&p, &b);
        }
        // The same flip in the last record: its length no longer matches its header.
        let last = bytes.len() - (RECORD_HEADER + 300);
        let mut b = bytes.clone();
        b[last + 1] ^= 1;
        expect_corrupted(&p, &b);
    }

    #[test]
    fn damage_before_the_tail_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        let bytes = log_with(&p, &[b"first record", b"second record"]);
        for at in MAGIC.len()..bytes.len() - b"second record".len() - RECORD_HEADER {
            let mut b = bytes.clone();
            b[at] ^= 0x55;
            expect_corrupted(&p, &b);
        }
        let mut b = bytes.clone();
        b[2] ^= 1; // the magic
        expect_corrupted(&p, &b);
    }

    #[test]
    fn a_huge_claimed_length_allocates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        let mut bytes = MAGIC.to_vec();
        let mut header = u32::MAX.to_le_bytes().to_vec();
        header.extend_from_slice(&0u32.to_le_bytes());
        let crc = crc32fast::hash(&header);
        header.extend_from_slice(&crc.to_le_bytes());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(b"more data");
        expect_corrupted(&p, &bytes);
    }

    #[test]
    fn a_legacy_log_is_read_and_rewritten_in_this_format() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        let mut legacy = Vec::new();
        for r in [&b"alpha"[..], b"beta"] {
            legacy.extend_from_slice(&(r.len() as u32).to_le_bytes());
            legacy.extend_from_slice(&crc32fast::hash(r).to_le_bytes());
            legacy.extend_from_slice(r);
        }
        fs::write(&p, &legacy).unwrap();
        let err = Wal::open(&p, false, false).unwrap_err();
        assert!(matches!(err, StorageError::Corrupted { .. }), "{err}");
        let (mut wal, recs) = Wal::open(&p, false, true).unwrap();
        assert_eq!(recs, vec![b"alpha".to_vec(), b"beta".to_vec()]);
        wal.append(b"gamma").unwrap();
        drop(wal);
        assert!(fs::read(&p).unwrap().starts_with(MAGIC));
        assert_eq!(Wal::open(&p, false, false).unwrap().1.len(), 3);
    }

    #[test]
    fn a_rotation_cut_short_is_finished_or_undone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        let next = rotation_path(&p);
        log_with(&p, &[b"kept"]);
        fs::write(&next, MAGIC).unwrap();
        Wal::finish_rotation(&p).unwrap();
        assert!(!next.exists());
        assert_eq!(Wal::open(&p, false, false).unwrap().1, vec![b"kept".to_vec()]);
        fs::rename(&p, dir.path().join("archived.log")).unwrap();
        fs::write(&next, MAGIC).unwrap();
        Wal::finish_rotation(&p).unwrap();
        assert!(Wal::open(&p, false, false).unwrap().1.is_empty());
    }

    #[test]
    fn reset_empties_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        let (mut wal, _) = Wal::open(&p, true, false).unwrap();
        wal.append(b"x").unwrap();
        wal.reset().unwrap();
        assert!(wal.is_empty());
        wal.append(b"y").unwrap();
        drop(wal);
        assert_eq!(Wal::open(&p, true, false).unwrap().1, vec![b"y".to_vec()]);
    }
}
