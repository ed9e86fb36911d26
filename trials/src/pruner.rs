//! Pruners: decide, at each intermediate report, whether a trial should stop.
//!
//! A pruner is stateless over the history, like a searcher: everything it
//! knows comes from the [`History`] it is handed (the finished trials with
//! their intermediate values, the running ones). A resumed sweep or a second
//! worker therefore prunes exactly as the first process would have.
//!
//! The `early_terminate` block of a sweep file picks the pruner through
//! [`pruner_from_spec`]. For now every kind maps to the median stopping rule
//! ([`MedianPruner`]); W&B's `hyperband` and `asha` get their own brackets in
//! a later issue, and until then they use `min_iter` as the warm-up.

use hypersweep_search::sweep::{EarlyTerminate, PrunerKind};
use hypersweep_search::{Direction, History, Observation, TrialState};

/// Decides whether a running trial should stop at a reported step.
pub trait Pruner: Send + Sync {
    /// Short name, as in `early_terminate.type`.
    fn name(&self) -> &str;

    /// True when `trial`, having just reported at `step` (its report is
    /// already in `trial.intermediate`), should stop. `history` holds every
    /// trial of the study, `trial` included.
    fn should_prune(&self, trial: &Observation, step: u64, history: &History) -> bool;
}

/// Never prunes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPruner;

impl Pruner for NoPruner {
    fn name(&self) -> &str {
        "none"
    }

    fn should_prune(&self, _: &Observation, _: u64, _: &History) -> bool {
        false
    }
}

/// The median stopping rule (Golovin et al., "Google Vizier", KDD 2017):
/// stop a trial whose best intermediate value so far is worse than the median
/// of the values other finished trials reported at the same step.
///
/// A non-finite report prunes at once (there is nothing to learn from
/// continuing a diverged run). Cost per report: one pass over the history.
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

/// The best (as a loss) finite intermediate value of `trial` at steps up to
/// `step`.
fn best_loss_up_to(trial: &Observation, step: u64, direction: Direction) -> Option<f64> {
    trial
        .intermediate
        .iter()
        .filter(|(s, v)| *s <= step && v.is_finite())
        .map(|&(_, v)| direction.loss(v))
        .min_by(f64::total_cmp)
}

/// The value `trial` reported exactly at `step`, as a loss.
fn loss_at(trial: &Observation, step: u64, direction: Direction) -> Option<f64> {
    trial
        .intermediate
        .binary_search_by_key(&step, |&(s, _)| s)
        .ok()
        .map(|i| trial.intermediate[i].1)
        .filter(|v| v.is_finite())
        .map(|v| direction.loss(v))
}

/// Median of a non-empty slice (sorted in place).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

impl Pruner for MedianPruner {
    fn name(&self) -> &str {
        "median"
    }

    fn should_prune(&self, trial: &Observation, step: u64, history: &History) -> bool {
        if let Some(&(_, v)) = trial.intermediate.iter().find(|(s, _)| *s == step)
            && !v.is_finite()
        {
            return true;
        }
        if step < self.n_warmup_steps {
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
        mine > median(&mut peers)
    }
}

/// The pruner a sweep file's `early_terminate` asks for. `hyperband` and
/// `asha` map to the median rule with `min_iter` as the warm-up until their
/// bracket logic lands.
pub fn pruner_from_spec(early: Option<&EarlyTerminate>) -> Box<dyn Pruner> {
    match early {
        None => Box::new(NoPruner),
        Some(e) => match e.kind {
            PrunerKind::None => Box::new(NoPruner),
            PrunerKind::Median | PrunerKind::Hyperband | PrunerKind::Asha => {
                Box::new(MedianPruner::new().warmup_steps(e.min_iter.unwrap_or(0)))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypersweep_search::Params;

    fn obs(number: u64, state: TrialState, curve: &[f64]) -> Observation {
        Observation {
            number,
            params: Params::new(),
            state,
            value: curve.last().copied(),
            intermediate: curve
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as u64, v))
                .collect(),
        }
    }

    fn history(direction: Direction, finished: &[&[f64]]) -> History {
        let mut h = History::new(direction);
        for (i, c) in finished.iter().enumerate() {
            h.upsert(obs(i as u64, TrialState::Complete, c));
        }
        h
    }

    #[test]
    fn median_prunes_a_trial_worse_than_the_median_of_its_peers() {
        // Peers at step 1: 0.5, 0.6, 0.7 -> median 0.6.
        let mut h = history(
            Direction::Minimize,
            &[&[1.0, 0.5], &[1.0, 0.6], &[1.0, 0.7]],
        );
        let bad = obs(10, TrialState::Running, &[1.0, 0.65]);
        let good = obs(11, TrialState::Running, &[1.0, 0.55]);
        h.upsert(bad.clone());
        h.upsert(good.clone());
        let p = MedianPruner::new().startup_trials(3);
        assert!(p.should_prune(&bad, 1, &h));
        assert!(!p.should_prune(&good, 1, &h));
    }

    #[test]
    fn median_respects_direction() {
        let h = history(
            Direction::Maximize,
            &[&[0.0, 0.5], &[0.0, 0.6], &[0.0, 0.7]],
        );
        let p = MedianPruner::new().startup_trials(3);
        assert!(p.should_prune(&obs(9, TrialState::Running, &[0.0, 0.55]), 1, &h));
        assert!(!p.should_prune(&obs(9, TrialState::Running, &[0.0, 0.65]), 1, &h));
    }

    #[test]
    fn median_waits_for_startup_and_warmup() {
        let h = history(Direction::Minimize, &[&[1.0, 0.5], &[1.0, 0.6]]);
        let bad = obs(9, TrialState::Running, &[9.0, 9.0]);
        assert!(!MedianPruner::new().should_prune(&bad, 1, &h), "startup");
        let p = MedianPruner::new().startup_trials(2).warmup_steps(2);
        assert!(!p.should_prune(&bad, 1, &h), "warm-up");
        assert!(
            MedianPruner::new()
                .startup_trials(2)
                .should_prune(&bad, 1, &h)
        );
    }

    #[test]
    fn median_uses_the_best_value_so_far() {
        // A trial that was good at step 0 and got worse at step 1 is judged
        // on its best value (0.1), which beats the median 0.6.
        let h = history(
            Direction::Minimize,
            &[&[1.0, 0.5], &[1.0, 0.6], &[1.0, 0.7]],
        );
        let t = obs(9, TrialState::Running, &[0.1, 0.9]);
        assert!(
            !MedianPruner::new()
                .startup_trials(3)
                .should_prune(&t, 1, &h)
        );
    }

    #[test]
    fn non_finite_report_is_pruned_at_once() {
        let h = History::new(Direction::Minimize);
        let t = obs(0, TrialState::Running, &[f64::NAN]);
        assert!(MedianPruner::new().should_prune(&t, 0, &h));
        assert!(!NoPruner.should_prune(&t, 0, &h));
    }
}
