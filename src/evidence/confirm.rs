//! `confirm`: the top configurations re-run over fresh, shared seeds.
//!
//! The best of many noisy trials is biased upward (the winner's curse): its
//! value is partly luck. A confirmation round re-runs the top `k`
//! configurations over the same fresh seeds, so each gets an unbiased mean
//! with an interval, and the winner and runner-up are compared pairwise
//! (same seed, both configurations), which cancels the noise the seed
//! contributes to both.

use std::fmt;

use hypersweep_search::sweep::{MAX_REPEATS, SweepSpec};
use hypersweep_search::{Direction, Params, SeedStream, evaluation_seeds};
use hypersweep_trials::scheduler::{Plan, PlannedTrial};
use hypersweep_trials::stats::PairedTest;
use hypersweep_trials::{Trial, TrialRole, TrialState};

use super::format::{number, p_value, signed};
use super::{Estimate, EvidenceError, choose_round, paired_over_seeds, round_results, seed_values};

/// Most configurations one round confirms.
pub const MAX_TOP: usize = 100;

/// The confirmation round to run: the latest one if unfinished, else a new
/// one over the `top` best distinct configurations of the search, each to
/// be evaluated on the same `repeats` fresh seeds.
pub fn confirm_plan(
    seed: u64,
    direction: Direction,
    trials: &[Trial],
    top: usize,
    repeats: u32,
) -> Result<Plan, EvidenceError> {
    if !(1..=MAX_TOP).contains(&top) {
        return Err(EvidenceError::Invalid(format!(
            "--top must be from 1 to {MAX_TOP}, got {top}"
        )));
    }
    check_repeats(repeats)?;
    let mut ranked: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.role.is_search() && t.state == TrialState::Complete)
        .filter(|t| t.value.is_some_and(f64::is_finite))
        .collect();
    ranked.sort_by(|a, b| {
        let loss = |t: &Trial| direction.loss(t.value.unwrap_or(f64::NAN));
        loss(a).total_cmp(&loss(b)).then(a.number.cmp(&b.number))
    });
    let mut chosen: Vec<&Trial> = Vec::new();
    for t in ranked {
        if chosen.len() == top {
            break;
        }
        if !chosen.iter().any(|c| c.params == t.params) {
            chosen.push(t);
        }
    }
    if chosen.is_empty() {
        return Err(EvidenceError::NoTrials);
    }
    let n = chosen.len() as u32;
    choose_round(trials, "confirm", |round| {
        let seeds = evaluation_seeds(seed, SeedStream::Confirm, u64::from(round), repeats);
        chosen
            .iter()
            .zip(0..)
            .map(|(t, variant)| PlannedTrial {
                params: t.params.clone(),
                role: TrialRole::Confirm {
                    round,
                    variant,
                    variants: n,
                    of: t.number,
                },
                seeds: seeds.clone(),
            })
            .collect()
    })
}

/// `--repeats` of a round: at least two seeds, or there is no interval.
pub(super) fn check_repeats(repeats: u32) -> Result<(), EvidenceError> {
    if repeats < 2 || u64::from(repeats) > MAX_REPEATS {
        return Err(EvidenceError::Invalid(format!(
            "--repeats must be from 2 to {MAX_REPEATS} (an interval needs two seeds), got {repeats}"
        )));
    }
    Ok(())
}

/// One confirmed configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmRow {
    /// The search trial it re-ran.
    pub of: u64,
    /// That trial's value in the search.
    pub searched: Option<f64>,
    /// The configuration.
    pub params: Params,
    /// Its value on each seed of the round.
    pub values: Vec<(u64, f64)>,
    /// Their mean and interval.
    pub estimate: Estimate,
}

/// The result of a confirmation round.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmTable {
    /// The round.
    pub round: u32,
    /// Metric name and direction.
    pub metric: String,
    /// Optimisation direction.
    pub direction: Direction,
    /// Confirmed configurations, best mean first.
    pub rows: Vec<ConfirmRow>,
    /// Search trials whose re-run has no result (failed, or not run yet).
    pub missing: Vec<u64>,
    /// The winner against the runner-up, paired over their shared seeds
    /// (winner minus runner-up).
    pub winner_vs_runner_up: Option<PairedTest>,
}

/// The table of confirmation round `round` of a study.
pub fn confirm_table(spec: &SweepSpec, trials: &[Trial], round: u32) -> ConfirmTable {
    let direction = spec.metric.goal;
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    for result in round_results(trials, "confirm", round).values() {
        let t = match result {
            Ok(t) => t,
            Err(t) => {
                missing.extend(of_trial(t));
                continue;
            }
        };
        let values = seed_values(t);
        let just_values: Vec<f64> = values.iter().map(|v| v.1).collect();
        let (Some(of), Some(estimate)) = (of_trial(t), Estimate::of(&just_values)) else {
            continue;
        };
        rows.push(ConfirmRow {
            of,
            searched: trials.iter().find(|s| s.number == of).and_then(|s| s.value),
            params: t.params.clone(),
            values,
            estimate,
        });
    }
    rows.sort_by(|a, b| {
        direction
            .loss(a.estimate.mean)
            .total_cmp(&direction.loss(b.estimate.mean))
    });
    let winner_vs_runner_up = match rows.as_slice() {
        [a, b, ..] => paired_over_seeds(&a.values, &b.values),
        _ => None,
    };
    ConfirmTable {
        round,
        metric: spec.metric.name.clone(),
        direction,
        rows,
        missing,
        winner_vs_runner_up,
    }
}

fn of_trial(t: &Trial) -> Option<u64> {
    match t.role {
        TrialRole::Confirm { of, .. } => Some(of),
        _ => None,
    }
}

impl fmt::Display for ConfirmTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seeds = self.rows.first().map_or(0, |r| r.values.len());
        writeln!(
            f,
            "confirm round {}: {} configurations re-run on the same {seeds} fresh seeds ({}, {})",
            self.round,
            self.rows.len(),
            self.metric,
            direction_word(self.direction)
        )?;
        writeln!(
            f,
            "{:>4}  {:>6}  {:>10}  {:<34}  params",
            "rank", "trial", "searched", "confirmed mean ± 95% interval"
        )?;
        for (i, r) in self.rows.iter().enumerate() {
            writeln!(
                f,
                "{:>4}  {:>6}  {:>10}  {:<34}  {}",
                i + 1,
                r.of,
                r.searched.map_or_else(|| "-".to_owned(), number),
                r.estimate.to_string(),
                serde_json::to_string(&r.params).unwrap_or_default()
            )?;
        }
        if !self.missing.is_empty() {
            writeln!(
                f,
                "no result yet for the re-run of trial(s) {:?} (failed or not run; run `confirm` again to finish the round)",
                self.missing
            )?;
        }
        match (&self.rows[..], self.winner_vs_runner_up) {
            ([a, b, ..], Some(test)) => writeln!(
                f,
                "winner trial {} vs runner-up trial {}: difference {} ± {} (paired t-test over {} shared seeds, p {}): {}",
                a.of,
                b.of,
                signed(test.mean_diff),
                number(test.half_width),
                test.n,
                p_value(test.p_value),
                if test.distinguishable() {
                    "distinguishable"
                } else {
                    "NOT distinguishable at 95%; more seeds may separate them"
                }
            ),
            ([_, _, ..], None) => writeln!(
                f,
                "winner and runner-up share fewer than two seeds: no paired test"
            ),
            _ => Ok(()),
        }
    }
}

pub(super) fn direction_word(d: Direction) -> &'static str {
    match d {
        Direction::Minimize => "minimize",
        Direction::Maximize => "maximize",
    }
}
