//! The sweep against a store that fails: a storage wrapper injects a full
//! disk on one trial's finish, and on every intermediate write.

use std::path::PathBuf;
use std::sync::Arc;

use hypersweep_search::sweep::SweepSpec;

use super::tests::{Script, UniformSearcher, scheduler_on, setup, x_of};
use super::*;
use crate::runner::{Decision, RunOutcome};
use crate::storage::{ClaimDecision, MemoryStorage, StudyCache, StudyRecord};
use crate::trial::TrialOutcome;

/// A [`MemoryStorage`] whose writes fail where the test says.
struct FaultyStorage {
    inner: Arc<MemoryStorage>,
    /// The trial whose finish finds the disk full.
    full_on_finish_of: u64,
    /// Every `report` fails.
    reports_fail: bool,
}

fn disk_full() -> StorageError {
    StorageError::Io(std::io::Error::other(
        "No space left on device (os error 28)",
    ))
}

impl Storage for FaultyStorage {
    fn create_study(&self, name: &str, spec: &SweepSpec) -> Result<StudyRecord, StorageError> {
        self.inner.create_study(name, spec)
    }
    fn update_study(&self, name: &str, spec: &SweepSpec) -> Result<StudyRecord, StorageError> {
        self.inner.update_study(name, spec)
    }
    fn load_study(&self, name: &str) -> Result<Option<StudyRecord>, StorageError> {
        self.inner.load_study(name)
    }
    fn list_studies(&self) -> Result<Vec<String>, StorageError> {
        self.inner.list_studies()
    }
    fn delete_study(&self, name: &str) -> Result<bool, StorageError> {
        self.inner.delete_study(name)
    }
    fn claim(
        &self,
        study: &str,
        cache: &mut StudyCache,
        decide: &mut ClaimDecision<'_>,
    ) -> Result<Option<Trial>, StorageError> {
        self.inner.claim(study, cache, decide)
    }
    fn changes(
        &self,
        study: &str,
        after: Option<u64>,
        unfinished: &[u64],
    ) -> Result<Vec<Trial>, StorageError> {
        self.inner.changes(study, after, unfinished)
    }
    fn is_exclusive(&self) -> bool {
        true
    }
    fn report(&self, study: &str, number: u64, step: u64, value: f64) -> Result<(), StorageError> {
        if self.reports_fail {
            return Err(disk_full());
        }
        self.inner.report(study, number, step, value)
    }
    fn set_repeats(
        &self,
        study: &str,
        number: u64,
        repeats: crate::trial::Repeats,
    ) -> Result<(), StorageError> {
        self.inner.set_repeats(study, number, repeats)
    }
    fn set_log_path(&self, study: &str, number: u64, path: PathBuf) -> Result<(), StorageError> {
        self.inner.set_log_path(study, number, path)
    }
    fn set_params(
        &self,
        study: &str,
        number: u64,
        update: crate::TrialUpdate,
    ) -> Result<(), StorageError> {
        self.inner.set_params(study, number, update)
    }
    fn heartbeat(&self, study: &str, number: u64) -> Result<(), StorageError> {
        self.inner.heartbeat(study, number)
    }
    fn finish_trial(
        &self,
        study: &str,
        number: u64,
        outcome: TrialOutcome,
    ) -> Result<Trial, StorageError> {
        if number == self.full_on_finish_of {
            return Err(disk_full());
        }
        self.inner.finish_trial(study, number, outcome)
    }
    fn trial(&self, study: &str, number: u64) -> Result<Trial, StorageError> {
        self.inner.trial(study, number)
    }
    fn trials(&self, study: &str) -> Result<Vec<Trial>, StorageError> {
        self.inner.trials(study)
    }
    fn reap_stale(
        &self,
        study: &str,
        staleness: Staleness,
        reason: &str,
    ) -> Result<Vec<Trial>, StorageError> {
        self.inner.reap_stale(study, staleness, reason)
    }
}

#[tokio::test]
async fn a_full_disk_on_finish_stops_the_sweep_with_the_result_and_the_next_run_continues() {
    let (cfg, inner) = setup(6, 1);
    let faulty: Arc<dyn Storage> = Arc::new(FaultyStorage {
        inner: Arc::clone(&inner),
        full_on_finish_of: 2,
        reports_fail: false,
    });
    let script: Arc<Script> =
        Arc::new(|ctx| Box::pin(async move { RunOutcome::Complete(x_of(&ctx)) }));
    let err = scheduler_on(
        cfg.clone(),
        faulty,
        Box::new(UniformSearcher),
        script.clone(),
    )
    .run()
    .await
    .expect_err("the sweep stops");
    let trial2 = inner.trial("s", 2).unwrap();
    match &err {
        SchedulerError::Unrecorded {
            number,
            outcome,
            params,
            ..
        } => {
            assert_eq!(*number, 2);
            let x = trial2.params.f64("x").unwrap();
            assert_eq!(outcome, &format!("complete with value {x}"));
            assert_eq!(params, &serde_json::to_string(&trial2.params).unwrap());
        }
        other => panic!("expected Unrecorded, got {other:?}"),
    }
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert_eq!(
        trial2.state,
        TrialState::Running,
        "not stored, not mistaken"
    );
    assert_eq!(inner.trials("s").unwrap().len(), 3, "nothing claimed after");

    let shared: Arc<dyn Storage> = inner.clone();
    let summary = scheduler_on(cfg, shared, Box::new(UniformSearcher), script)
        .run()
        .await
        .expect("the next run goes on");
    assert_eq!(summary.reaped, 1);
    assert_eq!(summary.counted, 6, "and ends with exactly the budget");
}

#[tokio::test]
async fn a_failed_intermediate_write_is_not_a_prune() {
    let (cfg, inner) = setup(2, 1);
    let faulty: Arc<dyn Storage> = Arc::new(FaultyStorage {
        inner: Arc::clone(&inner),
        full_on_finish_of: u64::MAX,
        reports_fail: true,
    });
    let script: Arc<Script> = Arc::new(|ctx| {
        Box::pin(async move {
            for step in 0..3 {
                if ctx.report(step, 1.0) == Decision::Prune {
                    return RunOutcome::Pruned;
                }
            }
            RunOutcome::Complete(x_of(&ctx))
        })
    });
    let summary = scheduler_on(cfg, faulty, Box::new(UniformSearcher), script)
        .run()
        .await
        .unwrap();
    assert_eq!(summary.counted, 2);
    let states: Vec<TrialState> = inner.trials("s").unwrap().iter().map(|t| t.state).collect();
    assert_eq!(states, vec![TrialState::Complete, TrialState::Complete]);
}
