//! What the store-based commands share: the store and study arguments, and
//! the way to a store that a running sweep owns (through its live socket).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use hypersweep_trials::{SledStorage, Storage, StorageError};

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
/// error rather than a new empty store. A store that another process owns is
/// read through that process (read-only), when it serves its live socket.
pub fn open_existing(dir: &Path) -> anyhow::Result<Arc<dyn Storage>> {
    if !dir.exists() {
        bail!("no store at {}", dir.display());
    }
    match SledStorage::open(dir) {
        Ok(store) => Ok(Arc::new(store)),
        Err(locked @ StorageError::Locked { .. }) => match connect_live(dir) {
            Some(live) => Ok(live),
            None => Err(locked.into()),
        },
        Err(err) => Err(err.into()),
    }
}

/// Serves the store's live socket for as long as the returned guard lives,
/// so that other commands can read the store while this process owns it. A
/// failure only costs that, so it is a warning, not an error.
#[cfg(unix)]
pub fn serve_live(dir: &Path, storage: &Arc<dyn Storage>) -> Option<hypersweep::live::LiveServer> {
    hypersweep::live::serve(dir, Arc::clone(storage))
        .map_err(|err| tracing::warn!(%err, "`status` and `export` cannot read this sweep while it runs"))
        .ok()
}

/// Live sockets are Unix sockets; elsewhere the store stays unreadable while
/// it is owned.
#[cfg(not(unix))]
pub fn serve_live(_dir: &Path, _storage: &Arc<dyn Storage>) -> Option<()> {
    None
}

#[cfg(unix)]
fn connect_live(dir: &Path) -> Option<Arc<dyn Storage>> {
    match hypersweep::live::LiveStorage::connect(dir) {
        Ok(live) => {
            eprintln!(
                "note: the store is in use by pid {}; reading it through that process",
                live.owner_pid()
            );
            Some(Arc::new(live))
        }
        Err(err) => {
            tracing::debug!(%err, "no live owner to read through");
            None
        }
    }
}

#[cfg(not(unix))]
fn connect_live(_dir: &Path) -> Option<Arc<dyn Storage>> {
    None
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
