//! The top level of a W&B-style sweep file.

use serde_json::{Map, Value};

use super::early::parse_early_terminate;
use super::fields::{Fields, Res, describe, did_you_mean, fault, list, string};
use super::parameters::{Flat, build_space, parse_parameters};
use super::run::parse_run;
use super::{Metric, SweepSpec};
use crate::domain::Domain;
use crate::history::Direction;
use crate::searcher::{Method, SearcherOptions};

/// Top-level keys W&B documents that we keep as written in
/// [`SweepSpec::extra`] (`run_cap` also sets the trial budget).
pub(crate) const WANDB_EXTRA_KEYS: &[&str] =
    &["project", "entity", "run_cap", "controller", "job", "image"];

/// Top-level keys with a field of their own.
const OWN_KEYS: &[&str] = &[
    "method",
    "metric",
    "parameters",
    "name",
    "description",
    "program",
    "command",
    "early_terminate",
    "run",
];

/// The method when a file names none (W&B requires one; we pick the
/// searcher that chooses itself, see [`crate::auto`]).
pub(crate) const DEFAULT_METHOD: Method = Method::Auto;

/// Reads a W&B-style sweep document.
pub(crate) fn parse_wandb(root: &Map<String, Value>) -> Res<SweepSpec> {
    let top = Fields {
        map: root,
        path: "",
    };
    let searcher_keys = searcher_keys();
    if let Some(key) = root.keys().find(|k| {
        !OWN_KEYS.contains(&k.as_str())
            && !WANDB_EXTRA_KEYS.contains(&k.as_str())
            && !searcher_keys.contains(k)
    }) {
        let mut known: Vec<&str> = OWN_KEYS.iter().chain(WANDB_EXTRA_KEYS).copied().collect();
        known.extend(searcher_keys.iter().map(String::as_str));
        return Err(fault(
            key.as_str(),
            format!(
                "unknown top-level key `{key}`{}; expected one of {}",
                did_you_mean(key, known.iter().copied()),
                list(&known)
            ),
        ));
    }
    let method = match top.string("method")? {
        None => DEFAULT_METHOD,
        Some(name) => Method::from_name(name).ok_or_else(|| {
            fault(
                "method",
                format!(
                    "unknown method `{name}`{}; expected one of {}",
                    did_you_mean(name, Method::NAMES.iter().copied()),
                    list(Method::NAMES)
                ),
            )
        })?,
    };
    let metric = match top.get("metric") {
        None => Metric::default(),
        Some(v) => parse_metric(v)?,
    };
    let parameters = top.require("parameters", "a sweep needs parameters to search")?;
    let flat = parse_parameters(parameters, "parameters")?;
    if method == Method::Grid {
        check_grid(&flat)?;
    }
    let space = build_space(flat)?;
    let early_terminate = top
        .get("early_terminate")
        .map(parse_early_terminate)
        .transpose()?;
    let run_cap = match top.unsigned("run_cap")? {
        Some(0) => return Err(fault("run_cap", "expected at least 1")),
        n => n,
    };
    let run = parse_run(top.get("run"), run_cap)?;
    let command = top.get("command").map(parse_command).transpose()?;
    let extra = root
        .iter()
        .filter(|(k, _)| WANDB_EXTRA_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(SweepSpec {
        name: top.string("name")?.map(str::to_owned),
        description: top.string("description")?.map(str::to_owned),
        method,
        metric,
        space,
        early_terminate,
        run,
        command,
        program: top.string("program")?.map(str::to_owned),
        searcher: parse_searcher_options(root, &searcher_keys)?,
        extra,
        custom: Default::default(),
    })
}

fn parse_metric(v: &Value) -> Res<Metric> {
    let f = Fields::of(v, "metric", "the metric `{name, goal}`")?;
    f.only(&["name", "goal", "target"], "`metric`")?;
    let name = f
        .string("name")?
        .ok_or_else(|| fault("metric.name", "missing `name`: the key the trials report"))?;
    if name.is_empty() {
        return Err(fault("metric.name", "expected a non-empty metric name"));
    }
    let goal = match f.string("goal")? {
        None | Some("minimize") => Direction::Minimize,
        Some("maximize") => Direction::Maximize,
        Some(other) => {
            return Err(fault(
                "metric.goal",
                format!("unknown goal `{other}`; expected `minimize` or `maximize`"),
            ));
        }
    };
    Ok(Metric {
        name: name.to_owned(),
        goal,
        target: f.number("target")?,
    })
}

fn parse_command(v: &Value) -> Res<Vec<String>> {
    let items = v.as_array().ok_or_else(|| {
        fault(
            "command",
            format!("expected an array of strings (argv), got {}", describe(v)),
        )
    })?;
    if items.is_empty() {
        return Err(fault("command", "expected at least the program to run"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| string(item, &format!("command[{i}]")).map(str::to_owned))
        .collect()
}

/// The per-searcher sections (`tpe`, `gp`, ...), discovered from
/// [`SearcherOptions`] itself so a searcher added there is accepted here
/// without a second list to keep in step.
fn searcher_keys() -> Vec<String> {
    match serde_json::to_value(SearcherOptions::default()) {
        Ok(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn parse_searcher_options(root: &Map<String, Value>, keys: &[String]) -> Res<SearcherOptions> {
    let mut sections = Map::new();
    for key in keys {
        if let Some(section) = root.get(key) {
            // Each section alone first, so an error names its section.
            let mut one = Map::new();
            one.insert(key.clone(), section.clone());
            serde_json::from_value::<SearcherOptions>(Value::Object(one))
                .map_err(|e| fault(key.as_str(), e.to_string()))?;
            sections.insert(key.clone(), section.clone());
        }
    }
    let options: SearcherOptions = serde_json::from_value(Value::Object(sections))
        .map_err(|e| fault("(searcher options)", e.to_string()))?;
    // Checked here too, so `check` and `run` refuse the file before any trial.
    options.evolution.check().map_err(|e| match e {
        crate::SearchError::InvalidSpace { path, message } => fault(path, message),
        other => fault("evolution", other.to_string()),
    })?;
    Ok(options)
}

/// `method: grid` needs every parameter to have finitely many values.
fn check_grid(flat: &Flat) -> Res<()> {
    for (p, origin) in flat.params.iter().zip(&flat.origins) {
        let continuous = match &p.domain {
            Domain::Float { step, .. } => step.is_none(),
            Domain::Normal { .. } => true,
            _ => false,
        };
        if continuous && p.grid_points.is_none() {
            return Err(fault(
                origin.path.as_str(),
                "method `grid` needs finitely many values: give this continuous \
                 parameter `values`, a `step` (`q`), or `grid_points`",
            ));
        }
    }
    Ok(())
}
