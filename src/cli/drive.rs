//! What `run` and `worker` share once the study is open: the command runner,
//! the progress bar, Ctrl-C, the sweep itself and the closing summary.

use std::sync::Arc;

use anyhow::Context;
use hypersweep_trials::scheduler::{Budget, StopReason};
use hypersweep_trials::{BoxFuture, RunOutcome, Runner, StopLevel, Storage, TrialContext};
use tokio::signal::unix::SignalKind;

use super::common::{Location, serve_live};
use super::{EXIT_BAD_INPUT, EXIT_INTERRUPTED, progress};
use hypersweep::{CommandRunner, Study};

/// Runs trials of `study` with its sweep file's command until its budget
/// is spent (counted over every process of the study), the searcher is
/// exhausted, a timeout or target is reached, or Ctrl-C; with `dashboard`,
/// serves the live dashboard on that port meanwhile.
pub fn drive(
    mut study: Study,
    location: &Location,
    what: &str,
    dashboard: Option<u16>,
) -> anyhow::Result<i32> {
    let name = study.name().to_owned();
    let log_dir = location.log_dir(&name);
    let runner = match CommandRunner::builder_from_sweep(study.spec())
        .log_dir(&log_dir)
        .build()
    {
        Ok(r) => r,
        Err(err) => {
            errln!("error: {what}: {err}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    study.config_mut().log_dir = Some(log_dir);
    // `status`, `best` and `export` read a sled store through this while
    // this process owns it.
    let _live = serve_live(location, study.storage());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Some(port) = dashboard {
        super::dashboard::start_for_sweep(&runtime, port, study.storage(), &name)?;
    }
    let budget = study.spec().run.trials;
    let counted =
        Budget::from_trials(&study.trials()?, None, study.spec().run.retry_failed).counted();
    let (observer, bar) = progress::observer(budget, counted);
    study.set_observer(observer);
    let runner = Arc::new(LoggedRunner {
        inner: runner,
        storage: Arc::clone(study.storage()),
    });

    let stop = study.stop_handle();
    let result = runtime.block_on(async {
        // Registered here, before the first trial starts, not inside the
        // task: a task may not have run yet when a Ctrl-C comes, and then
        // the signal's default action kills the process mid-trial.
        let mut interrupts = tokio::signal::unix::signal(SignalKind::interrupt())
            .context("listening for Ctrl-C")?;
        tokio::spawn(async move {
            while interrupts.recv().await.is_some() {
                match stop.escalate() {
                    StopLevel::Drain => errln!(
                        "\nstopping: no new trials; waiting for running ones (Ctrl-C again to cancel them)"
                    ),
                    _ => errln!("\ncancelling running trials"),
                }
            }
        });
        anyhow::Ok(study.run_until(budget, runner).await?)
    });
    runtime.shutdown_background();
    if let Some(bar) = bar {
        bar.finish();
    }
    let summary = result?;
    let why = match summary.reason {
        StopReason::Budget => "the budget is spent",
        StopReason::Exhausted => "the searcher proposed every point",
        StopReason::Timeout => "the timeout passed",
        StopReason::Target => "the target was reached",
        StopReason::Stopped => "stopped by the user",
    };
    outln!(
        "study `{name}`: {} trials counted ({} started now); stopped because {why}",
        summary.counted,
        summary.started
    );
    if let Some(best) = &summary.best {
        outln!(
            "best: trial {} {} = {} {}",
            best.number,
            study.spec().metric.name,
            hypersweep::evidence::value_text(best),
            serde_json::to_string(&best.params)?
        );
    }
    Ok(if summary.reason == StopReason::Stopped {
        EXIT_INTERRUPTED
    } else {
        0
    })
}

/// The study's command as a runner that logs under the store's log
/// directory (what `drive` builds, for `confirm` and `ablate`); `None` (the
/// error printed) when the command is invalid.
pub fn command_runner(
    study: &mut Study,
    location: &Location,
    what: &str,
) -> Option<Arc<dyn Runner>> {
    let log_dir = location.log_dir(study.name());
    let runner = match CommandRunner::builder_from_sweep(study.spec())
        .log_dir(&log_dir)
        .build()
    {
        Ok(r) => r,
        Err(err) => {
            errln!("error: {what}: {err}");
            return None;
        }
    };
    study.config_mut().log_dir = Some(log_dir);
    Some(Arc::new(LoggedRunner {
        inner: runner,
        storage: Arc::clone(study.storage()),
    }))
}

/// Runs `work` on a runtime of its own, where Ctrl-C once stops proposing
/// trials and twice cancels the running ones (as `drive` does).
pub fn with_ctrl_c<T>(
    study: &Study,
    work: impl std::future::Future<Output = T>,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let stop = study.stop_handle();
    let result = runtime.block_on(async {
        // Registered before the first trial starts, not inside the task: a
        // task may not have run yet when a Ctrl-C comes, and then the
        // signal's default action kills the process mid-trial.
        let mut interrupts =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .context("listening for Ctrl-C")?;
        tokio::spawn(async move {
            while interrupts.recv().await.is_some() {
                match stop.escalate() {
                    StopLevel::Drain => errln!(
                        "\nstopping: no new trials; waiting for running ones (Ctrl-C again to cancel them)"
                    ),
                    _ => errln!("\ncancelling running trials"),
                }
            }
        });
        anyhow::Ok(work.await)
    });
    runtime.shutdown_background();
    result
}

/// A [`CommandRunner`] that records each trial's log file in the store.
struct LoggedRunner {
    inner: CommandRunner,
    storage: Arc<dyn Storage>,
}

impl Runner for LoggedRunner {
    fn run(&self, ctx: TrialContext) -> BoxFuture<RunOutcome> {
        if let Some(path) = self
            .inner
            .log_path(ctx.log_dir.as_deref(), ctx.number, ctx.attempt)
        {
            let storage = Arc::clone(&self.storage);
            let (study, number) = (ctx.study.clone(), ctx.number);
            if let Err(err) =
                hypersweep_trials::blocking(|| storage.set_log_path(&study, number, path))
            {
                tracing::warn!(trial = ctx.number, %err, "log path not recorded");
            }
        }
        self.inner.run(ctx)
    }
}
