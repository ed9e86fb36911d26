//! One study as the dashboard follows it: the trials read so far, and for
//! each the version at which it last changed.
//!
//! A page holds a cursor (the version it has drawn) and asks for what
//! changed since; the answer carries only the trials that are new or
//! changed after that version, and the study's head (counts, best,
//! importance) only when something changed. The feed reads the store
//! incrementally too ([`Storage::changes`]: trials numbered above the last
//! one seen, plus the ones it still holds as running), so a poll of a
//! 50,000-trial study costs the few trials that moved, not the study.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hypersweep_search::TrialState;
use hypersweep_trials::storage::StudyRecord;
use hypersweep_trials::{Storage, StorageError, Trial};
use serde_json::{Value, json};

use crate::report;

/// A feed reads the store at most this often, however many pages poll it.
pub const MIN_REFRESH: Duration = Duration::from_millis(500);

/// What the dashboard knows of one study.
#[derive(Debug)]
pub struct StudyFeed {
    name: String,
    record: StudyRecord,
    /// By number.
    trials: Vec<Trial>,
    /// Trial number -> the version at which it was last new or changed.
    changed_at: BTreeMap<u64, u64>,
    version: u64,
    head: Value,
    refreshed: Instant,
}

/// The answer to "what changed since version N".
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    /// The feed's version now: the cursor of the next question.
    pub version: u64,
    /// The study's head ([`report::head`]), when anything changed.
    pub head: Option<Value>,
    /// The trials new or changed after N, as the page reads them.
    pub trials: Vec<Value>,
}

impl Delta {
    /// As JSON: `{"version": V, "head": {...}?, "trials": [...]}`.
    pub fn to_json(&self) -> Value {
        let mut out = json!({ "version": self.version, "trials": self.trials });
        if let Some(head) = &self.head {
            out["head"] = head.clone();
        }
        out
    }
}

impl StudyFeed {
    /// Reads the study `name` whole; `Ok(None)` when there is no such study.
    pub fn open(storage: &dyn Storage, name: &str) -> Result<Option<StudyFeed>, StorageError> {
        let Some(record) = storage.load_study(name)? else {
            return Ok(None);
        };
        let mut trials = storage.trials(name)?;
        trials.sort_by_key(|t| t.number);
        let changed_at = trials.iter().map(|t| (t.number, 1)).collect();
        let mut feed = StudyFeed {
            name: name.to_owned(),
            record,
            trials,
            changed_at,
            version: 1,
            head: Value::Null,
            refreshed: Instant::now(),
        };
        feed.head = feed.compute_head();
        Ok(Some(feed))
    }

    /// The study's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Reads what changed in the store, unless the last read was less than
    /// [`MIN_REFRESH`] ago; true when a trial (or the record) changed.
    pub fn refresh_if_due(&mut self, storage: &dyn Storage) -> Result<bool, StorageError> {
        if self.refreshed.elapsed() < MIN_REFRESH {
            return Ok(false);
        }
        self.refresh(storage)
    }

    /// Reads what changed in the store now; true when a trial (or the
    /// record) changed, which makes a new version.
    pub fn refresh(&mut self, storage: &dyn Storage) -> Result<bool, StorageError> {
        self.refreshed = Instant::now();
        let after = self.trials.last().map(|t| t.number);
        let unfinished: Vec<u64> = self
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Running)
            .map(|t| t.number)
            .collect();
        let changes = storage.changes(&self.name, after, &unfinished)?;
        let record = storage.load_study(&self.name)?;
        let next = self.version + 1;
        let mut changed = false;
        if let Some(record) = record
            && record != self.record
        {
            self.record = record;
            changed = true;
        }
        for trial in changes {
            let number = trial.number;
            match self.trials.binary_search_by_key(&number, |t| t.number) {
                Ok(at) if same_view(&self.trials[at], &trial) => continue,
                Ok(at) => self.trials[at] = trial,
                Err(at) => self.trials.insert(at, trial),
            }
            self.changed_at.insert(number, next);
            changed = true;
        }
        if changed {
            self.version = next;
            self.head = self.compute_head();
        }
        Ok(changed)
    }

    /// What changed after version `since` (everything when `since` is 0 or
    /// from another feed's life, i.e. above the current version).
    pub fn since(&self, since: u64) -> Delta {
        if since == self.version {
            return Delta {
                version: self.version,
                head: None,
                trials: Vec::new(),
            };
        }
        // A cursor from the future was handed out by an earlier server:
        // the page gets everything again.
        let since = if since > self.version { 0 } else { since };
        let trials = self
            .changed_at
            .iter()
            .filter(|&(_, &v)| v > since)
            .filter_map(|(n, _)| {
                let at = self.trials.binary_search_by_key(n, |t| t.number).ok()?;
                self.trials.get(at)
            })
            .filter(|t| t.role.is_search())
            .map(report::trial_data)
            .collect();
        Delta {
            version: self.version,
            head: Some(self.head.clone()),
            trials,
        }
    }

    /// Everything the page shows, with the cursor of this version under
    /// `live`.
    pub fn page_data(&self, poll_ms: u64) -> Value {
        let mut data = self.head.clone();
        data["trials"] = report::trials_data(&self.trials);
        data["live"] = json!({
            "study": self.name,
            "version": self.version,
            "poll_ms": poll_ms,
        });
        data
    }

    fn compute_head(&self) -> Value {
        report::head(&self.record, &self.trials)
    }
}

/// True when the page would show `a` and `b` alike: a running trial's
/// heartbeat moves every few seconds, which is not a change to send (nor
/// to recompute the importance for).
fn same_view(a: &Trial, b: &Trial) -> bool {
    if a.heartbeat_ms == b.heartbeat_ms {
        return a == b;
    }
    let mut b = b.clone();
    b.heartbeat_ms = a.heartbeat_ms;
    *a == b
}
