//! `confirm` and `ablate`: rounds of re-runs of a study's best
//! configurations (see `hypersweep::evidence` for how they are stored).
//!
//! Both run the study's command through the same scheduler, store, slots
//! and devices as `run`, so Ctrl-C, `kill -9` and resume behave as for a
//! sweep: running the same command again finishes an unfinished round, and
//! other processes given the same command on a shared (PostgreSQL) store
//! join it. Once a round is finished, running the command again starts a
//! new round on fresh seeds. The table is printed at the end (and `report`
//! shows every round).

use std::path::PathBuf;

use hypersweep::evidence::{ablation_table, confirm_table};
use hypersweep::{Study, StudyError};
use hypersweep_search::Params;
use hypersweep_trials::device;
use hypersweep_trials::scheduler::{Plan, StopReason};

use super::EXIT_BAD_INPUT;
use super::EXIT_INTERRUPTED;
use super::common::{StudyArgs, open_store, serve_live, study_name};
use super::drive::{command_runner, with_ctrl_c};
use super::progress;

/// Arguments of `confirm`.
#[derive(Debug, clap::Args)]
pub struct ConfirmArgs {
    /// Store and study.
    #[command(flatten)]
    pub study: StudyArgs,
    /// How many of the best distinct configurations to re-run.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Fresh seeds each configuration is run on (shared by all of them).
    #[arg(long, default_value_t = 10)]
    pub repeats: u32,
    /// Runs at once (default: the sweep file's `run.parallel`).
    #[arg(long)]
    pub parallel: Option<usize>,
}

/// Arguments of `ablate`.
#[derive(Debug, clap::Args)]
pub struct AblateArgs {
    /// Store and study.
    #[command(flatten)]
    pub study: StudyArgs,
    /// A JSON object of baseline values by param name (params it leaves
    /// out are reset to their default: the prior's centre, the first
    /// categorical value).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Seeds each variant is run on (shared by all of them).
    #[arg(long, default_value_t = 5)]
    pub repeats: u32,
    /// Runs at once (default: the sweep file's `run.parallel`).
    #[arg(long)]
    pub parallel: Option<usize>,
}

/// Runs `confirm`.
pub fn confirm(args: ConfirmArgs) -> anyhow::Result<i32> {
    let Some(mut study) = open(&args.study, args.parallel)? else {
        return Ok(EXIT_BAD_INPUT);
    };
    let plan = match study.confirm_plan(args.top, args.repeats) {
        Ok(plan) => plan,
        Err(err) => return bad_input(err),
    };
    let code = run_round(&mut study, &args.study, plan.clone())?;
    let table = confirm_table(study.spec(), &study.trials()?, plan.round.1);
    outln!("{table}");
    Ok(code)
}

/// Runs `ablate`.
pub fn ablate(args: AblateArgs) -> anyhow::Result<i32> {
    let baseline = match &args.baseline {
        Some(path) => match read_baseline(path) {
            Ok(b) => Some(b),
            Err(message) => {
                errln!("error: {message}");
                return Ok(EXIT_BAD_INPUT);
            }
        },
        None => None,
    };
    let Some(mut study) = open(&args.study, args.parallel)? else {
        return Ok(EXIT_BAD_INPUT);
    };
    let plan = match study.ablation_plan(baseline.as_ref(), args.repeats) {
        Ok(plan) => plan,
        Err(StudyError::Evidence(err)) => {
            let at = args
                .baseline
                .as_ref()
                .map_or_else(String::new, |p| format!("{}: ", p.display()));
            errln!("error: {at}{err}");
            return Ok(EXIT_BAD_INPUT);
        }
        Err(err) => return Err(err.into()),
    };
    let code = run_round(&mut study, &args.study, plan.clone())?;
    let table = ablation_table(study.spec(), &study.trials()?, plan.round.1);
    outln!("{table}");
    Ok(code)
}

/// Opens the study for writing, with `--parallel` applied; `None` when the
/// flag is out of range or the devices cannot give that many slots their
/// GPUs (the error printed).
fn open(args: &StudyArgs, parallel: Option<usize>) -> anyhow::Result<Option<Study>> {
    let storage = open_store(&args.storage)?;
    let name = study_name(storage.as_ref(), args)?;
    let mut study = Study::load(&name, storage)?;
    if let Some(k) = parallel {
        let max = hypersweep_search::sweep::MAX_PARALLEL;
        if k == 0 || k as u64 > max {
            errln!("error: --parallel must be from 1 to {max}, got {k}");
            return Ok(None);
        }
        let run = &study.spec().run;
        match device::slots(&run.devices, k, run.trials_per_device, run.gpus_per_trial) {
            Ok(slots) => study.config_mut().slots = slots,
            Err(err) => {
                errln!("error: {err}");
                return Ok(None);
            }
        }
    }
    Ok(Some(study))
}

fn bad_input(err: StudyError) -> anyhow::Result<i32> {
    match err {
        StudyError::Evidence(err) => {
            errln!("error: {err}");
            Ok(EXIT_BAD_INPUT)
        }
        err => Err(err.into()),
    }
}

/// Runs the round's missing variants with the study's command.
fn run_round(study: &mut Study, args: &StudyArgs, plan: Plan) -> anyhow::Result<i32> {
    let (kind, round) = plan.round;
    let seeds = plan.variants.first().map_or(0, |v| v.seeds.len());
    let done = study
        .trials()?
        .iter()
        .filter(|t| t.role.round() == Some(plan.round) && t.state.is_finished())
        .filter(|t| !hypersweep_trials::scheduler::is_interrupted(t))
        .count() as u64;
    errln!(
        "{kind} round {round}: {} configurations x {seeds} shared seeds ({} evaluations){}",
        plan.variants.len(),
        plan.variants.len() * seeds,
        if done > 0 {
            format!(", resuming with {done} done")
        } else {
            String::new()
        }
    );
    let what = format!("study `{}`", study.name());
    let Some(runner) = command_runner(study, &args.storage, &what) else {
        return Ok(EXIT_BAD_INPUT);
    };
    let _live = serve_live(&args.storage, study.storage());
    let (observer, bar) = progress::observer(Some(plan.variants.len() as u64), done);
    study.set_observer(observer);
    let summary = with_ctrl_c(study, study.run_plan(plan, runner))?;
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(match summary?.reason {
        StopReason::Stopped => EXIT_INTERRUPTED,
        _ => 0,
    })
}

/// The `--baseline` file: a JSON object of values by param name.
fn read_baseline(path: &std::path::Path) -> Result<Params, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() > hypersweep_search::sweep::MAX_FILE_BYTES {
        return Err(format!(
            "{}: larger than the {} bytes a baseline may have",
            path.display(),
            hypersweep_search::sweep::MAX_FILE_BYTES
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let serde_json::Value::Object(map) = value else {
        return Err(format!(
            "{}: expected a JSON object of baseline values by param name, e.g. {{\"lr\": 0.001}}",
            path.display()
        ));
    };
    let mut params = Params::new();
    for (name, value) in map {
        params.insert(name, value);
    }
    Ok(params)
}
