//! Database and collection configuration: the validated form a collection keeps in its
//! manifest (`CollectionConfig`, `IndexConfig`, `QuantizationConfig`) and `DbOptions`.
//! [`api`] holds the other side: the one table of options and defaults, and the API objects
//! read and validated against it (the checks the TypeScript facade does not repeat).

use std::sync::Arc;

use libravdb_core::{HnswParams, Metric};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::memory::MemoryGovernor;

mod api;
mod fields;

pub use api::{IndexSpec, QuantSpec, TypeOptions, index_options, options_json, quantization_options};

/// Largest accepted vector dimension.
pub const MAX_DIMENSION: usize = 65_536;
/// Largest accepted `k` for a search.
pub const MAX_K: usize = 100_000;
/// Longest accepted record id, in UTF-8 bytes.
pub const MAX_ID_BYTES: usize = 1024;

/// Options of an open database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// fdatasync the WAL after every write batch before acknowledging it. `false` trades the
    /// last few batches on power loss (not on a process crash) for write throughput.
    pub fsync: bool,
    /// Checkpoint a collection once its WAL grows past this many bytes.
    pub checkpoint_wal_bytes: u64,
    /// A reader beside another process's writer: takes no lock, changes no file, serves the
    /// last checkpoint plus the WAL as of its last refresh; writes are `ERR_READ_ONLY`.
    pub read_only: bool,
    /// The database's memory limit and pressure threshold, and the running account of what
    /// its collections hold (shared by every collection of one database).
    pub memory: Arc<MemoryGovernor>,
    /// Bytes of metadata texts each on-disk collection caches (0: none).
    pub metadata_cache_bytes: u64,
    /// Query vectors each collection keeps, a uniform sample of those it was asked, for
    /// `tune()` and `index.targetRecall` to measure recall on (0: none kept).
    pub query_sample: usize,
    /// How long the change feed keeps changes after a checkpoint made them redundant for
    /// recovery (see `collection/changes.rs`).
    pub change_retention: ChangeRetention,
}

/// What the change feed keeps of each collection's checkpointed logs: an archived log is
/// deleted once the archives hold more than `bytes`, oldest first, or once it is older than
/// `ms`. Either at 0 keeps nothing past a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeRetention {
    pub bytes: u64,
    pub ms: u64,
}

impl Default for ChangeRetention {
    /// 256 MiB or 24 hours, whichever runs out first.
    fn default() -> Self {
        Self { bytes: 256 << 20, ms: 24 * 3600 * 1000 }
    }
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            fsync: true,
            checkpoint_wal_bytes: 64 << 20,
            read_only: false,
            memory: Arc::new(MemoryGovernor::new(None, crate::memory::DEFAULT_PRESSURE).expect("valid default")),
            metadata_cache_bytes: 16 << 20,
            query_sample: 1000,
            change_retention: ChangeRetention::default(),
        }
    }
}

/// The index a collection searches with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum IndexConfig {
    /// Exact search over every vector.
    Flat,
    /// Hierarchical navigable small-world graph (approximate).
    Hnsw { m: usize, ef_construction: usize, ef_search: usize, seed: u64 },
    /// Inverted lists of residual product codes (approximate, compact). See [`IvfParams`].
    Ivfpq(IvfParams),
    /// Exact while small, then promoted to `target` (built off the write path) once the
    /// collection holds `flat_threshold` live records. See [`AutoParams`].
    Auto(AutoParams),
}

/// The `auto` index: flat until `flat_threshold` live records, then `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoParams {
    pub flat_threshold: usize,
    pub target: AutoTarget,
    /// Whether the promotion has happened (the collection searches `target` now).
    pub promoted: bool,
}

/// What an `auto` index becomes, with its parameters (the defaults of that type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum AutoTarget {
    Hnsw { m: usize, ef_construction: usize, ef_search: usize, seed: u64 },
    Ivfpq(IvfParams),
}

impl AutoParams {
    /// Default live-record count at which an `auto` index stops being flat.
    pub const DEFAULT_FLAT_THRESHOLD: usize = 10_000;

    /// The index the promotion builds.
    pub fn target_index(&self) -> IndexConfig {
        match self.target {
            AutoTarget::Hnsw { m, ef_construction, ef_search, seed } => {
                IndexConfig::Hnsw { m, ef_construction, ef_search, seed }
            }
            AutoTarget::Ivfpq(p) => IndexConfig::Ivfpq(p),
        }
    }
}

/// IVF-PQ parameters. `nlist` / `nprobe` of `None` are chosen when the index trains (about
/// the square root of the vectors then held; 1/16 of the lists, at least 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IvfParams {
    pub nlist: Option<usize>,
    pub nprobe: Option<usize>,
    /// Sub-spaces of the residual codes (divides the dimension): `m` bytes per vector at 8 bits.
    pub m: usize,
    pub bits: u8,
    /// Candidates re-ranked on full precision, as a multiple of `k` (0: none, return ADC order).
    pub rerank: usize,
}

impl IvfParams {
    /// Default re-ranking depth: `k * 16` candidates re-scored exactly.
    pub const DEFAULT_RERANK: usize = 16;
    /// Fewest vectors before the index trains (searches are exact until then).
    pub const MIN_TRAIN_VECTORS: usize = 10_000;

    /// A default `m` for `dim`: sub-vectors of 4 components (2, 1 when 4 does not divide), so
    /// codes are 16x smaller than full precision at 8 bits. Sub-vectors of 8 (32x smaller)
    /// lost 10% recall@10 on 100k x 128 overlapping clusters at the default re-rank depth.
    pub fn default_m(dim: usize) -> usize {
        [4, 2, 1].into_iter().find(|d| dim.is_multiple_of(*d)).map_or(dim, |d| dim / d)
    }
}

impl IndexConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            IndexConfig::Flat => "flat",
            IndexConfig::Hnsw { .. } => "hnsw",
            IndexConfig::Ivfpq(_) => "ivfpq",
            IndexConfig::Auto(_) => "auto",
        }
    }

    /// The index a collection with this configuration searches (an `auto` index: flat until
    /// promoted, then its target).
    pub fn active(&self) -> IndexConfig {
        match *self {
            IndexConfig::Auto(a) if a.promoted => a.target_index(),
            IndexConfig::Auto(_) => IndexConfig::Flat,
            other => other,
        }
    }

    /// This configuration with `breadth` as the default `efSearch` (HNSW) or `nprobe`
    /// (IVF-PQ) of the active index (`tune()`); flat is returned as it is.
    pub fn with_default_breadth(self, breadth: usize) -> IndexConfig {
        match self {
            IndexConfig::Hnsw { m, ef_construction, seed, .. } => {
                IndexConfig::Hnsw { m, ef_construction, ef_search: breadth, seed }
            }
            IndexConfig::Ivfpq(p) => IndexConfig::Ivfpq(IvfParams { nprobe: Some(breadth), ..p }),
            IndexConfig::Auto(a) if a.promoted => {
                let target = match a.target {
                    AutoTarget::Hnsw { m, ef_construction, seed, .. } => {
                        AutoTarget::Hnsw { m, ef_construction, ef_search: breadth, seed }
                    }
                    AutoTarget::Ivfpq(p) => AutoTarget::Ivfpq(IvfParams { nprobe: Some(breadth), ..p }),
                };
                IndexConfig::Auto(AutoParams { target, ..a })
            }
            other => other,
        }
    }

    /// IVF-PQ parameters, when the active index is IVF-PQ.
    pub fn ivf_params(&self) -> Option<IvfParams> {
        match self.active() {
            IndexConfig::Ivfpq(p) => Some(p),
            _ => None,
        }
    }

    /// HNSW parameters, when the active index is HNSW.
    pub fn hnsw_params(&self) -> Option<HnswParams> {
        match self.active() {
            IndexConfig::Hnsw { m, ef_construction, ef_search, seed } => {
                Some(HnswParams { m, ef_construction, ef_search, seed })
            }
            _ => None,
        }
    }
}

/// How vectors are compressed for search (full-precision copies stay on disk for re-ranking).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum QuantizationConfig {
    /// Per-dimension scalar quantization, `bits` (8 or 4) per component.
    Scalar { bits: u8, train_ratio: f32, oversampling: usize },
    /// Product quantization: `m` sub-spaces of `2^bits` centroids (bits 8 or 4).
    Product { m: usize, bits: u8, train_ratio: f32, oversampling: usize },
}

impl QuantizationConfig {
    /// Default share of the collection sampled for training.
    pub const DEFAULT_TRAIN_RATIO: f32 = 0.1;
    /// Default re-ranking depth of 8-bit scalar codes: `k * 2` candidates re-scored on full
    /// precision. Measured on debpkg20k (cosine) and sift5k (L2), HNSW: at efSearch >= 48
    /// recall is the same as with `k * 4`; below it, 4 floored the beam at 4k (40), so a
    /// narrow search (as `tune()` picks for a 0.95 target) could not get cheaper: at recall
    /// ~0.955 the codes gave 12.9k q/s with 4 and 19.0k with 2 (fp32: 12.5k) on debpkg20k.
    pub const DEFAULT_SCALAR_OVERSAMPLING: usize = 2;
    /// 4-bit codes are coarser: with `k * 2` HNSW recall@10 fell from 0.988 to 0.979 on the
    /// clustered test set, so they keep `k * 4`.
    pub const DEFAULT_SCALAR4_OVERSAMPLING: usize = 4;
    /// Default re-ranking depth of product codes, which are much coarser: `k * 32`.
    pub const DEFAULT_PRODUCT_OVERSAMPLING: usize = 32;
    /// Training waits until the collection holds at least this many vectors.
    pub const MIN_TRAIN_VECTORS: usize = 1000;
    /// Largest training sample.
    pub const MAX_SAMPLE: usize = 100_000;

    pub fn train_ratio(&self) -> f32 {
        match *self {
            QuantizationConfig::Scalar { train_ratio, .. } | QuantizationConfig::Product { train_ratio, .. } => {
                train_ratio
            }
        }
    }

    pub fn oversampling(&self) -> usize {
        match *self {
            QuantizationConfig::Scalar { oversampling, .. } | QuantizationConfig::Product { oversampling, .. } => {
                oversampling
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            QuantizationConfig::Scalar { .. } => "scalar",
            QuantizationConfig::Product { .. } => "product",
        }
    }
}

/// Configuration fixed when a collection is created; stored in its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionConfig {
    pub dimension: usize,
    #[serde(with = "metric_serde")]
    pub metric: Metric,
    pub index: IndexConfig,
    #[serde(default)]
    pub quantization: Option<QuantizationConfig>,
    /// Typed metadata fields: validated on write and indexed for filtering. Field -> type
    /// (`"string"`, `"int"`, `"float"`, `"bool"`, `"date"`, `"string[]"`, `"number[]"`).
    #[serde(default)]
    pub schema: Vec<(String, String)>,
    /// Analysis and BM25 options of each `text` schema field, by name (every text field has
    /// an entry; defaults where none was given).
    #[serde(default)]
    pub text: Vec<(String, libravdb_text::TextOptions)>,
    /// `index.targetRecall`: the recall@10 `tune()` keeps the default breadth at.
    #[serde(default)]
    pub recall_target: Option<RecallTarget>,
    /// This collection's own memory limit in bytes (held memory, as the database's limit).
    #[serde(default)]
    pub memory_limit: Option<u64>,
    /// `storage.mmap`: how on-disk vectors and links are held.
    #[serde(default)]
    pub mmap: MmapMode,
    /// Named vector fields (DESIGN §13), in declaration order: each its own dimension, metric,
    /// index, quantization and recall target (its schema and storage fields unused). A
    /// collection of named fields only has `dimension` 0: no default field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vectors: Vec<(String, CollectionConfig)>,
}

/// `storage.mmap` of an on-disk collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MmapMode {
    /// Mapped, except that with a memory limit a collection whose vectors and links take
    /// less than [`MmapMode::AUTO_SHARE`] of the remaining budget is loaded into anonymous
    /// memory (and mapped again once it outgrows that share). Under a memory bound (a limit,
    /// or pressure) quantized and IVF-PQ collections re-rank with `pread`, keeping full
    /// precision out of the process; without one, through the map.
    #[default]
    Auto,
    /// Served from the mapped files (re-ranks read through the map too).
    On,
    /// Loaded into anonymous memory at open, counted against memory limits.
    Off,
}

impl MmapMode {
    /// Share of the remaining memory budget under which `auto` loads a collection.
    pub const AUTO_SHARE: f64 = 0.25;

    /// Parses the API spelling (`true`, `false`, `'auto'`).
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(MmapMode::Auto),
            "true" => Ok(MmapMode::On),
            "false" => Ok(MmapMode::Off),
            other => Err(Error::invalid(format!("storage.mmap must be true, false or 'auto', got {other}"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MmapMode::Auto => "auto",
            MmapMode::On => "true",
            MmapMode::Off => "false",
        }
    }
}

/// A recall target the collection re-tunes itself for: after an `auto` promotion, after
/// `rebuild()`, and whenever it has doubled since the last tune.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecallTarget {
    pub recall: f64,
    /// Live records at the last tune (0: not tuned yet).
    pub tuned_at: usize,
}

impl RecallTarget {
    /// A target of `recall` in (0, 1], not tuned yet; `path` names the option in the error.
    pub fn new(path: &str, recall: f64) -> Result<Self> {
        if recall > 0.0 && recall <= 1.0 {
            Ok(Self { recall, tuned_at: 0 })
        } else {
            Err(Error::invalid(format!("{path} must be in (0, 1], got {recall}")))
        }
    }
}

impl CollectionConfig {
    /// Sets `storage.mmap`.
    pub fn with_mmap(mut self, mmap: MmapMode) -> Self {
        self.mmap = mmap;
        self
    }

    /// Sets this collection's own memory limit (bytes, positive).
    pub fn with_memory_limit(mut self, limit: Option<u64>) -> Result<Self> {
        if limit == Some(0) {
            return Err(Error::invalid("memoryLimit must be a positive number of bytes"));
        }
        self.memory_limit = limit;
        Ok(self)
    }

    /// Validates and sets the metadata schema (field names and type spellings).
    pub fn with_schema(mut self, schema: Vec<(String, String)>) -> Result<Self> {
        for (name, t) in &schema {
            check_schema_field(name, t)?;
        }
        self.schema = schema;
        self.with_text_options(Vec::new())
    }

    /// This configuration with schema field `name` of type `t` added (`options`: a text
    /// field's options as a JSON object; the defaults when None). The fields stay sorted.
    pub fn with_field(&self, name: &str, t: &str, options: Option<&str>) -> Result<Self> {
        check_schema_field(name, t)?;
        if let Some((_, existing)) = self.schema.iter().find(|(n, _)| n == name) {
            return Err(Error::invalid(format!(
                "schema field '{name}' exists (type {existing}); drop it first to give it another type"
            )));
        }
        let mut next = self.clone();
        let at = next.schema.partition_point(|(n, _)| n.as_str() < name);
        next.schema.insert(at, (name.to_owned(), t.to_owned()));
        let mut text: Vec<(String, String)> =
            self.text.iter().map(|(n, o)| (n.clone(), serde_json::to_string(o).expect("options serialise"))).collect();
        if let Some(json) = options {
            text.push((name.to_owned(), json.to_owned()));
        }
        next.with_text_options(text)
    }

    /// This configuration without schema field `name` (`ERR_INVALID_ARGUMENT` when the
    /// schema has no such field).
    pub fn without_field(&self, name: &str) -> Result<Self> {
        if !self.schema.iter().any(|(n, _)| n == name) {
            let fields: Vec<&str> = self.schema.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::invalid(format!(
                "'{name}' is not a schema field (the schema's fields: {})",
                if fields.is_empty() { "none".to_owned() } else { fields.join(", ") }
            )));
        }
        let mut next = self.clone();
        next.schema.retain(|(n, _)| n != name);
        next.text.retain(|(n, _)| n != name);
        Ok(next)
    }

    /// Sets the options of the schema's `text` fields (JSON objects by field name; fields not
    /// named take the defaults). Call after [`CollectionConfig::with_schema`].
    pub fn with_text_options(mut self, options: Vec<(String, String)>) -> Result<Self> {
        let is_text = |name: &str| self.schema.iter().any(|(n, t)| n == name && t == "text");
        for (name, _) in &options {
            if !is_text(name) {
                return Err(Error::invalid(format!("text options are given for '{name}', which is not a text field")));
            }
        }
        let mut text = Vec::new();
        for (name, _) in self.schema.iter().filter(|(_, t)| t == "text") {
            let o = match options.iter().find(|(n, _)| n == name) {
                Some((_, json)) => serde_json::from_str::<libravdb_text::TextOptions>(json)
                    .map_err(|e| Error::invalid(format!("schema.{name}: {e}")))?,
                None => libravdb_text::TextOptions::default(),
            };
            o.validate().map_err(|e| Error::invalid(format!("schema.{name}.{e}")))?;
            text.push((name.clone(), o));
        }
        self.text = text;
        Ok(self)
    }

    /// The schema as a JSON object (`{}` without one); a text field is its options with
    /// `type: 'text'`.
    pub fn schema_json(&self) -> String {
        let field = |n: &String, t: &String| match self.text.iter().find(|(name, _)| name == n) {
            Some((_, o)) => {
                let mut v = serde_json::to_value(o).expect("options serialise");
                v.as_object_mut().expect("an object").insert("type".into(), "text".into());
                v
            }
            None => serde_json::Value::String(t.clone()),
        };
        let map: serde_json::Map<String, serde_json::Value> =
            self.schema.iter().map(|(n, t)| (n.clone(), field(n, t))).collect();
        serde_json::Value::Object(map).to_string()
    }

    /// The schema's sparse-vector fields.
    pub fn sparse_fields(&self) -> Vec<String> {
        self.schema.iter().filter(|(_, t)| t == "sparse").map(|(n, _)| n.clone()).collect()
    }

    /// The schema with parsed types.
    pub fn field_types(&self) -> Vec<(String, libravdb_filter::FieldType)> {
        self.schema.iter().filter_map(|(n, t)| libravdb_filter::FieldType::parse(t).map(|t| (n.clone(), t))).collect()
    }
}

/// Checks a schema field's name (1-256 bytes) and type spelling.
fn check_schema_field(name: &str, t: &str) -> Result<()> {
    if name.is_empty() || name.len() > 256 {
        return Err(Error::invalid(format!("schema field names must be 1-256 bytes, got '{name}'")));
    }
    if libravdb_filter::FieldType::parse(t).is_none() {
        return Err(Error::invalid(format!(
            "schema.{name} must be one of string, int, float, bool, date, string[], number[], text, sparse; got '{t}'"
        )));
    }
    Ok(())
}

/// Validates a collection name: 1-64 characters of `[A-Za-z0-9_-]` (it names a directory).
pub fn validate_collection_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "collection name must be 1-64 characters of letters, digits, '_' or '-', got '{name}'"
        )))
    }
}

mod metric_serde {
    use libravdb_core::Metric;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &Metric, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Metric, D::Error> {
        let s = String::deserialize(d)?;
        Metric::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown metric '{s}'")))
    }
}

#[cfg(test)]
mod tests;
