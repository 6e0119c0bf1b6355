//! Export and import of collections as Parquet, the columnar format LanceDB, DuckDB, Spark,
//! pandas/pyarrow and Milvus's bulk import read. One row per record:
//!
//! | column | Arrow type | |
//! |---|---|---|
//! | `id` | Utf8 | |
//! | `vector` | FixedSizeList<Float32>(dimension) | as stored (unit length for cosine); absent in a collection of named vector fields only |
//! | one per named vector field | FixedSizeList<Float32>(its dimension) | null where the record lacks the field |
//! | one per schema field | Utf8, Int64, Float64, Boolean, Timestamp(ms, UTC), List<Utf8>, List<Float64> | null when absent |
//! | `metadata` | Utf8 (JSON) | the fields outside the schema; null when none |
//!
//! The file's key-value metadata `libravdb` holds `{ "dimension", "metric", "schema",
//! "index", "quantization" }` (the last two as the API spells them, quantization null when
//! none) and, with named vector fields, `"vectors": [[name, dimension, metric, index kind,
//! index, quantization]]` (files of earlier versions stop at the kind), so an import
//! can recreate the collection (an import reads a named field from the column of its name). Import also reads files written elsewhere: an id column
//! (string or integer), a vector column (fixed-size or variable list of float32/float64) and any
//! other scalar or list columns, which become metadata fields.
//!
//! Both directions stream: export writes row groups of [`BATCH_ROWS`] records from scan pages,
//! import commits one batch per Arrow record batch, so memory stays bounded by a batch.

mod columns;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field};
use libravdb_engine::{BatchOptions, Cancel, Collection, Error, Filter, Result};
use libravdb_filter::FieldType;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

pub use columns::{ID_COLUMN, METADATA_COLUMN, VECTOR_COLUMN};

/// Records per scan page and row group on export, and per committed batch on import.
pub const BATCH_ROWS: usize = 4096;
/// Key of the file metadata entry that describes the collection.
pub const FILE_METADATA_KEY: &str = "libravdb";

/// What an export or import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferReport {
    /// Records written to the file (export) or committed (import).
    pub records: u64,
    /// Size of the file.
    pub bytes: u64,
    /// Export: the change-feed sequence number the file is consistent at (the collection's
    /// when the export began; following `changes` from it brings a copy up to date). 0 for
    /// an import.
    pub seq: u64,
}

/// What a Parquet file says about the collection it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    pub rows: u64,
    /// The unnamed vector's (0: the file has only named vector fields).
    pub dimension: usize,
    /// Named vector fields from the `libravdb` entry.
    pub vectors: Vec<VectorColumn>,
    /// From the `libravdb` entry, when the file was written by an export.
    pub metric: Option<String>,
    /// The unnamed vector's index and quantization as the API spells them (JSON), when the
    /// export recorded them.
    pub index: Option<String>,
    pub quantization: Option<String>,
    /// Schema fields (name, type spelling) from the `libravdb` entry.
    pub schema: Vec<(String, String)>,
}

/// A named vector field as an export records it.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorColumn {
    pub name: String,
    pub dimension: usize,
    pub metric: String,
    /// Its index as the API spells it (JSON): `{"type": kind}` alone from files of earlier
    /// versions, which recorded only the kind.
    pub index: String,
    /// Its quantization as the API spells it (JSON), if any.
    pub quantization: Option<String>,
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Storage(libravdb_storage::StorageError::Io { path: path.to_path_buf(), source })
}

fn parquet_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("{}: {e}", path.display()))
}

/// The schema fields that get a typed column: those whose names do not clash with a fixed
/// column or a named vector field's, and not sparse vectors (those, like a clashing field,
/// travel in the metadata JSON).
fn typed_fields(collection: &Collection) -> Vec<(String, FieldType)> {
    let config = collection.config();
    let vector_field = |name: &str| config.vectors.iter().any(|(n, _)| n == name);
    config
        .field_types()
        .into_iter()
        .filter(|(name, t)| {
            *t != FieldType::Sparse
                && name != ID_COLUMN
                && name != VECTOR_COLUMN
                && name != METADATA_COLUMN
                && !vector_field(name)
        })
        .collect()
}

/// The collection's named vector fields as columns: (name, dimension).
fn vector_fields(collection: &Collection) -> Vec<(String, usize)> {
    collection.config().vectors.iter().map(|(name, c)| (name.clone(), c.dimension)).collect()
}

/// Writes every record of `collection` (or those matching `filter`) to a Parquet file at
/// `path`, through a temporary file renamed at the end: on an error or a cancel no file (and
/// no partial file) is left. `progress` is called with the records written after each batch.
pub fn export_parquet(
    collection: &Collection,
    path: &Path,
    filter: Option<&Filter>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(u64),
) -> Result<TransferReport> {
    let dim = collection.dimension();
    let fields = typed_fields(collection);
    let named = vector_fields(collection);
    if let Some((name, _)) =
        named.iter().find(|(n, _)| [ID_COLUMN, VECTOR_COLUMN, METADATA_COLUMN].contains(&n.as_str()))
    {
        return Err(Error::invalid(format!(
            "vector field '{name}' has the name of a fixed column of the file; it cannot be exported"
        )));
    }
    let schema = Arc::new(columns::arrow_schema(dim, &named, &fields));
    let config = collection.config();
    let api = |json: Option<String>| json.and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok());
    let mut description = serde_json::json!({
        "dimension": dim,
        "metric": collection.metric().as_str(),
        "schema": config.schema,
        "index": if dim > 0 { api(Some(config.index_api_json())) } else { None },
        "quantization": api(config.quantization_api_json()),
    });
    if !config.vectors.is_empty() {
        let vectors: Vec<_> = config
            .vectors
            .iter()
            .map(|(name, c)| {
                let (index, quant) = (api(Some(c.index_api_json())), api(c.quantization_api_json()));
                serde_json::json!([name, c.dimension, c.metric.as_str(), c.index.kind(), index, quant])
            })
            .collect();
        description["vectors"] = serde_json::Value::Array(vectors);
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(BATCH_ROWS * 16))
        .set_key_value_metadata(Some(vec![KeyValue::new(FILE_METADATA_KEY.to_string(), description.to_string())]))
        .build();
    let tmp = temporary_path(path);
    let file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    let result = (|| {
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| parquet_error(path, e))?;
        let mut after = None;
        let mut records = 0u64;
        let mut start_seq = None;
        loop {
            cancel.check()?;
            let (page, next, seq) = collection.scan_page(after, BATCH_ROWS, filter, true)?;
            start_seq.get_or_insert(seq);
            if !page.is_empty() {
                let batch = columns::record_batch(&schema, dim, &named, &fields, &page)?;
                writer.write(&batch).map_err(|e| parquet_error(path, e))?;
                records += page.len() as u64;
                progress(records);
            }
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        cancel.check()?;
        let file = writer.into_inner().map_err(|e| parquet_error(path, e))?;
        file.sync_all().map_err(|e| io_error(&tmp, e))?;
        Ok((records, start_seq.unwrap_or(0)))
    })();
    match result {
        Ok((records, seq)) => {
            std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
            let bytes = std::fs::metadata(path).map_err(|e| io_error(path, e))?.len();
            Ok(TransferReport { records, bytes, seq })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

fn open_reader(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_error(path, e))
}

/// Reads what a Parquet file holds: its row count, the vector dimension and, for files from
/// [`export_parquet`], the metric and schema.
pub fn file_info(path: &Path) -> Result<FileInfo> {
    let builder = open_reader(path)?;
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let described = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|e| e.key == FILE_METADATA_KEY))
        .and_then(|e| e.value.as_deref())
        .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok());
    // An API object recorded as JSON, back to its text (None: absent or null).
    let object = |v: &serde_json::Value| v.is_object().then(|| v.to_string());
    let vectors: Vec<VectorColumn> = described
        .as_ref()
        .and_then(|d| d["vectors"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let text = |i: usize| f[i].as_str().map(str::to_string);
            let kind = text(3)?;
            Some(VectorColumn {
                name: text(0)?,
                dimension: f[1].as_u64()? as usize,
                metric: text(2)?,
                index: object(&f[4]).unwrap_or_else(|| serde_json::json!({ "type": kind }).to_string()),
                quantization: object(&f[5]),
            })
        })
        .collect();
    // A file of named vector fields only has no `vector` column.
    let named_only = !vectors.is_empty() && builder.schema().field_with_name(VECTOR_COLUMN).is_err();
    let dimension = if named_only { Some(0) } else { columns::vector_dimension(builder.schema(), path)? };
    let mut info = FileInfo {
        rows,
        dimension: dimension.unwrap_or(0),
        vectors,
        metric: None,
        index: None,
        quantization: None,
        schema: Vec::new(),
    };
    if let Some(d) = described {
        info.metric = d["metric"].as_str().map(str::to_string);
        info.index = object(&d["index"]);
        info.quantization = object(&d["quantization"]);
        if info.dimension == 0 {
            info.dimension = d["dimension"].as_u64().unwrap_or(0) as usize;
        }
        if let Some(fields) = d["schema"].as_array() {
            for f in fields {
                if let (Some(n), Some(t)) = (f[0].as_str(), f[1].as_str()) {
                    info.schema.push((n.to_string(), t.to_string()));
                }
            }
        }
    }
    if info.dimension == 0 && !named_only {
        // A variable-length list column: the first row tells.
        let mut reader = builder.with_batch_size(1).build().map_err(|e| parquet_error(path, e))?;
        if let Some(batch) = reader.next() {
            let batch = batch.map_err(|e| parquet_error(path, e))?;
            info.dimension = columns::first_vector_len(&batch, path)?;
        }
    }
    Ok(info)
}

/// Stores every row of the Parquet file at `path` in `collection`, one atomic batch per
/// Arrow record batch ([`BATCH_ROWS`] rows): an invalid row stops the import with its error,
/// naming the row, and the batches committed before it stand (a prefix of the file).
pub fn import_parquet(
    collection: &Collection,
    path: &Path,
    upsert: bool,
    cancel: &Cancel,
    progress: &mut dyn FnMut(u64),
) -> Result<TransferReport> {
    let bytes = std::fs::metadata(path).map_err(|e| io_error(path, e))?.len();
    let reader = open_reader(path)?.with_batch_size(BATCH_ROWS).build().map_err(|e| parquet_error(path, e))?;
    let dim = collection.dimension();
    let named = vector_fields(collection);
    let mut records = 0u64;
    for batch in reader {
        cancel.check()?;
        let batch: RecordBatch = batch.map_err(|e| parquet_error(path, e))?;
        let rows = columns::read_rows(&batch, dim, &named, records, path)?;
        let report = collection.put_batch_named(
            rows.ids,
            &rows.vectors,
            rows.metadata,
            rows.named,
            upsert,
            BatchOptions { atomic: true },
            cancel,
        )?;
        if let Some(e) = report.errors.first() {
            let row = records + e.index as u64;
            return Err(Error::Item {
                code: e.code,
                message: format!(
                    "{}: row {row} (id '{}'): {}; the {records} rows before it were imported",
                    path.display(),
                    e.id,
                    e.message
                ),
            });
        }
        records += report.succeeded as u64;
        progress(records);
    }
    Ok(TransferReport { records, bytes, seq: 0 })
}

/// The vector column's type: `dim` float32 values per row.
pub(crate) fn vector_type(dim: usize) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, false)), dim as i32)
}
