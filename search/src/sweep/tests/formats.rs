//! NNI search spaces, YAML files and durations.

use std::time::Duration;

use serde_json::{Value, json};

use super::super::{Method, run};
use super::*;
use crate::history::Direction;

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
    assert_eq!(spec.method, Method::Auto);
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
