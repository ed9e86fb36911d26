use hypersweep_search::Params;
use hypersweep_search::sweep::parse_sweep;
use serde_json::json;

use super::*;

const SWEEP: &str = r#"{
  "method": "random",
  "metric": {"name": "val_loss", "goal": "minimize"},
  "parameters": {
    "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    "layers": {"values": [1, 2, 3]},
    "opt": {"values": ["sgd", "adam"]}
  },
  "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
  "run": {"trials": 40}
}"#;

fn record() -> StudyRecord {
    StudyRecord {
        name: "night<run>".to_owned(),
        spec: parse_sweep(SWEEP, "sweep.json").expect("the sweep parses"),
        created_ms: 1_700_000_000_000,
        revisions: Vec::new(),
    }
}

/// 30 trials: lr drives the value, the rest is noise-free filler; every
/// fifth is pruned, trial 7 failed with an error that tries to end the
/// script element.
fn trials() -> Vec<Trial> {
    (0..30u64)
        .map(|n| {
            let lr = 1e-5 * 10f64.powf(4.0 * (n as f64 * 0.377).fract());
            let mut params = Params::new();
            params.insert("lr", json!(lr));
            params.insert("layers", json!(1 + n % 3));
            params.insert("opt", json!(if n % 2 == 0 { "sgd" } else { "adam" }));
            let value = (lr.log10() + 3.0).powi(2);
            let (state, value, error) = match n {
                7 => (
                    TrialState::Failed,
                    None,
                    Some("boom </script><b>x</b>".to_owned()),
                ),
                n if n % 5 == 4 => (
                    TrialState::Pruned,
                    Some(value + 1.0),
                    Some("pruned".to_owned()),
                ),
                _ => (TrialState::Complete, Some(value), None),
            };
            let mut t: Trial = serde_json::from_value(json!({
                "study": "night<run>", "number": n, "params": params, "state": state,
                "started_ms": 1_700_000_000_000u64 + n * 1000, "heartbeat_ms": 0,
            }))
            .expect("a trial");
            t.value = value;
            t.error = error;
            t.finished_ms = Some(t.started_ms + 800);
            t.intermediate = (1..=4)
                .map(|s| (s, value.unwrap_or(9.0) + 1.0 / s as f64))
                .collect();
            t.log_path = Some(format!("logs/night/{n}.log").into());
            t
        })
        .collect()
}

/// The JSON document embedded in a report.
fn embedded(html: &str) -> serde_json::Value {
    let start = html
        .find(r#"<script type="application/json" id="hs-data">"#)
        .expect("a data element");
    let rest = &html[start..];
    let open = rest.find('>').expect("tag end") + 1;
    let close = rest.find("</script>").expect("the data element ends");
    serde_json::from_str(&rest[open..close]).expect("the data is JSON")
}

#[test]
fn the_report_is_self_contained() {
    let html = render(&record(), &trials());
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "a URL in the report"
    );
    for loader in [
        "<link",
        "src=",
        "@import",
        "url(",
        "fetch(",
        "XMLHttpRequest",
        "import(",
    ] {
        assert!(
            !html.contains(loader),
            "the report loads something: `{loader}`"
        );
    }
    // The style and script are inside, not referenced.
    assert!(html.contains("function parallel()"));
    assert!(html.contains("table.trials"));
    assert!(
        !html.contains("@DATA@") && !html.contains("/*@SCRIPT@*/") && !html.contains("/*@STYLE@*/")
    );
}

#[test]
fn the_report_carries_every_trial_and_the_summary() {
    let trials = trials();
    let html = render(&record(), &trials);
    let data = embedded(&html);
    let rows = data["trials"].as_array().expect("trials");
    assert_eq!(rows.len(), 30);
    for (row, t) in rows.iter().zip(&trials) {
        assert_eq!(row["n"], json!(t.number));
        // serde_json parses floats to within an ulp, not exactly.
        let lr = row["p"]["lr"].as_f64().expect("lr");
        assert!((lr - t.params.f64("lr").expect("lr")).abs() < 1e-15);
        assert_eq!(row["p"]["opt"], t.params.as_map()["opt"]);
        assert_eq!(row["p"]["layers"], t.params.as_map()["layers"]);
        // Epochs 1..=4: the first step and the values.
        assert_eq!(row["i0"], json!(1));
        assert_eq!(row["iv"].as_array().map(Vec::len), Some(4));
        assert_eq!(row["log"], json!(format!("logs/night/{}.log", t.number)));
    }
    assert_eq!(rows[7]["e"], json!("boom </script><b>x</b>"));
    assert_eq!(rows[7]["s"], json!("failed"));
    assert_eq!(data["counts"]["complete"], json!(23));
    assert_eq!(data["counts"]["pruned"], json!(6));
    assert_eq!(data["counts"]["failed"], json!(1));
    assert_eq!(data["study"]["budget"], json!(40));
    assert_eq!(data["study"]["searcher"], json!("random"));
    assert!(
        data["study"]["pruner"]
            .as_str()
            .is_some_and(|p| p.contains("hyperband"))
    );
    // Trials start a second apart and last 0.8 s.
    assert_eq!(data["wall_ms"], json!(29_800));
    let best = best_trial(&trials, hypersweep_search::Direction::Minimize).expect("a best");
    assert_eq!(data["best"], json!(best.number));
    // The error text cannot end the data element early.
    assert_eq!(html.matches("</script>").count(), 2);
    assert!(html.contains("<title>hypersweep report: night&lt;run&gt;</title>"));
    assert!(html.contains("<span id=\"hs-title\">night&lt;run&gt;</span>"));
}

#[test]
fn a_study_named_like_a_slot_stays_a_name() {
    let mut record = record();
    record.name = "@DATA@/*@SCRIPT@*/".to_owned();
    let html = render(&record, &trials());
    assert!(html.contains("<title>hypersweep report: @DATA@/*@SCRIPT@*/</title>"));
    assert_eq!(embedded(&html)["trials"].as_array().map(Vec::len), Some(30));
    assert_eq!(html.matches("function parallel()").count(), 1);
}

#[test]
fn the_report_ranks_the_param_that_drives_the_value_first() {
    let data = embedded(&render(&record(), &trials()));
    let ranked = data["importance"]["params"].as_array().expect("importance");
    assert_eq!(ranked.len(), 3);
    assert_eq!(ranked[0]["param"], json!("lr"));
}

#[test]
fn an_empty_study_renders_with_the_reason_importance_is_missing() {
    let html = render(&record(), &[]);
    let data = embedded(&html);
    assert_eq!(data["trials"], json!([]));
    assert_eq!(data["best"], json!(null));
    assert!(
        data["importance"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("at least 4"))
    );
}

#[test]
fn the_same_trials_give_the_same_bytes() {
    assert_eq!(render(&record(), &trials()), render(&record(), &trials()));
}

#[test]
fn curves_are_compact_and_keep_seven_significant_digits() {
    let mut m = Map::new();
    insert_curve(&mut m, &[(3, 0.123456789), (4, -12345.6789), (5, f64::NAN)]);
    assert_eq!(
        Value::Object(m),
        json!({"i0": 3, "iv": [0.1234568, -12345.68, "NaN"]})
    );
    let mut m = Map::new();
    insert_curve(&mut m, &[(10, 1e-300), (20, 0.0), (40, 2.0)]);
    assert_eq!(
        Value::Object(m),
        json!({"i": [[10, 1e-300], [20, 0.0], [40, 2.0]]})
    );
    let mut m = Map::new();
    insert_curve(&mut m, &[]);
    assert_eq!(Value::Object(m), json!({"i": []}));
    assert_eq!(significant(987654321.0, 7), 987654300.0);
    assert_eq!(significant(f64::MIN_POSITIVE / 8.0, 7), 2.781342e-309);
    assert_eq!(significant(-0.0, 7), 0.0);
}
