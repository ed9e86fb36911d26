//! The default store: a directory on disk holding many studies, in sled.
//!
//! Layout of the directory:
//! - `owner.pid`: the pid of the process that has it open (see `owner.rs`);
//! - `sled/`: the sled database, with four trees:
//!   - `meta`: `schema_version` -> the decimal version, written on creation;
//!   - `studies`: study name -> [`StudyRecord`] as JSON;
//!   - `trials`: `len(study) as u32 BE ++ study ++ number as u64 BE` ->
//!     [`Trial`] as JSON, without its intermediate values;
//!   - `reports`: the trial's key `++ step as u64 BE` -> the value's 8 bytes.
//!
//! The length prefix makes keys unambiguous whatever bytes a study name
//! holds; big-endian numbers make a study's trials one contiguous range in
//! number order (listing them is a prefix scan, the last number one seek from
//! the end) and a trial's reports one range in step order. Keeping reports
//! out of the trial record makes a report cost the same at step 10 and at
//! step 10,000, instead of rewriting an ever longer record.
//!
//! Writes are serialised by one in-process lock: the store belongs to one
//! process (the `owner.pid` lock), so that lock is all the coordination
//! needed, and it makes "a finished trial never changes" hold between a
//! report and a finish racing on two threads. Numbers are `last + 1` under
//! that lock, so they start at 0 and have no gaps, even across a crash.
//! Reads take no lock.
//!
//! Durability: `create_study`, `update_study`, `finish_trial`,
//! `finish_trials` (one flush for the batch) and `reap_stale` flush before
//! they return, so a finished trial is on disk before the scheduler counts
//! it. A claim flushes at once only an asked trial (its number leaves the
//! process with `ask`); a scheduler's claims are made durable together by
//! [`Storage::persist_claims`], which it calls before any of their trial
//! processes start: one fsync for the trials a round of claims starts, not
//! one each, and never a trial that ran without a record on disk. `report`,
//! `heartbeat` and `set_log_path` do not flush (a report per training step
//! would cost an fsync each); sled's background flusher writes them within
//! half a second, and the trial's finish flushes them with it.

use hypersweep_search::TrialState;
use hypersweep_search::sweep::SweepSpec;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::owner::{self, OwnerLock};
use super::sled_codec::{
    decode, decode_value, encode, encode_value, report_key, report_label, study_label,
    study_prefix, trial_key, trial_label, u64_at,
};
use super::{ClaimDecision, Staleness, Storage, StudyCache, StudyRecord, rules};
use crate::error::StorageError;
use crate::trial::{Repeats, Trial, TrialOutcome, TrialUpdate, now_ms};

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
    reports: sled::Tree,
    /// Held by every write (see the module docs).
    write: Mutex<()>,
    /// The claim lock of every study, held through a claim's decision so
    /// that reports need not wait for a suggestion.
    claims: Mutex<()>,
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
        let reports = db.open_tree("reports").map_err(backend)?;
        Ok(SledStorage {
            dir,
            db,
            studies,
            trials,
            reports,
            write: Mutex::new(()),
            claims: Mutex::new(()),
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

    fn lock_writes(&self) -> MutexGuard<'_, ()> {
        // The guarded data lives in sled; a panicking writer leaves nothing
        // half-done in the mutex itself.
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One more than the study's last trial key (0 for none).
    fn next_number(&self, study: &str) -> Result<u64, StorageError> {
        let prefix = study_prefix(study);
        match self.trials.scan_prefix(&prefix).next_back() {
            None => Ok(0),
            Some(entry) => {
                let (key, _) = entry.map_err(backend)?;
                Ok(u64_at(&key, prefix.len())? + 1)
            }
        }
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

    /// The stored record of a trial, without its intermediate values.
    fn record(&self, study: &str, number: u64) -> Result<Trial, StorageError> {
        let bytes = self
            .trials
            .get(trial_key(study, number))
            .map_err(backend)?
            .ok_or_else(|| self.missing_trial(study, number))?;
        decode(&bytes, || trial_label(study, number))
    }

    fn put_record(&self, trial: &Trial) -> Result<(), StorageError> {
        let bytes = encode(trial, || trial_label(&trial.study, trial.number))?;
        self.trials
            .insert(trial_key(&trial.study, trial.number), bytes)
            .map(drop)
            .map_err(backend)
    }

    /// Fills a record's intermediate values from the `reports` tree.
    fn with_reports(&self, mut trial: Trial) -> Result<Trial, StorageError> {
        let prefix = trial_key(&trial.study, trial.number);
        trial.intermediate.clear();
        for entry in self.reports.scan_prefix(&prefix) {
            let (key, bytes) = entry.map_err(backend)?;
            let step = u64_at(&key, prefix.len())?;
            let value = decode_value(&bytes, || report_label(&trial.study, trial.number, step));
            if let Some(value) = readable(value)? {
                trial.intermediate.push((step, value));
            }
        }
        Ok(trial)
    }

    /// Applies `change` to the record of a running trial, under the write
    /// lock.
    fn update_running(
        &self,
        study: &str,
        number: u64,
        change: impl FnOnce(&mut Trial),
    ) -> Result<Trial, StorageError> {
        let _guard = self.lock_writes();
        let mut trial = self.record(study, number)?;
        rules::ensure_running(&trial)?;
        change(&mut trial);
        self.put_record(&trial)?;
        Ok(trial)
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
        let guard = self.lock_writes();
        if let Some(existing) = self.load_study(name)? {
            return Ok(existing);
        }
        let record = rules::new_study(name, spec, now_ms());
        let bytes = encode(&record, || study_label(name))?;
        self.studies.insert(name, bytes).map_err(backend)?;
        drop(guard);
        self.flush()?;
        Ok(record)
    }

    fn update_study(&self, name: &str, spec: &SweepSpec) -> Result<StudyRecord, StorageError> {
        let guard = self.lock_writes();
        let mut record = self
            .load_study(name)?
            .ok_or_else(|| StorageError::NoStudy(name.to_owned()))?;
        rules::apply_spec_update(&mut record, spec, now_ms());
        let bytes = encode(&record, || study_label(name))?;
        self.studies.insert(name, bytes).map_err(backend)?;
        drop(guard);
        self.flush()?;
        Ok(record)
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

    fn delete_study(&self, name: &str) -> Result<bool, StorageError> {
        let _claim = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        let guard = self.lock_writes();
        if self.studies.remove(name).map_err(backend)?.is_none() {
            return Ok(false);
        }
        let prefix = study_prefix(name);
        for tree in [&self.trials, &self.reports] {
            for key in tree.scan_prefix(&prefix).keys() {
                tree.remove(key.map_err(backend)?).map_err(backend)?;
            }
        }
        drop(guard);
        self.flush()?;
        Ok(true)
    }

    fn claim(
        &self,
        study: &str,
        cache: &mut StudyCache,
        decide: &mut ClaimDecision<'_>,
    ) -> Result<Option<Trial>, StorageError> {
        let _claim = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        if !self.study_exists(study)? {
            return Err(StorageError::NoStudy(study.to_owned()));
        }
        self.catch_up(study, cache)?;
        // The last key, not the cache: an unreadable record (kept aside,
        // skipped by reads) still holds its number.
        let number = cache.next_number().max(self.next_number(study)?);
        let Some(new) = decide(cache, number) else {
            return Ok(None);
        };
        let trial = rules::new_trial(study, number, new, now_ms());
        let guard = self.lock_writes();
        self.put_record(&trial)?;
        drop(guard);
        if trial.asked {
            self.flush()?;
        }
        cache.apply([&trial]);
        Ok(Some(trial))
    }

    fn changes(
        &self,
        study: &str,
        after: Option<u64>,
        unfinished: &[u64],
    ) -> Result<Vec<Trial>, StorageError> {
        let mut out = Vec::new();
        for &number in unfinished.iter().filter(|&&n| after.is_none_or(|a| n <= a)) {
            match self.record(study, number) {
                Ok(t) => out.push(self.with_reports(t)?),
                Err(StorageError::NoTrial { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let prefix = study_prefix(study);
        let mut end = prefix.clone();
        end.extend_from_slice(&u64::MAX.to_be_bytes());
        let start = match after {
            None => prefix.clone(),
            Some(u64::MAX) => return Ok(out),
            Some(a) => trial_key(study, a + 1),
        };
        for entry in self.trials.range(start..=end) {
            let (key, bytes) = entry.map_err(backend)?;
            let number = u64_at(&key, prefix.len())?;
            if let Some(trial) = readable(decode::<Trial>(&bytes, || trial_label(study, number)))? {
                out.push(self.with_reports(trial)?);
            }
        }
        if after.is_none() && out.is_empty() && !self.study_exists(study)? {
            return Err(StorageError::NoStudy(study.to_owned()));
        }
        Ok(out)
    }

    fn is_exclusive(&self) -> bool {
        true
    }

    fn syncs_in_batches(&self) -> bool {
        true
    }

    fn unreadable(&self, study: &str) -> Result<Vec<String>, StorageError> {
        let prefix = study_prefix(study);
        let mut out = Vec::new();
        for entry in self.trials.scan_prefix(&prefix) {
            let (key, bytes) = entry.map_err(backend)?;
            let number = u64_at(&key, prefix.len())?;
            if let Err(StorageError::Corrupt { key, .. }) =
                decode::<Trial>(&bytes, || trial_label(study, number))
            {
                out.push(key);
            }
        }
        for entry in self.reports.scan_prefix(&prefix) {
            let (key, bytes) = entry.map_err(backend)?;
            let number = u64_at(&key, prefix.len())?;
            let step = u64_at(&key, prefix.len() + 8)?;
            if let Err(StorageError::Corrupt { key, .. }) =
                decode_value(&bytes, || report_label(study, number, step))
            {
                out.push(key);
            }
        }
        Ok(out)
    }

    fn persist_claims(&self) -> Result<(), StorageError> {
        self.flush()
    }

    fn report(&self, study: &str, number: u64, step: u64, value: f64) -> Result<(), StorageError> {
        let _guard = self.lock_writes();
        let mut trial = self.record(study, number)?;
        rules::ensure_running(&trial)?;
        trial.heartbeat_ms = now_ms();
        self.put_record(&trial)?;
        self.reports
            .insert(report_key(study, number, step), &encode_value(value))
            .map(drop)
            .map_err(backend)
    }

    fn set_params(
        &self,
        study: &str,
        number: u64,
        update: TrialUpdate,
    ) -> Result<(), StorageError> {
        self.update_running(study, number, |t| update.apply(t))
            .map(drop)
    }

    fn set_repeats(&self, study: &str, number: u64, repeats: Repeats) -> Result<(), StorageError> {
        let now = now_ms();
        self.update_running(study, number, |t| {
            t.repeats = Some(repeats);
            t.heartbeat_ms = now;
        })
        .map(drop)
    }

    fn set_log_path(&self, study: &str, number: u64, path: PathBuf) -> Result<(), StorageError> {
        self.update_running(study, number, |t| t.log_path = Some(path))
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
        let trial = self.update_running(study, number, |t| rules::apply_finish(t, outcome, now))?;
        self.flush()?;
        self.with_reports(trial)
    }

    fn finish_trials(
        &self,
        study: &str,
        outcomes: Vec<(u64, TrialOutcome)>,
    ) -> Vec<Result<Trial, StorageError>> {
        let now = now_ms();
        let written: Vec<Result<Trial, StorageError>> = outcomes
            .into_iter()
            .map(|(number, outcome)| {
                rules::ensure_final(study, number, &outcome)?;
                self.update_running(study, number, |t| rules::apply_finish(t, outcome, now))
            })
            .collect();
        // One flush for all of them, before any is returned as finished.
        if written.iter().any(Result::is_ok)
            && let Err(err) = self.flush()
        {
            let message = err.to_string();
            return written
                .into_iter()
                .map(|r| r.and(Err(StorageError::Backend(message.clone()))))
                .collect();
        }
        written
            .into_iter()
            .map(|r| r.and_then(|t| self.with_reports(t)))
            .collect()
    }

    fn trial(&self, study: &str, number: u64) -> Result<Trial, StorageError> {
        self.with_reports(self.record(study, number)?)
    }

    fn trials(&self, study: &str) -> Result<Vec<Trial>, StorageError> {
        let prefix = study_prefix(study);
        let mut out: Vec<Trial> = Vec::new();
        for entry in self.trials.scan_prefix(&prefix) {
            let (key, bytes) = entry.map_err(backend)?;
            let number = u64_at(&key, prefix.len())?;
            let Some(mut trial) = readable(decode::<Trial>(&bytes, || trial_label(study, number)))?
            else {
                continue;
            };
            trial.intermediate.clear();
            out.push(trial);
        }
        if out.is_empty() && !self.study_exists(study)? {
            return Err(StorageError::NoStudy(study.to_owned()));
        }
        // One pass over the study's reports, which come in (number, step)
        // order like the trials; `out[number]` is the trial, as numbers
        // have no gaps, but a lookup keeps a damaged store readable.
        for entry in self.reports.scan_prefix(&prefix) {
            let (key, bytes) = entry.map_err(backend)?;
            let number = u64_at(&key, prefix.len())?;
            let step = u64_at(&key, prefix.len() + 8)?;
            let Some(value) = readable(decode_value(&bytes, || report_label(study, number, step)))?
            else {
                continue;
            };
            let slot = usize::try_from(number)
                .ok()
                .filter(|&i| out.get(i).is_some_and(|t| t.number == number))
                .or_else(|| out.binary_search_by_key(&number, |t| t.number).ok());
            if let Some(i) = slot {
                out[i].intermediate.push((step, value));
            }
        }
        Ok(out)
    }

    fn reap_stale(
        &self,
        study: &str,
        staleness: Staleness,
        reason: &str,
    ) -> Result<Vec<Trial>, StorageError> {
        let now = now_ms();
        let stale: Vec<u64> = self
            .trials(study)?
            .into_iter()
            .filter(|t| t.state == TrialState::Running && rules::is_stale(t, staleness, now))
            .map(|t| t.number)
            .collect();
        let mut reaped = Vec::with_capacity(stale.len());
        for number in stale {
            let result = self.update_running(study, number, |t| {
                rules::apply_finish(t, rules::reaped_outcome(reason), now);
            });
            match result {
                Ok(trial) => reaped.push(self.with_reports(trial)?),
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

/// A record that cannot be decoded is kept where it is, skipped by reads
/// (so one damaged trial does not stop a study from loading), reported once
/// per read, and listed by [`Storage::unreadable`] for `status`.
fn readable<T>(decoded: Result<T, StorageError>) -> Result<Option<T>, StorageError> {
    match decoded {
        Ok(v) => Ok(Some(v)),
        Err(StorageError::Corrupt { key, message }) => {
            tracing::warn!(%key, %message, "unreadable record skipped (kept in the store)");
            Ok(None)
        }
        Err(e) => Err(e),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SweepSpec {
        SweepSpec {
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
            custom: Default::default(),
        }
    }

    #[test]
    fn a_corrupt_record_is_skipped_listed_and_keeps_its_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStorage::open(dir.path()).expect("open");
        store.create_study("s", &spec()).expect("study");
        store
            .trials
            .insert(trial_key("s", 0), b"{not json".as_slice())
            .expect("insert");
        assert_eq!(store.trials("s").expect("the study still loads"), vec![]);
        assert_eq!(store.unreadable("s").expect("scan"), vec!["trials/s/0"]);
        let next = store
            .create_trial("s", crate::storage::NewTrial::new(Default::default()))
            .expect("a new trial");
        assert_eq!(next.number, 1, "the unreadable record keeps its number");
        assert_eq!(store.unreadable("s").expect("scan"), vec!["trials/s/0"]);
        match store.report("s", 0, 1, 1.0) {
            Err(StorageError::Corrupt { key, .. }) => assert_eq!(key, "trials/s/0"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn a_corrupt_report_value_is_skipped_and_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStorage::open(dir.path()).expect("open");
        store.create_study("s", &spec()).expect("study");
        store
            .create_trial("s", crate::storage::NewTrial::new(Default::default()))
            .expect("trial");
        store
            .reports
            .insert(report_key("s", 0, 4), b"short".as_slice())
            .expect("insert");
        store.report("s", 0, 5, 0.5).expect("report");
        let trial = store.trial("s", 0).expect("the trial still reads");
        assert_eq!(
            trial.intermediate,
            vec![(5, 0.5)],
            "the bad value is skipped"
        );
        assert_eq!(store.unreadable("s").expect("scan"), vec!["reports/s/0/4"]);
    }
}
