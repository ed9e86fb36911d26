//! Where studies and trials live.
//!
//! The trait is synchronous: both embedded backends (memory, sled) answer in
//! microseconds, and the scheduler calls them from its own task. A networked
//! backend can block inside its methods on its own runtime handle.

mod memory;
mod owner;
mod rules;
mod sled_codec;
mod sled_store;

pub use memory::MemoryStorage;
pub use sled_store::SledStorage;

use std::path::PathBuf;
use std::time::Duration;

use hypersweep_search::Params;
use hypersweep_search::sweep::SweepSpec;
use serde::{Deserialize, Serialize};

use crate::error::StorageError;
use crate::trial::{Trial, TrialOutcome};

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
}

/// Persistent record of studies and their trials.
///
/// Contract for every implementation:
/// - trial numbers are assigned atomically, from 0, without gaps;
/// - `finish_trial` is durable (flushed) when it returns;
/// - a finished trial never changes again (`AlreadyFinished`);
/// - `trials` returns trials ordered by number.
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

    /// Creates a Running trial with the next number.
    fn create_trial(&self, study: &str, new: NewTrial) -> Result<Trial, StorageError>;

    /// Records an intermediate value (replacing an earlier one at the same
    /// step) and refreshes the heartbeat.
    fn report(&self, study: &str, number: u64, step: u64, value: f64) -> Result<(), StorageError>;

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

    /// One trial.
    fn trial(&self, study: &str, number: u64) -> Result<Trial, StorageError>;

    /// All trials of the study, by number.
    fn trials(&self, study: &str) -> Result<Vec<Trial>, StorageError>;

    /// Marks Failed, with `reason`, every Running trial whose heartbeat is
    /// older than `stale_after` (all of them when zero), and returns them.
    fn reap_stale(
        &self,
        study: &str,
        stale_after: Duration,
        reason: &str,
    ) -> Result<Vec<Trial>, StorageError>;
}
