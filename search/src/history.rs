//! What a searcher sees of a study: every trial so far, finished or running.

use serde::{Deserialize, Serialize};

use crate::params::Params;

/// Whether smaller or larger objective values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Smaller is better (W&B's `minimize`).
    #[default]
    Minimize,
    /// Larger is better (W&B's `maximize`).
    Maximize,
}

impl Direction {
    /// The value as a loss (smaller is better), so searchers only ever
    /// minimise.
    pub fn loss(self, value: f64) -> f64 {
        match self {
            Direction::Minimize => value,
            Direction::Maximize => -value,
        }
    }

    /// True when `a` is strictly better than `b`.
    pub fn is_better(self, a: f64, b: f64) -> bool {
        self.loss(a) < self.loss(b)
    }
}

/// Life cycle of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialState {
    /// Proposed and not finished yet (a pending point for searchers).
    Running,
    /// Finished with a value.
    Complete,
    /// Stopped early by a pruner; its intermediate values remain.
    Pruned,
    /// Crashed, timed out, returned NaN, or was interrupted.
    Failed,
}

impl TrialState {
    /// True for every state but `Running`.
    pub fn is_finished(self) -> bool {
        self != TrialState::Running
    }
}

/// One trial as a searcher sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Trial number in the study (0-based, unique).
    pub number: u64,
    /// The configuration it ran.
    pub params: Params,
    /// Its state.
    pub state: TrialState,
    /// Final value (Complete trials); may be non-finite, which searchers treat
    /// as a failure.
    pub value: Option<f64>,
    /// Intermediate values reported, by step, ascending.
    #[serde(default)]
    pub intermediate: Vec<(u64, f64)>,
    /// Wall time from start to finish, in ms, when the store recorded both;
    /// `method: auto` weighs the GP's cost against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl Observation {
    /// The final value as a loss, when the trial completed with a finite
    /// value.
    pub fn loss(&self, direction: Direction) -> Option<f64> {
        match (self.state, self.value) {
            (TrialState::Complete, Some(v)) if v.is_finite() => Some(direction.loss(v)),
            _ => None,
        }
    }

    /// The last finite intermediate value and its step.
    pub fn last_intermediate(&self) -> Option<(u64, f64)> {
        self.intermediate
            .iter()
            .rev()
            .find(|(_, v)| v.is_finite())
            .copied()
    }
}

/// The trials of a study, in order of number, plus the optimisation
/// direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Optimisation direction of the study's objective.
    pub direction: Direction,
    /// All trials, in order of their number.
    pub trials: Vec<Observation>,
}

impl History {
    /// An empty history.
    pub fn new(direction: Direction) -> Self {
        History {
            direction,
            trials: Vec::new(),
        }
    }

    /// Trials that completed with a finite value, with that value as a loss.
    pub fn completed(&self) -> impl Iterator<Item = (&Observation, f64)> {
        self.trials
            .iter()
            .filter_map(|t| t.loss(self.direction).map(|l| (t, l)))
    }

    /// How many trials a model can learn from: completed with a finite value,
    /// or pruned with a finite intermediate value. Model-based searchers stay
    /// on their startup design until this reaches their `n_startup_trials`.
    pub fn n_with_value(&self) -> usize {
        self.trials
            .iter()
            .filter(|t| match t.state {
                TrialState::Complete => t.loss(self.direction).is_some(),
                TrialState::Pruned => t.last_intermediate().is_some(),
                TrialState::Running | TrialState::Failed => false,
            })
            .count()
    }

    /// Trials still running (pending points).
    pub fn running(&self) -> impl Iterator<Item = &Observation> {
        self.trials
            .iter()
            .filter(|t| t.state == TrialState::Running)
    }

    /// The best completed trial.
    pub fn best(&self) -> Option<&Observation> {
        self.completed()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(t, _)| t)
    }

    /// Inserts or replaces the observation with the same number, keeping the
    /// order by number.
    pub fn upsert(&mut self, obs: Observation) {
        self.insert_or_replace(obs);
    }

    /// [`History::upsert`], returning the observation replaced.
    pub fn insert_or_replace(&mut self, obs: Observation) -> Option<Observation> {
        match position_by_number(&self.trials, obs.number, |t| t.number) {
            Ok(i) => Some(std::mem::replace(&mut self.trials[i], obs)),
            Err(i) => {
                self.trials.insert(i, obs);
                None
            }
        }
    }
}

/// Where `number` is (Ok) or belongs (Err) in `items`, sorted by number.
/// A study's numbers have no gaps, so a history that holds every trial has
/// trial n at index n, and a new trial belongs at the end: both are checked
/// before the binary search (which, over a long history, misses the cache
/// at every step).
pub fn position_by_number<T>(
    items: &[T],
    number: u64,
    key: impl Fn(&T) -> u64,
) -> Result<usize, usize> {
    if let Ok(i) = usize::try_from(number)
        && items.get(i).is_some_and(|t| key(t) == number)
    {
        return Ok(i);
    }
    if items.last().is_none_or(|t| key(t) < number) {
        return Err(items.len());
    }
    items.binary_search_by_key(&number, key)
}
