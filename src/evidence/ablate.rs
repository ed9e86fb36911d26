//! `ablate`: which params of the best configuration matter.
//!
//! One-at-a-time ablation from the best configuration: each param in turn is
//! reset to its baseline value (the baseline file's, else the param's
//! default: the prior's centre for numbers, the first choice of a
//! categorical), every variant and the unablated configuration are run on
//! the same seeds, and each param's effect is the paired mean difference
//! (reset minus best) with its 95% interval. Resetting a categorical parent
//! may switch conditional params on or off: those switched on take their
//! baseline values, those switched off are dropped. A param already at its
//! baseline has no variant (its effect is zero by construction).

use std::fmt;

use hypersweep_search::domain::Domain;
use hypersweep_search::sweep::SweepSpec;
use hypersweep_search::{Direction, Params, SearchSpace, SeedStream, Value, evaluation_seeds};
use hypersweep_trials::scheduler::{Plan, PlannedTrial, best_trial};
use hypersweep_trials::stats::PairedTest;
use hypersweep_trials::{Trial, TrialRole};

use super::confirm::{check_repeats, direction_word};
use super::format::{number, p_value, signed};
use super::{Estimate, EvidenceError, choose_round, paired_over_seeds, round_results, seed_values};

/// The baseline of every param of `space`: `given`'s value where it names
/// the param (checked against its domain), else the param's default.
pub fn baseline_of(space: &SearchSpace, given: Option<&Params>) -> Result<Params, EvidenceError> {
    if let Some(given) = given {
        for (name, value) in given.iter() {
            let Some(param) = space.get(name) else {
                return Err(EvidenceError::Baseline(format!(
                    "`{name}`: expected a param of the study (its params: {})",
                    space
                        .params()
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            if !param.domain.contains(value) {
                return Err(EvidenceError::Baseline(format!(
                    "`{name}`: {value} is not a value of the param's domain"
                )));
            }
        }
    }
    let mut baseline = Params::new();
    for p in space.params() {
        let value = given
            .and_then(|g| g.get(&p.name).cloned())
            .unwrap_or_else(|| default_value(&p.domain));
        baseline.insert(p.name.clone(), value);
    }
    Ok(baseline)
}

/// A param's default: the first choice of a categorical (or cell), the
/// centre of the prior of a number (the midpoint, or geometric midpoint on
/// a log scale, or the normal's mean; rounded to the domain's step).
fn default_value(domain: &Domain) -> Value {
    match domain {
        Domain::Categorical { choices, .. } => choices.first().cloned().unwrap_or(Value::Null),
        Domain::Const { value } => value.clone(),
        Domain::Cell { .. } => domain.decode(0.0),
        _ => domain.decode(0.5),
    }
}

/// The ablation round to run: the latest one if unfinished, else a new one
/// from the best search trial, with one variant per param not already at
/// its `baseline` (see [`baseline_of`]), each run on the same `repeats`
/// fresh seeds as the unablated configuration.
pub fn ablation_plan(
    seed: u64,
    spec: &SweepSpec,
    trials: &[Trial],
    baseline: &Params,
    repeats: u32,
) -> Result<Plan, EvidenceError> {
    check_repeats(repeats)?;
    let best = best_trial(trials, spec.metric.goal).ok_or(EvidenceError::NoTrials)?;
    let mut configurations: Vec<(Option<String>, Params)> = vec![(None, best.params.clone())];
    for p in spec.space.params() {
        let (Some(current), Some(base)) = (best.params.get(&p.name), baseline.get(&p.name)) else {
            continue;
        };
        if current == base {
            continue;
        }
        let mut params = best.params.clone();
        params.insert(p.name.clone(), base.clone());
        configurations.push((
            Some(p.name.clone()),
            reactivate(&spec.space, params, baseline),
        ));
    }
    let n = configurations.len() as u32;
    choose_round(trials, "ablate", |round| {
        let seeds = evaluation_seeds(seed, SeedStream::Ablate, u64::from(round), repeats);
        configurations
            .iter()
            .zip(0..)
            .map(|((reset, params), variant)| PlannedTrial {
                params: params.clone(),
                role: TrialRole::Ablate {
                    round,
                    variant,
                    variants: n,
                    of: best.number,
                    reset: reset.clone(),
                },
                seeds: seeds.clone(),
            })
            .collect()
    })
}

/// Drops params whose condition no longer holds and gives newly active ones
/// their baseline, in the space's order (parents before children).
fn reactivate(space: &SearchSpace, mut params: Params, baseline: &Params) -> Params {
    for p in space.params() {
        if !space.is_active(p, &params) {
            params.remove(&p.name);
        } else if params.get(&p.name).is_none()
            && let Some(v) = baseline.get(&p.name)
        {
            params.insert(p.name.clone(), v.clone());
        }
    }
    params
}

/// One param's ablation.
#[derive(Debug, Clone, PartialEq)]
pub struct AblationRow {
    /// The param.
    pub param: String,
    /// Its value in the best configuration.
    pub best: Value,
    /// The value it was reset to.
    pub baseline: Value,
    /// The variant's value over the seeds.
    pub estimate: Estimate,
    /// Reset minus best, paired over the shared seeds.
    pub effect: Option<PairedTest>,
}

/// The result of an ablation round.
#[derive(Debug, Clone, PartialEq)]
pub struct AblationTable {
    /// The round.
    pub round: u32,
    /// The search trial ablated.
    pub of: u64,
    /// Metric name.
    pub metric: String,
    /// Optimisation direction.
    pub direction: Direction,
    /// The unablated configuration over the round's seeds.
    pub full: Option<Estimate>,
    /// The params, the most harmful reset first.
    pub rows: Vec<AblationRow>,
    /// Params of the best configuration already at their baseline.
    pub at_baseline: Vec<String>,
    /// Params whose variant has no result (failed, or not run yet).
    pub missing: Vec<String>,
}

/// The table of ablation round `round` of a study.
pub fn ablation_table(spec: &SweepSpec, trials: &[Trial], round: u32) -> AblationTable {
    let direction = spec.metric.goal;
    let results = round_results(trials, "ablate", round);
    let mut full: Option<&Trial> = None;
    let mut variants: Vec<(&Trial, String)> = Vec::new();
    let mut missing = Vec::new();
    let mut of = 0;
    for result in results.values() {
        let (Ok(t) | Err(t)) = result;
        let TrialRole::Ablate {
            reset, of: from, ..
        } = &t.role
        else {
            continue;
        };
        let from = *from;
        of = from;
        match (result, reset) {
            (Ok(t), None) => full = Some(t),
            (Ok(t), Some(p)) => variants.push((t, p.clone())),
            (Err(_), reset) => missing.push(reset.clone().unwrap_or_else(|| "(best)".into())),
        }
    }
    let full_values = full.map(seed_values).unwrap_or_default();
    let full_estimate = Estimate::of(&full_values.iter().map(|v| v.1).collect::<Vec<_>>());
    let best_params = full.map(|t| t.params.clone()).unwrap_or_default();
    let mut rows: Vec<AblationRow> = variants
        .into_iter()
        .filter_map(|(t, param)| {
            let values = seed_values(t);
            let estimate = Estimate::of(&values.iter().map(|v| v.1).collect::<Vec<_>>())?;
            Some(AblationRow {
                best: best_params.get(&param).cloned().unwrap_or(Value::Null),
                baseline: t.params.get(&param).cloned().unwrap_or(Value::Null),
                effect: paired_over_seeds(&values, &full_values),
                estimate,
                param,
            })
        })
        .collect();
    // Most harmful first: the reset that costs the most in the metric's
    // direction.
    let harm = |r: &AblationRow| {
        r.effect
            .map_or(f64::NEG_INFINITY, |e| direction.loss(e.mean_diff))
    };
    rows.sort_by(|a, b| harm(b).total_cmp(&harm(a)));
    let ablated: Vec<&str> = rows.iter().map(|r| r.param.as_str()).collect();
    let at_baseline = spec
        .space
        .params()
        .iter()
        .filter(|p| best_params.get(&p.name).is_some())
        .filter(|p| !ablated.contains(&p.name.as_str()) && !missing.contains(&p.name))
        .filter(|p| !matches!(p.domain, Domain::Const { .. }))
        .map(|p| p.name.clone())
        .collect();
    AblationTable {
        round,
        of,
        metric: spec.metric.name.clone(),
        direction,
        full: full_estimate,
        rows,
        at_baseline,
        missing,
    }
}

impl fmt::Display for AblationTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = self
            .full
            .map_or_else(|| "not run yet".to_owned(), |e| e.to_string());
        writeln!(
            f,
            "ablate round {}: trial {} with one param at a time reset to its baseline ({}, {})",
            self.round,
            self.of,
            self.metric,
            direction_word(self.direction)
        )?;
        writeln!(f, "unablated: {} = {full}", self.metric)?;
        writeln!(
            f,
            "{:<14}  {:>10}  {:>10}  {:<34}  {:<22}  p-value",
            "param", "best", "baseline", "after reset", "effect of reset (95%)"
        )?;
        for r in &self.rows {
            let effect = r.effect.map_or_else(
                || "no shared seeds".to_owned(),
                |e| format!("{} ± {}", signed(e.mean_diff), number(e.half_width)),
            );
            writeln!(
                f,
                "{:<14}  {:>10}  {:>10}  {:<34}  {:<22}  {}",
                r.param,
                value_cell(&r.best),
                value_cell(&r.baseline),
                r.estimate.to_string(),
                effect,
                r.effect
                    .map_or_else(|| "-".to_owned(), |e| p_value(e.p_value)),
            )?;
        }
        if !self.at_baseline.is_empty() {
            writeln!(
                f,
                "already at baseline (no variant): {}",
                self.at_baseline.join(", ")
            )?;
        }
        if !self.missing.is_empty() {
            writeln!(
                f,
                "no result yet for: {} (failed or not run; run `ablate` again to finish the round)",
                self.missing.join(", ")
            )?;
        }
        Ok(())
    }
}

fn value_cell(v: &Value) -> String {
    match v {
        Value::Number(n) => n.as_f64().map_or_else(
            || n.to_string(),
            |x| {
                if x.fract() == 0.0 && x.abs() < 1e9 {
                    format!("{x}")
                } else {
                    number(x)
                }
            },
        ),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
