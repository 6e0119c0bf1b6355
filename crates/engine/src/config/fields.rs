//! Named vector fields in a collection's configuration (DESIGN §13): each field a
//! configuration of its own (dimension, metric, index, quantization), added and dropped while serving.

use libravdb_core::Metric;

use super::{CollectionConfig, IndexConfig, RecallTarget};
use crate::error::{Error, Result};

impl CollectionConfig {
    /// Whether records have an unnamed default vector (`dimension` > 0).
    pub fn has_default_vector(&self) -> bool {
        self.dimension > 0
    }

    /// Named vector field `name`'s configuration and position; `ERR_INVALID_ARGUMENT`
    /// naming the fields there are when there is no such field.
    pub fn vector_field(&self, name: &str) -> Result<(usize, &CollectionConfig)> {
        if let Some(i) = self.vectors.iter().position(|(n, _)| n == name) {
            return Ok((i, &self.vectors[i].1));
        }
        let names: Vec<&str> = self.vectors.iter().map(|(n, _)| n.as_str()).collect();
        Err(Error::invalid(format!(
            "'{name}' is not a vector field of this collection (its vector fields: {})",
            if names.is_empty() { "none: it has one unnamed vector".to_owned() } else { names.join(", ") }
        )))
    }

    /// Named vector field `name`'s configuration for a vector of `len` values (`what` names
    /// the vector in the error): `ERR_INVALID_ARGUMENT` when there is no such field,
    /// `ERR_DIMENSION_MISMATCH` when `len` is not its dimension.
    pub fn vector_field_for(&self, name: &str, len: usize, what: impl FnOnce() -> String) -> Result<&CollectionConfig> {
        let (_, field) = self.vector_field(name)?;
        if len != field.dimension {
            return Err(Error::DimensionMismatch { what: what(), expected: field.dimension, got: len });
        }
        Ok(field)
    }

    /// A configuration of named vector fields only (`fields`: name and configuration, each
    /// as [`CollectionConfig::from_api_json`] builds it).
    pub fn named(fields: Vec<(String, CollectionConfig)>) -> Result<Self> {
        if fields.is_empty() {
            return Err(Error::invalid("vectors must name at least one vector field"));
        }
        for (i, (name, _)) in fields.iter().enumerate() {
            if fields[..i].iter().any(|(n, _)| n == name) {
                return Err(Error::invalid(format!("vector field '{name}' is named twice")));
            }
            check_field_name(name)?;
        }
        Ok(Self {
            dimension: 0,
            metric: Metric::L2,
            index: IndexConfig::Flat,
            quantization: None,
            schema: Vec::new(),
            text: Vec::new(),
            recall_target: None,
            memory_limit: None,
            mmap: Default::default(),
            vectors: fields,
        })
    }

    /// This configuration with named vector field `name` added (after the others).
    pub fn with_vector_field(&self, name: &str, field: CollectionConfig) -> Result<Self> {
        if self.vectors.iter().any(|(n, _)| n == name) {
            return Err(Error::invalid(format!(
                "vector field '{name}' exists; drop it first to give it other settings"
            )));
        }
        check_field_name(name)?;
        let mut next = self.clone();
        next.vectors.push((name.to_owned(), field));
        Ok(next)
    }

    /// This configuration with named vector field `name`'s index and quantization those of
    /// `field` (its dimension and metric stay): what `rebuild({ using })` switches to.
    pub fn with_vector_field_rebuilt(&self, name: &str, field: &CollectionConfig) -> Result<Self> {
        let (i, current) = self.vector_field(name)?;
        // `field`'s recall target (see `rebuild_target`: the current one unless a new index is
        // named), tuned for afresh on the new index.
        let recall_target = field.recall_target.map(|t| RecallTarget { tuned_at: 0, ..t });
        let next =
            CollectionConfig { index: field.index, quantization: field.quantization, recall_target, ..current.clone() };
        next.check_index_and_quantization()?;
        let mut out = self.clone();
        out.vectors[i].1 = next;
        Ok(out)
    }

    /// This configuration without named vector field `name` (`ERR_INVALID_ARGUMENT` when there
    /// is no such field, or when it is the last vector of a collection of named fields only).
    pub fn without_vector_field(&self, name: &str) -> Result<Self> {
        let (i, _) = self.vector_field(name)?;
        if self.vectors.len() == 1 && !self.has_default_vector() {
            return Err(Error::invalid(format!(
                "vector field '{name}' is this collection's only vector; add the one that replaces it first"
            )));
        }
        let mut next = self.clone();
        next.vectors.remove(i);
        Ok(next)
    }
}

/// Checks a named vector field's name: 1-64 characters of `[A-Za-z0-9_-]` (it names a
/// directory). A field takes every index, quantization and recall target the unnamed vector
/// takes.
fn check_field_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(Error::invalid(format!(
            "vector field names must be 1-64 characters of letters, digits, '_' and '-', got '{name}'"
        )));
    }
    Ok(())
}
