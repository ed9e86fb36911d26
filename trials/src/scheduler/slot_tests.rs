//! The slot-thread path (`slot_threads.rs`): synchronous trials that block
//! their thread, stopped, timed out, failed and held, against the in-memory
//! store. Waits are on events (a trial entering its call, a gate), never on
//! the clock.

use std::sync::Condvar;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use super::tests::{UniformSearcher, setup, x_of};
use super::*;
use crate::pruner::{MedianPruner, NoPruner};
use crate::runner::{BlockingRunner, BoxFuture, Decision, RunOutcome, TrialContext};
use crate::storage::{MemoryStorage, NewTrial};
use hypersweep_search::Params;

type Call = dyn Fn(&TrialContext) -> RunOutcome + Send + Sync;

/// A runner whose trials are a synchronous call.
struct CallRunner(Arc<Call>);

impl Runner for CallRunner {
    fn run(&self, _: TrialContext) -> crate::runner::BoxFuture<RunOutcome> {
        unreachable_future()
    }
    fn as_blocking(&self) -> Option<&dyn BlockingRunner> {
        Some(self)
    }
}

impl BlockingRunner for CallRunner {
    fn run_blocking(&self, ctx: &TrialContext) -> RunOutcome {
        (self.0)(ctx)
    }
}

/// What `run` answers: the slot path must never call it.
fn unreachable_future() -> BoxFuture<RunOutcome> {
    Box::pin(async { RunOutcome::Failed("run() called on a blocking runner".into()) })
}

/// Blocks calls until opened.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
    }
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

fn scheduler(
    cfg: SchedulerConfig,
    storage: &Arc<MemoryStorage>,
    pruner: Arc<dyn Pruner>,
    call: Arc<Call>,
) -> Scheduler {
    Scheduler::new(
        cfg,
        storage.clone(),
        Arc::new(Mutex::new(Box::new(UniformSearcher) as Box<dyn Searcher>)),
        pruner,
        Arc::new(CallRunner(call)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_threads_run_exactly_the_budget_with_bounded_parallelism() {
    let (cfg, storage) = setup(40, 3);
    let live = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let (l, p, th) = (live.clone(), peak.clone(), threads.clone());
    let call: Arc<Call> = Arc::new(move |ctx| {
        let now = l.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(now, Ordering::SeqCst);
        th.lock().unwrap().insert(std::thread::current().id());
        std::thread::yield_now();
        l.fetch_sub(1, Ordering::SeqCst);
        RunOutcome::Complete(x_of(ctx))
    });
    let summary = scheduler(cfg, &storage, Arc::new(NoPruner), call)
        .run()
        .await
        .unwrap();
    assert_eq!((summary.reason, summary.counted), (StopReason::Budget, 40));
    let trials = storage.trials("s").unwrap();
    assert_eq!(trials.len(), 40);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    assert!(
        peak.load(Ordering::SeqCst) <= 3,
        "never more than the slots"
    );
    assert!(threads.lock().unwrap().len() <= 3, "one thread per slot");
    let best = trials
        .iter()
        .map(|t| t.value.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(summary.best.unwrap().value, Some(best));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_threads_suggest_what_trial_tasks_suggest() {
    let (cfg, storage) = setup(6, 1);
    let call: Arc<Call> = Arc::new(|ctx| RunOutcome::Complete(x_of(ctx)));
    scheduler(cfg.clone(), &storage, Arc::new(NoPruner), call)
        .run()
        .await
        .unwrap();
    let (_, tasks_storage) = setup(6, 1);
    let script: Arc<super::tests::Script> =
        Arc::new(|ctx| Box::pin(async move { RunOutcome::Complete(x_of(&ctx)) }));
    super::tests::scheduler_on(
        cfg,
        tasks_storage.clone(),
        Box::new(UniformSearcher),
        script,
    )
    .run()
    .await
    .unwrap();
    let params = |s: &MemoryStorage| -> Vec<Params> {
        s.trials("s")
            .unwrap()
            .into_iter()
            .map(|t| t.params)
            .collect()
    };
    assert_eq!(params(&storage), params(&tasks_storage));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_threads_retry_failures_and_stop_after_too_many() {
    let (mut cfg, storage) = setup(4, 1);
    cfg.retry_failed = 1;
    let call: Arc<Call> = Arc::new(|ctx| {
        if ctx.number == 1 {
            RunOutcome::Failed("diverged".into())
        } else {
            RunOutcome::Complete(1.0)
        }
    });
    let summary = scheduler(cfg, &storage, Arc::new(NoPruner), call)
        .run()
        .await
        .unwrap();
    assert_eq!(summary.counted, 4);
    let t = storage.trials("s").unwrap();
    assert_eq!(t[1].error.as_deref(), Some("diverged"));
    assert_eq!((t[2].retry_of, t[2].attempt), (Some(1), 1));
    assert_eq!(t[2].params, t[1].params);

    let (mut cfg, storage) = setup(50, 2);
    cfg.max_consecutive_failures = 3;
    let call: Arc<Call> = Arc::new(|ctx| RunOutcome::Failed(format!("crash {}", ctx.number)));
    match scheduler(cfg, &storage, Arc::new(NoPruner), call)
        .run()
        .await
    {
        Err(SchedulerError::TooManyFailures { count, last }) => {
            assert!(count >= 3 && last.contains("crash"), "{count} {last}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(storage.trials("s").unwrap().len() < 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_threads_store_reports_and_prune() {
    let (cfg, storage) = setup(8, 1);
    // Trial i's curve is (i % 2) * 10 + step: odd trials are far worse.
    let call: Arc<Call> = Arc::new(|ctx| {
        let offset = (ctx.number % 2) as f64 * 10.0;
        for step in 0..3 {
            if ctx.report(step, offset + step as f64) == Decision::Prune {
                return RunOutcome::Pruned;
            }
        }
        RunOutcome::Complete(offset + 2.0)
    });
    let pruner = Arc::new(MedianPruner::new().startup_trials(2));
    scheduler(cfg, &storage, pruner, call).run().await.unwrap();
    let t = storage.trials("s").unwrap();
    assert_eq!(t[0].intermediate, vec![(0, 0.0), (1, 1.0), (2, 2.0)]);
    let pruned: Vec<u64> = t
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .map(|t| t.number)
        .collect();
    // At parallel 1 each odd trial after the first two is judged against
    // the finished even ones.
    assert_eq!(pruned, vec![3, 5, 7]);
}

/// A sweep whose calls block on `gate`, announcing each trial on the
/// returned channel as its call starts.
fn blocked_sweep(
    cfg: SchedulerConfig,
    storage: &Arc<MemoryStorage>,
    gate: &Arc<Gate>,
) -> (Scheduler, mpsc::UnboundedReceiver<u64>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let g = Arc::clone(gate);
    let call: Arc<Call> = Arc::new(move |ctx| {
        let _ = tx.send(ctx.number);
        g.wait();
        RunOutcome::Complete(1.0)
    });
    (scheduler(cfg, storage, Arc::new(NoPruner), call), rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_threads_drain_then_record_cancelled_calls_at_once() {
    let (cfg, storage) = setup(100, 2);
    let gate = Arc::new(Gate::default());
    let (s, mut started) = blocked_sweep(cfg, &storage, &gate);
    let stop = s.stop_handle();
    let sweep = tokio::spawn(s.run());
    for _ in 0..2 {
        started.recv().await.unwrap();
    }
    assert_eq!(stop.escalate(), StopLevel::Drain);
    assert_eq!(stop.escalate(), StopLevel::Cancel);
    // The calls still block: the sweep ends without them.
    let summary = sweep.await.unwrap().unwrap();
    assert_eq!((summary.reason, summary.counted), (StopReason::Stopped, 0));
    let t = storage.trials("s").unwrap();
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(is_interrupted), "{t:?}");
    gate.open();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_threads_drain_lets_running_calls_finish() {
    let (cfg, storage) = setup(100, 2);
    let gate = Arc::new(Gate::default());
    let (s, mut started) = blocked_sweep(cfg, &storage, &gate);
    let stop = s.stop_handle();
    let sweep = tokio::spawn(s.run());
    for _ in 0..2 {
        started.recv().await.unwrap();
    }
    stop.drain();
    gate.open();
    let summary = sweep.await.unwrap().unwrap();
    assert_eq!((summary.reason, summary.counted), (StopReason::Stopped, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_threads_time_out_a_call_and_go_on_in_its_slot() {
    let (mut cfg, storage) = setup(3, 1);
    cfg.trial_timeout = Some(Duration::from_millis(50));
    let gate = Arc::new(Gate::default());
    let g = Arc::clone(&gate);
    let call: Arc<Call> = Arc::new(move |ctx| {
        if ctx.number == 0 {
            g.wait();
        }
        RunOutcome::Complete(1.0)
    });
    let summary = scheduler(cfg, &storage, Arc::new(NoPruner), call)
        .run()
        .await
        .unwrap();
    // Trial 0 still blocks its old thread; a new one ran the rest.
    assert_eq!(summary.counted, 3);
    let t = storage.trials("s").unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t[0].state, TrialState::Failed);
    assert!(
        t[0].error
            .as_deref()
            .unwrap()
            .starts_with("timed out after"),
        "{:?}",
        t[0].error
    );
    assert!(t[1..].iter().all(|t| t.state == TrialState::Complete));
    gate.open();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_held_by_an_asked_trial_waits_for_an_end_then_stops() {
    let (mut cfg, storage) = setup(2, 2);
    // A missed wake-up would hang here instead of polling past it.
    cfg.poll_every = Duration::from_secs(3600);
    let asked = NewTrial {
        asked: true,
        ..NewTrial::new(Params::new())
    };
    storage.create_trial("s", asked).unwrap();
    let summary = scheduler(
        cfg,
        &storage,
        Arc::new(NoPruner),
        Arc::new(|_: &TrialContext| {
            std::thread::yield_now();
            RunOutcome::Complete(1.0)
        }),
    )
    .run()
    .await
    .unwrap();
    // One trial ran; the last place of the budget waits for the asked one.
    assert_eq!((summary.reason, summary.counted), (StopReason::Budget, 1));
    assert_eq!(storage.trials("s").unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_blocks_its_thread_keeps_its_heartbeat() {
    let (mut cfg, storage) = setup(1, 1);
    cfg.heartbeat_every = Duration::from_millis(10);
    let st = storage.clone();
    let call: Arc<Call> = Arc::new(move |ctx| {
        let mut beats = Vec::new();
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(40));
            beats.push(st.trial("s", ctx.number).unwrap().heartbeat_ms);
        }
        // The value carries the verdict out of the call.
        RunOutcome::Complete(if beats[2] > beats[0] { 1.0 } else { 0.0 })
    });
    let summary = scheduler(cfg, &storage, Arc::new(NoPruner), call)
        .run()
        .await
        .unwrap();
    assert_eq!(
        summary.best.and_then(|t| t.value),
        Some(1.0),
        "the supervisor beats for a trial whose call holds its thread"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_that_lets_a_panic_through_fails_only_its_trial() {
    let (cfg, storage) = setup(4, 2);
    let call: Arc<Call> = Arc::new(|ctx| {
        if ctx.number == 1 {
            panic!("boom at trial one");
        }
        RunOutcome::Complete(1.0)
    });
    let summary = scheduler(cfg, &storage, Arc::new(NoPruner), call)
        .run()
        .await
        .unwrap();
    assert_eq!(summary.counted, 4);
    let t = storage.trials("s").unwrap();
    assert_eq!(t[1].state, TrialState::Failed);
    assert_eq!(
        t[1].error.as_deref(),
        Some("the runner panicked: boom at trial one")
    );
}
