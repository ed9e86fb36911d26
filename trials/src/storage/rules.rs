//! The trial life-cycle rules every backend applies the same way.
//!
//! Backends differ in how they read and write a trial; what a report, a
//! finish or a reap does to it is decided here once, so the memory and sled
//! stores cannot drift apart.

use hypersweep_search::TrialState;
use hypersweep_search::sweep::{SweepSpec, spec_differences};

use super::{NewTrial, SpecRevision, Staleness, StudyRecord};
use crate::error::StorageError;
use crate::trial::{Trial, TrialOutcome};

/// A fresh Running trial.
pub(crate) fn new_trial(study: &str, number: u64, new: NewTrial, now: u64) -> Trial {
    Trial {
        study: study.to_owned(),
        number,
        params: new.params,
        state: TrialState::Running,
        value: None,
        intermediate: Vec::new(),
        started_ms: now,
        finished_ms: None,
        heartbeat_ms: now,
        attempt: new.attempt,
        retry_of: new.retry_of,
        device: new.device,
        error: None,
        log_path: None,
        worker: new.worker,
        asked: new.asked,
        distributions: Default::default(),
        user_attrs: Default::default(),
        seeds: new.seeds,
        repeats: new.repeats,
        role: new.role,
    }
}

/// A new study's record.
pub(crate) fn new_study(name: &str, spec: &SweepSpec, now: u64) -> StudyRecord {
    StudyRecord {
        name: name.to_owned(),
        spec: spec.clone(),
        created_ms: now,
        revisions: Vec::new(),
    }
}

/// Replaces a study's spec; a change of its identity is recorded as a
/// revision.
pub(crate) fn apply_spec_update(record: &mut StudyRecord, spec: &SweepSpec, now: u64) {
    let differences = spec_differences(&record.spec, spec);
    if !differences.is_empty() {
        record.revisions.push(SpecRevision {
            at_ms: now,
            differences: differences.iter().map(ToString::to_string).collect(),
        });
    }
    record.spec = spec.clone();
}

/// A finished trial never changes again.
pub(crate) fn ensure_running(trial: &Trial) -> Result<(), StorageError> {
    if trial.state.is_finished() {
        return Err(StorageError::AlreadyFinished {
            study: trial.study.clone(),
            number: trial.number,
        });
    }
    Ok(())
}

/// Finishing "as Running" would leave a trial that no one will ever finish.
pub(crate) fn ensure_final(
    study: &str,
    number: u64,
    outcome: &TrialOutcome,
) -> Result<(), StorageError> {
    if outcome.state.is_finished() {
        Ok(())
    } else {
        Err(StorageError::NotFinal {
            study: study.to_owned(),
            number,
        })
    }
}

/// Records `value` at `step`, replacing an earlier value at that step and
/// keeping the steps ascending.
pub(crate) fn apply_report(trial: &mut Trial, step: u64, value: f64, now: u64) {
    // Reports nearly always arrive in step order, so the common case is a
    // push; the binary search handles repeats and late arrivals.
    match trial.intermediate.last() {
        Some(&(last, _)) if last < step => trial.intermediate.push((step, value)),
        None => trial.intermediate.push((step, value)),
        Some(_) => match trial.intermediate.binary_search_by_key(&step, |&(s, _)| s) {
            Ok(i) => trial.intermediate[i].1 = value,
            Err(i) => trial.intermediate.insert(i, (step, value)),
        },
    }
    trial.heartbeat_ms = now;
}

/// Applies a final outcome (already checked with [`ensure_final`]).
pub(crate) fn apply_finish(trial: &mut Trial, outcome: TrialOutcome, now: u64) {
    trial.state = outcome.state;
    trial.value = outcome.value;
    trial.error = outcome.error;
    trial.finished_ms = Some(now);
}

/// True when a Running trial is abandoned: its worker has not beaten for
/// longer than `staleness.after` (every worker trial when that is zero: the
/// caller knows no worker is alive, e.g. on resume of a single-process run),
/// or, for an asked trial, nothing was heard of it for `asked_after`.
pub(crate) fn is_stale(trial: &Trial, staleness: Staleness, now: u64) -> bool {
    let limit = if trial.asked {
        staleness.asked_after
    } else if staleness.after.is_zero() {
        return true;
    } else {
        staleness.after
    };
    let age = now.saturating_sub(trial.heartbeat_ms);
    u128::from(age) > limit.as_millis()
}

/// The outcome given to a reaped trial.
pub(crate) fn reaped_outcome(reason: &str) -> TrialOutcome {
    TrialOutcome {
        state: TrialState::Failed,
        value: None,
        error: Some(reason.to_owned()),
    }
}
