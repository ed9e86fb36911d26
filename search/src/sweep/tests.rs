//! Unit tests of the sweep parser: one per distribution mapping, nested
//! groups, conditions, NNI files, YAML, and the error paths.

use std::f64::consts::E;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::domain::Domain;

fn parse(doc: Value) -> Result<SweepSpec, SpecError> {
    parse_sweep(&doc.to_string(), "sweep.json")
}

/// The domain of a one-parameter sweep.
fn domain_of(spec: Value) -> Domain {
    let sweep = parse(json!({"parameters": {"x": spec}}))
        .unwrap_or_else(|e| panic!("spec should parse: {e}"));
    sweep.space.params()[0].domain.clone()
}

/// The error of a one-parameter sweep.
fn error_of(spec: Value) -> SpecError {
    parse(json!({"parameters": {"x": spec}})).expect_err("spec should be rejected")
}

fn float(low: f64, high: f64, log: bool, step: Option<f64>) -> Domain {
    Domain::Float {
        low,
        high,
        log,
        step,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn constant_and_categorical() {
    assert_eq!(
        domain_of(json!({"value": 20})),
        Domain::Const { value: json!(20) }
    );
    assert_eq!(
        domain_of(json!({"distribution": "constant", "value": "adam"})),
        Domain::Const {
            value: json!("adam")
        }
    );
    let d = domain_of(
        json!({"values": [1, "two", true, [3], {"k": 4}], "probabilities": [0.2, 0.2, 0.2, 0.2, 0.2]}),
    );
    assert_eq!(
        d,
        Domain::Categorical {
            choices: vec![
                json!(1),
                json!("two"),
                json!(true),
                json!([3]),
                json!({"k": 4})
            ],
            probabilities: Some(vec![0.2; 5]),
        }
    );
}

#[test]
fn min_max_integers_give_int_else_float() {
    assert_eq!(
        domain_of(json!({"min": 1, "max": 10})),
        Domain::Int {
            low: 1,
            high: 10,
            log: false,
            step: None
        }
    );
    assert_eq!(
        domain_of(json!({"min": 0, "max": 1.0})),
        float(0.0, 1.0, false, None)
    );
    assert_eq!(
        domain_of(json!({"min": 16, "max": 512, "log": true})),
        Domain::Int {
            low: 16,
            high: 512,
            log: true,
            step: None
        }
    );
    assert_eq!(
        domain_of(json!({"min": 0.0, "max": 0.5, "step": 0.1})),
        float(0.0, 0.5, false, Some(0.1))
    );
    // Explicit `uniform` over integer bounds stays a float range.
    assert_eq!(
        domain_of(json!({"distribution": "uniform", "min": 0, "max": 2})),
        float(0.0, 2.0, false, None)
    );
    assert_eq!(
        domain_of(json!({"distribution": "int_uniform", "min": 0, "max": 2000, "step": 100})),
        Domain::Int {
            low: 0,
            high: 2000,
            log: false,
            step: Some(100)
        }
    );
}

#[test]
fn log_uniform_takes_natural_log_exponents() {
    let Domain::Float {
        low,
        high,
        log: true,
        step: None,
    } = domain_of(json!({"distribution": "log_uniform", "min": -2.0, "max": 1.0}))
    else {
        panic!("expected a log float domain");
    };
    assert!(close(low, E.powi(-2)) && close(high, E), "{low} {high}");
    assert_eq!(
        domain_of(json!({"distribution": "log_uniform_values", "min": 1e-5, "max": 0.1})),
        float(1e-5, 0.1, true, None)
    );
    // log(1/X) uniform over [1, 3]: X within [e^-3, e^-1].
    let Domain::Float { low, high, log, .. } =
        domain_of(json!({"distribution": "inv_log_uniform", "min": 1.0, "max": 3.0}))
    else {
        panic!("expected a float domain");
    };
    assert!(log && close(low, E.powi(-3)) && close(high, E.powi(-1)));
    assert_eq!(
        domain_of(json!({"distribution": "inv_log_uniform_values", "min": 0.001, "max": 1.0})),
        float(0.001, 1.0, true, None)
    );
    let err = error_of(json!({"distribution": "log_uniform", "min": 1.0, "max": 1000.0}));
    assert_eq!(err.path, "parameters.x.max");
    assert!(err.message.contains("log_uniform_values"), "{err}");
}

#[test]
fn quantised_distributions_give_multiples_of_q() {
    // Whole q: integers, log prior kept. W&B's batch-size idiom.
    assert_eq!(
        domain_of(json!({"distribution": "q_log_uniform", "q": 1,
                         "min": 32f64.ln(), "max": 256f64.ln()})),
        Domain::Int {
            low: 32,
            high: 256,
            log: true,
            step: None
        }
    );
    assert_eq!(
        domain_of(json!({"distribution": "q_log_uniform_values", "min": 16, "max": 250, "q": 16})),
        Domain::Int {
            low: 16,
            high: 240,
            log: true,
            step: Some(16)
        }
    );
    // q defaults to 1.
    assert_eq!(
        domain_of(json!({"distribution": "q_uniform", "min": 0.5, "max": 10.5})),
        Domain::Int {
            low: 1,
            high: 10,
            log: false,
            step: None
        }
    );
    // Fractional q: the range shrinks inward to multiples of q.
    let Domain::Float {
        low,
        high,
        log: false,
        step: Some(q),
    } = domain_of(json!({"distribution": "q_uniform", "min": 0.02, "max": 0.5, "q": 0.05}))
    else {
        panic!("expected a stepped float");
    };
    assert!(
        close(low, 0.05) && close(high, 0.5) && q == 0.05,
        "{low} {high}"
    );
    let err = error_of(json!({"distribution": "q_uniform", "min": 0.01, "max": 0.02, "q": 0.5}));
    assert_eq!(err.path, "parameters.x.q");
}

#[test]
fn normal_family_uses_wandb_defaults() {
    assert_eq!(
        domain_of(json!({"distribution": "normal"})),
        Domain::Normal {
            mu: 0.0,
            sigma: 1.0,
            log: false,
            q: None
        }
    );
    assert_eq!(
        domain_of(json!({"distribution": "q_normal", "mu": 10.0, "sigma": 2.0})),
        Domain::Normal {
            mu: 10.0,
            sigma: 2.0,
            log: false,
            q: Some(1.0)
        }
    );
    assert_eq!(
        domain_of(json!({"distribution": "log_normal", "mu": -9.0})),
        Domain::Normal {
            mu: -9.0,
            sigma: 1.0,
            log: true,
            q: None
        }
    );
    assert_eq!(
        domain_of(json!({"distribution": "q_log_normal", "q": 0.5})),
        Domain::Normal {
            mu: 0.0,
            sigma: 1.0,
            log: true,
            q: Some(0.5)
        }
    );
    let err = error_of(json!({"distribution": "normal", "sigma": 0.0}));
    assert_eq!(err.path, "parameters.x.sigma");
}

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
fn nni_nested_choice_becomes_conditions() {
    let text = json!({
        "lr": {"_type": "loguniform", "_value": [1e-4, 0.1]},
        "layers": {"_type": "randint", "_value": [1, 5]},
        "optimizer": {"_type": "choice", "_value": [
            {"_name": "sgd", "momentum": {"_type": "uniform", "_value": [0.5, 0.99]}},
            {"_name": "adam", "beta1": {"_type": "uniform", "_value": [0.8, 0.95]},
             "schedule": {"_type": "choice", "_value": [
                 {"_name": "cosine", "warmup": {"_type": "randint", "_value": [0, 10]}},
                 "constant"]}},
            "rmsprop"]}
    });
    let spec = parse(text).unwrap();
    assert_eq!(spec.method, Method::Tpe);
    assert_eq!(spec.metric.name, "default");
    assert_eq!(spec.metric.goal, Direction::Minimize);
    let space = &spec.space;
    assert_eq!(
        space.get("layers").unwrap().domain,
        Domain::Int {
            low: 1,
            high: 4,
            log: false,
            step: None
        }
    );
    assert_eq!(
        space.get("optimizer").unwrap().domain,
        Domain::Categorical {
            choices: vec![json!("sgd"), json!("adam"), json!("rmsprop")],
            probabilities: None
        }
    );
    let momentum = space.get("optimizer.sgd.momentum").unwrap();
    let c = momentum.condition.as_ref().unwrap();
    assert_eq!(
        (c.parent.as_str(), c.values.clone()),
        ("optimizer", vec![json!("sgd")])
    );
    let warmup = space.get("optimizer.adam.schedule.cosine.warmup").unwrap();
    assert_eq!(
        warmup.condition.as_ref().unwrap().parent,
        "optimizer.adam.schedule"
    );
    assert_eq!(
        space
            .get("optimizer.adam.schedule")
            .unwrap()
            .condition
            .as_ref()
            .unwrap()
            .values,
        vec![json!("adam")]
    );
    assert_eq!(space.len(), 7);
}

#[test]
fn nni_types_and_errors() {
    let one = |t: &str, v: Value| parse(json!({"x": {"_type": t, "_value": v}}));
    let d = |t: &str, v: Value| one(t, v).unwrap().space.params()[0].domain.clone();
    assert_eq!(
        d("quniform", json!([64, 512, 64])),
        Domain::Int {
            low: 64,
            high: 512,
            log: false,
            step: Some(64)
        }
    );
    assert_eq!(
        d("qlognormal", json!([0.0, 1.0, 0.5])),
        Domain::Normal {
            mu: 0.0,
            sigma: 1.0,
            log: true,
            q: Some(0.5)
        }
    );
    assert_eq!(one("uniform", json!([1.0])).unwrap_err().path, "x._value");
    assert_eq!(
        one("loguniform", json!([0.0, 1.0])).unwrap_err().path,
        "x._value"
    );
    assert_eq!(one("randint", json!([5, 5])).unwrap_err().path, "x._value");
    assert_eq!(one("gaussian", json!([0, 1])).unwrap_err().path, "x._type");
    assert_eq!(
        one("uniform", json!([0, "1"])).unwrap_err().path,
        "x._value[1]"
    );
    let err = parse(json!({"o": {"_type": "choice", "_value": [
        {"_name": "sgd", "m": {"_type": "uniform", "_value": [1.0, 0.0]}}]}}))
    .unwrap_err();
    assert_eq!(err.path, "o._value[0].m._value");
}

#[test]
fn yaml_reads_like_json() {
    let yaml = "
method: bayes
metric: {name: val_acc, goal: maximize}
parameters:
  lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}
  optimizer:
    values: [adam, sgd]
  model:
    parameters:
      depth: {min: 2, max: 8}
run: {trials: 20, timeout: 1h30m}
";
    let from_yaml = parse_sweep(yaml, "sweep.yml").unwrap();
    let from_json = parse(json!({
        "method": "bayes",
        "metric": {"name": "val_acc", "goal": "maximize"},
        "parameters": {
            "lr": {"distribution": "log_uniform_values", "min": 0.0001, "max": 0.1},
            "optimizer": {"values": ["adam", "sgd"]},
            "model": {"parameters": {"depth": {"min": 2, "max": 8}}}
        },
        "run": {"trials": 20, "timeout": "1h30m"}
    }))
    .unwrap();
    assert_eq!(from_yaml, from_json);
    assert_eq!(from_yaml.run.timeout, Some(Duration::from_secs(5400)));
    let anchors = "
defaults: &lr {distribution: log_uniform_values, min: 0.0001}
";
    let err = parse_sweep(anchors, "s.yaml").unwrap_err();
    assert_eq!(err.path, "defaults");
    let merged = "
parameters:
  lr: &lr {distribution: log_uniform_values, min: 0.0001, max: 0.1}
  head_lr:
    <<: *lr
    max: 0.01
";
    let spec = parse_sweep(merged, "s.yaml").unwrap();
    assert_eq!(
        spec.space.get("head_lr").unwrap().domain,
        Domain::Float {
            low: 0.0001,
            high: 0.01,
            log: true,
            step: None
        }
    );
    let err = parse_sweep("parameters:\n  ? [1, 2]\n  : {value: 2}\n", "s.yaml").unwrap_err();
    assert!(err.message.contains("strings"), "{err}");
    let err = parse_sweep("parameters:\n  lr: [1, 2\n", "s.yaml").unwrap_err();
    assert!(err.path.starts_with("line "), "{err}");
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
        "tpe": {"n_startup_trials": 5},
        "parameters": {"lr": {"min": 0.001, "max": 0.1}}
    }))
    .unwrap();
    assert_eq!(spec.method, Method::Gp);
    assert_eq!(spec.metric.target, Some(0.1));
    assert_eq!(spec.run.trials, Some(30));
    assert_eq!(spec.run.devices, Devices::List(vec![0, 1]));
    assert_eq!(spec.run.trial_timeout, Some(Duration::from_secs(1800)));
    assert_eq!(spec.run.timeout, Some(Duration::from_secs(3600)));
    assert_eq!(spec.searcher.tpe.n_startup_trials, Some(5));
    assert_eq!(
        spec.extra.keys().collect::<Vec<_>>(),
        ["project", "entity", "run_cap", "controller"]
    );
    let et = spec.early_terminate.unwrap();
    assert_eq!(
        (et.kind, et.min_iter, et.eta, et.strict),
        (PrunerKind::Hyperband, Some(3), 3.0, false)
    );
    // run.trials wins over run_cap.
    let spec =
        parse(json!({"run_cap": 30, "run": {"trials": 5}, "parameters": {"x": {"value": 1}}}));
    assert_eq!(spec.unwrap().run.trials, Some(5));
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
fn parameter_errors_name_the_field() {
    let cases = [
        (json!({"min": "abc", "max": 1.0}), "parameters.x.min"),
        (json!({"min": 0.1, "max": 0.01}), "parameters.x.max"),
        (
            json!({"min": 0.0, "max": 1.0, "log": true}),
            "parameters.x.min",
        ),
        (
            json!({"distribution": "log_uniform_values", "min": -1.0, "max": 1.0}),
            "parameters.x.min",
        ),
        (
            json!({"distribution": "beta", "min": 0, "max": 1}),
            "parameters.x.distribution",
        ),
        (
            json!({"values": [1, 2], "weights": [1, 1]}),
            "parameters.x.weights",
        ),
        (json!({"values": []}), "parameters.x.values"),
        (json!({"values": [1, 1]}), "parameters.x.values[1]"),
        (
            json!({"values": [1, 2], "probabilities": [0.5, 0.6]}),
            "parameters.x.probabilities",
        ),
        (
            json!({"values": [1, 2], "probabilities": [1.0]}),
            "parameters.x.probabilities",
        ),
        (
            json!({"distribution": "uniform", "min": 0.0}),
            "parameters.x.max",
        ),
        (
            json!({"distribution": "uniform", "min": 0.0, "max": 1.0, "mu": 1.0}),
            "parameters.x.mu",
        ),
        (
            json!({"distribution": "int_uniform", "min": 0.5, "max": 3}),
            "parameters.x.min",
        ),
        (
            json!({"min": 0.0, "max": 1.0, "step": 1e-300}),
            "parameters.x.step",
        ),
        (json!({"min": 0, "max": 10, "step": 0}), "parameters.x.step"),
        (
            json!({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": -1}),
            "parameters.x.q",
        ),
        (
            json!({"min": 0, "max": 1, "grid_points": 0}),
            "parameters.x.grid_points",
        ),
        (json!({"q": 2}), "parameters.x"),
        (json!("adam"), "parameters.x"),
        (json!({"min": 1, "max": u64::MAX}), "parameters.x.max"),
    ];
    for (spec, path) in cases {
        let err = error_of(spec.clone());
        assert_eq!(err.path, path, "{spec}: {err}");
    }
    let err = error_of(json!({"distribution": "beta"}));
    assert!(err.message.contains("q_log_uniform_values"), "{err}");
}

#[test]
fn durations() {
    let d = |v: Value| run::parse_duration(&v, "t").map(|d| d.as_secs_f64());
    assert_eq!(d(json!("8h")), Ok(28_800.0));
    assert_eq!(d(json!("30m")), Ok(1_800.0));
    assert_eq!(d(json!("90s")), Ok(90.0));
    assert_eq!(d(json!("1h30m")), Ok(5_400.0));
    assert_eq!(d(json!("1d")), Ok(86_400.0));
    assert_eq!(d(json!(2.5)), Ok(2.5));
    for bad in [
        json!("h"),
        json!("5x"),
        json!("10"),
        json!(""),
        json!(-1),
        json!(0),
        json!(true),
    ] {
        // A bare number string is seconds too; only the others fail.
        if bad == json!("10") {
            assert_eq!(d(bad), Ok(10.0));
        } else {
            assert!(d(bad.clone()).is_err(), "{bad}");
        }
    }
}

/// Any JSON value, a few levels deep, biased towards the keys and shapes a
/// parameter spec uses so the parser's inner branches are reached.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("min".to_owned()),
        Just("max".to_owned()),
        Just("values".to_owned()),
        Just("value".to_owned()),
        Just("distribution".to_owned()),
        Just("q".to_owned()),
        Just("mu".to_owned()),
        Just("sigma".to_owned()),
        Just("step".to_owned()),
        Just("log".to_owned()),
        Just("when".to_owned()),
        Just("probabilities".to_owned()),
        Just("parameters".to_owned()),
        Just("grid_points".to_owned()),
        Just("_type".to_owned()),
        Just("_value".to_owned()),
        Just("_name".to_owned()),
        "[a-z]{1,3}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-3i64..20).prop_map(Value::from),
        (-1.0f64..2.0).prop_map(Value::from),
        prop::sample::select(super::distributions::DISTRIBUTIONS).prop_map(Value::from),
        prop::sample::select(super::nni::NNI_TYPES).prop_map(Value::from),
        "[a-z]{0,4}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_parameter_spec_parses_or_errs_without_panicking(
        spec in any_json(), other in any_json(), method in "grid|random|tpe"
    ) {
        let doc = json!({"method": method, "parameters": {
            "optimizer": {"values": ["sgd", "adam"]}, "x": spec, "y": other}});
        let _ = parse_sweep(&doc.to_string(), "p.json");
        let _ = parse_sweep(&doc.to_string(), "p.yaml");
    }

    #[test]
    fn any_nni_spec_parses_or_errs_without_panicking(spec in any_json(), other in any_json()) {
        let doc = json!({"a": {"_type": "choice", "_value": [spec, {"_name": "n", "b": other}]}});
        let _ = parse_sweep(&doc.to_string(), "space.json");
    }

    #[test]
    fn any_document_parses_or_errs_without_panicking(doc in any_json()) {
        let _ = parse_sweep(&doc.to_string(), "d.json");
    }

    #[test]
    fn any_text_parses_or_errs_without_panicking(text in "\\PC{0,200}") {
        let _ = parse_sweep(&text, "t.json");
        let _ = parse_sweep(&text, "t.yaml");
    }
}
