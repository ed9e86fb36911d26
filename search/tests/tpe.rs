//! Tests of the TPE searcher: it beats random search on known problems,
//! respects conditions, spreads parallel suggestions, and is deterministic.
//! The heavy parts (the variant table, the latency figures) are `#[ignore]`d;
//! run them in release mode:
//!
//! ```text
//! cargo test -p hypersweep-search --release --test tpe -- --ignored --nocapture
//! ```

use std::time::Instant;

use hypersweep_search::problems::{self, Problem};
use hypersweep_search::sobol::SobolSearcher;
use hypersweep_search::tpe::{Bandwidth, Startup, TpeOptions, TpeSearcher};
use hypersweep_search::{
    Direction, Domain, History, Observation, Param, Params, SearchSpace, Searcher, StdRng,
    TrialState, suggestion_rng,
};
use rand::SeedableRng;
use serde_json::json;

fn float(low: f64, high: f64) -> Domain {
    Domain::Float {
        low,
        high,
        log: false,
        step: None,
    }
}

fn problem_space(p: &Problem) -> SearchSpace {
    p.space().expect("valid space")
}

fn point(p: &Problem, params: &Params) -> Vec<f64> {
    p.point(params).expect("numeric param")
}

fn complete(number: u64, params: Params, value: f64) -> Observation {
    Observation {
        number,
        params,
        state: TrialState::Complete,
        value: Some(value),
        intermediate: Vec::new(),
        duration_ms: None,
    }
}

/// Runs `budget` sequential trials and returns the best regret found.
fn best_regret(p: &Problem, options: &TpeOptions, budget: usize, seed: u64) -> f64 {
    let space = problem_space(p);
    let mut searcher = TpeSearcher::new(options.clone(), seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut history = History::new(Direction::Minimize);
    let mut best = f64::INFINITY;
    for n in 0..budget {
        let params = searcher
            .suggest(&space, &history, &mut rng)
            .expect("suggestion");
        let y = (p.f)(&point(p, &params));
        best = best.min(p.regret(y));
        history.trials.push(complete(n as u64, params, y));
    }
    best
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn median_regret(p: &Problem, options: &TpeOptions, budget: usize, seeds: u64) -> f64 {
    median(
        (0..seeds)
            .map(|s| best_regret(p, options, budget, s))
            .collect(),
    )
}

/// Random search: the same searcher that never leaves its startup phase.
fn random_options(budget: usize) -> TpeOptions {
    TpeOptions::default().n_startup_trials(budget + 1)
}

#[test]
fn beats_random_on_branin() {
    let budget = 60;
    let tpe = median_regret(&problems::BRANIN, &TpeOptions::default(), budget, 10);
    let random = median_regret(&problems::BRANIN, &random_options(budget), budget, 10);
    println!("branin: tpe {tpe} random {random}");
    assert!(4.0 * tpe < random, "tpe {tpe} vs random {random}");
    assert!(tpe < 0.1, "tpe median regret {tpe}");
}

#[test]
fn beats_random_on_hartmann6() {
    let budget = 60;
    let tpe = median_regret(&problems::HARTMANN6, &TpeOptions::default(), budget, 10);
    let random = median_regret(&problems::HARTMANN6, &random_options(budget), budget, 10);
    println!("hartmann6: tpe {tpe} random {random}");
    assert!(2.0 * tpe < random, "tpe {tpe} vs random {random}");
}

fn conditional_space() -> SearchSpace {
    SearchSpace::new(vec![
        Param::new(
            "opt",
            Domain::Categorical {
                choices: vec![json!("sgd"), json!("adam"), json!("none")],
                probabilities: None,
            },
        ),
        Param::new(
            "lr",
            Domain::Float {
                low: 1e-4,
                high: 1.0,
                log: true,
                step: None,
            },
        )
        .when("opt", vec![json!("sgd"), json!("adam")]),
        Param::new("momentum", float(0.0, 0.99)).when("opt", vec![json!("sgd")]),
        Param::new(
            "nesterov",
            Domain::Categorical {
                choices: vec![json!(true), json!(false)],
                probabilities: Some(vec![0.8, 0.2]),
            },
        )
        .when("opt", vec![json!("sgd")]),
        Param::new(
            "beta2",
            Domain::Float {
                low: 0.9,
                high: 0.9999,
                log: false,
                step: None,
            },
        )
        .when("opt", vec![json!("adam")]),
        Param::new(
            "layers",
            Domain::Int {
                low: 1,
                high: 8,
                log: false,
                step: None,
            },
        ),
        Param::new("tag", Domain::Const { value: json!("v1") }),
    ])
    .expect("valid space")
}

/// A loss over the conditional space: adam near lr 1e-2 with 3 layers is
/// best, `none` is poor.
fn conditional_loss(p: &Params) -> f64 {
    let layers = p.i64("layers").expect("layers") as f64;
    let base = (layers - 3.0).powi(2) * 0.1;
    match p.str("opt").expect("opt") {
        "adam" => base + (p.f64("lr").expect("lr").log10() + 2.0).powi(2),
        "sgd" => {
            base + 1.0
                + (p.f64("lr").expect("lr").log10() + 1.0).powi(2)
                + (p.f64("momentum").expect("m") - 0.9).powi(2)
        }
        _ => base + 5.0,
    }
}

#[test]
fn conditional_suggestions_respect_when_and_learn() {
    let space = conditional_space();
    for options in [
        TpeOptions::default(),
        TpeOptions::default().multivariate(false).group(false),
    ] {
        let mut searcher = TpeSearcher::new(options, 7);
        let mut rng = StdRng::seed_from_u64(7);
        let mut history = History::new(Direction::Minimize);
        let mut adam_late = 0;
        for n in 0..60u64 {
            let params = searcher
                .suggest(&space, &history, &mut rng)
                .expect("suggestion");
            assert!(space.admits(&params), "{params:?}");
            if n >= 40 && params.str("opt").expect("opt") == "adam" {
                adam_late += 1;
            }
            let y = conditional_loss(&params);
            history.trials.push(complete(n, params, y));
        }
        assert!(adam_late >= 10, "adam chosen {adam_late} of the last 20");
    }
}

#[test]
fn pending_trials_get_distinct_suggestions() {
    let p = problems::BRANIN;
    let space = problem_space(&p);
    let mut searcher = TpeSearcher::new(TpeOptions::default(), 1);
    let mut rng = StdRng::seed_from_u64(1);
    let mut history = History::new(Direction::Minimize);
    for n in 0..30u64 {
        let params = searcher.suggest(&space, &history, &mut rng).expect("ok");
        let y = (p.f)(&point(&p, &params));
        history.trials.push(complete(n, params, y));
    }
    let k = 8;
    let mut suggested: Vec<Params> = Vec::new();
    for i in 0..k {
        let params = searcher.suggest(&space, &history, &mut rng).expect("ok");
        assert!(!suggested.contains(&params), "suggestion {i} repeats");
        suggested.push(params.clone());
        history.trials.push(Observation {
            number: 30 + i,
            params,
            state: TrialState::Running,
            value: None,
            intermediate: Vec::new(),
            duration_ms: None,
        });
    }
}

#[test]
fn constant_liar_spreads_discrete_suggestions() {
    // Eight integer values; with seven pending, the liar must push the
    // eighth suggestion off the seven pending values most of the time.
    let space = SearchSpace::new(vec![Param::new(
        "k",
        Domain::Int {
            low: 0,
            high: 7,
            log: false,
            step: None,
        },
    )])
    .expect("valid");
    let mut history = History::new(Direction::Minimize);
    for k in 0..8i64 {
        let params: Params = [("k".to_owned(), json!(k))].into_iter().collect();
        history
            .trials
            .push(complete(k as u64, params, (k - 3).abs() as f64));
    }
    let mut searcher = TpeSearcher::new(TpeOptions::default().n_startup_trials(4), 0);
    let mut rng = StdRng::seed_from_u64(5);
    let mut seen = Vec::new();
    for i in 0..4u64 {
        let params = searcher.suggest(&space, &history, &mut rng).expect("ok");
        seen.push(params.i64("k").expect("k"));
        history.trials.push(Observation {
            number: 8 + i,
            params,
            state: TrialState::Running,
            value: None,
            intermediate: Vec::new(),
            duration_ms: None,
        });
    }
    seen.sort_unstable();
    seen.dedup();
    assert!(seen.len() >= 3, "pending values {seen:?}");
}

#[test]
fn same_seed_and_history_give_the_same_suggestion() {
    let space = conditional_space();
    let mut history = History::new(Direction::Minimize);
    let mut searcher = TpeSearcher::new(TpeOptions::default(), 3);
    let mut rng = StdRng::seed_from_u64(3);
    for n in 0..25u64 {
        let params = searcher.suggest(&space, &history, &mut rng).expect("ok");
        let y = conditional_loss(&params);
        history.trials.push(complete(n, params, y));
    }
    let a = TpeSearcher::new(TpeOptions::default(), 3)
        .suggest(&space, &history, &mut StdRng::seed_from_u64(99))
        .expect("ok");
    let b = TpeSearcher::new(TpeOptions::default(), 3)
        .suggest(&space, &history, &mut StdRng::seed_from_u64(99))
        .expect("ok");
    assert_eq!(a, b);
    let c = searcher
        .suggest(&space, &history, &mut StdRng::seed_from_u64(99))
        .expect("ok");
    assert_eq!(a, c, "a used searcher gives the same answer as a fresh one");
}

/// The searcher keeps the encoded history between calls; whatever it has
/// seen before, its suggestion must be the one a fresh searcher gives on the
/// same history: as the history grows, with running and failed trials, when
/// a trial in the middle disappears, and when the space changes.
#[test]
fn a_searcher_that_has_seen_other_histories_answers_like_a_fresh_one() {
    let space = conditional_space();
    let options = TpeOptions::default().n_startup_trials(5);
    let mut used = TpeSearcher::new(options.clone(), 7);
    let mut history = History::new(Direction::Minimize);
    let check = |used: &mut TpeSearcher, space: &SearchSpace, history: &History, seed: u64| {
        let fresh = TpeSearcher::new(options.clone(), 7)
            .suggest(space, history, &mut StdRng::seed_from_u64(seed))
            .expect("ok");
        let again = used
            .suggest(space, history, &mut StdRng::seed_from_u64(seed))
            .expect("ok");
        assert_eq!(fresh, again, "{} trials", history.trials.len());
        fresh
    };
    for n in 0..40u64 {
        let params = check(&mut used, &space, &history, n);
        let mut trial = complete(n, params.clone(), conditional_loss(&params));
        match n % 7 {
            3 => trial.state = TrialState::Failed,
            5 => trial.state = TrialState::Running,
            _ => {}
        }
        history.trials.push(trial);
    }
    // A trial in the middle goes away: the cache must not reuse its row.
    history.trials.remove(17);
    check(&mut used, &space, &history, 100);
    // Another space over the same names: everything is encoded afresh.
    let other = problem_space(&problems::BRANIN);
    let mut branin = History::new(Direction::Minimize);
    for n in 0..30u64 {
        let params = check(&mut used, &other, &branin, 200 + n);
        let y = (problems::BRANIN.f)(&point(&problems::BRANIN, &params));
        branin.trials.push(complete(n, params, y));
    }
    check(&mut used, &space, &history, 300);
}

/// Past 100 trials in more than 16 params, the bad density of each
/// suggestion is the last one's with the newest trial added, and the
/// searcher adds it instead of fitting again (`Observations`): its
/// suggestions must still be a fresh searcher's, with running trials
/// finishing late, failed ones, and a trial in the middle taken out.
#[test]
fn a_searcher_that_adds_to_its_densities_answers_like_a_fresh_one() {
    let mut params: Vec<Param> = (0..20)
        .map(|i| Param::new(format!("x{i}"), float(-5.0, 5.0)))
        .collect();
    for i in 0..2 {
        let int = Domain::Int {
            low: 0,
            high: 9,
            log: false,
            step: None,
        };
        params.push(Param::new(format!("k{i}"), int));
        let choices = Domain::Categorical {
            choices: vec![json!("a"), json!("b"), json!("c")],
            probabilities: None,
        };
        params.push(Param::new(format!("c{i}"), choices));
    }
    let space = SearchSpace::new(params).expect("valid space");
    let loss = |p: &Params| -> f64 {
        p.iter()
            .map(|(_, v)| match (v.as_f64(), v.as_str()) {
                (Some(x), _) => (x - 1.0).powi(2),
                (_, Some(c)) => f64::from(u8::from(c != "b")),
                _ => 0.0,
            })
            .sum()
    };
    let options = TpeOptions::default();
    let mut used = TpeSearcher::new(options.clone(), 3);
    let mut history = History::new(Direction::Minimize);
    let mut check = |history: &History, seed: u64| {
        let mut rng = StdRng::seed_from_u64(seed);
        let again = used.suggest(&space, history, &mut rng).expect("ok");
        if history.trials.len() >= 130 || seed.is_multiple_of(10) {
            let fresh = TpeSearcher::new(options.clone(), 3)
                .suggest(&space, history, &mut StdRng::seed_from_u64(seed))
                .expect("ok");
            assert_eq!(fresh, again, "{} trials", history.trials.len());
        }
        again
    };
    for n in 0..175u64 {
        let params = check(&history, n);
        let mut trial = complete(n, params.clone(), loss(&params));
        match n % 11 {
            // Finishes four trials later.
            3 => trial.state = TrialState::Running,
            7 => trial.state = TrialState::Failed,
            _ => {}
        }
        history.trials.push(trial);
        if n >= 4 && (n - 4) % 11 == 3 {
            let late = &mut history.trials[n as usize - 4];
            late.state = TrialState::Complete;
            late.value = Some(loss(&late.params));
        }
        if n == 120 {
            history.trials.remove(60);
        }
    }
}

/// In a space of nine configurations, nine suggestions are nine different
/// configurations (startup included); the tenth is a repeat, not an error.
#[test]
fn discrete_spaces_get_no_repeats_until_exhausted() {
    let space = SearchSpace::new(vec![
        Param::new(
            "a",
            Domain::Int {
                low: 0,
                high: 2,
                log: false,
                step: None,
            },
        ),
        Param::new(
            "b",
            Domain::Categorical {
                choices: vec![json!("x"), json!("y"), json!("z")],
                probabilities: None,
            },
        ),
    ])
    .expect("valid");
    let options = TpeOptions::default().n_startup_trials(3);
    assert!(options.skip_duplicates, "on by default");
    let mut searcher = TpeSearcher::new(options, 1);
    let mut history = History::new(Direction::Minimize);
    let mut seen = Vec::new();
    for n in 0..10u64 {
        let params = searcher
            .suggest(&space, &history, &mut StdRng::seed_from_u64(n))
            .expect("a suggestion, even once every configuration was tried");
        if n < 9 {
            assert!(!seen.contains(&params), "repeat at trial {n}: {params:?}");
        }
        seen.push(params.clone());
        let y = params.f64("a").expect("a");
        history.trials.push(complete(n, params, y));
    }
}

/// Regression: once every configuration of a small discrete space had been
/// tried, the repeat was the last prior draw, so TPE stopped learning (a
/// 4-way categorical was then searched at random).
#[test]
fn an_exhausted_discrete_space_repeats_the_models_choice() {
    let space = SearchSpace::new(vec![Param::new(
        "opt",
        Domain::choice([json!("a"), json!("b"), json!("c"), json!("d")]),
    )])
    .expect("valid");
    let loss = |c: &str| match c {
        "a" => 3.0,
        "b" => 2.0,
        "c" => 0.0,
        _ => 1.0,
    };
    let mut history = History::new(Direction::Minimize);
    for n in 0..24u64 {
        let choice = ["a", "b", "c", "d"][(n % 4) as usize];
        let params: Params = [("opt".to_owned(), hypersweep_search::Value::from(choice))]
            .into_iter()
            .collect();
        history.trials.push(complete(n, params, loss(choice)));
    }
    let mut best = 0;
    for seed in 0..20u64 {
        let mut searcher = TpeSearcher::new(TpeOptions::default(), seed);
        let params = searcher
            .suggest(&space, &history, &mut suggestion_rng(seed, 24))
            .expect("a repeat, not an error");
        if params.get("opt") == Some(&hypersweep_search::Value::from("c")) {
            best += 1;
        }
    }
    assert!(
        best >= 14,
        "the best choice in {best} of 20 (random: about 5)"
    );
}

#[test]
fn options_parse_with_defaults_and_reject_unknown_fields() {
    let o: TpeOptions =
        serde_json::from_value(json!({"gamma": 0.2, "bandwidth": "neighbor"})).expect("parses");
    assert_eq!(o.gamma, 0.2);
    assert_eq!(o.bandwidth, Bandwidth::Neighbor);
    assert_eq!(o.n_candidates, TpeOptions::default().n_candidates);
    assert!(serde_json::from_value::<TpeOptions>(json!({"gama": 0.2})).is_err());
    let bad = TpeOptions::default().gamma(0.0);
    let err = TpeSearcher::new(bad, 0)
        .suggest(
            &conditional_space(),
            &History::default(),
            &mut StdRng::seed_from_u64(0),
        )
        .expect_err("gamma 0 is invalid");
    assert!(err.to_string().contains("tpe.gamma"), "{err}");
}

#[test]
fn every_domain_kind_gets_admissible_values_and_steps_are_learnt() {
    let space = SearchSpace::new(vec![
        Param::new(
            "z",
            Domain::Normal {
                mu: 1.0,
                sigma: 2.0,
                log: false,
                q: Some(0.5),
            },
        ),
        Param::new(
            "w",
            Domain::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: Some(0.25),
            },
        ),
        Param::new(
            "units",
            Domain::Int {
                low: 1,
                high: 1024,
                log: true,
                step: None,
            },
        ),
        Param::new(
            "k",
            Domain::Int {
                low: 0,
                high: 20,
                log: false,
                step: Some(5),
            },
        ),
    ])
    .expect("valid");
    let loss = |p: &Params| {
        (p.f64("z").expect("z") - 3.0).abs()
            + (p.f64("w").expect("w") - 0.75).abs()
            + (p.f64("units").expect("units").log2() - 6.0).abs() / 10.0
            + (p.f64("k").expect("k") - 15.0).abs() / 5.0
    };
    // The loss is separable, which the univariate model exploits: over the
    // last 40 of 100 trials it must mostly run both best step values (a
    // uniform draw would hit each a fifth of the time). The multivariate
    // model must settle on `k`, the larger term; on `w` it can stay on a
    // neighbouring value within this budget (a joint kernel moves all
    // coordinates at once). Counted over eight seeds: one run of 100 trials
    // is too noisy to judge.
    let univariate = TpeOptions::default().multivariate(false);
    for (options, min_k, min_w) in [(univariate, 0.5, 0.4), (TpeOptions::default(), 0.35, 0.0)] {
        let (mut k_hits, mut w_hits, mut late_trials) = (0, 0, 0);
        for seed in 0..8 {
            let mut searcher = TpeSearcher::new(options.clone(), seed);
            let mut rng = StdRng::seed_from_u64(seed);
            let mut history = History::new(Direction::Minimize);
            for n in 0..100u64 {
                let params = searcher.suggest(&space, &history, &mut rng).expect("ok");
                assert!(space.admits(&params), "{params:?}");
                let y = loss(&params);
                history.trials.push(complete(n, params, y));
            }
            let late = &history.trials[60..];
            let count = |name: &str, v: serde_json::Value| {
                late.iter()
                    .filter(|t| t.params.get(name) == Some(&v))
                    .count()
            };
            k_hits += count("k", json!(15));
            w_hits += count("w", json!(0.75));
            late_trials += late.len();
        }
        let (k, w) = (
            k_hits as f64 / late_trials as f64,
            w_hits as f64 / late_trials as f64,
        );
        assert!(k >= min_k, "k = 15 in only {k:.2} of the late trials");
        assert!(w >= min_w, "w = 0.75 in only {w:.2} of the late trials");
    }
}

#[test]
fn sobol_startup_gives_the_sobol_points() {
    let space = problem_space(&problems::HARTMANN6);
    let options = TpeOptions::default().startup(Startup::Sobol);
    let mut tpe = TpeSearcher::new(options, 11);
    let mut sobol = SobolSearcher::new(11);
    let mut history = History::new(Direction::Minimize);
    for n in 0..5u64 {
        let a = tpe
            .suggest(&space, &history, &mut StdRng::seed_from_u64(n))
            .expect("ok");
        let b = sobol
            .suggest(&space, &history, &mut StdRng::seed_from_u64(n))
            .expect("ok");
        assert_eq!(a, b);
        history.trials.push(complete(n, a, 0.0));
    }
}

#[test]
fn failed_and_pruned_trials_do_not_break_the_model() {
    let p = problems::BRANIN;
    let space = problem_space(&p);
    let mut searcher = TpeSearcher::new(TpeOptions::default(), 2);
    let mut rng = StdRng::seed_from_u64(2);
    let mut history = History::new(Direction::Minimize);
    for n in 0..40u64 {
        let params = searcher.suggest(&space, &history, &mut rng).expect("ok");
        assert!(space.admits(&params));
        let y = (p.f)(&point(&p, &params));
        let obs = match n % 4 {
            0 => Observation {
                number: n,
                params,
                state: TrialState::Failed,
                value: None,
                intermediate: Vec::new(),
                duration_ms: None,
            },
            1 => Observation {
                number: n,
                params,
                state: TrialState::Pruned,
                value: None,
                intermediate: vec![(1, y * 2.0), (2, y)],
                duration_ms: None,
            },
            2 => complete(n, params, f64::NAN),
            _ => complete(n, params, y),
        };
        history.trials.push(obs);
    }
}

// ---------------------------------------------------------------------------
// Heavy, release-mode tools.

const TABLE_PROBLEMS: &[Problem] = &[
    problems::BRANIN,
    problems::HARTMANN6,
    problems::ROSENBROCK5,
    problems::ACKLEY5,
    problems::RASTRIGIN4,
    problems::SPHERE20,
];

/// Prints the median log10 regret after 100 trials over 40 seeds, per
/// problem, for random search and several TPE variants.
#[test]
#[ignore = "slow: run in release with --nocapture"]
fn tpe_variant_table() {
    let budget = 100;
    let seeds = 40;
    let variants: Vec<(&str, TpeOptions)> = vec![
        ("random", random_options(budget)),
        ("default", TpeOptions::default()),
        // Optuna's TPESampler defaults, as closely as our options allow:
        // univariate, neighbour widths, gamma 0.1.
        (
            "optuna-like",
            TpeOptions::default()
                .multivariate(false)
                .bandwidth(Bandwidth::Neighbor)
                .gamma(0.1),
        ),
        // Optuna with multivariate=True.
        (
            "optuna-mv",
            TpeOptions::default()
                .bandwidth(Bandwidth::Optuna)
                .gamma(0.1),
        ),
        ("univariate", TpeOptions::default().multivariate(false)),
        (
            "neighbor",
            TpeOptions::default().bandwidth(Bandwidth::Neighbor),
        ),
        ("gamma0.1", TpeOptions::default().gamma(0.1)),
        ("gamma0.25", TpeOptions::default().gamma(0.25)),
        ("cand48", TpeOptions::default().n_candidates(48)),
        ("prior0.5", TpeOptions::default().prior_weight(0.5)),
        ("flatweights", TpeOptions::default().recency_weights(false)),
        ("startup5", TpeOptions::default().n_startup_trials(5)),
        ("sobol", TpeOptions::default().startup(Startup::Sobol)),
    ];
    // Every (variant, problem, seed) run is independent: spread them over
    // the cores.
    let jobs: Vec<(usize, usize, u64)> = (0..variants.len())
        .flat_map(|v| {
            (0..TABLE_PROBLEMS.len()).flat_map(move |p| (0..seeds).map(move |s| (v, p, s)))
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![Vec::new(); variants.len() * TABLE_PROBLEMS.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(v, p, s)) = jobs.get(j) else { break };
                    let r = best_regret(&TABLE_PROBLEMS[p], &variants[v].1, budget, s);
                    results.lock().expect("no panics")[v * TABLE_PROBLEMS.len() + p].push(r);
                }
            });
        }
    });
    let results = results.into_inner().expect("no panics");
    print!("{:<14}", "variant");
    for p in TABLE_PROBLEMS {
        print!("{:>12}", p.name);
    }
    println!("{:>10}", "mean");
    for (v, (name, _)) in variants.iter().enumerate() {
        print!("{name:<14}");
        let mut sum = 0.0;
        for p in 0..TABLE_PROBLEMS.len() {
            let r = median(results[v * TABLE_PROBLEMS.len() + p].clone())
                .max(1e-12)
                .log10();
            sum += r;
            print!("{r:>12.3}");
        }
        println!("{:>10.3}", sum / TABLE_PROBLEMS.len() as f64);
    }
}

/// Nanoseconds this thread has spent on a CPU (Linux), so that latency
/// figures taken on a loaded machine are not inflated by waiting for a core.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Prints the time of one suggestion with `n` finished trials over `d`
/// parameters (release mode gives the figures quoted in the module docs).
#[test]
#[ignore = "slow: run in release with --nocapture"]
fn tpe_suggest_latency() {
    for d in [10usize, 40] {
        let space = SearchSpace::new(
            (0..d)
                .map(|i| Param::new(format!("x{i}"), float(-5.0, 5.0)))
                .collect(),
        )
        .expect("valid");
        for n in [100usize, 1000, 3000] {
            let mut rng = StdRng::seed_from_u64(0);
            let mut history = History::new(Direction::Minimize);
            let mut startup = TpeSearcher::new(random_options(n), 0);
            for t in 0..n {
                let params = startup.suggest(&space, &history, &mut rng).expect("ok");
                let x: Vec<f64> = (0..d)
                    .map(|i| params.f64(&format!("x{i}")).expect("x"))
                    .collect();
                let y = problems::shifted_sphere(&x);
                history.trials.push(complete(t as u64, params, y));
            }
            for (label, options) in [
                ("multivariate", TpeOptions::default()),
                ("univariate", TpeOptions::default().multivariate(false)),
            ] {
                let mut searcher = TpeSearcher::new(options, 0);
                let reps = 20;
                let start = Instant::now();
                let cpu_start = thread_cpu_ns();
                for _ in 0..reps {
                    searcher.suggest(&space, &history, &mut rng).expect("ok");
                }
                let ms = start.elapsed().as_secs_f64() * 1e3 / reps as f64;
                let cpu_ms = match (cpu_start, thread_cpu_ns()) {
                    (Some(a), Some(b)) => format!("{:>8.3}", (b - a) as f64 / 1e6 / reps as f64),
                    _ => "     n/a".to_owned(),
                };
                println!(
                    "d={d:>3} n={n:>5} {label:<13} wall {ms:>8.3} ms, on-cpu {cpu_ms} ms per suggestion"
                );
            }
        }
    }
}

/// Prints median log10 regret on Branin with one RNG per study and with one
/// fresh RNG per suggestion (as the quality suite does).
#[test]
#[ignore = "slow: run in release with --nocapture"]
fn tpe_rng_per_trial() {
    let p = problems::BRANIN;
    let space = problem_space(&p);
    for per_trial in [false, true] {
        let mut logs = Vec::new();
        for seed in 0..40 {
            let mut searcher = TpeSearcher::new(TpeOptions::default(), seed);
            let mut rng = StdRng::seed_from_u64(seed);
            let mut history = History::new(Direction::Minimize);
            let mut best = f64::INFINITY;
            for n in 0..100 {
                if per_trial {
                    rng = suggestion_rng(seed, n);
                }
                let params = searcher.suggest(&space, &history, &mut rng).expect("ok");
                let y = (p.f)(&point(&p, &params));
                best = best.min(p.regret(y));
                history.trials.push(complete(n, params, y));
            }
            logs.push(best.max(1e-12).log10());
        }
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        println!(
            "per_trial={per_trial} median {:.2} mean {mean:.2} first10 {:?}",
            median(logs.clone()),
            &logs[..10]
                .iter()
                .map(|v| (v * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
    }
}

/// A grid of numbers written as choices (`values: [...]`, as tabular
/// benchmarks and sweep files write them) is searched by rank: a good value
/// lends weight to its neighbours. Out of order, the same numbers stay
/// unordered choices.
#[test]
fn numbers_in_order_are_searched_as_an_ordinal_grid() {
    let ordered: Vec<serde_json::Value> = (0..16).map(|i| json!(1 << i)).collect();
    // Mean over 10 seeds of the best loss after 30 trials of two 16-value
    // grids (256 configurations), best at ranks 11 and 4.
    let mean_best = |choices: &[serde_json::Value], options: TpeOptions| {
        let param = |name: &str| {
            Param::new(
                name,
                Domain::Categorical {
                    choices: choices.to_vec(),
                    probabilities: None,
                },
            )
        };
        let space = SearchSpace::new(vec![param("width"), param("depth")]).expect("valid");
        let rank = |v: f64| choices.iter().position(|c| c.as_f64() == Some(v)).unwrap() as f64;
        let mut total = 0.0;
        for seed in 0..10 {
            let mut searcher = TpeSearcher::new(options.clone(), seed);
            let mut rng = StdRng::seed_from_u64(seed);
            let mut history = History::new(Direction::Minimize);
            let mut best = f64::INFINITY;
            for n in 0..30u64 {
                let params = searcher.suggest(&space, &history, &mut rng).expect("ok");
                let y = (rank(params.f64("width").expect("w")) - 11.0).abs()
                    + (rank(params.f64("depth").expect("d")) - 4.0).abs();
                best = best.min(y);
                history.trials.push(complete(n, params, y));
            }
            total += best;
        }
        total / 10.0
    };
    let ordinal = mean_best(&ordered, TpeOptions::default());
    let unordered = mean_best(&ordered, TpeOptions::default().ordinal_choices(false));
    assert!(
        ordinal < unordered,
        "mean best loss: ordinal {ordinal}, unordered {unordered}"
    );
    // Shuffled, the numbers are not a grid: the option changes nothing.
    let mut shuffled = ordered.clone();
    shuffled.swap(3, 9);
    assert_eq!(
        mean_best(&shuffled, TpeOptions::default()),
        mean_best(&shuffled, TpeOptions::default().ordinal_choices(false))
    );
}

/// A group of more than `max_joint_params` params gets univariate kernels:
/// the same suggestions as `multivariate(false)`; at the limit, joint ones.
#[test]
fn large_groups_get_univariate_kernels() {
    let run = |d: usize, trials: u64, options: TpeOptions| {
        let space = SearchSpace::new(
            (0..d)
                .map(|i| Param::new(format!("x{i}"), float(-5.0, 5.0)))
                .collect(),
        )
        .expect("valid");
        let mut rng = StdRng::seed_from_u64(3);
        let mut history = History::new(Direction::Minimize);
        let mut searcher = TpeSearcher::new(options, 0);
        for t in 0..trials {
            let params = searcher.suggest(&space, &history, &mut rng).expect("ok");
            let x: Vec<f64> = (0..d)
                .map(|i| params.f64(&format!("x{i}")).expect("x"))
                .collect();
            history
                .trials
                .push(complete(t, params, problems::shifted_sphere(&x)));
        }
        history
            .trials
            .into_iter()
            .map(|o| o.params)
            .collect::<Vec<_>>()
    };
    let suggestions = |d: usize, options: TpeOptions| run(d, 40, options);
    let defaults = TpeOptions::default();
    assert_eq!(defaults.max_joint_params, 16);
    let univariate = TpeOptions::default().multivariate(false);
    assert_eq!(
        suggestions(17, defaults.clone()),
        suggestions(17, univariate.clone())
    );
    let joint = suggestions(16, defaults.clone());
    assert_ne!(joint, suggestions(16, univariate));
    // The limit is an option: 16 params above a limit of 15 are univariate.
    assert_eq!(
        suggestions(16, defaults.clone().max_joint_params(15)),
        suggestions(16, TpeOptions::default().multivariate(false))
    );
    assert_eq!(
        joint,
        suggestions(16, defaults.clone().max_joint_params(64))
    );
    // Univariate models split among threads suggest the same (from about
    // 60 trials of 24 params the work is split).
    let one = run(24, 120, defaults.clone().threads(1));
    assert_eq!(one, run(24, 120, defaults.clone().threads(3)));
    assert_eq!(one, run(24, 120, defaults.threads(0)));
    let err = TpeOptions::default()
        .max_joint_params(0)
        .check()
        .expect_err("0 refused");
    assert!(err.to_string().contains("tpe.max_joint_params"), "{err}");
}
