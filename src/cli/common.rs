//! What the store-based commands share: the store and study arguments.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use hypersweep_trials::{SledStorage, Storage};

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
