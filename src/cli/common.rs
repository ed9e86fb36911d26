//! What the store-based commands share: the store and study arguments.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use hypersweep::{OnSpecChange, Study, StudyError};
use hypersweep_search::sweep::{SpecDifference, SweepSpec};
use hypersweep_trials::{SledStorage, Storage};

use super::EXIT_BAD_INPUT;

/// Default store directory.
pub const DEFAULT_STORE: &str = "hypersweep.db";

/// `--storage` and `--study`.
#[derive(Debug, Clone, clap::Args)]
pub struct StudyArgs {
    /// Store directory.
    #[arg(long, default_value = DEFAULT_STORE)]
    pub storage: PathBuf,
    /// Study name; may be left out when the store holds one study.
    #[arg(long)]
    pub study: Option<String>,
}

/// Opens the sled store (failing fast, with the owner's pid, when another
/// process has it).
pub fn open_store(dir: &Path) -> anyhow::Result<Arc<dyn Storage>> {
    let store = SledStorage::open(dir)?;
    Ok(Arc::new(store))
}

/// Opens an existing store for reading commands: a missing directory is an
/// error rather than a new empty store.
pub fn open_existing(dir: &Path) -> anyhow::Result<Arc<dyn Storage>> {
    if !dir.exists() {
        bail!("no store at {}", dir.display());
    }
    open_store(dir)
}

/// The study named by `--study`, or the only one in the store.
pub fn study_name(storage: &dyn Storage, args: &StudyArgs) -> anyhow::Result<String> {
    if let Some(name) = &args.study {
        if storage.load_study(name)?.is_none() {
            bail!("no study named `{name}` in {}", args.storage.display());
        }
        return Ok(name.clone());
    }
    let names = storage.list_studies().context("listing studies")?;
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("the store {} holds no study", args.storage.display()),
        many => bail!(
            "the store holds several studies ({}); pick one with --study",
            many.join(", ")
        ),
    }
}

/// Opens the study `name` with a sweep file's spec; `--force` continues an
/// existing study whose space, metric, method, seed or pruner the file
/// changes. `Err(code)`: the change was refused (and explained on stderr),
/// exit with `code`.
pub fn open_from_spec(
    name: &str,
    spec: SweepSpec,
    storage: Arc<dyn Storage>,
    store_dir: &Path,
    force: bool,
) -> anyhow::Result<Result<Study, i32>> {
    let on_change = if force {
        OnSpecChange::Update
    } else {
        OnSpecChange::Refuse
    };
    match Study::open_checked(name, spec, storage, on_change) {
        Ok(study) => Ok(Ok(study)),
        Err(StudyError::SpecChanged { study, differences }) => {
            eprint!("{}", spec_changed_message(&study, store_dir, &differences));
            Ok(Err(EXIT_BAD_INPUT))
        }
        Err(other) => Err(other.into()),
    }
}

/// Why a sweep file may not continue a study, and the two ways on.
fn spec_changed_message(study: &str, store_dir: &Path, differences: &[SpecDifference]) -> String {
    let mut text = format!(
        "error: study `{study}` in {} was created with another spec; the sweep file changes:\n",
        store_dir.display()
    );
    for d in differences {
        text.push_str(&format!("  {d}\n"));
    }
    text.push_str(
        "its trials would mislead the searcher under the new spec. To go on, either\n  \
         start a new study with this file: --study NEW_NAME\n  \
         or continue this one with the new spec (the change is recorded in the study): --force\n",
    );
    text
}
