//! `hypersweep run SPEC`: runs a sweep, or continues it.
//!
//! Re-running the same command on the same store continues the study: trials
//! left running by a process that died are marked failed ("interrupted"),
//! re-run if `retry_failed` allows, and the sweep ends with exactly its
//! budget of counted trials. Ctrl-C once stops proposing and lets running
//! trials finish; twice cancels them. A sweep file that changes the study's
//! space, metric, method, seed or pruner is refused unless `--force` is
//! given; a changed budget or parallelism just continues.
//!
//! With `--storage postgres://...` the study lives in a database, and `run`
//! is one of its workers: any number of `hypersweep worker` processes, on
//! this machine or others, may join it, and together they end with exactly
//! the budget.

use std::path::PathBuf;

use hypersweep_search::Method;
use hypersweep_search::sweep::SweepSpec;

use super::EXIT_BAD_INPUT;
use super::common::{
    DEFAULT_STORE, Location, STORAGE_ENV, open_from_spec, open_store, read_spec, spec_study_name,
};
use super::drive::drive;
use hypersweep::CommandRunner;
use hypersweep_trials::device;

/// Arguments of `run`; flags override the sweep file.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The sweep file.
    pub spec: PathBuf,
    /// Store: a directory (sled) or postgres://user@host:port/db.
    #[arg(long, env = STORAGE_ENV, default_value = DEFAULT_STORE)]
    pub storage: Location,
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
    /// Evaluations of each configuration, each with its own seed; the
    /// trial's value is their mean (`run.repeats`).
    #[arg(long)]
    pub repeats: Option<u32>,
    /// Continue an existing study even though the sweep file changes its
    /// space, metric, method, seed or pruner (the change is recorded in the
    /// study).
    #[arg(long)]
    pub force: bool,
    /// Serve the live dashboard from this sweep on 127.0.0.1:PORT (8080
    /// when no port is given).
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "8080")]
    pub dashboard: Option<u16>,
}

/// Runs `run`.
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let spec = match load_spec(&args) {
        Ok(spec) => spec,
        Err(message) => {
            errln!("error: {message}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let name = spec_study_name(args.study.as_deref(), &spec, &args.spec);
    if let Err(err) = CommandRunner::builder_from_sweep(&spec).build() {
        errln!("error: {}: {err}", args.spec.display());
        return Ok(EXIT_BAD_INPUT);
    }
    let run = &spec.run;
    if let Err(err) = device::slots(
        &run.devices,
        run.parallel,
        run.trials_per_device,
        run.gpus_per_trial,
    ) {
        errln!("error: {}: run: {err}", args.spec.display());
        return Ok(EXIT_BAD_INPUT);
    }
    let storage = open_store(&args.storage)?;
    let study = match open_from_spec(&name, spec, storage, &args.storage, args.force)? {
        Ok(study) => study,
        Err(code) => return Ok(code),
    };
    drive(
        study,
        &args.storage,
        &args.spec.display().to_string(),
        args.dashboard,
    )
}

/// Reads, parses and overrides the spec; the error is the message to print.
fn load_spec(args: &RunArgs) -> Result<SweepSpec, String> {
    let mut spec = read_spec(&args.spec)?;
    if let Some(n) = args.trials {
        spec.run.trials = Some(n);
    }
    if let Some(k) = args.parallel {
        if k == 0 || k as u64 > hypersweep_search::sweep::MAX_PARALLEL {
            return Err(format!(
                "--parallel must be from 1 to {}, got {k}",
                hypersweep_search::sweep::MAX_PARALLEL
            ));
        }
        spec.run.parallel = k;
    }
    if let Some(seed) = args.seed {
        spec.run.seed = Some(seed);
    }
    if let Some(k) = args.repeats {
        let max = hypersweep_search::sweep::MAX_REPEATS;
        if k == 0 || u64::from(k) > max {
            return Err(format!("--repeats must be from 1 to {max}, got {k}"));
        }
        spec.run.repeats = k;
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
