//! `hypersweep run SPEC`: runs a sweep, or continues it.
//!
//! Re-running the same command on the same store continues the study: trials
//! left running by a process that died are marked failed ("interrupted"),
//! re-run if `retry_failed` allows, and the sweep ends with exactly its
//! budget of counted trials. Ctrl-C once stops proposing and lets running
//! trials finish; twice cancels them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use hypersweep_search::Method;
use hypersweep_search::sweep::{SweepSpec, parse_sweep};
use hypersweep_trials::scheduler::StopReason;
use hypersweep_trials::{BoxFuture, RunOutcome, Runner, StopLevel, Storage, TrialContext};

use super::common::{DEFAULT_STORE, open_store, serve_live};
use super::{EXIT_BAD_INPUT, EXIT_INTERRUPTED, progress};
use hypersweep::{CommandRunner, Study};

/// Arguments of `run`; flags override the sweep file.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The sweep file.
    pub spec: PathBuf,
    /// Store directory.
    #[arg(long, default_value = DEFAULT_STORE)]
    pub storage: PathBuf,
    /// Study name (default: the file's `name`, else the file's stem).
    #[arg(long)]
    pub study: Option<String>,
    /// Trial budget (`run.trials`).
    #[arg(long)]
    pub trials: Option<u64>,
    /// Trials at once (`run.parallel`).
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Seed of the searcher (`run.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Searcher (`method`).
    #[arg(long)]
    pub method: Option<String>,
}

/// Runs `run`.
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let spec = match load_spec(&args) {
        Ok(spec) => spec,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let name = study_name(&args, &spec);
    let log_dir = args.storage.join("logs").join(&name);
    let runner = match CommandRunner::builder_from_sweep(&spec)
        .log_dir(&log_dir)
        .build()
    {
        Ok(r) => r,
        Err(err) => {
            eprintln!("error: {}: {err}", args.spec.display());
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let storage = open_store(&args.storage)?;
    // `status`, `best` and `export` read the store through this while we own it.
    let _live = serve_live(&args.storage, &storage);
    let budget = spec.run.trials;
    let mut study = Study::from_spec_named(&name, spec, Arc::clone(&storage))?;
    study.config_mut().log_dir = Some(log_dir);
    let counted = hypersweep_trials::scheduler::Budget::from_trials(
        &study.trials()?,
        None,
        study.spec().run.retry_failed,
    )
    .counted();
    let (observer, bar) = progress::observer(budget, counted);
    study.set_observer(observer);
    let runner = Arc::new(LoggedRunner {
        inner: runner,
        storage,
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let stop = study.stop_handle();
    let result = runtime.block_on(async {
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                match stop.escalate() {
                    StopLevel::Drain => eprintln!(
                        "\nstopping: no new trials; waiting for running ones (Ctrl-C again to cancel them)"
                    ),
                    _ => eprintln!("\ncancelling running trials"),
                }
            }
        });
        study.run_until(budget, runner).await
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
    println!(
        "study `{name}`: {} trials counted ({} started now); stopped because {why}",
        summary.counted, summary.started
    );
    if let Some(best) = &summary.best {
        println!(
            "best: trial {} {} = {} {}",
            best.number,
            study.spec().metric.name,
            best.value.unwrap_or(f64::NAN),
            serde_json::to_string(&best.params)?
        );
    }
    Ok(if summary.reason == StopReason::Stopped {
        EXIT_INTERRUPTED
    } else {
        0
    })
}

/// Reads, parses and overrides the spec; the error is the message to print.
fn load_spec(args: &RunArgs) -> Result<SweepSpec, String> {
    let file = args.spec.display().to_string();
    let text =
        std::fs::read_to_string(&args.spec).map_err(|e| format!("cannot read {file}: {e}"))?;
    let mut spec = parse_sweep(&text, &file).map_err(|e| e.to_string())?;
    if let Some(n) = args.trials {
        spec.run.trials = Some(n);
    }
    if let Some(k) = args.parallel {
        if k == 0 {
            return Err("--parallel must be at least 1".to_owned());
        }
        spec.run.parallel = k;
    }
    if let Some(seed) = args.seed {
        spec.run.seed = Some(seed);
    }
    if let Some(m) = &args.method {
        spec.method = Method::from_name(m).ok_or_else(|| {
            format!(
                "--method: unknown method `{m}` (known: {})",
                Method::NAMES.join(", ")
            )
        })?;
    }
    Ok(spec)
}

fn study_name(args: &RunArgs, spec: &SweepSpec) -> String {
    args.study
        .clone()
        .or_else(|| spec.name.clone())
        .unwrap_or_else(|| file_stem(&args.spec))
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "study".to_owned())
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
            && let Err(err) = self.storage.set_log_path(&ctx.study, ctx.number, path)
        {
            tracing::debug!(trial = ctx.number, %err, "log path not recorded");
        }
        self.inner.run(ctx)
    }
}
