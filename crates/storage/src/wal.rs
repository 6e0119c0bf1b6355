//! The write-ahead log: the source of truth between checkpoints.
//!
//! Record layout: payload length (u32) | CRC32 of payload (u32) | payload. A write batch is
//! one record, appended with one `write` and (by default) one `fdatasync` before the batch is
//! acknowledged. Because only the last record can be in flight when a process dies, a bad
//! record that reaches the end of the file is a torn tail and is cut off on open; a bad
//! record with valid-looking data after it is corruption.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result, StorageError};

const RECORD_HEADER: usize = 8;

/// An append-only log file.
#[derive(Debug)]
pub struct Wal {
    file: File,
    path: PathBuf,
    len: u64,
    sync: bool,
}

impl Wal {
    /// Opens (creating if absent) the log at `path` and returns it with the payloads of every
    /// intact record, oldest first. A torn tail is truncated away.
    /// `sync`: fdatasync after every append (the durable default).
    pub fn open(path: &Path, sync: bool) -> Result<(Wal, Vec<Vec<u8>>)> {
        let mut file = OpenOptions::new().create(true).truncate(false).read(true).write(true).open(path).at(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).at(path)?;
        let (records, valid_len) = parse(&bytes, path)?;
        if valid_len < bytes.len() {
            file.set_len(valid_len as u64).at(path)?;
            file.sync_all().at(path)?;
        }
        file.seek(SeekFrom::End(0)).at(path)?;
        Ok((Wal { file, path: path.to_path_buf(), len: valid_len as u64, sync }, records))
    }

    /// Appends one record; durable on return when the log was opened with `sync`.
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        let mut rec = Vec::with_capacity(RECORD_HEADER + payload.len());
        rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        rec.extend_from_slice(payload);
        if let Err(e) = self.file.write_all(&rec) {
            // Leave no partial record behind for the next append to follow.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(e).at(&self.path);
        }
        if self.sync {
            self.file.sync_data().at(&self.path)?;
        }
        self.len += rec.len() as u64;
        Ok(())
    }

    /// Empties the log (after a checkpoint made its records redundant).
    pub fn reset(&mut self) -> Result<()> {
        self.file.set_len(0).at(&self.path)?;
        self.file.seek(SeekFrom::Start(0)).at(&self.path)?;
        self.file.sync_all().at(&self.path)?;
        self.len = 0;
        Ok(())
    }

    /// Bytes in the log.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Splits `bytes` into record payloads; returns them and the length of the intact prefix.
fn parse(bytes: &[u8], path: &Path) -> Result<(Vec<Vec<u8>>, usize)> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while bytes.len() - pos >= RECORD_HEADER {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes"));
        let end = pos + RECORD_HEADER + len;
        if len == 0 || end > bytes.len() {
            break; // torn: header or payload incomplete (or zero-filled space)
        }
        let payload = &bytes[pos + RECORD_HEADER..end];
        if crc32fast::hash(payload) != crc {
            if end == bytes.len() {
                break; // torn last record
            }
            return Err(StorageError::Corrupted {
                path: path.to_path_buf(),
                reason: format!("record at byte {pos} fails its checksum and is followed by more data"),
            });
        }
        records.push(payload.to_vec());
        pos = end;
    }
    Ok((records, pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        {
            let (mut wal, recs) = Wal::open(&p, true).unwrap();
            assert!(recs.is_empty());
            wal.append(b"one").unwrap();
            wal.append(b"two").unwrap();
        }
        // Simulate a crash mid-append: half a record at the end.
        let mut bytes = fs::read(&p).unwrap();
        let good_len = bytes.len();
        bytes.extend_from_slice(&[9, 0, 0, 0, 1, 2]);
        fs::write(&p, &bytes).unwrap();
        let (mut wal, recs) = Wal::open(&p, true).unwrap();
        assert_eq!(recs, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(fs::metadata(&p).unwrap().len(), good_len as u64);
        wal.append(b"three").unwrap();
        drop(wal);
        assert_eq!(Wal::open(&p, true).unwrap().1.len(), 3);
    }

    #[test]
    fn damage_before_the_tail_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        {
            let (mut wal, _) = Wal::open(&p, false).unwrap();
            wal.append(b"first record").unwrap();
            wal.append(b"second record").unwrap();
        }
        let mut bytes = fs::read(&p).unwrap();
        bytes[RECORD_HEADER + 2] ^= 0x55;
        fs::write(&p, &bytes).unwrap();
        let err = Wal::open(&p, false).unwrap_err();
        assert!(matches!(err, StorageError::Corrupted { .. }), "{err}");
        assert!(err.to_string().contains("wal.log"));
    }

    #[test]
    fn reset_empties_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        let (mut wal, _) = Wal::open(&p, true).unwrap();
        wal.append(b"x").unwrap();
        wal.reset().unwrap();
        assert!(wal.is_empty());
        wal.append(b"y").unwrap();
        drop(wal);
        assert_eq!(Wal::open(&p, true).unwrap().1, vec![b"y".to_vec()]);
    }
}
