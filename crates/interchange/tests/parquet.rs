//! Export to Parquet and import back: every record identical; the file has the documented
//! columns; bad files and cancels leave nothing behind.

use std::fs::File;

use arrow_schema::{DataType, TimeUnit};
use libravdb_engine::{BatchOptions, Cancel, CollectionConfig, Database, DbOptions, ErrorCode, IndexSpec};
use libravdb_interchange::{FILE_METADATA_KEY, export_parquet, file_info, import_parquet};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const DIM: usize = 5;

fn config(schema: &[(&str, &str)]) -> CollectionConfig {
    CollectionConfig::from_api(DIM as i64, Some("cosine"), IndexSpec::default())
        .unwrap()
        .with_schema(schema.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect())
        .unwrap()
}

const SCHEMA: &[(&str, &str)] = &[
    ("title", "string"),
    ("year", "int"),
    ("price", "float"),
    ("ok", "bool"),
    ("at", "date"),
    ("tags", "string[]"),
    ("dims", "number[]"),
];

fn fill(c: &libravdb_engine::Collection, n: usize) {
    let ids: Vec<String> = (0..n).map(|i| format!("doc-{i}")).collect();
    let vectors: Vec<f32> = (0..n * DIM).map(|x| ((x * 7919) % 1000) as f32 / 100.0 + 0.01).collect();
    let metadata: Vec<Option<String>> = (0..n)
        .map(|i| match i % 4 {
            0 => None,
            1 => Some(format!(r#"{{"title":"t{i}","year":{},"price":{}.5,"ok":true,"at":{},"tags":["a","b{i}"],"dims":[1.5,{i}],"extra":{{"nested":[{i}]}}}}"#, 2000 + i, i, 1_700_000_000_000u64 + i as u64)),
            2 => Some(format!(r#"{{"note":"only extra {i}"}}"#)),
            _ => Some(format!(r#"{{"title":"t{i}","ok":false}}"#)),
        })
        .collect();
    let r = c.put_batch(ids, &vectors, metadata, false, BatchOptions::default(), &Cancel::new()).unwrap();
    assert!(r.applied);
}

fn json(m: &Option<String>) -> Option<serde_json::Value> {
    m.as_deref().map(|s| serde_json::from_str(s).unwrap())
}

#[test]
fn export_then_import_gives_identical_records() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(None, DbOptions::default()).unwrap();
    let src = db.create_collection("src", config(SCHEMA)).unwrap();
    fill(&src, 10_000); // more than two export batches
    let file = dir.path().join("src.parquet");
    let mut calls = 0;
    let report = export_parquet(&src, &file, None, &Cancel::new(), &mut |_| calls += 1).unwrap();
    assert_eq!(report.records, 10_000);
    assert_eq!(report.bytes, std::fs::metadata(&file).unwrap().len());
    assert!(calls >= 3);

    let info = file_info(&file).unwrap();
    assert_eq!((info.rows, info.dimension, info.metric.as_deref()), (10_000, DIM, Some("cosine")));
    assert_eq!(info.schema.len(), SCHEMA.len());

    let dst = db.create_collection("dst", config(SCHEMA)).unwrap();
    let imported = import_parquet(&dst, &file, false, &Cancel::new(), &mut |_| {}).unwrap();
    assert_eq!(imported.records, 10_000);
    for i in 0..10_000 {
        let id = format!("doc-{i}");
        let (a, b) = (src.get(&id).unwrap().unwrap(), dst.get(&id).unwrap().unwrap());
        assert_eq!(a.vector, b.vector, "{id}");
        assert_eq!(json(&a.metadata), json(&b.metadata), "{id}");
    }
}

#[test]
fn the_file_has_one_typed_column_per_schema_field_and_the_rest_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(SCHEMA)).unwrap();
    fill(&c, 8);
    let file = dir.path().join("c.parquet");
    export_parquet(&c, &file, None, &Cancel::new(), &mut |_| {}).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&file).unwrap()).unwrap();
    let kv = builder.metadata().file_metadata().key_value_metadata().unwrap();
    assert!(kv.iter().any(|e| e.key == FILE_METADATA_KEY));
    let schema = builder.schema().clone();
    let types: Vec<(String, DataType)> =
        schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    assert_eq!(types[0], ("id".into(), DataType::Utf8));
    assert!(
        matches!(&types[1], (n, DataType::FixedSizeList(item, 5)) if n == "vector" && item.data_type() == &DataType::Float32)
    );
    assert_eq!(types[3], ("year".into(), DataType::Int64));
    assert_eq!(types[5], ("ok".into(), DataType::Boolean));
    assert_eq!(types[6], ("at".into(), DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))));
    assert!(matches!(&types[7].1, DataType::List(item) if item.data_type() == &DataType::Utf8));
    assert_eq!(types.last().unwrap(), &("metadata".into(), DataType::Utf8));
    let batch = builder.build().unwrap().next().unwrap().unwrap();
    let rest = batch.column_by_name("metadata").unwrap();
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    let rest = rest.as_string::<i32>();
    assert!(rest.is_null(0)); // no metadata at all
    assert_eq!(rest.value(1), r#"{"extra":{"nested":[1]}}"#); // schema fields taken out
    assert_eq!(rest.value(2), r#"{"note":"only extra 2"}"#);
}

#[test]
fn a_filtered_export_writes_only_the_matches() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(SCHEMA)).unwrap();
    fill(&c, 100);
    let filter = libravdb_engine::parse_filter(r#"{"field":"ok","op":"eq","value":false}"#).unwrap();
    let file = dir.path().join("f.parquet");
    let report = export_parquet(&c, &file, Some(&filter), &Cancel::new(), &mut |_| {}).unwrap();
    assert_eq!(report.records, 25);
}

#[test]
fn a_cancelled_export_leaves_no_file_and_a_bad_row_stops_an_import_after_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("c", config(SCHEMA)).unwrap();
    fill(&c, 9_000);
    let file = dir.path().join("x.parquet");
    let cancel = Cancel::new();
    let err = export_parquet(&c, &file, None, &cancel, &mut |_| cancel.cancel()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Aborted);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // Import into a collection where one id of the third batch already exists.
    export_parquet(&c, &file, None, &Cancel::new(), &mut |_| {}).unwrap();
    let dst = db.create_collection("dst", config(SCHEMA)).unwrap();
    let r = dst
        .put_batch(vec!["doc-8500".into()], &[1.0; DIM], vec![None], false, BatchOptions::default(), &Cancel::new())
        .unwrap();
    assert!(r.applied);
    let err = import_parquet(&dst, &file, false, &Cancel::new(), &mut |_| {}).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DuplicateId);
    assert!(err.to_string().contains("row 8500 (id 'doc-8500')"), "{err}");
    assert_eq!(dst.count().unwrap(), 8192 + 1); // the two batches before it, and doc-8500

    // A file of another dimension.
    let other = db
        .create_collection("other", CollectionConfig::from_api(3, Some("l2"), IndexSpec::default()).unwrap())
        .unwrap();
    let err = import_parquet(&other, &file, false, &Cancel::new(), &mut |_| {}).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DimensionMismatch);
    assert_eq!(other.count().unwrap(), 0);
}
