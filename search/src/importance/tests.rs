use rand::{RngExt, SeedableRng};
use serde_json::json;

use super::*;
use crate::history::TrialState;
use crate::params::Params;
use crate::space::Param;
use rand::rngs::StdRng;

fn float(low: f64, high: f64) -> Domain {
    Domain::Float {
        low,
        high,
        log: false,
        step: None,
    }
}

fn complete(number: u64, params: &[(&str, serde_json::Value)], value: f64) -> Observation {
    let mut p = Params::new();
    for (name, v) in params {
        p.insert(*name, v.clone());
    }
    Observation {
        number,
        params: p,
        state: TrialState::Complete,
        value: Some(value),
        intermediate: Vec::new(),
        duration_ms: None,
    }
}

#[test]
fn pearson_divergence_of_equal_densities_is_zero() {
    let p = [0.25, 0.25, 0.5];
    assert_eq!(pearson_divergence(&p, &p), 0.0);
    // Σ q (p/q - 1)² with p = (1, 0), q = (1/2, 1/2): 1/2·1 + 1/2·1 = 1.
    assert!((pearson_divergence(&[1.0, 0.0], &[0.5, 0.5]) - 1.0).abs() < 1e-12);
}

/// 20 trials, 10 with `a` and 10 with `b`; the best 2 (10%) both have `a`.
/// With the uniform prior of weight 1: p_top = (2.5, 0.5) / 3 = (5/6, 1/6),
/// p_all = (10.5, 10.5) / 21 = (1/2, 1/2), so the divergence is
/// 1/2 (5/3 − 1)² + 1/2 (1/3 − 1)² = 4/9.
#[test]
fn categorical_divergence_matches_the_hand_computed_value() {
    let space = SearchSpace::new(vec![
        Param::new(
            "opt",
            Domain::Categorical {
                choices: vec![json!("a"), json!("b")],
                probabilities: None,
            },
        ),
        Param::new("c", Domain::Const { value: json!(1) }),
    ])
    .unwrap();
    let trials: Vec<Observation> = (0..20)
        .map(|i| {
            let choice = if i % 2 == 0 { "a" } else { "b" };
            // Trials 0 and 2 (both `a`) are the two best.
            let value = if i == 0 || i == 2 { -1.0 } else { i as f64 };
            complete(i, &[("opt", json!(choice)), ("c", json!(1))], value)
        })
        .collect();
    let got = ped_anova(&space, &trials, Direction::Minimize).unwrap();
    assert_eq!(got.len(), 1, "the constant param is left out: {got:?}");
    assert_eq!(got[0].param, "opt");
    assert!((got[0].divergence - 4.0 / 9.0).abs() < 1e-12, "{got:?}");
    assert_eq!(got[0].share, 1.0);
}

#[test]
fn maximize_takes_the_largest_values_as_top() {
    let space = SearchSpace::new(vec![Param::new(
        "opt",
        Domain::Categorical {
            choices: vec![json!("a"), json!("b")],
            probabilities: None,
        },
    )])
    .unwrap();
    let trials: Vec<Observation> = (0..20)
        .map(|i| {
            let choice = if i % 2 == 0 { "a" } else { "b" };
            complete(i, &[("opt", json!(choice))], i as f64)
        })
        .collect();
    // Top 2 when maximising: 19 and 18, one of each: p_top = (1.5, 1.5) / 3.
    let got = ped_anova(&space, &trials, Direction::Maximize).unwrap();
    assert!(got[0].divergence.abs() < 1e-12, "{got:?}");
    // Minimising: 0 and 1, one of each too; and the shares stay 0.
    assert_eq!(got[0].share, 0.0);
}

#[test]
fn too_few_trials_is_an_error() {
    let space = SearchSpace::new(vec![Param::new("x", float(0.0, 1.0))]).unwrap();
    let trials: Vec<Observation> = (0..3)
        .map(|i| complete(i, &[("x", json!(0.5))], i as f64))
        .collect();
    assert_eq!(
        ped_anova(&space, &trials, Direction::Minimize),
        Err(ImportanceError::TooFewTrials { have: 3, need: 4 })
    );
}

/// f = 10 (x − 0.3)² + (y − 0.5)² + 0·z on uniform samples: x explains most
/// of the variance, y a little, z none. The ranking is x, y, z on every one
/// of 10 seeds, and x carries most of the importance.
#[test]
fn ranking_follows_the_variance_explained_over_ten_seeds() {
    let space = SearchSpace::new(vec![
        Param::new("z", float(0.0, 1.0)),
        Param::new("y", float(0.0, 1.0)),
        Param::new("x", float(0.0, 1.0)),
    ])
    .unwrap();
    for seed in 0..10 {
        let mut rng = StdRng::seed_from_u64(seed);
        let trials: Vec<Observation> = (0..400)
            .map(|i| {
                let (x, y, z): (f64, f64, f64) = (rng.random(), rng.random(), rng.random());
                let f = 10.0 * (x - 0.3).powi(2) + (y - 0.5).powi(2);
                complete(i, &[("x", json!(x)), ("y", json!(y)), ("z", json!(z))], f)
            })
            .collect();
        let got = ped_anova(&space, &trials, Direction::Minimize).unwrap();
        let names: Vec<&str> = got.iter().map(|i| i.param.as_str()).collect();
        assert_eq!(names, ["x", "y", "z"], "seed {seed}: {got:?}");
        assert!(got[0].share > 0.5, "seed {seed}: {got:?}");
    }
}

#[test]
fn conditional_params_count_only_where_active() {
    let space = SearchSpace::new(vec![
        Param::new(
            "opt",
            Domain::Categorical {
                choices: vec![json!("sgd"), json!("adam")],
                probabilities: None,
            },
        ),
        Param::new("momentum", float(0.0, 1.0)).when("opt", vec![json!("sgd")]),
    ])
    .unwrap();
    // Every top trial is adam: momentum is in no top trial and scores 0,
    // and the trials without it are no error.
    let trials: Vec<Observation> = (0..20)
        .map(|i| {
            if i < 10 {
                complete(i, &[("opt", json!("adam"))], i as f64)
            } else {
                complete(
                    i,
                    &[("opt", json!("sgd")), ("momentum", json!(i as f64 / 20.0))],
                    i as f64,
                )
            }
        })
        .collect();
    let got = ped_anova(&space, &trials, Direction::Minimize).unwrap();
    assert_eq!(got[0].param, "opt");
    assert_eq!(got[1].param, "momentum");
    assert_eq!(got[1].divergence, 0.0);
}

#[test]
fn log_params_are_binned_in_log_space() {
    let domain = Domain::Float {
        low: 1e-5,
        high: 1e-1,
        log: true,
        step: None,
    };
    let grid = Grid::of(&domain);
    assert_eq!(grid.cells, GRID_CELLS);
    // 1e-3 is the middle of [1e-5, 1e-1] in log space.
    assert_eq!(grid.cell(&domain, &json!(1e-3)), Some(GRID_CELLS / 2));
    let int = Domain::Int {
        low: 1,
        high: 8,
        log: false,
        step: None,
    };
    let grid = Grid::of(&int);
    assert_eq!(grid.cells, 8);
    assert_eq!(grid.cell(&int, &json!(5)), Some(4));
}
