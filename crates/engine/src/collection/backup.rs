//! One collection's part of an online backup (`Database::backup`): its files copied into
//! another directory while reads and writes go on.
//!
//! The fence is a checkpoint: after it the checkpoint's files (manifest, segments) never
//! change, so they are hard-linked (copied across file systems). Files written in place (vector
//! and link chunks, the metadata record file) are copied while writes go on; whatever a write
//! changes in them after the fence is in the WAL, which is copied last, holding the writer
//! lock. The copy is then exactly what a crash at that moment would leave, and opening it
//! recovers as from a crash (the checkpoint, then the WAL replayed over the chunks), holding
//! every write acknowledged before the WAL was copied and none after. While it copies, the
//! WAL's growth past `checkpointBytes` does not checkpoint (a writer at full speed passes
//! 64 MiB in under a second); a checkpoint all the same (`optimize()`, `rebuild()`, `tune()`)
//! replaces the linked files, and the collection is copied again.
//!
//! A read-only handle (another process than the writer, such as the CLI beside a running
//! service) copies the writer's last checkpoint the same way, without the fence or the lock:
//! a WAL copied while the writer appends can end in a torn append, which opening cuts (it was
//! not acknowledged when the copy was taken), and the manifest, read again after the WAL,
//! tells whether a checkpoint came in between.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use libravdb_storage::{IoContext, fsutil};

use super::Collection;
use super::format::{FIELDS_DIR, RECORD_PREFIX, SEGMENTS, WAL_FILE, manifest_path, vectors_dir};
use super::persist::read_manifest;
use crate::cancel::Cancel;
use crate::error::{Error, Result};

/// Copies of one collection tried before giving up (each interrupted by a checkpoint).
const ATTEMPTS: usize = 5;

impl Collection {
    /// Writes a consistent copy of this collection's files into `dest` (created); adds the
    /// bytes linked or copied to `done`.
    pub(crate) fn backup_into(&self, dest: &Path, done: &AtomicU64, cancel: &Cancel) -> Result<()> {
        let dir = self.dir.as_ref().ok_or_else(|| Error::invalid("an in-memory collection has no files to back up"))?;
        self.backups.fetch_add(1, Ordering::AcqRel);
        let copied = self.backup_attempts(dir, dest, done, cancel);
        self.backups.fetch_sub(1, Ordering::AcqRel);
        copied
    }

    fn backup_attempts(&self, dir: &Path, dest: &Path, done: &AtomicU64, cancel: &Cancel) -> Result<()> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let start = done.load(Ordering::Relaxed);
            let generation = self.backup_fence(dir)?;
            let _ = fs::remove_dir_all(dest);
            fsutil::create_dir_all(dest)?;
            let copied = self.copy_checkpoint(dir, dest, generation, done, cancel);
            // The WAL in two steps, so that writes wait only for its last appends: what it
            // held at a moment no write was under way, then the rest under the writer lock.
            let wal = dir.join(WAL_FILE);
            let settled = self.writer.lock().wal.as_ref().map(|w| w.len());
            let head = copied.and_then(|()| copy_range(&wal, &dest.join(WAL_FILE), 0, settled, done));
            // The end of the fence: the WAL as it stands, unless a checkpoint came in between.
            let w = self.writer.lock();
            self.check_open()?;
            let now = if self.options.read_only { read_manifest(dir)?.0.generation() } else { w.generation };
            if now != generation {
                last = head.err();
                done.store(start, Ordering::Relaxed);
                continue; // a checkpoint replaced the files linked: copy again
            }
            let copied_to = head?;
            if !self.options.read_only {
                // (A reader's one copy may end in a torn append: it stays the last bytes.)
                copy_range(&wal, &dest.join(WAL_FILE), copied_to, None, done)?;
            }
            fsutil::sync_dir(dest)?;
            return Ok(());
        }
        Err(last.unwrap_or_else(|| {
            Error::Internal(format!(
                "collection '{}' checkpointed during each of {ATTEMPTS} copies; back up when it writes less",
                self.name
            ))
        }))
    }

    /// The generation a backup copies: a checkpoint of everything logged so far (a writer),
    /// or the writer's last one (a read-only handle).
    fn backup_fence(&self, dir: &Path) -> Result<u64> {
        if self.options.read_only {
            self.check_open()?;
            return Ok(read_manifest(dir)?.0.generation());
        }
        let mut w = self.writer.lock();
        self.check_open()?;
        self.checkpoint_locked(&mut w)?;
        Ok(w.generation)
    }

    /// The files of checkpoint `generation` and the chunk and record files, into `dest`.
    fn copy_checkpoint(
        &self,
        dir: &Path,
        dest: &Path,
        generation: u64,
        done: &AtomicU64,
        cancel: &Cancel,
    ) -> Result<()> {
        link_or_copy(&manifest_path(dir), &manifest_path(dest), done)?;
        copy_files(dir, dest, generation, done, cancel)?;
        // Named vector fields: the same files in a directory each.
        let fields = dir.join(FIELDS_DIR);
        if fields.is_dir() {
            for field in fsutil::list_dir(&fields)? {
                let to = dest.join(FIELDS_DIR).join(field.file_name());
                fsutil::create_dir_all(&to)?;
                copy_files(&field.path(), &to, generation, done, cancel)?;
            }
        }
        Ok(())
    }
}

/// The segments of checkpoint `generation`, the chunk tables and the record files of `dir`
/// (a collection's directory or a named field's), into `dest`.
fn copy_files(dir: &Path, dest: &Path, generation: u64, done: &AtomicU64, cancel: &Cancel) -> Result<()> {
    {
        for kind in SEGMENTS {
            let path = kind.path(dir, generation);
            if path.exists() {
                link_or_copy(&path, &kind.path(dest, generation), done)?;
            }
        }
        for entry in fsutil::list_dir(dir)? {
            cancel.check()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let is_table = path == vectors_dir(dir) || (name.starts_with("links") && path.is_dir());
            if is_table {
                fsutil::create_dir_all(&dest.join(&name))?;
                for chunk in fsutil::list_dir(&path)? {
                    cancel.check()?;
                    copy_range(&chunk.path(), &dest.join(&name).join(chunk.file_name()), 0, None, done)?;
                }
                fsutil::sync_dir(&dest.join(&name))?;
            } else if name.starts_with(RECORD_PREFIX) {
                copy_range(&path, &dest.join(&name), 0, None, done)?;
            }
        }
        Ok(())
    }
}

/// Copies bytes `from_offset..end` of `from` (to its end when `end` is None) to the same place
/// in `to` (created if missing) and makes them durable; returns where the copy ended. (File to
/// file, `std::io::copy` runs in the kernel: `copy_file_range`.)
fn copy_range(from: &Path, to: &Path, from_offset: u64, end: Option<u64>, done: &AtomicU64) -> Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut src = fs::File::open(from).at(from)?;
    let end = match end {
        Some(e) => e,
        None => src.metadata().at(from)?.len(),
    };
    let mut dst = fs::OpenOptions::new().create(true).truncate(false).write(true).open(to).at(to)?;
    src.seek(SeekFrom::Start(from_offset)).at(from)?;
    dst.seek(SeekFrom::Start(from_offset)).at(to)?;
    let n = std::io::copy(&mut src.take(end.saturating_sub(from_offset)), &mut dst).at(to)?;
    dst.sync_all().at(to)?;
    done.fetch_add(n, Ordering::Relaxed);
    Ok(from_offset + n)
}

/// Hard-links a file that never changes once written (a checkpoint's manifest and segments
/// are replaced by rename, never rewritten); copies it when linking fails (another file
/// system).
fn link_or_copy(from: &Path, to: &Path, done: &AtomicU64) -> Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => {
            let bytes = fs::metadata(to).map(|m| m.len()).unwrap_or(0);
            done.fetch_add(bytes, Ordering::Relaxed);
            Ok(())
        }
        Err(_) => copy_range(from, to, 0, None, done).map(drop),
    }
}
