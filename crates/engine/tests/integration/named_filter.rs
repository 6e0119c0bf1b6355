//! Filtered searches of a named vector field are planned as the default vector's are: the
//! matches that have the field counted, scored one by one when few, the field's graph walked
//! when many; `explain_field` says which.

use libravdb_engine::{
    BatchOptions, Cancel, CollectionConfig, Database, DbOptions, IndexSpec, NamedVectors, PlanKind, SearchParams,
    parse_filter,
};

use crate::common::random_vectors;

const N: usize = 20_000;
const DIM: usize = 16;

/// The exact `k` nearest (cosine) of `rows` to `q`, as ids `r<i>`.
fn exact(vectors: &[f32], rows: impl Iterator<Item = usize>, q: &[f32], k: usize) -> Vec<String> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut scored: Vec<(f32, usize)> = rows
        .map(|i| {
            let v = &vectors[i * DIM..(i + 1) * DIM];
            (1.0 - q.iter().zip(v).map(|(a, b)| a * b).sum::<f32>() / (norm(q) * norm(v)), i)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored.iter().take(k).map(|(_, i)| format!("r{i}")).collect()
}

#[test]
fn a_field_search_with_a_filter_is_planned_by_its_selectivity_among_the_records_with_the_field() {
    let vectors = random_vectors(11, N, DIM);
    let queries = random_vectors(12, 20, DIM);
    let body =
        CollectionConfig::from_api(DIM as i64, Some("cosine"), IndexSpec { kind: Some("hnsw"), ..Default::default() })
            .unwrap();
    let config = CollectionConfig::named(vec![("body".into(), body)])
        .unwrap()
        .with_schema(vec![("bucket".into(), "int".into())])
        .unwrap();
    let db = Database::open(None, DbOptions::default()).unwrap();
    let c = db.create_collection("docs", config).unwrap();
    // Records of every bucket 0-99; three records in four have the field.
    let has = |i: usize| (i / 100) % 4 != 3;
    let ids: Vec<String> = (0..N).map(|i| format!("r{i}")).collect();
    let meta = (0..N).map(|i| Some(format!(r#"{{"bucket":{}}}"#, i % 100))).collect();
    let present: Vec<bool> = (0..N).map(has).collect();
    let field: Vec<f32> = (0..N).filter(|&i| has(i)).flat_map(|i| vectors[i * DIM..(i + 1) * DIM].to_vec()).collect();
    let named = vec![NamedVectors { field: "body".into(), dim: DIM, present, vectors: field.into() }];
    let r = c.put_batch_named(ids, &[], meta, named, false, BatchOptions::default(), &Cancel::new()).unwrap();
    assert!(r.applied && r.failed == 0, "{r:?}");

    let with_field = (0..N).filter(|&i| has(i)).count();
    let plan = |filter: Option<&str>| {
        let filter = filter.map(|f| parse_filter(f).unwrap());
        c.explain_field("body", filter.as_ref(), SearchParams::nearest(10)).unwrap()
    };
    let unfiltered = plan(None);
    assert_eq!((unfiltered.plan, unfiltered.live), (PlanKind::Unfiltered, with_field));

    // bucket 7: 200 records, 150 of them with the field: scored one by one, exactly.
    let narrow = r#"{"field":"bucket","op":"eq","value":7}"#;
    let p = plan(Some(narrow));
    assert_eq!((p.plan, p.estimate, p.live), (PlanKind::Exact, Some(150), with_field));
    let filter = parse_filter(narrow).unwrap();
    for q in queries.chunks_exact(DIM) {
        let got = c.search_field("body", q, SearchParams::nearest(10), Some(&filter), &Cancel::new()).unwrap();
        assert_eq!(got.ids, exact(&vectors, (0..N).filter(|&i| has(i) && i % 100 == 7), q, 10));
    }

    // Half the buckets: the field's graph is walked, returning matches only, near exact.
    let wide = r#"{"field":"bucket","op":"lt","value":50}"#;
    let p = plan(Some(wide));
    assert_eq!((p.plan, p.estimate), (PlanKind::Graph, Some(with_field / 2)));
    let filter = parse_filter(wide).unwrap();
    let mut found = 0;
    for q in queries.chunks_exact(DIM) {
        let want = exact(&vectors, (0..N).filter(|&i| has(i) && i % 100 < 50), q, 10);
        let got = c.search_field("body", q, SearchParams::nearest(10), Some(&filter), &Cancel::new()).unwrap();
        assert!(got.ids.iter().all(|id| id[1..].parse::<usize>().unwrap() % 100 < 50));
        found += got.ids.iter().filter(|id| want.contains(id)).count();
    }
    assert!(found as f64 / 200.0 >= 0.9, "filtered recall@10 {}", found as f64 / 200.0);

    // No match: nothing, planned as such.
    let none = r#"{"field":"bucket","op":"gt","value":1000}"#;
    assert_eq!(plan(Some(none)).plan, PlanKind::Empty);
    // A field the collection does not have: a typed error.
    assert!(c.explain_field("title", None, SearchParams::nearest(10)).is_err());
}
