//! Scheduler behaviour against the in-memory store and scripted runners.

use std::sync::atomic::{AtomicUsize, Ordering};

use hypersweep_search::domain::Domain;
use hypersweep_search::sweep::{Metric, RunConfig, SweepSpec};
use hypersweep_search::{Method, Param, SearcherOptions, StdRng, Value};
use rand::RngExt;

use hypersweep_search::{History, Params};

use super::*;
use crate::pruner::{MedianPruner, NoPruner};
use crate::runner::{BoxFuture, Decision, RunOutcome, TrialContext};
use crate::storage::{MemoryStorage, NewTrial};

/// Uniform draws through the space's decoder (the real random searcher lives
/// in the search crate; this keeps the scheduler's tests independent of it).
pub(super) struct UniformSearcher;

impl Searcher for UniformSearcher {
    fn name(&self) -> &str {
        "uniform"
    }
    fn suggest(
        &mut self,
        space: &SearchSpace,
        _: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        let coords: Vec<f64> = (0..space.len()).map(|_| rng.random::<f64>()).collect();
        Ok(space.decode(&coords))
    }
}

/// Proposes `x = 0, 1, .., n-1` (by history length), then is exhausted.
struct CountingSearcher(u64);

impl Searcher for CountingSearcher {
    fn name(&self) -> &str {
        "counting"
    }
    fn suggest(
        &mut self,
        _: &SearchSpace,
        h: &History,
        _: &mut StdRng,
    ) -> Result<Params, SearchError> {
        let i = h.trials.len() as u64;
        if i >= self.0 {
            return Err(SearchError::Exhausted {
                total: self.0 as usize,
            });
        }
        Ok([("x".to_owned(), Value::from(i as f64))]
            .into_iter()
            .collect())
    }
}

pub(super) type Script = dyn Fn(TrialContext) -> BoxFuture<RunOutcome> + Send + Sync;

struct ScriptRunner(Arc<Script>);

impl Runner for ScriptRunner {
    fn run(&self, ctx: TrialContext) -> BoxFuture<RunOutcome> {
        (self.0)(ctx)
    }
}

fn space() -> SearchSpace {
    SearchSpace::new(vec![Param::new(
        "x",
        Domain::Float {
            low: 0.0,
            high: 10.0,
            log: false,
            step: None,
        },
    )])
    .unwrap()
}

fn spec() -> SweepSpec {
    SweepSpec {
        name: None,
        description: None,
        method: Method::Random,
        metric: Metric::default(),
        space: space(),
        early_terminate: None,
        run: RunConfig::default(),
        command: None,
        program: None,
        searcher: SearcherOptions::default(),
        extra: Default::default(),
        custom: Default::default(),
    }
}

pub(super) fn setup(budget: u64, parallel: usize) -> (SchedulerConfig, Arc<MemoryStorage>) {
    let storage = Arc::new(MemoryStorage::new());
    storage.create_study("s", &spec()).unwrap();
    let mut cfg = SchedulerConfig::from_spec("s", &spec());
    cfg.budget = Some(budget);
    cfg.slots = vec![Device::Cpu; parallel];
    (cfg, storage)
}

fn scheduler(
    cfg: SchedulerConfig,
    storage: &Arc<MemoryStorage>,
    searcher: Box<dyn Searcher>,
    pruner: Arc<dyn Pruner>,
    script: Arc<Script>,
) -> Scheduler {
    Scheduler::new(
        cfg,
        storage.clone(),
        Arc::new(Mutex::new(searcher)),
        pruner,
        Arc::new(ScriptRunner(script)),
    )
}

/// A scheduler without pruning over any store.
pub(super) fn scheduler_on(
    cfg: SchedulerConfig,
    storage: Arc<dyn Storage>,
    searcher: Box<dyn Searcher>,
    script: Arc<Script>,
) -> Scheduler {
    Scheduler::new(
        cfg,
        storage,
        Arc::new(Mutex::new(searcher)),
        Arc::new(NoPruner),
        Arc::new(ScriptRunner(script)),
    )
}

pub(super) fn x_of(ctx: &TrialContext) -> f64 {
    ctx.params.f64("x").unwrap()
}

#[tokio::test]
async fn runs_exactly_the_budget_with_bounded_parallelism() {
    let (cfg, storage) = setup(12, 3);
    let live = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (l, p) = (live.clone(), peak.clone());
    let script: Arc<Script> = Arc::new(move |ctx| {
        let (l, p) = (l.clone(), p.clone());
        Box::pin(async move {
            let now = l.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            l.fetch_sub(1, Ordering::SeqCst);
            RunOutcome::Complete(x_of(&ctx))
        })
    });
    let summary = scheduler(
        cfg,
        &storage,
        Box::new(UniformSearcher),
        Arc::new(NoPruner),
        script,
    )
    .run()
    .await
    .unwrap();
    assert_eq!(summary.reason, StopReason::Budget);
    let trials = storage.trials("s").unwrap();
    assert_eq!(trials.len(), 12);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    assert_eq!(peak.load(Ordering::SeqCst), 3, "three slots, all used");
    let best = trials
        .iter()
        .map(|t| t.value.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(summary.best.unwrap().value, Some(best));
}

#[tokio::test]
async fn suggestions_are_reproducible_from_the_seed() {
    let run = || async {
        let (cfg, storage) = setup(5, 1);
        let script: Arc<Script> =
            Arc::new(|ctx| Box::pin(async move { RunOutcome::Complete(x_of(&ctx)) }));
        scheduler(
            cfg,
            &storage,
            Box::new(UniformSearcher),
            Arc::new(NoPruner),
            script,
        )
        .run()
        .await
        .unwrap();
        storage
            .trials("s")
            .unwrap()
            .into_iter()
            .map(|t| t.params)
            .collect::<Vec<_>>()
    };
    let (a, b) = (run().await, run().await);
    assert_eq!(a, b);
    assert_ne!(a[0], a[1]);
}

#[tokio::test]
async fn failures_are_recorded_with_reasons_and_the_sweep_completes() {
    let (mut cfg, storage) = setup(4, 4);
    cfg.trial_timeout = Some(Duration::from_millis(100));
    let script: Arc<Script> = Arc::new(|ctx| {
        Box::pin(async move {
            match ctx.number {
                0 => RunOutcome::Failed("exit status 3".into()),
                1 => RunOutcome::Complete(f64::NAN),
                2 => {
                    // Hangs until cancelled, like a stuck process.
                    ctx.reporter.cancelled().await;
                    RunOutcome::Failed("killed".into())
                }
                _ => RunOutcome::Complete(1.0),
            }
        })
    });
    scheduler(
        cfg,
        &storage,
        Box::new(UniformSearcher),
        Arc::new(NoPruner),
        script,
    )
    .run()
    .await
    .unwrap();
    let t = storage.trials("s").unwrap();
    assert_eq!(t.len(), 4);
    let err = |i: usize| t[i].error.clone().unwrap_or_default();
    assert_eq!(
        (t[0].state, err(0).as_str()),
        (TrialState::Failed, "exit status 3")
    );
    assert!(err(1).contains("non-finite"), "{}", err(1));
    assert!(err(2).contains("timed out"), "{}", err(2));
    assert_eq!(t[3].state, TrialState::Complete);
}

#[tokio::test]
async fn failed_trials_are_retried_with_the_same_params() {
    let (mut cfg, storage) = setup(3, 1);
    cfg.retry_failed = 1;
    let script: Arc<Script> = Arc::new(|ctx| {
        Box::pin(async move {
            if ctx.number == 0 {
                RunOutcome::Failed("flaky".into())
            } else {
                RunOutcome::Complete(x_of(&ctx))
            }
        })
    });
    let summary = scheduler(
        cfg,
        &storage,
        Box::new(UniformSearcher),
        Arc::new(NoPruner),
        script,
    )
    .run()
    .await
    .unwrap();
    let t = storage.trials("s").unwrap();
    assert_eq!(summary.counted, 3);
    assert_eq!(t.len(), 4, "one failure plus three counted");
    assert_eq!((t[1].attempt, t[1].retry_of), (1, Some(0)));
    assert_eq!(t[1].params, t[0].params);
}

#[tokio::test]
async fn too_many_failures_in_a_row_stop_the_sweep_quoting_the_last() {
    let (mut cfg, storage) = setup(50, 2);
    cfg.max_consecutive_failures = 3;
    let script: Arc<Script> = Arc::new(|ctx| {
        Box::pin(async move { RunOutcome::Failed(format!("crash {}", ctx.number)) })
    });
    let err = scheduler(
        cfg,
        &storage,
        Box::new(UniformSearcher),
        Arc::new(NoPruner),
        script,
    )
    .run()
    .await
    .unwrap_err();
    match err {
        SchedulerError::TooManyFailures { count, last } => {
            assert!(count >= 3);
            assert!(last.contains("crash"), "{last}");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(storage.trials("s").unwrap().len() < 50);
}

#[tokio::test]
async fn an_exhausted_searcher_ends_the_sweep_normally() {
    let (cfg, storage) = setup(100, 2);
    let script: Arc<Script> =
        Arc::new(|ctx| Box::pin(async move { RunOutcome::Complete(x_of(&ctx)) }));
    let summary = scheduler(
        cfg,
        &storage,
        Box::new(CountingSearcher(5)),
        Arc::new(NoPruner),
        script,
    )
    .run()
    .await
    .unwrap();
    assert_eq!(summary.reason, StopReason::Exhausted);
    assert_eq!(storage.trials("s").unwrap().len(), 5);
}

#[tokio::test]
async fn reports_are_stored_and_bad_trials_pruned() {
    let (cfg, storage) = setup(8, 1);
    // Trial i's curve is (i % 2) * 10 + step: odd trials are far worse.
    let script: Arc<Script> = Arc::new(|ctx| {
        Box::pin(async move {
            let offset = (ctx.number % 2) as f64 * 10.0;
            for step in 0..3 {
                if ctx.report(step, offset + step as f64) == Decision::Prune {
                    return RunOutcome::Pruned;
                }
            }
            RunOutcome::Complete(offset + 2.0)
        })
    });
    let pruner = Arc::new(MedianPruner::new().startup_trials(2));
    scheduler(cfg, &storage, Box::new(UniformSearcher), pruner, script)
        .run()
        .await
        .unwrap();
    let t = storage.trials("s").unwrap();
    assert_eq!(t[0].intermediate, vec![(0, 0.0), (1, 1.0), (2, 2.0)]);
    let pruned: Vec<u64> = t
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .map(|t| t.number)
        .collect();
    assert!(!pruned.is_empty());
    assert!(pruned.iter().all(|n| n % 2 == 1), "{pruned:?}");
}

#[tokio::test]
async fn stopping_drains_then_cancels() {
    let (cfg, storage) = setup(100, 2);
    let script: Arc<Script> = Arc::new(|ctx| {
        Box::pin(async move {
            ctx.reporter.cancelled().await;
            RunOutcome::Failed("killed".into())
        })
    });
    let s = scheduler(
        cfg,
        &storage,
        Box::new(UniformSearcher),
        Arc::new(NoPruner),
        script,
    );
    let stop = s.stop_handle();
    let sweep = tokio::spawn(s.run());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(stop.escalate(), StopLevel::Drain);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!sweep.is_finished(), "draining waits for running trials");
    assert_eq!(stop.escalate(), StopLevel::Cancel);
    let summary = sweep.await.unwrap().unwrap();
    assert_eq!(summary.reason, StopReason::Stopped);
    assert_eq!(summary.counted, 0, "interrupted trials do not count");
    let t = storage.trials("s").unwrap();
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(is_interrupted));
}

#[tokio::test]
async fn resume_reaps_stale_trials_and_ends_with_exactly_the_budget() {
    let (cfg, storage) = setup(5, 2);
    for _ in 0..2 {
        storage
            .create_trial("s", NewTrial::new(Params::new()))
            .unwrap();
    }
    let script: Arc<Script> =
        Arc::new(|ctx| Box::pin(async move { RunOutcome::Complete(x_of(&ctx)) }));
    let summary = scheduler(
        cfg,
        &storage,
        Box::new(UniformSearcher),
        Arc::new(NoPruner),
        script,
    )
    .run()
    .await
    .unwrap();
    assert_eq!(summary.reaped, 2);
    let t = storage.trials("s").unwrap();
    assert_eq!(
        t.iter().filter(|t| t.state == TrialState::Complete).count(),
        5
    );
    assert_eq!(t.iter().filter(|t| is_interrupted(t)).count(), 2);
}

#[tokio::test]
async fn reaching_the_target_stops_proposing() {
    let (mut cfg, storage) = setup(100, 1);
    cfg.target = Some(2.0);
    let script: Arc<Script> =
        Arc::new(|ctx| Box::pin(async move { RunOutcome::Complete(10.0 - ctx.number as f64) }));
    let summary = scheduler(
        cfg,
        &storage,
        Box::new(UniformSearcher),
        Arc::new(NoPruner),
        script,
    )
    .run()
    .await
    .unwrap();
    assert_eq!(summary.reason, StopReason::Target);
    assert_eq!(
        storage.trials("s").unwrap().len(),
        9,
        "values 10, 9, ..., 2"
    );
}

#[tokio::test]
async fn resume_reruns_reaped_trials_when_retries_are_allowed() {
    let (mut cfg, storage) = setup(3, 1);
    cfg.retry_failed = 1;
    let params: Params = [("x".to_owned(), Value::from(4.0))].into_iter().collect();
    let stale = storage
        .create_trial("s", NewTrial::new(params.clone()))
        .unwrap();
    let script: Arc<Script> =
        Arc::new(|ctx| Box::pin(async move { RunOutcome::Complete(x_of(&ctx)) }));
    scheduler(
        cfg,
        &storage,
        Box::new(UniformSearcher),
        Arc::new(NoPruner),
        script,
    )
    .run()
    .await
    .unwrap();
    let t = storage.trials("s").unwrap();
    assert!(is_interrupted(&t[0]));
    assert_eq!((t[1].retry_of, t[1].attempt), (Some(stale.number), 1));
    assert_eq!((t[1].params.clone(), t[1].value), (params, Some(4.0)));
    assert_eq!(
        t.iter().filter(|t| t.state == TrialState::Complete).count(),
        3
    );
}

#[tokio::test]
async fn the_sweep_timeout_interrupts_running_trials() {
    let (mut cfg, storage) = setup(100, 2);
    cfg.timeout = Some(Duration::from_millis(80));
    let script: Arc<Script> = Arc::new(|ctx| {
        Box::pin(async move {
            ctx.reporter.cancelled().await;
            RunOutcome::Failed("killed".into())
        })
    });
    let summary = scheduler(
        cfg,
        &storage,
        Box::new(UniformSearcher),
        Arc::new(NoPruner),
        script,
    )
    .run()
    .await
    .unwrap();
    assert_eq!(summary.reason, StopReason::Timeout);
    let t = storage.trials("s").unwrap();
    assert_eq!(t.len(), 2);
    assert!(
        t.iter()
            .all(|t| t.error.as_deref().is_some_and(|e| e.contains("timeout")))
    );
    assert!(t.iter().all(is_interrupted));
}

#[tokio::test]
async fn running_trials_heartbeat() {
    let (mut cfg, storage) = setup(1, 1);
    cfg.heartbeat_every = Duration::from_millis(10);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (st, s2) = (storage.clone(), seen.clone());
    let script: Arc<Script> = Arc::new(move |ctx| {
        let (st, s2) = (st.clone(), s2.clone());
        Box::pin(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(40)).await;
                let beat = st.trial("s", ctx.number).unwrap().heartbeat_ms;
                s2.lock().unwrap().push(beat);
            }
            RunOutcome::Complete(0.0)
        })
    });
    scheduler(
        cfg,
        &storage,
        Box::new(UniformSearcher),
        Arc::new(NoPruner),
        script,
    )
    .run()
    .await
    .unwrap();
    let beats = seen.lock().unwrap().clone();
    assert!(beats[2] > beats[0], "heartbeat advances: {beats:?}");
}

#[path = "repeat_tests.rs"]
mod repeat_tests;

/// A sweep whose devices cannot give a trial its GPUs refuses to start and
/// says why (the reason `SchedulerConfig::from_spec` found).
#[tokio::test]
async fn too_few_gpus_refuses_to_start_with_the_reason() {
    let storage = Arc::new(MemoryStorage::new());
    let mut s = spec();
    s.run.devices = hypersweep_search::sweep::Devices::List(vec![0]);
    s.run.gpus_per_trial = 2;
    storage.create_study("s", &s).unwrap();
    let cfg = SchedulerConfig::from_spec("s", &s);
    assert!(cfg.slots.is_empty());
    let script: Arc<Script> = Arc::new(|_| Box::pin(async { RunOutcome::Complete(0.0) }));
    let sched = scheduler_on(cfg, storage.clone(), Box::new(UniformSearcher), script);
    let err = sched.run().await.expect_err("no slot");
    assert!(
        matches!(
            err,
            SchedulerError::NoSlots(Some(SlotError::TooFewGpus {
                per_trial: 2,
                found: 1,
                ..
            }))
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("2 GPUs (`gpus_per_trial`)"), "{message}");
    assert!(storage.trials("s").unwrap().is_empty());
}
