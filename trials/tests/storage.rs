//! One conformance suite, run against every backend (memory, sled, and
//! PostgreSQL when `HYPERSWEEP_TEST_POSTGRES` names a server), plus the
//! sled-only properties (reopening, schema versions, process ownership) and
//! the PostgreSQL-only ones (in `storage/pg.rs`).

#[cfg(feature = "postgres")]
#[path = "storage/pg.rs"]
mod pg;
#[path = "storage/shared.rs"]
mod shared;

use shared::{
    asked_trials_wait_for_the_ask_timeout, changes_are_new_trials_and_listed_unfinished,
    claim_catches_up_with_another_handle, claims_keep_the_budget_across_threads_and_handles,
    delete_study_removes_it_and_its_trials,
};

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hypersweep_search::sweep::SweepSpec;
use hypersweep_search::{Domain, Method, Param, Params, SearchSpace, Value};
use hypersweep_trials::{
    MemoryStorage, NewTrial, SledStorage, Staleness, Storage, StorageError, TrialOutcome,
    TrialState, TrialUpdate,
};
use tempfile::TempDir;

fn spec(method: Method) -> SweepSpec {
    let space = SearchSpace::new(vec![Param::new(
        "lr",
        Domain::Float {
            low: 1e-4,
            high: 1e-1,
            log: true,
            step: None,
        },
    )])
    .expect("valid space");
    SweepSpec {
        name: None,
        description: None,
        method,
        metric: Default::default(),
        space,
        early_terminate: None,
        run: Default::default(),
        command: None,
        program: None,
        searcher: Default::default(),
        extra: Default::default(),
        custom: Default::default(),
    }
}

fn new_trial(lr: f64) -> NewTrial {
    let mut params = Params::new();
    params.insert("lr", Value::from(lr));
    NewTrial {
        device: Some("cpu".to_owned()),
        worker: Some("test:1".to_owned()),
        ..NewTrial::new(params)
    }
}

fn stale(after: Duration) -> Staleness {
    Staleness {
        after,
        asked_after: Duration::from_secs(3600),
    }
}

fn outcome(state: TrialState, value: Option<f64>) -> TrialOutcome {
    TrialOutcome {
        state,
        value,
        error: None,
    }
}

// ---- the conformance suite, generic over the backend ----

fn numbers_start_at_zero_per_study(s: &dyn Storage) {
    s.create_study("a", &spec(Method::Random)).expect("study a");
    s.create_study("b", &spec(Method::Random)).expect("study b");
    for expected in 0..5 {
        assert_eq!(
            s.create_trial("a", new_trial(0.01)).expect("a").number,
            expected
        );
    }
    assert_eq!(s.create_trial("b", new_trial(0.01)).expect("b").number, 0);
    let numbers: Vec<u64> = s
        .trials("a")
        .expect("list")
        .iter()
        .map(|t| t.number)
        .collect();
    assert_eq!(numbers, vec![0, 1, 2, 3, 4]);
    assert_eq!(s.trials("b").expect("list").len(), 1);
    assert_eq!(
        s.list_studies().expect("names"),
        vec!["a".to_owned(), "b".to_owned()]
    );
}

fn numbers_have_no_gaps_under_threads(s: &dyn Storage) {
    const THREADS: u64 = 4;
    const EACH: u64 = 25;
    s.create_study("c", &spec(Method::Random)).expect("study");
    let taken: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    (0..EACH)
                        .map(|_| s.create_trial("c", new_trial(0.1)).expect("create").number)
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    let unique: BTreeSet<u64> = taken.iter().copied().collect();
    assert_eq!(unique.len(), taken.len(), "a number was handed out twice");
    assert_eq!(unique, (0..THREADS * EACH).collect::<BTreeSet<u64>>());
    let listed: Vec<u64> = s
        .trials("c")
        .expect("list")
        .iter()
        .map(|t| t.number)
        .collect();
    assert_eq!(listed, (0..THREADS * EACH).collect::<Vec<u64>>());
}

fn create_study_keeps_the_existing_one(s: &dyn Storage) {
    let first = s.create_study("s", &spec(Method::Random)).expect("create");
    let again = s.create_study("s", &spec(Method::Tpe)).expect("again");
    assert_eq!(again, first);
    assert_eq!(again.spec.method, Method::Random);
    assert_eq!(s.load_study("s").expect("load"), Some(first));
    assert_eq!(s.load_study("nope").expect("load"), None);
}

fn update_study_replaces_the_spec_and_records_the_change(s: &dyn Storage) {
    let created = s.create_study("s", &spec(Method::Random)).expect("create");
    s.create_trial("s", new_trial(0.01)).expect("t0");

    let updated = s.update_study("s", &spec(Method::Tpe)).expect("update");
    assert_eq!(updated.spec.method, Method::Tpe);
    assert_eq!(updated.created_ms, created.created_ms);
    assert_eq!(updated.revisions.len(), 1);
    assert_eq!(updated.revisions[0].differences, ["method: random -> tpe"]);
    assert!(updated.revisions[0].at_ms >= created.created_ms);
    assert_eq!(s.load_study("s").expect("load"), Some(updated.clone()));
    assert_eq!(s.trials("s").expect("trials").len(), 1, "trials are kept");

    // Run settings only: stored, but not a revision of the identity.
    let mut more = spec(Method::Tpe);
    more.run.trials = Some(40);
    let again = s.update_study("s", &more).expect("update run");
    assert_eq!(again.spec.run.trials, Some(40));
    assert_eq!(again.revisions, updated.revisions);

    assert!(matches!(
        s.update_study("nope", &more),
        Err(StorageError::NoStudy(name)) if name == "nope"
    ));
}

fn unknown_study_and_trial_are_errors(s: &dyn Storage) {
    assert!(matches!(
        s.create_trial("nope", new_trial(0.1)),
        Err(StorageError::NoStudy(_))
    ));
    assert!(matches!(s.trials("nope"), Err(StorageError::NoStudy(_))));
    s.create_study("s", &spec(Method::Random)).expect("study");
    assert!(s.trials("s").expect("empty").is_empty());
    assert!(matches!(
        s.trial("s", 3),
        Err(StorageError::NoTrial { number: 3, .. })
    ));
    assert!(matches!(
        s.report("s", 0, 1, 1.0),
        Err(StorageError::NoTrial { .. })
    ));
}

fn reports_replace_and_stay_sorted(s: &dyn Storage) {
    s.create_study("s", &spec(Method::Random)).expect("study");
    let t = s.create_trial("s", new_trial(0.1)).expect("trial");
    assert_eq!(t.state, TrialState::Running);
    assert!(t.intermediate.is_empty());
    for (step, value) in [(2, 0.5), (0, 0.9), (5, 0.2), (2, 0.4), (1, 0.7)] {
        s.report("s", t.number, step, value).expect("report");
    }
    let back = s.trial("s", t.number).expect("trial");
    assert_eq!(
        back.intermediate,
        vec![(0, 0.9), (1, 0.7), (2, 0.4), (5, 0.2)]
    );
    assert!(back.heartbeat_ms >= t.heartbeat_ms);
    s.set_log_path("s", t.number, "logs/0.log".into())
        .expect("log path");
    s.heartbeat("s", t.number).expect("heartbeat");
    let back = s.trial("s", t.number).expect("trial");
    assert_eq!(back.log_path.as_deref(), Some(Path::new("logs/0.log")));
    assert_eq!(back.params, t.params);
    assert_eq!(back.device.as_deref(), Some("cpu"));
}

fn set_params_replaces_them_while_running(s: &dyn Storage) {
    s.create_study("s", &spec(Method::Random)).expect("study");
    let t = s
        .create_trial("s", NewTrial::new(Params::new()))
        .expect("trial");
    let mut params = Params::new();
    params.insert("lr", Value::from(0.25));
    params.insert("layers", Value::from(3));
    let mut update = TrialUpdate::params(params.clone());
    update
        .distributions
        .insert("lr".to_owned(), Domain::float(0.0, 1.0));
    update
        .distributions
        .insert("layers".to_owned(), Domain::int(1, 8));
    update
        .user_attrs
        .insert("note".to_owned(), Value::from("first"));
    s.set_params("s", t.number, update.clone()).expect("params");
    s.report("s", t.number, 1, 0.5).expect("report");
    assert_eq!(s.trial("s", t.number).expect("trial").params, params);
    s.finish_trial("s", t.number, outcome(TrialState::Complete, Some(0.4)))
        .expect("finish");
    let done = s.trial("s", t.number).expect("trial");
    assert_eq!(done.params, params);
    assert_eq!(done.distributions, update.distributions);
    assert_eq!(done.user_attrs, update.user_attrs);
    let listed = s.trials("s").expect("trials");
    assert_eq!(listed[0].distributions, update.distributions);
    assert!(matches!(
        s.set_params("s", t.number, TrialUpdate::default()),
        Err(StorageError::AlreadyFinished { .. })
    ));
}

fn seeds_roles_and_repeats_are_kept(s: &dyn Storage) {
    s.create_study("s", &spec(Method::Random)).expect("study");
    let role = hypersweep_trials::TrialRole::Confirm {
        round: 2,
        variant: 1,
        variants: 3,
        of: 0,
    };
    let t = s
        .create_trial(
            "s",
            NewTrial {
                seeds: vec![7, u64::MAX],
                role: role.clone(),
                ..new_trial(0.1)
            },
        )
        .expect("trial");
    assert_eq!(
        (t.seeds.clone(), t.role.clone()),
        (vec![7, u64::MAX], role.clone())
    );
    s.set_repeats("s", t.number, hypersweep_trials::Repeats::of(vec![0.5]))
        .expect("first evaluation");
    let both = hypersweep_trials::Repeats::of(vec![0.5, 0.75]);
    s.set_repeats("s", t.number, both.clone())
        .expect("second evaluation");
    s.finish_trial("s", t.number, outcome(TrialState::Complete, Some(0.625)))
        .expect("finish");
    let done = s.trial("s", t.number).expect("trial");
    assert_eq!(done.repeats, Some(both));
    assert_eq!((done.seeds, done.role), (vec![7, u64::MAX], role));
    assert!(matches!(
        s.set_repeats("s", t.number, hypersweep_trials::Repeats::of(vec![])),
        Err(StorageError::AlreadyFinished { .. })
    ));
}

fn finish_sets_everything_once(s: &dyn Storage) {
    s.create_study("s", &spec(Method::Random)).expect("study");
    let t = s.create_trial("s", new_trial(0.1)).expect("trial");
    s.report("s", t.number, 1, 0.3).expect("report");
    let done = s
        .finish_trial(
            "s",
            t.number,
            TrialOutcome {
                state: TrialState::Pruned,
                value: Some(0.3),
                error: Some("pruned at step 1".to_owned()),
            },
        )
        .expect("finish");
    assert_eq!(done.state, TrialState::Pruned);
    assert_eq!(done.value, Some(0.3));
    assert_eq!(done.error.as_deref(), Some("pruned at step 1"));
    assert!(done.finished_ms.is_some_and(|f| f >= done.started_ms));
    assert_eq!(done.intermediate, vec![(1, 0.3)]);
    assert_eq!(s.trial("s", t.number).expect("read"), done);

    let again = s.finish_trial("s", t.number, outcome(TrialState::Complete, Some(1.0)));
    assert!(matches!(
        again,
        Err(StorageError::AlreadyFinished { number: 0, .. })
    ));
    assert!(matches!(
        s.report("s", t.number, 2, 0.1),
        Err(StorageError::AlreadyFinished { .. })
    ));
    assert!(matches!(
        s.heartbeat("s", t.number),
        Err(StorageError::AlreadyFinished { .. })
    ));
    assert_eq!(s.trial("s", t.number).expect("unchanged"), done);

    let other = s.create_trial("s", new_trial(0.2)).expect("trial");
    assert!(matches!(
        s.finish_trial("s", other.number, outcome(TrialState::Running, None)),
        Err(StorageError::NotFinal { .. })
    ));
}

fn reap_fails_only_stale_running_trials(s: &dyn Storage) {
    s.create_study("s", &spec(Method::Random)).expect("study");
    let done = s.create_trial("s", new_trial(0.1)).expect("t0");
    s.finish_trial("s", done.number, outcome(TrialState::Complete, Some(1.0)))
        .expect("finish");
    let running = s.create_trial("s", new_trial(0.2)).expect("t1");

    // Just created: not older than an hour.
    let none = s
        .reap_stale("s", stale(Duration::from_secs(3600)), "worker lost")
        .expect("reap");
    assert!(none.is_empty());
    // Margins are wide so a loaded machine cannot make the young trial look
    // old: its heartbeat is refreshed right before the reap (no flush between).
    std::thread::sleep(Duration::from_millis(200));
    let young = s.create_trial("s", new_trial(0.3)).expect("t2");
    s.heartbeat("s", young.number).expect("beat");
    let old = s
        .reap_stale("s", stale(Duration::from_millis(100)), "worker lost")
        .expect("reap");
    assert_eq!(
        old.iter().map(|t| t.number).collect::<Vec<_>>(),
        vec![running.number]
    );
    assert_eq!(old[0].state, TrialState::Failed);
    assert_eq!(old[0].error.as_deref(), Some("worker lost"));
    assert!(old[0].finished_ms.is_some());

    // Zero means every running trial, however fresh.
    let all = s
        .reap_stale("s", stale(Duration::ZERO), "resumed")
        .expect("reap");
    assert_eq!(
        all.iter().map(|t| t.number).collect::<Vec<_>>(),
        vec![young.number]
    );
    let states: Vec<TrialState> = s
        .trials("s")
        .expect("list")
        .iter()
        .map(|t| t.state)
        .collect();
    assert_eq!(
        states,
        vec![TrialState::Complete, TrialState::Failed, TrialState::Failed]
    );
    assert_eq!(
        s.trial("s", 0).expect("t0").value,
        Some(1.0),
        "a finished trial is never reaped"
    );
}

fn non_finite_values_round_trip(s: &dyn Storage) {
    s.create_study("s", &spec(Method::Random)).expect("study");
    let values = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    for (i, &v) in values.iter().enumerate() {
        let t = s.create_trial("s", new_trial(0.1)).expect("trial");
        s.report("s", t.number, 0, v).expect("report");
        s.report("s", t.number, 1, -0.0).expect("report");
        s.finish_trial("s", t.number, outcome(TrialState::Failed, Some(v)))
            .expect("finish");
        let back = s.trial("s", i as u64).expect("read");
        let got = back.value.expect("value kept, not turned into None");
        assert_eq!(got.to_bits(), v.to_bits(), "value {v}");
        assert_eq!(back.intermediate[0].1.to_bits(), v.to_bits());
        assert_eq!(back.intermediate[1].1.to_bits(), (-0.0f64).to_bits());
    }
    let listed = s.trials("s").expect("list");
    assert!(listed[0].value.is_some_and(f64::is_nan));
    assert_eq!(listed[1].value, Some(f64::INFINITY));
    assert_eq!(listed[2].value, Some(f64::NEG_INFINITY));
}

/// What a fixture keeps alive beside its store, and how to reach the same
/// data through another handle (another process, for a shared store).
trait Handles {
    /// A second handle on the store, when the backend can have one; an
    /// exclusive store (memory, sled) is shared by its threads instead.
    fn second_handle(&self) -> Option<Box<dyn Storage>> {
        None
    }
}

impl Handles for () {}
impl Handles for TempDir {}

fn finish_trials_answers_each_in_order(s: &dyn Storage) {
    s.create_study("s", &spec(Method::Random)).expect("study");
    for lr in [0.1, 0.2, 0.3] {
        s.create_trial("s", new_trial(lr)).expect("trial");
    }
    s.report("s", 2, 4, 0.5).expect("report");
    s.finish_trial("s", 1, outcome(TrialState::Complete, Some(1.0)))
        .expect("finish");
    let results = s.finish_trials(
        "s",
        vec![
            (2, outcome(TrialState::Pruned, Some(0.5))),
            (1, outcome(TrialState::Complete, Some(9.0))),
            (0, outcome(TrialState::Complete, Some(3.0))),
            (7, outcome(TrialState::Complete, Some(3.0))),
        ],
    );
    assert_eq!(results.len(), 4);
    let pruned = results[0].as_ref().expect("2 finished");
    assert_eq!((pruned.number, pruned.state), (2, TrialState::Pruned));
    assert_eq!(pruned.intermediate, vec![(4, 0.5)]);
    assert!(matches!(
        results[1],
        Err(StorageError::AlreadyFinished { number: 1, .. })
    ));
    let complete = results[2].as_ref().expect("0 finished");
    assert_eq!((complete.number, complete.value), (0, Some(3.0)));
    assert!(matches!(
        results[3],
        Err(StorageError::NoTrial { number: 7, .. })
    ));
    assert_eq!(s.trial("s", 1).expect("read").value, Some(1.0), "unchanged");
    assert_eq!(&s.trial("s", 2).expect("read"), pruned);
}

macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            conformance!(@tests $make;
                numbers_start_at_zero_per_study,
                numbers_have_no_gaps_under_threads,
                create_study_keeps_the_existing_one,
                update_study_replaces_the_spec_and_records_the_change,
                unknown_study_and_trial_are_errors,
                reports_replace_and_stay_sorted,
                set_params_replaces_them_while_running,
                seeds_roles_and_repeats_are_kept,
                finish_sets_everything_once,
                finish_trials_answers_each_in_order,
                reap_fails_only_stale_running_trials,
                non_finite_values_round_trip,
                changes_are_new_trials_and_listed_unfinished,
                asked_trials_wait_for_the_ask_timeout,
                delete_study_removes_it_and_its_trials,
            );
            conformance!(@pairs $make;
                claims_keep_the_budget_across_threads_and_handles,
                claim_catches_up_with_another_handle,
            );
        }
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                // `None`: the backend's server is not configured (the
                // fixture said so, or failed under CI).
                let Some((_guard, store)) = $make else {
                    return;
                };
                super::$name(&store);
            }
        )*
    };
    (@pairs $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let Some((guard, store)) = $make else {
                    return;
                };
                let second = Handles::second_handle(&guard);
                super::$name(&store, second.as_deref().unwrap_or(&store));
            }
        )*
    };
}

fn memory_store() -> Option<((), MemoryStorage)> {
    Some(((), MemoryStorage::new()))
}

fn sled_store() -> Option<(TempDir, SledStorage)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStorage::open(dir.path().join("hypersweep.db")).expect("open");
    Some((dir, store))
}

conformance!(memory, memory_store());
conformance!(sled, sled_store());
#[cfg(feature = "postgres")]
conformance!(postgres, pg::pg_store());

// ---- sled only ----

#[test]
fn sled_reopen_finds_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    let (running, done) = {
        let s = SledStorage::open(&path).expect("open");
        let rec = s.create_study("s", &spec(Method::Tpe)).expect("study");
        s.create_study("t", &spec(Method::Random)).expect("study");
        let done = s.create_trial("s", new_trial(0.01)).expect("t0");
        s.report("s", 0, 1, f64::NAN).expect("report");
        let done = s
            .finish_trial("s", done.number, outcome(TrialState::Complete, Some(0.5)))
            .expect("finish");
        s.create_trial("s", new_trial(0.02)).expect("t1");
        s.report("s", 1, 3, 0.25).expect("report");
        assert_eq!(s.load_study("s").expect("load"), Some(rec));
        let running = s.trial("s", 1).expect("read");
        (running, done)
    };
    let s = SledStorage::open(&path).expect("reopen");
    assert_eq!(
        s.list_studies().expect("names"),
        vec!["s".to_owned(), "t".to_owned()]
    );
    assert_eq!(
        s.load_study("s").expect("load").map(|r| r.spec.method),
        Some(Method::Tpe)
    );
    let trials = s.trials("s").expect("list");
    assert_eq!(trials.len(), 2);
    assert_eq!(trials[0].value, done.value);
    assert!(trials[0].intermediate[0].1.is_nan());
    assert_eq!(
        trials[1], running,
        "unflushed report survives a clean close"
    );
    assert_eq!(s.create_trial("s", new_trial(0.1)).expect("next").number, 2);
}

#[test]
fn sled_update_survives_reopen_and_old_records_read_without_revisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    let updated = {
        let s = SledStorage::open(&path).expect("open");
        s.create_study("s", &spec(Method::Random)).expect("s");
        s.create_study("old", &spec(Method::Random)).expect("old");
        s.update_study("s", &spec(Method::Grid)).expect("update")
    };
    {
        // A record as a store written before revisions holds it.
        let db = ::sled::open(path.join("sled")).expect("raw open");
        let studies = db.open_tree("studies").expect("studies");
        let bytes = studies.get("old").expect("read").expect("present");
        let mut record: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        let removed = record.as_object_mut().and_then(|o| o.remove("revisions"));
        assert_eq!(removed, Some(serde_json::json!([])));
        studies
            .insert("old", serde_json::to_vec(&record).expect("encode"))
            .expect("write");
        db.flush().expect("flush");
    }
    let s = SledStorage::open(&path).expect("reopen");
    assert_eq!(s.load_study("s").expect("load"), Some(updated));
    let old = s.load_study("old").expect("load").expect("present");
    assert!(old.revisions.is_empty());
    assert_eq!(old.spec.method, Method::Random);
}

#[test]
fn sled_rejects_a_newer_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SledStorage::open(dir.path()).expect("create"));
    {
        // What a future hypersweep would leave behind.
        let db = ::sled::open(dir.path().join("sled")).expect("raw open");
        let meta = db.open_tree("meta").expect("meta");
        meta.insert("schema_version", "99").expect("write");
        db.flush().expect("flush");
    }
    match SledStorage::open(dir.path()) {
        Err(StorageError::SchemaVersion {
            found, expected, ..
        }) => {
            assert_eq!(found, "99");
            assert_eq!(expected, SledStorage::SCHEMA_VERSION);
        }
        other => panic!("expected SchemaVersion, got {other:?}"),
    }
}

#[test]
fn sled_second_open_in_one_process_is_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = SledStorage::open(dir.path()).expect("open");
    match SledStorage::open(dir.path()) {
        Err(StorageError::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    assert!(
        !dir.path().join("owner.pid").exists(),
        "pid file removed on close"
    );
    SledStorage::open(dir.path()).expect("free again after drop");
}

/// Env var that turns [`lock_holder_child`] from a no-op into the child
/// process of [`sled_open_by_another_process_is_locked_with_its_pid`].
const HOLDER_ENV: &str = "HYPERSWEEP_TEST_HOLD_STORE";
const READY: &str = "store-held-and-ready";

/// Not a test by itself: when spawned by the test below it opens the store
/// named in [`HOLDER_ENV`] and holds it until killed.
#[test]
fn lock_holder_child() {
    let Some(dir) = std::env::var_os(HOLDER_ENV) else {
        return;
    };
    let store = SledStorage::open(&dir).expect("child opens the store");
    store
        .create_study("held", &spec(Method::Random))
        .expect("child writes");
    println!("{READY}");
    std::thread::sleep(Duration::from_secs(60));
    drop(store);
}

fn spawn_holder(dir: &Path) -> Child {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "lock_holder_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLDER_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("piped stdout");
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(READY));
    assert!(ready, "child exited before holding the store");
    child
}

#[test]
fn sled_open_by_another_process_is_locked_with_its_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hypersweep.db");
    let mut child = spawn_holder(&path);

    let result = SledStorage::open(&path);
    // Kill first, so a failed assertion does not leave the child behind.
    child.kill().expect("SIGKILL child");
    child.wait().expect("reap child");
    match result {
        Err(StorageError::Locked { pid, path: p }) => {
            assert_eq!(pid, child.id());
            assert_eq!(p, path.display().to_string());
        }
        other => panic!("expected Locked, got {other:?}"),
    }

    // The child died by SIGKILL: its pid file is stale, its lock is gone.
    assert_eq!(SledStorage::owner_pid(&path), Some(child.id()));
    let store = SledStorage::open(&path).expect("open after the owner died");
    assert_eq!(SledStorage::owner_pid(&path), Some(std::process::id()));
    assert!(
        store.load_study("held").expect("load").is_some(),
        "the dead owner's flushed study is there"
    );
}
