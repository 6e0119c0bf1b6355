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

use roaring::RoaringBitmap;

use super::{FieldIndex, FieldType, Key, Num, PayloadIndex};

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

fn put_bitmap(out: &mut Vec<u8>, b: &RoaringBitmap) {
    put_u32(out, b.serialized_size() as u32);
    b.serialize_into(&mut *out).expect("writing to a Vec cannot fail");
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.buf.len() {
            return Err(format!("truncated: wanted {n} bytes, {} left", self.buf.len()));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn str(&mut self) -> Result<&'a str, String> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|e| format!("bad UTF-8: {e}"))
    }
    fn bitmap(&mut self) -> Result<RoaringBitmap, String> {
        let n = self.u32()? as usize;
        RoaringBitmap::deserialize_from(self.take(n)?).map_err(|e| format!("bad bitmap: {e}"))
    }
}

impl PayloadIndex {
    /// The serialised indexes (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes() + 64);
        let mut names: Vec<&String> = self.fields.keys().collect();
        names.sort();
        put_u32(&mut out, names.len() as u32);
        for name in names {
            let (t, idx) = &self.fields[name];
            put_str(&mut out, name);
            put_str(&mut out, t.as_str());
            put_bitmap(&mut out, &idx.present);
            put_bitmap(&mut out, &idx.nulls);
            put_u32(&mut out, idx.keywords.len() as u32);
            for (key, rows) in &idx.keywords {
                match key {
                    Key::Str(s) => {
                        out.push(0);
                        put_str(&mut out, s);
                    }
                    Key::Bool(b) => out.push(1 + u8::from(*b)),
                }
                put_bitmap(&mut out, rows);
            }
            put_u32(&mut out, idx.numbers.len() as u32);
            for (num, rows) in &idx.numbers {
                out.extend_from_slice(&num.0.to_bits().to_le_bytes());
                put_bitmap(&mut out, rows);
            }
        }
        out
    }

    /// Reads indexes written by [`PayloadIndex::to_bytes`]; they must cover exactly `schema`.
    pub fn from_bytes(
        bytes: &[u8],
        schema: impl IntoIterator<Item = (String, FieldType)>,
    ) -> Result<PayloadIndex, String> {
        let mut expected: HashMap<String, FieldType> = schema.into_iter().collect();
        let mut r = Reader { buf: bytes };
        let mut fields = HashMap::with_capacity(expected.len());
        for _ in 0..r.u32()? {
            let name = r.str()?.to_owned();
            let spelled = r.str()?;
            let t = FieldType::parse(spelled).ok_or_else(|| format!("field '{name}': unknown type '{spelled}'"))?;
            if expected.remove(&name) != Some(t) {
                return Err(format!("field '{name}' ({spelled}) is not in the schema"));
            }
            let mut idx = FieldIndex { present: r.bitmap()?, nulls: r.bitmap()?, ..Default::default() };
            for _ in 0..r.u32()? {
                let key = match r.u8()? {
                    0 => Key::Str(r.str()?.to_owned()),
                    tag @ (1 | 2) => Key::Bool(tag == 2),
                    tag => return Err(format!("field '{name}': keyword tag {tag}")),
                };
                idx.keywords.insert(key, r.bitmap()?);
            }
            for _ in 0..r.u32()? {
                let x = f64::from_bits(r.u64()?);
                if !x.is_finite() {
                    return Err(format!("field '{name}': non-finite number"));
                }
                idx.numbers.insert(Num(x), r.bitmap()?);
            }
            fields.insert(name, (t, idx));
        }
        if let Some(name) = expected.keys().next() {
            return Err(format!("schema field '{name}' is missing"));
        }
        if !r.buf.is_empty() {
            return Err(format!("{} trailing bytes", r.buf.len()));
        }
        Ok(PayloadIndex { fields })
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
