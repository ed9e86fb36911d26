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

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use hypersweep_search::{Direction, History, Observation, TrialState, position_by_number};

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
    fn add(&mut self, state: TrialState, sign: i8) {
        let slot = match state {
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
    }
}

/// One study's trials as this process last read them.
///
/// It keeps no copy of the trial records themselves (the store has them):
/// the history holds what searchers and pruners read, and the best trial is
/// kept as it improves, so a trial costs the cache an observation, not a
/// record with its strings.
#[derive(Debug)]
pub struct StudyCache {
    direction: Direction,
    /// The highest trial number seen.
    last: Option<u64>,
    unfinished: BTreeSet<u64>,
    history: SharedHistory,
    budget: Budget,
    tally: Tally,
    /// The trials the history, budget and tally are about: the search's
    /// (`None`), or one confirmation or ablation round's.
    scope: Option<(&'static str, u32)>,
    /// Keep the records of the trials in scope ([`StudyCache::keeping_records`];
    /// always for a round, a few configurations times their repeats, which
    /// its plan reads).
    keep_records: bool,
    /// Those records, by number.
    records: Vec<Trial>,
    /// The best complete trial with a finite value (the lowest number among
    /// equals, as [`crate::scheduler::best_trial`] picks it).
    best: Option<Trial>,
}

impl StudyCache {
    /// An empty cache: the first catch-up reads the whole study.
    pub fn new(direction: Direction, budget: Budget) -> Self {
        StudyCache {
            direction,
            last: None,
            unfinished: BTreeSet::new(),
            history: Arc::new(Mutex::new(Arc::new(History::new(direction)))),
            budget,
            tally: Tally::default(),
            scope: None,
            keep_records: false,
            records: Vec::new(),
            best: None,
        }
    }

    /// This cache's history, budget and tally cover only the trials of the
    /// round `scope` (a role's [`round`](crate::TrialRole::round)), and
    /// `None` (the default) only search trials. Other trials are still read
    /// (trial numbers are shared), so a `confirm` round never feeds the
    /// searcher, and search trials never count against a round.
    pub fn scoped(mut self, scope: Option<(&'static str, u32)>) -> Self {
        self.scope = scope;
        self
    }

    /// What a catch-up must read: trials numbered above the first value (all
    /// when `None`), and the current versions of the unfinished ones listed.
    pub fn watermark(&self) -> (Option<u64>, Vec<u64>) {
        (self.last, self.unfinished.iter().copied().collect())
    }

    /// The number the next trial of the study gets (numbers have no gaps).
    pub fn next_number(&self) -> u64 {
        self.last.map_or(0, |n| n + 1)
    }

    /// Takes trials read from the store (new ones, or new versions).
    pub fn apply<T: Borrow<Trial>>(&mut self, trials: impl IntoIterator<Item = T>) {
        let shared = Arc::clone(&self.history);
        let mut history = shared.lock().unwrap_or_else(PoisonError::into_inner);
        let history = Arc::make_mut(&mut history);
        for trial in trials {
            let trial = trial.borrow();
            // Every trial is watched (numbers are shared by the search and
            // the rounds); only those in scope are counted and learnt from.
            if trial.state == TrialState::Running {
                self.unfinished.insert(trial.number);
            } else {
                self.unfinished.remove(&trial.number);
            }
            self.last = self.last.max(Some(trial.number));
            if trial.role.round() != self.scope {
                continue;
            }
            self.budget.apply(trial);
            self.tally.add(trial.state, 1);
            let mut observation = trial.observation();
            if trial.state == TrialState::Running {
                keep_reported_steps(history, &mut observation);
            }
            if let Some(old) = history.insert_or_replace(observation) {
                self.tally.add(old.state, -1);
            }
            if self.keep_records || self.scope.is_some() {
                match self.records.last() {
                    Some(last) if last.number >= trial.number => {
                        match self
                            .records
                            .binary_search_by_key(&trial.number, |t| t.number)
                        {
                            Ok(i) => self.records[i] = trial.clone(),
                            Err(i) => self.records.insert(i, trial.clone()),
                        }
                    }
                    _ => self.records.push(trial.clone()),
                }
            }
            self.offer_best(trial);
        }
    }

    /// The records of the trials in scope, by number: kept by a round's
    /// cache and one made [`keeping_records`](Self::keeping_records), empty
    /// otherwise (a sweep's cache keeps observations only).
    pub fn trials(&self) -> &[Trial] {
        &self.records
    }

    /// A cache that also keeps the records of its trials (for a reader that
    /// needs more than observations: define-by-run's param domains).
    pub fn keeping_records(mut self) -> Self {
        self.keep_records = true;
        self
    }

    /// Keeps `trial` as the best if it is (finished trials never change, so
    /// the best only improves).
    fn offer_best(&mut self, trial: &Trial) {
        if trial.state != TrialState::Complete {
            return;
        }
        let Some(v) = trial.value.filter(|v| v.is_finite()) else {
            return;
        };
        let better = match self
            .best
            .as_ref()
            .and_then(|b| b.value.map(|bv| (b.number, bv)))
        {
            None => true,
            Some((number, b)) => {
                self.direction.is_better(v, b)
                    || (self.direction.loss(v) == self.direction.loss(b) && trial.number < number)
            }
        };
        if better {
            self.tally.best = Some(v);
            self.best = Some(trial.clone());
        }
    }

    /// The best complete trial with a finite value.
    pub fn best(&self) -> Option<&Trial> {
        self.best.as_ref()
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

/// A running trial read from the store keeps the intermediate values the
/// history already has at steps the record lacks. A reporter writes each
/// value to the store and then adds it here, while a catch-up reads the store
/// and then applies what it read; a catch-up whose read came before a write
/// and whose apply came after the add would otherwise take that value away,
/// and the pruner (and a pruned trial's value, its last one) would see the
/// curve without it until the next catch-up. A running trial's curve only
/// grows (a retry is a new trial), so a step the record lacks was not taken
/// back; at a step both have, the record's value is the newer one.
fn keep_reported_steps(history: &History, observation: &mut Observation) {
    let Ok(i) = position_by_number(&history.trials, observation.number, |t| t.number) else {
        return;
    };
    let cached = &history.trials[i];
    if cached.state != TrialState::Running || cached.intermediate.is_empty() {
        return;
    }
    let curve = &mut observation.intermediate;
    for &(step, value) in &cached.intermediate {
        if let Err(j) = curve.binary_search_by_key(&step, |&(s, _)| s) {
            curve.insert(j, (step, value));
        }
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
            distributions: Default::default(),
            user_attrs: Default::default(),
            seeds: Vec::new(),
            repeats: None,
            role: Default::default(),
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

    #[test]
    fn a_stale_read_of_a_running_trial_keeps_the_steps_its_reporter_added() {
        let mut cache = StudyCache::new(Direction::Minimize, Budget::new(None, 0));
        let running = |curve: &[(u64, f64)]| Trial {
            intermediate: curve.to_vec(),
            ..trial(0, TrialState::Running, None)
        };
        cache.apply([running(&[(1, 3.0)])]);
        // The reporter adds step 2 (after writing it to the store)...
        {
            let shared = cache.shared_history();
            let mut h = shared.lock().unwrap();
            Arc::make_mut(&mut h).trials[0].intermediate.push((2, 2.0));
        }
        // ...and a catch-up that read the store before that write applies.
        cache.apply([running(&[(1, 3.0)])]);
        assert_eq!(
            cache.history().trials[0].intermediate,
            vec![(1, 3.0), (2, 2.0)]
        );
        // A newer read wins where both have a step, and adds its own steps.
        cache.apply([running(&[(1, 2.5), (2, 2.0), (3, 1.0)])]);
        assert_eq!(
            cache.history().trials[0].intermediate,
            vec![(1, 2.5), (2, 2.0), (3, 1.0)]
        );
        // A finished record is taken as it is.
        let pruned = Trial {
            intermediate: vec![(1, 2.5), (2, 2.0)],
            ..trial(0, TrialState::Pruned, Some(2.0))
        };
        cache.apply([pruned]);
        assert_eq!(
            cache.history().trials[0].intermediate,
            vec![(1, 2.5), (2, 2.0)]
        );
        assert_eq!(cache.history().trials[0].state, TrialState::Pruned);
    }

    #[test]
    fn the_best_trial_is_the_lowest_numbered_of_equals_whatever_the_order() {
        let mut cache = StudyCache::new(Direction::Maximize, Budget::new(None, 0));
        cache.apply([
            trial(0, TrialState::Running, None),
            trial(1, TrialState::Running, None),
            trial(2, TrialState::Complete, Some(1.0)),
            trial(3, TrialState::Complete, Some(f64::INFINITY)),
            trial(4, TrialState::Failed, None),
        ]);
        assert_eq!(cache.best().map(|t| t.number), Some(2));
        cache.apply([trial(1, TrialState::Complete, Some(1.0))]);
        assert_eq!(cache.best().map(|t| t.number), Some(1), "equal, earlier");
        cache.apply([trial(0, TrialState::Pruned, Some(5.0))]);
        assert_eq!(
            cache.best().map(|t| t.number),
            Some(1),
            "pruned is not best"
        );
        let all = [0, 1, 2, 3, 4].map(|n| {
            let (state, value) = match n {
                0 => (TrialState::Pruned, Some(5.0)),
                1 | 2 => (TrialState::Complete, Some(1.0)),
                3 => (TrialState::Complete, Some(f64::INFINITY)),
                _ => (TrialState::Failed, None),
            };
            trial(n, state, value)
        });
        assert_eq!(
            crate::scheduler::best_trial(&all, Direction::Maximize).map(|t| t.number),
            cache.best().map(|t| t.number)
        );
        assert_eq!(cache.tally().best, Some(1.0));
    }
}
