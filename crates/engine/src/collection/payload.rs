//! The payload indexes of a collection's schema fields (bitmaps, sorted numbers), the inverted
//! indexes of its `text` and `sparse` fields, and their checkpoint files
//! (`payload-<generation>.seg`, `text-<generation>.seg`), kept in step with every write.

use std::fs;
use std::path::Path;

use libravdb_filter::{FieldType, PayloadIndex};
use libravdb_text::TextIndex;
use roaring::RoaringBitmap;
use serde_json::{Map, Value};

use super::format::{PAYLOAD, Persistent, TEXT, VerifyReport, corrupted};
use super::meta::MetadataStore;
use crate::config::CollectionConfig;
use crate::error::Result;
use crate::ids::IdMap;

/// The indexes of the schema fields: payload indexes, the inverted indexes of the `text` and
/// `sparse` fields, and the set of live rows they answer within.
#[derive(Debug, Default)]
pub(crate) struct Filterable {
    pub index: PayloadIndex,
    pub text: TextIndex,
    pub live: RoaringBitmap,
    /// A field being added to the schema (`schema.rs`), indexed beside these.
    pub building: Option<Building>,
}

/// The index of a schema field being added to a live collection: built over rows
/// `0..upto` a slice at a time, kept in step by every write to those rows, and taken into
/// the serving indexes once it covers every row. Until then no search reads it, and no
/// checkpoint saves it.
#[derive(Debug)]
pub(crate) struct Building {
    pub name: String,
    pub kind: FieldType,
    index: PayloadIndex,
    text: TextIndex,
    /// Rows below this are indexed.
    pub upto: u32,
}

impl Building {
    /// An empty index of field `name` (a text field's analysis in `config`).
    pub(crate) fn new(config: &CollectionConfig, name: &str) -> Option<Building> {
        let (_, kind) = config.field_types().into_iter().find(|(n, _)| n == name)?;
        let text = config.text.iter().filter(|(n, _)| n == name).cloned();
        let sparse = (kind == FieldType::Sparse).then(|| name.to_owned());
        Some(Building {
            name: name.to_owned(),
            kind,
            index: PayloadIndex::new([(name.to_owned(), kind)]),
            text: TextIndex::new(text).with_sparse(sparse),
            upto: 0,
        })
    }

    fn update(&mut self, row: u32, meta: Option<&Map<String, Value>>, add: bool) {
        if row >= self.upto {
            return;
        }
        if add {
            self.index.insert(row, meta);
            self.text.insert(row, meta);
        } else {
            self.index.remove(row, meta);
            self.text.remove(row, meta);
        }
    }

    /// Indexes row `upto` with its metadata (None: a deleted row) and moves past it. Err:
    /// the row's value of the field is not of the field's type (the reason).
    pub(crate) fn index_next(&mut self, meta: Option<&str>) -> std::result::Result<(), String> {
        let meta = parse_meta(meta);
        if let Some(v) = meta.as_ref().and_then(|m| libravdb_filter::eval::lookup(m, &self.name))
            && !v.is_null()
            && !self.kind.accepts(v)
        {
            let shown: String = v.to_string().chars().take(60).collect();
            return Err(format!("metadata.{} is {shown}, not {}", self.name, self.kind.as_str()));
        }
        self.upto += 1;
        self.update(self.upto - 1, meta.as_ref(), true);
        Ok(())
    }

    fn bytes(&self) -> usize {
        self.index.bytes() + self.text.bytes()
    }
}

impl Filterable {
    /// Empty indexes of `config`'s schema.
    pub(crate) fn new(config: &CollectionConfig) -> Filterable {
        Filterable {
            index: PayloadIndex::new(config.field_types()),
            text: TextIndex::new(config.text.clone()).with_sparse(config.sparse_fields()),
            live: RoaringBitmap::new(),
            building: None,
        }
    }

    /// The indexes of `config`'s schema as checkpoint `generation` saved them (live rows from
    /// the rows file); indexed afresh from the metadata when it saved none (generation 0, or a
    /// checkpoint written before payload files), and the text indexes alone when it saved no
    /// text file (a checkpoint written before them).
    pub(crate) fn open(
        dir: &Path,
        generation: u64,
        config: &CollectionConfig,
        ids: &IdMap,
        metadata: &MetadataStore,
    ) -> Result<Filterable> {
        let path = PAYLOAD.path(dir, generation);
        if !fs::exists(&path).unwrap_or(false) {
            return Ok(Filterable::build(config, ids, metadata));
        }
        let (_, body) = PAYLOAD.read(dir, generation)?;
        let index = PayloadIndex::from_bytes(&body, config.field_types()).map_err(|e| corrupted(path, e))?;
        let live = ids.live_rows();
        let sparse = config.sparse_fields();
        let text_path = TEXT.path(dir, generation);
        let text = if config.text.is_empty() && sparse.is_empty() {
            TextIndex::default()
        } else if text_path.exists() {
            let (_, body) = TEXT.read(dir, generation)?;
            TextIndex::from_bytes(&body, &config.text, &sparse).map_err(|e| corrupted(text_path, e))?
        } else {
            let mut text = TextIndex::new(config.text.clone()).with_sparse(sparse);
            for row in &live {
                text.insert(row, parse_meta(metadata.text(row).as_deref()).as_ref());
            }
            text
        };
        Ok(Filterable { index, text, live, building: None })
    }

    /// Indexes of `config`'s schema over the live rows of `ids` and their stored metadata.
    pub(crate) fn build(config: &CollectionConfig, ids: &IdMap, metadata: &MetadataStore) -> Filterable {
        let mut f = Filterable::new(config);
        for row in &ids.live_rows() {
            f.insert(row, metadata.text(row).as_deref());
        }
        f
    }

    /// Indexes live `row` with its metadata JSON.
    pub(crate) fn insert(&mut self, row: u32, meta: Option<&str>) {
        self.live.insert(row);
        if self.indexes_nothing() {
            return;
        }
        let meta = parse_meta(meta);
        self.index.insert(row, meta.as_ref());
        self.text.insert(row, meta.as_ref());
        if let Some(b) = &mut self.building {
            b.update(row, meta.as_ref(), true);
        }
    }

    /// Drops `row` (indexed with `meta`) from the indexes.
    pub(crate) fn remove(&mut self, row: u32, meta: Option<&str>) {
        self.live.remove(row);
        if self.indexes_nothing() {
            return;
        }
        let meta = parse_meta(meta);
        self.index.remove(row, meta.as_ref());
        self.text.remove(row, meta.as_ref());
        if let Some(b) = &mut self.building {
            b.update(row, meta.as_ref(), false);
        }
    }

    /// No field is indexed (a schema whose last field was dropped, or the first being
    /// added has no row indexed yet): no metadata to parse.
    fn indexes_nothing(&self) -> bool {
        self.index.is_empty() && self.text.is_empty() && self.building.as_ref().is_none_or(|b| b.upto == 0)
    }

    /// Takes the finished field into the serving indexes.
    pub(crate) fn finish_building(&mut self) {
        if let Some(b) = self.building.take() {
            self.index.absorb(b.index);
            self.text.absorb(b.text);
        }
    }

    /// Heap bytes of every index held.
    pub(crate) fn bytes(&self) -> usize {
        self.index.bytes()
            + self.text.bytes()
            + self.live.serialized_size()
            + self.building.as_ref().map_or(0, Building::bytes)
    }
}

/// Parses stored metadata JSON (an object, or nothing).
pub(crate) fn parse_meta(json: Option<&str>) -> Option<Map<String, Value>> {
    json.and_then(|s| serde_json::from_str::<Value>(s).ok()).and_then(|v| match v {
        Value::Object(m) => Some(m),
        _ => None,
    })
}

impl Persistent for Filterable {
    fn save(&self, dir: &Path, generation: u64) -> Result<()> {
        PAYLOAD.write(dir, generation, &self.index.to_bytes())?;
        if !self.text.is_empty() {
            TEXT.write(dir, generation, &self.text.to_bytes())?;
        }
        Ok(())
    }

    fn check(&self, dir: &Path, generation: u64, report: &mut VerifyReport) {
        PAYLOAD.check_present(dir, generation, report);
        TEXT.check_present(dir, generation, report);
    }
}
