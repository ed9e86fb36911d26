//! The default store: a directory on disk holding many studies, in sled.
//!
//! Layout of the directory:
//! - `owner.pid`: the pid of the process that has it open (see `owner.rs`);
//! - `sled/`: the sled database, with three trees:
//!   - `meta`: `schema_version` -> the decimal version, written on creation;
//!   - `studies`: study name -> [`StudyRecord`] as JSON;
//!   - `trials`: `len(study) as u32 BE ++ study ++ number as u64 BE` ->
//!     [`Trial`] as JSON. The length prefix makes keys unambiguous whatever
//!     bytes a study name holds, and the big-endian number makes a study's
//!     trials one contiguous range in number order, so listing them is a
//!     prefix scan and the last number is one seek from the end.
//!
//! Numbers need no counter: `create_trial` inserts `last + 1` with a
//! compare-and-swap that only succeeds when the key is absent, and retries
//! on a lost race. Every number is therefore taken only after all smaller
//! ones exist, which is "from 0, without gaps" even across a crash. Updates
//! of a trial are read-modify-write loops closed by compare-and-swap too.
//!
//! Durability: `create_study`, `create_trial`, `finish_trial` and
//! `reap_stale` flush before they return, so a trial that started is never
//! lost and a finished one is on disk before the scheduler counts it.
//! `report`, `heartbeat` and `set_log_path` do not flush (a report per
//! training step would cost an fsync each); sled's background flusher writes
//! them within half a second, and the trial's finish flushes them anyway.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hypersweep_search::TrialState;
use hypersweep_search::sweep::SweepSpec;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::owner::{self, OwnerLock};
use super::{NewTrial, Storage, StudyRecord, rules};
use crate::error::StorageError;
use crate::trial::{Trial, TrialOutcome, now_ms};

/// Sub-directory of the store holding the sled files.
const DATA_DIR: &str = "sled";
/// Key of the schema version in the `meta` tree.
const SCHEMA_KEY: &[u8] = b"schema_version";
/// sled's page cache; trial records are small, the default 1 GiB is far more
/// than a sweep needs.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// [`Storage`] in a directory on disk (sled), owned by one process at a time.
#[derive(Debug)]
pub struct SledStorage {
    dir: PathBuf,
    db: sled::Db,
    studies: sled::Tree,
    trials: sled::Tree,
    // Last field: released only after sled has closed its files.
    _owner: OwnerLock,
}

impl SledStorage {
    /// The schema version this build writes and reads.
    pub const SCHEMA_VERSION: u32 = 1;

    /// Opens the store in `dir`, creating it (and the directory) if needed.
    ///
    /// Fails with [`StorageError::Locked`] when another process has it open,
    /// and with [`StorageError::SchemaVersion`] when it was written by a
    /// newer or unknown version.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StorageError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let owner = OwnerLock::acquire(&dir)?;
        let db = sled::Config::new()
            .path(dir.join(DATA_DIR))
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| open_error(&dir, e))?;
        check_schema(&dir, &db)?;
        let studies = db.open_tree("studies").map_err(backend)?;
        let trials = db.open_tree("trials").map_err(backend)?;
        Ok(SledStorage {
            dir,
            db,
            studies,
            trials,
            _owner: owner,
        })
    }

    /// The store directory.
    pub fn store_dir(&self) -> &Path {
        &self.dir
    }

    /// The pid written by the process that has (or last had) the store in
    /// `dir` open, if any; for status commands run beside a sweep.
    pub fn owner_pid(dir: impl AsRef<Path>) -> Option<u32> {
        owner::read_owner_pid(dir.as_ref())
    }

    fn flush(&self) -> Result<(), StorageError> {
        self.db.flush().map(drop).map_err(backend)
    }

    fn study_exists(&self, study: &str) -> Result<bool, StorageError> {
        self.studies.contains_key(study).map_err(backend)
    }

    fn missing_trial(&self, study: &str, number: u64) -> StorageError {
        match self.study_exists(study) {
            Ok(true) => StorageError::NoTrial {
                study: study.to_owned(),
                number,
            },
            Ok(false) => StorageError::NoStudy(study.to_owned()),
            Err(e) => e,
        }
    }

    /// Applies `change` to a running trial, atomically with respect to
    /// other writers of the same trial.
    fn update_running(
        &self,
        study: &str,
        number: u64,
        mut change: impl FnMut(&mut Trial),
    ) -> Result<Trial, StorageError> {
        let key = trial_key(study, number);
        loop {
            let old = self
                .trials
                .get(&key)
                .map_err(backend)?
                .ok_or_else(|| self.missing_trial(study, number))?;
            let mut trial: Trial = decode(&old, || trial_label(study, number))?;
            rules::ensure_running(&trial)?;
            change(&mut trial);
            let new = encode(&trial, || trial_label(study, number))?;
            let swapped = self
                .trials
                .compare_and_swap(&key, Some(&old), Some(new))
                .map_err(backend)?;
            if swapped.is_ok() {
                return Ok(trial);
            }
        }
    }
}

impl Drop for SledStorage {
    fn drop(&mut self) {
        // Reports not flushed yet reach the disk now; an error here has no
        // one to go to, and sled's log recovers whatever was written.
        let _ = self.db.flush();
    }
}

impl Storage for SledStorage {
    fn create_study(&self, name: &str, spec: &SweepSpec) -> Result<StudyRecord, StorageError> {
        let record = StudyRecord {
            name: name.to_owned(),
            spec: spec.clone(),
            created_ms: now_ms(),
        };
        let bytes = encode(&record, || study_label(name))?;
        let swapped = self
            .studies
            .compare_and_swap(name, None::<&[u8]>, Some(bytes))
            .map_err(backend)?;
        match swapped {
            Ok(()) => {
                self.flush()?;
                Ok(record)
            }
            Err(existing) => match existing.current {
                Some(current) => decode(&current, || study_label(name)),
                // Studies are never removed, so a failed insert-if-absent
                // always sees a value; answer the record we would have made.
                None => Ok(record),
            },
        }
    }

    fn load_study(&self, name: &str) -> Result<Option<StudyRecord>, StorageError> {
        self.studies
            .get(name)
            .map_err(backend)?
            .map(|bytes| decode(&bytes, || study_label(name)))
            .transpose()
    }

    fn list_studies(&self) -> Result<Vec<String>, StorageError> {
        self.studies
            .iter()
            .keys()
            .map(|key| {
                let key = key.map_err(backend)?;
                String::from_utf8(key.to_vec()).map_err(|e| StorageError::Corrupt {
                    key: format!("studies/{}", String::from_utf8_lossy(&key)),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    fn create_trial(&self, study: &str, new: NewTrial) -> Result<Trial, StorageError> {
        if !self.study_exists(study)? {
            return Err(StorageError::NoStudy(study.to_owned()));
        }
        let prefix = study_prefix(study);
        let mut trial = rules::new_trial(study, 0, new, now_ms());
        loop {
            trial.number = match self.trials.scan_prefix(&prefix).next_back() {
                None => 0,
                Some(entry) => {
                    let (key, _) = entry.map_err(backend)?;
                    number_of_key(&key, prefix.len())? + 1
                }
            };
            let bytes = encode(&trial, || trial_label(study, trial.number))?;
            let swapped = self
                .trials
                .compare_and_swap(trial_key(study, trial.number), None::<&[u8]>, Some(bytes))
                .map_err(backend)?;
            if swapped.is_ok() {
                self.flush()?;
                return Ok(trial);
            }
        }
    }

    fn report(&self, study: &str, number: u64, step: u64, value: f64) -> Result<(), StorageError> {
        let now = now_ms();
        self.update_running(study, number, |t| rules::apply_report(t, step, value, now))
            .map(drop)
    }

    fn set_log_path(&self, study: &str, number: u64, path: PathBuf) -> Result<(), StorageError> {
        self.update_running(study, number, |t| t.log_path = Some(path.clone()))
            .map(drop)
    }

    fn heartbeat(&self, study: &str, number: u64) -> Result<(), StorageError> {
        let now = now_ms();
        self.update_running(study, number, |t| t.heartbeat_ms = now)
            .map(drop)
    }

    fn finish_trial(
        &self,
        study: &str,
        number: u64,
        outcome: TrialOutcome,
    ) -> Result<Trial, StorageError> {
        rules::ensure_final(study, number, &outcome)?;
        let now = now_ms();
        let trial = self.update_running(study, number, |t| {
            rules::apply_finish(t, outcome.clone(), now);
        })?;
        self.flush()?;
        Ok(trial)
    }

    fn trial(&self, study: &str, number: u64) -> Result<Trial, StorageError> {
        let bytes = self
            .trials
            .get(trial_key(study, number))
            .map_err(backend)?
            .ok_or_else(|| self.missing_trial(study, number))?;
        decode(&bytes, || trial_label(study, number))
    }

    fn trials(&self, study: &str) -> Result<Vec<Trial>, StorageError> {
        let prefix = study_prefix(study);
        let mut out = Vec::new();
        for entry in self.trials.scan_prefix(&prefix) {
            let (key, bytes) = entry.map_err(backend)?;
            let trial: Trial = decode(&bytes, || {
                let number = number_of_key(&key, prefix.len()).unwrap_or(u64::MAX);
                trial_label(study, number)
            })?;
            out.push(trial);
        }
        if out.is_empty() && !self.study_exists(study)? {
            return Err(StorageError::NoStudy(study.to_owned()));
        }
        Ok(out)
    }

    fn reap_stale(
        &self,
        study: &str,
        stale_after: Duration,
        reason: &str,
    ) -> Result<Vec<Trial>, StorageError> {
        let now = now_ms();
        let stale: Vec<u64> = self
            .trials(study)?
            .into_iter()
            .filter(|t| t.state == TrialState::Running && rules::is_stale(t, stale_after, now))
            .map(|t| t.number)
            .collect();
        let mut reaped = Vec::with_capacity(stale.len());
        for number in stale {
            let result = self.update_running(study, number, |t| {
                rules::apply_finish(t, rules::reaped_outcome(reason), now);
            });
            match result {
                Ok(trial) => reaped.push(trial),
                // Finished by its worker between the scan and now: not stale.
                Err(StorageError::AlreadyFinished { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if !reaped.is_empty() {
            self.flush()?;
        }
        Ok(reaped)
    }
}

/// Verifies the schema version of a store, writing it into a new one.
fn check_schema(dir: &Path, db: &sled::Db) -> Result<(), StorageError> {
    let meta = db.open_tree("meta").map_err(backend)?;
    let expected = SledStorage::SCHEMA_VERSION.to_string();
    match meta.get(SCHEMA_KEY).map_err(backend)? {
        Some(found) if found.as_ref() == expected.as_bytes() => Ok(()),
        Some(found) => Err(StorageError::SchemaVersion {
            path: dir.display().to_string(),
            found: String::from_utf8_lossy(&found).into_owned(),
            expected: SledStorage::SCHEMA_VERSION,
        }),
        None => {
            meta.insert(SCHEMA_KEY, expected.as_bytes())
                .map_err(backend)?;
            db.flush().map(drop).map_err(backend)
        }
    }
}

/// sled reports a held lock as a generic I/O error; our own lock on
/// `owner.pid` normally answers first, but a race with a departing owner can
/// still reach sled's, and the user should see the same message.
fn open_error(dir: &Path, e: sled::Error) -> StorageError {
    match &e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            owner::locked(dir)
        }
        _ => backend(e),
    }
}

fn backend(e: sled::Error) -> StorageError {
    match e {
        sled::Error::Io(io) => StorageError::Io(io),
        other => StorageError::Backend(other.to_string()),
    }
}

fn study_prefix(study: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + study.len() + 8);
    // Names longer than 4 GiB are not names; saturating keeps this total.
    let len = u32::try_from(study.len()).unwrap_or(u32::MAX);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(study.as_bytes());
    key
}

fn trial_key(study: &str, number: u64) -> Vec<u8> {
    let mut key = study_prefix(study);
    key.extend_from_slice(&number.to_be_bytes());
    key
}

fn number_of_key(key: &[u8], prefix_len: usize) -> Result<u64, StorageError> {
    key.get(prefix_len..)
        .and_then(|tail| <[u8; 8]>::try_from(tail).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StorageError::Corrupt {
            key: format!("trials/{}", String::from_utf8_lossy(key)),
            message: "key does not end in an 8-byte trial number".to_owned(),
        })
}

fn study_label(name: &str) -> String {
    format!("studies/{name}")
}

fn trial_label(study: &str, number: u64) -> String {
    format!("trials/{study}/{number}")
}

fn encode<T: Serialize>(
    value: &T,
    label: impl FnOnce() -> String,
) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value).map_err(|e| StorageError::Corrupt {
        key: label(),
        message: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    label: impl FnOnce() -> String,
) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt {
        key: label(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_number_within_a_study() {
        assert!(trial_key("s", 255) < trial_key("s", 256));
        assert!(trial_key("s", 1) < trial_key("s", u64::MAX));
        let prefix = study_prefix("s");
        assert_eq!(
            number_of_key(&trial_key("s", 77), prefix.len()).ok(),
            Some(77)
        );
    }

    #[test]
    fn a_name_that_extends_another_has_its_own_prefix() {
        // Without the length prefix, "a" ++ number could collide with "a\0..".
        let a = trial_key("a", 5);
        assert!(!a.starts_with(&study_prefix("a\0")));
        assert!(!trial_key("a\0", 5).starts_with(&study_prefix("a")));
    }

    #[test]
    fn corrupt_trial_json_names_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStorage::open(dir.path()).expect("open");
        let spec = SweepSpec {
            name: None,
            description: None,
            method: hypersweep_search::Method::Random,
            metric: Default::default(),
            space: hypersweep_search::SearchSpace::new(Vec::new()).expect("space"),
            early_terminate: None,
            run: Default::default(),
            command: None,
            program: None,
            searcher: Default::default(),
            extra: Default::default(),
        };
        store.create_study("s", &spec).expect("study");
        store
            .trials
            .insert(trial_key("s", 0), b"{not json".as_slice())
            .expect("insert");
        match store.trials("s") {
            Err(StorageError::Corrupt { key, .. }) => assert_eq!(key, "trials/s/0"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        match store.report("s", 0, 1, 1.0) {
            Err(StorageError::Corrupt { key, .. }) => assert_eq!(key, "trials/s/0"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
