//! A store that lives in the process and dies with it.
//!
//! Used by tests, by embedded `Study` runs that need no record on disk, and
//! as the reference the sled store is checked against. Each study is a
//! vector indexed by trial number, so numbering without gaps falls out of
//! `Vec::push` under one lock; every call holds that lock for a few
//! microseconds, which keeps concurrent callers simple and correct.

use hypersweep_search::TrialState;
use hypersweep_search::sweep::SweepSpec;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use super::{ClaimDecision, Staleness, Storage, StudyCache, StudyRecord, rules};
use crate::error::StorageError;
use crate::trial::{Repeats, Trial, TrialOutcome, TrialUpdate, now_ms};

/// In-memory [`Storage`]: fast, shared between threads, not persistent.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    studies: Mutex<BTreeMap<String, StudyData>>,
    /// The claim lock of every study: held through a claim's decision (a
    /// suggestion may take milliseconds) without blocking reports.
    claims: Mutex<()>,
}

#[derive(Debug)]
struct StudyData {
    record: StudyRecord,
    /// Indexed by trial number.
    trials: Chunked,
}

/// Trials in fixed-size blocks, indexed by number. A `Vec<Trial>` doubles
/// by moving every trial it holds (a trial is a few hundred bytes), which
/// was the largest single cost of a trivial in-memory trial (issue 10,
/// `perf` of `cargo bench --bench throughput`); a full block here is never
/// moved, and a new one is allocated once per [`Chunked::BLOCK`] trials.
#[derive(Debug, Default)]
struct Chunked {
    blocks: Vec<Vec<Trial>>,
    len: usize,
}

impl Chunked {
    const BLOCK: usize = 1024;

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, trial: Trial) {
        if self.len.is_multiple_of(Self::BLOCK) {
            self.blocks.push(Vec::with_capacity(Self::BLOCK));
        }
        if let Some(block) = self.blocks.last_mut() {
            block.push(trial);
            self.len += 1;
        }
    }

    fn get(&self, i: usize) -> Option<&Trial> {
        self.blocks.get(i / Self::BLOCK)?.get(i % Self::BLOCK)
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut Trial> {
        self.blocks
            .get_mut(i / Self::BLOCK)?
            .get_mut(i % Self::BLOCK)
    }

    /// The trials numbered `start` and above, in order.
    fn from(&self, start: usize) -> impl Iterator<Item = &Trial> {
        let skip = start % Self::BLOCK;
        self.blocks
            .iter()
            .skip(start / Self::BLOCK)
            .flatten()
            .skip(skip)
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Trial> {
        self.blocks.iter_mut().flatten()
    }
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStorage::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, StudyData>> {
        // A panic in another thread cannot leave a half-written trial: every
        // mutation below is a single assignment, so the data stays usable.
        self.studies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `change` to a running trial and returns what it returns
    /// (reports return nothing, so they never clone a long trial).
    fn update_running<R>(
        &self,
        study: &str,
        number: u64,
        change: impl FnOnce(&mut Trial) -> R,
    ) -> Result<R, StorageError> {
        let mut studies = self.lock();
        let trial = trial_mut(&mut studies, study, number)?;
        rules::ensure_running(trial)?;
        Ok(change(trial))
    }
}

fn trial_mut<'a>(
    studies: &'a mut BTreeMap<String, StudyData>,
    study: &str,
    number: u64,
) -> Result<&'a mut Trial, StorageError> {
    let data = studies
        .get_mut(study)
        .ok_or_else(|| StorageError::NoStudy(study.to_owned()))?;
    usize::try_from(number)
        .ok()
        .and_then(|i| data.trials.get_mut(i))
        .ok_or_else(|| StorageError::NoTrial {
            study: study.to_owned(),
            number,
        })
}

impl Storage for MemoryStorage {
    fn create_study(&self, name: &str, spec: &SweepSpec) -> Result<StudyRecord, StorageError> {
        let mut studies = self.lock();
        let data = studies.entry(name.to_owned()).or_insert_with(|| StudyData {
            record: rules::new_study(name, spec, now_ms()),
            trials: Chunked::default(),
        });
        Ok(data.record.clone())
    }

    fn update_study(&self, name: &str, spec: &SweepSpec) -> Result<StudyRecord, StorageError> {
        let mut studies = self.lock();
        let data = studies
            .get_mut(name)
            .ok_or_else(|| StorageError::NoStudy(name.to_owned()))?;
        rules::apply_spec_update(&mut data.record, spec, now_ms());
        Ok(data.record.clone())
    }

    fn load_study(&self, name: &str) -> Result<Option<StudyRecord>, StorageError> {
        Ok(self.lock().get(name).map(|d| d.record.clone()))
    }

    fn list_studies(&self) -> Result<Vec<String>, StorageError> {
        Ok(self.lock().keys().cloned().collect())
    }

    fn delete_study(&self, name: &str) -> Result<bool, StorageError> {
        Ok(self.lock().remove(name).is_some())
    }

    fn claim(
        &self,
        study: &str,
        cache: &mut StudyCache,
        decide: &mut ClaimDecision<'_>,
    ) -> Result<Option<Trial>, StorageError> {
        let _claim = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        self.catch_up(study, cache)?;
        let number = cache.next_number();
        let Some(new) = decide(cache, number) else {
            return Ok(None);
        };
        let trial = rules::new_trial(study, number, new, now_ms());
        {
            let mut studies = self.lock();
            let data = studies
                .get_mut(study)
                .ok_or_else(|| StorageError::NoStudy(study.to_owned()))?;
            // Every trial is created under the claim lock, after a catch-up.
            debug_assert_eq!(data.trials.len() as u64, number);
            data.trials.push(trial.clone());
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
        let studies = self.lock();
        let data = studies
            .get(study)
            .ok_or_else(|| StorageError::NoStudy(study.to_owned()))?;
        let first = after.map_or(0, |a| a.saturating_add(1));
        let mut out: Vec<Trial> = unfinished
            .iter()
            .filter(|&&n| after.is_none_or(|a| n <= a))
            .filter_map(|&n| usize::try_from(n).ok().and_then(|i| data.trials.get(i)))
            .cloned()
            .collect();
        let start = usize::try_from(first).unwrap_or(usize::MAX);
        out.extend(data.trials.from(start).cloned());
        Ok(out)
    }

    fn is_exclusive(&self) -> bool {
        true
    }

    fn report(&self, study: &str, number: u64, step: u64, value: f64) -> Result<(), StorageError> {
        let now = now_ms();
        self.update_running(study, number, |t| rules::apply_report(t, step, value, now))
    }

    fn set_params(
        &self,
        study: &str,
        number: u64,
        update: TrialUpdate,
    ) -> Result<(), StorageError> {
        self.update_running(study, number, |t| update.apply(t))
    }

    fn set_repeats(&self, study: &str, number: u64, repeats: Repeats) -> Result<(), StorageError> {
        let now = now_ms();
        self.update_running(study, number, |t| {
            t.repeats = Some(repeats);
            t.heartbeat_ms = now;
        })
    }

    fn set_log_path(&self, study: &str, number: u64, path: PathBuf) -> Result<(), StorageError> {
        self.update_running(study, number, |t| t.log_path = Some(path))
    }

    fn heartbeat(&self, study: &str, number: u64) -> Result<(), StorageError> {
        let now = now_ms();
        self.update_running(study, number, |t| t.heartbeat_ms = now)
    }

    fn finish_trial(
        &self,
        study: &str,
        number: u64,
        outcome: TrialOutcome,
    ) -> Result<Trial, StorageError> {
        rules::ensure_final(study, number, &outcome)?;
        let now = now_ms();
        self.update_running(study, number, |t| {
            rules::apply_finish(t, outcome, now);
            t.clone()
        })
    }

    fn trial(&self, study: &str, number: u64) -> Result<Trial, StorageError> {
        let mut studies = self.lock();
        trial_mut(&mut studies, study, number).map(|t| t.clone())
    }

    fn trials(&self, study: &str) -> Result<Vec<Trial>, StorageError> {
        self.lock()
            .get(study)
            .map(|d| d.trials.from(0).cloned().collect())
            .ok_or_else(|| StorageError::NoStudy(study.to_owned()))
    }

    fn reap_stale(
        &self,
        study: &str,
        staleness: Staleness,
        reason: &str,
    ) -> Result<Vec<Trial>, StorageError> {
        let now = now_ms();
        let mut studies = self.lock();
        let data = studies
            .get_mut(study)
            .ok_or_else(|| StorageError::NoStudy(study.to_owned()))?;
        let mut reaped = Vec::new();
        for trial in data.trials.iter_mut() {
            if trial.state == TrialState::Running && rules::is_stale(trial, staleness, now) {
                rules::apply_finish(trial, rules::reaped_outcome(reason), now);
                reaped.push(trial.clone());
            }
        }
        Ok(reaped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::NewTrial;
    use hypersweep_search::Params;

    #[test]
    fn chunked_keeps_numbers_across_blocks() {
        let mut trials = Chunked::default();
        let n = 2 * Chunked::BLOCK + 7;
        for number in 0..n as u64 {
            trials.push(rules::new_trial(
                "s",
                number,
                NewTrial::new(Params::new()),
                0,
            ));
        }
        assert_eq!(trials.len(), n);
        for i in [
            0,
            1,
            Chunked::BLOCK - 1,
            Chunked::BLOCK,
            2 * Chunked::BLOCK,
            n - 1,
        ] {
            assert_eq!(trials.get(i).map(|t| t.number), Some(i as u64));
        }
        assert!(trials.get(n).is_none());
        let numbers = |start| trials.from(start).map(|t| t.number).collect::<Vec<_>>();
        assert_eq!(numbers(0), (0..n as u64).collect::<Vec<_>>());
        assert_eq!(
            numbers(Chunked::BLOCK + 3),
            (Chunked::BLOCK as u64 + 3..n as u64).collect::<Vec<_>>()
        );
        assert!(numbers(n).is_empty() && numbers(n + Chunked::BLOCK).is_empty());
        if let Some(t) = trials.get_mut(Chunked::BLOCK + 1) {
            t.value = Some(1.5);
        }
        assert_eq!(trials.iter_mut().filter(|t| t.value.is_some()).count(), 1);
        assert_eq!(
            trials.get(Chunked::BLOCK + 1).and_then(|t| t.value),
            Some(1.5)
        );
    }
}
