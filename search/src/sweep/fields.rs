//! Typed reads out of a parsed JSON document, each failure naming the JSON
//! path of the offending value and what was expected there.
//!
//! The sweep parser walks a `serde_json::Value` by hand rather than deriving
//! `Deserialize` for the whole file: a derived error can say "invalid type"
//! but not reliably *where* in a nested `parameters` tree, and a W&B file
//! mixes shapes (`value` | `values` | `min`/`max` | nested `parameters`) that
//! only make sense once the keys present are known.

use serde_json::{Map, Value};

/// A problem at one place of the document; the file name is added at the
/// boundary ([`super::parse_sweep`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fault {
    pub path: String,
    pub message: String,
}

pub(crate) type Res<T> = Result<T, Fault>;

/// Shorthand for a [`Fault`].
pub(crate) fn fault(path: impl Into<String>, message: impl Into<String>) -> Fault {
    Fault {
        path: path.into(),
        message: message.into(),
    }
}

/// `path.key`, or `key` at the top level.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// What a value is, for "expected X, got Y" messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A comma-separated list of names in backticks.
pub(crate) fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The largest magnitude an integer bound may have: every domain is encoded
/// through `f64`, which holds integers exactly only up to 2^53.
pub(crate) const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// One JSON object being read, with its path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a, 'p> {
    pub map: &'a Map<String, Value>,
    pub path: &'p str,
}

impl<'a, 'p> Fields<'a, 'p> {
    /// `value` as an object, or an error saying what it should have been.
    pub fn of(value: &'a Value, path: &'p str, what: &str) -> Res<Self> {
        match value {
            Value::Object(map) => Ok(Fields { map, path }),
            other => Err(fault(
                display_path(path),
                format!("expected {what} (an object), got {}", describe(other)),
            )),
        }
    }

    /// The path of `key` inside this object.
    pub fn path_of(&self, key: &str) -> String {
        join(self.path, key)
    }

    /// Rejects any key not in `allowed`.
    pub fn only(&self, allowed: &[&str], what: &str) -> Res<()> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(fault(
                self.path_of(key),
                format!(
                    "unknown key `{key}` in {what}{}; expected one of {}",
                    did_you_mean(key, allowed.iter().copied()),
                    list(allowed)
                ),
            )),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    /// A value that must be present.
    pub fn require(&self, key: &str, why: &str) -> Res<&'a Value> {
        self.get(key)
            .ok_or_else(|| fault(self.path_of(key), format!("missing `{key}`: {why}")))
    }

    pub fn number(&self, key: &str) -> Res<Option<f64>> {
        self.get(key)
            .map(|v| number(v, &self.path_of(key)))
            .transpose()
    }

    pub fn unsigned(&self, key: &str) -> Res<Option<u64>> {
        self.get(key)
            .map(|v| unsigned(v, &self.path_of(key)))
            .transpose()
    }

    pub fn string(&self, key: &str) -> Res<Option<&'a str>> {
        self.get(key)
            .map(|v| string(v, &self.path_of(key)))
            .transpose()
    }

    pub fn boolean(&self, key: &str) -> Res<Option<bool>> {
        self.get(key)
            .map(|v| match v {
                Value::Bool(b) => Ok(*b),
                other => Err(fault(
                    self.path_of(key),
                    format!("expected true or false, got {}", describe(other)),
                )),
            })
            .transpose()
    }
}

/// The path as shown to the user: the empty top-level path gets a name.
pub(crate) fn display_path(path: &str) -> String {
    if path.is_empty() {
        "(top level)".to_owned()
    } else {
        path.to_owned()
    }
}

/// A finite number.
pub(crate) fn number(v: &Value, path: &str) -> Res<f64> {
    match v.as_f64() {
        Some(x) if x.is_finite() => Ok(x),
        _ => Err(fault(
            path,
            format!("expected a number, got {}", describe(v)),
        )),
    }
}

/// A whole number within ±2^53 (a float such as `3.0` counts: YAML files
/// often write bounds that way).
pub(crate) fn integer(v: &Value, path: &str) -> Res<i64> {
    let whole = match v.as_i64() {
        Some(i) => Some(i as f64),
        None => v.as_f64().filter(|x| x.fract() == 0.0),
    };
    if let Some(x) = whole.filter(|x| x.abs() <= MAX_EXACT_INT) {
        return Ok(x as i64);
    }
    Err(fault(
        path,
        format!("expected an integer within ±2^53, got {}", describe(v)),
    ))
}

/// A non-negative whole number.
pub(crate) fn unsigned(v: &Value, path: &str) -> Res<u64> {
    match v.as_u64() {
        Some(n) => Ok(n),
        None => Err(fault(
            path,
            format!("expected a non-negative integer, got {}", describe(v)),
        )),
    }
}

pub(crate) fn string<'a>(v: &'a Value, path: &str) -> Res<&'a str> {
    v.as_str()
        .ok_or_else(|| fault(path, format!("expected a string, got {}", describe(v))))
}

/// An array.
pub(crate) fn array<'a>(v: &'a Value, path: &str) -> Res<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| fault(path, format!("expected an array, got {}", describe(v))))
}

/// `" (did you mean `x`?)"` when one of `known` is a likely typo of `name`
/// (edit distance at most a third of its length), else `""`.
pub(crate) fn did_you_mean<'k>(name: &str, known: impl IntoIterator<Item = &'k str>) -> String {
    let limit = (name.chars().count() / 3).max(1);
    known
        .into_iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance over chars, one row at a time.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        let keys = ["early_terminate", "parameters", "metric"];
        assert_eq!(
            did_you_mean("early_terminte", keys),
            " (did you mean `early_terminate`?)"
        );
        assert_eq!(
            did_you_mean("paramters", keys),
            " (did you mean `parameters`?)"
        );
        assert_eq!(did_you_mean("seed", keys), "");
    }
}
