//! Conformance tests for many callers on one study: claims from many
//! threads and handles, incremental catch-up, reaping by heartbeat and ask
//! timeout, and deleting a study. Run on every backend by `conformance!`.

use super::*;
use hypersweep_trials::budget::Budget;
use hypersweep_trials::{Direction, StudyCache};

const BUDGET: u64 = 100;
const CLAIM_THREADS: usize = 8;
const CLAIMS_EACH: usize = 25;

/// Threads alternate between the two handles; each keeps its own cache, as
/// a process does, and claims while its caught-up budget allows.
pub fn claims_keep_the_budget_across_threads_and_handles(s: &dyn Storage, other: &dyn Storage) {
    s.create_study("b", &spec(Method::Random)).expect("study");
    let claimed: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLAIM_THREADS)
            .map(|i| {
                let store = if i % 2 == 0 { s } else { other };
                scope.spawn(move || {
                    let mut cache =
                        StudyCache::new(Direction::Minimize, Budget::new(Some(BUDGET), 0));
                    let mut mine = Vec::new();
                    for _ in 0..CLAIMS_EACH {
                        let claimed = store
                            .claim("b", &mut cache, &mut |cache, _| {
                                cache.budget().may_start().then(|| new_trial(0.1))
                            })
                            .expect("claim");
                        mine.extend(claimed.map(|t| t.number));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    let unique: BTreeSet<u64> = claimed.iter().copied().collect();
    assert_eq!(unique.len(), claimed.len(), "a number was claimed twice");
    assert_eq!(unique, (0..BUDGET).collect::<BTreeSet<u64>>());
    let listed: Vec<u64> = other
        .trials("b")
        .expect("list")
        .iter()
        .map(|t| t.number)
        .collect();
    assert_eq!(listed, (0..BUDGET).collect::<Vec<u64>>());
}

/// A claim sees what the other handle wrote, and takes the next number.
pub fn claim_catches_up_with_another_handle(s: &dyn Storage, other: &dyn Storage) {
    s.create_study("s", &spec(Method::Random)).expect("study");
    let mut cache = StudyCache::new(Direction::Minimize, Budget::new(None, 0));
    let first = s
        .claim("s", &mut cache, &mut |_, n| {
            assert_eq!(n, 0);
            Some(new_trial(0.1))
        })
        .expect("claim")
        .expect("stored");
    other
        .create_trial("s", new_trial(0.2))
        .expect("other's trial");
    other
        .finish_trial("s", first.number, outcome(TrialState::Complete, Some(0.5)))
        .expect("other finishes ours");
    let mut seen = Vec::new();
    let third = s
        .claim("s", &mut cache, &mut |cache, n| {
            seen = cache
                .history()
                .trials
                .iter()
                .map(|t| (t.number, t.state))
                .collect();
            assert_eq!(n, 2);
            None
        })
        .expect("claim");
    assert!(third.is_none(), "a declined claim stores nothing");
    assert_eq!(
        seen,
        vec![(0, TrialState::Complete), (1, TrialState::Running)]
    );
    assert_eq!(s.trials("s").expect("list").len(), 2);
    let next = s
        .claim("s", &mut cache, &mut |_, _| Some(new_trial(0.3)))
        .expect("claim")
        .expect("stored");
    assert_eq!(next.number, 2, "no gap after a declined claim");
    assert_eq!(cache.next_number(), 3);
}

pub fn changes_are_new_trials_and_listed_unfinished(s: &dyn Storage) {
    s.create_study("s", &spec(Method::Random)).expect("study");
    for _ in 0..4 {
        s.create_trial("s", new_trial(0.1)).expect("trial");
    }
    s.finish_trial("s", 0, outcome(TrialState::Complete, Some(1.0)))
        .expect("finish");
    s.report("s", 1, 3, 0.5).expect("report");

    let all = s.changes("s", None, &[]).expect("all");
    assert_eq!(
        all.iter().map(|t| t.number).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );

    // Watermark 2, holding 1 and 2 as unfinished: 3 is new; 0 is not asked for.
    let some = s.changes("s", Some(2), &[1, 2]).expect("changes");
    assert_eq!(some.iter().map(|t| t.number).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(some[0].intermediate, vec![(3, 0.5)]);

    let none = s.changes("s", Some(3), &[]).expect("nothing new");
    assert!(none.is_empty());
    s.create_trial("s", new_trial(0.1)).expect("trial 4");
    let new = s.changes("s", Some(3), &[]).expect("one new");
    assert_eq!(new.iter().map(|t| t.number).collect::<Vec<_>>(), [4]);
    assert!(matches!(
        s.changes("nope", None, &[]),
        Err(StorageError::NoStudy(_))
    ));
}

pub fn asked_trials_wait_for_the_ask_timeout(s: &dyn Storage) {
    s.create_study("s", &spec(Method::Random)).expect("study");
    let worker = s.create_trial("s", new_trial(0.1)).expect("worker's trial");
    let asked = s
        .create_trial(
            "s",
            NewTrial {
                asked: true,
                ..new_trial(0.2)
            },
        )
        .expect("asked trial");
    assert!(asked.asked);
    // Both heartbeats age past 100 ms.
    std::thread::sleep(Duration::from_millis(200));
    let reaped = s
        .reap_stale("s", stale(Duration::from_millis(100)), "worker lost")
        .expect("reap");
    assert_eq!(
        reaped.iter().map(|t| t.number).collect::<Vec<_>>(),
        vec![worker.number],
        "an asked trial is kept until its ask timeout"
    );
    let zero = s
        .reap_stale("s", stale(Duration::ZERO), "resumed")
        .expect("reap");
    assert!(zero.is_empty(), "zero staleness spares asked trials");
    let timed_out = s
        .reap_stale(
            "s",
            Staleness {
                after: Duration::from_secs(3600),
                asked_after: Duration::from_millis(100),
            },
            "ask timed out",
        )
        .expect("reap");
    assert_eq!(
        timed_out.iter().map(|t| t.number).collect::<Vec<_>>(),
        vec![asked.number]
    );
    assert_eq!(timed_out[0].error.as_deref(), Some("ask timed out"));
    assert_eq!(
        s.trial("s", asked.number).expect("read").state,
        TrialState::Failed
    );
}

pub fn delete_study_removes_it_and_its_trials(s: &dyn Storage) {
    for name in ["a", "b"] {
        s.create_study(name, &spec(Method::Random)).expect("study");
        let t = s.create_trial(name, new_trial(0.1)).expect("trial");
        s.report(name, t.number, 1, 0.5).expect("report");
    }
    assert!(s.delete_study("a").expect("delete"));
    assert!(
        !s.delete_study("a").expect("again"),
        "nothing left to delete"
    );
    assert_eq!(s.load_study("a").expect("load"), None);
    assert!(matches!(s.trials("a"), Err(StorageError::NoStudy(_))));
    assert_eq!(s.list_studies().expect("names"), vec!["b".to_owned()]);
    assert_eq!(
        s.trial("b", 0).expect("b kept").intermediate,
        vec![(1, 0.5)]
    );

    // A new study of the same name starts afresh.
    s.create_study("a", &spec(Method::Tpe)).expect("again");
    assert!(s.trials("a").expect("empty").is_empty());
    let t = s.create_trial("a", new_trial(0.1)).expect("trial");
    assert_eq!(t.number, 0);
    assert!(s.trial("a", 0).expect("fresh").intermediate.is_empty());
}
