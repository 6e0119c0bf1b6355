//! Payload indexes over schema fields: for `string`, `bool` and `string[]` a roaring bitmap
//! of rows per value (array fields: per element); for `int`, `float`, `date` and `number[]`
//! a sorted map from value to rows, so a range is a union of bitmaps. Each field also keeps
//! the rows where it is present and where it is null.
//!
//! [`PayloadIndex::evaluate`] turns a filter over indexed fields into the exact set of
//! matching rows (its length is the planner's cardinality estimate); it returns `None` when
//! the filter needs a field or an operator the indexes cannot answer (e.g. a range over
//! strings), and the caller evaluates record by record instead. Metadata must already
//! conform to the schema (values of another type are not indexed).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

mod codec;

use roaring::{MultiOps, RoaringBitmap};
use serde_json::{Map, Value};

use crate::ast::{Filter, Op, Scalar};

/// The type of a schema field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Int,
    Float,
    Bool,
    /// Epoch milliseconds.
    Date,
    StringArray,
    NumberArray,
    /// Full text: searched with BM25 (`libravdb-text`), not indexed here; filters on it
    /// are evaluated record by record.
    Text,
    /// A sparse vector `{ indices, values }`: searched by inner product (`libravdb-text`),
    /// not indexed here.
    Sparse,
}

impl FieldType {
    /// Parses the schema spelling (`"string"`, `"int"`, `"float"`, `"bool"`, `"date"`,
    /// `"string[]"`, `"number[]"`).
    pub fn parse(s: &str) -> Option<FieldType> {
        Some(match s {
            "string" => FieldType::String,
            "int" => FieldType::Int,
            "float" => FieldType::Float,
            "bool" => FieldType::Bool,
            "date" => FieldType::Date,
            "string[]" => FieldType::StringArray,
            "number[]" => FieldType::NumberArray,
            "text" => FieldType::Text,
            "sparse" => FieldType::Sparse,
            _ => return None,
        })
    }

    /// The schema spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Int => "int",
            FieldType::Float => "float",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::StringArray => "string[]",
            FieldType::NumberArray => "number[]",
            FieldType::Text => "text",
            FieldType::Sparse => "sparse",
        }
    }

    /// Whether `v` (not null) is a value of this type. Dates are epoch milliseconds.
    pub fn accepts(self, v: &Value) -> bool {
        match (self, v) {
            (FieldType::String | FieldType::Text, Value::String(_)) | (FieldType::Bool, Value::Bool(_)) => true,
            (FieldType::Int, Value::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|x| x.fract() == 0.0)
            }
            (FieldType::Float | FieldType::Date, Value::Number(_)) => true,
            (FieldType::StringArray, Value::Array(items)) => items.iter().all(Value::is_string),
            (FieldType::NumberArray, Value::Array(items)) => items.iter().all(Value::is_number),
            (FieldType::Sparse, v) => sparse_pairs(v).is_ok(),
            _ => false,
        }
    }

    fn numeric(self) -> bool {
        matches!(self, FieldType::Int | FieldType::Float | FieldType::Date | FieldType::NumberArray)
    }

    fn array(self) -> bool {
        matches!(self, FieldType::StringArray | FieldType::NumberArray)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Str(String),
    Bool(bool),
}

/// f64 ordered by `total_cmp` (values are finite: JSON has no NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Num(f64);

impl Eq for Num {}
impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Num {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Debug, Default)]
pub(crate) struct FieldIndex {
    keywords: HashMap<Key, RoaringBitmap>,
    numbers: BTreeMap<Num, RoaringBitmap>,
    /// Rows where the field exists (null included).
    present: RoaringBitmap,
    /// Rows where the field is null.
    nulls: RoaringBitmap,
}

/// Indexes of every schema field.
#[derive(Debug, Default)]
pub struct PayloadIndex {
    fields: HashMap<String, (FieldType, FieldIndex)>,
    /// Serialized bytes of every bitmap, kept up to date by each update ([`PayloadIndex::bytes`]
    /// is read on every write's memory accounting and by `stats()`: no walk there).
    bytes: usize,
}

/// What a bitmap counts in [`PayloadIndex::bytes`]: its serialized size, 0 when empty (a new
/// map entry starts empty, so an update's before and after are measured alike).
fn bitmap_bytes(b: &RoaringBitmap) -> usize {
    if b.is_empty() { 0 } else { b.serialized_size() }
}

/// The fields of `schema` this index holds: all but `text` and `sparse` ones.
fn indexed(schema: impl IntoIterator<Item = (String, FieldType)>) -> impl Iterator<Item = (String, FieldType)> {
    schema.into_iter().filter(|(_, t)| !matches!(t, FieldType::Text | FieldType::Sparse))
}

/// The (index, weight) pairs of a sparse vector `{ "indices": [u32...], "values": [f32...] }`
/// (same length, distinct indices, finite weights), or why `v` is not one.
pub fn sparse_pairs(v: &Value) -> Result<Vec<(u32, f32)>, String> {
    let (Some(indices), Some(values)) =
        (v.get("indices").and_then(Value::as_array), v.get("values").and_then(Value::as_array))
    else {
        return Err("a sparse vector is { indices: [...], values: [...] }".into());
    };
    if v.as_object().is_some_and(|o| o.len() != 2) {
        return Err("a sparse vector has only indices and values".into());
    }
    if indices.len() != values.len() {
        return Err(format!("{} indices but {} values", indices.len(), values.len()));
    }
    let mut out = Vec::with_capacity(indices.len());
    for (i, w) in indices.iter().zip(values) {
        let i = i
            .as_u64()
            .filter(|&i| i <= u64::from(u32::MAX))
            .ok_or_else(|| format!("index {i} is not an integer from 0 to 2^32 - 1"))?;
        let w = w
            .as_f64()
            .filter(|w| w.is_finite() && w.abs() <= f64::from(f32::MAX))
            .ok_or_else(|| format!("weight {w} is not a finite number"))?;
        out.push((i as u32, w as f32));
    }
    let mut seen: Vec<u32> = out.iter().map(|p| p.0).collect();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err("a sparse vector's indices must be distinct".into());
    }
    Ok(out)
}

fn key_of(v: &Value) -> Option<Key> {
    match v {
        Value::String(s) => Some(Key::Str(s.clone())),
        Value::Bool(b) => Some(Key::Bool(*b)),
        _ => None,
    }
}

fn key_of_scalar(s: &Scalar) -> Option<Key> {
    match s {
        Scalar::String(s) => Some(Key::Str(s.clone())),
        Scalar::Bool(b) => Some(Key::Bool(*b)),
        _ => None,
    }
}

impl PayloadIndex {
    /// Empty indexes for `schema` (its `text` fields are left to the full-text index).
    pub fn new(schema: impl IntoIterator<Item = (String, FieldType)>) -> Self {
        let fields: HashMap<_, _> = indexed(schema).map(|(name, t)| (name, (t, FieldIndex::default()))).collect();
        Self::with_fields(fields)
    }

    /// An index of these fields, its byte count measured once.
    pub(crate) fn with_fields(fields: HashMap<String, (FieldType, FieldIndex)>) -> Self {
        let bytes = fields
            .values()
            .map(|(_, f)| {
                let maps = f.keywords.values().chain(f.numbers.values()).map(bitmap_bytes).sum::<usize>();
                maps + bitmap_bytes(&f.present) + bitmap_bytes(&f.nulls)
            })
            .sum();
        Self { fields, bytes }
    }

    /// Takes over the fields `other` indexes (a field indexed beside this index while a
    /// live collection added it to its schema).
    pub fn absorb(&mut self, other: PayloadIndex) {
        self.bytes += other.bytes;
        self.fields.extend(other.fields);
    }

    /// Drops `field`'s index (false when it had none).
    pub fn drop_field(&mut self, field: &str) -> bool {
        if self.fields.remove(field).is_none() {
            return false;
        }
        *self = Self::with_fields(std::mem::take(&mut self.fields));
        true
    }

    /// Whether no field is indexed.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether `field` is indexed.
    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// Heap bytes of the bitmaps (serialized size, a close estimate).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds (`add: true`) or removes the indexed values of `row`'s metadata.
    fn update(&mut self, row: u32, meta: Option<&Map<String, Value>>, add: bool) {
        let Some(meta) = meta else { return };
        let mut grown = 0isize;
        let mut set = |b: &mut RoaringBitmap| {
            let before = bitmap_bytes(b) as isize;
            if add {
                b.insert(row);
            } else {
                b.remove(row);
            }
            grown += bitmap_bytes(b) as isize - before;
        };
        for (name, (t, idx)) in &mut self.fields {
            let Some(v) = crate::eval::lookup(meta, name) else { continue };
            set(&mut idx.present);
            let items: Vec<&Value> = match (t.array(), v) {
                (_, Value::Null) => {
                    set(&mut idx.nulls);
                    continue;
                }
                (true, Value::Array(items)) => items.iter().collect(),
                (true, _) | (false, Value::Array(_)) => continue,
                (false, v) => vec![v],
            };
            for item in items {
                if t.numeric() {
                    if let Some(x) = item.as_f64() {
                        set(idx.numbers.entry(Num(x)).or_default());
                    }
                } else if let Some(k) = key_of(item) {
                    set(idx.keywords.entry(k).or_default());
                }
            }
        }
        self.bytes = self.bytes.saturating_add_signed(grown);
    }

    /// Indexes `row`'s metadata.
    pub fn insert(&mut self, row: u32, meta: Option<&Map<String, Value>>) {
        self.update(row, meta, true);
    }

    /// Removes `row`'s metadata (pass the metadata it was indexed with).
    pub fn remove(&mut self, row: u32, meta: Option<&Map<String, Value>>) {
        self.update(row, meta, false);
    }

    /// The rows of `all` matching `filter`, or `None` if the indexes cannot answer it.
    pub fn evaluate(&self, filter: &Filter, all: &RoaringBitmap) -> Option<RoaringBitmap> {
        match filter {
            Filter::And(fs) => {
                let mut acc = all.clone();
                for f in fs {
                    acc &= self.evaluate(f, all)?;
                }
                Some(acc)
            }
            Filter::Or(fs) => {
                let mut acc = RoaringBitmap::new();
                for f in fs {
                    acc |= self.evaluate(f, all)?;
                }
                Some(acc)
            }
            Filter::Not(f) => Some(all - self.evaluate(f, all)?),
            Filter::Field { name, op } => {
                let (t, idx) = self.fields.get(name)?;
                self.field(*t, idx, op, all).map(|b| b & all)
            }
        }
    }

    /// How many rows match `filter`, when that can be counted without building the row set:
    /// an equality or a range on one single-valued field, whose per-value bitmaps are
    /// disjoint and hold only indexed (live) rows, so their lengths add up. `None` for
    /// anything else ([`PayloadIndex::evaluate`] answers those).
    pub fn count(&self, filter: &Filter) -> Option<u64> {
        let Filter::Field { name, op } = filter else { return None };
        let (t, idx) = self.fields.get(name)?;
        if t.array() {
            return None;
        }
        let num = |s: &Scalar| match s {
            Scalar::Number(x) => Some(*x),
            _ => None,
        };
        let (lo, hi) = match op {
            Op::Eq(s) if !t.numeric() => return key_of_scalar(s).map(|k| idx.keywords.get(&k).map_or(0, |b| b.len())),
            Op::Eq(s) => (Bound::Included(num(s)?), Bound::Included(num(s)?)),
            Op::Gt(s) => (Bound::Excluded(num(s)?), Bound::Unbounded),
            Op::Gte(s) => (Bound::Included(num(s)?), Bound::Unbounded),
            Op::Lt(s) => (Bound::Unbounded, Bound::Excluded(num(s)?)),
            Op::Lte(s) => (Bound::Unbounded, Bound::Included(num(s)?)),
            Op::Between(a, b) => (Bound::Included(num(a)?), Bound::Included(num(b)?)),
            _ => return None,
        };
        if !t.numeric() {
            return None;
        }
        if let (Bound::Included(a), Bound::Included(b)) = (lo, hi)
            && a > b
        {
            return Some(0);
        }
        Some(idx.numbers.range((lo.map(Num), hi.map(Num))).map(|(_, b)| b.len()).sum())
    }

    /// Rows whose field equals `s` (the `eq` semantics of [`crate::eval`]).
    fn eq(&self, t: FieldType, idx: &FieldIndex, s: &Scalar, all: &RoaringBitmap) -> RoaringBitmap {
        match s {
            Scalar::Null => (all - &idx.present) | &idx.nulls,
            _ if t.array() => RoaringBitmap::new(), // an array never equals a scalar
            Scalar::Number(x) if t.numeric() => idx.numbers.get(&Num(*x)).cloned().unwrap_or_default(),
            _ if t.numeric() => RoaringBitmap::new(),
            _ => key_of_scalar(s).and_then(|k| idx.keywords.get(&k).cloned()).unwrap_or_default(),
        }
    }

    /// Rows holding `s` as an element of their array.
    fn element(&self, t: FieldType, idx: &FieldIndex, s: &Scalar) -> RoaringBitmap {
        if !t.array() {
            return RoaringBitmap::new();
        }
        match s {
            Scalar::Number(x) if t.numeric() => idx.numbers.get(&Num(*x)).cloned().unwrap_or_default(),
            _ if t.numeric() => RoaringBitmap::new(),
            _ => key_of_scalar(s).and_then(|k| idx.keywords.get(&k).cloned()).unwrap_or_default(),
        }
    }

    fn range(&self, t: FieldType, idx: &FieldIndex, lo: Bound<f64>, hi: Bound<f64>) -> Option<RoaringBitmap> {
        if !t.numeric() || t.array() {
            return None; // ranges over strings or arrays: evaluate record by record
        }
        let (lo, hi) = (lo.map(Num), hi.map(Num));
        if let (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) = (lo, hi)
            && a > b
        {
            return Some(RoaringBitmap::new());
        }
        // One multi-way union: folding `|=` over many small bitmaps is quadratic-ish.
        Some(idx.numbers.range((lo, hi)).map(|(_, b)| b).union())
    }

    fn field(&self, t: FieldType, idx: &FieldIndex, op: &Op, all: &RoaringBitmap) -> Option<RoaringBitmap> {
        let num = |s: &Scalar| match s {
            Scalar::Number(x) => Some(*x),
            _ => None,
        };
        // A bound of another type (e.g. a string against a numeric field) matches nothing.
        let bounded = |s: &Scalar, f: &dyn Fn(f64) -> Option<RoaringBitmap>| match num(s) {
            Some(x) => f(x),
            None if t.numeric() && !t.array() => Some(RoaringBitmap::new()),
            None => None,
        };
        Some(match op {
            Op::Eq(s) => self.eq(t, idx, s, all),
            Op::Ne(s) => all - self.eq(t, idx, s, all),
            Op::In(list) => list.iter().fold(RoaringBitmap::new(), |acc, s| acc | self.eq(t, idx, s, all)),
            Op::Nin(list) => all - list.iter().fold(RoaringBitmap::new(), |acc, s| acc | self.eq(t, idx, s, all)),
            Op::Gt(s) => bounded(s, &|x| self.range(t, idx, Bound::Excluded(x), Bound::Unbounded))?,
            Op::Gte(s) => bounded(s, &|x| self.range(t, idx, Bound::Included(x), Bound::Unbounded))?,
            Op::Lt(s) => bounded(s, &|x| self.range(t, idx, Bound::Unbounded, Bound::Excluded(x)))?,
            Op::Lte(s) => bounded(s, &|x| self.range(t, idx, Bound::Unbounded, Bound::Included(x)))?,
            Op::Between(lo, hi) => match (num(lo), num(hi)) {
                (Some(a), Some(b)) => self.range(t, idx, Bound::Included(a), Bound::Included(b))?,
                _ if t.numeric() && !t.array() => RoaringBitmap::new(),
                _ => return None,
            },
            Op::Contains(s) => self.element(t, idx, s),
            Op::ContainsAny(list) => list.iter().fold(RoaringBitmap::new(), |acc, s| acc | self.element(t, idx, s)),
            Op::ContainsAll(list) => {
                let arrays = if t.array() { &idx.present - &idx.nulls } else { RoaringBitmap::new() };
                list.iter().fold(arrays, |acc, s| acc & self.element(t, idx, s))
            }
            Op::Exists(true) => idx.present.clone(),
            Op::Exists(false) => all - &idx.present,
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng, rngs::StdRng};
    use serde_json::json;

    use super::*;
    use crate::eval::matches;

    fn schema() -> Vec<(String, FieldType)> {
        [
            ("cat", FieldType::String),
            ("price", FieldType::Float),
            ("year", FieldType::Int),
            ("ok", FieldType::Bool),
            ("tags", FieldType::StringArray),
            ("nums", FieldType::NumberArray),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect()
    }

    #[test]
    fn maintained_bytes_match_a_fresh_measurement() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut idx = PayloadIndex::new(schema());
        let metas: Vec<_> = (0..3000).map(|_| random_meta(&mut rng)).collect();
        for (row, m) in metas.iter().enumerate() {
            idx.insert(row as u32, m.as_ref());
        }
        for (row, m) in metas.iter().enumerate().step_by(3) {
            idx.remove(row as u32, m.as_ref());
        }
        let measured = PayloadIndex::from_bytes(&idx.to_bytes(), schema()).unwrap().bytes();
        assert!(measured > 1000);
        assert_eq!(idx.bytes(), measured);
    }

    fn random_meta(rng: &mut StdRng) -> Option<Map<String, Value>> {
        if rng.random_range(0..20) == 0 {
            return None;
        }
        let mut m = Map::new();
        let pick = |rng: &mut StdRng, p: u32| rng.random_range(0..100) < p;
        if pick(rng, 85) {
            m.insert(
                "cat".into(),
                if pick(rng, 5) { Value::Null } else { json!(["book", "film", "music"][rng.random_range(0..3)]) },
            );
        }
        if pick(rng, 85) {
            m.insert("price".into(), json!(rng.random_range(0..40) as f64 / 2.0));
        }
        if pick(rng, 85) {
            m.insert("year".into(), json!(rng.random_range(2015..2025)));
        }
        if pick(rng, 70) {
            m.insert("ok".into(), json!(pick(rng, 50)));
        }
        if pick(rng, 70) {
            let n = rng.random_range(0..4);
            m.insert(
                "tags".into(),
                json!((0..n).map(|_| ["a", "b", "c", "d"][rng.random_range(0..4)]).collect::<Vec<_>>()),
            );
        }
        if pick(rng, 50) {
            let n = rng.random_range(0..3);
            m.insert("nums".into(), json!((0..n).map(|_| rng.random_range(0..5)).collect::<Vec<_>>()));
        }
        Some(m)
    }

    fn random_scalar(rng: &mut StdRng, field: &str) -> Value {
        match (field, rng.random_range(0..12)) {
            (_, 0) => Value::Null,
            ("cat", _) => json!(["book", "film", "music", "none"][rng.random_range(0..4)]),
            ("price", _) => json!(rng.random_range(0..42) as f64 / 2.0),
            ("year", _) => json!(rng.random_range(2014..2026)),
            ("ok", _) => json!(rng.random_range(0..2) == 0),
            ("tags", _) => json!(["a", "b", "c", "d", "e"][rng.random_range(0..5)]),
            _ => json!(rng.random_range(0..6)),
        }
    }

    fn random_filter(rng: &mut StdRng, depth: u32) -> Value {
        if depth < 3 && rng.random_range(0..3) == 0 {
            let n = rng.random_range(0..4);
            let kids: Vec<Value> = (0..n).map(|_| random_filter(rng, depth + 1)).collect();
            return match rng.random_range(0..3) {
                0 => json!({ "and": kids }),
                1 => json!({ "or": kids }),
                _ => json!({ "not": random_filter(rng, depth + 1) }),
            };
        }
        let field = ["cat", "price", "year", "ok", "tags", "nums"][rng.random_range(0..6)];
        let ops = [
            "eq",
            "ne",
            "gt",
            "gte",
            "lt",
            "lte",
            "between",
            "in",
            "nin",
            "contains",
            "containsAny",
            "containsAll",
            "exists",
        ];
        let op = ops[rng.random_range(0..ops.len())];
        let value = match op {
            "between" => json!([random_scalar(rng, field), random_scalar(rng, field)]),
            "in" | "nin" | "containsAny" | "containsAll" => {
                let n = rng.random_range(0..3);
                Value::Array((0..n).map(|_| random_scalar(rng, field)).collect())
            }
            "exists" => json!(rng.random_range(0..2) == 0),
            _ => random_scalar(rng, field),
        };
        json!({ "field": field, "op": op, "value": value })
    }

    /// Property: wherever the indexes answer (or count), they answer exactly what
    /// record-by-record evaluation gives; every operator on every field type, random nesting
    /// up to 3 deep.
    #[test]
    fn index_answers_equal_the_reference_evaluator() {
        let mut rng = StdRng::seed_from_u64(11);
        let metas: Vec<Option<Map<String, Value>>> = (0..400).map(|_| random_meta(&mut rng)).collect();
        let mut index = PayloadIndex::new(schema());
        let mut all = RoaringBitmap::new();
        for (row, m) in metas.iter().enumerate() {
            index.insert(row as u32, m.as_ref());
            all.insert(row as u32);
        }
        // Delete some rows: removed from the universe and the indexes.
        for row in (0..400).step_by(7) {
            index.remove(row, metas[row as usize].as_ref());
            all.remove(row);
        }
        let (mut answered, mut counted, mut total) = (0, 0, 0);
        for _ in 0..3000 {
            let spec = random_filter(&mut rng, 0);
            let filter = Filter::parse(&spec).unwrap();
            total += 1;
            let Some(got) = index.evaluate(&filter, &all) else { continue };
            answered += 1;
            let want: RoaringBitmap = all.iter().filter(|&r| matches(&filter, metas[r as usize].as_ref())).collect();
            assert_eq!(got, want, "filter {spec}");
            if let Some(n) = index.count(&filter) {
                counted += 1;
                assert_eq!(n, want.len(), "count of {spec}");
            }
        }
        assert!(answered * 10 > total * 7, "indexes answered only {answered} of {total} filters");
        assert!(counted * 10 > total, "counted only {counted} of {total} filters");
    }

    #[test]
    fn string_ranges_fall_back_to_record_evaluation() {
        let index = PayloadIndex::new(schema());
        let f = Filter::parse(&json!({"field": "cat", "op": "gt", "value": "b"})).unwrap();
        assert!(index.evaluate(&f, &RoaringBitmap::new()).is_none());
        let unindexed = Filter::parse(&json!({"field": "other", "op": "eq", "value": 1})).unwrap();
        assert!(index.evaluate(&unindexed, &RoaringBitmap::new()).is_none());
    }
}
