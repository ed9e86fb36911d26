//! `hypersweep run ... | head -1`: the reader goes away after one line. The
//! sweep must neither panic (exit 101) nor die of SIGPIPE; it finishes its
//! budget and records every trial.

mod cli_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use cli_support::{export_json, hypersweep, path, python_sweep};
use hypersweep::search::TrialState;
use serde_json::json;

const SCRIPT: &str = r#"
import json, os
x = json.loads(os.environ["HYPERSWEEP_PARAMS"])["x"]
print(json.dumps({"step": 1, "loss": x * x}), flush=True)
"#;

#[test]
fn run_piped_into_head_finishes_and_records_every_trial() {
    let dir = tempfile::tempdir().unwrap();
    let spec = python_sweep(
        dir.path(),
        SCRIPT,
        json!({
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"min": -1.0, "max": 1.0}},
            "run": {"trials": 8, "parallel": 1}
        }),
    );
    let store = dir.path().join("store");
    let mut child = hypersweep(&["run", path(&spec), "--storage", path(&store)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("trial 0 "), "{first}");
    // What `head -1` does: close the pipe's only read end.
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let trials = export_json(&store);
    assert_eq!(trials.len(), 8);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
}
