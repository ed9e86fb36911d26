//! Each `distribution` (and the inferred ones) mapped onto its domain, and
//! the errors of a single parameter spec.

use std::f64::consts::E;

use serde_json::json;

use super::*;

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
