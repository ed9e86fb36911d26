//! Properties of the grid, random and Sobol searchers over arbitrary search
//! spaces: every suggestion is admissible, the grid covers its points exactly
//! once (also across a resume), the priors are honoured, and the same inputs
//! give the same suggestion.

use std::collections::HashSet;

use hypersweep_search::grid::GridSearcher;
use hypersweep_search::random::{RandomSearcher, sample_param};
use hypersweep_search::sobol::{SobolSearcher, SobolSequence};
use hypersweep_search::{
    Domain, History, Observation, Param, Params, SearchError, SearchSpace, Searcher, StdRng,
    TrialState, Value,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::json;

// ---------------------------------------------------------------- strategies

/// A domain and the `grid_points` its parameter gets. `small` keeps every
/// axis at a handful of values so whole grids can be enumerated; continuous
/// domains always get `grid_points` so the grid can search them.
fn domain(small: bool) -> BoxedStrategy<(Domain, Option<usize>)> {
    let width = if small { 0i64..5 } else { 0i64..200 };
    let divisions = if small { 1u32..4 } else { 1u32..20 };
    let float = (
        any::<bool>(),
        -100.0..100.0f64,
        0.001..100.0f64,
        0.001..10.0f64,
        1.0..1e4f64,
        prop::option::of(divisions.clone()),
        1usize..=4,
    )
        .prop_map(|(log, low, width, log_low, factor, divisions, n)| {
            let (low, high) = if log {
                (log_low, log_low * factor)
            } else {
                (low, low + width)
            };
            let step = divisions.map(|k| (high - low) / f64::from(k));
            let grid_points = step.is_none().then_some(n);
            (
                Domain::Float {
                    low,
                    high,
                    log,
                    step,
                },
                grid_points,
            )
        });
    let int = (
        any::<bool>(),
        -50i64..50,
        width,
        prop::option::of(1i64..5),
        prop::option::of(1usize..=4),
    )
        .prop_map(|(log, low, width, step, grid_points)| {
            let low = if log { low.abs() + 1 } else { low };
            (
                Domain::Int {
                    low,
                    high: low + width,
                    log,
                    step,
                },
                grid_points,
            )
        });
    let normal = (
        -3.0..3.0f64,
        0.1..3.0f64,
        any::<bool>(),
        prop::option::of(0.01..1.0f64),
        1usize..=4,
    )
        .prop_map(|(mu, sigma, log, q, n)| (Domain::Normal { mu, sigma, log, q }, Some(n)));
    let categorical = (
        1usize..=if small { 3 } else { 5 },
        0usize..4,
        prop::option::of(prop::collection::vec(0.0..1.0f64, 5)),
    )
        .prop_map(|(n, kind, weights)| {
            let choices = (0..n).map(|j| choice(kind + j, j)).collect();
            let probabilities = weights.and_then(|w| {
                let w = &w[..n];
                let sum: f64 = w.iter().sum();
                (sum > 0.0).then(|| w.iter().map(|x| x / sum).collect())
            });
            (
                Domain::Categorical {
                    choices,
                    probabilities,
                },
                None,
            )
        });
    let constant = (0usize..4).prop_map(|kind| {
        (
            Domain::Const {
                value: choice(kind, 7),
            },
            None,
        )
    });
    prop_oneof![float, int, normal, categorical, constant].boxed()
}

/// Choice `j` of a categorical, as a JSON value of one of four kinds; distinct
/// for distinct `j`.
fn choice(kind: usize, j: usize) -> Value {
    match kind % 4 {
        0 => json!(format!("c{j}")),
        1 => json!(j * 10),
        2 => json!(j as f64 + 0.5),
        _ => json!([j, "x"]),
    }
}

/// A valid space of up to `max` parameters; some are conditional on an
/// earlier categorical (themselves possibly conditional, so branches nest),
/// active under a random subset of its values. Sometimes given in reverse
/// order, so the space has to put parents first itself.
fn space(small: bool, max: usize) -> impl Strategy<Value = SearchSpace> {
    let item = (domain(small), prop::option::of((0usize..8, 1u8..=255)));
    (prop::collection::vec(item, 1..=max), any::<bool>()).prop_map(|(items, reverse)| {
        let mut params: Vec<Param> = Vec::new();
        for (i, ((domain, grid_points), condition)) in items.into_iter().enumerate() {
            let mut p = Param::new(format!("p{i}"), domain);
            p.grid_points = grid_points;
            let parents: Vec<&Param> = params
                .iter()
                .filter(|q| matches!(q.domain, Domain::Categorical { .. }))
                .collect();
            if let (Some((pick, mask)), false) = (condition, parents.is_empty()) {
                let parent = parents[pick % parents.len()];
                let Domain::Categorical { choices, .. } = &parent.domain else {
                    unreachable!("filtered above")
                };
                let mut values: Vec<Value> = choices
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| mask & (1 << j) != 0)
                    .map(|(_, v)| v.clone())
                    .collect();
                if values.is_empty() {
                    values.push(choices[0].clone());
                }
                p = p.when(parent.name.clone(), values);
            }
            params.push(p);
        }
        if reverse {
            params.reverse();
        }
        SearchSpace::new(params).expect("the strategy builds valid spaces")
    })
}

// ---------------------------------------------------------------- helpers

fn observation(number: usize, params: Params, state: TrialState) -> Observation {
    Observation {
        number: number as u64,
        params,
        state,
        value: (state == TrialState::Complete).then_some(number as f64),
        intermediate: Vec::new(),
        duration_ms: None,
    }
}

/// A canonical text of a configuration (names in space order), for sets.
fn key(p: &Params) -> String {
    serde_json::to_string(p).expect("params serialize")
}

/// Checks what `admits` checks, and spells out the type rules: integers are
/// JSON integers, steps are whole multiples, log values are positive, and
/// the value survives an encode/decode round trip.
fn assert_admissible(space: &SearchSpace, p: &Params) {
    assert!(space.admits(p), "not admitted: {p:?}");
    for param in space.params() {
        let Some(v) = p.get(&param.name) else {
            assert!(!space.is_active(param, p), "{} left out", param.name);
            continue;
        };
        assert!(space.is_active(param, p), "{} is inactive", param.name);
        match &param.domain {
            Domain::Int { low, step, log, .. } => {
                let x = v.as_i64().expect("an integer");
                assert_eq!((x - low) % step.unwrap_or(1), 0);
                assert!(!log || x >= 1);
            }
            Domain::Float { low, step, log, .. } => {
                let x = v.as_f64().expect("a number");
                if let Some(s) = step {
                    let k = (x - low) / s;
                    assert!((k - k.round()).abs() < 1e-6, "{x} off the steps");
                }
                assert!(!log || x > 0.0);
            }
            _ => {}
        }
        assert_round_trip(&param.domain, v);
    }
}

/// decode(encode(v)) == v; exactly, but for normals without `q`, whose
/// inverse CDF is only accurate to a few ulps.
fn assert_round_trip(domain: &Domain, v: &Value) {
    let u = domain.encode(v).expect("admissible values encode");
    assert!((0.0..=1.0).contains(&u));
    let back = domain.decode(u);
    if let Domain::Normal { q: None, .. } = domain {
        let (a, b) = (v.as_f64().unwrap(), back.as_f64().unwrap());
        assert!((a - b).abs() <= 1e-8 * (1.0 + a.abs()), "{a} -> {u} -> {b}");
    } else {
        assert_eq!(&back, v, "{domain:?}: {v} -> {u} -> {back}");
    }
}

/// Suggests until the grid is exhausted, adding each point as running.
fn exhaust_grid(space: &SearchSpace, history: &mut History) -> Vec<Params> {
    let mut grid = GridSearcher::new();
    let mut rng = StdRng::seed_from_u64(0);
    let mut out = Vec::new();
    loop {
        match grid.suggest(space, history, &mut rng) {
            Ok(p) => {
                let n = history.trials.len();
                history.upsert(observation(n, p.clone(), TrialState::Running));
                out.push(p);
            }
            Err(SearchError::Exhausted { total }) => {
                assert_eq!(Some(total), GridSearcher::total_points(space).ok());
                return out;
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
}

/// The grid the naive way: the full product of every parameter's values,
/// inactive parameters dropped, duplicates merged.
fn expected_grid(space: &SearchSpace) -> HashSet<String> {
    let axes: Vec<Vec<Value>> = space.params().iter().map(grid_values).collect();
    let mut points = HashSet::new();
    let mut index = vec![0usize; axes.len()];
    loop {
        let mut p = Params::new();
        for (param, (axis, &k)) in space.params().iter().zip(axes.iter().zip(&index)) {
            if space.is_active(param, &p) {
                p.insert(param.name.clone(), axis[k].clone());
            }
        }
        points.insert(key(&p));
        // Odometer over the full product.
        let mut i = axes.len();
        loop {
            if i == 0 {
                return points;
            }
            i -= 1;
            index[i] += 1;
            if index[i] < axes[i].len() {
                break;
            }
            index[i] = 0;
        }
    }
}

/// One parameter's grid values, straight from the rules of the grid.
fn grid_values(param: &Param) -> Vec<Value> {
    let d = &param.domain;
    let mut values: Vec<Value> = match (d, param.grid_points) {
        (Domain::Categorical { choices, .. }, _) => choices.clone(),
        (Domain::Const { value }, _) => vec![value.clone()],
        (Domain::Normal { .. }, Some(n)) => (0..n)
            .map(|j| d.decode((j as f64 + 0.5) / n as f64))
            .collect(),
        (_, Some(1)) => vec![d.decode(0.5)],
        (_, Some(n)) => (0..n)
            .map(|j| d.decode(j as f64 / (n - 1) as f64))
            .collect(),
        (
            Domain::Int {
                low, high, step, ..
            },
            None,
        ) => (*low..=*high)
            .step_by(step.unwrap_or(1) as usize)
            .map(Value::from)
            .collect(),
        (Domain::Float { .. }, None) => {
            let n = d.cardinality().expect("stepped");
            (0..n)
                .map(|k| d.decode((k as f64 + 0.5) / n as f64))
                .collect()
        }
        (Domain::Normal { .. }, None) => panic!("strategy gives normals grid_points"),
        (other, None) => panic!("the strategy gives no {other:?}"),
    };
    let mut distinct = Vec::new();
    values.retain(|v| {
        let new = !distinct.contains(v);
        distinct.push(v.clone());
        new
    });
    values
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_suggestions_are_admissible(space in space(false, 8), seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut searcher = RandomSearcher::new();
        for _ in 0..10 {
            let p = searcher.suggest(&space, &History::default(), &mut rng).unwrap();
            assert_admissible(&space, &p);
        }
    }

    #[test]
    fn sobol_suggestions_are_admissible(space in space(false, 8), seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut searcher = SobolSearcher::new(seed);
        let mut history = History::default();
        for n in 0..10 {
            let p = searcher.suggest(&space, &history, &mut rng).unwrap();
            assert_admissible(&space, &p);
            history.upsert(observation(n, p, TrialState::Complete));
        }
    }

    #[test]
    fn every_searcher_is_deterministic(space in space(false, 6), seed in any::<u64>()) {
        let mut history = History::default();
        let mut rng = StdRng::seed_from_u64(seed);
        for n in 0..3 {
            let p = RandomSearcher::new().suggest(&space, &history, &mut rng).unwrap();
            history.upsert(observation(n, p, TrialState::Complete));
        }
        let grid_space = SearchSpace::new(space.params().iter().map(|p| {
            let mut p = p.clone();
            p.grid_points.get_or_insert(3);
            p
        }).collect()).unwrap();
        let suggest = |mut searcher: Box<dyn Searcher>, space: &SearchSpace| {
            let mut rng = StdRng::seed_from_u64(seed ^ 1);
            searcher.suggest(space, &history, &mut rng).map(|p| key(&p)).map_err(|e| e.to_string())
        };
        prop_assert_eq!(
            suggest(Box::new(RandomSearcher::new()), &space),
            suggest(Box::new(RandomSearcher::new()), &space)
        );
        prop_assert_eq!(
            suggest(Box::new(SobolSearcher::new(seed)), &space),
            suggest(Box::new(SobolSearcher::new(seed)), &space)
        );
        let grid = suggest(Box::new(GridSearcher::new()), &grid_space);
        // A tiny grid may already be used up by the history.
        prop_assert!(grid.as_ref().map_or_else(|e| e.contains("exhausted"), |_| true), "{:?}", grid);
        prop_assert_eq!(grid, suggest(Box::new(GridSearcher::new()), &grid_space));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn grid_covers_every_point_once(space in space(true, 4)) {
        let expected = expected_grid(&space);
        prop_assert_eq!(GridSearcher::total_points(&space).unwrap(), expected.len());
        let points = exhaust_grid(&space, &mut History::default());
        let distinct: HashSet<String> = points.iter().map(key).collect();
        prop_assert_eq!(points.len(), distinct.len(), "a point came twice");
        prop_assert_eq!(&distinct, &expected);
        for p in &points {
            assert_admissible(&space, p);
        }
    }

    #[test]
    fn grid_resumes_without_repeating(
        space in space(true, 4),
        shuffle_seed in any::<u64>(),
        complete in 0usize..20,
        running in 0usize..10,
    ) {
        let mut all = exhaust_grid(&space, &mut History::default());
        let total = all.len();
        all.shuffle(&mut StdRng::seed_from_u64(shuffle_seed));
        // A crashed study: some points finished, some still running, one failed.
        let complete = complete.min(total);
        let running = running.min(total - complete);
        let mut history = History::default();
        for (n, p) in all.iter().enumerate().take(complete + running + 1) {
            let state = if n < complete {
                TrialState::Complete
            } else if n < complete + running {
                TrialState::Running
            } else {
                TrialState::Failed
            };
            history.upsert(observation(n, p.clone(), state));
        }
        let before: HashSet<String> = history.trials.iter().map(|t| key(&t.params)).collect();
        let new = exhaust_grid(&space, &mut history);
        let new_keys: HashSet<String> = new.iter().map(key).collect();
        prop_assert_eq!(new.len(), new_keys.len(), "a point came twice");
        prop_assert!(new_keys.is_disjoint(&before), "a taken point came again");
        prop_assert_eq!(before.len() + new_keys.len(), total);
    }
}

// ---------------------------------------------------------------- priors

#[test]
fn categorical_draws_follow_their_probabilities() {
    let probabilities = [0.5, 0.3, 0.15, 0.05];
    let d = Domain::Categorical {
        choices: vec![json!("a"), json!("b"), json!("c"), json!("d")],
        probabilities: Some(probabilities.to_vec()),
    };
    let n = 10_000;
    let mut counts = [0usize; 4];
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..n {
        let v = sample_param(&d, &mut rng);
        let i = ["a", "b", "c", "d"]
            .iter()
            .position(|c| v == json!(c))
            .unwrap();
        counts[i] += 1;
    }
    let chi_square: f64 = counts
        .iter()
        .zip(probabilities)
        .map(|(&c, p)| {
            let expected = p * n as f64;
            (c as f64 - expected).powi(2) / expected
        })
        .sum();
    // 99.9% quantile of chi-square with 3 degrees of freedom.
    assert!(chi_square < 16.27, "chi² = {chi_square}, counts {counts:?}");
}

#[test]
fn normal_draws_have_the_prior_mean_and_sigma() {
    let n = 10_000;
    let moments = |d: &Domain, transform: fn(f64) -> f64| {
        let mut rng = StdRng::seed_from_u64(7);
        let xs: Vec<f64> = (0..n)
            .map(|_| transform(sample_param(d, &mut rng).as_f64().unwrap()))
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, var.sqrt())
    };
    let (mu, sigma) = (3.0, 2.0);
    let normal = Domain::Normal {
        mu,
        sigma,
        log: false,
        q: None,
    };
    let (mean, std) = moments(&normal, |x| x);
    // Standard errors: sigma/sqrt(n) = 0.02 for the mean, about
    // sigma/sqrt(2n) = 0.014 for the standard deviation; allow 4 of them.
    assert!((mean - mu).abs() < 0.08, "mean {mean}");
    assert!((std - sigma).abs() < 0.06, "std {std}");
    let log_normal = Domain::Normal {
        mu: -1.0,
        sigma: 0.5,
        log: true,
        q: None,
    };
    let (mean, std) = moments(&log_normal, f64::ln);
    assert!((mean + 1.0).abs() < 0.02, "mean of ln {mean}");
    assert!((std - 0.5).abs() < 0.015, "std of ln {std}");
}

#[test]
fn log_uniform_floats_spread_evenly_over_decades() {
    let d = Domain::Float {
        low: 1e-5,
        high: 1.0,
        log: true,
        step: None,
    };
    let mut rng = StdRng::seed_from_u64(3);
    let mut decades = [0usize; 5];
    for _ in 0..10_000 {
        let x = sample_param(&d, &mut rng).as_f64().unwrap();
        decades[((x.log10() + 5.0).floor() as usize).min(4)] += 1;
    }
    for c in decades {
        assert!((1800..2200).contains(&c), "{decades:?}");
    }
}

#[test]
fn stepped_values_are_equally_likely() {
    let d = Domain::Float {
        low: 0.0,
        high: 1.0,
        log: false,
        step: Some(0.25),
    };
    let mut rng = StdRng::seed_from_u64(4);
    let mut counts = [0usize; 5];
    for _ in 0..10_000 {
        let x = sample_param(&d, &mut rng).as_f64().unwrap();
        counts[(x * 4.0).round() as usize] += 1;
    }
    // Rounding a uniform draw would give the two ends half as many.
    for c in counts {
        assert!((1800..2200).contains(&c), "{counts:?}");
    }
}

// ---------------------------------------------------------------- Sobol

#[test]
fn scrambled_sobol_stays_stratified() {
    for seed in [0, 1, 12345] {
        let mut s = SobolSequence::scrambled(seed);
        // One point in each of 64 slices of every axis...
        for dim in [0, 1, 2, 7, 100, 1023] {
            let mut hit = [false; 64];
            for n in 0..64 {
                let u = s.coordinate(n, dim).unwrap();
                let slot = (u * 64.0) as usize;
                assert!(!hit[slot], "seed {seed} dim {dim} slot {slot} twice");
                hit[slot] = true;
            }
        }
        // ...and, dimensions 0 and 1 being a (0, 2)-sequence, one point in
        // every 2^-a by 2^-(6-a) box.
        for a in 0..=6 {
            let mut boxes = HashSet::new();
            for n in 0..64 {
                let (x, y) = (s.coordinate(n, 0).unwrap(), s.coordinate(n, 1).unwrap());
                let cell = (
                    (x * f64::from(1 << a)) as u32,
                    (y * f64::from(1 << (6 - a))) as u32,
                );
                assert!(boxes.insert(cell), "seed {seed} a {a}: box {cell:?} twice");
            }
        }
    }
}

#[test]
fn seeds_give_different_sequences_and_seed_zero_is_off_the_origin() {
    let first = |seed| {
        let mut s = SobolSequence::scrambled(seed);
        (0..4)
            .map(|d| s.coordinate(0, d).unwrap())
            .collect::<Vec<_>>()
    };
    assert_ne!(first(0), vec![0.0; 4]);
    assert_ne!(first(0), first(1));
    assert!(SobolSequence::scrambled(5).coordinate(3, 1024).is_none());
}

#[test]
fn sobol_resume_continues_the_sequence() {
    let space = SearchSpace::new(vec![
        Param::new(
            "x",
            Domain::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: None,
            },
        ),
        Param::new(
            "y",
            Domain::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: None,
            },
        ),
    ])
    .unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let mut history = History::default();
    let mut straight = Vec::new();
    let mut searcher = SobolSearcher::new(9);
    for n in 0..16 {
        let p = searcher.suggest(&space, &history, &mut rng).unwrap();
        history.upsert(observation(n, p.clone(), TrialState::Failed));
        straight.push(p);
    }
    // A fresh process that sees the first 10 trials proposes point 10.
    let mut resumed = SobolSearcher::new(9);
    let partial = History {
        trials: history.trials[..10].to_vec(),
        ..History::default()
    };
    let p = resumed.suggest(&space, &partial, &mut rng).unwrap();
    assert_eq!(p, straight[10]);
    // And the 16 points stratify the square: one per 1/16 slice of x.
    let mut slots: Vec<usize> = straight
        .iter()
        .map(|p| (p.f64("x").unwrap() * 16.0) as usize)
        .collect();
    slots.sort_unstable();
    assert_eq!(slots, (0..16).collect::<Vec<_>>());
}

#[test]
fn sobol_beyond_the_table_still_decodes_every_parameter() {
    let params = (0..1030)
        .map(|i| {
            Param::new(
                format!("x{i}"),
                Domain::Int {
                    low: 0,
                    high: 9,
                    log: false,
                    step: None,
                },
            )
        })
        .collect();
    let space = SearchSpace::new(params).unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let p = SobolSearcher::new(1)
        .suggest(&space, &History::default(), &mut rng)
        .unwrap();
    assert_eq!(p.len(), 1030);
    assert!(space.admits(&p));
}
