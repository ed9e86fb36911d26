//! NNI search spaces (`search_space.json`): `{"name": {"_type": ..., "_value": [...]}}`.
//!
//! A file is taken for NNI when it has no `parameters` key and one of its
//! top-level values is an object with `_type`. Such a file holds only the
//! space, so the rest of the sweep takes defaults: method `tpe`, metric
//! `default` (the key NNI's `nni.report_final_result` reports) minimised.
//!
//! Nested choices: a `choice` value that is an object with `_name` stands for
//! the choice `_name`, and its other keys are parameters active only when the
//! choice is that `_name`. They are named `PARENT.NAME.CHILD`
//! (`optimizer.sgd.momentum`): the choice label sits in the name, so the
//! children of two labels never share a name, and a clash with a literal
//! top-level key that contains dots is reported as a duplicate parameter.
//!
//! Types, NNI's meaning -> our domain: `choice` -> categorical; `randint
//! [lower, upper)` -> integers `lower..=upper-1`; `uniform`/`loguniform
//! [low, high]` -> float (log); `quniform`/`qloguniform [low, high, q]` ->
//! multiples of `q` inside the range (integers when `q` is whole, as for
//! W&B's `q_*`); `normal`/`lognormal [mu, sigma]`, `qnormal`/`qlognormal
//! [mu, sigma, q]` -> a normal prior (of the log), rounded to multiples of `q`.
//!
//! Error paths: `lr._value` for a top-level parameter, and
//! `optimizer._value[0].momentum._value` inside a nested choice.

use serde_json::{Map, Value};

use super::distributions::parse_domain;
use super::fields::{Fields, Res, describe, fault, join, list, string};
use super::parameters::{FieldNames, Flat, Origin};
use crate::domain::Domain;
use crate::space::{Condition, Param};

/// NNI's `_type`s.
pub(crate) const NNI_TYPES: &[&str] = &[
    "choice",
    "randint",
    "uniform",
    "quniform",
    "loguniform",
    "qloguniform",
    "normal",
    "qnormal",
    "lognormal",
    "qlognormal",
];

/// True when `root` has the shape of an NNI search space.
pub(crate) fn looks_like_nni(root: &Map<String, Value>) -> bool {
    !root.contains_key("parameters")
        && root
            .values()
            .any(|v| v.as_object().is_some_and(|o| o.contains_key("_type")))
}

/// Reads the whole NNI search space.
pub(crate) fn parse_nni(root: &Map<String, Value>) -> Res<Flat> {
    let mut flat = Flat::default();
    walk(root, "", "", None, &mut flat)?;
    Ok(flat)
}

fn walk(
    map: &Map<String, Value>,
    path: &str,
    prefix: &str,
    condition: Option<&Condition>,
    out: &mut Flat,
) -> Res<()> {
    for (key, spec) in map {
        let spec_path = join(path, key);
        if key.is_empty() {
            return Err(fault(spec_path, "a parameter name must not be empty"));
        }
        let name = format!("{prefix}{key}");
        let fields = Fields::of(spec, &spec_path, "`{\"_type\": ..., \"_value\": [...]}`")?;
        fields.only(&["_type", "_value"], "an NNI parameter")?;
        let kind = string(
            fields.require("_type", "every NNI parameter has a `_type`")?,
            &fields.path_of("_type"),
        )?;
        let value_path = fields.path_of("_value");
        let args = match fields.require("_value", "every NNI parameter has a `_value`")? {
            Value::Array(a) => a,
            other => {
                return Err(fault(
                    value_path,
                    format!("expected an array, got {}", describe(other)),
                ));
            }
        };
        let domain = if kind == "choice" {
            choice(args, &value_path, &name, out)?
        } else {
            numeric(kind, args, &fields.path_of("_type"), &value_path)?
        };
        let mut param = Param::new(name.clone(), domain);
        param.condition = condition.cloned();
        // Children of a nested choice were pushed by `choice` already;
        // `SearchSpace::new` puts parents first.
        out.params.push(param);
        out.origins.push(Origin {
            name,
            path: spec_path,
            fields: FieldNames::Nni,
        });
    }
    Ok(())
}

/// A `choice`, recursing into nested choices (objects with `_name`).
fn choice(args: &[Value], path: &str, name: &str, out: &mut Flat) -> Res<Domain> {
    let mut choices = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let arg_path = format!("{path}[{i}]");
        let label = match arg.as_object().and_then(|o| o.get("_name").map(|n| (o, n))) {
            None => arg.clone(),
            Some((nested, label)) => {
                let text = match label {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let children: Map<String, Value> = nested
                    .iter()
                    .filter(|(k, _)| k.as_str() != "_name")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let condition = Condition {
                    parent: name.to_owned(),
                    values: vec![label.clone()],
                };
                walk(
                    &children,
                    &arg_path,
                    &format!("{name}.{text}."),
                    Some(&condition),
                    out,
                )?;
                label.clone()
            }
        };
        if choices.contains(&label) {
            return Err(fault(arg_path, format!("duplicate choice {label}")));
        }
        choices.push(label);
    }
    Ok(Domain::Categorical {
        choices,
        probabilities: None,
    })
}

/// The numeric `_type`s, by rewriting them as the equivalent W&B spec so
/// that both formats share one set of rules and checks.
fn numeric(kind: &str, args: &[Value], type_path: &str, value_path: &str) -> Res<Domain> {
    let (distribution, names): (&str, &[&str]) = match kind {
        "randint" => ("int_uniform", &["min", "max"]),
        "uniform" => ("uniform", &["min", "max"]),
        "quniform" => ("q_uniform", &["min", "max", "q"]),
        "loguniform" => ("log_uniform_values", &["min", "max"]),
        "qloguniform" => ("q_log_uniform_values", &["min", "max", "q"]),
        "normal" => ("normal", &["mu", "sigma"]),
        "qnormal" => ("q_normal", &["mu", "sigma", "q"]),
        "lognormal" => ("log_normal", &["mu", "sigma"]),
        "qlognormal" => ("q_log_normal", &["mu", "sigma", "q"]),
        other => {
            return Err(fault(
                type_path,
                format!(
                    "unknown NNI type `{other}`; expected one of {}",
                    list(NNI_TYPES)
                ),
            ));
        }
    };
    if args.len() != names.len() {
        return Err(fault(
            value_path,
            format!(
                "`{kind}` takes [{}], got {} value(s)",
                names.join(", "),
                args.len()
            ),
        ));
    }
    let mut spec = Map::new();
    spec.insert("distribution".into(), Value::from(distribution));
    for (i, (n, a)) in names.iter().zip(args).enumerate() {
        if a.as_f64().is_none() {
            return Err(fault(
                format!("{value_path}[{i}]"),
                format!("expected a number ({n}), got {}", describe(a)),
            ));
        }
        spec.insert((*n).into(), a.clone());
    }
    if kind == "randint" {
        // NNI's upper bound is exclusive.
        let upper = args[1].as_f64().unwrap_or(0.0);
        let lower = args[0].as_f64().unwrap_or(0.0);
        if upper <= lower {
            return Err(fault(
                value_path,
                format!(
                    "`randint` takes [lower, upper) with upper > lower, got [{lower}, {upper})"
                ),
            ));
        }
        spec.insert("max".into(), Value::from(upper - 1.0));
    }
    let spec = Value::Object(spec);
    let fields = Fields::of(&spec, value_path, "")?;
    parse_domain(&fields)
        .map(|p| p.domain)
        .map_err(|f| fault(value_path, f.message))
}
