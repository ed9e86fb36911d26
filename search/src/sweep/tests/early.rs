//! `early_terminate`: W&B's form, ours, and what is refused.

use serde_json::{Value, json};

use super::parse;
use crate::sweep::{EarlyTerminate, MinResource, PrunerKind};

fn early(block: Value) -> Result<EarlyTerminate, (String, String)> {
    match parse(json!({"parameters": {"x": {"value": 1}}, "early_terminate": block})) {
        Ok(spec) => Ok(spec.early_terminate.expect("an early_terminate block")),
        Err(e) => Err((e.path.clone(), e.to_string())),
    }
}

#[test]
fn our_form_reads_optuna_names() {
    let e = early(
        json!({"type": "asha", "min_resource": "auto", "max_resource": 81,
                         "eta": 3, "warmup_steps": 2}),
    )
    .unwrap();
    assert_eq!(e.kind, PrunerKind::Asha);
    assert_eq!(e.min_resource, Some(MinResource::Auto));
    assert_eq!((e.max_resource, e.warmup_steps), (Some(81), Some(2)));
    assert!(!e.is_wandb_hyperband());
    let e = early(json!({"type": "hyperband", "min_resource": 1, "max_resource": 27})).unwrap();
    assert!(!e.is_wandb_hyperband());
    let e = early(json!({"type": "hyperband", "max_iter": 27, "s": 2, "strict": true})).unwrap();
    assert!(e.is_wandb_hyperband() && e.strict);
    let e = early(json!({"type": "percentile", "percentile": 25})).unwrap();
    assert_eq!(e.percentile, Some(25.0));
}

#[test]
fn an_unimplemented_type_is_refused_with_the_implemented_ones() {
    let (path, msg) = early(json!({"type": "bandit"})).unwrap_err();
    assert_eq!(path, "early_terminate.type");
    for name in ["hyperband", "asha", "median", "percentile", "none"] {
        assert!(msg.contains(name), "{msg}");
    }
    assert!(msg.contains("not implemented"), "{msg}");
}

#[test]
fn mixed_or_incomplete_blocks_are_refused() {
    let cases = [
        (
            json!({"type": "hyperband", "min_iter": 3, "max_resource": 27}),
            "early_terminate.max_resource",
        ),
        (json!({"type": "hyperband"}), "early_terminate"),
        (
            json!({"type": "hyperband", "max_iter": 27}),
            "early_terminate.s",
        ),
        (
            json!({"type": "hyperband", "max_iter": 2, "s": 1, "eta": 3}),
            "early_terminate.max_iter",
        ),
        (
            json!({"type": "hyperband", "min_resource": 1}),
            "early_terminate.max_resource",
        ),
        (
            json!({"type": "hyperband", "min_resource": "auto", "max_resource": 9}),
            "early_terminate.min_resource",
        ),
        (
            json!({"type": "asha", "strict": true}),
            "early_terminate.strict",
        ),
        (
            json!({"type": "median", "max_resource": 9}),
            "early_terminate.max_resource",
        ),
        (json!({"type": "percentile"}), "early_terminate.percentile"),
        (
            json!({"type": "percentile", "percentile": 100}),
            "early_terminate.percentile",
        ),
        (
            json!({"type": "asha", "min_resource": 0}),
            "early_terminate.min_resource",
        ),
        (json!({"type": "asha", "eta": 1}), "early_terminate.eta"),
    ];
    for (block, path) in cases {
        let got = early(block.clone());
        assert_eq!(
            got.as_ref().map_err(|e| e.0.as_str()).err(),
            Some(path),
            "{block}: {got:?}"
        );
    }
}
