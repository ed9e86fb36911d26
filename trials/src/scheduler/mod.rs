//! The scheduler: keeps up to `parallel` trials running until the budget is
//! spent, a timeout or target is reached, or someone stops it.
//!
//! One tokio task drives the sweep and owns every decision; trials run as
//! their own tasks, one per worker slot, and only report back when they end.
//! Suggestions are asked one at a time, off the async threads
//! (`spawn_blocking`), from a snapshot of the history that already holds the
//! running trials as pending points; each draws from an RNG seeded by the
//! study seed and the number the trial will get, so a resumed sweep proposes
//! what the first run would have. Each trial is written to storage (Running)
//! before it starts and finished durably before it counts, so a crash loses
//! nothing but the trials in flight, which the next run reaps.
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

mod budget;
mod stop;
mod trial_task;

pub use budget::{Accounted, Budget, INTERRUPTED, REAPED_REASON, Retry, is_interrupted};
pub use stop::{StopHandle, StopLevel};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersweep_search::sweep::SweepSpec;
use hypersweep_search::{
    Direction, History, Params, SearchError, SearchSpace, Searcher, TrialState,
};
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::device;
use crate::error::StorageError;
use crate::pruner::Pruner;
use crate::runner::{Device, RunOutcome, Runner, TrialContext};
use crate::storage::{NewTrial, Storage};
use crate::trial::{Trial, TrialOutcome};
use trial_task::{SharedHistory, TaskEnd};

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
    /// A task of the runtime failed.
    #[error("scheduler task failed: {0}")]
    Runtime(String),
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

/// Counters shown by progress bars.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Counted toward the budget.
    pub counted: u64,
    /// The budget.
    pub budget: Option<u64>,
    /// Running now.
    pub running: usize,
    /// Complete trials of the study.
    pub complete: u64,
    /// Pruned trials of the study.
    pub pruned: u64,
    /// Failed trials of the study.
    pub failed: u64,
    /// Best value so far.
    pub best: Option<f64>,
}

/// One event of a sweep.
#[derive(Debug, Clone)]
pub enum SweepEvent {
    /// A trial started.
    Started {
        /// The trial, Running.
        trial: Trial,
        /// Counters after the start.
        progress: Progress,
    },
    /// A trial ended and is stored.
    Finished {
        /// The trial, finished.
        trial: Trial,
        /// Counters after the end.
        progress: Progress,
    },
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
    /// One device per worker slot; its length is the parallelism.
    pub slots: Vec<Device>,
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
    /// How often running trials' heartbeats are refreshed.
    pub heartbeat_every: Duration,
    /// Running trials older than this are reaped at start. `Some(ZERO)` (the
    /// default) suits stores owned by one process (memory, sled), where every
    /// Running trial at start was left by a dead process.
    pub reap_stale_after: Option<Duration>,
    /// Where runners may write trial logs.
    pub log_dir: Option<PathBuf>,
    /// This process, as recorded on its trials (`host:pid`).
    pub worker: Option<String>,
}

impl SchedulerConfig {
    /// The configuration a sweep file asks for (seed 0 when it names none).
    pub fn from_spec(study: impl Into<String>, spec: &SweepSpec) -> Self {
        let run = &spec.run;
        SchedulerConfig {
            study: study.into(),
            space: spec.space.clone(),
            direction: spec.metric.goal,
            budget: run.trials,
            slots: device::slots(&run.devices, run.parallel, run.trials_per_device),
            seed: run.seed.unwrap_or(0),
            timeout: run.timeout,
            target: spec.metric.target,
            retry_failed: run.retry_failed,
            trial_timeout: run.trial_timeout,
            max_consecutive_failures: run.max_consecutive_failures,
            heartbeat_every: Duration::from_secs(10),
            reap_stale_after: Some(Duration::ZERO),
            log_dir: None,
            worker: Some(format!("localhost:{}", std::process::id())),
        }
    }
}

pub use hypersweep_search::suggestion_rng;

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

struct RunningTrial {
    slot: usize,
    cancel: Arc<watch::Sender<bool>>,
    /// Set when the scheduler cancelled it (Ctrl-C, sweep timeout).
    interrupted: Option<String>,
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
        Sweep::start(self)?.run().await
    }
}

/// The state of one run of [`Scheduler::run`].
struct Sweep {
    s: Scheduler,
    history: SharedHistory,
    budget: Budget,
    free_slots: Vec<usize>,
    running: HashMap<u64, RunningTrial>,
    tasks: JoinSet<TaskEnd>,
    task_numbers: HashMap<tokio::task::Id, u64>,
    proposing: bool,
    reason: Option<StopReason>,
    fatal: Option<SchedulerError>,
    consecutive_failures: u32,
    last_failure: String,
    started: u64,
    reaped: usize,
    counts: Progress,
}

impl Sweep {
    fn start(s: Scheduler) -> Result<Self, SchedulerError> {
        let cfg = &s.config;
        let reaped = match cfg.reap_stale_after {
            Some(after) => s.storage.reap_stale(&cfg.study, after, REAPED_REASON)?,
            None => Vec::new(),
        };
        if !reaped.is_empty() {
            tracing::info!(
                count = reaped.len(),
                "marked trials left running by a stopped process as failed"
            );
        }
        let trials = s.storage.trials(&cfg.study)?;
        let budget = Budget::from_trials(&trials, cfg.budget, cfg.retry_failed);
        let mut counts = Progress {
            budget: cfg.budget,
            ..Progress::default()
        };
        for t in &trials {
            tally(&mut counts, t, cfg.direction);
        }
        counts.counted = budget.counted();
        let history = History {
            direction: cfg.direction,
            trials: trials.iter().map(Trial::observation).collect(),
        };
        let n_slots = cfg.slots.len().max(1);
        Ok(Sweep {
            history: Arc::new(Mutex::new(Arc::new(history))),
            budget,
            free_slots: (0..n_slots).rev().collect(),
            running: HashMap::new(),
            tasks: JoinSet::new(),
            task_numbers: HashMap::new(),
            proposing: true,
            reason: None,
            fatal: None,
            consecutive_failures: 0,
            last_failure: String::new(),
            started: 0,
            reaped: reaped.len(),
            counts,
            s,
        })
    }

    async fn run(mut self) -> Result<SweepSummary, SchedulerError> {
        let mut stop_rx = self.s.stop.subscribe();
        let deadline = self.s.config.timeout.map(|d| Instant::now() + d);
        let mut heartbeat = tokio::time::interval(self.s.config.heartbeat_every);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let level = *stop_rx.borrow_and_update();
            if level >= StopLevel::Drain {
                self.stop_proposing(StopReason::Stopped);
            }
            if level >= StopLevel::Cancel {
                self.cancel_all("interrupted: the sweep was stopped");
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.stop_proposing(StopReason::Timeout);
                self.cancel_all("interrupted: the sweep's timeout passed");
            }
            if self.budget.is_spent() {
                self.stop_proposing(StopReason::Budget);
            }
            self.fill_slots().await;
            if self.running.is_empty() {
                break;
            }
            let sleep_deadline = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(res) = self.tasks.join_next_with_id() => self.on_task_end(res),
                _ = stop_rx.changed() => {}
                () = sleep_deadline => {}
                _ = heartbeat.tick() => self.heartbeat(),
            }
        }
        if let Some(err) = self.fatal {
            return Err(err);
        }
        let best = snapshot_best(&self.s.storage, &self.s.config)?;
        Ok(SweepSummary {
            reason: self.reason.unwrap_or(StopReason::Budget),
            counted: self.budget.counted(),
            started: self.started,
            reaped: self.reaped,
            best,
        })
    }

    fn stop_proposing(&mut self, reason: StopReason) {
        if self.proposing {
            self.proposing = false;
            self.reason = Some(reason);
        }
    }

    fn cancel_all(&mut self, why: &str) {
        for r in self.running.values_mut() {
            if r.interrupted.is_none() {
                r.interrupted = Some(why.to_owned());
                r.cancel.send_replace(true);
            }
        }
    }

    fn fail(&mut self, err: SchedulerError) {
        tracing::error!(%err, "sweep stopping");
        self.proposing = false;
        self.fatal.get_or_insert(err);
        self.cancel_all("interrupted: the sweep stopped on an error");
    }

    /// Starts trials while a slot is free and the budget allows.
    async fn fill_slots(&mut self) {
        while self.proposing
            && !self.free_slots.is_empty()
            && self.budget.may_start(self.running.len())
        {
            let next = match self.budget.next_retry() {
                Some(r) => Ok((r.params, r.attempt, Some(r.of))),
                None => self.suggest().await.map(|p| (p, 0, None)),
            };
            match next {
                Ok((params, attempt, retry_of)) => {
                    if let Err(err) = self.launch(params, attempt, retry_of) {
                        self.fail(err);
                    }
                }
                Err(SchedulerError::Search(SearchError::Exhausted { total })) => {
                    tracing::info!(total, "the searcher has proposed every point");
                    self.stop_proposing(StopReason::Exhausted);
                }
                Err(err) => self.fail(err),
            }
        }
    }

    async fn suggest(&self) -> Result<Params, SchedulerError> {
        let history = trial_task::snapshot(&self.history);
        let number = history.trials.last().map_or(0, |t| t.number + 1);
        let searcher = Arc::clone(&self.s.searcher);
        let space = self.s.config.space.clone();
        let seed = self.s.config.seed;
        tokio::task::spawn_blocking(move || {
            let mut searcher = searcher.lock().unwrap_or_else(PoisonError::into_inner);
            let mut rng = suggestion_rng(seed, number);
            searcher.suggest(&space, &history, &mut rng)
        })
        .await
        .map_err(|e| SchedulerError::Runtime(format!("the searcher panicked: {e}")))?
        .map_err(SchedulerError::Search)
    }

    fn launch(
        &mut self,
        params: Params,
        attempt: u32,
        retry_of: Option<u64>,
    ) -> Result<(), SchedulerError> {
        let Some(slot) = self.free_slots.pop() else {
            return Ok(());
        };
        let cfg = &self.s.config;
        let device = cfg.slots.get(slot).copied().unwrap_or(Device::Cpu);
        let trial = self.s.storage.create_trial(
            &cfg.study,
            NewTrial {
                params,
                attempt,
                retry_of,
                device: Some(device.to_string()),
                worker: cfg.worker.clone(),
            },
        );
        let trial = match trial {
            Ok(t) => t,
            Err(e) => {
                self.free_slots.push(slot);
                return Err(e.into());
            }
        };
        trial_task::update(&self.history, |h| h.upsert(trial.observation()));
        let cancel = Arc::new(watch::Sender::new(false));
        let reporter = trial_task::reporter(
            Arc::clone(&self.s.storage),
            Arc::clone(&self.history),
            Arc::clone(&self.s.pruner),
            cfg.study.clone(),
            trial.number,
            cancel.subscribe(),
        );
        let ctx = TrialContext {
            study: cfg.study.clone(),
            number: trial.number,
            attempt,
            params: trial.params.clone(),
            device,
            log_dir: cfg.log_dir.clone(),
            reporter,
        };
        let handle = self.tasks.spawn(trial_task::run_trial(
            Arc::clone(&self.s.runner),
            ctx,
            Arc::clone(&cancel),
            cfg.trial_timeout,
        ));
        self.task_numbers.insert(handle.id(), trial.number);
        self.running.insert(
            trial.number,
            RunningTrial {
                slot,
                cancel,
                interrupted: None,
            },
        );
        self.started += 1;
        self.counts.running = self.running.len();
        self.emit(SweepEvent::Started {
            trial,
            progress: self.counts.clone(),
        });
        Ok(())
    }

    fn on_task_end(&mut self, res: Result<(tokio::task::Id, TaskEnd), tokio::task::JoinError>) {
        let (number, outcome, timed_out) = match res {
            Ok((id, end)) => {
                self.task_numbers.remove(&id);
                (end.number, end.outcome, end.timed_out)
            }
            Err(err) => {
                let Some(number) = self.task_numbers.remove(&err.id()) else {
                    return;
                };
                (
                    number,
                    RunOutcome::Failed(format!("the runner panicked: {err}")),
                    false,
                )
            }
        };
        let Some(run) = self.running.remove(&number) else {
            return;
        };
        self.free_slots.push(run.slot);
        let outcome = self.stored_outcome(number, outcome, timed_out, run.interrupted);
        let trial = match self
            .s
            .storage
            .finish_trial(&self.s.config.study, number, outcome)
        {
            Ok(t) => t,
            Err(err) => {
                self.fail(err.into());
                return;
            }
        };
        trial_task::update(&self.history, |h| h.upsert(trial.observation()));
        self.account(&trial);
        self.emit(SweepEvent::Finished {
            trial,
            progress: self.counts.clone(),
        });
    }

    /// Turns what the runner said into what is stored.
    fn stored_outcome(
        &self,
        number: u64,
        outcome: RunOutcome,
        timed_out: bool,
        interrupted: Option<String>,
    ) -> TrialOutcome {
        let failed = |reason: String| TrialOutcome {
            state: TrialState::Failed,
            value: None,
            error: Some(reason),
        };
        match outcome {
            RunOutcome::Complete(v) if v.is_finite() && !timed_out => TrialOutcome {
                state: TrialState::Complete,
                value: Some(v),
                error: None,
            },
            _ if timed_out => failed(format!(
                "timed out after {:?}",
                self.s.config.trial_timeout.unwrap_or_default()
            )),
            _ if interrupted.is_some() => failed(interrupted.unwrap_or_default()),
            RunOutcome::Complete(v) => failed(format!("reported non-finite value {v}")),
            RunOutcome::Pruned => {
                let history = trial_task::snapshot(&self.history);
                let last = history
                    .trials
                    .binary_search_by_key(&number, |t| t.number)
                    .ok()
                    .and_then(|i| history.trials[i].last_intermediate());
                TrialOutcome {
                    state: TrialState::Pruned,
                    value: last.map(|(_, v)| v),
                    error: last.map(|(step, _)| format!("pruned at step {step}")),
                }
            }
            RunOutcome::Failed(reason) => failed(reason),
        }
    }

    /// Budget, failure streak, target.
    fn account(&mut self, trial: &Trial) {
        let cfg = &self.s.config;
        self.budget.account(trial);
        tally(&mut self.counts, trial, cfg.direction);
        self.counts.counted = self.budget.counted();
        self.counts.running = self.running.len();
        match trial.state {
            TrialState::Failed if !is_interrupted(trial) => {
                self.consecutive_failures += 1;
                self.last_failure = format!(
                    "trial {}: {}",
                    trial.number,
                    trial.error.as_deref().unwrap_or("unknown error")
                );
                tracing::warn!("{}", self.last_failure);
                let limit = cfg.max_consecutive_failures;
                if limit > 0 && self.consecutive_failures >= limit && self.fatal.is_none() {
                    self.proposing = false;
                    self.fatal = Some(SchedulerError::TooManyFailures {
                        count: self.consecutive_failures,
                        last: self.last_failure.clone(),
                    });
                }
            }
            TrialState::Complete | TrialState::Pruned => self.consecutive_failures = 0,
            _ => {}
        }
        if let (Some(target), Some(v), TrialState::Complete) =
            (cfg.target, trial.value, trial.state)
            && reaches_target(cfg.direction, v, target)
        {
            tracing::info!(trial = trial.number, value = v, target, "target reached");
            self.stop_proposing(StopReason::Target);
        }
    }

    fn heartbeat(&self) {
        for &number in self.running.keys() {
            if let Err(err) = self.s.storage.heartbeat(&self.s.config.study, number) {
                tracing::debug!(trial = number, %err, "heartbeat not recorded");
            }
        }
    }

    fn emit(&self, event: SweepEvent) {
        if let Some(observer) = &self.s.observer {
            observer(&event);
        }
    }
}

/// Adds a trial to the progress counters (finished states only).
fn tally(p: &mut Progress, t: &Trial, direction: Direction) {
    match t.state {
        TrialState::Running => {}
        TrialState::Complete => {
            p.complete += 1;
            if let Some(v) = t.value.filter(|v| v.is_finite())
                && p.best.is_none_or(|b| direction.is_better(v, b))
            {
                p.best = Some(v);
            }
        }
        TrialState::Pruned => p.pruned += 1,
        TrialState::Failed => p.failed += 1,
    }
}

/// The best complete trial of the study, read back from storage.
fn snapshot_best(
    storage: &Arc<dyn Storage>,
    cfg: &SchedulerConfig,
) -> Result<Option<Trial>, SchedulerError> {
    Ok(best_trial(&storage.trials(&cfg.study)?, cfg.direction))
}

/// The best complete trial with a finite value.
pub fn best_trial(trials: &[Trial], direction: Direction) -> Option<Trial> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| {
            t.value
                .filter(|v| v.is_finite())
                .map(|v| (t, direction.loss(v)))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| t.clone())
}

#[cfg(test)]
mod tests;
