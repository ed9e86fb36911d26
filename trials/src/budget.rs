//! Which trials count toward the budget, and which failed trials are re-run.
//!
//! The rules, derived entirely from the stored trials so that a resumed sweep
//! counts exactly as the first run would have:
//! - Complete and Pruned trials count.
//! - A trial that failed on its own (non-zero exit, timeout, non-finite
//!   value, error) counts once it will not be retried: its `attempt` has
//!   reached `retry_failed`. Until then it is a pending retry, and the retry
//!   (same params, `attempt + 1`, `retry_of` set) takes its place.
//! - An *interrupted* trial (error starting with [`INTERRUPTED`]: reaped
//!   after its process died, cancelled by a second Ctrl-C or by the sweep's
//!   timeout) never counts: it is not the configuration's fault. It is re-run
//!   like any failure when `retry_failed` allows, and the re-run uses up one
//!   attempt like any retry, so a configuration that keeps killing the
//!   process cannot loop forever.

use std::collections::{BTreeMap, HashSet};

use hypersweep_search::{Params, TrialState};

use crate::trial::{Repeats, Trial, TrialRole};

/// Prefix of the error of every trial stopped from outside (dead process,
/// Ctrl-C, sweep timeout); such trials never count toward the budget.
pub const INTERRUPTED: &str = "interrupted";

/// The reason given to trials left Running by a process that stopped.
pub const REAPED_REASON: &str = "interrupted: the process running it stopped";

/// True when `trial` failed because it was stopped from outside.
pub fn is_interrupted(trial: &Trial) -> bool {
    trial.state == TrialState::Failed
        && trial
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with(INTERRUPTED))
}

/// A failed trial's params, to be run again.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// The failed trial.
    pub of: u64,
    /// Attempt number of the re-run.
    pub attempt: u32,
    /// Its params.
    pub params: Params,
    /// Its seeds: a re-run evaluates the same seeds.
    pub seeds: Vec<u64>,
    /// Why it ran (a re-run keeps its confirmation or ablation role).
    pub role: TrialRole,
    /// The evaluations it finished before it failed: the re-run starts
    /// with them and runs only the other seeds.
    pub repeats: Option<Repeats>,
}

/// What one trial does to the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accounted {
    /// It counts.
    Counted,
    /// It runs, and holds a place in the budget until it ends.
    Running,
    /// It failed and will be re-run; it does not count.
    Retrying,
    /// Interrupted and not retried, or replaced by its retry; it does not
    /// count.
    Ignored,
}

/// The budget of a study: how many trials count, how many run, and which
/// failures wait for a re-run.
///
/// It is kept incrementally: [`Budget::apply`] takes each new version of a
/// trial (a process's catch-up with the store), so the cost of a claim does
/// not grow with the history. Every process that holds the same trials holds
/// the same budget, which is what lets the store's claim lock turn it into
/// "never more than the budget" across processes.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    total: Option<u64>,
    retry_failed: u32,
    counted: u64,
    running: u64,
    /// Running trials created by `ask` (among `running`).
    asked_running: u64,
    /// Each trial's current contribution (and whether it was asked), by
    /// number.
    contribution: Contributions,
    /// Failed trials waiting for their re-run, with its attempt and params.
    retries: BTreeMap<u64, Retry>,
    /// Trials that have been re-run (some trial's `retry_of`).
    retried: HashSet<u64>,
}

/// Values by trial number. A study's numbers come from 0 without gaps, so
/// they index a vector (a claim's update costs an index, not a tree insert
/// with its allocation); a number that would leave a gap, which only a
/// damaged store could hand over, goes to a map instead of growing the
/// vector to it.
#[derive(Debug, Clone, Default)]
struct Contributions {
    dense: Vec<Option<(Accounted, bool)>>,
    sparse: BTreeMap<u64, (Accounted, bool)>,
}

impl Contributions {
    /// Sets `number`'s value; returns the one it replaces.
    fn insert(&mut self, number: u64, value: (Accounted, bool)) -> Option<(Accounted, bool)> {
        match usize::try_from(number) {
            Ok(i) if i < self.dense.len() => self.dense[i].replace(value),
            Ok(i) if i == self.dense.len() => {
                self.dense.push(Some(value));
                self.sparse.remove(&number)
            }
            _ => self.sparse.insert(number, value),
        }
    }
}

impl Budget {
    /// An empty budget of `total` counted trials (`None`: no limit), where a
    /// failed trial is re-run up to `retry_failed` times.
    pub fn new(total: Option<u64>, retry_failed: u32) -> Self {
        Budget {
            total,
            retry_failed,
            ..Budget::default()
        }
    }

    /// The search budget of a study whose trials so far are `trials`
    /// (confirmation and ablation trials are not part of it).
    pub fn from_trials(trials: &[Trial], total: Option<u64>, retry_failed: u32) -> Self {
        let mut budget = Budget::new(total, retry_failed);
        for t in trials.iter().filter(|t| t.role.is_search()) {
            budget.apply(t);
        }
        budget
    }

    /// Trials that count so far.
    pub fn counted(&self) -> u64 {
        self.counted
    }

    /// Trials running now (in every process), each holding a place.
    pub fn running(&self) -> u64 {
        self.running
    }

    /// Running trials created by `ask`: evaluated outside hypersweep, they
    /// hold their place until their `tell` (or the ask timeout).
    pub fn asked_running(&self) -> u64 {
        self.asked_running
    }

    /// The budget, if any.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Changes the limit (a later `run` may ask for more trials).
    pub fn set_total(&mut self, total: Option<u64>) {
        self.total = total;
    }

    /// True when one more trial may start: the counted ones plus the running
    /// ones stay under the budget.
    pub fn may_start(&self) -> bool {
        self.total.is_none_or(|t| self.counted + self.running < t)
    }

    /// True once the budget is spent.
    pub fn is_spent(&self) -> bool {
        self.total.is_some_and(|t| self.counted >= t)
    }

    /// The oldest failed trial waiting for its re-run, if any. It stays
    /// pending until a trial with its `retry_of` is applied.
    pub fn next_retry(&self) -> Option<&Retry> {
        self.retries.values().next()
    }

    /// What `trial` does to the budget under this budget's retry rule.
    pub fn classify(&self, trial: &Trial) -> Accounted {
        if self.retried.contains(&trial.number) {
            return Accounted::Ignored;
        }
        match trial.state {
            TrialState::Running => Accounted::Running,
            TrialState::Complete | TrialState::Pruned => Accounted::Counted,
            TrialState::Failed if trial.attempt < self.retry_failed => Accounted::Retrying,
            TrialState::Failed if is_interrupted(trial) => Accounted::Ignored,
            TrialState::Failed => Accounted::Counted,
        }
    }

    /// Takes the current version of a trial (new, or changed since it was
    /// last applied) and returns what it now does to the budget.
    pub fn apply(&mut self, trial: &Trial) -> Accounted {
        if let Some(of) = trial.retry_of
            && self.retried.insert(of)
        {
            self.set(of, Accounted::Ignored, false, None);
        }
        let now = self.classify(trial);
        let retry = (now == Accounted::Retrying).then(|| Retry {
            of: trial.number,
            attempt: trial.attempt + 1,
            params: trial.params.clone(),
            seeds: trial.seeds.clone(),
            role: trial.role.clone(),
            repeats: trial.repeats.clone(),
        });
        self.set(trial.number, now, trial.asked, retry);
        now
    }

    fn set(&mut self, number: u64, now: Accounted, asked: bool, retry: Option<Retry>) {
        let before = self.contribution.insert(number, (now, asked));
        match before {
            Some((Accounted::Counted, _)) => self.counted -= 1,
            Some((Accounted::Running, was_asked)) => {
                self.running -= 1;
                self.asked_running -= u64::from(was_asked);
            }
            Some((Accounted::Retrying, _)) => {
                self.retries.remove(&number);
            }
            Some((Accounted::Ignored, _)) | None => {}
        }
        match now {
            Accounted::Counted => self.counted += 1,
            Accounted::Running => {
                self.running += 1;
                self.asked_running += u64::from(asked);
            }
            Accounted::Retrying => {
                if let Some(r) = retry {
                    self.retries.insert(number, r);
                }
            }
            Accounted::Ignored => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: u64, state: TrialState, error: Option<&str>) -> Trial {
        Trial {
            study: "s".into(),
            number,
            params: Params::new(),
            state,
            value: None,
            intermediate: Vec::new(),
            started_ms: 0,
            finished_ms: None,
            heartbeat_ms: 0,
            attempt: 0,
            retry_of: None,
            device: None,
            error: error.map(str::to_owned),
            log_path: None,
            worker: None,
            asked: false,
            distributions: Default::default(),
            user_attrs: Default::default(),
            seeds: Vec::new(),
            repeats: None,
            role: TrialRole::Search,
        }
    }

    #[test]
    fn contributions_by_number_survive_gaps_and_huge_numbers() {
        let mut c = Contributions::default();
        let v = |a| (a, false);
        assert_eq!(c.insert(0, v(Accounted::Running)), None);
        assert_eq!(c.insert(3, v(Accounted::Counted)), None, "a gap");
        assert_eq!(c.insert(u64::MAX, v(Accounted::Counted)), None);
        assert_eq!(c.dense.len(), 1, "no growth to a far number");
        assert_eq!(c.insert(1, v(Accounted::Running)), None);
        assert_eq!(c.insert(2, v(Accounted::Running)), None);
        assert_eq!(
            c.insert(3, v(Accounted::Ignored)),
            Some(v(Accounted::Counted)),
            "found where the gap kept it"
        );
        assert_eq!(
            c.insert(0, v(Accounted::Counted)),
            Some(v(Accounted::Running))
        );
        assert_eq!(
            c.insert(u64::MAX, v(Accounted::Ignored)),
            Some(v(Accounted::Counted))
        );
        assert_eq!((c.dense.len(), c.sparse.len()), (4, 1));
    }

    #[test]
    fn complete_pruned_and_final_failures_count() {
        let trials = vec![
            trial(0, TrialState::Complete, None),
            trial(1, TrialState::Pruned, None),
            trial(2, TrialState::Failed, Some("exit status 1")),
            trial(3, TrialState::Failed, Some(REAPED_REASON)),
        ];
        let mut b = Budget::from_trials(&trials, Some(5), 0);
        assert_eq!(b.counted(), 3);
        b.apply(&trial(4, TrialState::Running, None));
        assert_eq!(b.running(), 1);
        assert!(b.may_start());
        b.apply(&trial(5, TrialState::Running, None));
        assert!(!b.may_start());
        b.apply(&trial(5, TrialState::Complete, None));
        assert_eq!((b.counted(), b.running()), (4, 1));
    }

    #[test]
    fn failures_wait_for_their_retry_and_retried_ones_do_not_count() {
        let mut retry = trial(1, TrialState::Complete, None);
        retry.attempt = 1;
        retry.retry_of = Some(0);
        let trials = vec![
            trial(0, TrialState::Failed, Some("exit status 1")),
            retry,
            trial(2, TrialState::Failed, Some(REAPED_REASON)),
        ];
        let mut b = Budget::from_trials(&trials, Some(3), 1);
        assert_eq!(b.counted(), 1, "only the successful retry counts");
        let r = b.next_retry().expect("the reaped trial is re-run").clone();
        assert_eq!((r.of, r.attempt), (2, 1));
        let mut rerun = trial(3, TrialState::Running, None);
        rerun.attempt = 1;
        rerun.retry_of = Some(2);
        b.apply(&rerun);
        assert!(b.next_retry().is_none(), "a retry that started is taken");
    }

    #[test]
    fn last_attempt_failure_counts() {
        let mut b = Budget::from_trials(&[], Some(2), 1);
        let mut t = trial(0, TrialState::Failed, Some("boom"));
        assert_eq!(b.apply(&t), Accounted::Retrying);
        let mut last = trial(1, TrialState::Failed, Some("boom"));
        last.attempt = 1;
        last.retry_of = Some(0);
        assert_eq!(b.apply(&last), Accounted::Counted);
        assert!(b.next_retry().is_none());
        t.number = 2;
        t.attempt = 1;
        t.error = Some(REAPED_REASON.into());
        assert_eq!(b.apply(&t), Accounted::Ignored);
        assert_eq!(b.counted(), 1);
    }
}
