//! Records to Arrow columns and back.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, FixedSizeListBuilder, Float32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use libravdb_engine::{Error, NamedVectors, Record, Result};
use libravdb_filter::FieldType;
use serde_json::{Map, Number, Value};

pub const ID_COLUMN: &str = "id";
pub const VECTOR_COLUMN: &str = "vector";
pub const METADATA_COLUMN: &str = "metadata";

fn field_data_type(t: FieldType) -> DataType {
    match t {
        FieldType::String | FieldType::Text | FieldType::Sparse => DataType::Utf8, // sparse: never typed
        FieldType::Int => DataType::Int64,
        FieldType::Float => DataType::Float64,
        FieldType::Bool => DataType::Boolean,
        FieldType::Date => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        FieldType::StringArray => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        FieldType::NumberArray => DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
    }
}

/// `id`, `vector` (when the collection has an unnamed vector), one column per named vector
/// field (null where a record lacks it), one per typed field, `metadata`.
pub fn arrow_schema(dim: usize, vectors: &[(String, usize)], fields: &[(String, FieldType)]) -> Schema {
    let mut columns = vec![Field::new(ID_COLUMN, DataType::Utf8, false)];
    if dim > 0 {
        columns.push(Field::new(VECTOR_COLUMN, crate::vector_type(dim), false));
    }
    columns.extend(vectors.iter().map(|(name, d)| Field::new(name, crate::vector_type(*d), true)));
    columns.extend(fields.iter().map(|(name, t)| Field::new(name, field_data_type(*t), true)));
    columns.push(Field::new(METADATA_COLUMN, DataType::Utf8, true));
    Schema::new(columns)
}

/// One column builder per typed field.
enum FieldBuilder {
    String(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(TimestampMillisecondBuilder),
    Strings(ListBuilder<StringBuilder>),
    Numbers(ListBuilder<Float64Builder>),
}

impl FieldBuilder {
    fn new(t: FieldType, rows: usize) -> Self {
        match t {
            FieldType::String | FieldType::Text | FieldType::Sparse => {
                Self::String(StringBuilder::with_capacity(rows, rows * 8))
            }
            FieldType::Int => Self::Int(Int64Builder::with_capacity(rows)),
            FieldType::Float => Self::Float(Float64Builder::with_capacity(rows)),
            FieldType::Bool => Self::Bool(BooleanBuilder::with_capacity(rows)),
            FieldType::Date => Self::Date(TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC")),
            FieldType::StringArray => Self::Strings(ListBuilder::new(StringBuilder::new())),
            FieldType::NumberArray => Self::Numbers(ListBuilder::new(Float64Builder::new())),
        }
    }

    /// Appends `v` (a value the schema validated on write), or null.
    fn append(&mut self, v: Option<&Value>) {
        match self {
            Self::String(b) => b.append_option(v.and_then(Value::as_str)),
            Self::Int(b) => b.append_option(v.and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))),
            Self::Float(b) => b.append_option(v.and_then(Value::as_f64)),
            Self::Bool(b) => b.append_option(v.and_then(Value::as_bool)),
            Self::Date(b) => b.append_option(v.and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))),
            Self::Strings(b) => match v.and_then(Value::as_array) {
                Some(items) => {
                    for item in items {
                        b.values().append_option(item.as_str());
                    }
                    b.append(true);
                }
                None => b.append(false),
            },
            Self::Numbers(b) => match v.and_then(Value::as_array) {
                Some(items) => {
                    for item in items {
                        b.values().append_option(item.as_f64());
                    }
                    b.append(true);
                }
                None => b.append(false),
            },
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::String(b) => Arc::new(b.finish()),
            Self::Int(b) => Arc::new(b.finish()),
            Self::Float(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Strings(b) => Arc::new(b.finish()),
            Self::Numbers(b) => Arc::new(b.finish()),
        }
    }
}

/// A record batch of scanned records: typed fields taken out of each record's metadata, the
/// rest left as JSON.
pub fn record_batch(
    schema: &Arc<Schema>,
    dim: usize,
    named: &[(String, usize)],
    fields: &[(String, FieldType)],
    page: &[Record],
) -> Result<RecordBatch> {
    let rows = page.len();
    let mut ids = StringBuilder::with_capacity(rows, rows * 16);
    let list = |d: usize| {
        FixedSizeListBuilder::with_capacity(Float32Builder::with_capacity(rows * d), d as i32, rows)
            .with_field(Arc::new(Field::new("item", DataType::Float32, false)))
    };
    let mut vectors = list(dim);
    let mut named_vectors: Vec<_> = named.iter().map(|(_, d)| list(*d)).collect();
    let mut typed: Vec<FieldBuilder> = fields.iter().map(|(_, t)| FieldBuilder::new(*t, rows)).collect();
    let mut rest = StringBuilder::with_capacity(rows, rows * 32);
    for r in page {
        ids.append_value(&r.id);
        vectors.values().append_slice(&r.vector);
        vectors.append(true);
        for ((name, d), b) in named.iter().zip(named_vectors.iter_mut()) {
            match r.named.iter().find(|(n, _)| n == name) {
                Some((_, v)) => {
                    b.values().append_slice(v);
                    b.append(true);
                }
                None => {
                    // A null entry still takes its slot of child values.
                    b.values().append_slice(&vec![0.0; *d]);
                    b.append(false);
                }
            }
        }
        let mut metadata = match r.metadata.as_deref().map(serde_json::from_str::<Map<String, Value>>) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                return Err(Error::Internal(format!("stored metadata of '{}' is not a JSON object: {e}", r.id)));
            }
            None => Map::new(),
        };
        for ((name, _), b) in fields.iter().zip(typed.iter_mut()) {
            b.append(metadata.remove(name).as_ref());
        }
        if metadata.is_empty() {
            rest.append_null();
        } else {
            rest.append_value(Value::Object(metadata).to_string());
        }
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(ids.finish())];
    if dim > 0 {
        columns.push(Arc::new(vectors.finish()));
    }
    columns.extend(named_vectors.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.extend(typed.iter_mut().map(FieldBuilder::finish));
    columns.push(Arc::new(rest.finish()));
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Internal(format!("building a record batch: {e}")))
}

fn bad_file(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::invalid(format!("{}: {msg}", path.display()))
}

/// The dimension of a fixed-size vector column (`None` for a variable-length list).
pub fn vector_dimension(schema: &Schema, path: &Path) -> Result<Option<usize>> {
    let column = VECTOR_COLUMN;
    let field = schema
        .field_with_name(column)
        .map_err(|_| bad_file(path, format!("no '{column}' column (columns: {})", column_names(schema))))?;
    match field.data_type() {
        DataType::FixedSizeList(item, n) if is_float(item.data_type()) => Ok(Some(*n as usize)),
        DataType::List(item) | DataType::LargeList(item) if is_float(item.data_type()) => Ok(None),
        t => Err(bad_file(path, format!("column '{column}' has type {t}; expected a list of float32 or float64"))),
    }
}

fn column_names(schema: &Schema) -> String {
    schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
}

fn is_float(t: &DataType) -> bool {
    matches!(t, DataType::Float32 | DataType::Float64)
}

/// The length of the first row's vector.
pub fn first_vector_len(batch: &RecordBatch, path: &Path) -> Result<usize> {
    let col = vector_column(batch, path)?;
    let mut out = Vec::new();
    rows_vector(col.as_ref(), 0, &mut out, path)?;
    Ok(out.len())
}

fn vector_column(batch: &RecordBatch, path: &Path) -> Result<ArrayRef> {
    batch.column_by_name(VECTOR_COLUMN).cloned().ok_or_else(|| bad_file(path, format!("no '{VECTOR_COLUMN}' column")))
}

/// Appends row `row` of a list-of-floats column to `out`.
fn rows_vector(col: &dyn Array, row: usize, out: &mut Vec<f32>, path: &Path) -> Result<()> {
    if col.is_null(row) {
        return Err(bad_file(path, format!("row {row} has no vector")));
    }
    let values: ArrayRef = match col.data_type() {
        DataType::FixedSizeList(..) => col.as_fixed_size_list().value(row),
        DataType::List(_) => col.as_list::<i32>().value(row),
        DataType::LargeList(_) => col.as_list::<i64>().value(row),
        t => return Err(bad_file(path, format!("column '{VECTOR_COLUMN}' has type {t}"))),
    };
    match values.data_type() {
        DataType::Float32 => out.extend(values.as_primitive::<Float32Type>().iter().map(|v| v.unwrap_or(f32::NAN))),
        DataType::Float64 => {
            out.extend(values.as_primitive::<Float64Type>().iter().map(|v| v.map_or(f32::NAN, |v| v as f32)))
        }
        t => return Err(bad_file(path, format!("column '{VECTOR_COLUMN}' holds {t}, not floats"))),
    }
    Ok(())
}

/// Records of one record batch, in the form `Collection::put_batch_named` takes.
pub struct Rows {
    pub ids: Vec<String>,
    pub vectors: Vec<f32>,
    pub metadata: Vec<Option<String>>,
    /// The collection's named vector fields the file has a column of.
    pub named: Vec<NamedVectors<'static>>,
}

/// Reads a record batch into a collection whose unnamed vector has `dim` values (0: none) and
/// whose named vector fields are `named` (name, dimension): a column named after a field
/// holds its vectors (null: the record lacks it). `first_row` is the batch's position in
/// the file (for messages).
pub fn read_rows(
    batch: &RecordBatch,
    dim: usize,
    named: &[(String, usize)],
    first_row: u64,
    path: &Path,
) -> Result<Rows> {
    let n = batch.num_rows();
    let schema = batch.schema();
    let id_col = batch
        .column_by_name(ID_COLUMN)
        .ok_or_else(|| bad_file(path, format!("no '{ID_COLUMN}' column (columns: {})", column_names(&schema))))?;
    let vectors = if dim > 0 { Some(vector_column(batch, path)?) } else { None };
    let field_columns: Vec<(&str, usize, ArrayRef)> = named
        .iter()
        .filter_map(|(name, d)| batch.column_by_name(name).map(|c| (name.as_str(), *d, c.clone())))
        .collect();
    let others: Vec<(String, ArrayRef)> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(f, _)| {
            f.name() != ID_COLUMN && f.name() != VECTOR_COLUMN && !named.iter().any(|(n, _)| n == f.name())
        })
        .map(|(f, c)| (f.name().clone(), c.clone()))
        .collect();
    let mut rows = Rows {
        ids: Vec::with_capacity(n),
        vectors: Vec::with_capacity(n * dim),
        metadata: Vec::with_capacity(n),
        named: field_columns
            .iter()
            .map(|(name, d, _)| NamedVectors {
                field: (*name).to_owned(),
                dim: *d,
                present: Vec::with_capacity(n),
                vectors: Vec::new().into(),
            })
            .collect(),
    };
    for row in 0..n {
        let file_row = first_row + row as u64;
        let id = match json_value(id_col.as_ref(), row, ID_COLUMN, path)? {
            Some(Value::String(s)) => s,
            Some(Value::Number(x)) => x.to_string(),
            _ => return Err(bad_file(path, format!("row {file_row} has no id"))),
        };
        if let Some(vectors) = &vectors {
            let before = rows.vectors.len();
            rows_vector(vectors.as_ref(), row, &mut rows.vectors, path)
                .map_err(|_| bad_file(path, format!("row {file_row} (id '{id}') has no readable vector")))?;
            let got = rows.vectors.len() - before;
            if got != dim {
                return Err(Error::DimensionMismatch {
                    what: format!("row {file_row} (id '{id}') of {}", path.display()),
                    expected: dim,
                    got,
                });
            }
        }
        for ((name, d, col), block) in field_columns.iter().zip(rows.named.iter_mut()) {
            let present = !col.is_null(row);
            block.present.push(present);
            if present {
                let out = block.vectors.to_mut();
                let before = out.len();
                rows_vector(col.as_ref(), row, out, path)?;
                if out.len() - before != *d {
                    return Err(Error::DimensionMismatch {
                        what: format!("row {file_row} (id '{id}'), column '{name}', of {}", path.display()),
                        expected: *d,
                        got: out.len() - before,
                    });
                }
            }
        }
        let mut metadata = Map::new();
        for (name, col) in &others {
            if name == METADATA_COLUMN
                && matches!(col.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
            {
                if let Some(Value::String(text)) = json_value(col.as_ref(), row, name, path)? {
                    match serde_json::from_str::<Map<String, Value>>(&text) {
                        Ok(extra) => extra.into_iter().for_each(|(k, v)| {
                            metadata.entry(k).or_insert(v);
                        }),
                        Err(e) => {
                            return Err(bad_file(
                                path,
                                format!("row {file_row}: '{METADATA_COLUMN}' is not a JSON object: {e}"),
                            ));
                        }
                    }
                }
                continue;
            }
            if let Some(v) = json_value(col.as_ref(), row, name, path)? {
                metadata.insert(name.clone(), v);
            }
        }
        rows.ids.push(id);
        rows.metadata.push(if metadata.is_empty() { None } else { Some(Value::Object(metadata).to_string()) });
    }
    Ok(rows)
}

/// A JSON number as JavaScript would write it: integral values without a fraction (metadata
/// comes from JS, where 1 and 1.0 are one value), NaN and infinities as null.
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// The JSON value of one cell (`None` for null); timestamps and dates as epoch milliseconds.
fn json_value(col: &dyn Array, row: usize, name: &str, path: &Path) -> Result<Option<Value>> {
    if col.is_null(row) {
        return Ok(None);
    }
    macro_rules! int {
        ($t:ty) => {
            Value::from(col.as_primitive::<$t>().value(row))
        };
    }
    let v = match col.data_type() {
        DataType::Utf8 => Value::String(col.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::String(col.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Value::String(col.as_string_view().value(row).to_string()),
        DataType::Boolean => Value::Bool(col.as_boolean().value(row)),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float32 => number(col.as_primitive::<Float32Type>().value(row) as f64),
        DataType::Float64 => number(col.as_primitive::<Float64Type>().value(row)),
        DataType::Timestamp(unit, _) => {
            let ms = match unit {
                TimeUnit::Second => col.as_primitive::<TimestampSecondType>().value(row) * 1000,
                TimeUnit::Millisecond => col.as_primitive::<TimestampMillisecondType>().value(row),
                TimeUnit::Microsecond => col.as_primitive::<TimestampMicrosecondType>().value(row) / 1000,
                TimeUnit::Nanosecond => col.as_primitive::<TimestampNanosecondType>().value(row) / 1_000_000,
            };
            Value::from(ms)
        }
        DataType::Date32 => Value::from(col.as_primitive::<Date32Type>().value(row) as i64 * 86_400_000),
        DataType::Date64 => Value::from(col.as_primitive::<Date64Type>().value(row)),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let items: ArrayRef = match col.data_type() {
                DataType::List(_) => col.as_list::<i32>().value(row),
                DataType::LargeList(_) => col.as_list::<i64>().value(row),
                _ => col.as_fixed_size_list().value(row),
            };
            let mut out = Vec::with_capacity(items.len());
            for i in 0..items.len() {
                out.push(json_value(items.as_ref(), i, name, path)?.unwrap_or(Value::Null));
            }
            Value::Array(out)
        }
        t => return Err(bad_file(path, format!("column '{name}' has type {t}, which import does not read"))),
    };
    Ok(Some(v))
}
