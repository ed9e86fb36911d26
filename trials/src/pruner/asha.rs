//! Asynchronous successive halving (Li et al., "A System for Massively
//! Parallel Hyperparameter Tuning", MLSys 2020; Optuna's
//! `SuccessiveHalvingPruner`).
//!
//! Rungs sit at `min_resource · eta^k` steps, below `max_resource` (a trial
//! that reaches `max_resource` completes; there is nothing left to decide).
//! A trial that reaches a rung continues only if its value there is in the
//! top `1/eta` of the values every trial recorded at that rung so far,
//! itself included (at least the single best continues). Nothing waits: a
//! trial is judged against whoever reached the rung before it, so a trial is
//! never paused for a promotion, and early arrivals are judged against fewer
//! peers, as in the paper.
//!
//! A trial's value at a rung is its value at its first report at or after
//! the rung's step, so trials that report every few steps still meet the
//! rungs. Cost per report: one pass over the history per rung crossed.

use hypersweep_search::sweep::MinResource;
use hypersweep_search::{History, Observation, TrialState};

use super::{Pruner, diverged_at, is_protected, list_steps};

/// Rungs are listed up to this many in `describe` when there is no
/// `max_resource`.
const DESCRIBED_RUNGS: usize = 5;

/// Asynchronous successive halving.
#[derive(Debug, Clone, Copy)]
pub struct AshaPruner {
    /// The first rung, or `Auto`: a hundredth of the longest completed
    /// trial's last step, at least 1 (no pruning before a trial completes).
    pub min_resource: MinResource,
    /// The step a trial completes at; rungs lie below it. `None`: rungs go
    /// on for as long as trials report.
    pub max_resource: Option<u64>,
    /// The reduction factor: `1/eta` of the trials at a rung continue.
    pub eta: f64,
    /// No pruning before this step.
    pub warmup_steps: u64,
}

impl AshaPruner {
    /// ASHA with rungs from `min_resource` steps, no `max_resource`, no
    /// warm-up.
    pub fn new(min_resource: u64, eta: f64) -> Self {
        AshaPruner {
            min_resource: MinResource::Steps(min_resource.max(1)),
            max_resource: None,
            eta,
            warmup_steps: 0,
        }
    }

    /// Sets `max_resource`.
    pub fn max_resource(mut self, steps: u64) -> Self {
        self.max_resource = Some(steps);
        self
    }

    /// The first rung for this history (`None`: `auto` and nothing has
    /// completed yet).
    fn first_rung(&self, history: &History) -> Option<u64> {
        match self.min_resource {
            MinResource::Steps(n) => Some(n.max(1)),
            MinResource::Auto => history
                .trials
                .iter()
                .filter(|t| t.state == TrialState::Complete)
                .filter_map(|t| t.intermediate.last().map(|&(s, _)| s))
                .max()
                .map(|longest| (longest / 100).max(1)),
        }
    }
}

/// The rung steps `min · eta^k` that are at most `up_to` and below `max`.
pub(crate) fn rung_steps(min: u64, eta: f64, max: Option<u64>, up_to: u64) -> Vec<u64> {
    let mut rungs: Vec<u64> = Vec::new();
    let mut exact = min.max(1) as f64;
    // Past 2^53 steps the rungs are no longer exact integers; nobody trains
    // that long.
    while exact <= 9.0e15 {
        // A hair above the product so that 3 · 3^3 lands on 81, not 80.
        let step = (exact * (1.0 + 1e-12)).floor() as u64;
        if step > up_to || max.is_some_and(|m| step >= m) {
            break;
        }
        if rungs.last() != Some(&step) {
            rungs.push(step);
        }
        exact *= eta;
    }
    rungs
}

/// The ASHA decision for `trial` at `step` with rungs from `min`; only the
/// trials `peer` accepts compete (Hyperband: those of the same bracket).
pub(crate) fn asha_prunes(
    trial: &Observation,
    step: u64,
    history: &History,
    min: u64,
    eta: f64,
    max: Option<u64>,
    peer: impl Fn(&Observation) -> bool,
) -> bool {
    let dir = history.direction;
    let Some(mine) = trial
        .intermediate
        .iter()
        .find(|&&(s, _)| s == step)
        .map(|&(_, v)| dir.loss(v))
    else {
        return false;
    };
    // Rungs crossed by this report: above the previous report, up to this one.
    let previous = trial
        .intermediate
        .iter()
        .filter(|&&(s, _)| s < step)
        .map(|&(s, _)| s)
        .next_back();
    let crossed = rung_steps(min, eta, max, step)
        .into_iter()
        .filter(|&r| previous.is_none_or(|p| r > p));
    for rung in crossed {
        let mut at_rung: Vec<f64> = history
            .trials
            .iter()
            .filter(|t| t.number != trial.number && peer(t))
            .filter_map(|t| value_at_rung(t, rung))
            .map(|v| dir.loss(v))
            .collect();
        at_rung.push(mine);
        at_rung.sort_by(f64::total_cmp);
        let promoted = ((at_rung.len() as f64 / eta).floor() as usize).max(1);
        if mine > at_rung[promoted - 1] {
            return true;
        }
    }
    false
}

/// `t`'s value at its first report at or after `rung`, when finite.
fn value_at_rung(t: &Observation, rung: u64) -> Option<f64> {
    t.intermediate
        .iter()
        .find(|&&(s, _)| s >= rung)
        .map(|&(_, v)| v)
        .filter(|v| v.is_finite())
}

impl Pruner for AshaPruner {
    fn name(&self) -> &str {
        "asha"
    }

    fn should_prune(&self, trial: &Observation, step: u64, history: &History) -> bool {
        if diverged_at(trial, step) {
            return true;
        }
        if is_protected(trial, step, history, self.warmup_steps) {
            return false;
        }
        let Some(min) = self.first_rung(history) else {
            return false;
        };
        asha_prunes(
            trial,
            step,
            history,
            min,
            self.eta,
            self.max_resource,
            |_| true,
        )
    }

    fn describe(&self) -> String {
        let rungs = match self.min_resource {
            MinResource::Auto => "from a hundredth of the longest completed trial".to_owned(),
            MinResource::Steps(min) => {
                let all = rung_steps(min, self.eta, self.max_resource, u64::MAX);
                let shown = &all[..all.len().min(DESCRIBED_RUNGS)];
                let more = if all.len() > shown.len() || self.max_resource.is_none() {
                    ", ..."
                } else {
                    ""
                };
                format!("rungs at steps {}{more}", list_steps(shown))
            }
        };
        let max = self
            .max_resource
            .map_or(String::new(), |m| format!(", complete at {m}"));
        format!(
            "asha (eta {}, {rungs}{max}, warm-up {} steps)",
            self.eta, self.warmup_steps
        )
    }
}
