//! W&B `parameters`: nested groups flattened to dotted names, `when`
//! conditions resolved, and the result validated by [`SearchSpace::new`] with
//! its errors pointed back at the file.
//!
//! Error paths follow the file as written: a parameter `width` inside the
//! group `model` is `parameters.model.parameters.width`, and its bound is
//! `parameters.model.parameters.width.min`, even though the searcher knows it
//! as `model.width`.

use std::collections::HashSet;

use serde_json::Value;

use super::distributions::parse_domain;
use super::fields::{Fields, Res, describe, did_you_mean, fault, join, unsigned};
use super::limits::MAX_KEY_CHARS;
use crate::error::SearchError;
use crate::space::{Condition, Param, SearchSpace};

/// Where a flattened parameter came from in the file.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// Flattened name (`model.width`).
    pub name: String,
    /// JSON path of its spec (`parameters.model.parameters.width`).
    pub path: String,
    /// How [`SearchSpace::new`]'s field names map onto the file.
    pub fields: FieldNames,
}

/// How a space error's field (`min`, `step`, `when.PARENT`) is written in the
/// file.
#[derive(Debug, Clone)]
pub(crate) enum FieldNames {
    /// W&B: fields as named, the step written as `step` or `q`, the parent
    /// of a condition as the (possibly relative) key written under `when`.
    Wandb {
        step_key: &'static str,
        when_key: Option<String>,
    },
    /// NNI: every field of the domain lives in `_value`.
    Nni,
}

/// Parameters, flattened, with where each came from.
#[derive(Debug, Default)]
pub(crate) struct Flat {
    pub params: Vec<Param>,
    pub origins: Vec<Origin>,
}

/// A parameter whose condition is not resolved yet.
struct Pending<'a> {
    param: Param,
    origin: Origin,
    /// `model.` for a parameter of the group `model`.
    group: String,
    when: Option<&'a Value>,
}

/// Reads `parameters` (the value at `path`).
pub(crate) fn parse_parameters(value: &Value, path: &str) -> Res<Flat> {
    let mut pending = Vec::new();
    walk(value, path, "", &mut pending)?;
    if pending.is_empty() {
        return Err(fault(path, "expected at least one parameter"));
    }
    let mut flat = Flat::default();
    let conditions = pending
        .iter()
        .map(|p| resolve_when(p, &pending))
        .collect::<Res<Vec<_>>>()?;
    for (mut p, condition) in pending.into_iter().zip(conditions) {
        p.param.condition = condition;
        flat.params.push(p.param);
        flat.origins.push(p.origin);
    }
    Ok(flat)
}

fn walk<'a>(value: &'a Value, path: &str, group: &str, out: &mut Vec<Pending<'a>>) -> Res<()> {
    let fields = Fields::of(value, path, "a map from parameter names to specs")?;
    for (key, spec) in fields.map {
        let spec_path = join(path, key);
        if key.is_empty() {
            return Err(fault(spec_path, "a parameter name must not be empty"));
        }
        let spec_fields = Fields::of(spec, &spec_path, "a parameter spec")?;
        let name = format!("{group}{key}");
        if name.chars().count() > MAX_KEY_CHARS {
            return Err(fault(
                spec_path,
                format!("the flattened name has more than {MAX_KEY_CHARS} characters"),
            ));
        }
        if let Some(nested) = spec_fields.get("parameters") {
            spec_fields.only(&["parameters"], "a parameter group")?;
            let nested_path = join(&spec_path, "parameters");
            walk(nested, &nested_path, &format!("{name}."), out)?;
            continue;
        }
        let parsed = parse_domain(&spec_fields)?;
        let mut param = Param::new(name.clone(), parsed.domain);
        if let Some(n) = spec_fields.get("grid_points") {
            let gp_path = spec_fields.path_of("grid_points");
            let n = unsigned(n, &gp_path)?;
            if !(1..=1_000_000).contains(&n) {
                return Err(fault(
                    gp_path,
                    format!("expected 1 to 10^6 points, got {n}"),
                ));
            }
            param.grid_points = Some(n as usize);
        }
        let when = spec_fields.get("when");
        let when_key = match when {
            Some(Value::Object(m)) => m.keys().next().cloned(),
            _ => None,
        };
        out.push(Pending {
            param,
            origin: Origin {
                name,
                path: spec_path,
                fields: FieldNames::Wandb {
                    step_key: parsed.step_key,
                    when_key,
                },
            },
            group: group.to_owned(),
            when,
        });
    }
    Ok(())
}

/// `when: {"parent": value | [values]}`. The parent is looked up in the
/// child's own group first (`model.kind` for `kind` inside `model`), then as
/// an absolute dotted name. An array means "any of these values"; a single
/// list-valued choice is written `[[1, 2]]`.
fn resolve_when(p: &Pending, all: &[Pending]) -> Res<Option<Condition>> {
    let Some(when) = p.when else {
        return Ok(None);
    };
    let path = join(&p.origin.path, "when");
    let fields = Fields::of(when, &path, "a condition `{\"parent\": value}`")?;
    let mut entries = fields.map.iter();
    let (key, wanted) = match (entries.next(), entries.next()) {
        (Some(entry), None) => entry,
        _ => {
            return Err(fault(
                path,
                "expected exactly one parent, as `{\"parent\": value | [values]}`; \
                 for an AND of conditions, put the condition on the parent",
            ));
        }
    };
    let key_path = join(&path, key);
    let relative = format!("{}{key}", p.group);
    let parent = all
        .iter()
        .find(|q| q.param.name == relative)
        .or_else(|| all.iter().find(|q| q.param.name == *key))
        .ok_or_else(|| {
            let tried = if p.group.is_empty() {
                format!("`{key}`")
            } else {
                format!("`{relative}` or `{key}`")
            };
            let names = all.iter().map(|q| q.param.name.as_str());
            fault(
                &key_path,
                format!("no parameter named {tried}{}", did_you_mean(key, names)),
            )
        })?;
    if !parent.param.domain.is_categorical() {
        return Err(fault(
            key_path,
            format!(
                "parent `{}` must be categorical (`values` or `value`) to condition on",
                parent.param.name
            ),
        ));
    }
    let values = match wanted {
        Value::Array(vs) => vs.clone(),
        v => vec![v.clone()],
    };
    if values.is_empty() {
        return Err(fault(key_path, "expected at least one parent value"));
    }
    for v in &values {
        if !parent.param.domain.contains(v) {
            return Err(fault(
                &key_path,
                format!(
                    "{} is not one of the values of `{}`",
                    describe(v),
                    parent.param.name
                ),
            ));
        }
    }
    Ok(Some(Condition {
        parent: parent.param.name.clone(),
        values,
    }))
}

/// Validates the flattened parameters into a space, mapping
/// [`SearchSpace::new`]'s errors (`parameters.NAME.FIELD`) onto file paths.
pub(crate) fn build_space(flat: Flat) -> Res<SearchSpace> {
    let Flat { params, origins } = flat;
    SearchSpace::new(params).map_err(|err| match err {
        SearchError::InvalidSpace { path, message } => fault(locate(&path, &origins), message),
        other => fault("parameters", other.to_string()),
    })
}

/// The file path of a space error's path.
fn locate(space_path: &str, origins: &[Origin]) -> String {
    let Some(rest) = space_path.strip_prefix("parameters.") else {
        return space_path.to_owned();
    };
    // Names contain dots, so the longest name that prefixes the path wins.
    let mut seen = HashSet::new();
    let found = origins
        .iter()
        .filter(|o| seen.insert(o.name.as_str()))
        .filter_map(|o| {
            let tail = rest.strip_prefix(o.name.as_str())?;
            (tail.is_empty() || tail.starts_with('.')).then_some((o, tail))
        })
        .max_by_key(|(o, _)| o.name.len());
    let Some((origin, tail)) = found else {
        return space_path.to_owned();
    };
    let field = tail.trim_start_matches('.');
    if field.is_empty() {
        return origin.path.clone();
    }
    match &origin.fields {
        FieldNames::Nni => join(&origin.path, "_value"),
        FieldNames::Wandb { step_key, when_key } => {
            if field == "step" {
                join(&origin.path, step_key)
            } else if field == "when" || field.starts_with("when.") {
                let when = join(&origin.path, "when");
                when_key.as_deref().map_or(when.clone(), |k| join(&when, k))
            } else {
                join(&origin.path, field)
            }
        }
    }
}
