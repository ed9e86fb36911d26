//! Limits on a sweep file, checked where it enters, before anything is
//! built from it: a sweep file may come from anyone (a shared repository, a
//! generated config), and nothing in it may make the parser, a searcher or
//! the scheduler allocate or recurse without bound.
//!
//! The JSON reader is strict where `serde_json` is lenient: a key repeated
//! in one object is refused with its path (serde_json keeps the last one,
//! silently dropping what the user wrote first). Every check is one pass
//! over the document, so validation stays linear in the file's size.

use std::cell::RefCell;
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::fields::{Fault, Res, fault, join};

/// Largest sweep file read, in bytes.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Deepest nesting of objects and arrays (JSON and YAML).
pub const MAX_DEPTH: usize = 32;
/// Most items in one array (`values`, `probabilities`, `command`).
pub const MAX_ARRAY_ITEMS: usize = 10_000;
/// Longest key (a parameter name, once flattened, is checked too).
pub const MAX_KEY_CHARS: usize = 256;
/// Most trials run at once by one process (`parallel`, `--parallel`,
/// `trials_per_device`).
pub const MAX_PARALLEL: u64 = 1024;
/// Most GPUs one trial may ask for (`gpus_per_trial`): a slot is one
/// machine's share, and the largest single machines hold 16 GPUs (a trial
/// that spans machines is launched by a cluster scheduler, not a slot).
pub const MAX_GPUS_PER_TRIAL: u64 = 16;
/// Most evaluations of one configuration (`run.repeats`, `--repeats`,
/// `confirm --repeats`): each is a full training run, and a trial keeps
/// every value.
pub const MAX_REPEATS: u64 = 1000;

/// The size of the text; checked first, before any parsing.
pub(crate) fn check_size(text: &str) -> Res<()> {
    if text.len() > MAX_FILE_BYTES {
        return Err(fault(
            "",
            format!(
                "the file is {} bytes, more than the {MAX_FILE_BYTES} a sweep file may have",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Parses JSON text, refusing a key repeated in one object and nesting
/// deeper than [`MAX_DEPTH`], each with its path.
pub(crate) fn parse_strict_json(text: &str) -> Res<Value> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = Strict {
        path: String::new(),
        depth: 0,
        found: &found,
    };
    let parsed = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(value) => Ok(value),
        Err(e) => Err(found.into_inner().unwrap_or_else(|| {
            fault(
                format!("line {}, column {}", e.line(), e.column()),
                format!("invalid JSON: {e}"),
            )
        })),
    }
}

/// Checks a parsed document (JSON or YAML) against the limits.
pub(crate) fn check_document(document: &Value) -> Res<()> {
    let mut stack = vec![(document, String::new(), 0usize)];
    while let Some((value, path, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(too_deep(&path));
        }
        match value {
            Value::Array(items) => {
                if items.len() > MAX_ARRAY_ITEMS {
                    return Err(fault(
                        path,
                        format!(
                            "{} items, more than the {MAX_ARRAY_ITEMS} allowed",
                            items.len()
                        ),
                    ));
                }
                for (i, item) in items.iter().enumerate() {
                    stack.push((item, format!("{path}[{i}]"), depth + 1));
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    check_key(&path, key)?;
                    stack.push((item, join(&path, key), depth + 1));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_key(path: &str, key: &str) -> Res<()> {
    let chars = key.chars().count();
    if chars > MAX_KEY_CHARS {
        let head: String = key.chars().take(24).collect();
        return Err(fault(
            path,
            format!("the key `{head}…` has {chars} characters, more than {MAX_KEY_CHARS}"),
        ));
    }
    Ok(())
}

fn too_deep(path: &str) -> Fault {
    fault(path, format!("nested more than {MAX_DEPTH} levels deep"))
}

/// A JSON value read with its path, depth and duplicate checks; the first
/// fault found is kept in `found` (serde's error carries only text).
struct Strict<'a> {
    path: String,
    depth: usize,
    found: &'a RefCell<Option<Fault>>,
}

impl Strict<'_> {
    fn fail<E: serde::de::Error>(&self, f: Fault) -> E {
        let message = format!("{}: {}", f.path, f.message);
        *self.found.borrow_mut() = Some(f);
        E::custom(message)
    }

    fn child(&self, path: String) -> Strict<'_> {
        Strict {
            path,
            depth: self.depth + 1,
            found: self.found,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(self.fail(too_deep(&self.path)));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) =
            seq.next_element_seed(self.child(format!("{}[{}]", self.path, items.len())))?
        {
            if items.len() == MAX_ARRAY_ITEMS {
                return Err(self.fail(fault(
                    &self.path,
                    format!("more than the {MAX_ARRAY_ITEMS} items allowed"),
                )));
            }
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if let Err(f) = check_key(&self.path, &key) {
                return Err(self.fail(f));
            }
            let path = join(&self.path, &key);
            if out.contains_key(&key) {
                return Err(self.fail(fault(
                    path,
                    "this key appears twice in the same object (the first would be ignored)",
                )));
            }
            let value = map.next_value_seed(self.child(path))?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let err = parse_strict_json(r#"{"parameters": {"lr": {"min": 1, "max": 2, "min": 0}}}"#)
            .unwrap_err();
        assert_eq!(err.path, "parameters.lr.min");
        assert!(err.message.contains("twice"), "{}", err.message);
    }

    #[test]
    fn depth_arrays_and_keys_are_bounded() {
        let deep = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 5),
            "]".repeat(MAX_DEPTH + 5)
        );
        assert!(
            parse_strict_json(&deep)
                .unwrap_err()
                .message
                .contains("nested")
        );
        let long = format!("[{}0]", "0,".repeat(MAX_ARRAY_ITEMS));
        assert!(
            parse_strict_json(&long)
                .unwrap_err()
                .message
                .contains("items")
        );
        let key = format!(
            r#"{{"parameters": {{"{}": {{"value": 1}}}}}}"#,
            "k".repeat(300)
        );
        let err = parse_strict_json(&key).unwrap_err();
        assert_eq!(err.path, "parameters");
        let value: Value = serde_json::from_str(&key).unwrap();
        assert_eq!(check_document(&value).unwrap_err().path, "parameters");
        assert!(check_size(&" ".repeat(MAX_FILE_BYTES + 1)).is_err());
    }

    #[test]
    fn ordinary_json_reads_as_serde_json_does() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        let strict = parse_strict_json(text).unwrap();
        assert_eq!(strict, serde_json::from_str::<Value>(text).unwrap());
        assert!(parse_strict_json("{} trailing").is_err());
    }
}
