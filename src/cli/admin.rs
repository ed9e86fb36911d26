//! `studies` and `delete`: the studies of a store.

use hypersweep_search::TrialState;
use hypersweep_trials::scheduler::best_trial;

use super::common::{DEFAULT_STORE, Location, STORAGE_ENV, open_existing};

/// Arguments of `studies`.
#[derive(Debug, clap::Args)]
pub struct StudiesArgs {
    /// Store: a directory (sled) or postgres://user@host:port/db.
    #[arg(long, env = STORAGE_ENV, default_value = DEFAULT_STORE)]
    pub storage: Location,
}

/// Arguments of `delete`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// Store: a directory (sled) or postgres://user@host:port/db.
    #[arg(long, env = STORAGE_ENV, default_value = DEFAULT_STORE)]
    pub storage: Location,
    /// The study to delete, with all its trials.
    #[arg(long)]
    pub study: String,
    /// Confirms the deletion (there is no undo).
    #[arg(long)]
    pub yes: bool,
}

/// `hypersweep studies`: one line per study with its counts and best value.
pub fn studies(args: StudiesArgs) -> anyhow::Result<i32> {
    let storage = open_existing(&args.storage)?;
    let names = storage.list_studies()?;
    if names.is_empty() {
        outln!("no studies in {}", args.storage);
        return Ok(0);
    }
    outln!(
        "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8}  best",
        "study",
        "trials",
        "complete",
        "pruned",
        "failed",
        "running"
    );
    for name in names {
        let Some(record) = storage.load_study(&name)? else {
            continue;
        };
        let trials = storage.trials(&name)?;
        let count = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
        let best = best_trial(&trials, record.spec.metric.goal)
            .and_then(|t| t.value)
            .map_or_else(
                || "-".to_owned(),
                |v| format!("{} = {v}", record.spec.metric.name),
            );
        outln!(
            "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8}  {best}",
            name,
            trials.len(),
            count(TrialState::Complete),
            count(TrialState::Pruned),
            count(TrialState::Failed),
            count(TrialState::Running),
        );
    }
    Ok(0)
}

/// `hypersweep delete --study NAME --yes`.
pub fn delete(args: DeleteArgs) -> anyhow::Result<i32> {
    if !args.yes {
        errln!(
            "error: deleting study `{}` removes all its trials; add --yes to confirm",
            args.study
        );
        return Ok(super::EXIT_BAD_INPUT);
    }
    let storage = open_existing(&args.storage)?;
    if storage.delete_study(&args.study)? {
        outln!("deleted study `{}`", args.study);
        Ok(0)
    } else {
        errln!("error: no study named `{}` in {}", args.study, args.storage);
        Ok(1)
    }
}
