//! The scheduler: keeps up to `parallel` trials running until the budget is
//! spent, a timeout or target is reached, or someone stops it.
//!
//! One tokio task drives the sweep and owns every decision; trials run as
//! their own tasks, one per worker slot, and only report back when they end.
//! A runner whose trial is one synchronous call (a Rust closure) gets a
//! thread per slot instead, which claims, runs and records its trials itself
//! with the same decisions, the sweep's task only supervising
//! (`slot_threads.rs`).
//! The scheduler holds no state of its own that matters: every trial is
//! *claimed* from the store ([`Storage::claim`]), which, under the study's
//! claim lock, catches this process's cache up with what other processes
//! wrote, checks the budget held in the store (counted + running trials of
//! every process), takes a pending retry or asks the searcher (off the async
//! threads unless the last claim was cheap, see `offload.rs`) for a
//! suggestion drawn with the RNG of (study seed, the number the trial gets),
//! and stores it Running. Trials that end together are recorded together
//! ([`Storage::finish_trials`]), so a flushing store syncs once for them.
//! So any number of processes (`run`, `worker`, embedded studies) share one
//! study and end with exactly its budget, and a resumed sweep proposes what
//! the first run would have.
//!
//! Each running trial has a heartbeat; a trial whose heartbeat is older than
//! `stale_after` was left by a dead process and is reaped (failed as
//! interrupted, re-run under `retry_failed`) by whichever process notices.
//! When the budget is held by other processes' running trials, a process
//! waits, polling the store, until they end (or are reaped) and either the
//! budget is spent or a place frees up.
//!
//! Stopping, and what happens to the trials still running:
//! - budget spent, searcher exhausted (grid), target reached, first stop
//!   request (Ctrl-C): nothing new is proposed; running trials finish and
//!   are recorded normally;
//! - second stop request, or the sweep's `timeout`: running trials are
//!   cancelled and recorded Failed with a reason starting "interrupted"
//!   (they do not count toward the budget; see [`Budget`]);
//! - `max_consecutive_failures` trials failing in a row: nothing new is
//!   proposed, running trials finish, and the run returns
//!   [`SchedulerError::TooManyFailures`] quoting the last failure.

mod claim;
pub use claim::suggest;
mod events;
mod offload;
mod plan;
mod slot_threads;
pub use plan::{Plan, PlannedTrial};
mod stop;
mod sweep;
mod trial_task;

pub use crate::budget::{Accounted, Budget, INTERRUPTED, REAPED_REASON, Retry, is_interrupted};
pub use events::{Progress, SweepEvent};
pub use stop::{StopHandle, StopLevel};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hypersweep_search::sweep::SweepSpec;
use hypersweep_search::{Direction, SearchError, SearchSpace, Searcher, TrialState};
use thiserror::Error;

use crate::device::{self, SlotError};
use crate::error::StorageError;
use crate::pruner::Pruner;
use crate::runner::{Device, Runner};
use crate::storage::{Staleness, Storage};
use crate::trial::Trial;

/// A searcher shared between the scheduler and an ask/tell API.
pub type SharedSearcher = Arc<Mutex<Box<dyn Searcher>>>;

/// Receives every start and end of a trial (progress bars, logs).
pub type Observer = Arc<dyn Fn(&SweepEvent) + Send + Sync>;

/// Why a sweep stopped or could not go on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The searcher failed (other than running out of points).
    #[error("the searcher failed: {0}")]
    Search(#[from] SearchError),
    /// Too many trials failed in a row.
    #[error("{count} trials failed in a row; the last failure: {last}")]
    TooManyFailures {
        /// Failures in a row.
        count: u32,
        /// The last one's reason.
        last: String,
    },
    /// A trial ended but its result could not be stored (disk full, I/O
    /// error). The sweep stops so that no more results are lost; the result
    /// is carried here so that it is printed, and the trial, still Running
    /// in the store, is re-run by the next run.
    #[error(
        "trial {number} ended ({outcome}) but could not be stored: {source}; its params: {params}; the sweep stopped, and the next run re-runs it"
    )]
    Unrecorded {
        /// The trial.
        number: u64,
        /// How it ended, with its value.
        outcome: String,
        /// Its params, as JSON.
        params: String,
        /// The store's error.
        source: StorageError,
    },
    /// A task of the runtime failed.
    #[error("scheduler task failed: {0}")]
    Runtime(String),
    /// The configuration has no worker slot: its devices cannot give every
    /// trial the GPUs it asks for (`SchedulerConfig::from_spec` leaves
    /// `slots` empty then, and keeps the reason in `slot_error`, carried
    /// here).
    #[error(
        "no worker slot to run trials on: {} (`hypersweep check` lists the slots)",
        .0.as_ref().map_or_else(|| "the configuration lists none".to_string(), ToString::to_string)
    )]
    NoSlots(Option<SlotError>),
}

/// How a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The trial budget is spent.
    Budget,
    /// The searcher has proposed every point (grid).
    Exhausted,
    /// The sweep's wall-clock timeout passed.
    Timeout,
    /// A trial reached the metric's target.
    Target,
    /// Stopped through the [`StopHandle`] (Ctrl-C).
    Stopped,
}

/// What a finished sweep reports.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    /// Why it ended.
    pub reason: StopReason,
    /// Trials counted toward the budget, in the whole study.
    pub counted: u64,
    /// Trials started by this run.
    pub started: u64,
    /// Trials reaped at start (left Running by a dead process).
    pub reaped: usize,
    /// The best complete trial of the study.
    pub best: Option<Trial>,
}

/// Everything that shapes a sweep, apart from its collaborators.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Study name.
    pub study: String,
    /// The space to search.
    pub space: SearchSpace,
    /// Optimisation direction.
    pub direction: Direction,
    /// Total trials that count toward the budget (for the whole study,
    /// earlier runs included); `None` runs until stopped.
    pub budget: Option<u64>,
    /// One device per worker slot; its length is the parallelism. Empty
    /// when the devices cannot give each trial its GPUs: the sweep then
    /// refuses to start ([`SchedulerError::NoSlots`]).
    pub slots: Vec<Device>,
    /// Why [`SchedulerConfig::from_spec`] could make no slot, if so: the
    /// sweep's refusal to start says it.
    pub slot_error: Option<SlotError>,
    /// Seed of every suggestion.
    pub seed: u64,
    /// Wall-clock limit of this run.
    pub timeout: Option<Duration>,
    /// Stop proposing once a trial reaches this value.
    pub target: Option<f64>,
    /// Re-runs of a failed trial's params.
    pub retry_failed: u32,
    /// Limit of one trial's run time.
    pub trial_timeout: Option<Duration>,
    /// Stop after this many failures in a row (0: never).
    pub max_consecutive_failures: u32,
    /// How often running trials' heartbeats are refreshed (and other
    /// processes' stale trials looked for).
    pub heartbeat_every: Duration,
    /// When a running trial counts as abandoned. On a store that one process
    /// owns (memory, sled) every Running trial at start was left by a dead
    /// process and is reaped at once, asked trials excepted.
    pub staleness: Staleness,
    /// How often a process whose budget is held by other processes' running
    /// trials looks at the store again.
    pub poll_every: Duration,
    /// Where runners may write trial logs.
    pub log_dir: Option<PathBuf>,
    /// This process, as recorded on its trials (`host:pid`).
    pub worker: Option<String>,
    /// Evaluations of each configuration, each with its own seed
    /// (`run.repeats`); the trial's value is their mean. The budget counts
    /// trials (configurations), not evaluations.
    pub repeats: u32,
    /// Run these configurations instead of the searcher's (`confirm`,
    /// `ablate`): the budget is the plan's length, and only the plan's
    /// round is counted (see [`Plan`]).
    pub plan: Option<Arc<Plan>>,
}

impl SchedulerConfig {
    /// The configuration a sweep file asks for (seed 0 when it names none).
    pub fn from_spec(study: impl Into<String>, spec: &SweepSpec) -> Self {
        let run = &spec.run;
        // Checked when the sweep starts, not here: a study is also opened by
        // commands that run nothing (ask, tell) on machines without its GPUs.
        let (slots, slot_error) = match device::slots(
            &run.devices,
            run.parallel,
            run.trials_per_device,
            run.gpus_per_trial,
        ) {
            Ok(slots) => (slots, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        SchedulerConfig {
            study: study.into(),
            space: spec.space.clone(),
            direction: spec.metric.goal,
            budget: run.trials,
            slots,
            slot_error,
            seed: run.seed.unwrap_or(0),
            timeout: run.timeout,
            target: spec.metric.target,
            retry_failed: run.retry_failed,
            trial_timeout: run.trial_timeout,
            max_consecutive_failures: run.max_consecutive_failures,
            heartbeat_every: heartbeat_period(run.stale_after),
            staleness: Staleness {
                after: run.stale_after,
                asked_after: run.ask_timeout,
            },
            poll_every: Duration::from_millis(500),
            log_dir: None,
            worker: Some(format!("localhost:{}", std::process::id())),
            repeats: run.repeats.max(1),
            plan: None,
        }
    }
}

/// Heartbeats come often enough that a live process is never taken for
/// dead: four beats per `stale_after`, at most every 10 s.
pub fn heartbeat_period(stale_after: Duration) -> Duration {
    (stale_after / 4).clamp(Duration::from_millis(10), Duration::from_secs(10))
}

pub use hypersweep_search::suggestion_rng;

/// The seeds of search trial `number`'s `repeats` evaluations in a study
/// seeded `seed` (a stream apart from the suggestions' RNGs).
pub fn trial_seeds(seed: u64, number: u64, repeats: u32) -> Vec<u64> {
    hypersweep_search::evaluation_seeds(seed, hypersweep_search::SeedStream::Trial, number, repeats)
}

/// True when `value` reaches `target` in `direction`.
pub fn reaches_target(direction: Direction, value: f64, target: f64) -> bool {
    value.is_finite() && direction.loss(value) <= direction.loss(target)
}

/// Runs a sweep. Build it, optionally attach a stop handle and an observer,
/// then [`Scheduler::run`] it.
pub struct Scheduler {
    config: SchedulerConfig,
    storage: Arc<dyn Storage>,
    searcher: SharedSearcher,
    pruner: Arc<dyn Pruner>,
    runner: Arc<dyn Runner>,
    stop: StopHandle,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.config)
            .field("pruner", &self.pruner.name())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler over these collaborators.
    pub fn new(
        config: SchedulerConfig,
        storage: Arc<dyn Storage>,
        searcher: SharedSearcher,
        pruner: Arc<dyn Pruner>,
        runner: Arc<dyn Runner>,
    ) -> Self {
        Scheduler {
            config,
            storage,
            searcher,
            pruner,
            runner,
            stop: StopHandle::new(),
            observer: None,
        }
    }

    /// Uses `stop` to stop the sweep from outside.
    pub fn with_stop(mut self, stop: StopHandle) -> Self {
        self.stop = stop;
        self
    }

    /// Calls `observer` on every trial start and end.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The handle that stops this sweep.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Runs the sweep to its end.
    pub async fn run(self) -> Result<SweepSummary, SchedulerError> {
        if self.config.slots.is_empty() {
            return Err(SchedulerError::NoSlots(self.config.slot_error.clone()));
        }
        // A synchronous runner's slots are threads of their own, unless
        // several slots share the syncs of a store that batches them.
        // Repeated evaluations (`run.repeats`, and the planned trials of
        // confirm and ablate rounds, which carry their round's seeds) run as
        // tasks: a slot thread runs one evaluation per trial.
        let blocking = self.runner.as_blocking().is_some()
            && self.config.repeats <= 1
            && self.config.plan.is_none()
            && (self.config.slots.len() <= 1 || !self.storage.syncs_in_batches());
        let sweep = sweep::Sweep::start(self).await?;
        if blocking {
            slot_threads::run(sweep).await
        } else {
            sweep.run().await
        }
    }
}

/// The best complete search trial with a finite value (confirmation and
/// ablation re-runs are not candidates: they re-run search trials).
pub fn best_trial(trials: &[Trial], direction: Direction) -> Option<Trial> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.role.is_search())
        .filter_map(|t| {
            t.value
                .filter(|v| v.is_finite())
                .map(|v| (t, direction.loss(v)))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| t.clone())
}

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod slot_tests;
#[cfg(test)]
mod tests;
