//! Fuzz of the sweep parser: generated and mutated files (JSON and YAML)
//! give a spec or a clean error, never a panic. Each case is also built into
//! a searcher's first suggestion when it parses, so an accepted space must
//! be searchable. Thousands of cases, well within a minute.

use hypersweep_search::sweep::parse_sweep;
use hypersweep_search::{History, SearcherOptions, build_searcher, suggestion_rng};
use proptest::prelude::*;

const SEEDS: [&str; 4] = [
    r#"{"method": "tpe", "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"lr": {"min": 0.0001, "max": 0.1, "distribution": "log_uniform_values"},
                       "seed": {"distribution": "int_uniform", "min": -2147483648, "max": 2147483647},
                       "q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 1e-12},
                       "opt": {"values": ["adam", "sgd"]},
                       "mom": {"min": 0.0, "max": 0.99, "when": {"opt": "sgd"}}},
        "run": {"trials": 10, "parallel": 2}}"#,
    r#"{"method": "grid", "parameters": {"a": {"values": [1, 2, 3]},
        "b": {"parameters": {"c": {"min": 1, "max": 9, "step": 2}}}}}"#,
    r#"{"x": {"_type": "quniform", "_value": [0, 10, 0.5]}, "y": {"_type": "choice", "_value": [1, 2]}}"#,
    r#"{"method": "bayes", "metric": {"name": "acc", "goal": "maximize"},
        "early_terminate": {"type": "hyperband", "min_iter": 3},
        "parameters": {"n": {"distribution": "q_log_normal", "mu": 1, "sigma": 2, "q": 1}}}"#,
];

/// Characters a mutation inserts: JSON's syntax and the numbers that hurt.
const PIECES: [&str; 16] = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "-",
    "1e308",
    "9223372036854775807",
    "-9223372036854775808",
    "1e-320",
    "0",
    "null",
    "\"min\"",
    "\"values\"",
];

fn mutate(text: &str, edits: &[(usize, u8, usize)]) -> String {
    let mut out = text.to_owned();
    for &(at, kind, piece) in edits {
        let mut at = at % (out.len() + 1);
        while !out.is_char_boundary(at) {
            at -= 1;
        }
        match kind % 3 {
            0 => out.insert_str(at, PIECES[piece % PIECES.len()]),
            1 => {
                let mut end = (at + 1 + piece % 8).min(out.len());
                while !out.is_char_boundary(end) {
                    end += 1;
                }
                out.replace_range(at..end, "");
            }
            _ => {
                let copy: String = out[at..].chars().take(piece % 40).collect();
                out.insert_str(at, &copy);
            }
        }
    }
    out
}

fn exercise(text: &str, file: &str) {
    if let Ok(spec) = parse_sweep(text, file) {
        let mut searcher = build_searcher(spec.method, &SearcherOptions::default(), 1);
        let history = History::new(spec.metric.goal);
        let mut rng = suggestion_rng(1, 0);
        if let Ok(params) = searcher.suggest(&spec.space, &history, &mut rng) {
            assert!(spec.space.admits(&params), "{text}\n{params:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_sweep_files_parse_or_fail_cleanly(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..6),
    ) {
        let text = mutate(SEEDS[seed], &edits);
        exercise(&text, "sweep.json");
        exercise(&text, "sweep.yaml");
    }

    #[test]
    fn arbitrary_text_parses_or_fails_cleanly(text in "\\PC{0,200}") {
        exercise(&text, "sweep.json");
        exercise(&text, "sweep.yaml");
    }
}
