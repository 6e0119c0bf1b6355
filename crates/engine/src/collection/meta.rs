//! Record metadata (JSON text per row), off the heap for on-disk collections.
//!
//! In memory, texts live on the heap as before. On disk, they are appended to a record file
//! (`metadata-<epoch>.rec`, see `libravdb_storage::RecordFile`) read through a map, and the
//! heap keeps only a 12-byte span per row; the rows segment of each checkpoint stores the spans
//! and the file's length. A rewrite appends the new text and leaves the old bytes dead until
//! `optimize()` compacts the file into a new epoch. Texts returned to callers go through a
//! byte-bounded cache (quick_cache: concurrent, weighted, scan-resistant CLOCK-Pro eviction),
//! so hot records are served without touching the map, whose pages can then be released.
//!
//! A read-only handle never writes the file: what it replays from the writer's WAL is kept in
//! an overlay on the heap until its next reload.
//!
//! Each span carries the CRC32 of its text, so every byte of the record file is covered by a
//! checksum kept in the (checksummed) rows segment: a text whose bytes changed on disk reads as
//! damaged ([`MetadataStore::owned`] fails with `ERR_CORRUPTED`), never as other metadata or a
//! parse error. Rows segments before format version 4 have no CRCs: opening one computes
//! them from the file as it is then.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use libravdb_core::codec::{ByteReader, ByteWriter, DecodeError};
use libravdb_storage::RecordFile;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};

use super::format::{corrupted, record_path};
use crate::error::Result;

/// Where a row's text lies in the record file and its CRC32; `len == NONE`: the row has no
/// metadata.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    offset: u64,
    len: u32,
    crc: u32,
}

const NONE: u32 = u32::MAX;
const EMPTY: Span = Span { offset: 0, len: NONE, crc: 0 };

/// A text whose bytes no longer match their checksum: the record file it lies in.
#[derive(Debug)]
pub(crate) struct Damaged(pub PathBuf);

impl Damaged {
    /// What is wrong with record `id`'s metadata, and what to do.
    pub fn reason(id: &str) -> String {
        format!("the metadata of record '{id}' does not match its checksum (damaged on disk); restore from a backup")
    }
}
/// Heap bytes per boxed text beyond its characters (pointer, length, allocator header).
const BOX_OVERHEAD: u64 = 32;

#[derive(Debug)]
enum Texts {
    Heap(Vec<Option<Box<str>>>),
    File {
        file: RecordFile,
        epoch: u64,
        spans: Vec<Span>,
        /// Read-only handles: rows replayed from the writer's WAL.
        overlay: HashMap<u32, Option<Box<str>>>,
    },
}

/// The metadata of every row, and the cache of texts read from the record file.
#[derive(Debug)]
pub(crate) struct MetadataStore {
    texts: Texts,
    /// Characters of live rows' texts.
    text_bytes: u64,
    cache: TextCache,
}

impl MetadataStore {
    /// Texts on the heap (in-memory collections).
    pub fn heap(texts: Vec<Option<Box<str>>>) -> Self {
        let text_bytes = texts.iter().flatten().map(|t| t.len() as u64).sum();
        Self { texts: Texts::Heap(texts), text_bytes, cache: TextCache::new(0) }
    }

    /// The record file of `epoch` in `dir` as a checkpoint left it (`len` bytes, `spans`;
    /// `checksummed: false` for spans of a rows segment before version 4, whose CRCs are
    /// computed here).
    pub fn open(
        dir: &Path,
        epoch: u64,
        len: u64,
        mut spans: Vec<Span>,
        checksummed: bool,
        read_only: bool,
        cache_bytes: u64,
    ) -> Result<Self> {
        let file = RecordFile::open(&record_path(dir, epoch), len, read_only)?;
        let text_bytes = spans.iter().filter(|s| s.len != NONE).map(|s| s.len as u64).sum();
        let path = file.path().to_path_buf();
        for s in spans.iter_mut().filter(|s| s.len != NONE) {
            let Some(bytes) = file.get(s.offset, s.len) else {
                return Err(corrupted(path, format!("a record at {} lies past the file's end", s.offset)));
            };
            if !checksummed {
                s.crc = crc32fast::hash(bytes);
            }
        }
        let texts = Texts::File { file, epoch, spans, overlay: HashMap::new() };
        Ok(Self { texts, text_bytes, cache: TextCache::new(cache_bytes) })
    }

    /// A new record file of `epoch` in `dir` holding `texts` (a collection created, or one
    /// written by a build that kept metadata in its rows segment).
    pub fn create(dir: &Path, epoch: u64, texts: Vec<Option<Box<str>>>, cache_bytes: u64) -> Result<Self> {
        let mut store = Self::open(dir, epoch, 0, Vec::new(), true, false, cache_bytes)?;
        let total: u64 = texts.iter().flatten().map(|t| t.len() as u64).sum();
        store.reserve(total)?;
        for (row, text) in texts.iter().enumerate() {
            store.set(row as u32, text.as_deref())?;
        }
        Ok(store)
    }

    /// The record file, when the texts are in one.
    pub fn path(&self) -> Option<&Path> {
        match &self.texts {
            Texts::File { file, .. } => Some(file.path()),
            Texts::Heap(_) => None,
        }
    }

    /// Allocates file space for `extra` bytes of texts before a write is logged.
    pub fn reserve(&mut self, extra: u64) -> Result<()> {
        if let Texts::File { file, .. } = &mut self.texts {
            file.reserve(extra)?;
        }
        Ok(())
    }

    /// Sets row `row`'s metadata (`row` is at most `rows()`: the next row, or an existing one).
    pub fn set(&mut self, row: u32, text: Option<&str>) -> Result<()> {
        let r = row as usize;
        let old = self.len_of(row);
        match &mut self.texts {
            Texts::Heap(t) => {
                let value = text.map(Box::from);
                if r == t.len() { t.push(value) } else { t[r] = value }
            }
            Texts::File { file, spans, overlay, .. } => {
                if r == spans.len() {
                    spans.push(EMPTY);
                }
                if file.is_read_only() {
                    overlay.insert(row, text.map(Box::from));
                } else {
                    spans[r] = match text {
                        Some(t) => Span {
                            offset: file.append(t.as_bytes())?,
                            len: t.len() as u32,
                            crc: crc32fast::hash(t.as_bytes()),
                        },
                        None => EMPTY,
                    };
                }
                self.cache.remove(row);
            }
        }
        self.text_bytes = self.text_bytes - old + text.map_or(0, |t| t.len() as u64);
        Ok(())
    }

    /// Bytes of row `row`'s text, from its span (no read of the text, so no checksum to
    /// compute; a damaged text still counts what it took).
    fn len_of(&self, row: u32) -> u64 {
        match &self.texts {
            Texts::Heap(t) => t.get(row as usize).and_then(|t| t.as_deref()).map_or(0, |t| t.len() as u64),
            Texts::File { spans, overlay, .. } => match overlay.get(&row) {
                Some(t) => t.as_deref().map_or(0, |t| t.len() as u64),
                None => spans.get(row as usize).filter(|s| s.len != NONE).map_or(0, |s| s.len as u64),
            },
        }
    }

    /// Row `row`'s text, read in place (not through the cache: for filters and checkpoints,
    /// which read many rows once). A damaged text reads as none here: writes refuse to touch
    /// it (see [`MetadataStore::intact`]), reads that return it fail ([`MetadataStore::owned`]),
    /// and `verify()` reports it.
    pub fn text(&self, row: u32) -> Option<Cow<'_, str>> {
        self.checked(row).ok().flatten()
    }

    /// Row `row`'s text, or [`Damaged`] if its bytes do not match their checksum.
    pub fn checked(&self, row: u32) -> std::result::Result<Option<Cow<'_, str>>, Damaged> {
        match &self.texts {
            Texts::Heap(t) => Ok(t.get(row as usize).and_then(|t| t.as_deref()).map(Cow::Borrowed)),
            Texts::File { file, spans, overlay, .. } => {
                if !overlay.is_empty()
                    && let Some(t) = overlay.get(&row)
                {
                    return Ok(t.as_deref().map(Cow::Borrowed));
                }
                let Some(span) = spans.get(row as usize).filter(|s| s.len != NONE) else { return Ok(None) };
                let damaged = || Damaged(file.path().to_path_buf());
                let bytes = file.get(span.offset, span.len).ok_or_else(damaged)?;
                if crc32fast::hash(bytes) != span.crc {
                    return Err(damaged());
                }
                // Written from a `&str`: valid unless changed, which the checksum rules out.
                std::str::from_utf8(bytes).map(|t| Some(Cow::Borrowed(t))).map_err(|_| damaged())
            }
        }
    }

    /// Whether row `row`'s text (if any) reads back as written.
    pub fn intact(&self, row: u32) -> bool {
        self.checked(row).is_ok()
    }

    /// Row `row`'s text for a caller that keeps it (`get`, search hits, scans): through the
    /// cache for file-backed texts; [`Damaged`] if its bytes changed on disk.
    pub fn owned(&self, row: u32) -> std::result::Result<Option<String>, Damaged> {
        if matches!(self.texts, Texts::Heap(_)) || self.cache.capacity == 0 {
            return Ok(self.checked(row)?.map(Cow::into_owned));
        }
        if let Some(hit) = self.cache.get(row) {
            return Ok(Some(hit.as_ref().to_owned()));
        }
        let Some(text) = self.checked(row)? else { return Ok(None) };
        let shared: Arc<str> = Arc::from(text.as_ref());
        self.cache.insert(row, shared.clone());
        Ok(Some(shared.as_ref().to_owned()))
    }

    /// The first of `rows` whose text fails to read back as the JSON written (`verify()`).
    pub fn damaged(&self, rows: impl Iterator<Item = u32>) -> Option<u32> {
        let Texts::File { .. } = &self.texts else { return None };
        rows.into_iter().find(|&r| match self.checked(r) {
            Ok(text) => text.is_some_and(|t| serde_json::from_str::<serde_json::Value>(&t).is_err()),
            Err(_) => true,
        })
    }

    /// Makes appended texts durable (before a checkpoint records their spans).
    pub fn flush(&self) -> Result<()> {
        if let Texts::File { file, .. } = &self.texts {
            file.flush()?;
        }
        Ok(())
    }

    /// Under memory pressure: empties the cache and drops the map's resident pages.
    pub fn relieve(&self) {
        self.cache.clear();
        self.release_resident();
    }

    /// Drops the map's resident pages (after a checkpoint: the texts are in the file).
    pub fn release_resident(&self) {
        if let Texts::File { file, .. } = &self.texts {
            file.release_resident();
        }
    }

    /// Characters of live rows' texts.
    pub fn text_bytes(&self) -> u64 {
        self.text_bytes
    }

    /// Heap bytes held: texts and their boxes in memory, spans and overlay on disk.
    pub fn held_bytes(&self) -> u64 {
        match &self.texts {
            Texts::Heap(t) => {
                t.capacity() as u64 * 16 + self.text_bytes + t.iter().flatten().count() as u64 * BOX_OVERHEAD
            }
            Texts::File { spans, overlay, .. } => {
                spans.capacity() as u64 * std::mem::size_of::<Span>() as u64
                    + overlay.values().flatten().map(|t| t.len() as u64 + BOX_OVERHEAD + 16).sum::<u64>()
            }
        }
    }

    /// Heap bytes a new row with `text_len` bytes of metadata adds.
    pub fn row_cost(&self, text_len: u64) -> u64 {
        match &self.texts {
            Texts::Heap(_) => 16 + text_len + BOX_OVERHEAD,
            Texts::File { .. } => std::mem::size_of::<Span>() as u64,
        }
    }

    /// Bytes of the record file (mapped, file-backed) and of it resident in this process.
    pub fn mapped_bytes(&self, with_resident: bool) -> (u64, u64) {
        match &self.texts {
            Texts::Heap(_) => (0, 0),
            Texts::File { file, .. } => {
                (file.mapped_bytes() as u64, if with_resident { file.resident_bytes() as u64 } else { 0 })
            }
        }
    }

    /// Bytes of the record file no live row refers to (rewritten or deleted texts).
    pub fn dead_bytes(&self) -> u64 {
        match &self.texts {
            Texts::Heap(_) => 0,
            Texts::File { file, .. } => file.len().saturating_sub(self.text_bytes),
        }
    }

    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The rows segment's part: epoch, file length, then per row (`live(row)` only) a span.
    pub fn encode_header(&self, w: &mut ByteWriter) {
        let (epoch, len) = match &self.texts {
            Texts::File { file, epoch, .. } => (*epoch, file.len()),
            Texts::Heap(_) => (0, 0),
        };
        w.u64(epoch);
        w.u64(len);
    }

    pub fn encode_span(&self, w: &mut ByteWriter, row: u32) {
        let s = match &self.texts {
            Texts::File { spans, .. } => spans.get(row as usize).copied().unwrap_or(EMPTY),
            Texts::Heap(_) => EMPTY,
        };
        w.u64(s.offset);
        w.u32(s.len);
        w.u32(s.crc);
    }

    /// `optimize()`: copies the live texts (`live(row)`) into a new record file of `epoch`,
    /// reading in place (readers go on); [`MetadataStore::install`] switches to it. Nothing to
    /// do (None) in memory or while less than a quarter of the file is dead.
    pub fn compact(&self, dir: &Path, epoch: u64, live: impl Fn(u32) -> bool) -> Result<Option<Compacted>> {
        let Texts::File { file, spans, .. } = &self.texts else { return Ok(None) };
        if file.is_read_only() || self.dead_bytes() * 4 < file.len() {
            return Ok(None);
        }
        let mut fresh = RecordFile::open(&record_path(dir, epoch), 0, false)?;
        fresh.reserve(self.text_bytes)?;
        let mut moved = Vec::with_capacity(spans.len());
        for (row, s) in spans.iter().enumerate() {
            moved.push(match file.get(s.offset, s.len) {
                Some(bytes) if s.len != NONE && live(row as u32) => {
                    Span { offset: fresh.append(bytes)?, len: s.len, crc: s.crc }
                }
                _ => EMPTY,
            });
        }
        fresh.flush()?;
        Ok(Some(Compacted { file: fresh, epoch, spans: moved }))
    }

    /// Switches to a compacted file (no write came in between); returns the old file's path,
    /// to delete once a checkpoint names the new one.
    pub fn install(&mut self, c: Compacted) -> PathBuf {
        let old = self.path().map(Path::to_path_buf).unwrap_or_default();
        self.text_bytes = c.spans.iter().filter(|s| s.len != NONE).map(|s| s.len as u64).sum();
        self.texts = Texts::File { file: c.file, epoch: c.epoch, spans: c.spans, overlay: HashMap::new() };
        old
    }
}

/// A compacted record file, ready to install.
pub(crate) struct Compacted {
    file: RecordFile,
    epoch: u64,
    spans: Vec<Span>,
}

/// Reads a span written by [`MetadataStore::encode_span`] (`checksummed`: with its CRC, from
/// format version 4).
pub(crate) fn read_span(r: &mut ByteReader, checksummed: bool) -> std::result::Result<Span, DecodeError> {
    Ok(Span { offset: r.u64()?, len: r.u32()?, crc: if checksummed { r.u32()? } else { 0 } })
}

/// The span of a row without metadata (tombstones, reclaimed rows).
pub(crate) fn no_span() -> Span {
    EMPTY
}

/// Counters of the text cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// Bytes held now, and the bound.
    pub bytes: u64,
    pub capacity: u64,
}

#[derive(Clone)]
struct TextWeight;

impl Weighter<u32, Arc<str>> for TextWeight {
    fn weight(&self, _row: &u32, text: &Arc<str>) -> u64 {
        // The text and its Arc header; never 0 (zero-weight entries are never evicted).
        text.len() as u64 + 16
    }
}

#[derive(Clone, Default)]
struct CountEvictions(Arc<AtomicU64>);

impl Lifecycle<u32, Arc<str>> for CountEvictions {
    type RequestState = ();

    fn begin_request(&self) -> Self::RequestState {}

    fn on_evict(&self, _state: &mut Self::RequestState, _row: u32, _text: Arc<str>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A byte-bounded cache of row texts.
struct TextCache {
    cache: Option<Cache<u32, Arc<str>, TextWeight, DefaultHashBuilder, CountEvictions>>,
    evictions: Arc<AtomicU64>,
    capacity: u64,
}

impl std::fmt::Debug for TextCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextCache").field("capacity", &self.capacity).finish()
    }
}

impl TextCache {
    fn new(capacity: u64) -> Self {
        let evictions = Arc::new(AtomicU64::new(0));
        let cache = (capacity > 0).then(|| {
            // Estimated items: a guess at 1 KiB per text sizes the table; it grows as needed.
            Cache::with(
                (capacity / 1024).max(64) as usize,
                capacity,
                TextWeight,
                DefaultHashBuilder::default(),
                CountEvictions(evictions.clone()),
            )
        });
        Self { cache, evictions, capacity }
    }

    fn get(&self, row: u32) -> Option<Arc<str>> {
        self.cache.as_ref()?.get(&row)
    }

    fn insert(&self, row: u32, text: Arc<str>) {
        if let Some(c) = &self.cache {
            c.insert(row, text);
        }
    }

    fn remove(&self, row: u32) {
        if let Some(c) = &self.cache {
            c.remove(&row);
        }
    }

    fn clear(&self) {
        if let Some(c) = &self.cache {
            c.clear();
        }
    }

    fn stats(&self) -> CacheStats {
        let Some(c) = &self.cache else { return CacheStats::default() };
        CacheStats {
            hits: c.hits(),
            misses: c.misses(),
            evictions: self.evictions.load(Ordering::Relaxed),
            bytes: c.weight(),
            capacity: self.capacity,
        }
    }
}
