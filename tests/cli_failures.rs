//! Trials that fail in each way a process can (non-zero exit, hanging past
//! `trial_timeout`, reporting NaN) are recorded Failed with a reason, and
//! the sweep still completes its budget.

mod cli_support;

use cli_support::{export_json, path, python_sweep, run_ok};
use hypersweep::search::TrialState;
use serde_json::json;

const SCRIPT: &str = r#"
import json, os, sys, time
trial = int(os.environ["HYPERSWEEP_TRIAL"])
x = json.loads(os.environ["HYPERSWEEP_PARAMS"])["x"]
if trial == 0:
    print("no GPU memory left", file=sys.stderr)
    sys.exit(3)
if trial == 1:
    time.sleep(60)
if trial == 2:
    print('{"step": 1, "loss": NaN}', flush=True)
    sys.exit(0)
print(json.dumps({"step": 1, "loss": x * x}), flush=True)
"#;

#[test]
fn failing_hanging_and_nan_trials_are_failed_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let spec = python_sweep(
        dir.path(),
        SCRIPT,
        json!({
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"min": -1.0, "max": 1.0}},
            "run": {"trials": 6, "parallel": 3, "trial_timeout": 3}
        }),
    );
    let store = dir.path().join("store");
    run_ok(&["run", path(&spec), "--storage", path(&store)]);
    let trials = export_json(&store);
    assert_eq!(trials.len(), 6);
    let reason = |i: usize| {
        assert_eq!(trials[i].state, TrialState::Failed, "trial {i}");
        trials[i].error.clone().unwrap_or_default()
    };
    assert!(
        reason(0).contains("exit code 3") && reason(0).contains("no GPU memory left"),
        "{}",
        reason(0)
    );
    assert!(reason(1).contains("timed out"), "{}", reason(1));
    assert!(
        reason(2).to_lowercase().contains("non-finite"),
        "{}",
        reason(2)
    );
    for t in &trials[3..] {
        assert_eq!(t.state, TrialState::Complete, "{:?}", t.error);
    }
}
