//! The HTML report: one self-contained file that shows a study.
//!
//! [`render`] is a pure function of the study record and its trials: the
//! same store gives the same bytes, so a report can be regenerated, diffed,
//! and mailed or attached to a paper's notes. Everything the page needs is
//! inside it: the style, the script and the data (one JSON document in a
//! `<script type="application/json">` element). Nothing is loaded at view
//! time, so it opens offline and leaks nothing about who reads it.
//!
//! The charts are hand-written in the embedded script (`report.js`) rather
//! than a vendored charting library: they need only scatter, lines, axes and
//! a brush, which is a few hundred lines, and no third-party license or
//! minified blob lands in the binary. Axes and labels are SVG; the marks
//! (one per trial, 50,000 in a large study) are drawn on a canvas under
//! them, because one DOM element per trial made a 50,000-trial report take
//! minutes to open. The script finds the trial under the pointer itself:
//! hovering a mark shows its trial, clicking it selects the trial in the
//! table, and the table renders only the rows in view.
//!
//! The live dashboard ([`crate::dashboard`], feature `dashboard`) serves
//! this same page ([`page`] with [`Page::Live`]) and merges changed trials
//! into it, so the report and the dashboard draw from one source.
//!
//! Parameter importance is computed here, in Rust, by PED-ANOVA
//! ([`hypersweep_search::importance`], whose module doc says why that
//! method); the page only draws it.

use hypersweep_search::importance::ped_anova;
use hypersweep_search::sweep::SweepSpec;
use hypersweep_search::{Observation, TrialState, Value};
use hypersweep_trials::scheduler::best_trial;
use hypersweep_trials::storage::StudyRecord;
use hypersweep_trials::{Trial, pruner_from_spec};
use serde_json::{Map, json};

const TEMPLATE: &str = include_str!("report.html");
const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Where the template takes the style, the script and the data.
const STYLE_SLOT: &str = "/*@STYLE@*/";
const SCRIPT_SLOT: &str = "/*@SCRIPT@*/";
const DATA_SLOT: &str = "@DATA@";
const TITLE_SLOT: &str = "@TITLE@";
const CONFIDENCE_SLOT: &str = "@CONFIDENCE@";
const KIND_SLOT: &str = "@KIND@";
const LIVE_SLOT: &str = "<!--@LIVE@-->";

mod confidence;

/// The report of `record`'s study over `trials`, as one HTML document.
pub fn render(record: &StudyRecord, trials: &[Trial]) -> String {
    // Confirmation and ablation re-runs have their own section; the search's
    // views (history, importance, curves) show the search ([`head`] and
    // [`trials_data`] leave the re-runs out).
    let confidence = confidence::confidence_html(&record.spec, trials);
    let mut data = head(record, trials);
    data["trials"] = trials_data(trials);
    page(&record.name, &data, Page::Report, &confidence)
}

/// The trials the search's views show: all but confirmation and ablation
/// re-runs (copied only when there are such re-runs: a large study is all
/// search).
fn search_trials(trials: &[Trial]) -> std::borrow::Cow<'_, [Trial]> {
    if trials.iter().all(|t| t.role.is_search()) {
        trials.into()
    } else {
        trials
            .iter()
            .filter(|t| t.role.is_search())
            .cloned()
            .collect::<Vec<_>>()
            .into()
    }
}

/// What a page is: a report (a file, drawn once) or the live dashboard's
/// view of a study (the same page with the dashboard's polling script).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page<'a> {
    /// The self-contained report.
    Report,
    /// The dashboard: the report's views plus `script`, which keeps them
    /// up to date.
    Live {
        /// A script run after the report's own (it finds the report's API
        /// on `window.hypersweepReport`).
        script: &'a str,
    },
}

/// The page of the study `name` showing `data` (a [`head`] with a `trials`
/// array of [`trial_data`]) and the `confidence` section (HTML; empty for
/// none): the report's template, style and script, one source for the
/// report and the dashboard.
pub fn page(name: &str, data: &Value, kind: Page<'_>, confidence: &str) -> String {
    // JSON inside a <script> element: `<` never appears raw, so no text of
    // a trial (an error message with `</script>`) can end the element.
    let data = data.to_string().replace('<', "\\u003c");
    let title = escape_html(name);
    let (kind, live) = match kind {
        Page::Report => ("report", String::new()),
        Page::Live { script } => (
            "dashboard",
            format!(
                "<script>\n{}\n</script>",
                script.replace("</script", "<\\/script")
            ),
        ),
    };
    fill(
        TEMPLATE,
        &[
            (TITLE_SLOT, &title),
            (KIND_SLOT, kind),
            (STYLE_SLOT, STYLE),
            (SCRIPT_SLOT, SCRIPT),
            (DATA_SLOT, &data),
            (CONFIDENCE_SLOT, confidence),
            (LIVE_SLOT, &live),
        ],
    )
}

/// `template` with every slot replaced by its text. Only the template is
/// searched for slots, never a text put in, so a study named `@DATA@` stays
/// a name.
fn fill(template: &str, slots: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + slots.iter().map(|s| s.1.len()).sum::<usize>());
    let mut rest = template;
    while let Some((at, slot, text)) = slots
        .iter()
        .filter_map(|&(slot, text)| rest.find(slot).map(|at| (at, slot, text)))
        .min_by_key(|&(at, _, _)| at)
    {
        out.push_str(&rest[..at]);
        out.push_str(text);
        rest = &rest[at + slot.len()..];
    }
    out.push_str(rest);
    out
}

/// The pruner a study runs with, in words: one given in code, else the kind
/// `early_terminate` names, else `none`.
pub fn pruner_text(spec: &SweepSpec, study: &str) -> String {
    match (&spec.custom.pruner, &spec.early_terminate) {
        (Some(pruner), _) => format!("{pruner} (a pruner given in code)"),
        (None, Some(early)) => pruner_from_spec(Some(early), study).describe(),
        (None, None) => "none".to_owned(),
    }
}

/// The searcher a study runs with, in words.
fn searcher_text(spec: &SweepSpec) -> String {
    match &spec.custom.searcher {
        Some(searcher) => format!("{searcher} (a searcher given in code)"),
        None => spec.method.as_str().to_owned(),
    }
}

/// Everything the page shows but the trials themselves: the study, the
/// counts, the best trial, the params and their importance. The dashboard
/// sends it again whenever a trial changed.
pub fn head(record: &StudyRecord, trials: &[Trial]) -> Value {
    let search = search_trials(trials);
    let trials = &search[..];
    let spec = &record.spec;
    let count = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
    let first = trials.iter().map(|t| t.started_ms).min();
    let last = trials
        .iter()
        .map(|t| t.finished_ms.unwrap_or(t.heartbeat_ms).max(t.started_ms))
        .max();
    let observations: Vec<Observation> = trials.iter().map(Trial::observation).collect();
    let importance = match ped_anova(&spec.space, &observations, spec.metric.goal) {
        Ok(list) => json!({ "params": list }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    let params: Vec<Value> = spec
        .space
        .params()
        .iter()
        .map(|p| json!({ "name": p.name, "domain": p.domain }))
        .collect();
    json!({
        "study": {
            "name": record.name,
            "created_ms": record.created_ms,
            "metric": spec.metric.name,
            "goal": spec.metric.goal,
            "searcher": searcher_text(spec),
            "pruner": pruner_text(spec, &record.name),
            "budget": spec.run.trials,
            "parallel": spec.run.parallel,
            "revisions": record.revisions,
            "spec": spec,
        },
        "counts": {
            "total": trials.len(),
            "complete": count(TrialState::Complete),
            "pruned": count(TrialState::Pruned),
            "failed": count(TrialState::Failed),
            "running": count(TrialState::Running),
        },
        "wall_ms": first.zip(last).map(|(a, b)| b.saturating_sub(a)),
        "best": best_trial(trials, spec.metric.goal).map(|t| t.number),
        "params": params,
        "importance": importance,
    })
}

/// The trials as the page reads them, by number.
pub fn trials_data(trials: &[Trial]) -> Value {
    Value::Array(
        trials
            .iter()
            .filter(|t| t.role.is_search())
            .map(trial_data)
            .collect(),
    )
}

/// One trial as the page reads it: short keys (a 50,000-trial study is
/// mostly this), non-finite values as `"NaN"`, `"inf"`, `"-inf"` as in the
/// store's JSON.
pub fn trial_data(t: &Trial) -> Value {
    let mut m = Map::new();
    m.insert("n".into(), json!(t.number));
    m.insert("s".into(), json!(t.state));
    m.insert("v".into(), float(t.value));
    m.insert("p".into(), Value::Object(t.params.as_map().clone()));
    insert_curve(&mut m, &t.intermediate);
    m.insert("t0".into(), json!(t.started_ms));
    m.insert("t1".into(), json!(t.finished_ms));
    if let Some(e) = &t.error {
        m.insert("e".into(), json!(e));
    }
    if let Some(log) = &t.log_path {
        m.insert("log".into(), json!(log.display().to_string()));
    }
    if let Some(d) = &t.device {
        m.insert("d".into(), json!(d));
    }
    Value::Object(m)
}

/// The learning curve, drawn and never tabulated, in the page's most
/// compact form (in a 50,000-trial study the curves were most of the page):
/// values to [`CURVE_DIGITS`] significant digits, and steps that run on by
/// one from the first (epochs, the common case) as `i0` plus the values
/// `iv`; other steps as `[step, value]` pairs under `i`.
fn insert_curve(m: &mut Map<String, Value>, curve: &[(u64, f64)]) {
    let value = |v: f64| float(Some(significant(v, CURVE_DIGITS)));
    let consecutive = curve.windows(2).all(|w| w[1].0 == w[0].0 + 1);
    match curve.first() {
        Some(&(first, _)) if consecutive => {
            m.insert("i0".into(), json!(first));
            m.insert(
                "iv".into(),
                Value::Array(curve.iter().map(|&(_, v)| value(v)).collect()),
            );
        }
        _ => {
            m.insert(
                "i".into(),
                Value::Array(
                    curve
                        .iter()
                        .map(|&(step, v)| json!([step, value(v)]))
                        .collect(),
                ),
            );
        }
    }
}

/// Significant digits kept of an intermediate value in a page: a chart
/// is a few hundred pixels tall, and `export` has the exact values.
pub const CURVE_DIGITS: i32 = 7;

/// `x` rounded to `digits` significant digits (non-finite and zero as
/// they are).
fn significant(x: f64, digits: i32) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    // Through decimal text: scaling by a power of ten is inexact at the
    // ends of the range (1e-300 came back as 9.999999999999994e-301).
    let precision = usize::try_from(digits.max(1) - 1).unwrap_or(0);
    format!("{x:.precision$e}").parse().unwrap_or(x)
}

/// A float as JSON, keeping non-finite values as strings.
fn float(v: Option<f64>) -> Value {
    match v {
        None => Value::Null,
        Some(x) if x.is_finite() => json!(x),
        Some(x) if x.is_nan() => json!("NaN"),
        Some(x) if x > 0.0 => json!("inf"),
        Some(_) => json!("-inf"),
    }
}

pub(crate) fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests;
