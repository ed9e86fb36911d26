//! Opening the store a Python `storage=` argument names.
//!
//! A sled store belongs to one process and refuses a second open, while
//! Optuna programs routinely call `create_study(storage=X)` and later
//! `load_study(storage=X)` in one interpreter. So the open sled stores of
//! this process are kept in a registry by canonical path and shared: every
//! study of one directory holds the same handle, and the directory is
//! released when the last study on it is dropped (the registry holds weak
//! references only).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use hypersweep::trials::{MemoryStorage, SledStorage, Storage};
use pyo3::PyErr;
use pyo3::exceptions::PyValueError;

use crate::HypersweepError;

static SLED_STORES: Mutex<Option<HashMap<PathBuf, Weak<dyn Storage>>>> = Mutex::new(None);

/// The store `url` names: None is a fresh in-memory store; `postgres://` or
/// `postgresql://` a PostgreSQL database; anything else a sled directory
/// (created when missing). Optuna's `sqlite://` and other RDB URLs are
/// refused with what to use instead.
pub(crate) fn open(url: Option<&str>) -> Result<Arc<dyn Storage>, PyErr> {
    let Some(url) = url else {
        return Ok(Arc::new(MemoryStorage::new()));
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return open_postgres(url);
    }
    if let Some((scheme, _)) = url.split_once("://") {
        return Err(PyValueError::new_err(format!(
            "storage `{scheme}://...` is not supported: give a directory path (a sled store) \
             or a postgres:// URL"
        )));
    }
    open_sled(url)
}

fn open_sled(dir: &str) -> Result<Arc<dyn Storage>, PyErr> {
    std::fs::create_dir_all(dir)
        .map_err(|e| HypersweepError::new_err(format!("creating store {dir}: {e}")))?;
    let key = std::fs::canonicalize(dir)
        .map_err(|e| HypersweepError::new_err(format!("store {dir}: {e}")))?;
    let mut registry = SLED_STORES.lock().unwrap_or_else(PoisonError::into_inner);
    let registry = registry.get_or_insert_with(HashMap::new);
    if let Some(store) = registry.get(&key).and_then(Weak::upgrade) {
        return Ok(store);
    }
    let store: Arc<dyn Storage> =
        Arc::new(SledStorage::open(&key).map_err(|e| HypersweepError::new_err(e.to_string()))?);
    registry.insert(key, Arc::downgrade(&store));
    Ok(store)
}

fn open_postgres(url: &str) -> Result<Arc<dyn Storage>, PyErr> {
    let store = hypersweep::trials::PostgresStorage::connect(url)
        .map_err(|e| HypersweepError::new_err(e.to_string()))?;
    Ok(Arc::new(store))
}
