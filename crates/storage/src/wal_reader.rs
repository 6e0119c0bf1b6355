//! Reading a write-ahead log from a byte offset while another handle appends to it (the
//! change feed follows a writer this way, in its process or another).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result, StorageError};
use crate::wal::{MAGIC, MAX_RECORD_BYTES, RECORD_HEADER, u32_at};

/// A reader of a log from a byte offset, for a process that follows a log another handle
/// appends to (the change feed). In a `live` log a record cut short at the end is one still
/// being appended: the read stops before it. An archived log is complete: anything that
/// fails a checksum is `Corrupted`.
#[derive(Debug)]
pub struct WalReader {
    file: File,
    path: PathBuf,
    live: bool,
}

/// Where the first record of a log starts.
pub const FIRST_RECORD: u64 = MAGIC.len() as u64;

impl WalReader {
    /// Opens the log at `path`; `None` when it does not exist.
    pub fn open(path: &Path, live: bool) -> Result<Option<WalReader>> {
        match File::open(path) {
            Ok(file) => Ok(Some(WalReader { file, path: path.to_path_buf(), live })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).at(path),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first `n` bytes (or fewer, if it is shorter) of the log's first record, its header
    /// checked but not its payload; `None` when the log has no whole header yet.
    pub fn first_record_prefix(&mut self, n: usize) -> Result<Option<Vec<u8>>> {
        let mut header = [0u8; RECORD_HEADER];
        if self.file.read_exact_at(&mut header, FIRST_RECORD).is_err()
            || crc32fast::hash(&header[..8]) != u32_at(&header, 8)
        {
            return Ok(None);
        }
        let mut prefix = vec![0u8; n.min(u32_at(&header, 0) as usize)];
        match self.file.read_exact_at(&mut prefix, FIRST_RECORD + RECORD_HEADER as u64) {
            Ok(()) => Ok(Some(prefix)),
            Err(_) => Ok(None),
        }
    }

    /// Reads whole records from byte `offset` (a record boundary, [`FIRST_RECORD`] for the
    /// first) until about `max_bytes` are read (always at least one record when one is
    /// there). Returns their payloads and the offset after the last.
    pub fn read_from(&mut self, offset: u64, max_bytes: usize) -> Result<(Vec<Vec<u8>>, u64)> {
        let size = self.file.metadata().at(&self.path)?.len();
        let corrupted = |pos: u64, what: &str| StorageError::Corrupted {
            path: self.path.clone(),
            reason: format!("record at byte {pos}: {what}"),
        };
        let mut out = Vec::new();
        let mut pos = offset.max(FIRST_RECORD);
        let mut read = 0usize;
        if offset < FIRST_RECORD {
            let mut magic = [0u8; MAGIC.len()];
            match self.file.read_exact_at(&mut magic, 0) {
                Ok(()) if &magic == MAGIC => {}
                Ok(()) => return Err(corrupted(0, "the file does not start with the log's magic number")),
                Err(_) if self.live => return Ok((out, offset)),
                Err(_) => return Err(corrupted(0, "the file is shorter than its magic number")),
            }
        }
        while pos < size && (out.is_empty() || read < max_bytes) {
            let mut header = [0u8; RECORD_HEADER];
            if pos + RECORD_HEADER as u64 > size {
                if self.live {
                    break;
                }
                return Err(corrupted(pos, "a header cut short"));
            }
            self.file.read_exact_at(&mut header, pos).at(&self.path)?;
            if crc32fast::hash(&header[..8]) != u32_at(&header, 8) {
                if self.live {
                    break; // being written, or damage the writer's own open reports
                }
                return Err(corrupted(pos, "its header fails its checksum"));
            }
            let len = u32_at(&header, 0) as usize;
            if len == 0 || len > MAX_RECORD_BYTES {
                return Err(corrupted(pos, &format!("its header claims {len} payload bytes")));
            }
            let end = pos + (RECORD_HEADER + len) as u64;
            if end > size {
                if self.live {
                    break;
                }
                return Err(corrupted(pos, "its payload is cut short"));
            }
            let mut payload = vec![0u8; len];
            self.file.read_exact_at(&mut payload, pos + RECORD_HEADER as u64).at(&self.path)?;
            if crc32fast::hash(&payload) != u32_at(&header, 4) {
                if self.live && end == size {
                    break;
                }
                return Err(corrupted(pos, "its payload fails its checksum"));
            }
            read += len;
            out.push(payload);
            pos = end;
        }
        Ok((out, pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::{Wal, frame};
    use std::fs::{self, OpenOptions};
    use std::io::Write;

    #[test]
    fn a_rotated_log_is_read_whole_and_the_new_one_follows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal.log");
        let archive = dir.path().join("old.log");
        let (mut wal, _) = Wal::open(&p, true, false).unwrap();
        wal.append(b"one").unwrap();
        wal.append(b"two").unwrap();
        wal.rotate(&archive).unwrap();
        assert!(wal.is_empty());
        wal.append(b"three").unwrap();
        let mut old = WalReader::open(&archive, false).unwrap().unwrap();
        let (recs, end) = old.read_from(0, 1).unwrap();
        assert_eq!(recs, vec![b"one".to_vec()], "stops near max_bytes");
        let (recs, end) = old.read_from(end, 1 << 20).unwrap();
        assert_eq!(recs, vec![b"two".to_vec()]);
        assert_eq!(end, fs::metadata(&archive).unwrap().len());
        let mut live = WalReader::open(&p, true).unwrap().unwrap();
        let (recs, end) = live.read_from(FIRST_RECORD, 1 << 20).unwrap();
        assert_eq!(recs.len(), 1);
        // A record being appended (cut short) ends a live read without error.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&frame(b"four")[..7]).unwrap();
        assert_eq!(live.read_from(end, 1 << 20).unwrap(), (Vec::new(), end));
        // In an archive the same is damage.
        let mut f = OpenOptions::new().append(true).open(&archive).unwrap();
        f.write_all(&frame(b"five")[..7]).unwrap();
        assert!(matches!(old.read_from(0, 1 << 20), Err(StorageError::Corrupted { .. })));
    }
}
