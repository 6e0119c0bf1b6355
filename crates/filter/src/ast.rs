//! The filter tree and its canonical JSON form:
//!
//! ```json
//! {"and": [F, ...]}   {"or": [F, ...]}   {"not": F}
//! {"field": "price", "op": "gte", "value": 5}            eq ne gt gte lt lte
//! {"field": "price", "op": "between", "value": [5, 20]}  inclusive
//! {"field": "tags", "op": "in", "value": ["a", "b"]}      in nin containsAny containsAll
//! {"field": "tags", "op": "contains", "value": "sale"}
//! {"field": "note", "op": "exists", "value": true}
//! ```
//!
//! Values are strings, numbers (dates travel as epoch milliseconds), booleans or null.

use serde_json::Value;

/// A comparable scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
}

/// A field operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(Scalar),
    Ne(Scalar),
    Gt(Scalar),
    Gte(Scalar),
    Lt(Scalar),
    Lte(Scalar),
    /// Inclusive range.
    Between(Scalar, Scalar),
    In(Vec<Scalar>),
    Nin(Vec<Scalar>),
    /// The field is an array holding the value.
    Contains(Scalar),
    ContainsAny(Vec<Scalar>),
    ContainsAll(Vec<Scalar>),
    /// `true`: the field is present (null counts); `false`: absent.
    Exists(bool),
}

/// A filter tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Field { name: String, op: Op },
}

/// Why a filter could not be parsed; `path` locates the offending part (`$.and[1].value`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at {path}: {reason}")]
pub struct FilterError {
    pub path: String,
    pub reason: String,
}

fn err(path: &str, reason: impl Into<String>) -> FilterError {
    FilterError { path: path.to_owned(), reason: reason.into() }
}

/// Deepest nesting accepted (bounds recursion on untrusted input).
pub const MAX_DEPTH: usize = 64;

impl Filter {
    /// Parses the canonical JSON form.
    pub fn parse(v: &Value) -> Result<Filter, FilterError> {
        parse(v, "$", 0)
    }

    /// Field names the filter refers to.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Filter::And(fs) | Filter::Or(fs) => fs.iter().for_each(|f| f.collect_fields(out)),
            Filter::Not(f) => f.collect_fields(out),
            Filter::Field { name, .. } => out.push(name),
        }
    }
}

fn scalar(v: &Value, path: &str) -> Result<Scalar, FilterError> {
    match v {
        Value::Null => Ok(Scalar::Null),
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        Value::Number(n) => {
            n.as_f64().filter(|x| x.is_finite()).map(Scalar::Number).ok_or_else(|| err(path, "number out of range"))
        }
        Value::String(s) => Ok(Scalar::String(s.clone())),
        _ => Err(err(path, "expected a string, number, boolean or null")),
    }
}

fn scalars(v: &Value, path: &str) -> Result<Vec<Scalar>, FilterError> {
    let Value::Array(items) = v else { return Err(err(path, "expected an array of values")) };
    items.iter().enumerate().map(|(i, x)| scalar(x, &format!("{path}[{i}]"))).collect()
}

fn parse(v: &Value, path: &str, depth: usize) -> Result<Filter, FilterError> {
    if depth > MAX_DEPTH {
        return Err(err(path, format!("nested deeper than {MAX_DEPTH} levels")));
    }
    let Value::Object(obj) = v else { return Err(err(path, "expected an object")) };
    let list = |key: &str, items: &Value| -> Result<Vec<Filter>, FilterError> {
        let p = format!("{path}.{key}");
        let Value::Array(items) = items else { return Err(err(&p, "expected an array of filters")) };
        items.iter().enumerate().map(|(i, f)| parse(f, &format!("{p}[{i}]"), depth + 1)).collect()
    };
    if obj.len() == 1 {
        if let Some(items) = obj.get("and") {
            return list("and", items).map(Filter::And);
        }
        if let Some(items) = obj.get("or") {
            return list("or", items).map(Filter::Or);
        }
        if let Some(inner) = obj.get("not") {
            return Ok(Filter::Not(Box::new(parse(inner, &format!("{path}.not"), depth + 1)?)));
        }
    }
    let name = match obj.get("field") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(err(path, "expected {and|or|not} or a non-empty string 'field'")),
    };
    let Some(Value::String(op)) = obj.get("op") else { return Err(err(path, "expected a string 'op'")) };
    if let Some(key) = obj.keys().find(|k| !matches!(k.as_str(), "field" | "op" | "value")) {
        return Err(err(path, format!("unexpected key '{key}'")));
    }
    let vpath = format!("{path}.value");
    let value = obj.get("value").unwrap_or(&Value::Null);
    let one = || scalar(value, &vpath);
    let many = || scalars(value, &vpath);
    let op = match op.as_str() {
        "eq" => Op::Eq(one()?),
        "ne" => Op::Ne(one()?),
        "gt" => Op::Gt(one()?),
        "gte" => Op::Gte(one()?),
        "lt" => Op::Lt(one()?),
        "lte" => Op::Lte(one()?),
        "between" => match many()?.as_slice() {
            [lo, hi] => Op::Between(lo.clone(), hi.clone()),
            _ => return Err(err(&vpath, "between takes [low, high]")),
        },
        "in" => Op::In(many()?),
        "nin" => Op::Nin(many()?),
        "contains" => Op::Contains(one()?),
        "containsAny" => Op::ContainsAny(many()?),
        "containsAll" => Op::ContainsAll(many()?),
        "exists" => match value {
            Value::Bool(b) => Op::Exists(*b),
            _ => return Err(err(&vpath, "exists takes true or false")),
        },
        other => return Err(err(&format!("{path}.op"), format!("unknown operator '{other}'"))),
    };
    Ok(Filter::Field { name, op })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_operator_and_nesting() {
        let f = Filter::parse(&json!({"and": [
            {"field": "category", "op": "eq", "value": "book"},
            {"or": [
                {"field": "price", "op": "between", "value": [5, 20]},
                {"not": {"field": "tags", "op": "contains", "value": "sale"}}
            ]},
            {"field": "year", "op": "in", "value": [2020, 2021]},
            {"field": "note", "op": "exists", "value": false}
        ]}))
        .unwrap();
        assert_eq!(f.fields(), vec!["category", "note", "price", "tags", "year"]);
        let Filter::And(parts) = &f else { panic!("and") };
        assert_eq!(parts[0], Filter::Field { name: "category".into(), op: Op::Eq(Scalar::String("book".into())) });
    }

    #[test]
    fn errors_name_the_path() {
        let e = Filter::parse(
            &json!({"or": [{"field": "a", "op": "eq", "value": 1}, {"field": "p", "op": "gte", "value": [1]}]}),
        )
        .unwrap_err();
        assert_eq!(e.path, "$.or[1].value");
        assert!(
            Filter::parse(&json!({"field": "a", "op": "like", "value": 1})).unwrap_err().to_string().contains("like")
        );
        assert!(Filter::parse(&json!({"field": "a", "op": "between", "value": [1]})).is_err());
        assert!(Filter::parse(&json!({"field": "", "op": "eq", "value": 1})).is_err());
        assert!(Filter::parse(&json!({"field": "a", "op": "eq", "value": 1, "extra": 2})).is_err());
        assert!(Filter::parse(&json!([1])).is_err());
        let mut deep = json!({"field": "a", "op": "eq", "value": 1});
        for _ in 0..100 {
            deep = json!({"not": deep});
        }
        assert!(Filter::parse(&deep).unwrap_err().reason.contains("deeper"));
    }
}
