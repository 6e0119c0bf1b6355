//! Serialised form of a [`PayloadIndex`], so a checkpoint can store it and an open can load it
//! instead of re-parsing every record's metadata.
//!
//! Little-endian: field count (u32), then per field in name order: name, type (both
//! length-prefixed strings), the `present` and `nulls` bitmaps, keyword count (u32) and per
//! keyword a tag (0 string + the string, 1 false, 2 true) and its bitmap, number count (u32)
//! and per number its f64 bits (u64) and bitmap. A bitmap is a u32 length and roaring's
//! portable serialisation. Reading validates the structure (roaring checks its own part)
//! and fails, never panics, on damage.

use std::collections::HashMap;

use libravdb_core::codec::{ByteReader, ByteWriter, DecodeError};
use roaring::RoaringBitmap;

use super::{FieldIndex, FieldType, Key, Num, PayloadIndex};

fn put_bitmap(w: &mut ByteWriter, b: &RoaringBitmap) {
    w.u32(b.serialized_size() as u32);
    b.serialize_into(&mut w.buf).expect("writing to a Vec cannot fail");
}

fn bitmap(r: &mut ByteReader<'_>) -> Result<RoaringBitmap, DecodeError> {
    RoaringBitmap::deserialize_from(r.bytes()?).map_err(|e| DecodeError(format!("bad bitmap: {e}")))
}

impl PayloadIndex {
    /// The serialised indexes (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(self.bytes() + 64);
        let mut names: Vec<&String> = self.fields.keys().collect();
        names.sort();
        w.u32(names.len() as u32);
        for name in names {
            let (t, idx) = &self.fields[name];
            w.str(name);
            w.str(t.as_str());
            put_bitmap(&mut w, &idx.present);
            put_bitmap(&mut w, &idx.nulls);
            w.u32(idx.keywords.len() as u32);
            for (key, rows) in &idx.keywords {
                match key {
                    Key::Str(s) => {
                        w.u8(0);
                        w.str(s);
                    }
                    Key::Bool(b) => w.u8(1 + u8::from(*b)),
                }
                put_bitmap(&mut w, rows);
            }
            w.u32(idx.numbers.len() as u32);
            for (num, rows) in &idx.numbers {
                w.u64(num.0.to_bits());
                put_bitmap(&mut w, rows);
            }
        }
        w.buf
    }

    /// Reads indexes written by [`PayloadIndex::to_bytes`]; they must cover exactly `schema`.
    pub fn from_bytes(
        bytes: &[u8],
        schema: impl IntoIterator<Item = (String, FieldType)>,
    ) -> Result<PayloadIndex, String> {
        Self::decode(bytes, schema).map_err(|e| e.0)
    }

    fn decode(
        bytes: &[u8],
        schema: impl IntoIterator<Item = (String, FieldType)>,
    ) -> Result<PayloadIndex, DecodeError> {
        let err = |s: String| DecodeError(s);
        let mut expected: HashMap<String, FieldType> = super::indexed(schema).collect();
        let mut r = ByteReader::new(bytes);
        let mut fields = HashMap::with_capacity(expected.len());
        for _ in 0..r.u32()? {
            let name = r.str()?.to_owned();
            let spelled = r.str()?;
            let t =
                FieldType::parse(spelled).ok_or_else(|| err(format!("field '{name}': unknown type '{spelled}'")))?;
            if expected.remove(&name) != Some(t) {
                return Err(err(format!("field '{name}' ({spelled}) is not in the schema")));
            }
            let mut idx = FieldIndex { present: bitmap(&mut r)?, nulls: bitmap(&mut r)?, ..Default::default() };
            for _ in 0..r.u32()? {
                let key = match r.u8()? {
                    0 => Key::Str(r.str()?.to_owned()),
                    tag @ (1 | 2) => Key::Bool(tag == 2),
                    tag => return Err(err(format!("field '{name}': keyword tag {tag}"))),
                };
                idx.keywords.insert(key, bitmap(&mut r)?);
            }
            for _ in 0..r.u32()? {
                let x = f64::from_bits(r.u64()?);
                if !x.is_finite() {
                    return Err(err(format!("field '{name}': non-finite number")));
                }
                idx.numbers.insert(Num(x), bitmap(&mut r)?);
            }
            fields.insert(name, (t, idx));
        }
        if let Some(name) = expected.keys().next() {
            return Err(err(format!("schema field '{name}' is missing")));
        }
        if !r.is_empty() {
            return Err(err(format!("{} trailing bytes", r.remaining())));
        }
        Ok(PayloadIndex::with_fields(fields))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Filter;

    fn schema() -> Vec<(String, FieldType)> {
        [
            ("cat", FieldType::String),
            ("price", FieldType::Float),
            ("tags", FieldType::StringArray),
            ("ok", FieldType::Bool),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_owned(), t))
        .collect()
    }

    #[test]
    fn round_trip_answers_like_the_original() {
        let mut idx = PayloadIndex::new(schema());
        let metas = [
            json!({"cat": "a", "price": 1.5, "tags": ["x", "y"], "ok": true}),
            json!({"cat": "b", "price": null, "tags": [], "ok": false}),
            json!({"cat": "a", "price": -3.0, "extra": 1}),
            json!({}),
        ];
        let mut all = RoaringBitmap::new();
        for (row, m) in metas.iter().enumerate() {
            idx.insert(row as u32, m.as_object());
            all.insert(row as u32);
        }
        let back = PayloadIndex::from_bytes(&idx.to_bytes(), schema()).unwrap();
        for f in [
            json!({"field": "cat", "op": "eq", "value": "a"}),
            json!({"field": "price", "op": "gte", "value": -3}),
            json!({"field": "price", "op": "eq", "value": null}),
            json!({"field": "tags", "op": "contains", "value": "y"}),
            json!({"field": "ok", "op": "eq", "value": false}),
            json!({"field": "cat", "op": "exists", "value": true}),
        ] {
            let f = Filter::parse(&f).unwrap();
            assert_eq!(back.evaluate(&f, &all), idx.evaluate(&f, &all), "{f:?}");
        }
        assert_eq!(back.bytes(), idx.bytes());
    }

    #[test]
    fn damage_and_schema_drift_are_errors() {
        let mut idx = PayloadIndex::new(schema());
        idx.insert(0, json!({"cat": "a", "price": 2}).as_object());
        let bytes = idx.to_bytes();
        for cut in [0, 3, bytes.len() / 2, bytes.len() - 1] {
            assert!(PayloadIndex::from_bytes(&bytes[..cut], schema()).is_err(), "cut at {cut}");
        }
        let mut other = schema();
        other.pop();
        assert!(PayloadIndex::from_bytes(&bytes, other).unwrap_err().contains("not in the schema"));
        let mut more = schema();
        more.push(("year".into(), FieldType::Int));
        assert!(PayloadIndex::from_bytes(&bytes, more).unwrap_err().contains("missing"));
    }
}
