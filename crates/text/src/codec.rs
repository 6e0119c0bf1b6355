//! Serialised form of a [`TextIndex`], written at checkpoint so an open loads it instead of
//! analysing every record's text again.
//!
//! Little-endian: field count (u32), then per field in name order: name and options (JSON)
//! as length-prefixed strings, row count (u32) and each row's length in terms (varint), term
//! count (u32) and per term in byte order the term (string), its row count (u32), the rows
//! (ascending: the first, then each one's distance to the previous minus 1, varints) and
//! their term frequencies (varints). Document and term totals are recounted from the
//! lengths. Then the sparse fields: count (u32), per field in name order its name, dimension
//! count (u32) and per dimension the dimension (u32), row count (u32), rows (as above) and
//! weights (f32 bits). Varints are LEB128 (7 bits a byte, low first): most postings take 2
//! bytes instead of 8. Reading checks the structure and fails, never panics, on damage.

use std::collections::{BTreeMap, HashMap};

use libravdb_core::codec::{ByteReader, ByteWriter, DecodeError};

use crate::analyzer::{Analyzer, TextOptions};
use crate::index::{FieldIndex, Postings, TextIndex};
use crate::sparse::{SparseField, Weights};

impl TextIndex {
    /// The serialised indexes (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(self.bytes() + 64);
        w.u32(self.fields().len() as u32);
        for (name, f) in self.fields() {
            w.str(name);
            w.str(&serde_json::to_string(&f.options).expect("options serialise"));
            w.u32(f.lengths.len() as u32);
            f.lengths.iter().for_each(|&l| varint(&mut w, l));
            let mut terms: Vec<(&String, &Postings)> = f.postings.iter().collect();
            terms.sort_unstable_by(|a, b| a.0.cmp(b.0));
            w.u32(terms.len() as u32);
            for (term, p) in terms {
                w.str(term);
                w.u32(p.rows.len() as u32);
                put_rows(&mut w, &p.rows);
                p.tfs.iter().for_each(|&t| varint(&mut w, t));
            }
        }
        w.u32(self.sparse_fields().len() as u32);
        for (name, f) in self.sparse_fields() {
            w.str(name);
            let mut dims: Vec<(&u32, &Weights)> = f.dims.iter().collect();
            dims.sort_unstable_by_key(|d| *d.0);
            w.u32(dims.len() as u32);
            for (dim, d) in dims {
                w.u32(*dim);
                w.u32(d.rows.len() as u32);
                put_rows(&mut w, &d.rows);
                d.weights.iter().for_each(|&x| w.u32(x.to_bits()));
            }
        }
        w.buf
    }

    /// Reads indexes written by [`TextIndex::to_bytes`]; they must hold exactly the text
    /// `fields`, with the same options, and the sparse fields `sparse`.
    pub fn from_bytes(bytes: &[u8], fields: &[(String, TextOptions)], sparse: &[String]) -> Result<TextIndex, String> {
        read(bytes, fields, sparse).map_err(|e| e.0)
    }
}

fn bad(reason: impl Into<String>) -> DecodeError {
    DecodeError(reason.into())
}

fn varint(w: &mut ByteWriter, mut v: u32) {
    while v >= 0x80 {
        w.u8((v as u8) | 0x80);
        v >>= 7;
    }
    w.u8(v as u8);
}

fn read_varint(r: &mut ByteReader<'_>) -> Result<u32, DecodeError> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        let b = r.u8()?;
        let part = u32::from(b & 0x7f);
        if shift == 28 && part > 0x0f {
            return Err(bad("varint overflows 32 bits"));
        }
        v |= part << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(bad("varint longer than 5 bytes"))
}

fn varints(r: &mut ByteReader<'_>, n: usize) -> Result<Vec<u32>, DecodeError> {
    let mut out = Vec::with_capacity(n.min(r.remaining()));
    for _ in 0..n {
        out.push(read_varint(r)?);
    }
    Ok(out)
}

/// Ascending rows: the first, then each gap minus 1.
fn put_rows(w: &mut ByteWriter, rows: &[u32]) {
    let mut prev: Option<u32> = None;
    for &row in rows {
        varint(w, prev.map_or(row, |p| row - p - 1));
        prev = Some(row);
    }
}

/// Rows written by [`put_rows`]: strictly ascending by construction.
fn read_rows(r: &mut ByteReader<'_>, n: usize) -> Result<Vec<u32>, DecodeError> {
    let mut out = Vec::with_capacity(n.min(r.remaining()));
    let mut prev: Option<u32> = None;
    for _ in 0..n {
        let d = read_varint(r)?;
        let row = match prev {
            None => d,
            Some(p) => p.checked_add(d).and_then(|x| x.checked_add(1)).ok_or_else(|| bad("row past 2^32"))?,
        };
        out.push(row);
        prev = Some(row);
    }
    Ok(out)
}

fn u32s(r: &mut ByteReader<'_>, n: usize) -> Result<Vec<u32>, DecodeError> {
    let raw = r.take(n.checked_mul(4).ok_or_else(|| bad("length overflows"))?)?;
    Ok(raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

fn read(bytes: &[u8], expected: &[(String, TextOptions)], sparse: &[String]) -> Result<TextIndex, DecodeError> {
    let mut r = ByteReader::new(bytes);
    let count = r.u32()? as usize;
    if count != expected.len() {
        return Err(bad(format!("{count} text fields stored, the schema has {}", expected.len())));
    }
    let mut fields = BTreeMap::new();
    for _ in 0..count {
        let name = r.str()?.to_owned();
        let options: TextOptions =
            serde_json::from_str(r.str()?).map_err(|e| bad(format!("text field '{name}': bad options: {e}")))?;
        if fields.contains_key(&name) || !expected.iter().any(|(n, o)| *n == name && *o == options) {
            return Err(bad(format!("text field '{name}' is not in the schema with these options")));
        }
        let rows = r.u32()? as usize;
        let lengths = varints(&mut r, rows)?;
        let terms = r.u32()? as usize;
        let mut postings = HashMap::with_capacity(terms.min(r.remaining()));
        for _ in 0..terms {
            let term = r.str()?.to_owned();
            let n = r.u32()? as usize;
            let p = Postings { rows: read_rows(&mut r, n)?, tfs: varints(&mut r, n)? };
            let indexed = p.rows.iter().all(|&row| lengths.get(row as usize).is_some_and(|&l| l > 0));
            if n == 0 || !indexed || p.tfs.contains(&0) {
                return Err(bad(format!("text field '{name}': damaged postings of '{term}'")));
            }
            postings.insert(term, p);
        }
        let docs = lengths.iter().filter(|&&l| l > 0).count() as u64;
        let total_terms = lengths.iter().map(|&l| u64::from(l)).sum();
        let analyzer = Analyzer::new(&options);
        fields.insert(name, FieldIndex { options, analyzer, postings, lengths, docs, total_terms });
    }
    let count = r.u32()? as usize;
    if count != sparse.len() {
        return Err(bad(format!("{count} sparse fields stored, the schema has {}", sparse.len())));
    }
    let mut sparse_fields = BTreeMap::new();
    for _ in 0..count {
        let name = r.str()?.to_owned();
        if sparse_fields.contains_key(&name) || !sparse.contains(&name) {
            return Err(bad(format!("sparse field '{name}' is not in the schema")));
        }
        let n = r.u32()? as usize;
        let mut dims = HashMap::with_capacity(n.min(r.remaining()));
        for _ in 0..n {
            let dim = r.u32()?;
            let rows = r.u32()? as usize;
            let d = Weights {
                rows: read_rows(&mut r, rows)?,
                weights: u32s(&mut r, rows)?.into_iter().map(f32::from_bits).collect(),
            };
            if rows == 0 || d.weights.iter().any(|x| !x.is_finite()) {
                return Err(bad(format!("sparse field '{name}': damaged dimension {dim}")));
            }
            dims.insert(dim, d);
        }
        sparse_fields.insert(name, SparseField { dims });
    }
    if !r.is_empty() {
        return Err(bad("trailing bytes after the text indexes"));
    }
    Ok(TextIndex::from_parts(fields, sparse_fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_rows_round_trip_at_the_edges() {
        let mut w = ByteWriter::with_capacity(64);
        let values = [0, 1, 127, 128, 16_383, 16_384, u32::MAX - 1, u32::MAX];
        values.iter().for_each(|&v| varint(&mut w, v));
        let rows = [0, 1, 2, 1000, u32::MAX - 1, u32::MAX];
        put_rows(&mut w, &rows);
        let mut r = ByteReader::new(&w.buf);
        assert_eq!(varints(&mut r, values.len()).unwrap(), values);
        assert_eq!(read_rows(&mut r, rows.len()).unwrap(), rows);
        assert!(r.is_empty());
        // Six continuation bytes, or a fifth byte past 32 bits: refused.
        assert!(read_varint(&mut ByteReader::new(&[0xff; 6])).is_err());
        assert!(read_varint(&mut ByteReader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f])).is_err());
        // A gap that runs past u32::MAX: refused.
        let mut w = ByteWriter::with_capacity(16);
        varint(&mut w, u32::MAX);
        varint(&mut w, 0);
        assert!(read_rows(&mut ByteReader::new(&w.buf), 2).is_err());
    }
}
