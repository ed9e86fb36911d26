//! A NAS sweep through the binary: `method: "evolution"` over a `cell`
//! param. The trial process gets the architecture string like any other
//! param (in `HYPERSWEEP_PARAMS` and as a `{arch}` placeholder), and every
//! trial runs a connected cell of the space.

mod cli_support;

use cli_support::{export_json, path, python, run_ok};
use hypersweep::search::TrialState;
use hypersweep::search::cell::{is_connected, parse_arch};
use serde_json::json;

const OPS: [&str; 5] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
];

/// Scores a cell by its count of 3x3 convolutions; fails when the
/// placeholder and the env var disagree.
const SCRIPT: &str = r#"
import json, os, sys
p = json.loads(os.environ["HYPERSWEEP_PARAMS"])
if sys.argv[1] != p["arch"]:
    sys.exit("placeholder %r != param %r" % (sys.argv[1], p["arch"]))
print(json.dumps({"acc": p["arch"].count("nor_conv_3x3")}), flush=True)
"#;

#[test]
fn evolution_sweep_over_a_cell_runs_connected_architectures() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("trial.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let spec = dir.path().join("nas.json");
    let doc = json!({
        "method": "evolution",
        "evolution": {"population": 4, "sample_size": 2},
        "metric": {"name": "acc", "goal": "maximize"},
        "parameters": {"arch": {"distribution": "cell", "nodes": 4, "ops": OPS}},
        "command": [python(), path(&script), "{arch}"],
        "run": {"trials": 12, "parallel": 2, "seed": 3}
    });
    std::fs::write(&spec, doc.to_string()).unwrap();
    let store = dir.path().join("store");
    run_ok(&["run", path(&spec), "--storage", path(&store)]);
    let trials = export_json(&store);
    assert_eq!(trials.len(), 12);
    for t in &trials {
        assert_eq!(t.state, TrialState::Complete, "{t:#?}");
        let arch = t.params.get("arch").and_then(|v| v.as_str()).unwrap_or("");
        let choice = parse_arch(arch, 4, &OPS).unwrap_or_else(|| panic!("not a cell: {arch}"));
        assert!(is_connected(4, &OPS, &choice), "{arch}");
    }
}
