//! What the store-based commands share: where the store is, and which study.
//!
//! A store is a sled directory (the default, `./hypersweep.db`) or a
//! PostgreSQL URL (`postgres://user@host:port/db`, feature `postgres`);
//! `--storage` names it on every command, and `HYPERSWEEP_STORAGE` sets the
//! default.
//!
//! While a process owns a sled store, the reading commands reach it through
//! that process's live socket.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hypersweep::{OnSpecChange, Study, StudyError};
use hypersweep_search::sweep::{SpecDifference, SweepSpec, parse_sweep};
use hypersweep_trials::{SledStorage, Storage, StorageError};

use super::EXIT_BAD_INPUT;

/// Default store directory.
pub const DEFAULT_STORE: &str = "hypersweep.db";

/// Environment variable that sets the default `--storage`.
pub const STORAGE_ENV: &str = "HYPERSWEEP_STORAGE";

/// Where a store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A sled store directory (one process at a time).
    Dir(PathBuf),
    /// A PostgreSQL database (any number of processes and machines).
    Postgres(String),
}

impl FromStr for Location {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("expected a store directory or a postgres:// URL".to_owned());
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Location::Postgres(s.to_owned()))
        } else if s.contains("://") {
            Err(format!(
                "`{s}`: unknown store URL scheme (expected a directory or postgres://user@host:port/db)"
            ))
        } else {
            Ok(Location::Dir(PathBuf::from(s)))
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Dir(dir) => write!(f, "{}", dir.display()),
            Location::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`, for
/// messages.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl Location {
    /// Where trial logs of `study` go: inside a store directory, or under
    /// `./hypersweep-logs` beside a database (each machine keeps its own).
    pub fn log_dir(&self, study: &str) -> PathBuf {
        match self {
            Location::Dir(dir) => dir.join("logs").join(study),
            Location::Postgres(_) => Path::new("hypersweep-logs").join(study),
        }
    }
}

/// `--storage` and `--study`.
#[derive(Debug, Clone, clap::Args)]
pub struct StudyArgs {
    /// Store: a directory (sled) or postgres://user@host:port/db.
    #[arg(long, env = STORAGE_ENV, default_value = DEFAULT_STORE)]
    pub storage: Location,
    /// Study name; may be left out when the store holds one study.
    #[arg(long)]
    pub study: Option<String>,
}

/// Opens the store, creating a sled directory if needed (failing fast, with
/// the owner's pid, when another process has it).
pub fn open_store(location: &Location) -> anyhow::Result<Arc<dyn Storage>> {
    match location {
        Location::Dir(dir) => Ok(Arc::new(open_sled(dir)?)),
        Location::Postgres(url) => open_postgres(url),
    }
}

/// How long opening a sled store waits for a reading command (`status`,
/// `export`, ...) that holds it for a moment; a sweep holds it longer.
const BRIEF_HOLD: Duration = Duration::from_secs(3);

/// Opens a sled store, waiting [`BRIEF_HOLD`] for a brief holder: without
/// that, a `status` run at the moment a `run` starts would make the run fail.
fn open_sled(dir: &Path) -> Result<SledStorage, StorageError> {
    let deadline = Instant::now() + BRIEF_HOLD;
    loop {
        match SledStorage::open(dir) {
            Err(StorageError::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> anyhow::Result<Arc<dyn Storage>> {
    let store = hypersweep_trials::PostgresStorage::connect(url)
        .with_context(|| format!("connecting to {}", redact_password(url)))?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(url: &str) -> anyhow::Result<Arc<dyn Storage>> {
    bail!(
        "{}: this hypersweep was built without the `postgres` feature",
        redact_password(url)
    )
}

/// Opens an existing store for reading commands: a missing directory is an
/// error rather than a new empty store. A sled store that another process
/// owns is read through that process (read-only), when it serves its live
/// socket.
pub fn open_existing(location: &Location) -> anyhow::Result<Arc<dyn Storage>> {
    let Location::Dir(dir) = location else {
        return open_store(location);
    };
    if !dir.exists() {
        bail!("no store at {}", dir.display());
    }
    // When the recorded owner is dead, whoever still holds the lock is
    // brief: CI once saw `export` refused right after a `kill -9` of the
    // owner, on a loaded machine (the likely holder, not confirmed, is a
    // trial process forked but not yet started, with a copy of the lock).
    // A live owner without a live socket is refused at once, as before.
    let deadline = Instant::now() + BRIEF_HOLD;
    loop {
        match SledStorage::open(dir) {
            Ok(store) => return Ok(Arc::new(store)),
            Err(locked @ StorageError::Locked { .. }) => match connect_live(dir) {
                Some(live) => return Ok(live),
                None if owner_is_gone(dir) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                None => return Err(locked.into()),
            },
            Err(err) => return Err(err.into()),
        }
    }
}

/// Whether the process recorded as the store's owner has exited (known only
/// where `/proc` lists processes; elsewhere it is taken to be alive).
fn owner_is_gone(dir: &Path) -> bool {
    let proc = Path::new("/proc");
    proc.join("self").exists()
        && SledStorage::owner_pid(dir).is_some_and(|pid| !proc.join(pid.to_string()).exists())
}

/// Serves a sled store's live socket for as long as the returned guard
/// lives, so that other commands can read the store while this process owns
/// it. A failure only costs that, so it is a warning, not an error. A
/// database needs no such thing: every process reads it directly.
#[cfg(unix)]
pub fn serve_live(
    location: &Location,
    storage: &Arc<dyn Storage>,
) -> Option<hypersweep::live::LiveServer> {
    let Location::Dir(dir) = location else {
        return None;
    };
    hypersweep::live::serve(dir, Arc::clone(storage))
        .map_err(|err| {
            tracing::warn!(%err, "`status` and `export` cannot read this sweep while it runs")
        })
        .ok()
}

/// Live sockets are Unix sockets; elsewhere the store stays unreadable while
/// it is owned.
#[cfg(not(unix))]
pub fn serve_live(_location: &Location, _storage: &Arc<dyn Storage>) -> Option<()> {
    None
}

#[cfg(unix)]
fn connect_live(dir: &Path) -> Option<Arc<dyn Storage>> {
    match hypersweep::live::LiveStorage::connect(dir) {
        Ok(live) => {
            errln!(
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

/// What the reading commands (`status`, `best`, `export`, `report`) work
/// on: the open store, and the study's record and trials.
pub struct StudySnapshot {
    /// The store, opened for reading (directly, or through a live owner).
    pub storage: Arc<dyn Storage>,
    /// The study's name.
    pub name: String,
    /// Its record (spec, revisions).
    pub record: hypersweep_trials::StudyRecord,
    /// Its trials, by number.
    pub trials: Vec<hypersweep_trials::Trial>,
}

/// Opens the store of `args` for reading and loads its study.
pub fn read_study(args: &StudyArgs) -> anyhow::Result<StudySnapshot> {
    let storage = open_existing(&args.storage)?;
    let name = study_name(storage.as_ref(), args)?;
    let record = storage
        .load_study(&name)?
        .ok_or_else(|| anyhow::anyhow!("no study named `{name}`"))?;
    let trials = storage.trials(&name)?;
    Ok(StudySnapshot {
        storage,
        name,
        record,
        trials,
    })
}

/// The study named by `--study`, or the only one in the store.
pub fn study_name(storage: &dyn Storage, args: &StudyArgs) -> anyhow::Result<String> {
    if let Some(name) = &args.study {
        if storage.load_study(name)?.is_none() {
            bail!("no study named `{name}` in {}", args.storage);
        }
        return Ok(name.clone());
    }
    let names = storage.list_studies().context("listing studies")?;
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("the store {} holds no study", args.storage),
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
    store: &Location,
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
            err!("{}", spec_changed_message(&study, store, &differences));
            Ok(Err(EXIT_BAD_INPUT))
        }
        Err(other) => Err(other.into()),
    }
}

/// A sweep file, read and parsed; the error is the message to print (it
/// names the file, and the JSON path for a bad field).
pub fn read_spec(path: &Path) -> Result<SweepSpec, String> {
    let file = path.display().to_string();
    let text = read_sweep_file(path).map_err(|e| format!("cannot read {file}: {e}"))?;
    parse_sweep(&text, &file).map_err(|e| e.to_string())
}

/// The study a sweep file runs as: `--study`, else the file's `name`, else
/// the file's stem.
pub fn spec_study_name(explicit: Option<&str>, spec: &SweepSpec, path: &Path) -> String {
    explicit
        .map(str::to_owned)
        .or_else(|| spec.name.clone())
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "study".to_owned())
}

/// Opens the study of the sweep file at `path` (creating it if needed), as
/// [`open_from_spec`] does; `Err(code)`: a bad file or a refused change,
/// already explained on stderr.
pub fn open_spec_file(
    path: &Path,
    args: &StudyArgs,
    force: bool,
) -> anyhow::Result<Result<Study, i32>> {
    let spec = match read_spec(path) {
        Ok(spec) => spec,
        Err(message) => {
            errln!("error: {message}");
            return Ok(Err(EXIT_BAD_INPUT));
        }
    };
    let name = spec_study_name(args.study.as_deref(), &spec, path);
    let storage = open_store(&args.storage)?;
    open_from_spec(&name, spec, storage, &args.storage, force)
}

/// Why a sweep file may not continue a study, and the two ways on.
fn spec_changed_message(study: &str, store: &Location, differences: &[SpecDifference]) -> String {
    let mut text = format!(
        "error: study `{study}` in {} was created with another spec; the sweep file changes:\n",
        store
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

/// Reads a sweep file, refusing one larger than
/// [`hypersweep_search::sweep::MAX_FILE_BYTES`] before reading it (a path
/// to a huge file, or to a device, must not fill memory).
pub(crate) fn read_sweep_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let max = hypersweep_search::sweep::MAX_FILE_BYTES;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > max {
        return Err(std::io::Error::other(format!(
            "larger than the {max} bytes a sweep file may have"
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_hide_passwords() {
        assert_eq!(
            "runs/db".parse::<Location>(),
            Ok(Location::Dir(PathBuf::from("runs/db")))
        );
        let pg: Location = "postgres://u:pw@h:5432/d".parse().expect("url");
        assert_eq!(pg.to_string(), "postgres://u:***@h:5432/d");
        assert!("mysql://h/d".parse::<Location>().is_err());
        assert!("".parse::<Location>().is_err());
    }
}
