//! `ask` and `tell`: the ask/tell protocol from the shell, for trainers that
//! drive themselves (one `ask` before a run, one `tell` after, and, for early
//! stopping, a `tell --step` per epoch, answered `prune` or `continue`).

use std::path::PathBuf;

use anyhow::bail;
use hypersweep_search::TrialState;
use hypersweep_trials::{Decision, TrialOutcome};
use serde_json::json;

use super::common::{StudyArgs, open_spec_file, open_store, study_name};
use hypersweep::Study;

/// Arguments of `ask`.
#[derive(Debug, clap::Args)]
pub struct AskArgs {
    /// Store and study.
    #[command(flatten)]
    pub study: StudyArgs,
    /// Sweep file that creates the study when it does not exist yet (and
    /// must not change its space, metric, method, seed or pruner when it
    /// does).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// With `--spec`: continue an existing study even though the file
    /// changes it (the change is recorded in the study).
    #[arg(long, requires = "spec")]
    pub force: bool,
}

/// Arguments of `tell`.
#[derive(Debug, clap::Args)]
pub struct TellArgs {
    /// Store and study.
    #[command(flatten)]
    pub study: StudyArgs,
    /// The trial number `ask` printed.
    #[arg(long)]
    pub trial: u64,
    /// Its value (required unless `--state failed`).
    #[arg(long, allow_negative_numbers = true)]
    pub value: Option<f64>,
    /// An intermediate value at this step (with `--value`): recorded, judged
    /// by the study's pruner, and answered `prune` or `continue`; the trial
    /// stays running.
    #[arg(long, requires = "value", conflicts_with_all = ["state", "error"])]
    pub step: Option<u64>,
    /// How it ended.
    #[arg(long, value_enum, default_value = "complete")]
    pub state: TellState,
    /// Why it failed.
    #[arg(long)]
    pub error: Option<String>,
}

/// States `tell` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TellState {
    /// Finished with `--value`.
    Complete,
    /// Stopped early (with `--value` as its last value, if given).
    Pruned,
    /// Failed.
    Failed,
}

/// Runs `ask`: prints `{"trial": N, "params": {...}}`.
pub fn ask(args: AskArgs) -> anyhow::Result<i32> {
    let study = match &args.spec {
        Some(path) => match open_spec_file(path, &args.study, args.force)? {
            Ok(study) => study,
            Err(code) => return Ok(code),
        },
        None => {
            let storage = open_store(&args.study.storage)?;
            let name = study_name(storage.as_ref(), &args.study)?;
            Study::load(&name, storage)?
        }
    };
    let trial = study.ask()?;
    outln!("{}", json!({"trial": trial.number, "params": trial.params}));
    Ok(0)
}

/// Runs `tell`.
pub fn tell(args: TellArgs) -> anyhow::Result<i32> {
    let storage = open_store(&args.study.storage)?;
    let name = study_name(storage.as_ref(), &args.study)?;
    let study = Study::load(&name, storage)?;
    if let (Some(step), Some(value)) = (args.step, args.value) {
        let decision = study.report(args.trial, step, value)?;
        outln!(
            "{}",
            match decision {
                Decision::Prune => "prune",
                Decision::Continue => "continue",
            }
        );
        return Ok(0);
    }
    let trial = match (args.state, args.value) {
        (TellState::Complete, Some(v)) => study.tell(args.trial, v)?,
        (TellState::Complete, None) => bail!("--value is required for a complete trial"),
        (TellState::Pruned, value) => study.tell_outcome(
            args.trial,
            TrialOutcome {
                state: TrialState::Pruned,
                value,
                error: args.error.clone(),
            },
        )?,
        (TellState::Failed, _) => study.tell_outcome(
            args.trial,
            TrialOutcome {
                state: TrialState::Failed,
                value: None,
                error: Some(args.error.unwrap_or_else(|| "reported failed".to_owned())),
            },
        )?,
    };
    outln!(
        "{}",
        json!({"trial": trial.number, "state": trial.state, "value": trial.value})
    );
    Ok(0)
}
