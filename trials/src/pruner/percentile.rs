//! The median and percentile stopping rules (Golovin et al., "Google
//! Vizier", KDD 2017; Optuna's `MedianPruner` and `PercentilePruner`): stop a
//! trial whose best intermediate value so far is worse than the given
//! percentile of the values other finished trials reported at the same step.
//!
//! A non-finite report prunes at once. Cost per report: one pass over the
//! history.

use hypersweep_search::{History, Observation, TrialState};

use super::{Pruner, best_loss_up_to, diverged_at, is_protected, loss_at};

/// The median stopping rule: the percentile rule at 50.
#[derive(Debug, Clone, Copy)]
pub struct MedianPruner {
    /// No pruning until this many trials have completed.
    pub n_startup_trials: usize,
    /// No pruning before this step.
    pub n_warmup_steps: u64,
    /// Fewest peers with a value at the step before the median is trusted.
    pub min_peers: usize,
}

impl Default for MedianPruner {
    fn default() -> Self {
        MedianPruner {
            n_startup_trials: 5,
            n_warmup_steps: 0,
            min_peers: 1,
        }
    }
}

impl MedianPruner {
    /// A median pruner with the default startup (5 trials) and no warm-up.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the warm-up: no pruning before `steps`.
    pub fn warmup_steps(mut self, steps: u64) -> Self {
        self.n_warmup_steps = steps;
        self
    }

    /// Sets how many trials must complete before any pruning.
    pub fn startup_trials(mut self, n: usize) -> Self {
        self.n_startup_trials = n;
        self
    }
}

impl Pruner for MedianPruner {
    fn name(&self) -> &str {
        "median"
    }

    fn should_prune(&self, trial: &Observation, step: u64, history: &History) -> bool {
        let rule = PercentilePruner {
            percentile: 50.0,
            n_startup_trials: self.n_startup_trials,
            n_warmup_steps: self.n_warmup_steps,
            min_peers: self.min_peers,
        };
        rule.should_prune(trial, step, history)
    }

    fn describe(&self) -> String {
        format!(
            "median (after {} complete trials, from step {})",
            self.n_startup_trials, self.n_warmup_steps
        )
    }
}

/// The percentile rule: a trial continues while its best value so far is
/// within the best `percentile` % of its peers' values at the step.
#[derive(Debug, Clone, Copy)]
pub struct PercentilePruner {
    /// In (0, 100): 25 keeps only trials in the best quarter.
    pub percentile: f64,
    /// No pruning until this many trials have completed.
    pub n_startup_trials: usize,
    /// No pruning before this step.
    pub n_warmup_steps: u64,
    /// Fewest peers with a value at the step before the percentile is
    /// trusted.
    pub min_peers: usize,
}

impl PercentilePruner {
    /// A percentile pruner with the default startup (5 trials), no warm-up.
    pub fn new(percentile: f64) -> Self {
        PercentilePruner {
            percentile,
            n_startup_trials: 5,
            n_warmup_steps: 0,
            min_peers: 1,
        }
    }

    /// Sets the warm-up: no pruning before `steps`.
    pub fn warmup_steps(mut self, steps: u64) -> Self {
        self.n_warmup_steps = steps;
        self
    }

    /// Sets how many trials must complete before any pruning.
    pub fn startup_trials(mut self, n: usize) -> Self {
        self.n_startup_trials = n;
        self
    }
}

/// The `p`-th percentile (0-100) of a non-empty slice, interpolated linearly
/// between order statistics as numpy's default does (so `p = 50` is the
/// median, the mean of the middle two for an even count). Sorts in place.
pub(crate) fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let pos = (p / 100.0).clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
}

impl Pruner for PercentilePruner {
    fn name(&self) -> &str {
        "percentile"
    }

    fn should_prune(&self, trial: &Observation, step: u64, history: &History) -> bool {
        if diverged_at(trial, step) {
            return true;
        }
        if is_protected(trial, step, history, self.n_warmup_steps) {
            return false;
        }
        let completed = history
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .count();
        if completed < self.n_startup_trials {
            return false;
        }
        let dir = history.direction;
        let Some(mine) = best_loss_up_to(trial, step, dir) else {
            return false;
        };
        let mut peers: Vec<f64> = history
            .trials
            .iter()
            .filter(|t| t.number != trial.number)
            .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
            .filter_map(|t| loss_at(t, step, dir))
            .collect();
        if peers.len() < self.min_peers.max(1) {
            return false;
        }
        mine > percentile(&mut peers, self.percentile)
    }

    fn describe(&self) -> String {
        format!(
            "percentile {} (after {} complete trials, from step {})",
            self.percentile, self.n_startup_trials, self.n_warmup_steps
        )
    }
}
