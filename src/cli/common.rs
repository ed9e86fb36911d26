//! What the store-based commands share: where the store is, and which study.
//!
//! A store is a sled directory (the default, `./hypersweep.db`) or a
//! PostgreSQL URL (`postgres://user@host:port/db`, feature `postgres`);
//! `--storage` names it on every command, and `HYPERSWEEP_STORAGE` sets the
//! default.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, bail};
use hypersweep_trials::{SledStorage, Storage};

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
        Location::Dir(dir) => Ok(Arc::new(SledStorage::open(dir)?)),
        Location::Postgres(url) => open_postgres(url),
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
/// error rather than a new empty store.
pub fn open_existing(location: &Location) -> anyhow::Result<Arc<dyn Storage>> {
    if let Location::Dir(dir) = location
        && !dir.exists()
    {
        bail!("no store at {}", dir.display());
    }
    open_store(location)
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
