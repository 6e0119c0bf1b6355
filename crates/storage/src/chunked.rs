//! Fixed-width rows in fixed-size chunk files read and written through memmap2: vectors
//! ([`ChunkedVectors`], rows of `dim` f32) and HNSW level-0 links ([`ChunkedLinks`], rows of
//! `AtomicU32` that graph builders update concurrently through `&self`).
//!
//! Row `r` lives in chunk `r >> shift` at slot `r & mask`; a chunk holds `1 << shift` rows
//! (about 32 MiB). Each chunk is mapped at its full size from the start, so a row's address
//! is stable while the collection grows, but its file grows with the rows written into it:
//! it starts at 16 KiB and doubles (`posix_fallocate`) until it reaches the chunk size. A
//! collection of ten vectors takes a few pages of disk, not 32 MiB. Writes go straight into the shared mapping;
//! [`ChunkedVectors::flush`] (msync) makes them durable at a checkpoint. Rows written after
//! the last checkpoint are rewritten by WAL replay, so a page torn by a crash never survives.
//! Without a directory the chunks are anonymous mappings (in-memory databases). A table opened
//! with [`ChunkedTable::open_loaded`] keeps anonymous copies of its files (`storage.mmap:
//! false`): reads never fault on the files, writes reach them at [`ChunkedTable::flush`].
//!
//! # Safety
//! This module holds all of the crate's mmap `unsafe`. The invariants it relies on:
//! - a chunk file is opened only by this process (the directory lock guarantees it), so no
//!   one truncates or rewrites it under the mapping;
//! - every chunk mapping is exactly `chunk_bytes` long, page-aligned, and rows are
//!   `width * 4`-byte slots at multiples of 4, so views of 4-byte [`Slot`] types are aligned
//!   and in bounds, and an all-zero byte pattern is a valid value of every slot type;
//! - a mapping may extend past the end of its file (touching those pages would raise
//!   SIGBUS), so rows are only ever accessed below `rows`, and `reserve` extends the file
//!   over every row below `rows` before `rows` grows;
//! - plain `f32` rows are written only through `&mut self`, so the borrow rules exclude
//!   readers during writes; `AtomicU32` rows are shared and written through atomics.
//!
//! - releasing resident pages (`MADV_DONTNEED`) is done only on file-backed shared mappings,
//!   where the data stays in the file and its page cache: later reads fault it back in.
//!
//! File space is allocated (`posix_fallocate`, not left sparse) before rows are written into
//! it, so that a full disk surfaces as an I/O error from `reserve` rather than as SIGBUS on
//! a later store into the mapping.

use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use libravdb_core::{LinkTable, VectorRows};
use memmap2::{Advice, MmapMut, MmapOptions, UncheckedAdvice};

use crate::error::{IoContext, Result, StorageError};
use crate::fsutil::{create_dir_all, sync_dir};

/// Target chunk size; the row count per chunk is the largest power of two that fits.
const TARGET_CHUNK_BYTES: usize = 32 << 20;
/// Asks for transparent huge pages on the 2 MiB-aligned interior of `bytes`: anonymous memory
/// read at random (the chunks of an in-memory or loaded table). Linux's THP default is
/// `madvise`: without the hint every row a graph walk reads is in another 4 KiB page and
/// nearly each read also misses the TLB (whose reach is a few MiB); 2 MiB pages cover a 32 MiB
/// chunk with 16 entries. A hint: the kernel may decline it, and nothing else changes.
fn huge_pages(bytes: &[u8]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = (bytes.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (bytes.as_ptr() as usize + bytes.len()) & !(HUGE - 1);
        if end > start {
            // SAFETY: the range lies inside `bytes`, memory this process owns; MADV_HUGEPAGE
            // changes only how the kernel backs it, never its contents.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

/// Largest chunk a table may have (`shift_for` never makes one above `TARGET_CHUNK_BYTES`
/// except for rows wider than it).
const MAX_CHUNK_BYTES: usize = 1 << 30;
/// First allocation of a chunk file; it doubles from there.
const MIN_FILE_BYTES: usize = 16 << 10;
const PAGE: usize = 4096;

/// A 4-byte element type that may be viewed over (zero-filled) mapped memory.
pub trait Slot: Send + Sync + 'static + sealed::Sealed {}
impl Slot for f32 {}
impl Slot for AtomicU32 {}
mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for std::sync::atomic::AtomicU32 {}
}

/// A growable table of `width`-element rows in mapped chunks.
#[derive(Debug)]
pub struct ChunkedTable<T: Slot> {
    /// Elements per row (`dim` for vectors).
    dim: usize,
    /// log2 of rows per chunk.
    shift: u32,
    chunks: Vec<MmapMut>,
    /// The open chunk files and their allocated lengths (empty for anonymous chunks).
    files: Vec<(File, usize)>,
    /// Per chunk: written through `set_row` since the last [`ChunkedTable::checksums`].
    dirty: Vec<AtomicBool>,
    /// Folder of chunk files; `None` for anonymous (in-memory) chunks.
    dir: Option<PathBuf>,
    /// [`VectorRows::gather`] reads rows from the files with `pread` instead of the map (set
    /// while full precision is read only to re-rank; see [`ChunkedTable::read_through_files`]).
    gather_from_files: AtomicBool,
    /// Opened by a read-only handle: files are mapped copy-on-write (`MAP_PRIVATE`) and never
    /// created, grown or flushed; rows this process writes (WAL replay) stay private to it.
    read_only: bool,
    /// Chunks are anonymous copies of the files, written back by `flush`.
    loaded: bool,
    /// Loaded tables: per chunk, written since the last `flush` (atomic rows are written
    /// without marking it: every chunk of theirs is written back).
    unflushed: Vec<AtomicBool>,
    rows: usize,
    _slot: PhantomData<T>,
}

/// Vectors: rows of `dim` f32.
pub type ChunkedVectors = ChunkedTable<f32>;
/// HNSW level-0 adjacency: rows of `1 + M0` atomics (count, then neighbour rows).
pub type ChunkedLinks = ChunkedTable<AtomicU32>;

impl<T: Slot> ChunkedTable<T> {
    /// The chunk shift to use for a new table of `width`-element rows (stored in the
    /// collection's manifest: it must never change for existing files).
    pub fn shift_for(width: usize) -> u32 {
        let rows = (TARGET_CHUNK_BYTES / (width.max(1) * 4)).max(1);
        usize::BITS - 1 - rows.leading_zeros()
    }

    /// Opens the table in `dir` (or in memory) holding `rows` rows; the chunk files those rows
    /// need must exist and cover them (they were flushed by the last checkpoint).
    pub fn open(dir: Option<&Path>, width: usize, shift: u32, rows: usize) -> Result<Self> {
        Self::open_with(dir, width, shift, rows, false, false)
    }

    /// [`ChunkedTable::open`] into anonymous memory: each chunk file is read into an
    /// anonymous map at open, and written back at [`ChunkedTable::flush`] (`read_only`: never).
    pub fn open_loaded(dir: &Path, width: usize, shift: u32, rows: usize, read_only: bool) -> Result<Self> {
        Self::open_with(Some(dir), width, shift, rows, read_only, true)
    }

    /// [`ChunkedTable::open`] for a read-only handle on files another process writes: the
    /// chunk files must exist; they are mapped copy-on-write and never changed.
    pub fn open_read_only(dir: &Path, width: usize, shift: u32, rows: usize) -> Result<Self> {
        Self::open_with(Some(dir), width, shift, rows, true, false)
    }

    fn open_with(
        dir: Option<&Path>,
        width: usize,
        shift: u32,
        rows: usize,
        read_only: bool,
        loaded: bool,
    ) -> Result<Self> {
        let dim = width;
        // Both come from a manifest: a damaged one is an error here, never a huge mapping.
        if dim == 0 || shift >= 31 || (1usize << shift).saturating_mul(dim * 4) > MAX_CHUNK_BYTES {
            return Err(StorageError::Corrupted {
                path: dir.map_or_else(|| "<memory>".into(), Path::to_path_buf),
                reason: format!("chunks of {} rows of {dim} values are impossible", 1u64 << shift.min(63)),
            });
        }
        let mut table = Self {
            dim,
            shift,
            chunks: Vec::new(),
            files: Vec::new(),
            dirty: Vec::new(),
            gather_from_files: AtomicBool::new(false),
            dir: dir.map(Path::to_path_buf),
            read_only,
            loaded,
            unflushed: Vec::new(),
            rows: 0,
            _slot: PhantomData,
        };
        if let Some(d) = dir
            && !read_only
        {
            create_dir_all(d)?;
        }
        let needed = rows.div_ceil(table.chunk_rows());
        for c in 0..needed {
            if let Some(path) = table.chunk_path(c) {
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let want = table.bytes_in_chunk(c, rows);
                if len < want as u64 || len > table.chunk_bytes() as u64 {
                    return Err(StorageError::Corrupted {
                        path,
                        reason: format!(
                            "chunk is {len} bytes; its rows need {want} and a chunk holds at most {}",
                            table.chunk_bytes()
                        ),
                    });
                }
            }
            table.map_chunk(c)?;
        }
        table.rows = rows;
        Ok(table)
    }

    /// Bytes of chunk `c` that rows `0..rows` occupy.
    fn bytes_in_chunk(&self, c: usize, rows: usize) -> usize {
        rows.saturating_sub(c * self.chunk_rows()).min(self.chunk_rows()) * self.dim * 4
    }

    fn chunk_rows(&self) -> usize {
        1 << self.shift
    }

    fn chunk_bytes(&self) -> usize {
        self.chunk_rows() * self.dim * 4
    }

    fn chunk_path(&self, c: usize) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{c:06}.chunk")))
    }

    /// Maps chunk `c` (the next one) at its full size, creating its file (empty) if absent.
    fn map_chunk(&mut self, c: usize) -> Result<()> {
        debug_assert_eq!(c, self.chunks.len());
        let bytes = self.chunk_bytes();
        let anon = || {
            let map = MmapMut::map_anon(bytes)
                .map_err(|source| StorageError::Io { path: "<anonymous map>".into(), source })?;
            huge_pages(&map);
            Ok(map)
        };
        let map = match self.chunk_path(c) {
            None => anon()?,
            Some(path) if self.loaded => {
                let file = if self.read_only {
                    File::open(&path).at(&path)?
                } else {
                    let created = !path.exists();
                    let f =
                        OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).at(&path)?;
                    if created {
                        sync_dir(self.dir.as_deref().expect("file-backed"))?;
                    }
                    f
                };
                let len = file.metadata().at(&path)?.len() as usize;
                let mut map = anon()?;
                file.read_exact_at(&mut map[..len.min(bytes)], 0).at(&path)?;
                self.files.push((file, len));
                map
            }
            Some(path) if self.read_only => {
                let file = File::open(&path).at(&path)?;
                let len = file.metadata().at(&path)?.len() as usize;
                // SAFETY: as below; a private mapping is never written back to the file.
                let map = unsafe { MmapOptions::new().len(bytes).map_copy(&file) }.at(&path)?;
                self.files.push((file, len));
                map
            }
            Some(path) => {
                let created = !path.exists();
                let file =
                    OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).at(&path)?;
                if created {
                    sync_dir(self.dir.as_deref().expect("file-backed"))?;
                }
                let len = file.metadata().at(&path)?.len() as usize;
                // SAFETY: only this process (holding the directory lock) writes the file, and
                // no row past its end is accessed (the module's Safety section).
                let map = unsafe { MmapOptions::new().len(bytes).map_mut(&file) }.at(&path)?;
                self.files.push((file, len));
                map
            }
        };
        self.chunks.push(map);
        self.dirty.push(AtomicBool::new(false));
        self.unflushed.push(AtomicBool::new(false));
        Ok(())
    }

    /// Extends chunk file `c` (doubling, from [`MIN_FILE_BYTES`]) to cover at least `need`
    /// bytes, allocating the space so that stores into it cannot fault on a full disk.
    fn allocate(&mut self, c: usize, need: usize) -> Result<()> {
        let chunk_bytes = self.chunk_bytes();
        let read_only = self.read_only;
        let Some((file, len)) = self.files.get_mut(c) else { return Ok(()) };
        if *len >= need {
            return Ok(());
        }
        if read_only {
            // The writer allocates before it logs, so rows in its WAL are in the file by now.
            *len = file.metadata().map_or(0, |m| m.len() as usize);
            if *len >= need {
                return Ok(());
            }
            let path = self.dir.as_deref().expect("file-backed").join(format!("{c:06}.chunk"));
            return Err(StorageError::Corrupted { path, reason: format!("{} bytes, rows need {need}", *len) });
        }
        let target = need.max(*len * 2).max(MIN_FILE_BYTES).next_multiple_of(PAGE).min(chunk_bytes);
        // SAFETY: plain FFI call on an open file descriptor.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, target as libc::off_t) };
        if rc != 0 {
            let path = self.dir.as_deref().expect("file-backed").join(format!("{c:06}.chunk"));
            return Err(StorageError::Io { path, source: std::io::Error::from_raw_os_error(rc) });
        }
        *len = target;
        Ok(())
    }

    /// Maps the chunks that rows `0..rows` need and allocates their file space, so that later
    /// [`ChunkedVectors::set_row`] calls below `rows` do no I/O and cannot fail.
    pub fn reserve(&mut self, rows: usize) -> Result<()> {
        let needed = rows.div_ceil(self.chunk_rows());
        while self.chunks.len() < needed {
            self.map_chunk(self.chunks.len())?;
        }
        for c in 0..needed {
            self.allocate(c, self.bytes_in_chunk(c, rows))?;
        }
        Ok(())
    }

    /// Makes rows `0..rows` addressable (mapping chunks as needed).
    pub fn grow_to(&mut self, rows: usize) -> Result<()> {
        self.reserve(rows)?;
        self.rows = self.rows.max(rows);
        Ok(())
    }

    /// Rows addressable by `row`.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Row `row`; `row < len()`.
    #[inline]
    pub fn row(&self, row: u32) -> &[T] {
        assert!((row as usize) < self.rows, "row {row} out of range");
        let c = (row >> self.shift) as usize;
        let slot = row as usize & (self.chunk_rows() - 1);
        &self.chunk_slice(c, slot + 1)[slot * self.dim..]
    }
}

impl ChunkedTable<f32> {
    /// Writes row `row` (growing the table as needed). `v.len()` must equal `dim`.
    pub fn set_row(&mut self, row: u32, v: &[f32]) -> Result<()> {
        assert_eq!(v.len(), self.dim, "row length must equal dim");
        self.reserve(row as usize + 1)?;
        let c = (row >> self.shift) as usize;
        let slot = (row as usize & (self.chunk_rows() - 1)) * self.dim;
        let base = self.chunks[c].as_mut_ptr() as *mut f32;
        // SAFETY: `slot + dim <= chunk_rows * dim` and the mapping is 4-byte aligned and
        // exclusively borrowed through `&mut self`.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), base.add(slot), self.dim) };
        self.dirty[c].store(true, Ordering::Relaxed);
        self.unflushed[c].store(true, Ordering::Relaxed);
        self.rows = self.rows.max(row as usize + 1);
        Ok(())
    }
}

impl<T: Slot> ChunkedTable<T> {
    /// Makes every written row durable (msync of each mapping; loaded tables write their
    /// changed chunks back and fdatasync them).
    pub fn flush(&self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        if self.loaded {
            // Atomic rows (links) are written in place without a mark: all of theirs go back.
            let marked = std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>();
            for (c, (file, _)) in self.files.iter().enumerate() {
                if marked && !self.unflushed[c].swap(false, Ordering::Relaxed) {
                    continue;
                }
                let bytes = self.bytes_in_chunk(c, self.rows);
                let path = self.chunk_path(c).unwrap_or_default();
                file.write_all_at(&self.chunks[c][..bytes], 0).at(&path)?;
                file.sync_data().at(&path)?;
            }
            return Ok(());
        }
        for (c, map) in self.chunks.iter().enumerate() {
            let len = self.files.get(c).map_or(map.len(), |(_, len)| *len);
            map.flush_range(0, len).map_err(|source| StorageError::Io {
                path: self.chunk_path(c).unwrap_or_else(|| "<anonymous map>".into()),
                source,
            })?;
        }
        Ok(())
    }

    /// A loaded table from here on served from its mapped files: writes its rows back, then
    /// maps each chunk file over the anonymous copy (which is freed). No-op otherwise.
    pub fn into_mapped(&mut self) -> Result<()> {
        // A read-only handle's replayed rows exist only in its copy: it stays loaded.
        if !self.loaded || self.read_only {
            return Ok(());
        }
        self.flush()?;
        let bytes = self.chunk_bytes();
        for c in 0..self.chunks.len() {
            let path = self.chunk_path(c).unwrap_or_default();
            let (file, len) = &mut self.files[c];
            // The write-back may have extended the file past the length recorded at open.
            *len = file.metadata().at(&path)?.len() as usize;
            // SAFETY: as in `map_chunk`: this process alone writes the file, and no row past
            // its end is accessed.
            let map = unsafe { MmapOptions::new().len(bytes).map_mut(&*file) }.at(&path)?;
            self.chunks[c] = map;
        }
        self.loaded = false;
        Ok(())
    }

    /// Drops this process's resident pages of file-backed chunks; the data stays in the files
    /// (and in the kernel's page cache) and is faulted back in when read. No-op in memory.
    /// Call after [`ChunkedTable::flush`] when the rows are rarely read (quantized collections
    /// read full precision only to re-rank).
    pub fn release_resident(&self) -> Result<()> {
        // Read-only mappings are private: dropping their pages would drop replayed rows; loaded
        // and in-memory chunks are anonymous: dropping their pages would zero them.
        if !self.is_mapped() || self.read_only {
            return Ok(());
        }
        for (c, map) in self.chunks.iter().enumerate() {
            // SAFETY: the mappings are MAP_SHARED views of files: MADV_DONTNEED only unmaps the
            // pages, whose contents (dirty ones included) stay in the page cache and the file.
            unsafe { map.unchecked_advise(UncheckedAdvice::DontNeed) }
                .map_err(|source| StorageError::Io { path: self.chunk_path(c).unwrap_or_default(), source })?;
        }
        Ok(())
    }

    /// CRC32 of the bytes rows `0..len()` occupy in chunk `c`.
    fn chunk_crc(&self, c: usize) -> u32 {
        let bytes = self.bytes_in_chunk(c, self.rows);
        // SAFETY: those bytes lie in the mapping and in the file (module Safety section);
        // reading slots as bytes is valid for every slot type.
        let data = unsafe { std::slice::from_raw_parts(self.chunks[c].as_ptr(), bytes) };
        crc32fast::hash(data)
    }

    /// One checksum per chunk of the bytes its rows occupy: `previous[c]` is kept for a chunk
    /// not written through `set_row` since the last [`ChunkedTable::mark_clean`], the others
    /// are computed (so a checkpoint reads only what changed).
    pub fn checksums(&self, previous: &[u32]) -> Vec<u32> {
        (0..self.rows.div_ceil(self.chunk_rows()))
            .map(|c| match previous.get(c) {
                Some(&crc) if !self.dirty[c].load(Ordering::Relaxed) => crc,
                _ => self.chunk_crc(c),
            })
            .collect()
    }

    /// Chunks rows `0..len()` occupy.
    pub fn occupied_chunks(&self) -> usize {
        self.rows.div_ceil(self.chunk_rows())
    }

    /// Forgets which chunks were written (once their checksums are stored).
    pub fn mark_clean(&self) {
        self.dirty.iter().for_each(|d| d.store(false, Ordering::Relaxed));
    }

    /// Checks the chunks not written since `stored` was taken by [`ChunkedTable::checksums`]
    /// against it: returns how many were checked and the files of those that differ.
    pub fn verify(&self, stored: &[u32]) -> (usize, Vec<PathBuf>) {
        let mut checked = 0;
        let mut damaged = Vec::new();
        for (c, &crc) in stored.iter().enumerate().take(self.chunks.len()) {
            if self.dirty[c].load(Ordering::Relaxed) {
                continue;
            }
            checked += 1;
            if self.chunk_crc(c) != crc {
                damaged.push(self.chunk_path(c).unwrap_or_else(|| format!("<chunk {c}>").into()));
            }
        }
        (checked, damaged)
    }

    /// Scattered reads ([`VectorRows::gather`], re-ranking) go through `pread` into a small
    /// buffer instead of the map: a fault on a mapped file maps the whole page-cache folio
    /// around it (up to ~1 MiB with large folios), so a few hundred re-ranks would map most of
    /// the file back into this process; `pread` copies the row out of the page cache and maps
    /// nothing. No effect in memory or on a read-only handle (whose replayed rows exist only in
    /// its private map).
    pub fn read_through_files(&self, on: bool) {
        self.gather_from_files.store(on && self.is_mapped() && !self.read_only, Ordering::Relaxed);
    }

    /// Tells the kernel reads will be random (no read-ahead around a faulted page).
    pub fn advise_random(&self) {
        for map in &self.chunks {
            let _ = map.advise(Advice::Random);
        }
    }

    /// Bytes of the chunk mappings resident in this process (Linux; 0 elsewhere).
    pub fn resident_bytes(&self) -> usize {
        let ranges: Vec<(usize, usize)> = self.chunks.iter().map(|m| (m.as_ptr() as usize, m.len())).collect();
        crate::fsutil::resident_bytes_of(&ranges)
    }

    /// Bytes the rows `0..len()` occupy.
    pub fn data_bytes(&self) -> usize {
        self.rows * self.dim * 4
    }

    /// Bytes mapped (file-backed or anonymous) for vector chunks.
    pub fn mapped_bytes(&self) -> usize {
        self.chunks.len() * self.chunk_bytes()
    }

    /// Whether the chunks are backed by files (mapped, or loaded from them).
    pub fn is_file_backed(&self) -> bool {
        self.dir.is_some()
    }

    /// Whether the rows are served from file mappings (reclaimable page cache) rather than
    /// anonymous memory (in-memory and loaded tables).
    pub fn is_mapped(&self) -> bool {
        self.dir.is_some() && !self.loaded
    }

    fn chunk_slice(&self, c: usize, rows: usize) -> &[T] {
        debug_assert!(rows <= self.chunk_rows());
        // SAFETY: the mapping holds `chunk_rows * dim` 4-byte slots, is page-aligned and
        // zero-initialised or written with valid values; plain f32 rows are only written
        // through `&mut self`, atomic rows only through atomics (module Safety section).
        unsafe { std::slice::from_raw_parts(self.chunks[c].as_ptr() as *const T, rows * self.dim) }
    }
}

impl LinkTable for ChunkedLinks {
    #[inline]
    fn links(&self, row: u32) -> &[AtomicU32] {
        self.row(row)
    }
}

impl VectorRows for ChunkedVectors {
    fn dim(&self) -> usize {
        self.dim
    }

    fn rows(&self) -> usize {
        self.rows
    }

    #[inline]
    fn row(&self, row: u32) -> &[f32] {
        ChunkedTable::row(self, row)
    }

    fn gather(&self, rows: &[u32], f: &mut dyn FnMut(usize, &[f32])) {
        if !self.gather_from_files.load(Ordering::Relaxed) {
            for (i, &row) in rows.iter().enumerate() {
                f(i, ChunkedTable::row(self, row));
            }
            return;
        }
        let mut buf = vec![0f32; self.dim];
        for (i, &row) in rows.iter().enumerate() {
            assert!((row as usize) < self.rows, "row {row} out of range");
            let c = (row >> self.shift) as usize;
            let offset = ((row as usize & (self.chunk_rows() - 1)) * self.dim * 4) as u64;
            // SAFETY: `buf` holds `dim` f32s; any byte pattern is a valid f32.
            let bytes = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), self.dim * 4) };
            match self.files.get(c).map(|(file, _)| file.read_exact_at(bytes, offset)) {
                Some(Ok(())) => f(i, &buf),
                // Unreadable through the file descriptor: the map still serves it.
                _ => f(i, ChunkedTable::row(self, row)),
            }
        }
    }

    fn runs(&self, f: &mut dyn FnMut(u32, &[f32])) {
        let per = self.chunk_rows();
        for c in 0..self.rows.div_ceil(per) {
            let first = c * per;
            f(first as u32, self.chunk_slice(c, per.min(self.rows - first)));
        }
    }
}

#[cfg(test)]
mod tests;
