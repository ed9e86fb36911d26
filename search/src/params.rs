//! A configuration: parameter name -> JSON value, in the space's order.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

/// Why a typed getter of [`Params`] failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ParamError {
    /// No parameter of that name (or it is inactive in this configuration).
    #[error("no parameter `{0}` in this configuration")]
    Missing(String),
    /// The value has another type.
    #[error("parameter `{name}` is {value}, expected {expected}")]
    WrongType {
        /// Parameter name.
        name: String,
        /// The value it holds.
        value: Value,
        /// The type asked for.
        expected: &'static str,
    },
    /// Deserialization into the user's type failed.
    #[error("cannot deserialize the parameters: {0}")]
    Deserialize(#[from] serde_json::Error),
}

/// One configuration of a search space: name -> value. Inactive conditional
/// parameters are absent. Serializes as a flat JSON object.
///
/// Shared, copy-on-write: a trial's params are held by the store, the
/// process's cache, the searcher's history and the running trial at once,
/// and a clone is a reference count, not a map of strings (issue 10: clones
/// of params were a third of a trivial trial's cost). A change copies the
/// map only while another holder shares it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(Arc<Map<String, Value>>);

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(|map| Params(Arc::new(map)))
    }
}

impl Params {
    /// An empty configuration.
    pub fn new() -> Self {
        Params::default()
    }

    /// An empty configuration with room for `n` parameters.
    pub fn with_capacity(n: usize) -> Self {
        Params(Arc::new(Map::with_capacity(n)))
    }

    /// Sets a value, replacing any earlier one.
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        Arc::make_mut(&mut self.0).insert(name.into(), value);
    }

    /// Takes a value out, if present.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        if !self.0.contains_key(name) {
            return None;
        }
        Arc::make_mut(&mut self.0).remove(name)
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Number of (active) parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Name/value pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// The flat JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    fn typed<T>(
        &self,
        name: &str,
        expected: &'static str,
        get: impl Fn(&Value) -> Option<T>,
    ) -> Result<T, ParamError> {
        let v = self
            .get(name)
            .ok_or_else(|| ParamError::Missing(name.to_owned()))?;
        get(v).ok_or_else(|| ParamError::WrongType {
            name: name.to_owned(),
            value: v.clone(),
            expected,
        })
    }

    /// A number as f64 (integers convert).
    pub fn f64(&self, name: &str) -> Result<f64, ParamError> {
        self.typed(name, "a number", Value::as_f64)
    }

    /// An integer.
    pub fn i64(&self, name: &str) -> Result<i64, ParamError> {
        self.typed(name, "an integer", Value::as_i64)
    }

    /// A string.
    pub fn str(&self, name: &str) -> Result<&str, ParamError> {
        let v = self
            .get(name)
            .ok_or_else(|| ParamError::Missing(name.to_owned()))?;
        v.as_str().ok_or_else(|| ParamError::WrongType {
            name: name.to_owned(),
            value: v.clone(),
            expected: "a string",
        })
    }

    /// A boolean.
    pub fn bool(&self, name: &str) -> Result<bool, ParamError> {
        self.typed(name, "a boolean", Value::as_bool)
    }

    /// The configuration as a nested JSON object: dotted names from nested
    /// sweep-file groups (`model.width`) become nested objects.
    pub fn to_nested(&self) -> Value {
        let mut root = Map::new();
        for (name, value) in self.0.iter() {
            let mut parts: Vec<&str> = name.split('.').collect();
            let leaf = parts.pop().unwrap_or(name);
            let mut node = &mut root;
            for part in parts {
                let entry = node
                    .entry(part.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                node = entry.as_object_mut().expect("made an object above");
            }
            node.insert(leaf.to_owned(), value.clone());
        }
        Value::Object(root)
    }

    /// Deserializes the configuration (nested, see [`Params::to_nested`])
    /// into the user's own config type.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ParamError> {
        Ok(serde_json::from_value(self.to_nested())?)
    }
}

impl FromIterator<(String, Value)> for Params {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Params(Arc::new(iter.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Model {
        width: i64,
    }
    #[derive(Deserialize, Debug, PartialEq)]
    struct Config {
        lr: f64,
        model: Model,
    }

    #[test]
    fn deserializes_dotted_names_into_nested_structs() {
        let p: Params = [
            ("lr".to_owned(), json!(0.01)),
            ("model.width".to_owned(), json!(64)),
        ]
        .into_iter()
        .collect();
        let c: Config = p.deserialize().unwrap();
        assert_eq!(
            c,
            Config {
                lr: 0.01,
                model: Model { width: 64 }
            }
        );
        assert!(matches!(p.str("lr"), Err(ParamError::WrongType { .. })));
        assert!(matches!(p.f64("nope"), Err(ParamError::Missing(_))));
    }
}
