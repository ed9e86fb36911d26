//! The `cell` distribution and `method: "evolution"` in sweep files.

use serde_json::json;

use super::super::Method;
use super::*;
use crate::evolution::EvolutionOptions;

const OPS: [&str; 5] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
];

#[test]
fn cell_distribution_reads_nodes_and_ops() {
    assert_eq!(
        domain_of(json!({"distribution": "cell", "nodes": 4, "ops": OPS})),
        Domain::cell(4, OPS)
    );
    assert_eq!(
        domain_of(
            json!({"distribution": "cell", "nodes": 3, "ops": ["a", "b"], "run_disconnected": true})
        ),
        Domain::cell(3, ["a", "b"]).run_disconnected()
    );
}

#[test]
fn cell_errors_name_the_field() {
    let cases = [
        (
            json!({"distribution": "cell", "ops": OPS}),
            "parameters.x.nodes",
        ),
        (
            json!({"distribution": "cell", "nodes": 4}),
            "parameters.x.ops",
        ),
        (
            json!({"distribution": "cell", "nodes": 1, "ops": OPS}),
            "parameters.x.nodes",
        ),
        (
            json!({"distribution": "cell", "nodes": -2, "ops": OPS}),
            "parameters.x.nodes",
        ),
        (
            json!({"distribution": "cell", "nodes": 4, "ops": []}),
            "parameters.x.ops",
        ),
        (
            json!({"distribution": "cell", "nodes": 4, "ops": ["a", 3]}),
            "parameters.x.ops[1]",
        ),
        (
            json!({"distribution": "cell", "nodes": 4, "ops": ["a", "a"]}),
            "parameters.x.ops[1]",
        ),
        (
            json!({"distribution": "cell", "nodes": 4, "ops": ["a|b"]}),
            "parameters.x.ops[0]",
        ),
        (
            json!({"distribution": "cell", "nodes": 4, "ops": OPS, "min": 1}),
            "parameters.x.min",
        ),
    ];
    for (spec, path) in cases {
        let err = error_of(spec.clone());
        assert_eq!(err.path, path, "{spec}: {err}");
    }
}

#[test]
fn evolution_method_and_options() {
    let spec = parse(json!({
        "method": "evolution",
        "evolution": {"population": 10, "sample_size": 3},
        "parameters": {"arch": {"distribution": "cell", "nodes": 4, "ops": OPS}},
    }))
    .unwrap();
    assert_eq!(spec.method, Method::Evolution);
    assert_eq!(
        spec.searcher.evolution,
        EvolutionOptions {
            population: 10,
            sample_size: 3
        }
    );
    let err = parse(json!({
        "method": "evolution",
        "evolution": {"population": 2, "sample_size": 3},
        "parameters": {"x": {"value": 1}},
    }))
    .unwrap_err();
    assert_eq!(err.path, "evolution.sample_size", "{err}");
}
