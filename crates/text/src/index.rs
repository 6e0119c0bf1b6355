//! The inverted index of every `text` field of a collection, and BM25 search over it.

use std::collections::{BTreeMap, HashMap};

use libravdb_core::index::TopK;
use serde_json::{Map, Value};

use crate::analyzer::{Analyzer, TextOptions};
use crate::sparse::SparseField;

/// Rows holding one term, ascending, with the term's count in each.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Postings {
    pub rows: Vec<u32>,
    pub tfs: Vec<u32>,
}

impl Postings {
    fn insert(&mut self, row: u32, tf: u32) {
        match self.rows.binary_search(&row) {
            Ok(i) => self.tfs[i] = tf,
            Err(i) => {
                self.rows.insert(i, row);
                self.tfs.insert(i, tf);
            }
        }
    }

    fn remove(&mut self, row: u32) {
        if let Ok(i) = self.rows.binary_search(&row) {
            self.rows.remove(i);
            self.tfs.remove(i);
        }
    }
}

/// One field's index.
#[derive(Debug)]
pub(crate) struct FieldIndex {
    pub options: TextOptions,
    pub analyzer: Analyzer,
    pub postings: HashMap<String, Postings>,
    /// Terms in each row's field; 0 for rows without it (or with no term in it).
    pub lengths: Vec<u32>,
    /// Rows with at least one term, and their terms in all.
    pub docs: u64,
    pub total_terms: u64,
}

impl FieldIndex {
    pub(crate) fn new(options: TextOptions) -> Self {
        Self {
            analyzer: Analyzer::new(&options),
            options,
            postings: HashMap::new(),
            lengths: Vec::new(),
            docs: 0,
            total_terms: 0,
        }
    }

    fn length(&self, row: u32) -> u32 {
        self.lengths.get(row as usize).copied().unwrap_or(0)
    }

    fn insert(&mut self, row: u32, text: &str) {
        if self.length(row) > 0 {
            return; // indexed already (the caller removes a row's old text first)
        }
        let terms = self.analyzer.terms(text);
        if terms.is_empty() {
            return;
        }
        let mut counts: HashMap<&str, u32> = HashMap::new();
        for t in &terms {
            *counts.entry(t.as_str()).or_default() += 1;
        }
        for (term, tf) in counts {
            self.postings.entry(term.to_owned()).or_default().insert(row, tf);
        }
        if self.lengths.len() <= row as usize {
            self.lengths.resize(row as usize + 1, 0);
        }
        self.lengths[row as usize] = terms.len() as u32;
        self.docs += 1;
        self.total_terms += terms.len() as u64;
    }

    fn remove(&mut self, row: u32, text: &str) {
        let len = self.length(row);
        if len == 0 {
            return;
        }
        let mut terms = self.analyzer.terms(text);
        terms.sort_unstable();
        terms.dedup();
        for term in terms {
            if let Some(p) = self.postings.get_mut(&term) {
                p.remove(row);
                if p.rows.is_empty() {
                    self.postings.remove(&term);
                }
            }
        }
        self.lengths[row as usize] = 0;
        self.docs -= 1;
        self.total_terms -= u64::from(len);
    }
}

/// The inverted indexes of a collection's `text` and `sparse` fields, by field name.
#[derive(Debug, Default)]
pub struct TextIndex {
    fields: BTreeMap<String, FieldIndex>,
    sparse: BTreeMap<String, SparseField>,
}

/// What a sparse-vector search reads: for `explain()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparsePlan {
    pub field: String,
    /// The query's dimensions present in the index.
    pub matched_dims: usize,
    /// Their postings entries.
    pub postings: usize,
}

/// What one full-text search did: for `explain()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextSearch {
    /// The fields searched.
    pub fields: Vec<String>,
    /// The query's terms after analysis (per field, concatenated; repeats kept).
    pub terms: Vec<String>,
    /// Query terms found in the index.
    pub matched_terms: usize,
    /// Entries in the postings of the query's terms (a term repeated in the query counts
    /// each time): what a search without pruning reads.
    pub postings: usize,
    /// Rows scored, after the filter and MaxScore pruning (None: not searched).
    pub candidates: Option<usize>,
}

impl TextIndex {
    /// No text and no sparse field (a collection without them).
    pub const EMPTY: TextIndex = TextIndex { fields: BTreeMap::new(), sparse: BTreeMap::new() };

    /// Checks that every one of `fields` is a text field.
    pub fn check_fields(&self, fields: &[String]) -> Result<(), String> {
        self.chosen(fields).map(drop)
    }

    /// Empty indexes for text `fields` (options validated).
    pub fn new(fields: impl IntoIterator<Item = (String, TextOptions)>) -> Self {
        Self {
            fields: fields.into_iter().map(|(name, o)| (name, FieldIndex::new(o))).collect(),
            sparse: BTreeMap::new(),
        }
    }

    /// These indexes with empty ones for the sparse-vector fields `names`.
    pub fn with_sparse(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.sparse = names.into_iter().map(|n| (n, SparseField::default())).collect();
        self
    }

    pub(crate) fn from_parts(fields: BTreeMap<String, FieldIndex>, sparse: BTreeMap<String, SparseField>) -> Self {
        Self { fields, sparse }
    }

    pub(crate) fn fields(&self) -> &BTreeMap<String, FieldIndex> {
        &self.fields
    }

    pub(crate) fn sparse_fields(&self) -> &BTreeMap<String, SparseField> {
        &self.sparse
    }

    /// Takes over the text and sparse fields `other` indexes (one indexed beside these while
    /// a live collection added it to its schema).
    pub fn absorb(&mut self, other: TextIndex) {
        self.fields.extend(other.fields);
        self.sparse.extend(other.sparse);
    }

    /// Drops text or sparse field `name`'s index (false when it had none).
    pub fn drop_field(&mut self, name: &str) -> bool {
        self.fields.remove(name).is_some() | self.sparse.remove(name).is_some()
    }

    /// Whether the collection has no text and no sparse field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.sparse.is_empty()
    }

    /// Whether the collection has a text field.
    pub fn has_text(&self) -> bool {
        !self.fields.is_empty()
    }

    /// The sparse fields' names, sorted.
    pub fn sparse_names(&self) -> Vec<String> {
        self.sparse.keys().cloned().collect()
    }

    /// Whether `field` is a text field.
    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// The text fields' names, sorted.
    pub fn field_names(&self) -> Vec<String> {
        self.fields.keys().cloned().collect()
    }

    /// The terms `field`'s analyzer makes of `text` (None: not a text field).
    pub fn analyze(&self, field: &str, text: &str) -> Option<Vec<String>> {
        self.fields.get(field).map(|f| f.analyzer.terms(text))
    }

    /// Rows holding at least one term, per field.
    pub fn documents(&self, field: &str) -> Option<u64> {
        self.fields.get(field).map(|f| f.docs)
    }

    /// Heap bytes held (postings, lengths, term strings; hash-table overhead estimated).
    pub fn bytes(&self) -> usize {
        self.fields
            .values()
            .map(|f| {
                let postings: usize = f
                    .postings
                    .iter()
                    .map(|(t, p)| t.capacity() + (p.rows.capacity() + p.tfs.capacity()) * 4 + 72)
                    .sum();
                postings + f.lengths.capacity() * 4
            })
            .sum::<usize>()
            + self.sparse.values().map(SparseField::bytes).sum::<usize>()
    }

    /// Indexes the text and sparse fields of `row`'s metadata (strings and sparse vectors;
    /// other values are not indexed).
    pub fn insert(&mut self, row: u32, meta: Option<&Map<String, Value>>) {
        self.update(row, meta, true);
    }

    /// Removes `row`, indexed with `meta` (pass the metadata it was indexed with).
    pub fn remove(&mut self, row: u32, meta: Option<&Map<String, Value>>) {
        self.update(row, meta, false);
    }

    /// Adds (`add: true`) or removes `row`'s text and sparse values.
    fn update(&mut self, row: u32, meta: Option<&Map<String, Value>>, add: bool) {
        let Some(meta) = meta else { return };
        for (name, f) in &mut self.fields {
            if let Some(Value::String(text)) = libravdb_filter::eval::lookup(meta, name) {
                if add { f.insert(row, text) } else { f.remove(row, text) }
            }
        }
        for (name, f) in &mut self.sparse {
            if let Some(v) = libravdb_filter::eval::lookup(meta, name) {
                if add { f.insert(row, v) } else { f.remove(row, v) }
            }
        }
    }

    /// The `k` rows with the highest inner product with `query` ((dimension, weight) pairs)
    /// in sparse field `field` (the only one when None), only rows `allowed` passes; best
    /// first, ties by row. Also returns the postings entries read. Err: no such field.
    pub fn search_sparse(
        &self,
        query: &[(u32, f32)],
        field: Option<&str>,
        k: usize,
        allowed: &dyn Fn(u32) -> bool,
    ) -> Result<(Vec<(u32, f32)>, usize), String> {
        let f = self.sparse_field(field)?;
        let (mut scores, mut seen, mut touched) = (Vec::new(), Vec::new(), Vec::new());
        let read = f.score(query, &mut scores, &mut seen, &mut touched);
        let mut top = TopK::new(k);
        for &row in &touched {
            if allowed(row) {
                top.push(row, -(scores[row as usize] as f32));
            }
        }
        Ok((top.into_sorted().into_iter().map(|n| (n.row, -n.distance)).collect(), read))
    }

    /// What a sparse search for `query` in `field` would read (`explain()`): the field, the
    /// query's dimensions present in the index and their postings entries.
    pub fn plan_sparse(&self, query: &[(u32, f32)], field: Option<&str>) -> Result<SparsePlan, String> {
        let f = self.sparse_field(field)?;
        let name = match field {
            Some(n) => n.to_owned(),
            None => self.sparse.keys().next().cloned().unwrap_or_default(),
        };
        let present: Vec<usize> = query.iter().filter_map(|(i, _)| f.dims.get(i).map(|d| d.rows.len())).collect();
        Ok(SparsePlan { field: name, matched_dims: present.len(), postings: present.iter().sum() })
    }

    /// Checks that `field` names a sparse field (None: that the schema has exactly one).
    pub fn check_sparse_field(&self, field: Option<&str>) -> Result<(), String> {
        self.sparse_field(field).map(drop)
    }

    fn sparse_field(&self, field: Option<&str>) -> Result<&SparseField, String> {
        match field {
            Some(name) => self.sparse.get(name).ok_or_else(|| format!("'{name}' is not a sparse field of the schema")),
            None if self.sparse.len() == 1 => Ok(self.sparse.values().next().expect("one field")),
            None if self.sparse.is_empty() => {
                Err("this collection has no sparse field: declare one in its schema ({ splade: 'sparse' })".into())
            }
            None => Err(format!("say which sparse field to search: {}", self.sparse_names().join(", "))),
        }
    }

    /// Gives back spare capacity (`optimize()`): postings shrunk to their length, the lengths
    /// table cut after the last indexed row.
    pub fn compact(&mut self) {
        for f in self.fields.values_mut() {
            for p in f.postings.values_mut() {
                p.rows.shrink_to_fit();
                p.tfs.shrink_to_fit();
            }
            f.postings.shrink_to_fit();
            let used = f.lengths.iter().rposition(|&l| l > 0).map_or(0, |i| i + 1);
            f.lengths.truncate(used);
            f.lengths.shrink_to_fit();
        }
        self.sparse.values_mut().for_each(SparseField::compact);
    }

    /// The fields a search over `fields` reads (all text fields when empty).
    fn chosen<'a>(&'a self, fields: &[String]) -> Result<Vec<(&'a String, &'a FieldIndex)>, String> {
        if fields.is_empty() {
            return Ok(self.fields.iter().collect());
        }
        fields
            .iter()
            .map(|name| {
                self.fields.get_key_value(name).ok_or_else(|| format!("'{name}' is not a text field of the schema"))
            })
            .collect()
    }

    /// What a search for `query` over `fields` would read, without scoring (`explain()`):
    /// `candidates` is left `None`. Err names an unknown field.
    pub fn plan(&self, query: &str, fields: &[String]) -> Result<TextSearch, String> {
        let chosen = self.chosen(fields)?;
        let mut info =
            TextSearch { fields: chosen.iter().map(|(n, _)| (*n).clone()).collect(), ..TextSearch::default() };
        for (_, f) in chosen {
            for term in f.analyzer.terms(query) {
                if let Some(p) = f.postings.get(&term) {
                    info.matched_terms += 1;
                    info.postings += p.rows.len();
                }
                info.terms.push(term);
            }
        }
        Ok(info)
    }

    /// The `k` best rows for `query` by BM25 over `fields` (all text fields when empty),
    /// only rows `allowed` passes; best first, ties by row. Err names an unknown field.
    ///
    /// Document at a time with MaxScore pruning (Turtle & Flood, 1995): the query terms'
    /// postings are walked in row order together; terms whose summed score bounds cannot lift
    /// a row above the current k-th best are only looked up (by binary search) for rows the
    /// other terms bring, and a row is dropped as soon as its bound falls below it. Frequent,
    /// low-idf terms are then mostly skipped, not read.
    pub fn search(
        &self,
        query: &str,
        fields: &[String],
        k: usize,
        allowed: &dyn Fn(u32) -> bool,
    ) -> Result<(Vec<(u32, f32)>, TextSearch), String> {
        let chosen = self.chosen(fields)?;
        let mut info =
            TextSearch { fields: chosen.iter().map(|(n, _)| (*n).clone()).collect(), ..TextSearch::default() };
        let mut cursors: Vec<Cursor<'_>> = Vec::new();
        for (_, f) in chosen {
            let mut terms = f.analyzer.terms(query);
            info.terms.extend(terms.iter().cloned());
            if f.docs == 0 {
                continue;
            }
            let n = f.docs as f64;
            let avg = f.total_terms as f64 / n;
            let (k1, b) = (f.options.k1, f.options.b);
            // A term repeated in the query counts each time: one cursor, its idf multiplied.
            terms.sort_unstable();
            for group in terms.chunk_by(|x, y| x == y) {
                let Some(p) = f.postings.get(&group[0]) else { continue };
                info.matched_terms += group.len();
                info.postings += p.rows.len() * group.len();
                let df = p.rows.len() as f64;
                let weight = (1.0 + (n - df + 0.5) / (df + 0.5)).ln() * group.len() as f64;
                // tf / (tf + norm) < 1 for norm > 0; with k1 = 0 the term scores exactly idf.
                let bound = weight * (k1 + 1.0);
                cursors.push(Cursor { p, at: 0, weight, bound, k1, b, avg, lengths: &f.lengths });
            }
        }
        cursors.sort_by(|x, y| x.bound.total_cmp(&y.bound));
        // bounds_upto[i]: the most cursors 0..=i can add to a row's score together.
        let bounds_upto: Vec<f64> = cursors
            .iter()
            .scan(0.0, |sum, c| {
                *sum += c.bound;
                Some(*sum)
            })
            .collect();
        let mut top = TopK::new(k);
        // The k-th best score so far (a row must beat it: equal scores lose to the lower rows
        // found before), -inf until k rows are held.
        let mut threshold = f64::NEG_INFINITY;
        // cursors[essential..] bring candidate rows; those before it can only add to them.
        let mut essential = 0;
        let mut scored = 0;
        loop {
            while essential < cursors.len() && bounds_upto[essential] <= threshold {
                essential += 1;
            }
            let Some(row) = cursors[essential..].iter().map(Cursor::row).min().filter(|&r| r != u32::MAX) else {
                break;
            };
            let mut score = 0.0;
            let take = allowed(row);
            for c in &mut cursors[essential..] {
                if c.row() == row {
                    if take {
                        score += c.score(row);
                    }
                    c.at += 1;
                }
            }
            if !take {
                continue;
            }
            scored += 1;
            let mut beaten = false;
            for i in (0..essential).rev() {
                if score + bounds_upto[i] <= threshold {
                    beaten = true;
                    break;
                }
                let c = &mut cursors[i];
                c.seek(row);
                if c.row() == row {
                    score += c.score(row);
                }
            }
            if beaten || score <= threshold {
                continue;
            }
            top.push(row, -(score as f32));
            if top.threshold().is_finite() {
                threshold = f64::from(-top.threshold());
            }
        }
        info.candidates = Some(scored);
        Ok((top.into_sorted().into_iter().map(|n| (n.row, -n.distance)).collect(), info))
    }
}

/// One query term's place in its postings during a search, and how it scores.
struct Cursor<'a> {
    p: &'a Postings,
    at: usize,
    /// idf times the term's count in the query.
    weight: f64,
    /// The most this term adds to any row's score.
    bound: f64,
    k1: f64,
    b: f64,
    avg: f64,
    lengths: &'a [u32],
}

impl Cursor<'_> {
    /// The row under the cursor (`u32::MAX` when done).
    fn row(&self) -> u32 {
        self.p.rows.get(self.at).copied().unwrap_or(u32::MAX)
    }

    /// Moves to the first row at or after `row`.
    fn seek(&mut self, row: u32) {
        self.at += self.p.rows[self.at..].partition_point(|&r| r < row);
    }

    /// The term's BM25 contribution to `row`, the row under the cursor.
    fn score(&self, row: u32) -> f64 {
        let tf = f64::from(self.p.tfs[self.at]);
        let norm = self.k1 * (1.0 - self.b + self.b * f64::from(self.lengths[row as usize]) / self.avg);
        self.weight * tf * (self.k1 + 1.0) / (tf + norm)
    }
}
