//! Bodies of the checkpoint's segment files (rows, quantizer, payload indexes): how each is
//! encoded and read back. The checkpoint and recovery logic that writes and opens them is in
//! `persist.rs`.

use super::*;

/// Rows file body (version 3): row count (u64), the metadata record file's epoch and length
/// (u64 each), then per row a state byte (1 live, 0 tombstone, 2 reclaimed) and, when live,
/// the id and the span of its metadata (offset u64, length u32; u32::MAX: none). Version 2
/// had the optional metadata JSON in place of the span.
pub(super) fn encode_rows(st: &State) -> Vec<u8> {
    let mut w = ByteWriter::with_capacity(st.ids.rows() * 32);
    w.u64(st.ids.rows() as u64);
    st.metadata.encode_header(&mut w);
    for row in 0..st.ids.rows() as u32 {
        if st.ids.is_live(row) {
            w.u8(1);
            w.str(st.ids.id(row));
            st.metadata.encode_span(&mut w, row);
        } else {
            w.u8(if st.ids.is_free(row) { 2 } else { 0 });
        }
    }
    w.buf
}

/// Metadata as a rows segment gives it.
pub(super) enum Texts {
    /// Version 2: the texts themselves.
    Inline(Vec<Option<Box<str>>>),
    /// Version 3: spans into the record file of `epoch`, `len` bytes long.
    File { epoch: u64, len: u64, spans: Vec<Span> },
}

pub(super) fn load_rows(dir: &Path, generation: u64) -> Result<(IdMap, Texts)> {
    let path = ROWS.path(dir, generation);
    let (version, body) = ROWS.read(dir, generation)?;
    let bad = |e: libravdb_core::codec::DecodeError| corrupted(path.clone(), e.0);
    let mut r = ByteReader::new(&body);
    let rows = r.u64().map_err(bad)?;
    let inline = version < 3;
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
                    spans.push(read_span(&mut r).map_err(bad)?);
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
    Ok((ids, if inline { Texts::Inline(texts) } else { Texts::File { epoch, len, spans } }))
}

/// Graph file body: rows (u64), one level byte per row, the entry point (flag u8, row u32,
/// level u8), then the upper lists: count (u32), and per node its row (u32), slot count (u32)
/// and slots (u32 each).
/// Quantizer file body: the training ([`Training::encode`]), then for a trained
/// quantizer its serialised form (length-prefixed) and the codes (u64 length, then layout
/// (rows, code bytes)).
pub(super) fn encode_quant(q: &QuantState) -> Vec<u8> {
    let write = |w: &mut ByteWriter| {
        w.bytes(&q.quantizer.as_ref().expect("trained").to_bytes());
        w.u64(q.codes.len() as u64);
        w.buf.extend_from_slice(&q.codes);
    };
    q.training.encode(q.quantizer.as_ref().map(|_| &write as &dyn Fn(&mut ByteWriter)))
}

pub(super) fn load_quant(path: &Path, config: crate::config::QuantizationConfig, rows: usize) -> Result<QuantState> {
    let (version, body) = segment::read(path, QUANT.magic, FORMAT_VERSION)?;
    let bad = |reason: String| corrupted(path.to_path_buf(), reason);
    let (training, rest) = Training::decode(&body, version).map_err(bad)?;
    let mut q = QuantState::new(config);
    if training.status == QuantStatus::Trained {
        let mut r = ByteReader::new(rest);
        let quantizer = libravdb_core::quant::Quantizer::from_bytes(r.bytes().map_err(|e| bad(e.0))?)
            .ok_or_else(|| bad("unreadable quantizer".into()))?;
        let len = r.u64().map_err(|e| bad(e.0))? as usize;
        let codes = rest.len().checked_sub(len).map(|start| rest[start..].to_vec());
        match codes {
            Some(codes) if codes.len() == rows * quantizer.code_bytes() => q.codes = codes,
            _ => return Err(bad(format!("codes do not cover the {rows} rows"))),
        }
        q.quantizer = Some(quantizer);
    }
    q.training = training;
    Ok(q)
}

/// Payload and full-text indexes saved by a checkpoint; live rows come from the rows file. A
/// checkpoint written before text files has none: its text fields are indexed from the
/// metadata.
pub(super) fn load_payload(
    path: &Path,
    text_path: &Path,
    config: &CollectionConfig,
    ids: &IdMap,
    metadata: &MetadataStore,
) -> Result<Filterable> {
    let (_, body) = segment::read(path, PAYLOAD.magic, FORMAT_VERSION)?;
    let index = libravdb_filter::PayloadIndex::from_bytes(&body, config.field_types())
        .map_err(|e| corrupted(path.to_path_buf(), e))?;
    let live = ids.live_rows();
    let sparse = config.sparse_fields();
    let text = if config.text.is_empty() && sparse.is_empty() {
        libravdb_text::TextIndex::default()
    } else if text_path.exists() {
        let (_, body) = segment::read(text_path, TEXT.magic, FORMAT_VERSION)?;
        libravdb_text::TextIndex::from_bytes(&body, &config.text, &sparse)
            .map_err(|e| corrupted(text_path.to_path_buf(), e))?
    } else {
        let mut text = libravdb_text::TextIndex::new(config.text.clone()).with_sparse(sparse);
        for row in &live {
            text.insert(row, crate::collection::filter::parse_meta(metadata.text(row).as_deref()).as_ref());
        }
        text
    };
    Ok(Filterable { index, text, live })
}
