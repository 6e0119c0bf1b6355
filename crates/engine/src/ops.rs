//! Write operations as they are logged in the WAL and applied to a collection.
//!
//! Record payload: sequence number (u64) | op tag (u8) | op body. Vectors are stored already
//! prepared (normalised for cosine), so replay applies them without re-validating.

use std::borrow::Cow;

use libravdb_core::codec::{ByteReader, ByteWriter, DecodeError};

use crate::ids::read_id;

const TAG_PUT: u8 = 1;
const TAG_UPDATE: u8 = 2;
const TAG_DELETE: u8 = 3;
const TAG_REPAIR: u8 = 4;

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
}

/// A write batch, validated and ready to apply. Vectors are borrowed from the caller when
/// they need no change (a batch of 10k x 128 is then never copied before it is applied).
#[derive(Debug, Clone, PartialEq)]
pub enum Op<'a> {
    /// New records (`upsert: false`) or records that replace existing ones (`upsert: true`).
    /// `vectors` has layout (ids.len(), dim).
    Put {
        upsert: bool,
        ids: Vec<String>,
        vectors: Cow<'a, [f32]>,
        metadata: Vec<Option<String>>,
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

    pub fn encode(&self, seq: u64) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(self.encoded_size_hint());
        w.u64(seq);
        match self {
            Op::Put { upsert, ids, vectors, metadata } => {
                w.u8(TAG_PUT);
                w.u8(*upsert as u8);
                w.u32(ids.len() as u32);
                for (id, meta) in ids.iter().zip(metadata) {
                    w.str(id);
                    w.opt_str(meta.as_deref());
                }
                w.f32s(vectors);
            }
            Op::Update { items } => {
                w.u8(TAG_UPDATE);
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
            }
            Op::Delete { ids } => {
                w.u8(TAG_DELETE);
                w.u32(ids.len() as u32);
                for id in ids {
                    w.str(id);
                }
            }
            Op::Repair => w.u8(TAG_REPAIR),
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
            Op::Put { ids, vectors, .. } => 16 + ids.len() * 32 + vectors.len() * 4,
            Op::Update { items } => 16 + items.len() * 64,
            Op::Delete { ids } => 16 + ids.len() * 24,
            Op::Repair => 9,
        }
    }

    /// Decodes a payload written by [`Op::encode`] for a collection of dimension `dim`.
    pub fn decode(payload: &[u8], dim: usize) -> Result<(u64, Op<'static>), DecodeError> {
        let mut r = ByteReader::new(payload);
        let seq = r.u64()?;
        let op = match r.u8()? {
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
                Op::Put { upsert, ids, vectors: Cow::Owned(vectors), metadata }
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
                    items.push(UpdateItem { id, vector, metadata });
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
        Ok((seq, op))
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
            },
            Op::Update {
                items: vec![
                    UpdateItem { id: "a".into(), vector: Some(vec![5.0, 6.0]), metadata: MetadataChange::Keep },
                    UpdateItem { id: "b".into(), vector: None, metadata: MetadataChange::Set("{}".into()) },
                    UpdateItem { id: "c".into(), vector: None, metadata: MetadataChange::Clear },
                ],
            },
            Op::Delete { ids: vec!["a".into()] },
            Op::Repair,
        ];
        for (seq, op) in ops.into_iter().enumerate() {
            let bytes = op.encode(seq as u64);
            assert_eq!(Op::decode(&bytes, 2).unwrap(), (seq as u64, op));
            assert!(Op::decode(&bytes[..bytes.len() - 1], 2).is_err());
        }
    }
}
