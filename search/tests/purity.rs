//! Every searcher is a pure function of (space, history, seed, number).
//!
//! Many processes share one study: the suggestion for trial N is made by
//! whichever process reserved N, from the history it has caught up with and
//! the RNG `suggestion_rng(seed, N)`. A searcher may cache work between calls
//! (TPE's encoded history, GP's last fit), but a searcher that has made
//! suggestions must suggest exactly what a freshly built one does; otherwise
//! the same study gives different trials depending on which worker asked and
//! what it asked before, and a resumed study diverges from an uninterrupted
//! one. These tests check that bit for bit, for every `Method`.

use std::collections::{HashSet, VecDeque};

use hypersweep_search::{
    Direction, Domain, History, Method, Observation, Param, Params, SearchSpace, Searcher,
    SearcherOptions, TrialState, build_searcher, suggestion_rng,
};
use serde_json::json;

const SEED: u64 = 20_240_611;

const METHODS: [Method; 7] = [
    Method::Auto,
    Method::Grid,
    Method::Random,
    Method::Sobol,
    Method::Tpe,
    Method::Gp,
    Method::Evolution,
];

/// Random draws before TPE and GP use their models (10 by default; fewer
/// here, so that most suggestions of a short test come from the model).
const STARTUP: usize = 5;

/// Suggestions per test and method. GP's share stays small so that a debug
/// build of the test suite stays fast.
fn n_trials(method: Method) -> u64 {
    match method {
        // `auto` runs the GP for these short histories (see `auto::choice`).
        Method::Gp | Method::Auto => 16,
        _ => 28,
    }
}

/// A log float, an integer, a categorical, a float that exists only under
/// one of its choices, and a 3-node NAS cell (22 of its 27 cells connected,
/// searched by all but the grid as one categorical per edge).
/// `grid_points` makes the floats griddable (4 x 8 x (3 + 1) x 22 = 2816
/// points); the other searchers ignore it.
fn mixed_space() -> SearchSpace {
    let mut lr = Param::new(
        "lr",
        Domain::Float {
            low: 1e-5,
            high: 1e-1,
            log: true,
            step: None,
        },
    );
    lr.grid_points = Some(4);
    let mut momentum = Param::new(
        "momentum",
        Domain::Float {
            low: 0.0,
            high: 0.99,
            log: false,
            step: None,
        },
    )
    .when("optimizer", vec![json!("sgd")]);
    momentum.grid_points = Some(3);
    SearchSpace::new(vec![
        lr,
        Param::new(
            "layers",
            Domain::Int {
                low: 1,
                high: 8,
                log: false,
                step: None,
            },
        ),
        Param::new(
            "optimizer",
            Domain::Categorical {
                choices: vec![json!("sgd"), json!("adam")],
                probabilities: None,
            },
        ),
        momentum,
        Param::new("arch", Domain::cell(3, ["none", "conv", "pool"])),
    ])
    .expect("a valid space")
}

/// A quadratic bowl over the params, a penalty on one branch.
fn objective(p: &Params) -> f64 {
    let lr = p.f64("lr").expect("lr is always set");
    let layers = p.i64("layers").expect("layers is always set") as f64;
    let branch = match p.f64("momentum") {
        Ok(m) => 0.3 + (m - 0.9).powi(2),
        Err(_) => 0.0,
    };
    (lr.log10() + 3.0).powi(2) + (layers - 5.0).powi(2) / 10.0 + branch
}

fn running(number: u64, params: Params) -> Observation {
    Observation {
        number,
        params,
        state: TrialState::Running,
        value: None,
        intermediate: Vec::new(),
        duration_ms: None,
    }
}

/// Ends trial `number` of `history`: failed, pruned or complete by a fixed
/// rule on its number, so that every history mixes all states.
fn finish(history: &mut History, number: u64) {
    let Some(trial) = history.trials.iter().find(|t| t.number == number) else {
        panic!("trial {number} is in the history");
    };
    let mut trial = trial.clone();
    let value = objective(&trial.params);
    match number % 7 {
        4 => trial.state = TrialState::Failed,
        6 => {
            trial.state = TrialState::Pruned;
            trial.intermediate = vec![(1, value + 1.0)];
        }
        _ => {
            trial.state = TrialState::Complete;
            trial.value = Some(value);
        }
    }
    history.upsert(trial);
}

fn fresh(method: Method) -> Box<dyn Searcher> {
    let mut options = SearcherOptions::default();
    options.tpe.n_startup_trials = STARTUP;
    options.gp.n_startup_trials = STARTUP;
    options.evolution.population = STARTUP;
    options.evolution.sample_size = 3;
    build_searcher(method, &options, SEED)
}

fn suggest(searcher: &mut dyn Searcher, space: &SearchSpace, history: &History, n: u64) -> Params {
    let mut rng = suggestion_rng(SEED, n);
    match searcher.suggest(space, history, &mut rng) {
        Ok(params) => params,
        Err(e) => panic!("{} at trial {n}: {e}", searcher.name()),
    }
}

/// The model-based searchers draw their first suggestions at random; the
/// last 6 of each test must come from the model.
fn assert_past_startup(method: Method, history: &History, n: u64) {
    if n + 6 >= n_trials(method) {
        assert!(
            history.n_with_value() >= STARTUP,
            "{method:?}: trial {n} is still a startup draw ({} finished with a value)",
            history.n_with_value()
        );
    }
}

#[test]
fn a_used_searcher_suggests_what_a_fresh_one_does() {
    let space = mixed_space();
    for method in METHODS {
        let mut used = fresh(method);
        let mut history = History::new(Direction::Minimize);
        let mut seen = HashSet::new();
        for n in 0..n_trials(method) {
            assert_past_startup(method, &history, n);
            seen.extend(history.trials.iter().map(|t| t.state));
            let from_used = suggest(used.as_mut(), &space, &history, n);
            let from_fresh = suggest(fresh(method).as_mut(), &space, &history, n);
            assert_eq!(from_used, from_fresh, "{method:?}, trial {n}");
            // Asked again with the same history (a retried request): the
            // cached path gives the same answer too.
            let again = suggest(used.as_mut(), &space, &history, n);
            assert_eq!(again, from_fresh, "{method:?}, trial {n}, asked again");
            history.upsert(running(n, from_used));
            // Every third trial stays running for two more suggestions, so
            // running trials sit between finished ones.
            if n % 3 != 1 {
                finish(&mut history, n);
            }
            if n >= 2 && (n - 2) % 3 == 1 {
                finish(&mut history, n - 2);
            }
        }
        assert!(
            [TrialState::Running, TrialState::Failed, TrialState::Pruned]
                .iter()
                .all(|state| seen.contains(state)),
            "{method:?}: the histories mixed only {seen:?}"
        );
    }
}

const WORKERS: usize = 4;

/// Four workers share one study. Each asks for a trial when it is free; the
/// trial is reserved (the next number) and suggested by that worker's
/// searcher from the shared history, running trials included; trials end in
/// a fixed order (mostly the oldest first, every third event the newest).
/// With `fresh_each_time` every suggestion comes from a newly built
/// searcher instead of the worker's long-lived one. Returns every
/// suggestion, by trial number.
fn replay(method: Method, space: &SearchSpace, fresh_each_time: bool) -> Vec<Params> {
    let total = n_trials(method);
    let mut searchers: Vec<Box<dyn Searcher>> = (0..WORKERS).map(|_| fresh(method)).collect();
    let mut history = History::new(Direction::Minimize);
    let mut in_flight: VecDeque<(u64, usize)> = VecDeque::new();
    let mut suggested = Vec::new();
    let mut ask = |worker: usize, history: &mut History, in_flight: &mut VecDeque<_>| {
        let n = suggested.len() as u64;
        assert_past_startup(method, history, n);
        let params = if fresh_each_time {
            suggest(fresh(method).as_mut(), space, history, n)
        } else {
            suggest(searchers[worker].as_mut(), space, history, n)
        };
        history.upsert(running(n, params.clone()));
        in_flight.push_back((n, worker));
        suggested.push(params);
    };
    for worker in 0..WORKERS {
        ask(worker, &mut history, &mut in_flight);
    }
    for event in WORKERS as u64..total {
        let which = if event % 3 == 0 {
            in_flight.len() - 1
        } else {
            0
        };
        let Some((number, worker)) = in_flight.remove(which) else {
            panic!("a trial is in flight");
        };
        finish(&mut history, number);
        ask(worker, &mut history, &mut in_flight);
    }
    suggested
}

#[test]
fn four_workers_replay_alike_with_long_lived_and_fresh_searchers() {
    let space = mixed_space();
    for method in METHODS {
        let long_lived = replay(method, &space, false);
        let fresh_each_time = replay(method, &space, true);
        let long_lived_again = replay(method, &space, false);
        assert_eq!(long_lived.len() as u64, n_trials(method));
        for (n, ((a, b), c)) in long_lived
            .iter()
            .zip(&fresh_each_time)
            .zip(&long_lived_again)
            .enumerate()
        {
            assert_eq!(a, b, "{method:?}, trial {n}: long-lived vs fresh");
            assert_eq!(a, c, "{method:?}, trial {n}: second run");
        }
    }
}

/// TPE keeps each parameter's coordinates sorted between suggestions,
/// inserting new trials one by one, and re-sorts its cache when a history is
/// not a growth of the one it saw (a worker that had not yet seen a trial
/// another worker finished). That path must give what a fresh searcher
/// gives too, also with ties and with -0.0 next to 0.0 (a told value of
/// `-0.0` at a bound of 0), which the insertion and the sort must order
/// alike.
#[test]
fn tpe_orders_negative_zero_alike_when_inserting_and_sorting() {
    let space = SearchSpace::new(vec![Param::new(
        "x",
        Domain::Float {
            low: 0.0,
            high: 1.0,
            log: false,
            step: None,
        },
    )])
    .expect("a valid space");
    let x_of = |n: u64| match n % 4 {
        0 => json!(0.0),
        1 => json!(-0.0),
        _ => json!(0.05 * n as f64),
    };
    let told = |n: u64| {
        let mut params = Params::new();
        params.insert("x", x_of(n));
        Observation {
            number: n,
            params,
            state: TrialState::Complete,
            value: Some((0.05 * n as f64 - 0.3).powi(2)),
            intermediate: Vec::new(),
            duration_ms: None,
        }
    };
    let full: History = {
        let mut h = History::new(Direction::Minimize);
        (0..16).for_each(|n| h.upsert(told(n)));
        h
    };
    // The used searcher first saw the history without trial 8, so its
    // cache keeps trials 0 to 7, re-sorted, when trial 8 shows up.
    let mut used = fresh(Method::Tpe);
    let mut partial = full.clone();
    partial.trials.remove(8);
    suggest(used.as_mut(), &space, &partial, 16);
    for n in 16..20 {
        assert_eq!(
            suggest(used.as_mut(), &space, &full, n),
            suggest(fresh(Method::Tpe).as_mut(), &space, &full, n),
            "trial {n}"
        );
    }
}
