//! The loop of one [`Scheduler::run`]: fill free slots with claimed trials,
//! record each trial's end, beat the heartbeats, and stop when told.

use std::collections::HashMap;
use std::sync::Arc;

use hypersweep_search::{SearchError, SearchSpace, TrialState, position_by_number};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::claim::{ClaimJob, Claimed};
use super::offload::CostGauge;
use super::trial_task::{self, TaskEnd};
use super::{
    Progress, REAPED_REASON, Scheduler, SchedulerError, StopLevel, StopReason, SweepEvent,
    SweepSummary, is_interrupted, reaches_target,
};
use crate::budget::Budget;
use crate::cache::StudyCache;
use crate::error::StorageError;
use crate::runner::{Device, RunOutcome, TrialContext};
use crate::storage::{NewTrial, Staleness, blocking};
use crate::trial::{Trial, TrialOutcome};

pub(super) struct RunningTrial {
    pub slot: usize,
    cancel: Arc<watch::Sender<bool>>,
    /// Set when the scheduler cancelled it (Ctrl-C, sweep timeout).
    interrupted: Option<String>,
    /// When it started, under a `trial_timeout` (slot threads time trials
    /// out from this).
    pub since: Option<Instant>,
}

/// The state of one run of [`Scheduler::run`].
pub(super) struct Sweep {
    pub(super) s: Scheduler,
    /// `None` only while a claim has it on the blocking pool.
    cache: Option<StudyCache>,
    free_slots: Vec<usize>,
    pub(super) running: HashMap<u64, RunningTrial>,
    tasks: JoinSet<TaskEnd>,
    task_numbers: HashMap<tokio::task::Id, u64>,
    pub(super) proposing: bool,
    /// Other processes' running trials hold the rest of the budget.
    pub(super) held: bool,
    /// Trials run on slot threads (`slot_threads.rs`): a cancelled trial is
    /// recorded at once, since its call cannot be stopped.
    pub(super) on_slot_threads: bool,
    /// Set once every running trial was cancelled (second stop, timeout,
    /// error): a trial claimed meanwhile is recorded interrupted, not run.
    pub(super) cancelled_all: Option<String>,
    reason: Option<StopReason>,
    fatal: Option<SchedulerError>,
    consecutive_failures: u32,
    last_failure: String,
    started: u64,
    reaped: usize,
    /// Shared with every claim instead of cloned into it.
    space: Arc<SearchSpace>,
    /// Whether claims and finishes may run on this task (`offload.rs`).
    claim_cost: CostGauge,
    finish_cost: CostGauge,
}

impl Sweep {
    pub(super) async fn start(s: Scheduler) -> Result<Self, SchedulerError> {
        let cfg = &s.config;
        // A store that one process owns: every worker trial still Running
        // was left by a dead process. Elsewhere only stale ones are.
        let staleness = if s.storage.is_exclusive() {
            Staleness {
                after: std::time::Duration::ZERO,
                ..cfg.staleness
            }
        } else {
            cfg.staleness
        };
        let reaped = blocking(|| s.storage.reap_stale(&cfg.study, staleness, REAPED_REASON))?;
        if !reaped.is_empty() {
            tracing::info!(
                count = reaped.len(),
                "marked trials left running by a stopped process as failed"
            );
        }
        let mut cache = new_cache(cfg);
        blocking(|| s.storage.catch_up(&cfg.study, &mut cache))?;
        let n_slots = cfg.slots.len().max(1);
        Ok(Sweep {
            cache: Some(cache),
            free_slots: (0..n_slots).rev().collect(),
            running: HashMap::new(),
            tasks: JoinSet::new(),
            task_numbers: HashMap::new(),
            proposing: true,
            held: false,
            on_slot_threads: false,
            cancelled_all: None,
            reason: None,
            fatal: None,
            consecutive_failures: 0,
            last_failure: String::new(),
            started: 0,
            reaped: reaped.len(),
            space: Arc::new(cfg.space.clone()),
            claim_cost: CostGauge::default(),
            finish_cost: CostGauge::default(),
            s,
        })
    }

    fn cache(&self) -> &StudyCache {
        self.cache
            .as_ref()
            .expect("the cache is back from its claim")
    }

    fn cache_mut(&mut self) -> &mut StudyCache {
        self.cache
            .as_mut()
            .expect("the cache is back from its claim")
    }

    pub(super) async fn run(mut self) -> Result<SweepSummary, SchedulerError> {
        let mut stop_rx = self.s.stop.subscribe();
        let deadline = self.s.config.timeout.map(|d| Instant::now() + d);
        let mut heartbeat = tokio::time::interval(self.s.config.heartbeat_every);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut poll = tokio::time::interval(self.s.config.poll_every);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
            if !self.held {
                self.fill_slots().await;
            }
            if self.running.is_empty() && !self.proposing {
                break;
            }
            let sleep_deadline = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let held = self.held;
            tokio::select! {
                Some(res) = self.tasks.join_next_with_id() => {
                    // Trials that ended meanwhile are recorded with it: on a
                    // store that flushes, they share one flush.
                    let mut ended = vec![res];
                    while let Some(more) = self.tasks.try_join_next_with_id() {
                        ended.push(more);
                    }
                    self.on_tasks_end(ended);
                }
                _ = stop_rx.changed() => {}
                () = sleep_deadline => {}
                _ = heartbeat.tick() => self.heartbeat(),
                _ = poll.tick(), if held => self.held = false,
            }
        }
        self.summary()
    }

    /// What the sweep ended with.
    pub(super) fn summary(&mut self) -> Result<SweepSummary, SchedulerError> {
        if let Some(err) = self.fatal.take() {
            return Err(err);
        }
        let cache = self
            .cache
            .as_ref()
            .expect("the cache is back from its claim");
        Ok(SweepSummary {
            reason: self.reason.unwrap_or(StopReason::Budget),
            counted: cache.budget().counted(),
            started: self.started,
            reaped: self.reaped,
            best: cache.best().cloned(),
        })
    }

    pub(super) fn stop_proposing(&mut self, reason: StopReason) {
        if self.proposing {
            self.proposing = false;
            self.reason = Some(reason);
        }
    }

    /// Cancels every running trial. A trial on a slot thread is recorded
    /// interrupted at once (its call goes on, and its result is dropped); a
    /// trial task is recorded when its runner returns, which a runner must
    /// do soon once cancelled.
    pub(super) fn cancel_all(&mut self, why: &str) {
        self.cancelled_all.get_or_insert_with(|| why.to_owned());
        for r in self.running.values_mut() {
            if r.interrupted.is_none() {
                r.interrupted = Some(why.to_owned());
                r.cancel.send_replace(true);
            }
        }
        if self.on_slot_threads {
            let numbers: Vec<u64> = self.running.keys().copied().collect();
            let ended = numbers
                .into_iter()
                .map(|n| (n, RunOutcome::Failed("cancelled".to_owned()), false));
            self.end_and_record(ended);
        }
    }

    /// Cancels trial `number` on a slot thread for running past
    /// `trial_timeout`, and records it so.
    pub(super) fn time_out(&mut self, number: u64) {
        if let Some(r) = self.running.get(&number) {
            r.cancel.send_replace(true);
        }
        self.end_and_record([(number, RunOutcome::Failed("cancelled".to_owned()), true)]);
    }

    pub(super) fn fail(&mut self, err: SchedulerError) {
        tracing::error!(%err, "sweep stopping");
        self.proposing = false;
        self.fatal.get_or_insert(err);
        self.cancel_all("interrupted: the sweep stopped on an error");
    }

    /// Claims and starts trials while a slot is free and the budget allows.
    async fn fill_slots(&mut self) {
        let claimed = self.claim_free_slots().await;
        if claimed.is_empty() {
            return;
        }
        // No trial's work starts before its record is durable; one sync
        // covers every claim of this round (sled: one fsync, not one each).
        let storage = Arc::clone(&self.s.storage);
        if let Err(err) = blocking(|| storage.persist_claims()) {
            for (trial, slot, _) in claimed {
                self.free_slots.push(slot);
                tracing::warn!(
                    trial = trial.number,
                    "not started: its claim is not durable"
                );
            }
            return self.fail(err.into());
        }
        for (trial, slot, device) in claimed {
            self.launch(trial, slot, device);
        }
    }

    /// Claims a trial for each free slot while the budget and the searcher
    /// allow; the slots are taken, the trials not started yet.
    async fn claim_free_slots(&mut self) -> Vec<(Trial, usize, Device)> {
        let mut started = Vec::new();
        while self.proposing && !self.free_slots.is_empty() {
            let slot = self.free_slots.len() - 1;
            let slot = self.free_slots[slot];
            let device = self
                .s
                .config
                .slots
                .get(slot)
                .copied()
                .unwrap_or(Device::Cpu);
            let job = self.claim_job(device);
            let Some(cache) = self.cache.take() else {
                break;
            };
            let claimed = match job.run(cache, &mut self.claim_cost).await {
                Ok((cache, claimed)) => {
                    self.cache = Some(cache);
                    claimed
                }
                Err(err) => {
                    // The cache was lost with the panicking claim: start over.
                    self.cache = Some(self.fresh_cache());
                    Err(err)
                }
            };
            match self.on_claimed(claimed) {
                Some(trial) => {
                    self.free_slots.pop();
                    started.push((trial, slot, device));
                }
                None if self.held => break,
                None => {}
            }
        }
        started
    }

    /// The trial a claim gave, if any; otherwise what its answer means for
    /// the sweep (stop proposing, wait while held, fail).
    pub(super) fn on_claimed(&mut self, claimed: Result<Claimed, SchedulerError>) -> Option<Trial> {
        {
            match claimed {
                Ok(Claimed::Trial(trial)) => return Some(*trial),
                Ok(Claimed::Spent) => self.stop_proposing(StopReason::Budget),
                Ok(Claimed::Held) => self.held = true,
                Ok(Claimed::HeldByAsked(asked)) if self.running.is_empty() => {
                    // Waiting could take until the ask timeout (a day):
                    // stop, and let the `tell`s complete the budget.
                    tracing::warn!(
                        asked,
                        "the rest of the budget is held by asked trials; `tell` their results to complete it"
                    );
                    self.stop_proposing(StopReason::Budget);
                }
                Ok(Claimed::HeldByAsked(_)) => self.held = true,
                Ok(Claimed::Declined(SearchError::Exhausted { total })) => {
                    tracing::info!(total, "the searcher has proposed every point");
                    self.stop_proposing(StopReason::Exhausted);
                }
                Ok(Claimed::Declined(err)) => self.fail(SchedulerError::Search(err)),
                Err(err) => self.fail(err),
            }
        }
        None
    }

    pub(super) fn claim_job(&self, device: Device) -> ClaimJob {
        ClaimJob {
            storage: Arc::clone(&self.s.storage),
            study: self.s.config.study.clone(),
            searcher: Arc::clone(&self.s.searcher),
            space: Arc::clone(&self.space),
            seed: self.s.config.seed,
            repeats: self.s.config.repeats,
            plan: self.s.config.plan.clone(),
            template: NewTrial {
                device: Some(device.to_string()),
                worker: self.s.config.worker.clone(),
                ..NewTrial::new(Default::default())
            },
        }
    }

    /// A cache to start over with, after one was lost with a panicking
    /// claim: the next claim reads the whole study again.
    fn fresh_cache(&self) -> StudyCache {
        new_cache(&self.s.config)
    }

    /// Claims a trial on this thread for a slot thread (`slot_threads.rs`,
    /// which keeps its slot's `job`), with what its answer means for the
    /// sweep handled as for a task.
    pub(super) fn claim_here(&mut self, job: &ClaimJob) -> Option<Trial> {
        let Some(cache) = self.cache.as_mut() else {
            // Only a claim sent to the blocking pool takes the cache away,
            // and slot threads never send one there.
            self.fail(SchedulerError::Runtime(
                "the study's cache is missing".into(),
            ));
            return None;
        };
        let claimed = match job.run_here(cache) {
            Ok(claimed) => claimed,
            Err(err) => {
                self.cache = Some(self.fresh_cache());
                Err(err)
            }
        };
        self.on_claimed(claimed)
    }

    fn launch(&mut self, trial: Trial, slot: usize, device: Device) {
        let (ctx, cancel, evaluations) = self.register(trial, slot, device);
        let number = ctx.number;
        let handle = self.tasks.spawn(trial_task::run_trial(
            Arc::clone(&self.s.runner),
            ctx,
            evaluations,
            cancel,
            self.s.config.trial_timeout,
        ));
        self.task_numbers.insert(handle.id(), number);
    }

    /// Records a claimed trial as running in `slot` and tells the observer;
    /// returns what its runner gets, the sender that cancels it, and its
    /// evaluations (its seeds; a slot thread runs only the first, as it
    /// runs only studies of one evaluation per trial).
    pub(super) fn register(
        &mut self,
        trial: Trial,
        slot: usize,
        device: Device,
    ) -> (
        TrialContext,
        Arc<watch::Sender<bool>>,
        trial_task::Evaluations,
    ) {
        let cfg = &self.s.config;
        let cancel = Arc::new(watch::Sender::new(false));
        let reporter = trial_task::reporter(
            Arc::clone(&self.s.storage),
            self.cache().shared_history(),
            Arc::clone(&self.s.pruner),
            cfg.study.clone(),
            trial.number,
            cancel.subscribe(),
        );
        // A trial stored before seeds existed gets the seeds its number
        // (or, for a retry, the retried trial's) would have been given.
        let seeds = if trial.seeds.is_empty() {
            super::trial_seeds(
                cfg.seed,
                trial.retry_of.unwrap_or(trial.number),
                cfg.repeats,
            )
        } else {
            trial.seeds.clone()
        };
        let ctx = TrialContext {
            study: cfg.study.clone(),
            number: trial.number,
            attempt: trial.attempt,
            seed: seeds[0],
            repeat: 0,
            params: trial.params.clone(),
            device,
            log_dir: cfg.log_dir.clone(),
            reporter,
        };
        let evaluations = trial_task::Evaluations {
            seeds,
            done: trial
                .repeats
                .as_ref()
                .map(|r| r.values.clone())
                .unwrap_or_default(),
            storage: Arc::clone(&self.s.storage),
        };
        self.running.insert(
            trial.number,
            RunningTrial {
                slot,
                cancel: Arc::clone(&cancel),
                interrupted: None,
                since: cfg.trial_timeout.map(|_| Instant::now()),
            },
        );
        self.started += 1;
        if self.s.observer.is_some() {
            let progress = self.progress();
            self.emit(SweepEvent::Started { trial, progress });
        }
        (ctx, cancel, evaluations)
    }

    fn on_tasks_end(
        &mut self,
        ended: Vec<Result<(tokio::task::Id, TaskEnd), tokio::task::JoinError>>,
    ) {
        let mut runs = Vec::with_capacity(ended.len());
        for res in ended {
            runs.push(match res {
                Ok((id, end)) => {
                    self.task_numbers.remove(&id);
                    (end.number, end.outcome, end.timed_out)
                }
                Err(err) => {
                    let Some(number) = self.task_numbers.remove(&err.id()) else {
                        continue;
                    };
                    (
                        number,
                        RunOutcome::Failed(format!("the runner panicked: {err}")),
                        false,
                    )
                }
            });
        }
        self.end_and_record(runs);
    }

    /// Ends and records trials whose runs ended with (number, outcome, timed
    /// out), all from this thread.
    fn end_and_record(&mut self, runs: impl IntoIterator<Item = (u64, RunOutcome, bool)>) {
        let outcomes = self.end(runs);
        if outcomes.is_empty() {
            return;
        }
        let kept = outcomes.clone();
        let storage = Arc::clone(&self.s.storage);
        let study = self.s.config.study.clone();
        let finish = || storage.finish_trials(&study, outcomes);
        let results = if self.finish_cost.inline() {
            self.finish_cost.measure(finish)
        } else {
            let cost = &mut self.finish_cost;
            blocking(|| cost.measure(finish))
        };
        self.record(kept.into_iter().zip(results));
    }

    /// Takes trials whose runs ended off the running ones and frees their
    /// slots; returns what is to be stored for each (none for a trial no
    /// longer running: recorded already when it was cancelled).
    pub(super) fn end(
        &mut self,
        runs: impl IntoIterator<Item = (u64, RunOutcome, bool)>,
    ) -> Vec<(u64, TrialOutcome)> {
        runs.into_iter()
            .filter_map(|(number, outcome, timed_out)| {
                self.end_one(number, outcome, timed_out)
                    .map(|stored| (number, stored))
            })
            .collect()
    }

    /// [`Sweep::end`] for one trial: what to store, or `None` when it is no
    /// longer running.
    pub(super) fn end_one(
        &mut self,
        number: u64,
        outcome: RunOutcome,
        timed_out: bool,
    ) -> Option<TrialOutcome> {
        let run = self.running.remove(&number)?;
        if !self.on_slot_threads {
            // Slot threads keep their slots.
            self.free_slots.push(run.slot);
        }
        // A slot came free: a claim may succeed again.
        self.held = false;
        Some(self.stored_outcome(number, outcome, timed_out, run.interrupted))
    }

    /// Takes what the store answered to the finish of each outcome: the
    /// cache, the failure streak and target, the observer.
    pub(super) fn record(
        &mut self,
        finished: impl IntoIterator<Item = ((u64, TrialOutcome), Result<Trial, StorageError>)>,
    ) {
        for ((number, outcome), result) in finished {
            let trial = match result {
                Ok(t) => t,
                Err(StorageError::AlreadyFinished { .. }) => {
                    // Reaped by another process that took this one for dead
                    // (its heartbeats were late): the store keeps the reaped
                    // record, and the sweep goes on.
                    tracing::warn!(
                        trial = number,
                        "the trial was reaped as stale before it ended; its result is dropped"
                    );
                    let (storage, study) = (&self.s.storage, &self.s.config.study);
                    match blocking(|| storage.trial(study, number)) {
                        Ok(t) => t,
                        Err(err) => {
                            self.fail(err.into());
                            continue;
                        }
                    }
                }
                Err(err) => {
                    // Disk full, I/O error: stop before more results are
                    // lost, and hand this one back with the error so that
                    // it is printed, not lost; the trial stays Running in
                    // the store and the next run re-runs it.
                    let history = self.cache().history();
                    let params = position_by_number(&history.trials, number, |t| t.number)
                        .ok()
                        .map(|i| serde_json::to_string(&history.trials[i].params))
                        .and_then(Result::ok)
                        .unwrap_or_default();
                    tracing::error!(trial = number, %err, ?outcome, %params, "result not stored");
                    self.fail(SchedulerError::Unrecorded {
                        number,
                        outcome: describe_outcome(&outcome),
                        params,
                        source: err,
                    });
                    continue;
                }
            };
            self.cache_mut().apply([&trial]);
            self.account(&trial);
            if self.s.observer.is_some() {
                let progress = self.progress();
                self.emit(SweepEvent::Finished { trial, progress });
            }
        }
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
                let history = self.cache().history();
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

    /// Failure streak and target, from this process's own trials.
    fn account(&mut self, trial: &Trial) {
        let cfg = &self.s.config;
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

    /// Beats for this process's running trials and, on a shared store, reaps
    /// the trials of processes that stopped beating.
    pub(super) fn heartbeat(&mut self) {
        let storage = Arc::clone(&self.s.storage);
        let study = self.s.config.study.clone();
        for &number in self.running.keys() {
            if let Err(err) = blocking(|| storage.heartbeat(&study, number)) {
                tracing::warn!(trial = number, %err, "heartbeat not recorded");
            }
        }
        if storage.is_exclusive() {
            return;
        }
        let staleness = self.s.config.staleness;
        match blocking(|| storage.reap_stale(&study, staleness, REAPED_REASON)) {
            Ok(reaped) if !reaped.is_empty() => {
                for t in &reaped {
                    tracing::warn!(
                        trial = t.number,
                        worker = t.worker.as_deref().unwrap_or("?"),
                        "reaped a trial whose process stopped beating"
                    );
                }
                self.reaped += reaped.len();
                self.held = false;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "looking for stale trials failed"),
        }
    }

    fn progress(&self) -> Progress {
        let cache = self.cache();
        let tally = cache.tally();
        Progress {
            counted: cache.budget().counted(),
            // The search's budget, or a plan's length.
            budget: cache.budget().total(),
            running: self.running.len(),
            complete: tally.complete,
            pruned: tally.pruned,
            failed: tally.failed,
            best: tally.best,
        }
    }

    fn emit(&self, event: SweepEvent) {
        if let Some(observer) = &self.s.observer {
            observer(&event);
        }
    }
}

/// "complete with value 0.25", "failed: exit status 1", for messages.
fn describe_outcome(o: &TrialOutcome) -> String {
    let state = serde_json::to_value(o.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    match (o.value, &o.error) {
        (Some(v), _) => format!("{state} with value {v}"),
        (None, Some(e)) => format!("{state}: {e}"),
        (None, None) => state,
    }
}

/// A fresh cache for this sweep: scoped to its plan's round when it runs a
/// plan (whose length is then the budget), else to the search.
fn new_cache(cfg: &super::SchedulerConfig) -> StudyCache {
    let (total, scope) = match &cfg.plan {
        Some(plan) => (Some(plan.variants.len() as u64), Some(plan.round)),
        None => (cfg.budget, None),
    };
    StudyCache::new(cfg.direction, Budget::new(total, cfg.retry_failed)).scoped(scope)
}
