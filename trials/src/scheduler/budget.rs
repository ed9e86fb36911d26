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

use std::collections::{HashSet, VecDeque};

use hypersweep_search::{Params, TrialState};

use crate::trial::Trial;

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
}

/// What a finished trial did to the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accounted {
    /// It counts.
    Counted,
    /// It failed and will be re-run; it does not count.
    Retrying,
    /// Interrupted and not retried; it does not count.
    Ignored,
}

/// The budget of a sweep: how many trials count so far and which failures
/// wait for a re-run.
#[derive(Debug, Clone)]
pub struct Budget {
    total: Option<u64>,
    retry_failed: u32,
    counted: u64,
    retries: VecDeque<Retry>,
}

impl Budget {
    /// The budget of a study whose trials so far are `trials` (none Running).
    pub fn from_trials(trials: &[Trial], total: Option<u64>, retry_failed: u32) -> Self {
        let retried: HashSet<u64> = trials.iter().filter_map(|t| t.retry_of).collect();
        let mut budget = Budget {
            total,
            retry_failed,
            counted: 0,
            retries: VecDeque::new(),
        };
        for t in trials.iter().filter(|t| !retried.contains(&t.number)) {
            budget.account(t);
        }
        budget
    }

    /// Trials that count so far.
    pub fn counted(&self) -> u64 {
        self.counted
    }

    /// The budget, if any.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// True when a trial may start while `running` others run: the counted
    /// ones plus the running ones stay under the budget.
    pub fn may_start(&self, running: usize) -> bool {
        self.total
            .is_none_or(|t| self.counted + (running as u64) < t)
    }

    /// True once the budget is spent.
    pub fn is_spent(&self) -> bool {
        self.total.is_some_and(|t| self.counted >= t)
    }

    /// The next failed trial to re-run, if any.
    pub fn next_retry(&mut self) -> Option<Retry> {
        self.retries.pop_front()
    }

    /// Accounts for a trial that just finished.
    pub fn account(&mut self, trial: &Trial) -> Accounted {
        match trial.state {
            TrialState::Running => Accounted::Ignored,
            TrialState::Complete | TrialState::Pruned => {
                self.counted += 1;
                Accounted::Counted
            }
            TrialState::Failed => {
                if trial.attempt < self.retry_failed {
                    self.retries.push_back(Retry {
                        of: trial.number,
                        attempt: trial.attempt + 1,
                        params: trial.params.clone(),
                    });
                    Accounted::Retrying
                } else if is_interrupted(trial) {
                    Accounted::Ignored
                } else {
                    self.counted += 1;
                    Accounted::Counted
                }
            }
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
        }
    }

    #[test]
    fn complete_pruned_and_final_failures_count() {
        let trials = vec![
            trial(0, TrialState::Complete, None),
            trial(1, TrialState::Pruned, None),
            trial(2, TrialState::Failed, Some("exit status 1")),
            trial(3, TrialState::Failed, Some(REAPED_REASON)),
        ];
        let b = Budget::from_trials(&trials, Some(5), 0);
        assert_eq!(b.counted(), 3);
        assert!(b.may_start(1));
        assert!(!b.may_start(2));
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
        let r = b.next_retry().expect("the reaped trial is re-run");
        assert_eq!((r.of, r.attempt), (2, 1));
        assert!(b.next_retry().is_none());
    }

    #[test]
    fn last_attempt_failure_counts() {
        let mut b = Budget::from_trials(&[], Some(2), 1);
        let mut t = trial(0, TrialState::Failed, Some("boom"));
        assert_eq!(b.account(&t), Accounted::Retrying);
        t.attempt = 1;
        assert_eq!(b.account(&t), Accounted::Counted);
        t.error = Some(REAPED_REASON.into());
        assert_eq!(b.account(&t), Accounted::Ignored);
        assert_eq!(b.counted(), 1);
    }
}
