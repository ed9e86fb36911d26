//! No input makes the parser panic.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::super::{distributions, nni, parse_sweep};

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
        prop::sample::select(distributions::DISTRIBUTIONS).prop_map(Value::from),
        prop::sample::select(nni::NNI_TYPES).prop_map(Value::from),
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
