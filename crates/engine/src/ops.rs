//! Write operations as they are logged in the WAL and applied to a collection.
//!
//! Record payload: sequence number (u64) | op tag (u8) | op body. Vectors are stored already
//! prepared (normalised for cosine), so replay applies them without re-validating.
//!
//! Since format 5 the tag carries [`WITH_CHANGES`] and is followed by the change-feed
//! sequence number of the op's first record (u64); each record of the op takes the next
//! number. An upsert ends with a bitmap (one bit per record, LSB first) of the records that
//! replaced an existing one, so the feed can tell an insert from an update. Records logged
//! before format 5 have neither (their changes are not in the feed).

use std::borrow::Cow;

use libravdb_core::codec::{ByteReader, ByteWriter, DecodeError};

use crate::ids::read_id;

const TAG_PUT: u8 = 1;
const TAG_UPDATE: u8 = 2;
const TAG_DELETE: u8 = 3;
const TAG_REPAIR: u8 = 4;
/// Flag on the tag: the change-feed header follows it.
const WITH_CHANGES: u8 = 0x80;
/// Flag on the tag: the op carries named vector fields' vectors after its body (a
/// collection with named vector fields; records without the flag carry none).
const WITH_NAMED: u8 = 0x40;

/// Where an op's records stand in the change feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeInfo {
    /// Sequence number of the op's first record (the op's records take `first..first + len`).
    pub first: u64,
    /// Upserts: which records replaced an existing one (empty for other ops).
    pub replaced: Vec<bool>,
}

/// One decoded WAL record.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    /// The op's position in the WAL (one per op).
    pub seq: u64,
    /// `None` for records logged before format 5.
    pub changes: Option<ChangeInfo>,
    pub op: Op<'static>,
}

/// What an update does to a record's metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataChange {
    Keep,
    Set(String),
    Clear,
}

/// One record of an update batch.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateItem {
    pub id: String,
    /// Replacement vector (`dim` values), if any.
    pub vector: Option<Vec<f32>>,
    pub metadata: MetadataChange,
    /// Named vector fields set (`Some`) or removed from the record (`None`); fields not
    /// named keep their vectors.
    pub named: Vec<(String, Option<Vec<f32>>)>,
}

/// One named vector field's vectors in a put: which of its records carry the field, and
/// their vectors (prepared, like the default field's).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedVectors<'a> {
    pub field: String,
    pub dim: usize,
    /// Per record of the put: whether it carries this field.
    pub present: Vec<bool>,
    /// The vectors of the records that carry it, in order: layout (present records, dim).
    pub vectors: Cow<'a, [f32]>,
}

impl NamedVectors<'_> {
    /// Each record of the put with its vector of this field, if it carries one.
    pub fn per_record(&self) -> impl Iterator<Item = Option<&[f32]>> {
        let mut next = self.vectors.chunks_exact(self.dim.max(1));
        self.present.iter().map(move |&p| if p { next.next() } else { None })
    }

    fn encode(&self, w: &mut ByteWriter) {
        w.str(&self.field);
        w.u32(self.dim as u32);
        w.buf.extend_from_slice(&bitmap(&self.present));
        w.f32s(&self.vectors);
    }

    fn decode(r: &mut ByteReader, n: usize) -> Result<NamedVectors<'static>, DecodeError> {
        let field = r.str()?.to_owned();
        let dim = r.u32()? as usize;
        let bits = r.take(n.div_ceil(8))?;
        let present: Vec<bool> = (0..n).map(|i| bits[i / 8] & (1 << (i % 8)) != 0).collect();
        let mut vectors = Vec::new();
        r.f32s_into(present.iter().filter(|&&p| p).count() * dim, &mut vectors)?;
        Ok(NamedVectors { field, dim, present, vectors: Cow::Owned(vectors) })
    }
}

/// One bit per flag, LSB first.
fn bitmap(flags: &[bool]) -> Vec<u8> {
    let mut bits = vec![0u8; flags.len().div_ceil(8)];
    for (i, _) in flags.iter().enumerate().filter(|(_, f)| **f) {
        bits[i / 8] |= 1 << (i % 8);
    }
    bits
}

/// A write batch, validated and ready to apply. Vectors are borrowed from the caller when
/// they need no change (a batch of 10k x 128 is then never copied before it is applied).
#[derive(Debug, Clone, PartialEq)]
pub enum Op<'a> {
    /// New records (`upsert: false`) or records that replace existing ones (`upsert: true`).
    /// `vectors` has layout (ids.len(), dim); `named` the named vector fields' vectors (a
    /// field a record does not carry is absent from it, replacing any it had).
    Put {
        upsert: bool,
        ids: Vec<String>,
        vectors: Cow<'a, [f32]>,
        metadata: Vec<Option<String>>,
        named: Vec<NamedVectors<'a>>,
    },
    Update {
        items: Vec<UpdateItem>,
    },
    Delete {
        ids: Vec<String>,
    },
    /// `optimize()`: the index was repaired around its deleted records and their rows were
    /// reclaimed. Logged before the repair rewrites links in place, so that a crash before the
    /// next checkpoint replays it instead of reopening the old graph over rewritten lists.
    Repair,
}

impl Op<'_> {
    /// Records touched by this op.
    pub fn len(&self) -> usize {
        match self {
            Op::Put { ids, .. } | Op::Delete { ids } => ids.len(),
            Op::Update { items } => items.len(),
            Op::Repair => 0,
        }
    }

    /// Whether the op carries named vector fields' vectors.
    fn has_named(&self) -> bool {
        match self {
            Op::Put { named, .. } => !named.is_empty(),
            Op::Update { items } => items.iter().any(|i| !i.named.is_empty()),
            Op::Delete { .. } | Op::Repair => false,
        }
    }

    /// The WAL record of this op, logged as op `seq` with its change-feed header.
    pub fn encode(&self, seq: u64, changes: &ChangeInfo) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(self.encoded_size_hint());
        w.u64(seq);
        let tag = match self {
            Op::Put { .. } => TAG_PUT,
            Op::Update { .. } => TAG_UPDATE,
            Op::Delete { .. } => TAG_DELETE,
            Op::Repair => TAG_REPAIR,
        };
        let named = if self.has_named() { WITH_NAMED } else { 0 };
        w.u8(tag | WITH_CHANGES | named);
        w.u64(changes.first);
        match self {
            Op::Put { upsert, ids, vectors, metadata, named } => {
                w.u8(*upsert as u8);
                w.u32(ids.len() as u32);
                for (id, meta) in ids.iter().zip(metadata) {
                    w.str(id);
                    w.opt_str(meta.as_deref());
                }
                w.f32s(vectors);
                if *upsert {
                    let mut replaced = changes.replaced.clone();
                    replaced.resize(ids.len(), false);
                    w.buf.extend_from_slice(&bitmap(&replaced));
                }
                if !named.is_empty() {
                    w.u32(named.len() as u32);
                    for block in named {
                        block.encode(&mut w);
                    }
                }
            }
            Op::Update { items } => {
                w.u32(items.len() as u32);
                for item in items {
                    w.str(&item.id);
                    match &item.vector {
                        Some(v) => {
                            w.u8(1);
                            w.f32s(v);
                        }
                        None => w.u8(0),
                    }
                    match &item.metadata {
                        MetadataChange::Keep => w.u8(0),
                        MetadataChange::Set(s) => {
                            w.u8(1);
                            w.str(s);
                        }
                        MetadataChange::Clear => w.u8(2),
                    }
                }
                if self.has_named() {
                    for item in items {
                        w.u32(item.named.len() as u32);
                        for (field, v) in &item.named {
                            w.str(field);
                            match v {
                                Some(v) => {
                                    w.u8(1);
                                    w.u32(v.len() as u32);
                                    w.f32s(v);
                                }
                                None => w.u8(0),
                            }
                        }
                    }
                }
            }
            Op::Delete { ids } => {
                w.u32(ids.len() as u32);
                for id in ids {
                    w.str(id);
                }
            }
            Op::Repair => {}
        }
        w.buf
    }

    /// Bytes of metadata text this op writes.
    pub fn metadata_bytes(&self) -> u64 {
        match self {
            Op::Put { metadata, .. } => metadata.iter().flatten().map(|m| m.len() as u64).sum(),
            Op::Update { items } => items
                .iter()
                .map(|i| match &i.metadata {
                    MetadataChange::Set(s) => s.len() as u64,
                    _ => 0,
                })
                .sum(),
            Op::Delete { .. } | Op::Repair => 0,
        }
    }

    /// Bytes of ids this op names.
    pub fn id_bytes(&self) -> u64 {
        match self {
            Op::Put { ids, .. } | Op::Delete { ids } => ids.iter().map(|i| i.len() as u64).sum(),
            Op::Update { items } => items.iter().map(|i| i.id.len() as u64).sum(),
            Op::Repair => 0,
        }
    }

    fn encoded_size_hint(&self) -> usize {
        match self {
            Op::Put { ids, vectors, named, .. } => {
                24 + ids.len() * 33 + vectors.len() * 4 + named.iter().map(|b| 16 + b.vectors.len() * 4).sum::<usize>()
            }
            Op::Update { items } => 16 + items.len() * 64,
            Op::Delete { ids } => 16 + ids.len() * 24,
            Op::Repair => 17,
        }
    }

    /// Decodes a payload written by [`Op::encode`] (or before format 5) for a collection of
    /// dimension `dim`.
    pub fn decode(payload: &[u8], dim: usize) -> Result<Logged, DecodeError> {
        let mut r = ByteReader::new(payload);
        let seq = r.u64()?;
        let tag = r.u8()?;
        let mut changes = (tag & WITH_CHANGES != 0).then(ChangeInfo::default);
        if let Some(c) = &mut changes {
            c.first = r.u64()?;
        }
        let with_named = tag & WITH_NAMED != 0;
        let op = match tag & !(WITH_CHANGES | WITH_NAMED) {
            TAG_PUT => {
                let upsert = r.u8()? != 0;
                let n = r.u32()? as usize;
                let (mut ids, mut metadata) = (Vec::new(), Vec::new());
                for _ in 0..n {
                    ids.push(read_id(&mut r)?.to_owned());
                    metadata.push(r.opt_str()?.map(str::to_owned));
                }
                let mut vectors = Vec::new();
                r.f32s_into(n * dim, &mut vectors)?;
                if let Some(c) = changes.as_mut().filter(|_| upsert) {
                    let bits = r.take(n.div_ceil(8))?;
                    c.replaced = (0..n).map(|i| bits[i / 8] & (1 << (i % 8)) != 0).collect();
                }
                let mut named = Vec::new();
                if with_named {
                    for _ in 0..r.u32()? {
                        named.push(NamedVectors::decode(&mut r, n)?);
                    }
                }
                Op::Put { upsert, ids, vectors: Cow::Owned(vectors), metadata, named }
            }
            TAG_UPDATE => {
                let n = r.u32()? as usize;
                let mut items = Vec::new();
                for _ in 0..n {
                    let id = read_id(&mut r)?.to_owned();
                    let vector = match r.u8()? {
                        0 => None,
                        _ => {
                            let mut v = Vec::with_capacity(dim);
                            r.f32s_into(dim, &mut v)?;
                            Some(v)
                        }
                    };
                    let metadata = match r.u8()? {
                        0 => MetadataChange::Keep,
                        1 => MetadataChange::Set(r.str()?.to_owned()),
                        _ => MetadataChange::Clear,
                    };
                    items.push(UpdateItem { id, vector, metadata, named: Vec::new() });
                }
                if with_named {
                    for item in &mut items {
                        for _ in 0..r.u32()? {
                            let field = r.str()?.to_owned();
                            let v = match r.u8()? {
                                0 => None,
                                _ => {
                                    let d = r.u32()? as usize;
                                    let mut v = Vec::with_capacity(d);
                                    r.f32s_into(d, &mut v)?;
                                    Some(v)
                                }
                            };
                            item.named.push((field, v));
                        }
                    }
                }
                Op::Update { items }
            }
            TAG_DELETE => {
                let n = r.u32()? as usize;
                let mut ids = Vec::new();
                for _ in 0..n {
                    ids.push(read_id(&mut r)?.to_owned());
                }
                Op::Delete { ids }
            }
            TAG_REPAIR => Op::Repair,
            t => return Err(DecodeError(format!("unknown op tag {t}"))),
        };
        if !r.is_empty() {
            return Err(DecodeError("trailing bytes after op".into()));
        }
        Ok(Logged { seq, changes, op })
    }

    /// The change-feed position of a record written by [`Op::encode`] without decoding its
    /// items: (first change, number of records). `None` for a record before format 5.
    pub fn peek_changes(payload: &[u8]) -> Result<Option<(u64, u64)>, DecodeError> {
        let mut r = ByteReader::new(payload);
        r.u64()?;
        let tag = r.u8()?;
        if tag & WITH_CHANGES == 0 {
            return Ok(None);
        }
        let first = r.u64()?;
        let n = match tag & !(WITH_CHANGES | WITH_NAMED) {
            TAG_PUT => {
                r.u8()?;
                r.u32()?
            }
            TAG_UPDATE | TAG_DELETE => r.u32()?,
            _ => 0,
        };
        Ok(Some((first, n as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_round_trips() {
        let ops = [
            Op::Put {
                upsert: true,
                ids: vec!["a".into(), "b".into()],
                vectors: vec![1.0, 2.0, 3.0, 4.0].into(),
                metadata: vec![Some("{\"x\":1}".into()), None],
                named: Vec::new(),
            },
            Op::Put {
                upsert: false,
                ids: vec!["a".into(), "b".into(), "c".into()],
                vectors: vec![0.5; 6].into(),
                metadata: vec![None, None, None],
                named: vec![
                    NamedVectors {
                        field: "body".into(),
                        dim: 3,
                        present: vec![true, false, true],
                        vectors: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0].into(),
                    },
                    NamedVectors {
                        field: "title".into(),
                        dim: 1,
                        present: vec![false, true, false],
                        vectors: vec![7.0].into(),
                    },
                ],
            },
            Op::Update {
                items: vec![
                    UpdateItem {
                        id: "a".into(),
                        vector: Some(vec![5.0, 6.0]),
                        metadata: MetadataChange::Keep,
                        named: Vec::new(),
                    },
                    UpdateItem {
                        id: "b".into(),
                        vector: None,
                        metadata: MetadataChange::Set("{}".into()),
                        named: Vec::new(),
                    },
                    UpdateItem { id: "c".into(), vector: None, metadata: MetadataChange::Clear, named: Vec::new() },
                ],
            },
            Op::Update {
                items: vec![
                    UpdateItem {
                        id: "a".into(),
                        vector: None,
                        metadata: MetadataChange::Keep,
                        named: vec![("body".into(), Some(vec![1.0, 2.0, 3.0])), ("title".into(), None)],
                    },
                    UpdateItem { id: "b".into(), vector: None, metadata: MetadataChange::Keep, named: Vec::new() },
                ],
            },
            Op::Delete { ids: vec!["a".into()] },
            Op::Repair,
        ];
        for (seq, op) in ops.into_iter().enumerate() {
            let replaced = if matches!(op, Op::Put { upsert: true, .. }) { vec![false, true] } else { Vec::new() };
            let changes = ChangeInfo { first: 10 * seq as u64 + 1, replaced };
            let bytes = op.encode(seq as u64, &changes);
            assert_eq!(Op::peek_changes(&bytes).unwrap(), Some((changes.first, op.len() as u64)));
            let len = op.len();
            assert_eq!(Op::decode(&bytes, 2).unwrap(), Logged { seq: seq as u64, changes: Some(changes), op });
            assert!(Op::decode(&bytes[..bytes.len() - 1], 2).is_err() || len == 0);
        }
    }

    #[test]
    fn records_before_format_5_decode_without_changes() {
        // seq 7, TAG_DELETE, one id "a": what format 4 wrote.
        let mut w = ByteWriter::default();
        w.u64(7);
        w.u8(TAG_DELETE);
        w.u32(1);
        w.str("a");
        let logged = Op::decode(&w.buf, 2).unwrap();
        assert_eq!(logged, Logged { seq: 7, changes: None, op: Op::Delete { ids: vec!["a".into()] } });
        assert_eq!(Op::peek_changes(&w.buf).unwrap(), None);
    }
}
