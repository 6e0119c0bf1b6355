//! The values of named vector fields as they cross to and from JS: a record's named vectors,
//! a put's blocks, an update's changes, a new collection's fields, their shapes and stats.

use libravdb_engine::{CollectionConfig, FieldStats};
use napi::bindgen_prelude::{Float32Array, Uint8Array};
use napi_derive::napi;

/// One named vector field's vector of a record.
#[napi(object)]
pub struct NativeNamedVector {
    pub field: String,
    pub vector: Float32Array,
}

/// One named vector field's vectors in a put batch: per record, whether it carries the field
/// (`present[i]` 1), and their vectors row-major in that order.
#[napi(object)]
pub struct NativeNamedBlock {
    pub field: String,
    pub present: Uint8Array,
    pub vectors: Float32Array,
}

/// A named vector field set (`vector`) or removed (none) by item `item` of an update batch.
#[napi(object)]
pub struct NativeNamedUpdate {
    pub item: u32,
    pub field: String,
    pub vector: Option<Float32Array>,
}

/// A named vector field of a new collection, or one added (`index`, `quantization`: their
/// API objects as JSON text).
#[napi(object)]
pub struct NativeVectorField {
    pub name: String,
    pub dimension: i64,
    pub metric: Option<String>,
    pub index: Option<String>,
    pub quantization: Option<String>,
}

impl NativeVectorField {
    /// The field's name and configuration (the engine checks its options).
    pub fn config(&self) -> libravdb_engine::Result<(String, CollectionConfig)> {
        let config = CollectionConfig::from_api_json(
            self.dimension,
            self.metric.as_deref(),
            self.index.as_deref(),
            self.quantization.as_deref(),
        )?;
        Ok((self.name.clone(), config))
    }
}

/// A named vector field's shape, as the facade checks vectors against it.
#[napi(object)]
pub struct NativeFieldInfo {
    pub name: String,
    pub dimension: u32,
    pub metric: String,
}

/// `stats().vectors.<name>`.
#[napi(object)]
pub struct NativeFieldStats {
    pub name: String,
    pub dimension: u32,
    pub metric: String,
    pub index: String,
    pub count: f64,
    pub rows: f64,
    pub vector_bytes: f64,
    pub index_bytes: f64,
    pub quantization: String,
    pub quantization_error: Option<String>,
    pub code_bytes: f64,
    pub compression: f64,
    pub index_state: String,
    pub nlist: Option<u32>,
    pub target_recall: Option<f64>,
    pub tuned_at: Option<f64>,
}

impl From<FieldStats> for NativeFieldStats {
    fn from(f: FieldStats) -> Self {
        Self {
            name: f.name,
            dimension: f.dimension as u32,
            metric: f.metric.into(),
            index: f.index.into(),
            count: f.count as f64,
            rows: f.rows as f64,
            vector_bytes: f.vector_bytes as f64,
            index_bytes: f.index_bytes as f64,
            quantization: f.quantization.into(),
            quantization_error: f.quantization_error,
            code_bytes: f.code_bytes as f64,
            compression: f.compression,
            index_state: f.index_state.into(),
            nlist: f.nlist.map(|n| n as u32),
            target_recall: f.recall_target.map(|t| t.recall),
            tuned_at: f.recall_target.map(|t| t.tuned_at as f64),
        }
    }
}
