//! Known answers of the evolution searcher: with the whole population in
//! the tournament the parent is the population's best, so the child is
//! that trial changed in exactly one parameter.

use super::*;
use crate::{Direction, Domain, Param};
use rand::SeedableRng;
use serde_json::json;

fn space() -> SearchSpace {
    SearchSpace::new(vec![
        Param::new("a", Domain::choice(["x", "y", "z"])),
        Param::new("b", Domain::int(0, 9)),
        Param::new("c", Domain::choice(["p", "q"])),
    ])
    .unwrap()
}

fn params(a: &str, b: i64, c: &str) -> Params {
    [("a", json!(a)), ("b", json!(b)), ("c", json!(c))]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

fn obs(number: u64, params: Params, state: TrialState, value: Option<f64>) -> Observation {
    Observation {
        number,
        params,
        state,
        value,
        intermediate: Vec::new(),
        duration_ms: None,
    }
}

/// Trials `b = 0..n` with value `b` (the smallest b is the best).
fn history(values: &[f64]) -> History {
    History {
        direction: Direction::Minimize,
        trials: values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                obs(
                    i as u64,
                    params("x", i as i64 % 10, "p"),
                    TrialState::Complete,
                    Some(v),
                )
            })
            .collect(),
    }
}

fn differences(a: &Params, b: &Params) -> usize {
    a.iter().filter(|(k, v)| b.get(k) != Some(v)).count()
}

fn whole_population(population: usize) -> EvolutionSearcher {
    EvolutionSearcher::new(EvolutionOptions {
        population,
        sample_size: population,
    })
}

#[test]
fn child_is_the_best_member_changed_in_one_param() {
    let h = history(&[5.0, 3.0, 0.5, 4.0, 2.0]);
    let best = h.trials[2].params.clone();
    let mut searcher = whole_population(5);
    for seed in 0..50 {
        let child = searcher
            .suggest(&space(), &h, &mut StdRng::seed_from_u64(seed))
            .unwrap();
        assert!(space().admits(&child), "{child:?}");
        assert_eq!(differences(&child, &best), 1, "{child:?} vs {best:?}");
    }
}

#[test]
fn old_trials_age_out_of_the_population() {
    // The best trial (value 0) is the oldest; with a population of 3 only
    // trials 3, 4, 5 compete, and trial 4 (value 1) wins.
    let h = history(&[0.0, 9.0, 9.0, 3.0, 1.0, 2.0]);
    let mut searcher = whole_population(3);
    for seed in 0..20 {
        let child = searcher
            .suggest(&space(), &h, &mut StdRng::seed_from_u64(seed))
            .unwrap();
        assert_eq!(differences(&child, &h.trials[4].params), 1);
    }
}

#[test]
fn maximize_picks_the_largest_value() {
    let mut h = history(&[1.0, 7.0, 3.0]);
    h.direction = Direction::Maximize;
    let child = whole_population(3)
        .suggest(&space(), &h, &mut StdRng::seed_from_u64(1))
        .unwrap();
    assert_eq!(differences(&child, &h.trials[1].params), 1);
}

#[test]
fn running_and_failed_trials_are_not_members_and_complete_beats_pruned() {
    let mut h = history(&[4.0, 6.0]);
    h.trials
        .push(obs(2, params("z", 9, "q"), TrialState::Running, None));
    h.trials
        .push(obs(3, params("y", 8, "q"), TrialState::Failed, None));
    let mut pruned = obs(4, params("z", 7, "q"), TrialState::Pruned, None);
    pruned.intermediate = vec![(1, -100.0)];
    h.trials.push(pruned);
    // Population 3: the members are trials 0, 1 and 4; trial 0 wins over
    // the pruned trial whatever its reported value.
    let mut searcher = whole_population(3);
    for seed in 0..20 {
        let child = searcher
            .suggest(&space(), &h, &mut StdRng::seed_from_u64(seed))
            .unwrap();
        assert_eq!(differences(&child, &h.trials[0].params), 1);
    }
}

#[test]
fn first_trials_are_random_draws() {
    let h = history(&[1.0, 2.0]);
    let mut evolution = EvolutionSearcher::default();
    let mut random = RandomSearcher::new();
    for seed in 0..10 {
        let a = evolution
            .suggest(&space(), &h, &mut StdRng::seed_from_u64(seed))
            .unwrap();
        let b = random
            .suggest(&space(), &h, &mut StdRng::seed_from_u64(seed))
            .unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn same_history_and_seed_give_the_same_child() {
    let h = history(&(0..30).map(|i| ((i * 7) % 11) as f64).collect::<Vec<_>>());
    let run = |seed| {
        EvolutionSearcher::default()
            .suggest(&space(), &h, &mut StdRng::seed_from_u64(seed))
            .unwrap()
    };
    for seed in 0..10 {
        assert_eq!(run(seed), run(seed));
    }
}

#[test]
fn mutating_a_parent_redecides_its_children() {
    let space = SearchSpace::new(vec![
        Param::new("opt", Domain::choice(["sgd", "adam"])),
        Param::new("momentum", Domain::float(0.0, 0.99)).when("opt", vec![json!("sgd")]),
    ])
    .unwrap();
    let parent: Params = [("opt".to_owned(), json!("adam"))].into_iter().collect();
    for seed in 0..20 {
        let child = mutate(&space, &parent, &mut StdRng::seed_from_u64(seed));
        // `opt` is the only mutable active param: it becomes sgd, and
        // momentum appears with a prior draw.
        assert_eq!(child.get("opt"), Some(&json!("sgd")));
        assert!(space.admits(&child), "{child:?}");
    }
}

#[test]
fn bad_options_are_refused() {
    let err = EvolutionSearcher::new(EvolutionOptions {
        population: 3,
        sample_size: 4,
    })
    .suggest(&space(), &history(&[1.0; 5]), &mut StdRng::seed_from_u64(0))
    .unwrap_err();
    assert!(err.to_string().contains("evolution.sample_size"), "{err}");
}
