//! The Study API over the in-memory store.

use hypersweep_search::domain::Domain;
use hypersweep_search::{Param, Params, SearchSpace, StdRng};
use rand::RngExt;

use super::*;
use hypersweep_search::History;

struct UniformSearcher;

impl Searcher for UniformSearcher {
    fn name(&self) -> &str {
        "uniform"
    }
    fn suggest(
        &mut self,
        space: &hypersweep_search::SearchSpace,
        _: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        let coords: Vec<f64> = (0..space.len()).map(|_| rng.random::<f64>()).collect();
        Ok(space.decode(&coords))
    }
}

fn study(parallel: usize) -> Study {
    let space = SearchSpace::new(vec![Param::new(
        "x",
        Domain::Float {
            low: -2.0,
            high: 2.0,
            log: false,
            step: None,
        },
    )])
    .unwrap();
    Study::builder()
        .name("quad")
        .space(space)
        .searcher(Box::new(UniformSearcher))
        .parallel(parallel)
        .seed(7)
        .build()
        .unwrap()
}

#[test]
fn optimize_runs_n_trials_and_finds_the_best() {
    let s = study(4);
    let summary = s
        .optimize(20, |ctx: &TrialContext| {
            let x = ctx.params.f64("x").unwrap_or(f64::NAN);
            (x - 0.5).powi(2)
        })
        .unwrap();
    assert_eq!(summary.counted, 20);
    let trials = s.trials().unwrap();
    assert_eq!(trials.len(), 20);
    let best = s.best_trial().unwrap().unwrap();
    let min = trials
        .iter()
        .map(|t| t.value.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best.value, Some(min));
    // A second call adds n more.
    s.optimize(5, |_: &TrialContext| 1.0).unwrap();
    assert_eq!(s.trials().unwrap().len(), 25);
}

#[test]
fn a_panicking_or_failing_objective_fails_only_its_trial() {
    let s = study(2);
    s.optimize(6, |ctx: &TrialContext| -> Result<f64, String> {
        match ctx.number {
            1 => panic!("diverged at trial one"),
            2 => Err("out of memory".to_owned()),
            _ => Ok(1.0),
        }
    })
    .unwrap();
    let t = s.trials().unwrap();
    assert_eq!(t.len(), 6);
    assert_eq!(t[1].state, TrialState::Failed);
    assert!(
        t[1].error
            .as_deref()
            .unwrap()
            .contains("diverged at trial one")
    );
    assert_eq!(t[2].error.as_deref(), Some("out of memory"));
    assert_eq!(
        t.iter().filter(|t| t.state == TrialState::Complete).count(),
        4
    );
}

#[test]
fn ask_and_tell() {
    let s = study(1);
    let a = s.ask().unwrap();
    let b = s.ask().unwrap();
    assert_eq!((a.number, b.number), (0, 1));
    assert_eq!(a.state, TrialState::Running);
    assert!(s.spec().space.admits(&a.params));
    s.report(a.number, 0, 3.0).unwrap();
    let told = s.tell(a.number, 2.5).unwrap();
    assert_eq!((told.state, told.value), (TrialState::Complete, Some(2.5)));
    assert_eq!(told.intermediate, vec![(0, 3.0)]);
    assert_eq!(
        s.tell(b.number, f64::NAN).unwrap().state,
        TrialState::Failed
    );
    assert_eq!(s.best_trial().unwrap().unwrap().number, 0);
    assert!(s.tell(a.number, 1.0).is_err(), "a finished trial is final");
}

#[tokio::test]
async fn optimize_async_runs_on_the_callers_runtime() {
    let s = study(3);
    let summary = s
        .optimize_async(9, |ctx: TrialContext| async move {
            tokio::task::yield_now().await;
            ctx.params.f64("x").map(|x| x.abs())
        })
        .await
        .unwrap();
    assert_eq!(summary.counted, 9);
    assert!(matches!(
        s.optimize(1, |_: &TrialContext| 0.0),
        Err(StudyError::Runtime(_))
    ));
}

#[test]
fn build_requires_a_space() {
    assert!(matches!(
        Study::builder().name("x").build(),
        Err(StudyError::Config(_))
    ));
}

/// A one-parameter space `x` in `[low, high]`.
fn space_up_to(high: f64) -> SearchSpace {
    SearchSpace::new(vec![Param::new(
        "x",
        Domain::Float {
            low: 0.0,
            high,
            log: false,
            step: None,
        },
    )])
    .unwrap()
}

#[test]
fn a_builder_study_stores_its_method_searcher_and_pruner() {
    let storage: Arc<dyn Storage> = Arc::new(hypersweep_trials::MemoryStorage::new());
    Study::builder()
        .name("by-method")
        .space(space_up_to(1.0))
        .method(hypersweep_search::Method::Tpe)
        .storage(Arc::clone(&storage))
        .build()
        .unwrap();
    let stored = storage.load_study("by-method").unwrap().unwrap().spec;
    assert_eq!(stored.method, hypersweep_search::Method::Tpe);
    assert!(stored.custom.is_empty());

    Study::builder()
        .name("custom")
        .space(space_up_to(1.0))
        .searcher(Box::new(UniformSearcher))
        .pruner(Arc::new(hypersweep_trials::MedianPruner::new()))
        .storage(Arc::clone(&storage))
        .build()
        .unwrap();
    let stored = storage.load_study("custom").unwrap().unwrap().spec;
    assert_eq!(stored.custom.searcher.as_deref(), Some("uniform"));
    assert_eq!(stored.custom.pruner.as_deref(), Some("median"));
}

#[test]
fn reopening_with_another_space_is_refused_unless_asked_to_update() {
    let storage: Arc<dyn Storage> = Arc::new(hypersweep_trials::MemoryStorage::new());
    let open = |high: f64, on_change: OnSpecChange| {
        Study::builder()
            .name("s")
            .space(space_up_to(high))
            .seed(3)
            .storage(Arc::clone(&storage))
            .on_spec_change(on_change)
            .build()
    };
    let first = open(1.0, OnSpecChange::Refuse).unwrap();
    first.optimize(2, |_: &TrialContext| 1.0).unwrap();

    match open(2.0, OnSpecChange::Refuse) {
        Err(StudyError::SpecChanged { study, differences }) => {
            assert_eq!(study, "s");
            let lines: Vec<String> = differences.iter().map(ToString::to_string).collect();
            assert_eq!(lines, ["parameters.x.max: 1 -> 2"]);
        }
        other => panic!("expected SpecChanged, got {other:?}"),
    }
    let record = storage.load_study("s").unwrap().unwrap();
    assert_eq!(
        record.spec.space,
        space_up_to(1.0),
        "a refusal changes nothing"
    );

    let updated = open(2.0, OnSpecChange::Update).unwrap();
    assert_eq!(updated.trials().unwrap().len(), 2, "the trials are kept");
    let record = storage.load_study("s").unwrap().unwrap();
    assert_eq!(record.spec.space, space_up_to(2.0));
    assert_eq!(record.revisions.len(), 1);
    assert_eq!(
        record.revisions[0].differences,
        ["parameters.x.max: 1 -> 2"]
    );
}

#[test]
fn reopening_with_other_run_settings_continues_with_them() {
    let storage: Arc<dyn Storage> = Arc::new(hypersweep_trials::MemoryStorage::new());
    let open = |parallel: usize| {
        Study::builder()
            .name("s")
            .space(space_up_to(1.0))
            .parallel(parallel)
            .storage(Arc::clone(&storage))
            .build()
    };
    open(1).unwrap();
    let again = open(4).unwrap();
    assert_eq!(again.spec().run.parallel, 4);
    let record = storage.load_study("s").unwrap().unwrap();
    assert_eq!(
        record.spec.run.parallel, 4,
        "the new run settings are stored"
    );
    assert!(record.revisions.is_empty());
}

#[test]
fn ask_tell_report_returns_prune_for_a_losing_trial() {
    let mut s = study(1);
    // ASHA with rungs at steps 1, 3, 9 (eta 3).
    s.set_pruner(Arc::new(hypersweep_trials::AshaPruner::new(1, 3.0)));
    let leaders: Vec<u64> = (0..3).map(|_| s.ask().unwrap().number).collect();
    for (i, &n) in leaders.iter().enumerate() {
        // Each better than those before it, so each is promoted.
        let v = 0.1 * (3 - i) as f64;
        assert_eq!(s.report(n, 1, v).unwrap(), Decision::Continue, "trial {n}");
    }
    // Four values at rung 1 (0.1, 0.2, 0.3 and the newcomer's): one
    // continues, the best, so 0.25 loses and 0.05 wins.
    let loser = s.ask().unwrap().number;
    assert_eq!(s.report(loser, 1, 0.25).unwrap(), Decision::Prune);
    let winner = s.ask().unwrap().number;
    assert_eq!(s.report(winner, 1, 0.05).unwrap(), Decision::Continue);
    // Step 2 is no rung.
    assert_eq!(s.report(winner, 2, 9.0).unwrap(), Decision::Continue);
    assert!(s.report(99, 1, 0.0).is_err(), "no such trial");
}

/// A cell searched through the Study API with the short constructors and
/// `Method::Evolution` (with its options): every trial gets a connected
/// architecture string, and the stepped integer stays on its steps.
#[test]
fn evolution_over_a_cell_through_the_study() {
    use hypersweep_search::cell::{is_connected, parse_arch};
    use hypersweep_search::{Method, SearcherOptions};
    let ops = ["none", "skip_connect", "nor_conv_3x3"];
    let space = SearchSpace::new(vec![
        Param::new("arch", Domain::cell(4, ops)),
        Param::new("width", Domain::int(16, 256).step(16)),
        Param::new("lr", Domain::float(1e-4, 1e-1).log()),
    ])
    .unwrap();
    let mut options = SearcherOptions::default();
    options.evolution.population = 6;
    options.evolution.sample_size = 3;
    let s = Study::builder()
        .name("nas")
        .space(space)
        .method(Method::Evolution)
        .searcher_options(options)
        .direction(hypersweep_search::Direction::Maximize)
        .seed(5)
        .build()
        .unwrap();
    s.optimize(24, |ctx: &TrialContext| {
        let arch = ctx.params.str("arch").unwrap_or_default();
        arch.matches("nor_conv_3x3").count() as f64
    })
    .unwrap();
    let trials = s.trials().unwrap();
    assert_eq!(trials.len(), 24);
    for t in &trials {
        let arch = t.params.get("arch").and_then(|v| v.as_str()).unwrap_or("");
        let choice = parse_arch(arch, 4, &ops).unwrap_or_else(|| panic!("{arch}"));
        assert!(is_connected(4, &ops, &choice), "{arch}");
        let width = t.params.get("width").and_then(|v| v.as_i64()).unwrap_or(0);
        assert!(width % 16 == 0 && (16..=256).contains(&width), "{width}");
    }
}

/// An in-process trial on a slot of `gpus_per_trial: 2` GPUs sees its whole
/// group in `ctx.device`, and the two slots share no GPU.
#[test]
fn in_process_trials_get_their_slots_gpu_group() {
    use hypersweep_search::sweep::Devices;
    use hypersweep_trials::Device;
    use std::collections::BTreeSet;

    let seen: Arc<Mutex<BTreeSet<Vec<u32>>>> = Arc::default();
    let study = Study::builder()
        .name("ddp")
        .space(space_up_to(1.0))
        .parallel(2)
        .devices(Devices::List(vec![0, 1, 2, 3]))
        .gpus_per_trial(2)
        .build()
        .unwrap();
    let sink = Arc::clone(&seen);
    study
        .optimize(6, move |ctx: &TrialContext| {
            assert!(matches!(ctx.device, Device::CudaGroup(_)), "{}", ctx.device);
            sink.lock().unwrap().insert(ctx.device.gpus().to_vec());
            0.0
        })
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|g| *g == [0, 1] || *g == [2, 3]),
        "{seen:?}"
    );
}

#[test]
fn gpus_per_trial_is_checked_by_build_and_at_the_start() {
    use hypersweep_search::sweep::Devices;

    let build = |devices: Devices, k: usize| {
        Study::builder()
            .space(space_up_to(1.0))
            .devices(devices)
            .gpus_per_trial(k)
            .build()
    };
    for (devices, k) in [
        (Devices::List(vec![0, 1]), 3),
        (Devices::Cpu, 2),
        (Devices::List(vec![0, 1]), 0),
    ] {
        match build(devices, k) {
            Err(StudyError::Config(message)) => assert!(message.contains("gpus_per_trial")),
            other => panic!("{k}: expected a config error, got {:?}", other.map(|_| ())),
        }
    }
    // A study opened where its GPUs are missing has no slot: the sweep
    // refuses to start, with the reason, rather than run on the CPU.
    let mut study = build(Devices::List(vec![0, 1]), 2).unwrap();
    study.config_mut().slots.clear();
    let err = study.optimize(1, |_: &TrialContext| 0.0).unwrap_err();
    assert!(err.to_string().contains("no worker slot"), "{err}");
}
