//! What the items of a write must be: ids, vectors (of the collection's and of its named
//! fields' dimensions and metrics), metadata against the schema; and vectors made ready to
//! store.

use libravdb_core::{Metric, distance::normalize};

use crate::config::{CollectionConfig, MAX_ID_BYTES};
use crate::error::{Error, ErrorCode, Result};
use crate::ops::NamedVectors;

pub(super) type ItemProblem = (ErrorCode, String);

/// Checks metadata JSON against the schema: an object whose schema fields, when present and
/// not null, hold values of their declared type.
pub(super) fn check_metadata(
    json: Option<&str>,
    schema: &[(String, libravdb_filter::FieldType)],
) -> std::result::Result<(), ItemProblem> {
    let Some(json) = json else { return Ok(()) };
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| (ErrorCode::InvalidArgument, format!("metadata is not valid JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err((ErrorCode::InvalidArgument, "metadata must be a JSON object".into()));
    };
    for (name, t) in schema {
        if let Some(v) = libravdb_filter::eval::lookup(obj, name)
            && !v.is_null()
            && !t.accepts(v)
        {
            let shown: String = v.to_string().chars().take(60).collect();
            return Err((ErrorCode::Schema, format!("metadata.{name} must be {}, got {shown}", t.as_str())));
        }
    }
    Ok(())
}

pub(super) fn check_id(id: &str) -> std::result::Result<(), ItemProblem> {
    if id.is_empty() {
        return Err((ErrorCode::InvalidArgument, "id is empty; ids must be non-empty strings".into()));
    }
    if id.contains('\0') {
        return Err((ErrorCode::InvalidArgument, "id contains a NUL character, which ids may not hold".into()));
    }
    if id.len() > MAX_ID_BYTES {
        return Err((
            ErrorCode::InvalidArgument,
            format!("id is {} bytes long; the limit is {MAX_ID_BYTES}", id.len()),
        ));
    }
    Ok(())
}

/// Checks that a vector is usable under `metric`: finite values, and a direction for cosine.
pub(super) fn check_vector(v: &[f32], metric: Metric) -> std::result::Result<(), ItemProblem> {
    if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err((
            ErrorCode::InvalidArgument,
            format!("vector[{i}] is {x}; vectors must contain only finite numbers"),
        ));
    }
    if metric.normalizes() && v.iter().all(|&x| x == 0.0) {
        return Err((ErrorCode::InvalidArgument, "vector is all zeros, which has no cosine direction".into()));
    }
    Ok(())
}

/// A copy of `v` ready to store: normalised for cosine.
pub(super) fn prepared(v: &[f32], metric: Metric) -> Vec<f32> {
    let mut out = v.to_vec();
    if metric.normalizes() {
        normalize(&mut out);
    }
    out
}

/// Checks an update's named vectors against `config`: fields of the collection, each named
/// once, a vector of the field's dimension and usable under its metric (`None` removes it).
pub(super) fn check_named_update(
    config: &CollectionConfig,
    named: &[(String, Option<Vec<f32>>)],
) -> std::result::Result<(), ItemProblem> {
    for (b, (name, v)) in named.iter().enumerate() {
        if named[..b].iter().any(|(other, _)| other == name) {
            return Err((ErrorCode::InvalidArgument, format!("vector field '{name}' is given twice")));
        }
        let as_item = |e: Error| (e.code(), e.to_string());
        match v {
            Some(v) => {
                let field = config.vector_field_for(name, v.len(), || format!("vectors.{name}")).map_err(as_item)?;
                check_vector(v, field.metric)?;
            }
            None => {
                config.vector_field(name).map_err(as_item)?;
            }
        }
    }
    Ok(())
}

/// Checks named vector fields' blocks of a put of `n` records against `config` (each a field
/// of the collection, named once, of its dimension, with a flag per record and a vector per
/// flag set); returns each block's field configuration.
pub(super) fn check_named_blocks(
    config: &CollectionConfig,
    named: &[NamedVectors<'_>],
    n: usize,
) -> Result<Vec<CollectionConfig>> {
    let mut fields = Vec::with_capacity(named.len());
    for (b, block) in named.iter().enumerate() {
        if named[..b].iter().any(|other| other.field == block.field) {
            return Err(Error::invalid(format!("vector field '{}' is given twice", block.field)));
        }
        let field = config.vector_field_for(&block.field, block.dim, || format!("vectors.{}", block.field))?;
        let carried = block.present.iter().filter(|&&p| p).count();
        if block.present.len() != n || block.vectors.len() != carried * block.dim {
            return Err(Error::invalid(format!(
                "vector field '{}': {n} records need {n} presence flags and a vector per flag set",
                block.field
            )));
        }
        fields.push(field.clone());
    }
    Ok(fields)
}
