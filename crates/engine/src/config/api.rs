//! Configuration as the API passes it: the one table of options and defaults per index and
//! quantization type, the API objects read against it (JSON from the addon, or the
//! `IndexSpec` / `QuantSpec` forms), and their validation into the stored configuration.

use libravdb_core::{HnswParams, Metric};
use serde_json::Value;

use super::{
    AutoParams, AutoTarget, CollectionConfig, IndexConfig, IvfParams, MAX_DIMENSION, MAX_K, QuantizationConfig,
    RecallTarget,
};
use crate::error::{Error, Result};

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
                // 2 at 8 bits, 4 at 4 bits (null: it depends, as product `m` does).
                ("oversampling", Value::Null),
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
        let default_oversampling = match (kind, bits) {
            ("product", _) => QuantizationConfig::DEFAULT_PRODUCT_OVERSAMPLING,
            (_, 4) => QuantizationConfig::DEFAULT_SCALAR4_OVERSAMPLING,
            _ => QuantizationConfig::DEFAULT_SCALAR_OVERSAMPLING,
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
        let config = Self {
            dimension,
            metric,
            index: built,
            quantization,
            schema: Vec::new(),
            text: Vec::new(),
            recall_target: None,
            memory_limit: None,
            mmap: Default::default(),
            vectors: Vec::new(),
        }
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
        self.recall_target = index.target_recall.map(|r| RecallTarget::new("index.targetRecall", r)).transpose()?;
        Ok(self)
    }
}

/// A configuration's index and quantization back in the API's spelling (the inverse of
/// [`CollectionConfig::from_api_json`]): what an export records so an import recreates them.
impl CollectionConfig {
    /// `{ "type": "hnsw", "m": 16, "efConstruction": 200, "efSearch": 64, .. }`, with the
    /// recall target when there is one.
    pub fn index_api_json(&self) -> String {
        let mut o = serde_json::Map::new();
        o.insert("type".into(), self.index.kind().into());
        let mut set = |k: &str, v: Value| {
            o.insert(k.into(), v);
        };
        let ivf = |set: &mut dyn FnMut(&str, Value), p: &IvfParams| {
            if let Some(n) = p.nlist {
                set("nlist", n.into());
            }
            if let Some(n) = p.nprobe {
                set("nprobe", n.into());
            }
            set("m", p.m.into());
            set("bits", p.bits.into());
            set("rerank", p.rerank.into());
        };
        match self.index {
            IndexConfig::Flat => {}
            IndexConfig::Hnsw { m, ef_construction, ef_search, .. } => {
                set("m", m.into());
                set("efConstruction", ef_construction.into());
                set("efSearch", ef_search.into());
            }
            IndexConfig::Ivfpq(p) => ivf(&mut set, &p),
            IndexConfig::Auto(a) => {
                set("flatThreshold", a.flat_threshold.into());
                let to = match a.target {
                    AutoTarget::Hnsw { .. } => "hnsw",
                    AutoTarget::Ivfpq(_) => "ivfpq",
                };
                set("promoteTo", to.into());
            }
        }
        if let Some(t) = self.recall_target {
            set("targetRecall", t.recall.into());
        }
        Value::Object(o).to_string()
    }

    /// `{ "type": "scalar", "bits": 8, .. }`, or None without quantization.
    pub fn quantization_api_json(&self) -> Option<String> {
        let (kind, m, bits, train_ratio, oversampling) = match self.quantization? {
            QuantizationConfig::Scalar { bits, train_ratio, oversampling } => {
                ("scalar", None, bits, train_ratio, oversampling)
            }
            QuantizationConfig::Product { m, bits, train_ratio, oversampling } => {
                ("product", Some(m), bits, train_ratio, oversampling)
            }
        };
        let mut o =
            serde_json::json!({ "type": kind, "bits": bits, "trainRatio": train_ratio, "oversampling": oversampling });
        if let Some(m) = m {
            o["m"] = m.into();
        }
        Some(o.to_string())
    }
}
