//! Database and collection configuration, with the defaults (defined once, here) and the
//! semantic validation the TypeScript facade does not repeat.

use libravdb_core::{HnswParams, Metric};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

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
}

impl Default for DbOptions {
    fn default() -> Self {
        Self { fsync: true, checkpoint_wal_bytes: 64 << 20, read_only: false }
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

/// Index options as the API passes them; `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct IndexSpec<'a> {
    pub kind: Option<&'a str>,
    pub m: Option<i64>,
    pub ef_construction: Option<i64>,
    pub ef_search: Option<i64>,
    pub nlist: Option<i64>,
    pub nprobe: Option<i64>,
    pub bits: Option<i64>,
    pub rerank: Option<i64>,
    /// `auto`: live records at which it stops being flat.
    pub flat_threshold: Option<i64>,
    /// `auto`: `hnsw` or `ivfpq`.
    pub promote_to: Option<&'a str>,
    /// hnsw, ivfpq, auto: recall@10 to keep the default breadth tuned for.
    pub target_recall: Option<f64>,
}

/// The options of a JSON object as the API spells them (`{ "type": "hnsw", "m": 16 }`):
/// `type` and each option of `table` for it, checked to be a string, an integer or a number
/// as its default in the table is; an unknown key or a wrong type is `ERR_INVALID_ARGUMENT`.
struct JsonOptions<'a> {
    path: &'static str,
    object: &'a serde_json::Map<String, Value>,
}

impl<'a> JsonOptions<'a> {
    fn parse(path: &'static str, json: &'a Value, table: &[TypeOptions]) -> Result<Self> {
        let object =
            json.as_object().ok_or_else(|| Error::invalid(format!("{path} must be an object with a string 'type'")))?;
        let kind = object.get("type").and_then(Value::as_str);
        for key in object.keys() {
            let known = key == "type" || table.iter().any(|(_, options)| options.iter().any(|(o, _)| o == key));
            if !known {
                return Err(Error::invalid(format!("{path} has an unknown option '{key}'")));
            }
        }
        if kind.is_none() {
            return Err(Error::invalid(format!("{path} must have a string 'type'")));
        }
        Ok(Self { path, object })
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(Error::invalid(format!("{}.{key} must be a string, got {v}", self.path))),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| Error::invalid(format!("{}.{key} must be an integer, got {v}", self.path))),
        }
    }

    fn number(&self, key: &str) -> Result<Option<f64>> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| Error::invalid(format!("{}.{key} must be a number, got {v}", self.path))),
        }
    }
}

impl<'a> IndexSpec<'a> {
    /// The index options of an API object, e.g. `{ "type": "hnsw", "efSearch": 128 }`.
    pub fn from_json(json: &'a Value) -> Result<Self> {
        let o = JsonOptions::parse("index", json, &index_options())?;
        Ok(IndexSpec {
            kind: o.str("type")?,
            m: o.int("m")?,
            ef_construction: o.int("efConstruction")?,
            ef_search: o.int("efSearch")?,
            nlist: o.int("nlist")?,
            nprobe: o.int("nprobe")?,
            bits: o.int("bits")?,
            rerank: o.int("rerank")?,
            flat_threshold: o.int("flatThreshold")?,
            promote_to: o.str("promoteTo")?,
            target_recall: o.number("targetRecall")?,
        })
    }
}

impl<'a> QuantSpec<'a> {
    /// The quantization options of an API object, e.g. `{ "type": "scalar", "bits": 4 }`.
    pub fn from_json(json: &'a Value) -> Result<Self> {
        let o = JsonOptions::parse("quantization", json, &quantization_options())?;
        Ok(QuantSpec {
            kind: o.str("type")?,
            bits: o.int("bits")?,
            m: o.int("m")?,
            train_ratio: o.number("trainRatio")?,
            oversampling: o.int("oversampling")?,
        })
    }
}

/// Parses the JSON text of an API object (`what` names it in errors).
fn parse_json(what: &str, text: Option<&str>) -> Result<Option<Value>> {
    text.map(|t| serde_json::from_str(t).map_err(|e| Error::invalid(format!("{what} is not valid JSON: {e}"))))
        .transpose()
}

fn index_spec(json: &Option<Value>) -> Result<IndexSpec<'_>> {
    json.as_ref().map_or_else(|| Ok(IndexSpec::default()), IndexSpec::from_json)
}

fn quant_spec(json: &Option<Value>) -> Result<QuantSpec<'_>> {
    json.as_ref().map_or_else(|| Ok(QuantSpec::default()), QuantSpec::from_json)
}

/// `v`, or `default` when absent; an error naming the option (`path`) when outside lo..=hi.
fn in_range(path: &str, v: Option<i64>, lo: i64, hi: i64, default: usize) -> Result<usize> {
    match v {
        None => Ok(default),
        Some(x) if (lo..=hi).contains(&x) => Ok(x as usize),
        Some(x) => Err(Error::invalid(format!("{path} must be an integer from {lo} to {hi}, got {x}"))),
    }
}

/// Bits per code of a quantizer (`path` names the option): 8 (the default) or 4.
fn code_bits(path: &str, v: Option<i64>) -> Result<u8> {
    match v {
        None => Ok(8),
        Some(b @ (4 | 8)) => Ok(b as u8),
        Some(b) => Err(Error::invalid(format!("{path} must be 8 or 4, got {b}"))),
    }
}

/// Sub-spaces of product codes (`path` names the option): 1 to `dimension`, dividing it.
fn sub_spaces(path: &str, v: Option<i64>, dimension: usize, default: usize) -> Result<usize> {
    let m = in_range(path, v, 1, dimension as i64, default)?;
    if !dimension.is_multiple_of(m) {
        return Err(Error::invalid(format!(
            "{path} = {m} must divide the dimension {dimension}; pick a divisor such as {}",
            (1..=m).rev().find(|d| dimension.is_multiple_of(*d)).unwrap_or(1)
        )));
    }
    Ok(m)
}

/// Options of one index or quantization type: API name and default (null: chosen from the
/// data, e.g. when the index trains).
pub type TypeOptions = (&'static str, Vec<(&'static str, Value)>);

/// Every index type with its options and their defaults: the one table of them. The facade
/// reads it from the addon to check option names; [`IndexSpec`] builds from it.
pub fn index_options() -> Vec<TypeOptions> {
    let h = HnswParams::default();
    vec![
        ("flat", vec![]),
        (
            "hnsw",
            vec![
                ("m", h.m.into()),
                ("efConstruction", h.ef_construction.into()),
                ("efSearch", h.ef_search.into()),
                ("targetRecall", Value::Null),
            ],
        ),
        (
            "ivfpq",
            vec![
                ("nlist", Value::Null),
                ("nprobe", Value::Null),
                ("m", Value::Null),
                ("bits", 8.into()),
                ("rerank", IvfParams::DEFAULT_RERANK.into()),
                ("targetRecall", Value::Null),
            ],
        ),
        (
            "auto",
            vec![
                ("flatThreshold", AutoParams::DEFAULT_FLAT_THRESHOLD.into()),
                ("promoteTo", "hnsw".into()),
                ("targetRecall", Value::Null),
            ],
        ),
    ]
}

/// Every quantization type with its options and their defaults (as [`index_options`]).
pub fn quantization_options() -> Vec<TypeOptions> {
    let ratio = || Value::from(QuantizationConfig::DEFAULT_TRAIN_RATIO as f64);
    vec![
        (
            "scalar",
            vec![
                ("bits", 8.into()),
                ("trainRatio", ratio()),
                ("oversampling", QuantizationConfig::DEFAULT_SCALAR_OVERSAMPLING.into()),
            ],
        ),
        (
            "product",
            vec![
                ("m", Value::Null),
                ("bits", 8.into()),
                ("trainRatio", ratio()),
                ("oversampling", QuantizationConfig::DEFAULT_PRODUCT_OVERSAMPLING.into()),
            ],
        ),
    ]
}

/// [`index_options`] and [`quantization_options`] as JSON: `{ index: { hnsw: { m: 16, .. },
/// .. }, quantization: { .. } }`.
pub fn options_json() -> String {
    let table = |types: Vec<TypeOptions>| {
        let types = types.into_iter().map(|(t, options)| {
            (t.to_owned(), Value::Object(options.into_iter().map(|(name, d)| (name.to_owned(), d)).collect()))
        });
        Value::Object(types.collect())
    };
    serde_json::json!({ "index": table(index_options()), "quantization": table(quantization_options()) }).to_string()
}

/// An error naming the first `given` option (name, whether set) that `kind` does not take.
fn check_applies(path: &str, table: &[TypeOptions], kind: &str, given: &[(&str, bool)]) -> Result<()> {
    let Some((_, own)) = table.iter().find(|(t, _)| *t == kind) else { return Ok(()) };
    let Some((name, _)) = given.iter().find(|(name, set)| *set && !own.iter().any(|(o, _)| o == name)) else {
        return Ok(());
    };
    let types: Vec<String> = table
        .iter()
        .filter(|(_, options)| options.iter().any(|(o, _)| o == name))
        .map(|(t, _)| format!("{{ type: '{t}' }}"))
        .collect();
    Err(Error::invalid(format!("{path}.{name} applies to {} only", types.join(" and "))))
}

impl IndexSpec<'_> {
    fn build(&self, dimension: usize) -> Result<IndexConfig> {
        let kind = self.kind.unwrap_or("flat");
        let given = [
            ("m", self.m.is_some()),
            ("efConstruction", self.ef_construction.is_some()),
            ("efSearch", self.ef_search.is_some()),
            ("nlist", self.nlist.is_some()),
            ("nprobe", self.nprobe.is_some()),
            ("bits", self.bits.is_some()),
            ("rerank", self.rerank.is_some()),
            ("flatThreshold", self.flat_threshold.is_some()),
            ("promoteTo", self.promote_to.is_some()),
            ("targetRecall", self.target_recall.is_some()),
        ];
        check_applies("index", &index_options(), kind, &given)?;
        match kind {
            "flat" => Ok(IndexConfig::Flat),
            "hnsw" => {
                let d = HnswParams::default();
                Ok(IndexConfig::Hnsw {
                    m: in_range("index.m", self.m, 2, 128, d.m)?,
                    ef_construction: in_range(
                        "index.efConstruction",
                        self.ef_construction,
                        1,
                        4096,
                        d.ef_construction,
                    )?,
                    ef_search: in_range("index.efSearch", self.ef_search, 1, MAX_K as i64, d.ef_search)?,
                    seed: d.seed,
                })
            }
            "ivfpq" => {
                let m = sub_spaces("index.m", self.m, dimension, IvfParams::default_m(dimension))?;
                let bits = code_bits("index.bits", self.bits)?;
                let optional = |path, v: Option<i64>, hi| v.map(|_| in_range(path, v, 1, hi, 0)).transpose();
                Ok(IndexConfig::Ivfpq(IvfParams {
                    nlist: optional("index.nlist", self.nlist, 65_536)?,
                    nprobe: optional("index.nprobe", self.nprobe, 65_536)?,
                    m,
                    bits,
                    rerank: in_range("index.rerank", self.rerank, 0, 100, IvfParams::DEFAULT_RERANK)?,
                }))
            }
            "auto" => {
                let target = match self.promote_to.unwrap_or("hnsw") {
                    kind @ ("hnsw" | "ivfpq") => {
                        match (IndexSpec { kind: Some(kind), ..Default::default() }).build(dimension)? {
                            IndexConfig::Hnsw { m, ef_construction, ef_search, seed } => {
                                AutoTarget::Hnsw { m, ef_construction, ef_search, seed }
                            }
                            IndexConfig::Ivfpq(p) => AutoTarget::Ivfpq(p),
                            _ => unreachable!("built as {kind}"),
                        }
                    }
                    other => {
                        return Err(Error::invalid(format!(
                            "index.promoteTo must be 'hnsw' or 'ivfpq', got '{other}'"
                        )));
                    }
                };
                let flat_threshold = in_range(
                    "index.flatThreshold",
                    self.flat_threshold,
                    1,
                    1 << 32,
                    AutoParams::DEFAULT_FLAT_THRESHOLD,
                )?;
                Ok(IndexConfig::Auto(AutoParams { flat_threshold, target, promoted: false }))
            }
            other => {
                Err(Error::invalid(format!("index.type must be 'flat', 'hnsw', 'ivfpq' or 'auto', got '{other}'")))
            }
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
    /// Default re-ranking depth of scalar codes: `k * 4` candidates re-scored on full precision.
    pub const DEFAULT_SCALAR_OVERSAMPLING: usize = 4;
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

/// Quantization options as the API passes them; `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct QuantSpec<'a> {
    pub kind: Option<&'a str>,
    pub bits: Option<i64>,
    pub m: Option<i64>,
    pub train_ratio: Option<f64>,
    pub oversampling: Option<i64>,
}

impl QuantSpec<'_> {
    fn build(&self, dimension: usize) -> Result<Option<QuantizationConfig>> {
        let Some(kind) = self.kind else { return Ok(None) };
        let bits = code_bits("quantization.bits", self.bits)?;
        let train_ratio = match self.train_ratio {
            None => QuantizationConfig::DEFAULT_TRAIN_RATIO,
            Some(r) if r > 0.0 && r <= 1.0 => r as f32,
            Some(r) => return Err(Error::invalid(format!("quantization.trainRatio must be in (0, 1], got {r}"))),
        };
        let default_oversampling = if kind == "product" {
            QuantizationConfig::DEFAULT_PRODUCT_OVERSAMPLING
        } else {
            QuantizationConfig::DEFAULT_SCALAR_OVERSAMPLING
        };
        let oversampling = in_range("quantization.oversampling", self.oversampling, 1, 100, default_oversampling)?;
        match kind {
            "scalar" => {
                check_applies("quantization", &quantization_options(), kind, &[("m", self.m.is_some())])?;
                Ok(Some(QuantizationConfig::Scalar { bits, train_ratio, oversampling }))
            }
            "product" => {
                let m = sub_spaces("quantization.m", self.m, dimension, 16.min(dimension))?;
                Ok(Some(QuantizationConfig::Product { m, bits, train_ratio, oversampling }))
            }
            other => Err(Error::invalid(format!("quantization.type must be 'scalar' or 'product', got '{other}'"))),
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
    /// `index.targetRecall`: the recall@10 `tune()` keeps the default breadth at.
    #[serde(default)]
    pub recall_target: Option<RecallTarget>,
}

/// A recall target the collection re-tunes itself for: after an `auto` promotion, after
/// `rebuild()`, and whenever it has doubled since the last tune.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecallTarget {
    pub recall: f64,
    /// Live records at the last tune (0: not tuned yet).
    pub tuned_at: usize,
}

impl CollectionConfig {
    /// Validates and sets the metadata schema (field names and type spellings).
    pub fn with_schema(mut self, schema: Vec<(String, String)>) -> Result<Self> {
        for (name, t) in &schema {
            if name.is_empty() || name.len() > 256 {
                return Err(Error::invalid(format!("schema field names must be 1-256 bytes, got '{name}'")));
            }
            if libravdb_filter::FieldType::parse(t).is_none() {
                return Err(Error::invalid(format!(
                    "schema.{name} must be one of string, int, float, bool, date, string[], number[]; got '{t}'"
                )));
            }
        }
        self.schema = schema;
        Ok(self)
    }

    /// The schema as a JSON object (`{}` without one).
    pub fn schema_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> =
            self.schema.iter().map(|(n, t)| (n.clone(), serde_json::Value::String(t.clone()))).collect();
        serde_json::Value::Object(map).to_string()
    }

    /// The schema with parsed types.
    pub fn field_types(&self) -> Vec<(String, libravdb_filter::FieldType)> {
        self.schema.iter().filter_map(|(n, t)| libravdb_filter::FieldType::parse(t).map(|t| (n.clone(), t))).collect()
    }
}

impl CollectionConfig {
    /// Builds a config from API values (`metric` and index options as spelled in JS; `None`
    /// takes the default: `"l2"`, `"flat"`).
    pub fn from_api(dimension: i64, metric: Option<&str>, index: IndexSpec<'_>) -> Result<Self> {
        Self::from_api_quantized(dimension, metric, index, QuantSpec::default())
    }

    /// [`CollectionConfig::from_api`] with quantization options.
    pub fn from_api_quantized(
        dimension: i64,
        metric: Option<&str>,
        index: IndexSpec<'_>,
        quantization: QuantSpec<'_>,
    ) -> Result<Self> {
        if dimension < 1 || dimension as usize > MAX_DIMENSION {
            return Err(Error::invalid(format!(
                "dimension must be an integer from 1 to {MAX_DIMENSION}, got {dimension}"
            )));
        }
        let metric = match metric {
            None => Metric::L2,
            Some(m) => Metric::parse(m)
                .ok_or_else(|| Error::invalid(format!("metric must be 'l2', 'cosine' or 'dot', got '{m}'")))?,
        };
        let dimension = dimension as usize;
        let built = index.build(dimension)?;
        let quantization = quantization.build(dimension)?;
        let config = Self { dimension, metric, index: built, quantization, schema: Vec::new(), recall_target: None }
            .with_recall_target(&index)?;
        config.check_index_and_quantization()?;
        Ok(config)
    }

    /// Checks that the index and the quantization go together.
    pub fn check_index_and_quantization(&self) -> Result<()> {
        let ivf = matches!(self.index, IndexConfig::Ivfpq(_))
            || matches!(self.index, IndexConfig::Auto(AutoParams { target: AutoTarget::Ivfpq(_), .. }));
        if ivf && self.quantization.is_some() {
            return Err(Error::invalid(
                "an ivfpq index stores its own product codes: leave quantization unset and set index.m / index.bits",
            ));
        }
        Ok(())
    }

    /// The index and quantization of `index` and `quantization` (API values, as for a new
    /// collection of this dimension), for `rebuild()`.
    pub fn index_and_quantization(
        &self,
        index: IndexSpec<'_>,
        quantization: QuantSpec<'_>,
    ) -> Result<(IndexConfig, Option<QuantizationConfig>)> {
        Ok((index.build(self.dimension)?, quantization.build(self.dimension)?))
    }

    /// A new collection's configuration from API values, `index` and `quantization` as the
    /// JSON text of their API objects (None: the defaults).
    pub fn from_api_json(
        dimension: i64,
        metric: Option<&str>,
        index: Option<&str>,
        quantization: Option<&str>,
    ) -> Result<Self> {
        let (index, quantization) = (parse_json("index", index)?, parse_json("quantization", quantization)?);
        Self::from_api_quantized(dimension, metric, index_spec(&index)?, quant_spec(&quantization)?)
    }

    /// The configuration `rebuild()` targets, from the JSON text of API objects: an omitted
    /// index keeps this one (and its recall target), an omitted quantization keeps this one
    /// unless `remove_quantization`.
    pub fn rebuild_target(
        &self,
        index: Option<&str>,
        quantization: Option<&str>,
        remove_quantization: bool,
    ) -> Result<CollectionConfig> {
        let (index, quantization) = (parse_json("index", index)?, parse_json("quantization", quantization)?);
        let mut next = self.clone();
        if index.is_some() {
            let spec = index_spec(&index)?;
            next.index = spec.build(self.dimension)?;
            next = next.with_recall_target(&spec)?;
        }
        if quantization.is_some() || remove_quantization {
            next.quantization = quant_spec(&quantization)?.build(self.dimension)?;
        }
        next.check_index_and_quantization()?;
        Ok(next)
    }

    /// This configuration with the recall target `index` asks for (`index.targetRecall`).
    pub fn with_recall_target(mut self, index: &IndexSpec<'_>) -> Result<Self> {
        self.recall_target = match index.target_recall {
            None => None,
            Some(r) if r > 0.0 && r <= 1.0 => Some(RecallTarget { recall: r, tuned_at: 0 }),
            Some(r) => return Err(Error::invalid(format!("index.targetRecall must be in (0, 1], got {r}"))),
        };
        Ok(self)
    }
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
mod tests {
    use super::*;

    #[test]
    fn api_objects_are_read_against_the_option_table() {
        let c = CollectionConfig::from_api_json(
            8,
            Some("cosine"),
            Some(r#"{"type":"hnsw","m":8,"efSearch":100,"targetRecall":0.9}"#),
            Some(r#"{"type":"scalar","bits":4,"trainRatio":0.5}"#),
        )
        .unwrap();
        assert_eq!(c.index.hnsw_params().map(|p| (p.m, p.ef_search)), Some((8, 100)));
        assert_eq!(c.recall_target.map(|t| t.recall), Some(0.9));
        assert!(matches!(c.quantization, Some(QuantizationConfig::Scalar { bits: 4, .. })));
        for (index, quant, says) in [
            (r#"{"type":"hnsw","colour":1}"#, None, "unknown option 'colour'"),
            (r#"{"type":"hnsw","m":2.5}"#, None, "index.m must be an integer"),
            (r#"{"type":"auto","promoteTo":3}"#, None, "index.promoteTo must be a string"),
            (r#"{"m":8}"#, None, "string 'type'"),
            (r#"[1]"#, None, "must be an object"),
            ("{", None, "not valid JSON"),
            (r#"{"type":"flat","efSearch":4}"#, None, "applies to { type: 'hnsw' } only"),
            (r#"{"type":"flat"}"#, Some(r#"{"type":"scalar","trainRatio":"x"}"#), "trainRatio must be a number"),
        ] {
            let err = CollectionConfig::from_api_json(8, None, Some(index), quant).unwrap_err().to_string();
            assert!(err.contains(says), "{index}: {err}");
        }
        // rebuild(): omitted parts are kept, a removed quantization goes.
        let kept = c.rebuild_target(None, None, false).unwrap();
        assert_eq!(kept, c);
        let flat = c.rebuild_target(Some(r#"{"type":"flat"}"#), None, true).unwrap();
        assert_eq!((flat.index, flat.quantization, flat.recall_target), (IndexConfig::Flat, None, None));
    }

    #[test]
    fn config_validation_names_the_bad_value() {
        let spec = |kind| IndexSpec { kind, ..Default::default() };
        assert!(CollectionConfig::from_api(0, None, spec(None)).unwrap_err().to_string().contains("got 0"));
        assert!(
            CollectionConfig::from_api(8, Some("manhattan"), spec(None)).unwrap_err().to_string().contains("manhattan")
        );
        assert!(CollectionConfig::from_api(8, None, spec(Some("tree"))).unwrap_err().to_string().contains("tree"));
        let c = CollectionConfig::from_api(8, Some("cosine"), spec(None)).unwrap();
        assert_eq!((c.dimension, c.metric, c.index), (8, Metric::Cosine, IndexConfig::Flat));
        let bad_m = IndexSpec { kind: Some("hnsw"), m: Some(1), ..Default::default() };
        assert!(CollectionConfig::from_api(8, None, bad_m).unwrap_err().to_string().contains("index.m"));
        let flat_m = IndexSpec { kind: Some("flat"), m: Some(8), ..Default::default() };
        assert!(CollectionConfig::from_api(8, None, flat_m).is_err());
        let hnsw_nlist = IndexSpec { kind: Some("hnsw"), nlist: Some(8), ..Default::default() };
        let e = CollectionConfig::from_api(8, None, hnsw_nlist).unwrap_err().to_string();
        assert!(e.contains("index.nlist applies to { type: 'ivfpq' } only"), "{e}");
        let ivf =
            |spec: IndexSpec<'static>| CollectionConfig::from_api(96, None, IndexSpec { kind: Some("ivfpq"), ..spec });
        let p = ivf(IndexSpec::default()).unwrap().index.ivf_params().unwrap();
        assert_eq!((p.nlist, p.nprobe, p.m, p.bits, p.rerank), (None, None, 24, 8, IvfParams::DEFAULT_RERANK));
        assert!(ivf(IndexSpec { m: Some(7), ..Default::default() }).unwrap_err().to_string().contains("divide"));
        assert!(ivf(IndexSpec { bits: Some(6), ..Default::default() }).unwrap_err().to_string().contains("bits"));
        assert!(ivf(IndexSpec { nlist: Some(0), ..Default::default() }).unwrap_err().to_string().contains("nlist"));
        assert!(ivf(IndexSpec { ef_search: Some(9), ..Default::default() }).is_err());
        let quantized = CollectionConfig::from_api_quantized(
            96,
            None,
            IndexSpec { kind: Some("ivfpq"), ..Default::default() },
            QuantSpec { kind: Some("scalar"), ..Default::default() },
        );
        assert!(quantized.unwrap_err().to_string().contains("own product codes"));
        let h = CollectionConfig::from_api(8, None, IndexSpec { kind: Some("hnsw"), m: Some(8), ..Default::default() })
            .unwrap();
        assert_eq!(h.index.hnsw_params().unwrap().m, 8);
        assert_eq!(h.index.hnsw_params().unwrap().ef_construction, 200);
    }

    #[test]
    fn collection_names_are_safe_directory_names() {
        for bad in ["", "../x", "a/b", "a b", &"x".repeat(65)] {
            assert!(validate_collection_name(bad).is_err(), "{bad}");
        }
        validate_collection_name("docs_v2-test").unwrap();
    }
}
