//! Where studies and trials live.
//!
//! The store is the truth of a study; processes keep caches
//! ([`StudyCache`]). Three operations make many processes on one study
//! correct:
//! - [`Storage::claim`] runs under the study's claim lock: it catches the
//!   caller's cache up, lets the caller decide (budget, retry, suggestion,
//!   with the number the trial will get) and stores the trial. Claims of one
//!   study are serialised, so two processes never take the same number, the
//!   same grid point, or more than the budget;
//! - [`Storage::changes`] reads what changed since a cache's watermark;
//! - heartbeats and [`Storage::reap_stale`] fail the trials of processes that
//!   died, judged by the age of their last heartbeat.
//!
//! The trait is synchronous, with owned returns: the embedded backends answer
//! in microseconds, and a networked one blocks its caller for a round trip.
//! Async code calls it through [`blocking`], which moves the call off the
//! runtime's worker (tokio's `block_in_place`) so no store stalls other tasks.

mod memory;
mod owner;
#[cfg(feature = "postgres")]
mod postgres;
mod rules;
mod sled_codec;
mod sled_store;

pub use memory::MemoryStorage;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStorage;
pub use sled_store::SledStorage;

pub use crate::cache::StudyCache;

use std::path::PathBuf;
use std::time::Duration;

use hypersweep_search::Params;
use hypersweep_search::sweep::SweepSpec;
use serde::{Deserialize, Serialize};

use crate::error::StorageError;
use crate::trial::{Repeats, Trial, TrialOutcome, TrialRole, TrialUpdate};

/// A study as stored: its name, its spec, and when it was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRecord {
    /// Study name, unique in the store.
    pub name: String,
    /// The sweep spec the study runs with: the one it was created with, or
    /// the last one given to [`Storage::update_study`].
    pub spec: SweepSpec,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: u64,
    /// Each accepted change of the spec's identity, oldest first (empty for
    /// a study that kept its spec, and in stores written before revisions).
    #[serde(default)]
    pub revisions: Vec<SpecRevision>,
}

/// One change of a study's spec that altered its identity, accepted by the
/// user (`run --force`), kept so that the study's history says why trials
/// before and after it may not compare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecRevision {
    /// When the new spec was stored, ms since the Unix epoch.
    pub at_ms: u64,
    /// What changed, one line each (`parameters.lr.max: 0.1 -> 0.5`).
    pub differences: Vec<String>,
}

/// What the scheduler needs to start a trial.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTrial {
    /// The configuration.
    pub params: Params,
    /// Retry count (0 for a first run).
    pub attempt: u32,
    /// The trial this one retries.
    pub retry_of: Option<u64>,
    /// Device label (`cpu`, `cuda:1`).
    pub device: Option<String>,
    /// Owner (`host:pid`).
    pub worker: Option<String>,
    /// Created by `ask`: kept Running until its `tell` or the ask timeout.
    pub asked: bool,
    /// Seeds of its evaluations (empty: the claim derives them from the
    /// trial's number, see [`crate::scheduler::trial_seeds`]).
    pub seeds: Vec<u64>,
    /// Why it runs.
    pub role: TrialRole,
    /// Evaluations already done (a re-run of a trial that failed part-way).
    pub repeats: Option<Repeats>,
}

impl NewTrial {
    /// A first run of `params`, with nothing else set.
    pub fn new(params: Params) -> Self {
        NewTrial {
            params,
            attempt: 0,
            retry_of: None,
            device: None,
            worker: None,
            asked: false,
            seeds: Vec::new(),
            role: TrialRole::Search,
            repeats: None,
        }
    }
}

/// When a Running trial counts as abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staleness {
    /// A trial run by a process whose heartbeat is older than this. Zero:
    /// every such trial (the caller knows no other process is alive, as the
    /// owner of a sled store does).
    pub after: Duration,
    /// An asked trial (evaluated outside hypersweep, without heartbeats)
    /// older than this since its last `ask`, report or heartbeat.
    pub asked_after: Duration,
}

impl Staleness {
    /// Default of `run.stale_after`.
    pub const DEFAULT_AFTER: Duration = Duration::from_secs(120);
    /// Default of `run.ask_timeout`.
    pub const DEFAULT_ASKED_AFTER: Duration = Duration::from_secs(24 * 3600);

    /// True when `trial` (Running) counts as abandoned at `now_ms` (ms
    /// since the epoch): the rule [`Storage::reap_stale`] applies, for views
    /// that show staleness without reaping.
    pub fn is_stale(&self, trial: &Trial, now_ms: u64) -> bool {
        rules::is_stale(trial, *self, now_ms)
    }
}

impl Default for Staleness {
    fn default() -> Self {
        Staleness {
            after: Staleness::DEFAULT_AFTER,
            asked_after: Staleness::DEFAULT_ASKED_AFTER,
        }
    }
}

/// Runs a blocking store call from sync or async code. On a multi-threaded
/// tokio runtime the worker thread is handed over first (`block_in_place`),
/// so other tasks go on; elsewhere the call simply runs.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Decides, under the study's claim lock, the trial to create: given the
/// caught-up cache and the number the trial will get, `Some` stores it,
/// `None` stores nothing.
pub type ClaimDecision<'a> = dyn FnMut(&StudyCache, u64) -> Option<NewTrial> + 'a;

/// Persistent record of studies and their trials.
///
/// Contract for every implementation (checked by the conformance suite in
/// `trials/tests/storage.rs`, which runs on every backend):
/// - trial numbers are assigned under the study's claim lock, from 0,
///   without gaps, and claims of one study are serialised across processes;
/// - `finish_trial` and `finish_trials` are durable (flushed) when they
///   return;
/// - a finished trial never changes again (`AlreadyFinished`);
/// - `trials` and `changes` return trials ordered by number.
pub trait Storage: Send + Sync {
    /// Creates the study, or returns the existing one of that name unchanged.
    fn create_study(&self, name: &str, spec: &SweepSpec) -> Result<StudyRecord, StorageError>;

    /// Replaces the study's spec, keeping its name, creation time and
    /// trials, and appends a [`SpecRevision`] when the identity changed
    /// (see [`hypersweep_search::sweep::spec_differences`]); a change of run
    /// settings only is stored without one. Durable when it returns.
    fn update_study(&self, name: &str, spec: &SweepSpec) -> Result<StudyRecord, StorageError>;

    /// The study of that name, if any.
    fn load_study(&self, name: &str) -> Result<Option<StudyRecord>, StorageError>;

    /// Names of all studies.
    fn list_studies(&self) -> Result<Vec<String>, StorageError>;

    /// Deletes a study and its trials; false when there was none.
    fn delete_study(&self, name: &str) -> Result<bool, StorageError>;

    /// Under the study's claim lock (held against every other claim of the
    /// study, in any process): catches `cache` up with the store, calls
    /// `decide` with it and the number the new trial gets, and stores the
    /// trial it returns as Running (also adding it to `cache`).
    fn claim(
        &self,
        study: &str,
        cache: &mut StudyCache,
        decide: &mut ClaimDecision<'_>,
    ) -> Result<Option<Trial>, StorageError>;

    /// Trials numbered above `after` (every trial when `None`) and the
    /// current versions of the trials numbered `unfinished`, by number.
    fn changes(
        &self,
        study: &str,
        after: Option<u64>,
        unfinished: &[u64],
    ) -> Result<Vec<Trial>, StorageError>;

    /// Brings `cache` up to date with the store (see [`StudyCache`]).
    fn catch_up(&self, study: &str, cache: &mut StudyCache) -> Result<(), StorageError> {
        let (after, unfinished) = cache.watermark();
        let changes = self.changes(study, after, &unfinished)?;
        cache.apply(changes);
        Ok(())
    }

    /// Creates a Running trial with the next number (a claim that always
    /// takes `new`; it reads the whole study, so loops use [`Storage::claim`]
    /// with a cache they keep).
    fn create_trial(&self, study: &str, new: NewTrial) -> Result<Trial, StorageError> {
        let mut cache = StudyCache::new(Default::default(), Default::default());
        let mut new = Some(new);
        self.claim(study, &mut cache, &mut |_, _| new.take())?
            .ok_or_else(|| StorageError::Backend("the claim stored no trial".to_owned()))
    }

    /// Makes every trial claimed so far durable. A backend may defer the
    /// sync of a claim (sled batches them: one fsync for the trials a
    /// scheduler starts together); the scheduler calls this before any
    /// claimed trial's work starts, so a trial that ran is never lost.
    fn persist_claims(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// True when a write is made durable by a sync whose cost does not
    /// depend on how much it covers (sled: an fsync), so that the claims and
    /// finishes of several trials are best made durable together. A
    /// scheduler with several slots then keeps each slot's trial as a task
    /// and syncs the trials that start or end together once, instead of
    /// giving each slot a thread that syncs its own (`slot_threads.rs`).
    fn syncs_in_batches(&self) -> bool {
        false
    }

    /// Keys of the study's records that cannot be read (damaged on disk):
    /// reads skip them, so one damaged trial does not stop a study from
    /// loading, and `status` counts them.
    fn unreadable(&self, _study: &str) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }

    /// True when this handle is the only process that can write the store
    /// (memory, sled): then every Running trial it did not start itself was
    /// left by a dead process.
    fn is_exclusive(&self) -> bool {
        false
    }

    /// Records an intermediate value (replacing an earlier one at the same
    /// step) and refreshes the heartbeat.
    fn report(&self, study: &str, number: u64, step: u64, value: f64) -> Result<(), StorageError>;

    /// Replaces the params of a running trial, with their domains and the
    /// user's attributes. A define-by-run trial (the Python API) learns its
    /// params as its objective asks for them, so it records them before each
    /// report and before its end, for the pruners and searchers of every
    /// process to see.
    fn set_params(&self, study: &str, number: u64, update: TrialUpdate)
    -> Result<(), StorageError>;

    /// Records the evaluations a repeated trial (`run.repeats`) has finished
    /// so far, replacing the earlier record, and refreshes the heartbeat.
    fn set_repeats(&self, study: &str, number: u64, repeats: Repeats) -> Result<(), StorageError>;

    /// Sets the log file of a running trial.
    fn set_log_path(&self, study: &str, number: u64, path: PathBuf) -> Result<(), StorageError>;

    /// Refreshes the heartbeat of a running trial.
    fn heartbeat(&self, study: &str, number: u64) -> Result<(), StorageError>;

    /// Ends a trial, durably.
    fn finish_trial(
        &self,
        study: &str,
        number: u64,
        outcome: TrialOutcome,
    ) -> Result<Trial, StorageError>;

    /// Ends several trials, durably, one result per outcome in their order
    /// (each as [`Storage::finish_trial`] would end it). A store that
    /// flushes may write them all and flush once: a scheduler whose trials
    /// end together pays one fsync for them instead of one each.
    fn finish_trials(
        &self,
        study: &str,
        outcomes: Vec<(u64, TrialOutcome)>,
    ) -> Vec<Result<Trial, StorageError>> {
        outcomes
            .into_iter()
            .map(|(number, outcome)| self.finish_trial(study, number, outcome))
            .collect()
    }

    /// One trial.
    fn trial(&self, study: &str, number: u64) -> Result<Trial, StorageError>;

    /// All trials of the study, by number.
    fn trials(&self, study: &str) -> Result<Vec<Trial>, StorageError>;

    /// Marks Failed, with `reason`, every Running trial that is stale by
    /// `staleness` (judged by the store's clock), and returns them.
    fn reap_stale(
        &self,
        study: &str,
        staleness: Staleness,
        reason: &str,
    ) -> Result<Vec<Trial>, StorageError>;
}
