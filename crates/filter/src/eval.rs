//! Reference semantics: a filter applied to one record's metadata object.
//!
//! - A missing field fails every comparison except `ne`, `nin` and `exists: false` (as in
//!   MongoDB); `eq: null` matches a missing field or a null one.
//! - Ordering compares numbers with numbers and strings with strings (byte order); any other
//!   pairing does not match.
//! - `contains*` need the field to be an array; `containsAll: []` matches any array.
//! - A field name is looked up as a key first; failing that, a dotted name (`a.b`) walks
//!   into nested objects ([`lookup`]).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::ast::{Filter, Op, Scalar};

/// Whether `metadata` (None: a record without metadata) satisfies `filter`.
pub fn matches(filter: &Filter, metadata: Option<&Map<String, Value>>) -> bool {
    match filter {
        Filter::And(fs) => fs.iter().all(|f| matches(f, metadata)),
        Filter::Or(fs) => fs.iter().any(|f| matches(f, metadata)),
        Filter::Not(f) => !matches(f, metadata),
        Filter::Field { name, op } => field_matches(metadata.and_then(|m| lookup(m, name)), op),
    }
}

/// The value of field `name` in `metadata`: the key `name` if present, else for a dotted
/// name the value reached by following its segments through nested objects.
pub fn lookup<'a>(metadata: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = metadata.get(name) {
        return Some(v);
    }
    let (first, rest) = name.split_once('.')?;
    rest.split('.').try_fold(metadata.get(first)?, |v, segment| v.as_object()?.get(segment))
}

/// Whether a JSON value equals a scalar.
pub fn equals(v: &Value, s: &Scalar) -> bool {
    match (v, s) {
        (Value::Null, Scalar::Null) => true,
        (Value::Bool(a), Scalar::Bool(b)) => a == b,
        (Value::Number(a), Scalar::Number(b)) => a.as_f64() == Some(*b),
        (Value::String(a), Scalar::String(b)) => a == b,
        _ => false,
    }
}

/// The order of a JSON value relative to a scalar of the same kind.
pub fn compare(v: &Value, s: &Scalar) -> Option<Ordering> {
    match (v, s) {
        (Value::Number(a), Scalar::Number(b)) => a.as_f64()?.partial_cmp(b),
        (Value::String(a), Scalar::String(b)) => Some(a.as_str().cmp(b.as_str())),
        _ => None,
    }
}

fn field_matches(v: Option<&Value>, op: &Op) -> bool {
    let ord = |s: &Scalar, ok: fn(Ordering) -> bool| v.and_then(|v| compare(v, s)).is_some_and(ok);
    let eq = |s: &Scalar| v.map_or(*s == Scalar::Null, |v| equals(v, s));
    let array = || match v {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    };
    match op {
        Op::Eq(s) => eq(s),
        Op::Ne(s) => !eq(s),
        Op::Gt(s) => ord(s, Ordering::is_gt),
        Op::Gte(s) => ord(s, Ordering::is_ge),
        Op::Lt(s) => ord(s, Ordering::is_lt),
        Op::Lte(s) => ord(s, Ordering::is_le),
        Op::Between(lo, hi) => ord(lo, Ordering::is_ge) && ord(hi, Ordering::is_le),
        Op::In(list) => list.iter().any(eq),
        Op::Nin(list) => !list.iter().any(eq),
        Op::Contains(s) => array().is_some_and(|items| items.iter().any(|x| equals(x, s))),
        Op::ContainsAny(list) => array().is_some_and(|items| list.iter().any(|s| items.iter().any(|x| equals(x, s)))),
        Op::ContainsAll(list) => array().is_some_and(|items| list.iter().all(|s| items.iter().any(|x| equals(x, s)))),
        Op::Exists(want) => v.is_some() == *want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(filter: Value, meta: Value) -> bool {
        let f = Filter::parse(&filter).unwrap();
        matches(&f, meta.as_object())
    }

    #[test]
    fn every_operator_with_edge_cases() {
        let m = json!({"s": "book", "n": 10, "b": true, "z": null, "tags": ["a", "b"], "empty": [],
            "nested": {"inner": {"x": 3}}, "dotted.key": "literal"});
        let cases = [
            (json!({"field": "s", "op": "eq", "value": "book"}), true),
            (json!({"field": "s", "op": "ne", "value": "book"}), false),
            (json!({"field": "missing", "op": "ne", "value": "x"}), true),
            (json!({"field": "missing", "op": "eq", "value": null}), true),
            (json!({"field": "z", "op": "eq", "value": null}), true),
            (json!({"field": "n", "op": "gt", "value": 9.5}), true),
            (json!({"field": "n", "op": "gt", "value": 10}), false),
            (json!({"field": "n", "op": "gte", "value": 10}), true),
            (json!({"field": "n", "op": "lt", "value": 10}), false),
            (json!({"field": "n", "op": "lte", "value": 10}), true),
            (json!({"field": "n", "op": "between", "value": [10, 10]}), true),
            (json!({"field": "n", "op": "between", "value": [11, 20]}), false),
            (json!({"field": "s", "op": "gt", "value": 5}), false),
            (json!({"field": "s", "op": "gte", "value": "apple"}), true),
            (json!({"field": "missing", "op": "lt", "value": 5}), false),
            (json!({"field": "n", "op": "in", "value": [1, 10]}), true),
            (json!({"field": "n", "op": "nin", "value": [1, 10]}), false),
            (json!({"field": "missing", "op": "nin", "value": [1]}), true),
            (json!({"field": "b", "op": "eq", "value": true}), true),
            (json!({"field": "tags", "op": "contains", "value": "a"}), true),
            (json!({"field": "s", "op": "contains", "value": "b"}), false),
            (json!({"field": "tags", "op": "containsAny", "value": ["x", "b"]}), true),
            (json!({"field": "tags", "op": "containsAll", "value": ["a", "b"]}), true),
            (json!({"field": "tags", "op": "containsAll", "value": ["a", "c"]}), false),
            (json!({"field": "empty", "op": "containsAny", "value": ["a"]}), false),
            (json!({"field": "nested.inner.x", "op": "eq", "value": 3}), true),
            (json!({"field": "nested.inner", "op": "exists", "value": true}), true),
            (json!({"field": "nested.missing", "op": "exists", "value": false}), true),
            (json!({"field": "s.length", "op": "exists", "value": false}), true),
            (json!({"field": "dotted.key", "op": "eq", "value": "literal"}), true),
            (json!({"field": "empty", "op": "containsAll", "value": []}), true),
            (json!({"field": "z", "op": "exists", "value": true}), true),
            (json!({"field": "missing", "op": "exists", "value": false}), true),
            (
                json!({"and": [{"field": "s", "op": "eq", "value": "book"}, {"not": {"field": "n", "op": "lt", "value": 5}}]}),
                true,
            ),
            (
                json!({"or": [{"field": "s", "op": "eq", "value": "film"}, {"field": "tags", "op": "contains", "value": "z"}]}),
                false,
            ),
            (json!({"and": []}), true),
            (json!({"or": []}), false),
        ];
        for (filter, want) in cases {
            assert_eq!(check(filter.clone(), m.clone()), want, "{filter}");
        }
        assert!(check(json!({"field": "x", "op": "exists", "value": false}), Value::Null), "no metadata");
        assert!(!check(json!({"field": "x", "op": "eq", "value": 1}), Value::Null));
    }
}
