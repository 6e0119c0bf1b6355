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

/// Scalar codes re-rank `k * 2` at 8 bits and `k * 4` at 4 bits unless told; product `k * 32`.
#[test]
fn oversampling_defaults_follow_the_code_width() {
    let over = |q: &str| {
        let c = CollectionConfig::from_api_json(64, None, None, Some(q)).unwrap();
        c.quantization.unwrap().oversampling()
    };
    assert_eq!(over(r#"{"type":"scalar"}"#), 2);
    assert_eq!(over(r#"{"type":"scalar","bits":4}"#), 4);
    assert_eq!(over(r#"{"type":"scalar","bits":4,"oversampling":7}"#), 7);
    assert_eq!(over(r#"{"type":"product","m":8}"#), 32);
}

#[test]
fn index_and_quantization_are_spelled_back_as_the_api_reads_them() {
    for (index, quant) in [
        (r#"{"type":"flat"}"#, None),
        (
            r#"{"type":"hnsw","m":8,"efConstruction":64,"efSearch":100,"targetRecall":0.9}"#,
            Some(r#"{"type":"scalar","bits":4}"#),
        ),
        (r#"{"type":"ivfpq","nlist":64,"nprobe":12,"m":8,"bits":4,"rerank":3}"#, None),
        (r#"{"type":"ivfpq"}"#, None),
        (r#"{"type":"auto","flatThreshold":500,"promoteTo":"ivfpq"}"#, None),
        (r#"{"type":"flat"}"#, Some(r#"{"type":"product","m":4,"bits":8,"trainRatio":0.25,"oversampling":7}"#)),
    ] {
        let c = CollectionConfig::from_api_json(16, Some("l2"), Some(index), quant).unwrap();
        let (i, q) = (c.index_api_json(), c.quantization_api_json());
        let again = CollectionConfig::from_api_json(16, Some("l2"), Some(&i), q.as_deref()).unwrap();
        assert_eq!(
            (again.index, again.quantization, again.recall_target),
            (c.index, c.quantization, c.recall_target),
            "{i} {q:?}"
        );
    }
}
