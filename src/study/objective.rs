//! Runners for objectives written as Rust closures.
//!
//! A synchronous closure runs on a thread of its worker slot (see
//! [`Runner::as_blocking`]), never on an async worker, so a training loop may
//! take as long as it likes without starving the scheduler; a panic in it is
//! caught and recorded as the trial's failure. A
//! blocking closure cannot be stopped from outside: when its trial is
//! cancelled the trial is recorded at once, the closure's later reports are
//! refused (they answer `Prune`), and the thread finishes on its own.

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use hypersweep_trials::scheduler::SweepSummary;
use hypersweep_trials::{BlockingRunner, BoxFuture, RunOutcome, Runner, TrialContext};

use super::StudyError;

/// What an objective may return: a value, a `Result` of one, or a
/// [`RunOutcome`] (to say `Pruned` after a report answered
/// [`Decision::Prune`](hypersweep_trials::Decision::Prune)).
pub trait IntoOutcome {
    /// The outcome to record.
    fn into_outcome(self) -> RunOutcome;
}

impl IntoOutcome for f64 {
    fn into_outcome(self) -> RunOutcome {
        RunOutcome::Complete(self)
    }
}

impl IntoOutcome for RunOutcome {
    fn into_outcome(self) -> RunOutcome {
        self
    }
}

impl<E: Display> IntoOutcome for Result<f64, E> {
    fn into_outcome(self) -> RunOutcome {
        match self {
            Ok(v) => RunOutcome::Complete(v),
            Err(e) => RunOutcome::Failed(e.to_string()),
        }
    }
}

/// Runs a synchronous closure per trial: through [`Runner::as_blocking`] on
/// the scheduler's slot threads, or (through [`Runner::run`]) on the
/// blocking pool.
pub(crate) struct ClosureRunner<F>(pub Arc<F>);

impl<F, R> Runner for ClosureRunner<F>
where
    F: Fn(&TrialContext) -> R + Send + Sync + 'static,
    R: IntoOutcome + Send + 'static,
{
    fn run(&self, ctx: TrialContext) -> BoxFuture<RunOutcome> {
        let f = Arc::clone(&self.0);
        Box::pin(async move {
            let reporter = ctx.reporter.clone();
            let work = tokio::task::spawn_blocking(move || f(&ctx).into_outcome());
            tokio::select! {
                joined = work => match joined {
                    Ok(outcome) => outcome,
                    Err(err) => RunOutcome::Failed(panic_message(err)),
                },
                () = reporter.cancelled() => RunOutcome::Failed("cancelled".to_owned()),
            }
        })
    }

    fn as_blocking(&self) -> Option<&dyn BlockingRunner> {
        Some(self)
    }
}

impl<F, R> BlockingRunner for ClosureRunner<F>
where
    F: Fn(&TrialContext) -> R + Send + Sync + 'static,
    R: IntoOutcome + Send + 'static,
{
    fn run_blocking(&self, ctx: &TrialContext) -> RunOutcome {
        match std::panic::catch_unwind(AssertUnwindSafe(|| (self.0)(ctx).into_outcome())) {
            Ok(outcome) => outcome,
            Err(payload) => RunOutcome::Failed(format!(
                "the objective panicked: {}",
                payload_text(payload.as_ref())
            )),
        }
    }
}

/// Runs an async closure per trial on the runtime.
pub(crate) struct AsyncRunner<F>(pub Arc<F>);

impl<F, Fut, R> Runner for AsyncRunner<F>
where
    F: Fn(TrialContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoOutcome + Send + 'static,
{
    fn run(&self, ctx: TrialContext) -> BoxFuture<RunOutcome> {
        let fut = (self.0)(ctx.clone());
        Box::pin(async move {
            // Spawned so that a panic is caught and reported, not propagated
            // into the scheduler.
            let work = tokio::spawn(async move { fut.await.into_outcome() });
            let abort = work.abort_handle();
            tokio::select! {
                joined = work => match joined {
                    Ok(outcome) => outcome,
                    Err(err) => RunOutcome::Failed(panic_message(err)),
                },
                () = ctx.reporter.cancelled() => {
                    abort.abort();
                    RunOutcome::Failed("cancelled".to_owned())
                }
            }
        })
    }
}

/// The failure reason of a task that panicked or was aborted.
fn panic_message(err: tokio::task::JoinError) -> String {
    if !err.is_panic() {
        return format!("the objective's task failed: {err}");
    }
    let payload = err.into_panic();
    format!("the objective panicked: {}", payload_text(payload.as_ref()))
}

/// A panic's message, when it is text.
fn payload_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_owned())
}

/// Runs `run` with `objective` as its runner, blocking the calling thread
/// on a runtime of its own: what [`super::Study::optimize`] and the blocking
/// rounds (`confirm`, `ablate`) share. Refused inside a tokio runtime, where
/// blocking would stall it; `instead` names the async call to use there.
pub(crate) fn block_on_objective<F, R, Fut>(
    what: &str,
    instead: &str,
    objective: F,
    run: impl FnOnce(Arc<dyn Runner>) -> Fut,
) -> Result<SweepSummary, StudyError>
where
    F: Fn(&TrialContext) -> R + Send + Sync + 'static,
    R: IntoOutcome + Send + 'static,
    Fut: Future<Output = Result<SweepSummary, StudyError>>,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(StudyError::Runtime(format!(
            "{what} cannot run inside a tokio runtime; use {instead}"
        )));
    }
    // One async worker: the objective and every slow store or searcher
    // call run on the blocking pool (or the slot threads), so the async
    // side only schedules. A second worker would wake to steal each new
    // trial task, costing more context switches than the scheduling itself
    // (issue 10, docs/benchmarks.md).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| StudyError::Runtime(e.to_string()))?;
    let result = runtime.block_on(run(Arc::new(ClosureRunner(Arc::new(objective)))));
    // Blocking closures of cancelled trials may still run; don't wait.
    runtime.shutdown_background();
    result
}
