//! What changed between two specs of one study, as far as its identity goes.
//!
//! A study's trials only make sense together when they were proposed from
//! one search space, scored by one metric, by one searcher with one seed, and
//! stopped by one pruner: a trial of `lr` in `[1e-4, 0.1]` tells a TPE model
//! nothing trustworthy about `lr` in `[1e-4, 0.5]`, and a maximised study fed
//! into a minimised one inverts every comparison. So when a sweep file is run
//! again against a stored study, those parts must match, and the caller is
//! told exactly what does not ([`spec_differences`]).
//!
//! Everything else may change from one run to the next without touching the
//! meaning of the trials already stored: the budget and parallelism (`run`
//! apart from its `seed`), timeouts, devices, the `command` and `program`,
//! `name`, `description` and W&B's bookkeeping keys. Those are not reported.
//!
//! Locations are written as in the sweep file (`parameters.lr.max`,
//! `metric.goal`, `early_terminate.min_iter`), so a user can find the line
//! to look at; a renamed parameter shows as one removed and one added, since
//! nothing in a spec says that two names mean the same thing.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EarlyTerminate, MinResource, SweepSpec};
use crate::domain::Domain;
use crate::space::{Condition, Param};

/// Shown for a part one of the two specs does not have.
const ABSENT: &str = "absent";
/// Shown for an optional setting left unset.
const NONE: &str = "none";

/// One way in which a new spec differs from a study's stored one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecDifference {
    /// Where, as a path in the sweep file: `parameters.lr.max`,
    /// `metric.goal`, `method`, `early_terminate.min_iter`.
    pub path: String,
    /// The stored value, as text (`absent` when the new spec adds it).
    pub old: String,
    /// The new value, as text (`absent` when the new spec removes it).
    pub new: String,
}

impl fmt::Display for SpecDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.path, self.old, self.new)
    }
}

/// The differences between a study's stored spec (`old`) and a new one that
/// matter for the study's identity: the search space (parameters added or
/// removed, a domain or condition changed), the metric, the method and its
/// searcher options, the seed, the pruner (`early_terminate`), and a
/// searcher or pruner given in code. Empty when the new spec may continue
/// the study; run settings, the command and names are never reported.
///
/// Order: removed and changed parameters in the stored order, then added
/// ones in the new order, then the rest of the spec top to bottom.
pub fn spec_differences(old: &SweepSpec, new: &SweepSpec) -> Vec<SpecDifference> {
    let mut out = Differences::default();
    for before in old.space.params() {
        let path = format!("parameters.{}", before.name);
        match new.space.get(&before.name) {
            None => out.push(path, describe_param(before), ABSENT),
            Some(after) => param_differences(&mut out, &path, before, after),
        }
    }
    for after in new.space.params() {
        if old.space.get(&after.name).is_none() {
            let path = format!("parameters.{}", after.name);
            out.push(path, ABSENT, describe_param(after));
        }
    }
    out.changed("metric.name", &old.metric.name, &new.metric.name);
    out.changed(
        "metric.goal",
        json_text(&old.metric.goal),
        json_text(&new.metric.goal),
    );
    out.changed(
        "metric.target",
        optional(old.metric.target),
        optional(new.metric.target),
    );
    out.changed("method", old.method.as_str(), new.method.as_str());
    json_differences(
        &mut out,
        "",
        &serde_json::to_value(&old.searcher).unwrap_or(Value::Null),
        &serde_json::to_value(&new.searcher).unwrap_or(Value::Null),
    );
    out.changed("run.seed", optional(old.run.seed), optional(new.run.seed));
    early_terminate_differences(
        &mut out,
        old.early_terminate.as_ref(),
        new.early_terminate.as_ref(),
    );
    out.changed(
        "custom.searcher",
        old.custom.searcher.as_deref().unwrap_or(NONE),
        new.custom.searcher.as_deref().unwrap_or(NONE),
    );
    out.changed(
        "custom.pruner",
        old.custom.pruner.as_deref().unwrap_or(NONE),
        new.custom.pruner.as_deref().unwrap_or(NONE),
    );
    out.list
}

/// The list being built, with a helper that adds only real changes.
#[derive(Default)]
struct Differences {
    list: Vec<SpecDifference>,
}

impl Differences {
    fn push(&mut self, path: impl Into<String>, old: impl Into<String>, new: impl Into<String>) {
        self.list.push(SpecDifference {
            path: path.into(),
            old: old.into(),
            new: new.into(),
        });
    }

    fn changed(&mut self, path: impl Into<String>, old: impl Into<String>, new: impl Into<String>) {
        let (old, new) = (old.into(), new.into());
        if old != new {
            self.push(path, old, new);
        }
    }
}

/// A parameter kept by name: its domain field by field when the kind of
/// domain is the same, whole otherwise; then its condition.
fn param_differences(out: &mut Differences, path: &str, before: &Param, after: &Param) {
    let (a, b) = (&before.domain, &after.domain);
    if a != b {
        match (domain_fields(a), domain_fields(b)) {
            ((kind_a, fields_a), (kind_b, fields_b)) if kind_a == kind_b => {
                for ((key, old), (_, new)) in fields_a.into_iter().zip(fields_b) {
                    out.changed(format!("{path}.{key}"), old, new);
                }
            }
            _ => out.push(path, describe_domain(a), describe_domain(b)),
        }
    }
    out.changed(
        format!("{path}.when"),
        describe_condition(before.condition.as_ref()),
        describe_condition(after.condition.as_ref()),
    );
    out.changed(
        format!("{path}.grid_points"),
        optional(before.grid_points),
        optional(after.grid_points),
    );
}

/// A domain's kind and its fields under their sweep-file names, in a fixed
/// order per kind (so two domains of one kind zip field by field).
fn domain_fields(domain: &Domain) -> (&'static str, Vec<(&'static str, String)>) {
    match domain {
        Domain::Float {
            low,
            high,
            log,
            step,
        } => (
            "float",
            vec![
                ("min", low.to_string()),
                ("max", high.to_string()),
                ("log", log.to_string()),
                ("step", optional(*step)),
            ],
        ),
        Domain::Int {
            low,
            high,
            log,
            step,
        } => (
            "int",
            vec![
                ("min", low.to_string()),
                ("max", high.to_string()),
                ("log", log.to_string()),
                ("step", optional(*step)),
            ],
        ),
        Domain::Normal { mu, sigma, log, q } => (
            "normal",
            vec![
                ("mu", mu.to_string()),
                ("sigma", sigma.to_string()),
                ("log", log.to_string()),
                ("q", optional(*q)),
            ],
        ),
        Domain::Categorical {
            choices,
            probabilities,
        } => (
            "values",
            vec![
                ("values", json_text(choices)),
                (
                    "probabilities",
                    probabilities.as_ref().map_or(NONE.to_owned(), json_text),
                ),
            ],
        ),
        Domain::Const { value } => ("value", vec![("value", json_text(value))]),
        Domain::Cell {
            nodes,
            ops,
            run_disconnected,
        } => (
            "cell",
            vec![
                ("nodes", nodes.to_string()),
                ("ops", json_text(ops)),
                ("run_disconnected", run_disconnected.to_string()),
            ],
        ),
    }
}

/// A whole domain in a few words: `float in [0.0001, 0.1], log`.
fn describe_domain(domain: &Domain) -> String {
    let (kind, fields) = domain_fields(domain);
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or(NONE)
    };
    let mut text = match kind {
        "float" | "int" => format!("{kind} in [{}, {}]", field("min"), field("max")),
        "normal" => format!("normal(mu {}, sigma {})", field("mu"), field("sigma")),
        "values" => format!("values {}", field("values")),
        _ => format!("value {}", field("value")),
    };
    for (key, value) in &fields {
        match (*key, value.as_str()) {
            ("log", "true") => text.push_str(", log"),
            ("step" | "q" | "probabilities", v) if v != NONE => {
                text.push_str(&format!(", {key} {v}"));
            }
            _ => {}
        }
    }
    text
}

/// A whole parameter: its domain and, if any, its condition.
fn describe_param(param: &Param) -> String {
    match &param.condition {
        None => describe_domain(&param.domain),
        Some(c) => format!(
            "{} when {}",
            describe_domain(&param.domain),
            describe_condition(Some(c))
        ),
    }
}

/// `optimizer in ["sgd"]`, or `none` for an unconditional parameter.
fn describe_condition(condition: Option<&Condition>) -> String {
    match condition {
        None => NONE.to_owned(),
        Some(c) => format!("{} in {}", c.parent, json_text(&c.values)),
    }
}

/// `early_terminate` field by field, or whole when one side has none.
fn early_terminate_differences(
    out: &mut Differences,
    old: Option<&EarlyTerminate>,
    new: Option<&EarlyTerminate>,
) {
    match (old, new) {
        (Some(a), Some(b)) => {
            for ((key, old), (_, new)) in early_terminate_fields(a)
                .into_iter()
                .zip(early_terminate_fields(b))
            {
                out.changed(format!("early_terminate.{key}"), old, new);
            }
        }
        (a, b) => out.changed(
            "early_terminate",
            describe_early_terminate(a),
            describe_early_terminate(b),
        ),
    }
}

fn early_terminate_fields(e: &EarlyTerminate) -> Vec<(&'static str, String)> {
    vec![
        ("type", json_text(&e.kind)),
        ("min_iter", optional(e.min_iter)),
        ("max_iter", optional(e.max_iter)),
        ("eta", e.eta.to_string()),
        ("s", optional(e.s)),
        ("strict", e.strict.to_string()),
        (
            "min_resource",
            match e.min_resource {
                None => NONE.to_owned(),
                Some(MinResource::Auto) => "auto".to_owned(),
                Some(MinResource::Steps(n)) => n.to_string(),
            },
        ),
        ("max_resource", optional(e.max_resource)),
        ("warmup_steps", optional(e.warmup_steps)),
        ("percentile", optional(e.percentile)),
    ]
}

/// `hyperband (min_iter 3, eta 3)`: the type and the fields that are set.
fn describe_early_terminate(e: Option<&EarlyTerminate>) -> String {
    let Some(e) = e else {
        return NONE.to_owned();
    };
    let mut fields = early_terminate_fields(e).into_iter();
    let kind = fields.next().map(|(_, v)| v).unwrap_or_default();
    let set: Vec<String> = fields
        .filter(|(_, v)| v != NONE && v != "false")
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    format!("{kind} ({})", set.join(", "))
}

/// Leaf by leaf differences of two JSON values (the searcher options), each
/// path prefixed by `path`.
fn json_differences(out: &mut Differences, path: &str, old: &Value, new: &Value) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, va) in a {
                json_differences(out, &join(key), va, b.get(key).unwrap_or(&Value::Null));
            }
            for (key, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                json_differences(out, &join(key), &Value::Null, vb);
            }
        }
        (a, b) if a != b => out.push(path, a.to_string(), b.to_string()),
        _ => {}
    }
}

/// A value as JSON text (`"maximize"` without the quotes for strings).
fn json_text(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(v) => v.to_string(),
        Err(e) => format!("(unprintable: {e})"),
    }
}

/// An optional setting: its value, or `none`.
fn optional<T: fmt::Display>(value: Option<T>) -> String {
    value.map_or(NONE.to_owned(), |v| v.to_string())
}
