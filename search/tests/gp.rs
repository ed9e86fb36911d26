//! Tests of the GP searcher: the log-EI numerics, the marginal-likelihood
//! fit, parallel and discrete behaviour, and optimisation quality.
//!
//! The 10-seed Branin test runs always (the search crate is built with
//! opt-level 2 even in dev); the quality and latency reports are `#[ignore]`d:
//! `cargo test --release -p hypersweep-search --test gp -- --ignored --nocapture`.

use faer::{Mat, Side};
use hypersweep_search::gp::{GpOptions, GpSearcher, fit_kernel, log_expected_improvement, log_h};
use hypersweep_search::problems::{self, Problem};
use hypersweep_search::special::{norm_cdf, norm_pdf};
use hypersweep_search::{
    Direction, Domain, History, Observation, Param, Params, SearchSpace, Searcher, StdRng,
    TrialState,
};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::json;

fn float(name: &str, low: f64, high: f64) -> Param {
    Param::new(
        name,
        Domain::Float {
            low,
            high,
            log: false,
            step: None,
        },
    )
}

fn problem_space(p: &Problem) -> SearchSpace {
    p.space().expect("valid space")
}

fn point(p: &Problem, params: &Params) -> Vec<f64> {
    p.point(params).expect("float param")
}

fn observe(history: &mut History, params: Params, state: TrialState, value: Option<f64>) {
    let number = history.trials.len() as u64;
    history.upsert(Observation {
        number,
        params,
        state,
        value,
        intermediate: Vec::new(),
        duration_ms: None,
    });
}

/// Runs the GP searcher for `n_trials` on `problem`; returns the best regret.
fn optimise(problem: &Problem, n_trials: usize, seed: u64, options: GpOptions) -> f64 {
    let space = problem_space(problem);
    let mut searcher = GpSearcher::new(options, seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut history = History::new(Direction::Minimize);
    let mut best = f64::INFINITY;
    for _ in 0..n_trials {
        let params = searcher
            .suggest(&space, &history, &mut rng)
            .expect("suggestion");
        let value = (problem.f)(&point(problem, &params));
        best = best.min(value);
        observe(&mut history, params, TrialState::Complete, Some(value));
    }
    problem.regret(best)
}

#[test]
fn log_ei_matches_direct_formula_where_finite() {
    for i in 0..=130 {
        let z = -8.0 + i as f64 * 0.1;
        let direct = (z * norm_cdf(z) + norm_pdf(z)).ln();
        let stable = log_h(z);
        assert!(
            (direct - stable).abs() < 1e-8 * (1.0 + direct.abs()),
            "z {z}: direct {direct}, stable {stable}"
        );
        let sigma = 0.37;
        let (mean, best) = (1.0, 1.0 + z * sigma);
        let ei = log_expected_improvement(mean, sigma, best);
        let want = (sigma * (z * norm_cdf(z) + norm_pdf(z))).ln();
        assert!((ei - want).abs() < 1e-8 * (1.0 + want.abs()), "z {z}");
    }
}

#[test]
fn log_ei_is_finite_and_monotone_deep_in_the_tail() {
    let mut previous = f64::NEG_INFINITY;
    let mut z = -1000.0;
    while z < 10.0 {
        let v = log_h(z);
        assert!(v.is_finite(), "z {z}");
        assert!(v > previous, "not increasing at z {z}: {v} <= {previous}");
        previous = v;
        z += 0.125;
    }
    for z in [-40.0, -100.0] {
        // h(z) ~ φ(z)/z² in the tail.
        let asymptotic = -0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln() - 2.0 * (-z).ln();
        assert!((log_h(z) - asymptotic).abs() < 1e-2, "z {z}");
    }
    assert!(log_h(-40.0) > log_h(-100.0));
    // Continuity where the computation switches method.
    for edge in [-1.0, -37.0] {
        assert!((log_h(edge - 1e-9) - log_h(edge + 1e-9)).abs() < 1e-6);
    }
}

/// Matérn-5/2 correlation, written independently of the searcher's kernel.
fn matern(r: f64) -> f64 {
    let s = 5.0_f64.sqrt() * r;
    (1.0 + s + s * s / 3.0) * (-s).exp()
}

#[test]
fn likelihood_fit_recovers_a_known_lengthscale() {
    let lengthscale = 0.2;
    let n = 80;
    let mut rng = StdRng::seed_from_u64(7);
    let x: Vec<Vec<f64>> = (0..n).map(|i| vec![(i as f64 + 0.5) / n as f64]).collect();
    let mut recovered = Vec::new();
    for draw in 0..3 {
        let k = Mat::from_fn(n, n, |i, j| {
            matern((x[i][0] - x[j][0]).abs() / lengthscale) + if i == j { 1e-8 } else { 0.0 }
        });
        let l = k
            .llt(Side::Lower)
            .expect("kernel matrix is positive definite");
        let eps: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| (0..=i).map(|j| l.L()[(i, j)] * eps[j]).sum())
            .collect();
        let fitted = fit_kernel(&x, &y, &GpOptions::default()).expect("fit");
        let ratio = fitted.lengthscales[0] / lengthscale;
        assert!(
            (1.0 / 1.5..=1.5).contains(&ratio),
            "draw {draw}: fitted length scale {} vs true {lengthscale}",
            fitted.lengthscales[0]
        );
        recovered.push(fitted.lengthscales[0]);
    }
    assert_eq!(recovered.len(), 3);
}

fn mixed_space() -> SearchSpace {
    SearchSpace::new(vec![
        float("x", 0.0, 1.0),
        Param::new(
            "n",
            Domain::Int {
                low: 1,
                high: 9,
                log: false,
                step: Some(2),
            },
        ),
        Param::new(
            "lr",
            Domain::Float {
                low: 1e-4,
                high: 1e-1,
                log: true,
                step: None,
            },
        ),
        Param::new(
            "opt",
            Domain::Categorical {
                choices: vec![json!("sgd"), json!("adam")],
                probabilities: None,
            },
        ),
        Param::new(
            "momentum",
            Domain::Float {
                low: 0.0,
                high: 0.9,
                log: false,
                step: Some(0.1),
            },
        )
        .when("opt", vec![json!("sgd")]),
    ])
    .expect("valid space")
}

fn mixed_objective(p: &Params) -> f64 {
    let x = p.f64("x").unwrap_or(0.0);
    let n = p.i64("n").unwrap_or(0) as f64;
    let lr = p.f64("lr").unwrap_or(1.0).log10();
    let sgd = p.str("opt").map(|s| s == "sgd").unwrap_or(false);
    let m = p.f64("momentum").unwrap_or(0.0);
    (x - 0.3).powi(2)
        + 0.1 * (n - 5.0).powi(2)
        + (lr + 2.5).powi(2)
        + if sgd { (m - 0.8).powi(2) } else { 0.2 }
}

fn mixed_history(n: usize, seed: u64) -> History {
    let space = mixed_space();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut searcher = GpSearcher::new(GpOptions::default(), seed);
    let mut history = History::new(Direction::Minimize);
    for _ in 0..n {
        let p = searcher
            .suggest(&space, &history, &mut rng)
            .expect("suggestion");
        let v = mixed_objective(&p);
        observe(&mut history, p, TrialState::Complete, Some(v));
    }
    history
}

#[test]
fn suggestions_respect_conditions_and_discrete_domains() {
    let space = mixed_space();
    let history = mixed_history(16, 3);
    for t in &history.trials {
        assert!(space.admits(&t.params), "not admitted: {:?}", t.params);
    }
}

#[test]
fn same_seed_and_history_give_the_same_suggestion() {
    let space = mixed_space();
    let history = mixed_history(13, 5);
    let suggest = || {
        let mut searcher = GpSearcher::new(GpOptions::default(), 5);
        let mut rng = StdRng::seed_from_u64(99);
        searcher
            .suggest(&space, &history, &mut rng)
            .expect("suggestion")
    };
    assert_eq!(suggest(), suggest());
}

#[test]
fn pending_trials_get_distinct_suggestions() {
    let problem = problems::BRANIN;
    let space = problem_space(&problem);
    let mut rng = StdRng::seed_from_u64(11);
    let mut searcher = GpSearcher::new(GpOptions::default(), 11);
    let mut history = History::new(Direction::Minimize);
    for _ in 0..12 {
        let p = searcher
            .suggest(&space, &history, &mut rng)
            .expect("suggestion");
        let v = (problem.f)(&point(&problem, &p));
        observe(&mut history, p, TrialState::Complete, Some(v));
    }
    let k = 4;
    let mut suggestions: Vec<Vec<f64>> = Vec::new();
    for _ in 0..k {
        let p = searcher
            .suggest(&space, &history, &mut rng)
            .expect("suggestion");
        suggestions.push(point(&problem, &p));
        observe(&mut history, p, TrialState::Running, None);
    }
    for i in 0..k {
        for j in 0..i {
            let dist: f64 = suggestions[i]
                .iter()
                .zip(&suggestions[j])
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                dist > 1e-3,
                "suggestions {i} and {j} coincide: {:?}",
                suggestions[i]
            );
        }
    }
}

#[test]
fn failed_and_non_finite_trials_do_not_break_the_model() {
    let space = mixed_space();
    let mut history = mixed_history(10, 8);
    let bad = history.trials[0].params.clone();
    observe(&mut history, bad.clone(), TrialState::Failed, None);
    observe(&mut history, bad, TrialState::Complete, Some(f64::NAN));
    let mut searcher = GpSearcher::new(GpOptions::default(), 8);
    let mut rng = StdRng::seed_from_u64(8);
    let p = searcher
        .suggest(&space, &history, &mut rng)
        .expect("suggestion");
    assert!(space.admits(&p));
}

#[test]
fn options_parse_from_a_sweep_block_and_reject_unknown_fields() {
    let o: GpOptions =
        serde_json::from_value(json!({"n_startup_trials": 5, "deterministic_objective": true}))
            .expect("valid options");
    assert_eq!(o.n_startup_trials, 5);
    assert!(o.deterministic_objective);
    assert_eq!(o.n_candidates, GpOptions::default().n_candidates);
    assert!(serde_json::from_value::<GpOptions>(json!({"n_startup": 5})).is_err());
}

#[test]
fn gp_improves_on_branin_quickly() {
    // Cheap enough for debug builds: one seed, 25 trials.
    let regret = optimise(&problems::BRANIN, 25, 1, GpOptions::default());
    assert!(regret < 0.5, "regret {regret}");
}

#[test]
fn gp_solves_branin_in_40_trials_on_most_seeds() {
    let regrets: Vec<f64> = (0..10)
        .map(|seed| optimise(&problems::BRANIN, 40, seed, GpOptions::default()))
        .collect();
    let solved = regrets.iter().filter(|r| **r < 0.05).count();
    assert!(solved >= 7, "regrets {regrets:?}");
}

#[test]
#[ignore = "quality report; run with --release -- --ignored --nocapture"]
fn quality_report() {
    // (problem, trials, bound on the mean log10 regret over 5 seeds); bounds
    // are loose versions of what this searcher reaches (Optuna's GPSampler:
    // about -3 on Branin and -1.5 to -2 on Hartmann-6 at 100 trials).
    let cases: [(Problem, usize, f64); 5] = [
        (problems::BRANIN, 60, -3.0),
        (problems::HARTMANN3, 60, -3.0),
        (problems::HARTMANN6, 100, -1.5),
        (problems::ROSENBROCK5, 100, 1.0),
        (problems::ACKLEY5, 100, 1.0),
    ];
    for (problem, n, bound) in cases {
        let regrets: Vec<f64> = (0..5)
            .map(|seed| optimise(&problem, n, seed, GpOptions::default()))
            .collect();
        let logs: Vec<f64> = regrets.iter().map(|r| r.max(1e-12).log10()).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        println!(
            "{:<12} {n:>3} trials: mean log10 regret {mean:>6.2}  per seed {:?}",
            problem.name,
            logs.iter()
                .map(|l| (l * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
        assert!(mean < bound, "{}: mean log10 regret {mean}", problem.name);
    }
}

#[test]
#[ignore = "latency report; run with --release -- --ignored --nocapture"]
fn suggest_latency_200_trials_10_params() {
    let space = SearchSpace::new((0..10).map(|i| float(&format!("x{i}"), 0.0, 1.0)).collect())
        .expect("valid space");
    let objective = |p: &Params| -> f64 {
        (0..10)
            .map(|i| {
                let x = p.f64(&format!("x{i}")).unwrap_or(0.0);
                (x - 0.1 * i as f64).powi(2) + 0.1 * (7.0 * x).sin()
            })
            .sum()
    };
    let mut rng = StdRng::seed_from_u64(3);
    let mut history = History::new(Direction::Minimize);
    let mut random = GpSearcher::new(
        GpOptions {
            n_startup_trials: usize::MAX,
            ..GpOptions::default()
        },
        3,
    );
    for _ in 0..200 {
        let p = random
            .suggest(&space, &history, &mut rng)
            .expect("suggestion");
        let v = objective(&p);
        observe(&mut history, p, TrialState::Complete, Some(v));
    }
    let mut searcher = GpSearcher::new(GpOptions::default(), 3);
    let (start, cpu) = (std::time::Instant::now(), thread_cpu_ms());
    let p = searcher
        .suggest(&space, &history, &mut rng)
        .expect("suggestion");
    let first = (start.elapsed(), thread_cpu_ms() - cpu);
    // The same data plus one running trial, as when another worker asks
    // before anything finished: the cached fit is reused.
    let number = history.trials.len() as u64;
    history.upsert(Observation {
        number,
        params: p,
        state: TrialState::Running,
        value: None,
        intermediate: Vec::new(),
        duration_ms: None,
    });
    let (start, cpu) = (std::time::Instant::now(), thread_cpu_ms());
    let p = searcher
        .suggest(&space, &history, &mut rng)
        .expect("suggestion");
    let cached = (start.elapsed(), thread_cpu_ms() - cpu);
    let v = objective(&p);
    observe(&mut history, p, TrialState::Complete, Some(v));
    // The next trials, as in a running study: each new observation means a
    // full fit from the same starts (no warm start, see the module doc).
    let rounds = 8;
    let (start, cpu) = (std::time::Instant::now(), thread_cpu_ms());
    for _ in 0..rounds {
        let p = searcher
            .suggest(&space, &history, &mut rng)
            .expect("suggestion");
        let v = objective(&p);
        observe(&mut history, p, TrialState::Complete, Some(v));
    }
    let next = (
        start.elapsed() / rounds,
        (thread_cpu_ms() - cpu) / rounds as f64,
    );
    println!(
        "suggest at ~200 trials x 10 params (wall, on-cpu): first {:?} {:.1} ms, \
         same data again {:?} {:.1} ms, next trials mean {:?} {:.1} ms",
        first.0, first.1, cached.0, cached.1, next.0, next.1
    );
}

/// Nanoseconds this thread has spent on a CPU (Linux), so that latency
/// figures taken on a loaded machine are not inflated by waiting for a core
/// (as `thread_cpu_ns` in `tests/tpe.rs`).
fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e6)
}

#[test]
fn discrete_only_and_unbounded_domains_are_searched() {
    let space = SearchSpace::new(vec![
        Param::new(
            "act",
            Domain::Categorical {
                choices: vec![json!("relu"), json!("gelu"), json!("tanh")],
                probabilities: None,
            },
        ),
        Param::new(
            "width",
            Domain::Int {
                low: 8,
                high: 512,
                log: true,
                step: None,
            },
        ),
        Param::new(
            "init",
            Domain::Normal {
                mu: 0.0,
                sigma: 1.0,
                log: false,
                q: None,
            },
        ),
        Param::new("fixed", Domain::Const { value: json!(3) }),
    ])
    .expect("valid space");
    let mut rng = StdRng::seed_from_u64(4);
    let mut searcher = GpSearcher::new(
        GpOptions {
            n_startup_trials: 4,
            ..GpOptions::default()
        },
        4,
    );
    let mut history = History::new(Direction::Maximize);
    for _ in 0..10 {
        let p = searcher
            .suggest(&space, &history, &mut rng)
            .expect("suggestion");
        assert!(space.admits(&p), "not admitted: {p:?}");
        let width = p.i64("width").expect("int") as f64;
        let gelu = p.str("act").map(|a| a == "gelu").unwrap_or(false);
        let v = -(width.log2() - 6.0).powi(2) + if gelu { 1.0 } else { 0.0 }
            - p.f64("init").expect("float").powi(2);
        observe(&mut history, p, TrialState::Complete, Some(v));
    }
}

/// The GP's on-CPU cost per suggestion after a new observation, over the
/// number of trials and of parameters: the data behind `method: auto`'s cost
/// model (`hypersweep_search::auto`).
#[test]
#[ignore = "latency report; run with --release -- --ignored --nocapture"]
fn suggest_cost_grid() {
    for d in [4usize, 10, 20, 40] {
        for n in [50usize, 100, 200, 300] {
            let space =
                SearchSpace::new((0..d).map(|i| float(&format!("x{i}"), 0.0, 1.0)).collect())
                    .expect("valid space");
            let objective = |p: &Params| -> f64 {
                (0..d)
                    .map(|i| {
                        let x = p.f64(&format!("x{i}")).unwrap_or(0.0);
                        (x - 0.03 * i as f64).powi(2) + 0.1 * (7.0 * x).sin()
                    })
                    .sum()
            };
            let mut rng = StdRng::seed_from_u64(5);
            let mut history = History::new(Direction::Minimize);
            let mut random = GpSearcher::new(
                GpOptions {
                    n_startup_trials: usize::MAX,
                    ..GpOptions::default()
                },
                5,
            );
            for _ in 0..n {
                let p = random.suggest(&space, &history, &mut rng).expect("draw");
                let v = objective(&p);
                observe(&mut history, p, TrialState::Complete, Some(v));
            }
            let mut searcher = GpSearcher::new(GpOptions::default(), 5);
            let rounds = 3;
            let cpu = thread_cpu_ms();
            for _ in 0..rounds {
                let p = searcher
                    .suggest(&space, &history, &mut rng)
                    .expect("suggestion");
                let v = objective(&p);
                observe(&mut history, p, TrialState::Complete, Some(v));
            }
            let ms = (thread_cpu_ms() - cpu) / rounds as f64;
            println!("gp cost d={d:2} n={n:3}: {ms:8.1} ms per suggestion");
        }
    }
}
