//! Which changes of a sweep file change a study's identity, with known
//! answers.

use serde_json::{Value, json};

use super::super::{SpecDifference, spec_differences};
use super::parse;

/// A small sweep file; tests change one part of it.
fn base() -> Value {
    json!({
        "name": "demo",
        "method": "tpe",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "lr": {"distribution": "log_uniform_values", "min": 0.0001, "max": 0.1},
            "optimizer": {"values": ["adam", "sgd"]},
            "momentum": {"min": 0.0, "max": 0.99}
        },
        "command": ["python3", "train.py"],
        "run": {"trials": 20, "parallel": 2, "seed": 1}
    })
}

/// The differences, as the text a user sees, of `base()` changed by `edit`.
fn differences(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let old = parse(base()).expect("base parses");
    let mut doc = base();
    edit(&mut doc);
    let new = parse(doc).expect("edited parses");
    spec_differences(&old, &new)
        .iter()
        .map(SpecDifference::to_string)
        .collect()
}

#[test]
fn identical_specs_have_no_differences() {
    assert!(differences(|_| {}).is_empty());
}

#[test]
fn run_settings_command_and_name_are_not_differences() {
    let found = differences(|d| {
        d["run"] = json!({"trials": 50, "parallel": 8, "seed": 1, "timeout": "1h",
                          "trial_timeout": "5m", "retry_failed": 2, "devices": "auto"});
        d["command"] = json!(["python3", "train_v2.py", "--fast"]);
        d["name"] = json!("renamed");
        d["description"] = json!("now with a description");
        d["project"] = json!("wandb-project");
    });
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn a_changed_range_names_the_bound() {
    let found = differences(|d| d["parameters"]["lr"]["max"] = json!(0.5));
    assert_eq!(found, ["parameters.lr.max: 0.1 -> 0.5"]);
}

#[test]
fn a_renamed_param_is_one_removed_and_one_added() {
    let found = differences(|d| {
        let lr = d["parameters"]["lr"].take();
        let params = d["parameters"].as_object_mut().expect("object");
        params.remove("lr");
        params.insert("learning_rate".to_owned(), lr);
    });
    assert_eq!(
        found,
        [
            "parameters.lr: float in [0.0001, 0.1], log -> absent",
            "parameters.learning_rate: absent -> float in [0.0001, 0.1], log",
        ]
    );
}

#[test]
fn a_changed_kind_of_domain_shows_both_domains() {
    let found = differences(|d| d["parameters"]["momentum"] = json!({"values": [0.0, 0.9]}));
    assert_eq!(
        found,
        ["parameters.momentum: float in [0, 0.99] -> values [0.0,0.9]"]
    );
}

#[test]
fn an_added_condition_is_a_difference() {
    let found = differences(|d| d["parameters"]["momentum"]["when"] = json!({"optimizer": "sgd"}));
    assert_eq!(
        found,
        [r#"parameters.momentum.when: none -> optimizer in ["sgd"]"#]
    );
}

#[test]
fn a_changed_goal_name_and_target_are_differences() {
    let found = differences(|d| {
        d["metric"] = json!({"name": "val_acc", "goal": "maximize", "target": 0.99});
    });
    assert_eq!(
        found,
        [
            "metric.name: val_loss -> val_acc",
            "metric.goal: minimize -> maximize",
            "metric.target: none -> 0.99",
        ]
    );
}

#[test]
fn a_changed_method_and_searcher_options_are_differences() {
    let found = differences(|d| {
        d["method"] = json!("bayes");
        d["gp"] = json!({"n_startup_trials": 4});
    });
    assert_eq!(found, ["method: tpe -> gp", "gp.n_startup_trials: 10 -> 4"]);
}

#[test]
fn the_seed_is_part_of_the_identity() {
    let found = differences(|d| d["run"]["seed"] = json!(2));
    assert_eq!(found, ["run.seed: 1 -> 2"]);
}

#[test]
fn early_terminate_added_and_changed() {
    let found = differences(|d| {
        d["early_terminate"] = json!({"type": "hyperband", "min_iter": 3});
    });
    assert_eq!(
        found,
        ["early_terminate: none -> hyperband (min_iter 3, eta 3)"]
    );

    let old = parse(json!({"parameters": {"x": {"min": 0, "max": 1}},
                          "early_terminate": {"type": "hyperband", "min_iter": 3}}))
    .expect("old parses");
    let new = parse(json!({"parameters": {"x": {"min": 0, "max": 1}},
                          "early_terminate": {"type": "asha", "min_iter": 1}}))
    .expect("new parses");
    let found: Vec<String> = spec_differences(&old, &new)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "early_terminate.type: hyperband -> asha",
            "early_terminate.min_iter: 3 -> 1",
        ]
    );
}

#[test]
fn a_searcher_given_in_code_is_a_difference() {
    let old = parse(base()).expect("parses");
    let mut new = old.clone();
    new.custom.searcher = Some("uniform".to_owned());
    let found = spec_differences(&old, &new);
    assert_eq!(
        found,
        [SpecDifference {
            path: "custom.searcher".to_owned(),
            old: "none".to_owned(),
            new: "uniform".to_owned(),
        }]
    );
}
