//! The rows of a collection on disk: the rows segment (`rows-<generation>.seg`: which rows are
//! live, their ids, and where each one's metadata lies) and the metadata record file it points
//! into (`metadata-<epoch>.rec`, written by `MetadataStore`). Together they are a checkpoint
//! of the id map (`crate::ids::IdMap`) and the metadata.

use std::path::Path;

use libravdb_core::codec::{ByteReader, ByteWriter};

use super::format::{Persistent, ROWS, VerifyReport, corrupted};
use super::meta::{Damaged, MetadataStore, Span, no_span, read_span};
use crate::error::Result;
use crate::ids::IdMap;

/// The ids and metadata of a collection, as a checkpoint writes and reads them.
pub(super) struct Rows<'a> {
    pub ids: &'a IdMap,
    pub metadata: &'a MetadataStore,
}

impl Persistent for Rows<'_> {
    /// The texts first: the spans the segment records must point at durable bytes.
    fn save(&self, dir: &Path, generation: u64) -> Result<()> {
        self.metadata.flush()?;
        ROWS.write(dir, generation, &encode(self.ids, self.metadata))
    }

    fn check(&self, dir: &Path, generation: u64, report: &mut VerifyReport) {
        // Every checkpoint writes it.
        if generation > 0 {
            ROWS.check(dir, generation, report);
        }
        if let Some(path) = self.metadata.path() {
            // Every live record's metadata must read back as the JSON text it was written as.
            let outcome = match self.metadata.damaged(self.ids.live_rows().iter()) {
                Some(row) => Err(corrupted(path.to_path_buf(), Damaged::reason(self.ids.id(row)))),
                None => Ok(()),
            };
            report.file(path.to_path_buf(), outcome);
        }
    }
}

/// Rows file body (version 4): row count (u64), the metadata record file's epoch and length
/// (u64 each), then per row a state byte (1 live, 0 tombstone, 2 reclaimed) and, when live,
/// the id and the span of its metadata (offset u64, length u32 (u32::MAX: none), CRC32 of the
/// text u32). Version 3 had no CRC; version 2 had the optional metadata JSON in place of the
/// span.
fn encode(ids: &IdMap, metadata: &MetadataStore) -> Vec<u8> {
    let mut w = ByteWriter::with_capacity(ids.rows() * 32);
    w.u64(ids.rows() as u64);
    metadata.encode_header(&mut w);
    for row in 0..ids.rows() as u32 {
        if ids.is_live(row) {
            w.u8(1);
            w.str(ids.id(row));
            metadata.encode_span(&mut w, row);
        } else {
            w.u8(if ids.is_free(row) { 2 } else { 0 });
        }
    }
    w.buf
}

/// Metadata as a rows segment gives it.
pub(super) enum Texts {
    /// Version 2: the texts themselves.
    Inline(Vec<Option<Box<str>>>),
    /// Version 3 on: spans into the record file of `epoch`, `len` bytes long (with their
    /// CRCs from version 4: `checksummed`).
    File { epoch: u64, len: u64, spans: Vec<Span>, checksummed: bool },
}

/// The ids and metadata spans of checkpoint `generation`.
pub(super) fn load(dir: &Path, generation: u64) -> Result<(IdMap, Texts)> {
    let path = ROWS.path(dir, generation);
    let (version, body) = ROWS.read(dir, generation)?;
    let bad = |e: libravdb_core::codec::DecodeError| corrupted(path.clone(), e.0);
    let mut r = ByteReader::new(&body);
    let rows = r.u64().map_err(bad)?;
    let inline = version < 3;
    let checksummed = version >= 4;
    let (epoch, len) = if inline { (0, 0) } else { (r.u64().map_err(bad)?, r.u64().map_err(bad)?) };
    let mut ids = IdMap::default();
    let mut texts = Vec::new();
    let mut spans = Vec::new();
    let mut free = Vec::new();
    for row in 0..rows {
        let state = r.u8().map_err(bad)?;
        match state {
            1 => {
                let id = crate::ids::read_id(&mut r).map_err(bad)?;
                if ids.contains(id) {
                    return Err(corrupted(path.clone(), format!("id '{id}' appears twice")));
                }
                ids.push(id);
                if inline {
                    texts.push(r.opt_str().map_err(bad)?.map(Box::from));
                } else {
                    spans.push(read_span(&mut r, checksummed).map_err(bad)?);
                }
            }
            0 | 2 => {
                ids.push_tombstone();
                if inline {
                    texts.push(None)
                } else {
                    spans.push(no_span())
                }
                if state == 2 {
                    free.push(row as u32);
                }
            }
            s => return Err(corrupted(path.clone(), format!("row state {s}"))),
        }
    }
    ids.mark_free(free);
    Ok((ids, if inline { Texts::Inline(texts) } else { Texts::File { epoch, len, spans, checksummed } }))
}
