//! Regression through the binary: a `seed` over the int32 range under TPE
//! once peaked at 16.8 GB RSS; wider ranges or a tiny `q` aborted and left a
//! trial Running. Now the widest ranges are refused by `check` and `run`
//! with the parameter's path and the limit, and the accepted ones run in
//! bounded memory. (Every searcher is covered in the search crate's
//! `huge_domains` test; this is the binary's side.)
//!
//! One test in this binary, so `RUSAGE_CHILDREN` is this sweep's peak.

mod cli_support;

use cli_support::{export_json, path, python_sweep, run, run_ok, text};
use hypersweep::search::TrialState;
use serde_json::json;

const SCRIPT: &str = r#"
import json, os
p = json.loads(os.environ["HYPERSWEEP_PARAMS"])
print(json.dumps({"loss": (p["seed"] % 7) + p["fine"]}), flush=True)
"#;

/// Far below one byte per value of the int32 range.
const PEAK_RSS_LIMIT_KIB: i64 = 192 * 1024;

#[test]
fn huge_ranges_are_refused_with_their_path_or_run_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let too_wide = dir.path().join("too_wide.json");
    std::fs::write(
        &too_wide,
        r#"{"method": "tpe", "metric": {"name": "loss"}, "command": ["true"],
            "parameters": {"seed": {"distribution": "int_uniform",
                "min": -9223372036854775808, "max": 9223372036854775807}}}"#,
    )
    .unwrap();
    let scratch = dir.path().join("scratch");
    let check = ["check", path(&too_wide)];
    let run_it = ["run", path(&too_wide), "--storage", path(&scratch)];
    for args in [&check[..], &run_it[..]] {
        let (out, command) = (run(args), args[0]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("parameters.seed.min") && stderr.contains("2^53"),
            "{command}: {stderr}"
        );
    }

    let spec = python_sweep(
        dir.path(),
        SCRIPT,
        json!({
            "method": "tpe",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {
                "seed": {"distribution": "int_uniform", "min": i32::MIN, "max": i32::MAX},
                "fine": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 1e-12}
            },
            "run": {"trials": 15, "parallel": 2}
        }),
    );
    let store = dir.path().join("store");
    run_ok(&["run", path(&spec), "--storage", path(&store)]);
    // SAFETY: getrusage fills the struct we own; all-zero is a valid rusage.
    let peak = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss
    };
    let trials = export_json(&store);
    assert_eq!(trials.len(), 15);
    assert!(
        trials.iter().all(|t| t.state == TrialState::Complete),
        "{trials:#?}"
    );
    assert!(peak < PEAK_RSS_LIMIT_KIB, "peak RSS {peak} KiB");
}
