//! Worker slots as threads, for runners whose trial is one synchronous call
//! ([`Runner::as_blocking`](crate::Runner::as_blocking): a Rust closure).
//!
//! Through trial tasks, a trial of a synchronous closure crosses threads
//! four times: the claim and the record on the sweep's task, the call on
//! the blocking pool, a wake-up of the sweep's task for each end. For a
//! trivial objective those hand-offs (futex waits, context switches) were
//! most of the cost of a trial: 10,000 trials took 0.3 to 0.6 s where
//! rustuna, on one thread, takes 0.03 s (issue 10, `docs/benchmarks.md`).
//!
//! Here each worker slot is a thread (from tokio's blocking pool) that
//! claims a trial, runs it, records its end and claims the next, all on
//! that thread; the sweep's state ([`Sweep`]) sits behind one mutex that
//! the slot threads take between calls, never during one. The decisions
//! are the task path's own methods (claim, budget, retries, failure streak,
//! target, the observer), so both paths decide alike. The sweep's task only
//! supervises: stop requests, the sweep's timeout, each trial's timeout,
//! heartbeats, and the end of the slot threads.
//!
//! What differs, and why it is safe:
//! - a slot thread makes its own claim durable (`persist_claims`) and
//!   records its own end, outside the mutex. A store whose sync costs the
//!   same for one trial as for several ([`Storage::syncs_in_batches`]:
//!   sled's fsync) keeps the task path when a sweep has several slots,
//!   where trials that start or end together share one sync;
//! - a call cannot be stopped from outside, so a cancelled trial (second
//!   stop, the sweep's timeout, an error, its own `trial_timeout`) is
//!   recorded at once by whoever cancels it, as the task path records it
//!   (its reporter answers `Prune` from then on). When the call returns, its
//!   thread finds the trial gone, drops the result and ends; a slot whose
//!   trial timed out while the sweep goes on gets a new thread at once, as
//!   a task's slot is freed at once;
//! - while other processes' trials hold the budget, a slot thread waits on
//!   a condition variable, woken when a trial of this process ends or after
//!   `poll_every`, where the task path waits for either event likewise.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::sweep::Sweep;
use super::{SchedulerError, StopLevel, StopReason, SweepSummary};
use crate::runner::{Device, RunOutcome, Runner};
use crate::storage::Storage;

/// The sweep and the slot threads' own counts, behind one mutex.
struct State {
    sweep: Sweep,
    /// Slot threads outside a trial's call (claiming, recording, waiting);
    /// a thread inside a call is accounted for by its running trial, and
    /// one whose trial was cancelled is no longer waited for.
    busy: usize,
    /// Slot threads waiting while the budget is held.
    waiting: usize,
}

struct Shared {
    state: Mutex<State>,
    /// The end of the sweep's wall-clock time, if it has one.
    deadline: Option<Instant>,
    /// Wakes slot threads waiting while the budget is held.
    wake: Condvar,
    /// Tells the supervisor a slot thread ended.
    ended: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every slot thread catches the panics of its calls, so a poisoned
        // lock means a bug in the bookkeeping; the state is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the waiting slot threads, if any: a trial ended, the budget
    /// may have freed up, or the sweep is stopping.
    fn wake_waiting(&self, state: &State) {
        if state.waiting > 0 {
            self.wake.notify_all();
        }
    }

    /// Applies a stop request and the sweep's timeout, as the task path's
    /// loop does before each round of claims; every slot thread checks
    /// before its claim, so a drain takes effect at once, not when the
    /// supervisor next wakes.
    fn check_stop(&self, state: &mut State) {
        let level = state.sweep.s.stop.level();
        if level >= StopLevel::Drain {
            state.sweep.stop_proposing(StopReason::Stopped);
        }
        if level >= StopLevel::Cancel {
            state.sweep.cancel_all("interrupted: the sweep was stopped");
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            state.sweep.stop_proposing(StopReason::Timeout);
            state
                .sweep
                .cancel_all("interrupted: the sweep's timeout passed");
        }
    }
}

/// Runs the sweep with one thread per worker slot, this task supervising.
pub(super) async fn run(mut sweep: Sweep) -> Result<SweepSummary, SchedulerError> {
    sweep.on_slot_threads = true;
    let cfg = sweep.s.config.clone();
    let n_slots = cfg.slots.len().max(1);
    let deadline = cfg.timeout.map(|d| Instant::now() + d);
    let shared = Arc::new(Shared {
        deadline,
        state: Mutex::new(State {
            sweep,
            busy: 0,
            waiting: 0,
        }),
        wake: Condvar::new(),
        ended: Notify::new(),
    });
    {
        let mut state = shared.lock();
        for slot in 0..n_slots {
            spawn_slot(&shared, &mut state, slot);
        }
    }
    let mut stop_rx = shared.lock().sweep.s.stop.subscribe();
    let mut heartbeat = tokio::time::interval(cfg.heartbeat_every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let trial_deadline = {
            let mut state = shared.lock();
            stop_rx.borrow_and_update();
            shared.check_stop(&mut state);
            let trial_deadline = cfg
                .trial_timeout
                .map(|limit| time_out_late_trials(&shared, &mut state, limit));
            shared.wake_waiting(&state);
            if state.busy == 0 && state.sweep.running.is_empty() {
                break;
            }
            trial_deadline
        };
        let sleep_until = |at: Option<Instant>| async move {
            match at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shared.ended.notified() => {}
            _ = stop_rx.changed() => {}
            () = sleep_until(deadline) => {}
            () = sleep_until(trial_deadline) => {}
            _ = heartbeat.tick() => shared.lock().sweep.heartbeat(),
        }
    }
    shared.lock().sweep.summary()
}

/// Records the trials that have run past `limit` as timed out (giving their
/// slots new threads while the sweep proposes), and returns when the next
/// check is due: the earliest end of a running trial's time, or `limit`
/// from now when none runs (a trial starting later ends later).
fn time_out_late_trials(
    shared: &Arc<Shared>,
    state: &mut State,
    limit: std::time::Duration,
) -> Instant {
    let now = Instant::now();
    let late: Vec<(u64, usize)> = state
        .sweep
        .running
        .iter()
        .filter(|(_, r)| r.since.is_some_and(|since| since + limit <= now))
        .map(|(&n, r)| (n, r.slot))
        .collect();
    for (number, slot) in late {
        state.sweep.time_out(number);
        if state.sweep.proposing {
            spawn_slot(shared, state, slot);
        }
    }
    state
        .sweep
        .running
        .values()
        .filter_map(|r| r.since.map(|since| since + limit))
        .min()
        .unwrap_or(now + limit)
}

/// Starts the thread of `slot`.
fn spawn_slot(shared: &Arc<Shared>, state: &mut State, slot: usize) {
    state.busy += 1;
    let shared = Arc::clone(shared);
    let s = &state.sweep.s;
    let device = s.config.slots.get(slot).copied().unwrap_or(Device::Cpu);
    let runner = Arc::clone(&s.runner);
    let storage = Arc::clone(&s.storage);
    let study = s.config.study.clone();
    let poll_every = s.config.poll_every;
    tokio::task::spawn_blocking(move || {
        let slot = SlotThread {
            shared: &shared,
            runner: runner.as_ref(),
            storage: storage.as_ref(),
            study: &study,
            slot,
            device,
            poll_every,
        };
        slot.run();
        shared.ended.notify_one();
    });
}

/// A panic's message, when it is text.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_owned())
}

/// One slot's thread: claim, run, record, until the sweep stops proposing.
struct SlotThread<'a> {
    shared: &'a Shared,
    runner: &'a dyn Runner,
    storage: &'a dyn Storage,
    study: &'a str,
    slot: usize,
    device: Device,
    poll_every: std::time::Duration,
}

impl SlotThread<'_> {
    /// Runs the trial's call. A runner should catch its own panics; one
    /// that does not still fails only its trial, never the slot's thread
    /// (which would leave the trial running and the sweep waiting for it).
    fn run_call(&self, ctx: &crate::runner::TrialContext) -> RunOutcome {
        let call = AssertUnwindSafe(|| match self.runner.as_blocking() {
            Some(runner) => runner.run_blocking(ctx),
            None => RunOutcome::Failed("the runner has no synchronous form".to_owned()),
        });
        std::panic::catch_unwind(call).unwrap_or_else(|payload| {
            RunOutcome::Failed(format!(
                "the runner panicked: {}",
                panic_text(payload.as_ref())
            ))
        })
    }

    fn run(&self) {
        let mut state = self.shared.lock();
        let job = state.sweep.claim_job(self.device);
        loop {
            self.shared.check_stop(&mut state);
            if !state.sweep.proposing {
                break;
            }
            if state.sweep.held {
                state.waiting += 1;
                let (guard, _) = self
                    .shared
                    .wake
                    .wait_timeout(state, self.poll_every)
                    .unwrap_or_else(PoisonError::into_inner);
                state = guard;
                state.waiting -= 1;
                // Woken by an end or by the poll: try again.
                state.sweep.held = false;
                continue;
            }
            let Some(trial) = state.sweep.claim_here(&job) else {
                // Spent, held, exhausted or failed: the loop's checks say.
                self.shared.wake_waiting(&state);
                continue;
            };
            let number = trial.number;
            // No trial's work starts before its record is durable.
            drop(state);
            let persisted = self.storage.persist_claims();
            state = self.shared.lock();
            if let Err(err) = persisted {
                tracing::warn!(trial = number, "not started: its claim is not durable");
                state.sweep.fail(err.into());
                break;
            }
            let (ctx, _cancel, _evaluations) = state.sweep.register(trial, self.slot, self.device);
            if let Some(why) = state.sweep.cancelled_all.clone() {
                // Every trial was cancelled while this claim was made
                // durable: this one is recorded interrupted, not run.
                state.sweep.cancel_all(&why);
                continue;
            }
            state.busy -= 1;
            drop(state);
            let outcome = self.run_call(&ctx);
            drop(ctx);
            state = self.shared.lock();
            let Some(stored) = state.sweep.end_one(number, outcome, false) else {
                // Cancelled while it ran, and recorded then; this thread is
                // no longer waited for (its slot has a new one if the sweep
                // goes on).
                return;
            };
            state.busy += 1;
            drop(state);
            let result = self
                .storage
                .finish_trial(self.study, number, stored.clone());
            state = self.shared.lock();
            state.sweep.record([((number, stored), result)]);
            self.shared.wake_waiting(&state);
        }
        state.busy -= 1;
        self.shared.wake_waiting(&state);
    }
}
