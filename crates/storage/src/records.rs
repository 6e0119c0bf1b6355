//! An append-only file of variable-length records (metadata JSON), read through a map.
//!
//! Records are appended with `pwrite` at the end and read as slices of a shared read-only
//! mapping of the same file (the page cache keeps the two coherent). The mapping reserves
//! address space beyond the file's end so that appends rarely remap; when one does, it takes
//! `&mut self`, so no slice handed out earlier can outlive it. Only bytes below
//! [`RecordFile::len`], all written by this process or present when it opened the file, are
//! ever read: pages past the end of the file would raise SIGBUS.
//!
//! The file's length as of a checkpoint is recorded by its owner; [`RecordFile::open`] cuts
//! the file back to it, so records appended after the checkpoint (replayed from the WAL) are
//! written again rather than trusted. Space is allocated (`posix_fallocate`) by
//! [`RecordFile::reserve`] before a write is logged, so applying it cannot fail on a full disk.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memmap2::{Advice, Mmap, MmapOptions, UncheckedAdvice};

use crate::error::{IoContext, Result, StorageError};
use crate::fsutil::{resident_bytes_of, sync_dir};

/// Address space reserved for a new mapping, at least.
const MIN_MAP_BYTES: usize = 16 << 20;

#[derive(Debug)]
pub struct RecordFile {
    path: PathBuf,
    file: File,
    /// `None` until the first record (a zero-length mapping is not allowed).
    map: Option<Mmap>,
    /// Bytes of records.
    len: u64,
    /// Bytes allocated in the file (>= len).
    allocated: u64,
    read_only: bool,
}

impl RecordFile {
    /// Opens the file at `path` holding `len` bytes of records, creating it when `len` is 0,
    /// and cutting away bytes past `len` (appended after the last checkpoint). A read-only
    /// handle changes nothing and fails unless the file holds `len` bytes.
    pub fn open(path: &Path, len: u64, read_only: bool) -> Result<Self> {
        let file = if read_only {
            File::open(path).at(path)?
        } else {
            let created = !path.exists();
            let f = OpenOptions::new().create(true).truncate(false).read(true).write(true).open(path).at(path)?;
            if created && let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            f
        };
        let on_disk = file.metadata().at(path)?.len();
        if on_disk < len {
            return Err(StorageError::Corrupted {
                path: path.to_path_buf(),
                reason: format!("{on_disk} bytes; the checkpoint's records need {len}"),
            });
        }
        if !read_only && on_disk > len {
            file.set_len(len).at(path)?;
        }
        let mut f = Self { path: path.to_path_buf(), file, map: None, len, allocated: len, read_only };
        f.map_at_least(len as usize)?;
        Ok(f)
    }

    /// Bytes of records.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Maps (again) so that at least `need` bytes are addressable.
    fn map_at_least(&mut self, need: usize) -> Result<()> {
        if need == 0 || self.map.as_ref().is_some_and(|m| m.len() >= need) {
            return Ok(());
        }
        let bytes = need.next_power_of_two().max(MIN_MAP_BYTES);
        // SAFETY: the file is written only by this process (the directory lock) and only
        // appended to; no byte past `len`, which the file always covers, is ever read.
        let map = unsafe { MmapOptions::new().len(bytes).map(&self.file) }.at(&self.path)?;
        let _ = map.advise(Advice::Random);
        self.map = Some(map);
        Ok(())
    }

    /// Allocates file space for `extra` more bytes of records, so that the appends a logged
    /// write makes cannot fail on a full disk.
    pub fn reserve(&mut self, extra: u64) -> Result<()> {
        let want = self.len + extra;
        if self.read_only || want <= self.allocated {
            return Ok(());
        }
        let target = want.max(self.allocated + self.allocated / 8).next_multiple_of(4096);
        // SAFETY: plain FFI call on an open file descriptor.
        let rc = unsafe { libc::posix_fallocate(self.file.as_raw_fd(), 0, target as libc::off_t) };
        if rc != 0 {
            return Err(StorageError::Io { path: self.path.clone(), source: std::io::Error::from_raw_os_error(rc) });
        }
        self.allocated = target;
        Ok(())
    }

    /// Appends `bytes`; returns their offset.
    pub fn append(&mut self, bytes: &[u8]) -> Result<u64> {
        if self.read_only {
            return Err(StorageError::Io {
                path: self.path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "read-only record file"),
            });
        }
        let offset = self.len;
        self.file.write_all_at(bytes, offset).at(&self.path)?;
        self.len += bytes.len() as u64;
        self.allocated = self.allocated.max(self.len);
        self.map_at_least(self.len as usize)?;
        Ok(offset)
    }

    /// The `len` bytes at `offset`, or `None` when they lie past the records.
    pub fn get(&self, offset: u64, len: u32) -> Option<&[u8]> {
        let end = offset.checked_add(len as u64)?;
        if end > self.len {
            return None;
        }
        if len == 0 {
            return Some(&[]);
        }
        self.map.as_ref().map(|m| &m[offset as usize..end as usize])
    }

    /// Makes every appended record durable (fdatasync).
    pub fn flush(&self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        self.file.sync_data().at(&self.path)
    }

    /// Drops this process's resident pages of the mapping; the records stay in the file and
    /// the page cache, and are faulted back in when read.
    pub fn release_resident(&self) {
        if let Some(map) = &self.map {
            // SAFETY: a shared read-only file mapping: MADV_DONTNEED only unmaps its pages.
            let _ = unsafe { map.unchecked_advise(UncheckedAdvice::DontNeed) };
        }
    }

    /// Bytes of the file mapped into this process (address space, resident or not).
    pub fn mapped_bytes(&self) -> usize {
        self.len as usize
    }

    /// Bytes of the mapping resident in this process (Linux; 0 elsewhere).
    pub fn resident_bytes(&self) -> usize {
        self.map.as_ref().map_or(0, |m| resident_bytes_of(&[(m.as_ptr() as usize, m.len())]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_read_back_and_survive_a_reopen_cut_to_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.rec");
        let mut f = RecordFile::open(&path, 0, false).unwrap();
        f.reserve(11).unwrap();
        let a = f.append(b"hello").unwrap();
        let b = f.append(b" world").unwrap();
        assert_eq!((a, b), (0, 5));
        assert_eq!(f.get(b, 6), Some(&b" world"[..]));
        assert_eq!(f.get(b, 7), None, "past the records");
        f.flush().unwrap();
        let checkpoint = f.len();
        f.append(b"after the checkpoint").unwrap();
        drop(f);
        let f = RecordFile::open(&path, checkpoint, false).unwrap();
        assert_eq!(f.len(), checkpoint);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), checkpoint, "cut back to the checkpoint");
        assert_eq!(f.get(0, 5), Some(&b"hello"[..]));
        let reader = RecordFile::open(&path, checkpoint, true).unwrap();
        assert_eq!(reader.get(5, 6), Some(&b" world"[..]));
        assert!(RecordFile::open(&path, checkpoint + 1, true).is_err(), "shorter than the checkpoint says");
    }

    #[test]
    fn growth_past_the_first_mapping_remaps() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = RecordFile::open(&dir.path().join("big.rec"), 0, false).unwrap();
        let record = vec![7u8; 1 << 20];
        let offsets: Vec<u64> = (0..40).map(|_| f.append(&record).unwrap()).collect();
        assert!(offsets.iter().all(|&o| f.get(o, record.len() as u32) == Some(&record[..])));
        assert!(f.resident_bytes() <= 40 << 20);
        f.release_resident();
        assert_eq!(f.get(offsets[39], 4), Some(&[7u8; 4][..]), "released pages fault back in");
    }
}
