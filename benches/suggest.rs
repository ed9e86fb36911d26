//! Suggest latency of the model-free searchers, and of TPE in many
//! dimensions.
//!
//! `random` and `sobol` on a 20-parameter mixed space (floats, log floats,
//! integers, categoricals) with a history of 100 finished trials; `grid` on a
//! 10^5-point grid whose first 10^4 points are already in the history (its
//! worst case: every taken point is skipped before the free one is found);
//! `tpe` on 40 floats with 1,000 finished trials closing in on the optimum
//! (univariate kernels: the group is larger than `max_joint_params`), on
//! one thread and on the default number.
//!
//! Run: `cargo bench --bench suggest` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hypersweep_search::grid::GridSearcher;
use hypersweep_search::random::{RandomSearcher, sample_params};
use hypersweep_search::sobol::SobolSearcher;
use hypersweep_search::tpe::{TpeOptions, TpeSearcher};
use hypersweep_search::{
    Direction, Domain, History, Observation, Param, Params, SearchSpace, Searcher, StdRng,
    TrialState,
};
use rand::{RngExt, SeedableRng};
use serde_json::json;

fn float(low: f64, high: f64, log: bool) -> Domain {
    Domain::Float {
        low,
        high,
        log,
        step: None,
    }
}

fn int(low: i64, high: i64, log: bool, step: Option<i64>) -> Domain {
    Domain::Int {
        low,
        high,
        log,
        step,
    }
}

fn categorical(n: usize) -> Domain {
    Domain::Categorical {
        choices: (0..n).map(|i| json!(format!("choice{i}"))).collect(),
        probabilities: None,
    }
}

/// 20 parameters: 6 floats, 5 log floats, 5 integers (plain, log, stepped),
/// 4 categoricals.
fn mixed_space() -> SearchSpace {
    let mut params = Vec::new();
    for i in 0..6 {
        params.push(Param::new(
            format!("float{i}"),
            float(-1.0, 1.0 + i as f64, false),
        ));
    }
    for i in 0..5 {
        params.push(Param::new(
            format!("logfloat{i}"),
            float(1e-5, 10f64.powi(i), true),
        ));
    }
    params.push(Param::new("int0", int(0, 100, false, None)));
    params.push(Param::new("int1", int(1, 1024, true, None)));
    params.push(Param::new("int2", int(16, 512, false, Some(16))));
    params.push(Param::new("int3", int(1, 10, false, None)));
    params.push(Param::new("int4", int(2, 4096, true, Some(2))));
    for (i, n) in [2, 3, 5, 8].into_iter().enumerate() {
        params.push(Param::new(format!("cat{i}"), categorical(n)));
    }
    SearchSpace::new(params).expect("a valid space")
}

fn observation(number: usize, params: Params) -> Observation {
    Observation {
        number: number as u64,
        params,
        state: TrialState::Complete,
        value: Some(number as f64 * 0.5),
        intermediate: Vec::new(),
        duration_ms: None,
    }
}

fn mixed_history(space: &SearchSpace, trials: usize) -> History {
    let mut rng = StdRng::seed_from_u64(1);
    let mut history = History::new(Direction::Minimize);
    for n in 0..trials {
        history.upsert(observation(n, sample_params(space, &mut rng)));
    }
    history
}

/// Five parameters of ten values each: 10^5 points.
fn big_grid() -> SearchSpace {
    SearchSpace::new(vec![
        Param::new("a", categorical(10)),
        Param::new("b", int(0, 9, false, None)),
        Param::new("c", int(10, 100, false, Some(10))),
        Param::new(
            "d",
            Domain::Float {
                low: 0.1,
                high: 1.0,
                log: false,
                step: Some(0.1),
            },
        ),
        Param::new("e", categorical(10)),
    ])
    .expect("a valid space")
}

/// The first `trials` points of the grid's order (the last parameter turns
/// fastest), so that a suggestion has to skip all of them.
fn grid_prefix_history(space: &SearchSpace, trials: usize) -> History {
    let mut history = History::new(Direction::Minimize);
    for n in 0..trials {
        let mut rest = n;
        let mut digits = [0usize; 5];
        for d in digits.iter_mut().rev() {
            *d = rest % 10;
            rest /= 10;
        }
        let params = space
            .params()
            .iter()
            .zip(digits)
            .map(|(p, k)| (p.name.clone(), p.domain.decode((k as f64 + 0.5) / 10.0)))
            .collect();
        history.upsert(observation(n, params));
    }
    history
}

/// 40 floats in [-10, 10] and `trials` finished trials drawn from a box
/// that shrinks toward the origin, valued by the sphere.
fn converging_sphere(trials: usize) -> (SearchSpace, History) {
    let d = 40;
    let space = SearchSpace::new(
        (0..d)
            .map(|i| Param::new(format!("x{i}"), float(-10.0, 10.0, false)))
            .collect(),
    )
    .expect("a valid space");
    let mut rng = StdRng::seed_from_u64(1);
    let mut history = History::new(Direction::Minimize);
    for n in 0..trials {
        let spread = 10.0 * (1.0 - n as f64 / (1.1 * trials as f64));
        let x: Vec<f64> = (0..d)
            .map(|_| (2.0 * rng.random::<f64>() - 1.0) * spread)
            .collect();
        let params = (0..d).map(|i| (format!("x{i}"), json!(x[i]))).collect();
        history.upsert(Observation {
            value: Some(x.iter().map(|v| v * v).sum()),
            ..observation(n, params)
        });
    }
    (space, history)
}

fn suggest_latency(c: &mut Criterion) {
    let space = mixed_space();
    let history = mixed_history(&space, 100);
    let mut rng = StdRng::seed_from_u64(2);

    let mut random = RandomSearcher::new();
    c.bench_function("suggest/random/20 params, 100 trials", |b| {
        b.iter(|| black_box(random.suggest(&space, &history, &mut rng)))
    });

    let mut sobol = SobolSearcher::new(3);
    c.bench_function("suggest/sobol/20 params, 100 trials", |b| {
        b.iter(|| black_box(sobol.suggest(&space, &history, &mut rng)))
    });

    let grid_space = big_grid();
    assert_eq!(GridSearcher::total_points(&grid_space).ok(), Some(100_000));
    let grid_history = grid_prefix_history(&grid_space, 10_000);
    let mut grid = GridSearcher::new();
    let first_free = grid
        .suggest(&grid_space, &grid_history, &mut rng)
        .expect("points are left");
    assert_eq!(
        first_free.get("a"),
        Some(&json!("choice1")),
        "the prefix was skipped"
    );
    c.bench_function("suggest/grid/1e5 points, 1e4 taken", |b| {
        b.iter(|| black_box(grid.suggest(&grid_space, &grid_history, &mut rng)))
    });

    let (sphere, sphere_history) = converging_sphere(1000);
    for (label, threads) in [("1 thread", 1), ("default threads", 0)] {
        let mut tpe = TpeSearcher::new(TpeOptions::default().threads(threads), 0);
        c.bench_function(
            &format!("suggest/tpe/40 floats, 1000 trials, {label}"),
            |b| b.iter(|| black_box(tpe.suggest(&sphere, &sphere_history, &mut rng))),
        );
    }
}

criterion_group!(benches, suggest_latency);
criterion_main!(benches);
