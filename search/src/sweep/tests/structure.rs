//! Nested groups, conditions, grids and the top-level sections.

use std::time::Duration;

use serde_json::{Value, json};

use super::super::{Devices, Method, PrunerKind};
use super::*;
use crate::gp::PrunedValue;
use crate::tpe::PrunedRank;

#[test]
fn nested_groups_flatten_and_resolve_conditions_relative_first() {
    let spec = parse(json!({
        "method": "random",
        "parameters": {
            "kind": {"values": ["a", "b"]},
            "model": {"parameters": {
                "kind": {"values": ["mlp", "cnn"]},
                "width": {"min": 8, "max": 64, "when": {"kind": "mlp"}},
                "head": {"parameters": {"size": {"values": [1, 2], "when": {"model.kind": "cnn"}}}}
            }},
            "extra": {"values": [1], "when": {"kind": ["a", "b"]}}
        }
    }))
    .unwrap();
    let names: Vec<&str> = spec
        .space
        .params()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "kind",
            "model.kind",
            "model.width",
            "model.head.size",
            "extra"
        ]
    );
    let cond = |n: &str| spec.space.get(n).and_then(|p| p.condition.clone()).unwrap();
    assert_eq!(cond("model.width").parent, "model.kind");
    assert_eq!(cond("model.head.size").parent, "model.kind");
    assert_eq!(cond("extra").parent, "kind");
    assert_eq!(cond("extra").values, vec![json!("a"), json!("b")]);
}

#[test]
fn errors_in_nested_groups_use_the_written_path() {
    let err = parse(json!({"parameters": {"model": {"parameters": {
        "width": {"min": 64, "max": 8}}}}}))
    .unwrap_err();
    assert_eq!(err.path, "parameters.model.parameters.width.max");
    assert_eq!(err.file, "sweep.json");
    let err = parse(json!({"parameters": {"model": {"parameters": {
        "width": {"min": 8, "max": 64, "when": {"kind": "mlp"}}}}}}))
    .unwrap_err();
    assert_eq!(err.path, "parameters.model.parameters.width.when.kind");
    assert!(err.message.contains("`model.kind` or `kind`"), "{err}");
}

#[test]
fn condition_errors() {
    let when = |target: Value| {
        parse(json!({"parameters": {
            "optimizer": {"values": ["sgd", "adam"]},
            "lr": {"min": 0.001, "max": 0.1},
            "momentum": {"min": 0.0, "max": 0.99, "when": target}
        }}))
        .unwrap_err()
    };
    let err = when(json!({"lr": 0.01}));
    assert_eq!(err.path, "parameters.momentum.when.lr");
    assert!(err.message.contains("categorical"), "{err}");
    let err = when(json!({"optimizer": "rmsprop"}));
    assert_eq!(err.path, "parameters.momentum.when.optimizer");
    let err = when(json!({"optimizer": "sgd", "lr": 0.1}));
    assert_eq!(err.path, "parameters.momentum.when");
    let err = parse(json!({"parameters": {
        "a": {"values": ["x"], "when": {"b": "y"}},
        "b": {"values": ["y"], "when": {"a": "x"}}
    }}))
    .unwrap_err();
    assert!(err.message.contains("cycle"), "{err}");
    assert!(
        err.path.ends_with(".when.b") || err.path.ends_with(".when.a"),
        "{err}"
    );
}

#[test]
fn grid_needs_discrete_params() {
    let grid = |spec: Value| parse(json!({"method": "grid", "parameters": {"x": spec}}));
    assert!(grid(json!({"values": [1, 2]})).is_ok());
    assert!(grid(json!({"min": 1, "max": 4})).is_ok());
    assert!(grid(json!({"min": 0.0, "max": 1.0, "step": 0.25})).is_ok());
    assert!(grid(json!({"min": 0.0, "max": 1.0, "grid_points": 5})).is_ok());
    assert_eq!(
        grid(json!({"min": 0.0, "max": 1.0})).unwrap_err().path,
        "parameters.x"
    );
    assert_eq!(
        grid(json!({"distribution": "normal"})).unwrap_err().path,
        "parameters.x"
    );
}

#[test]
fn top_level_sections() {
    let spec = parse(json!({
        "name": "resnet", "description": "d", "program": "train.py",
        "method": "gp", "project": "p", "entity": "e", "run_cap": 30,
        "controller": {"type": "local"},
        "metric": {"name": "val_loss", "target": 0.1},
        "early_terminate": {"type": "hyperband", "min_iter": 3},
        "command": ["python", "train.py", "--lr={lr}"],
        "run": {"parallel": 4, "timeout": 3600, "devices": [0, 1], "trial_timeout": "30m",
                "seed": 1, "retry_failed": 1, "trials_per_device": 2, "max_consecutive_failures": 3},
        "tpe": {"n_startup_trials": 5, "pruned_rank": "linear"},
        "gp": {"pruned_value": "linear"},
        "parameters": {"lr": {"min": 0.001, "max": 0.1}}
    }))
    .unwrap();
    assert_eq!(spec.method, Method::Gp);
    assert_eq!(spec.metric.target, Some(0.1));
    assert_eq!(spec.run.trials, Some(30));
    assert_eq!(spec.run.devices, Devices::List(vec![0, 1]));
    assert_eq!(spec.run.trial_timeout, Some(Duration::from_secs(1800)));
    assert_eq!(spec.run.timeout, Some(Duration::from_secs(3600)));
    assert_eq!(spec.searcher.tpe.n_startup_trials, 5);
    assert_eq!(spec.searcher.tpe.pruned_rank, PrunedRank::Linear);
    assert_eq!(spec.searcher.gp.pruned_value, PrunedValue::Linear);
    assert_eq!(
        spec.extra.keys().collect::<Vec<_>>(),
        ["project", "entity", "run_cap", "controller"]
    );
    let et = spec.early_terminate.unwrap();
    assert_eq!(
        (et.kind, et.min_iter, et.eta, et.strict),
        (PrunerKind::Hyperband, Some(3), 3.0, false)
    );
    assert_eq!(spec.run.gpus_per_trial, 1);
    // run.trials wins over run_cap.
    let spec =
        parse(json!({"run_cap": 30, "run": {"trials": 5}, "parameters": {"x": {"value": 1}}}));
    assert_eq!(spec.unwrap().run.trials, Some(5));
}

#[test]
fn gpus_per_trial_is_checked_against_the_devices() {
    let with =
        |run: serde_json::Value| parse(json!({"run": run, "parameters": {"x": {"value": 1}}}));
    let spec = with(json!({"devices": [0, 1, 2, 3], "gpus_per_trial": 4})).unwrap();
    assert_eq!(spec.run.gpus_per_trial, 4);
    // `auto` is checked when the GPUs are found.
    assert_eq!(
        with(json!({"devices": "auto", "gpus_per_trial": 8}))
            .unwrap()
            .run
            .gpus_per_trial,
        8
    );
    let cases = [
        (
            json!({"devices": [0, 1], "gpus_per_trial": 0}),
            "expected at least 1",
        ),
        (
            json!({"devices": [0, 1], "gpus_per_trial": 3}),
            "at most the 2 GPU(s) listed",
        ),
        (
            json!({"devices": "auto", "gpus_per_trial": 17}),
            "1 to 16 GPUs per trial",
        ),
        (json!({"gpus_per_trial": 2}), "need GPUs"),
        (json!({"devices": "cpu", "gpus_per_trial": 2}), "need GPUs"),
        (json!({"devices": [0, 1], "gpus_per_trial": 1.5}), ""),
    ];
    for (run, message) in cases {
        let err = with(run.clone()).unwrap_err().to_string();
        assert!(err.contains("run.gpus_per_trial"), "{run}: {err}");
        assert!(err.contains(message), "{run}: {err}");
    }
    // One GPU per trial needs no GPU: the CPU default still parses.
    assert_eq!(
        with(json!({"gpus_per_trial": 1}))
            .unwrap()
            .run
            .gpus_per_trial,
        1
    );
}

#[test]
fn top_level_errors_name_the_key() {
    let p = json!({"x": {"value": 1}});
    let cases = [
        (json!({"parameters": p, "paramters": {}}), "paramters"),
        (json!({"parameters": p, "method": "anneal"}), "method"),
        (
            json!({"parameters": p, "metric": {"name": "l", "goal": "up"}}),
            "metric.goal",
        ),
        (
            json!({"parameters": p, "run": {"timeout": "8 hours"}}),
            "run.timeout",
        ),
        (
            json!({"parameters": p, "run": {"devices": "gpu"}}),
            "run.devices",
        ),
        (
            json!({"parameters": p, "run": {"parallel": 0}}),
            "run.parallel",
        ),
        (
            json!({"parameters": p, "early_terminate": {"type": "bandit"}}),
            "early_terminate.type",
        ),
        (
            json!({"parameters": p, "early_terminate": {"type": "hyperband"}}),
            "early_terminate",
        ),
        (json!({"parameters": p, "tpe": {"gamma_typo": 1}}), "tpe"),
        (
            json!({"parameters": p, "tpe": {"pruned_rank": "spline"}}),
            "tpe",
        ),
        (
            json!({"parameters": p, "gp": {"pruned_value": "spline"}}),
            "gp",
        ),
        (
            json!({"parameters": p, "command": "python train.py"}),
            "command",
        ),
        (json!({"method": "random"}), "parameters"),
        (json!({"parameters": {}}), "parameters"),
    ];
    for (doc, path) in cases {
        let err = parse(doc.clone()).expect_err(&doc.to_string());
        assert_eq!(err.path, path, "{err}");
    }
    let err = parse(json!({"parameters": p, "method": "anneal"})).unwrap_err();
    assert!(err.message.contains("bayes"), "{err}");
    let err = parse_sweep(
        "{\"parameters\": {\n  \"lr\": {\"min\": 0.1,}\n}}",
        "s.json",
    )
    .unwrap_err();
    assert_eq!(err.path, "line 2, column 21");
    assert_eq!(
        err.to_string(),
        format!("s.json: line 2, column 21: {}", err.message)
    );
}

#[test]
fn run_repeats_is_read_and_bounded() {
    let parse = |run: &str| {
        crate::sweep::parse_sweep(
            &format!(r#"{{"parameters": {{"x": {{"min": 0, "max": 1}}}}, "run": {run}}}"#),
            "s.json",
        )
    };
    assert_eq!(parse(r#"{"repeats": 5}"#).expect("valid").run.repeats, 5);
    assert_eq!(parse("{}").expect("valid").run.repeats, 1, "the default");
    for bad in [
        r#"{"repeats": 0}"#,
        r#"{"repeats": 1001}"#,
        r#"{"repeats": "5"}"#,
    ] {
        let err = parse(bad).expect_err(bad).to_string();
        assert!(
            err.contains("s.json") && err.contains("run.repeats"),
            "{err}"
        );
    }
}
