//! Early stopping through the binary: a sweep file with W&B's hyperband.

mod cli_support;

use cli_support::{export_json, path, run_ok, text};
use hypersweep::search::TrialState;

/// Ten epochs; the loss falls with the epoch, and a larger `x` is worse.
const TRAIN: &str = r#"
import json, os
x = json.loads(os.environ["HYPERSWEEP_PARAMS"])["x"]
for epoch in range(1, 11):
    print(json.dumps({"epoch": epoch, "loss": x + 1.0 / epoch}), flush=True)
"#;

#[test]
fn a_wandb_hyperband_sweep_prunes_only_at_band_iterations_and_completes_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let spec = cli_support::python_sweep(
        dir.path(),
        TRAIN,
        serde_json::json!({
            "name": "bands",
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "run": {"trials": 16, "parallel": 2, "seed": 5}
        }),
    );
    let check = text(&run_ok(&["check", path(&spec)]).stdout);
    assert!(
        check.contains("W&B's bands") && check.contains("iterations 2, 4, 8, 16"),
        "{check}"
    );
    run_ok(&["run", path(&spec), "--storage", path(&store)]);
    let trials = export_json(&store);
    assert_eq!(trials.len(), 16, "the budget, no more");
    let pruned: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .collect();
    let complete = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .count();
    assert_eq!(pruned.len() + complete, 16, "every trial ended well");
    assert!(!pruned.is_empty(), "a losing trial was pruned");
    for t in &pruned {
        let iterations = t.intermediate.len();
        assert!(
            [2, 4, 8].contains(&iterations),
            "trial {} pruned after {iterations} values",
            t.number
        );
        assert_eq!(
            t.value,
            t.intermediate.last().map(|r| r.1),
            "its last value"
        );
    }
    let status = text(&run_ok(&["status", "--storage", path(&store)]).stdout);
    assert!(
        status.contains(&format!("{} pruned", pruned.len())),
        "{status}"
    );
}
