//! One trial in flight: the reporter that records and prunes, and the task
//! that runs the runner under the trial's timeout.
//!
//! A trial with several seeds (`run.repeats: k`) is one trial with k
//! evaluations, run one after another in its slot: the store, the budget,
//! the claims and the searcher keep seeing one configuration per trial, so
//! workers, resume and budgets work unchanged, and the searcher learns from
//! the mean. Each evaluation's value is recorded as it ends
//! ([`Storage::set_repeats`]); the trial's value is their mean. A trial
//! re-run after it failed part-way (its process died, under
//! `retry_failed`) starts with the values its earlier run recorded and runs
//! only the remaining seeds.
//!
//! Pruning compares like with like by judging only the first evaluation:
//! its reports are the trial's intermediate values, so every trial's curve
//! is one seed's curve, as in a sweep without repeats. A trial pruned there
//! is pruned (its other seeds never run); one that survives runs its other
//! seeds to the end, unjudged, and their reports are not stored (k curves
//! on one step axis would make the pruners compare a mean with single runs).
//! `trial_timeout` limits each evaluation.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use hypersweep_search::History;
use tokio::sync::watch;

use crate::cache::SharedHistory;
use crate::error::StorageError;
use crate::pruner::Pruner;
use crate::runner::{Decision, Reporter, RunOutcome, Runner, TrialContext};
use crate::stats::Sample;
use crate::storage::{Storage, blocking};
use crate::trial::Repeats;

/// Builds the reporter of trial `number`: each report is written to storage,
/// added to the history, and judged by the pruner.
pub(crate) fn reporter(
    storage: Arc<dyn Storage>,
    history: SharedHistory,
    pruner: Arc<dyn Pruner>,
    study: String,
    number: u64,
    cancel: watch::Receiver<bool>,
) -> Reporter {
    let sink = move |step: u64, value: f64| -> Decision {
        match blocking(|| storage.report(&study, number, step, value)) {
            Ok(()) => {}
            // A report after the trial was finished (a closure still running
            // after its trial was cancelled) has nowhere to go: stop it.
            Err(StorageError::AlreadyFinished { .. }) => return Decision::Prune,
            // A failed write is not a verdict on the trial: say so, and let
            // the pruner judge the value as if it had been stored (the
            // trial's final value is written by its finish).
            Err(err) => {
                tracing::warn!(trial = number, step, value, %err, "intermediate value not stored");
            }
        }
        let mut guard = history.lock().unwrap_or_else(PoisonError::into_inner);
        let h = Arc::make_mut(&mut guard);
        let Ok(i) = h.trials.binary_search_by_key(&number, |t| t.number) else {
            return Decision::Continue;
        };
        let curve = &mut h.trials[i].intermediate;
        match curve.binary_search_by_key(&step, |&(s, _)| s) {
            Ok(j) => curve[j].1 = value,
            Err(j) => curve.insert(j, (step, value)),
        }
        let h: &History = h;
        if pruner.should_prune(&h.trials[i], step, h) {
            Decision::Prune
        } else {
            Decision::Continue
        }
    };
    Reporter::new(Arc::new(sink), cancel)
}

/// How long a cancelled runner gets to return before its future is dropped.
const CANCEL_GRACE: Duration = Duration::from_secs(30);

/// What the trial's task hands back.
pub(crate) struct TaskEnd {
    pub number: u64,
    pub outcome: RunOutcome,
    pub timed_out: bool,
}

/// The evaluations of one trial: its seeds, and where their values go.
pub(crate) struct Evaluations {
    pub seeds: Vec<u64>,
    /// Values of the first seeds, finished by an earlier run of the trial.
    pub done: Vec<f64>,
    pub storage: Arc<dyn Storage>,
}

/// Runs the trial once per seed (see the module docs); on `trial_timeout`,
/// cancels an evaluation and waits (a bounded time) for the runner to
/// return.
pub(crate) async fn run_trial(
    runner: Arc<dyn Runner>,
    ctx: TrialContext,
    evaluations: Evaluations,
    cancel: Arc<watch::Sender<bool>>,
    trial_timeout: Option<Duration>,
) -> TaskEnd {
    let number = ctx.number;
    if evaluations.seeds.len() <= 1 {
        let (outcome, timed_out) = run_once(&runner, ctx, &cancel, trial_timeout).await;
        return TaskEnd {
            number,
            outcome,
            timed_out,
        };
    }
    let mut values = evaluations.done;
    values.truncate(evaluations.seeds.len());
    for (i, &seed) in evaluations.seeds.iter().enumerate().skip(values.len()) {
        let mut evaluation = ctx.clone();
        evaluation.seed = seed;
        evaluation.repeat = u32::try_from(i).unwrap_or(u32::MAX);
        // Only the first evaluation is judged (a re-run that starts later
        // has passed that judgement already).
        if i > 0 {
            evaluation.reporter =
                Reporter::new(Arc::new(|_, _| Decision::Continue), cancel.subscribe());
        }
        let (outcome, timed_out) = run_once(&runner, evaluation, &cancel, trial_timeout).await;
        let failed = |reason: String| TaskEnd {
            number,
            outcome: RunOutcome::Failed(format!("evaluation {i} (seed {seed}): {reason}")),
            timed_out,
        };
        match outcome {
            RunOutcome::Complete(v) if v.is_finite() && !timed_out => values.push(v),
            RunOutcome::Complete(v) if !timed_out => {
                return failed(format!("reported non-finite value {v}"));
            }
            RunOutcome::Failed(reason) if !timed_out => return failed(reason),
            // Pruned (first evaluation), timed out or cancelled: the
            // scheduler words it.
            outcome => {
                return TaskEnd {
                    number,
                    outcome,
                    timed_out,
                };
            }
        }
        let record = Repeats::of(values.clone());
        let storage = &evaluations.storage;
        if let Err(err) = blocking(|| storage.set_repeats(&ctx.study, number, record)) {
            tracing::warn!(trial = number, repeat = i, %err, "evaluation's value not stored");
        }
    }
    let mean = Sample::of(&values).map_or(f64::NAN, |s| s.mean);
    TaskEnd {
        number,
        outcome: RunOutcome::Complete(mean),
        timed_out: false,
    }
}

/// One evaluation under the timeout and the cancel signal.
async fn run_once(
    runner: &Arc<dyn Runner>,
    ctx: TrialContext,
    cancel: &Arc<watch::Sender<bool>>,
    trial_timeout: Option<Duration>,
) -> (RunOutcome, bool) {
    let mut cancelled = cancel.subscribe();
    let fut = runner.run(ctx);
    tokio::pin!(fut);
    let timeout = async {
        match trial_timeout {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let mut timed_out = false;
    let outcome = tokio::select! {
        out = &mut fut => out,
        () = timeout => {
            timed_out = true;
            cancel.send_replace(true);
            finish_within_grace(fut).await
        }
        () = wait_cancelled(&mut cancelled) => finish_within_grace(fut).await,
    };
    (outcome, timed_out)
}

/// Resolves once the trial is cancelled (never, if the sender is gone).
async fn wait_cancelled(rx: &mut watch::Receiver<bool>) {
    let cancelled = rx.wait_for(|c| *c).await.is_ok();
    if !cancelled {
        std::future::pending::<()>().await;
    }
}

async fn finish_within_grace(fut: impl std::future::Future<Output = RunOutcome>) -> RunOutcome {
    tokio::time::timeout(CANCEL_GRACE, fut)
        .await
        .unwrap_or_else(|_| RunOutcome::Failed("the runner did not stop when cancelled".into()))
}
