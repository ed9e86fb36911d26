//! A process's view of one study, caught up with the store incrementally.
//!
//! The store is the truth; a process that runs trials (the `run` that made
//! the study, any `worker`, an embedding `Study`) keeps only this cache.
//! Finished trials never change, so a catch-up reads only the trials numbered
//! above the last one seen plus those still held as unfinished
//! ([`StudyCache::watermark`]): its cost follows what changed, not the
//! history's length. The cache keeps, updated trial by trial, the three things
//! a process derives from the trials: the searcher's [`History`] (shared with
//! the reporters of running trials, which add intermediate values as they
//! arrive), the [`Budget`], and the counts shown as progress.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use hypersweep_search::{Direction, History, TrialState, position_by_number};

use crate::budget::Budget;
use crate::trial::Trial;

/// The study's history, shared between the cache, the reporters and the
/// searcher. Copy-on-write: a suggestion works on a snapshot (`Arc` clone)
/// while reports go on, and the history is only copied when both happen at
/// once.
pub type SharedHistory = Arc<Mutex<Arc<History>>>;

/// Counts of a study's trials by state, and its best value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Running trials (every process).
    pub running: u64,
    /// Complete trials.
    pub complete: u64,
    /// Pruned trials.
    pub pruned: u64,
    /// Failed trials.
    pub failed: u64,
    /// Best finite value of a complete trial.
    pub best: Option<f64>,
}

impl Tally {
    fn add(&mut self, t: &Trial, direction: Direction, sign: i8) {
        let slot = match t.state {
            TrialState::Running => &mut self.running,
            TrialState::Complete => &mut self.complete,
            TrialState::Pruned => &mut self.pruned,
            TrialState::Failed => &mut self.failed,
        };
        if sign > 0 {
            *slot += 1;
        } else {
            *slot = slot.saturating_sub(1);
        }
        // Finished trials never change, so a complete value is only ever
        // added, and the best only improves.
        if sign > 0
            && t.state == TrialState::Complete
            && let Some(v) = t.value.filter(|v| v.is_finite())
            && self.best.is_none_or(|b| direction.is_better(v, b))
        {
            self.best = Some(v);
        }
    }
}

/// One study's trials as this process last read them.
#[derive(Debug)]
pub struct StudyCache {
    direction: Direction,
    /// By number, ascending.
    trials: Vec<Trial>,
    unfinished: BTreeSet<u64>,
    history: SharedHistory,
    budget: Budget,
    tally: Tally,
}

impl StudyCache {
    /// An empty cache: the first catch-up reads the whole study.
    pub fn new(direction: Direction, budget: Budget) -> Self {
        StudyCache {
            direction,
            trials: Vec::new(),
            unfinished: BTreeSet::new(),
            history: Arc::new(Mutex::new(Arc::new(History::new(direction)))),
            budget,
            tally: Tally::default(),
        }
    }

    /// What a catch-up must read: trials numbered above the first value (all
    /// when `None`), and the current versions of the unfinished ones listed.
    pub fn watermark(&self) -> (Option<u64>, Vec<u64>) {
        (
            self.trials.last().map(|t| t.number),
            self.unfinished.iter().copied().collect(),
        )
    }

    /// The number the next trial of the study gets (numbers have no gaps).
    pub fn next_number(&self) -> u64 {
        self.trials.last().map_or(0, |t| t.number + 1)
    }

    /// Takes trials read from the store (new ones, or new versions).
    pub fn apply(&mut self, trials: impl IntoIterator<Item = Trial>) {
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        let history = Arc::make_mut(&mut history);
        for trial in trials {
            self.budget.apply(&trial);
            self.tally.add(&trial, self.direction, 1);
            if trial.state == TrialState::Running {
                self.unfinished.insert(trial.number);
            } else {
                self.unfinished.remove(&trial.number);
            }
            history.upsert(trial.observation());
            match position_by_number(&self.trials, trial.number, |t| t.number) {
                Ok(i) => {
                    let old = std::mem::replace(&mut self.trials[i], trial);
                    self.tally.add(&old, self.direction, -1);
                }
                Err(i) => self.trials.insert(i, trial),
            }
        }
    }

    /// Every trial, by number.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// One trial, if this process has seen it.
    pub fn trial(&self, number: u64) -> Option<&Trial> {
        position_by_number(&self.trials, number, |t| t.number)
            .ok()
            .map(|i| &self.trials[i])
    }

    /// The budget as of the last catch-up.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Changes the budget's limit.
    pub fn set_budget_total(&mut self, total: Option<u64>) {
        self.budget.set_total(total);
    }

    /// Counts by state and the best value.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// A snapshot of the history, for a suggestion.
    pub fn history(&self) -> Arc<History> {
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The history shared with reporters, which add intermediate values.
    pub fn shared_history(&self) -> SharedHistory {
        Arc::clone(&self.history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypersweep_search::Params;

    fn trial(number: u64, state: TrialState, value: Option<f64>) -> Trial {
        Trial {
            study: "s".into(),
            number,
            params: Params::new(),
            state,
            value,
            intermediate: Vec::new(),
            started_ms: 0,
            finished_ms: None,
            heartbeat_ms: 0,
            attempt: 0,
            retry_of: None,
            device: None,
            error: None,
            log_path: None,
            worker: None,
            asked: false,
        }
    }

    #[test]
    fn catch_up_reads_only_new_and_unfinished_trials() {
        let mut cache = StudyCache::new(Direction::Minimize, Budget::new(Some(4), 0));
        assert_eq!(cache.watermark(), (None, vec![]));
        cache.apply([
            trial(0, TrialState::Complete, Some(2.0)),
            trial(1, TrialState::Running, None),
            trial(2, TrialState::Running, None),
        ]);
        assert_eq!(cache.watermark(), (Some(2), vec![1, 2]));
        assert_eq!(cache.next_number(), 3);
        assert_eq!((cache.budget().counted(), cache.budget().running()), (1, 2));
        cache.apply([trial(1, TrialState::Complete, Some(1.0))]);
        assert_eq!(cache.watermark(), (Some(2), vec![2]));
        assert_eq!((cache.budget().counted(), cache.budget().running()), (2, 1));
        let tally = cache.tally();
        assert_eq!(
            (tally.complete, tally.running, tally.best),
            (2, 1, Some(1.0))
        );
        let history = cache.history();
        assert_eq!(history.trials.len(), 3);
        assert_eq!(history.trials[1].state, TrialState::Complete);
    }
}
