//! Seeds, repeated evaluations and planned rounds.

use std::sync::Mutex as StdMutex;

use super::*;
use crate::trial::TrialRole;

/// (trial number, repeat, seed) of every evaluation a script ran.
type Seen = Arc<StdMutex<Vec<(u64, u32, u64)>>>;

fn seen_seeds() -> (Seen, Arc<Script>) {
    let seen = Arc::new(StdMutex::new(Vec::new()));
    let s = seen.clone();
    let script: Arc<Script> = Arc::new(move |ctx| {
        s.lock().unwrap().push((ctx.number, ctx.repeat, ctx.seed));
        // The value depends on the seed, as a noisy training run's does.
        let noise = (ctx.seed % 1000) as f64 / 1000.0;
        Box::pin(async move {
            for step in 0..3 {
                if ctx.report(step, x_of(&ctx) + noise + step as f64) == Decision::Prune {
                    return RunOutcome::Pruned;
                }
            }
            RunOutcome::Complete(x_of(&ctx) + noise)
        })
    });
    (seen, script)
}

#[tokio::test]
async fn each_trial_gets_the_seeds_of_its_number() {
    let (mut cfg, storage) = setup(4, 2);
    cfg.seed = 9;
    let (seen, script) = seen_seeds();
    scheduler_on(cfg, storage.clone(), Box::new(UniformSearcher), script)
        .run()
        .await
        .unwrap();
    for t in storage.trials("s").unwrap() {
        assert_eq!(t.seeds, trial_seeds(9, t.number, 1));
        assert!(
            t.repeats.is_none(),
            "one evaluation keeps no repeats record"
        );
    }
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .all(|&(n, r, seed)| r == 0 && seed == trial_seeds(9, n, 1)[0])
    );
}

#[tokio::test]
async fn repeats_evaluate_each_configuration_over_its_seeds_and_store_the_mean() {
    let (mut cfg, storage) = setup(3, 1);
    cfg.repeats = 4;
    let (seen, script) = seen_seeds();
    let pruner = Arc::new(crate::pruner::MedianPruner::new().startup_trials(1));
    Scheduler::new(
        cfg,
        storage.clone(),
        Arc::new(Mutex::new(Box::new(UniformSearcher) as Box<dyn Searcher>)),
        pruner,
        Arc::new(super::ScriptRunner(script)),
    )
    .run()
    .await
    .unwrap();
    let seen = seen.lock().unwrap().clone();
    let trials = storage.trials("s").unwrap();
    assert_eq!(trials.len(), 3, "the budget counts configurations");
    for t in trials.iter().filter(|t| t.state == TrialState::Complete) {
        assert_eq!(t.seeds, trial_seeds(0, t.number, 4));
        let mine: Vec<(u32, u64)> = seen
            .iter()
            .filter(|s| s.0 == t.number)
            .map(|s| (s.1, s.2))
            .collect();
        let expected: Vec<(u32, u64)> = (0..4).zip(t.seeds.iter().copied()).collect();
        assert_eq!(mine, expected, "one evaluation per seed, in order");
        let x = t.params.f64("x").unwrap();
        let values: Vec<f64> = t
            .seeds
            .iter()
            .map(|s| x + (s % 1000) as f64 / 1000.0)
            .collect();
        let repeats = t.repeats.clone().expect("the values are kept");
        assert_eq!(repeats.values, values);
        let mean = values.iter().sum::<f64>() / 4.0;
        assert!(
            (t.value.unwrap() - mean).abs() < 1e-12,
            "the value is the mean"
        );
        let sample = crate::stats::Sample::of(&values).unwrap();
        assert_eq!(repeats.std_error, sample.std_error());
        // Only the first evaluation's curve is the trial's (and judged).
        let first = x + (t.seeds[0] % 1000) as f64 / 1000.0;
        assert_eq!(t.intermediate.len(), 3);
        assert!((t.intermediate[0].1 - first).abs() < 1e-12);
    }
}

#[tokio::test]
async fn a_trial_rerun_after_a_crash_gets_the_same_seeds() {
    // First process: claims trial 0 with three seeds, starts its first
    // evaluation, and dies (the task is dropped with the trial Running,
    // as after kill -9).
    let (mut cfg, storage) = setup(2, 1);
    cfg.repeats = 3;
    cfg.retry_failed = 1;
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
    let hang: Arc<Script> = Arc::new(move |ctx| {
        let _ = started_tx.send((ctx.number, ctx.seed));
        Box::pin(std::future::pending())
    });
    let first = tokio::spawn(
        scheduler_on(
            cfg.clone(),
            storage.clone(),
            Box::new(UniformSearcher),
            hang,
        )
        .run(),
    );
    let (number, first_seed) = started_rx.recv().await.expect("a trial started");
    first.abort();
    let _ = first.await;
    let left = storage.trial("s", number).unwrap();
    assert_eq!(left.state, TrialState::Running);

    // The resumed process reaps it and re-runs it with the same seeds.
    let (seen, script) = seen_seeds();
    scheduler_on(cfg, storage.clone(), Box::new(UniformSearcher), script)
        .run()
        .await
        .unwrap();
    let trials = storage.trials("s").unwrap();
    let retry = trials
        .iter()
        .find(|t| t.retry_of == Some(number))
        .expect("the crashed trial was re-run");
    assert_eq!(retry.seeds, left.seeds);
    assert_eq!(retry.params, left.params);
    assert_eq!(retry.state, TrialState::Complete);
    let seen = seen.lock().unwrap();
    let rerun: Vec<u64> = seen
        .iter()
        .filter(|s| s.0 == retry.number)
        .map(|s| s.2)
        .collect();
    assert_eq!(rerun, left.seeds);
    assert_eq!(rerun[0], first_seed);
}

fn planned(variant: u32, x: f64, seeds: &[u64]) -> PlannedTrial {
    PlannedTrial {
        params: [("x".to_owned(), Value::from(x))].into_iter().collect(),
        role: TrialRole::Confirm {
            round: 0,
            variant,
            variants: 3,
            of: u64::from(variant),
        },
        seeds: seeds.to_vec(),
    }
}

#[tokio::test]
async fn a_plan_runs_its_variants_once_apart_from_the_search() {
    let (cfg, storage) = setup(2, 2);
    let (_, script) = seen_seeds();
    scheduler_on(
        cfg.clone(),
        storage.clone(),
        Box::new(UniformSearcher),
        script.clone(),
    )
    .run()
    .await
    .unwrap();
    // A variant whose earlier run was interrupted runs again.
    let interrupted = storage
        .create_trial(
            "s",
            NewTrial {
                role: planned(1, 2.0, &[5, 6]).role,
                seeds: vec![5, 6],
                ..NewTrial::new(planned(1, 2.0, &[5, 6]).params)
            },
        )
        .unwrap();
    let plan = Plan::new(vec![
        planned(0, 1.0, &[5, 6]),
        planned(1, 2.0, &[5, 6]),
        planned(2, 3.0, &[5, 6]),
    ])
    .unwrap();
    let mut planned_cfg = cfg.clone();
    planned_cfg.plan = Some(Arc::new(plan));
    for _ in 0..2 {
        let summary = scheduler_on(
            planned_cfg.clone(),
            storage.clone(),
            Box::new(UniformSearcher),
            script.clone(),
        )
        .run()
        .await
        .unwrap();
        assert_eq!(summary.reason, StopReason::Budget);
    }
    let trials = storage.trials("s").unwrap();
    assert!(is_interrupted(&trials[interrupted.number as usize]));
    let confirm: Vec<&Trial> = trials
        .iter()
        .filter(|t| !t.role.is_search() && t.state == TrialState::Complete)
        .collect();
    assert_eq!(confirm.len(), 3, "each variant once, even over two runs");
    for t in &confirm {
        assert_eq!(t.seeds, [5, 6]);
        let x = t.params.f64("x").unwrap();
        assert_eq!(t.role.variant(), Some(x as u32 - 1));
    }
    // The search's budget and best ignore the round.
    let mut search = cfg;
    search.budget = Some(3);
    let (_, script) = seen_seeds();
    let summary = scheduler_on(search, storage.clone(), Box::new(UniformSearcher), script)
        .run()
        .await
        .unwrap();
    assert_eq!(summary.counted, 3);
    assert!(summary.best.unwrap().role.is_search());
    let searched = storage
        .trials("s")
        .unwrap()
        .into_iter()
        .filter(|t| t.role.is_search())
        .count();
    assert_eq!(searched, 3, "two before the round, one after");
}

#[tokio::test]
async fn a_rerun_after_a_crash_keeps_the_evaluations_already_done() {
    // First process: trial 0 finishes its first two evaluations, then dies
    // in its third.
    let (mut cfg, storage) = setup(1, 1);
    cfg.repeats = 3;
    cfg.retry_failed = 1;
    let (died_tx, mut died_rx) = tokio::sync::mpsc::unbounded_channel();
    let dies_third: Arc<Script> = Arc::new(move |ctx| {
        let died = died_tx.clone();
        Box::pin(async move {
            if ctx.repeat == 2 {
                let _ = died.send(ctx.number);
                return std::future::pending().await;
            }
            RunOutcome::Complete(f64::from(ctx.repeat) + 1.0)
        })
    });
    let first = tokio::spawn(
        scheduler_on(
            cfg.clone(),
            storage.clone(),
            Box::new(UniformSearcher),
            dies_third,
        )
        .run(),
    );
    let number = died_rx.recv().await.expect("the third evaluation started");
    first.abort();
    let _ = first.await;
    let left = storage.trial("s", number).unwrap();
    assert_eq!(
        left.repeats.as_ref().map(|r| r.values.clone()),
        Some(vec![1.0, 2.0])
    );

    let (seen, script) = seen_seeds();
    scheduler_on(cfg, storage.clone(), Box::new(UniformSearcher), script)
        .run()
        .await
        .unwrap();
    let retry = storage
        .trials("s")
        .unwrap()
        .into_iter()
        .find(|t| t.retry_of == Some(number))
        .expect("re-run");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [(retry.number, 2, left.seeds[2])],
        "only the third seed runs again"
    );
    let values = retry.repeats.expect("values").values;
    assert_eq!(&values[..2], &[1.0, 2.0]);
    let mean = values.iter().sum::<f64>() / 3.0;
    assert_eq!(retry.value, Some(mean));
}
