//! `run --repeats`, `confirm` and `ablate` through the binary: seeds reach
//! the trial process, a round killed with `kill -9` resumes with the same
//! seeds and finishes each configuration once, and a bad baseline file is
//! refused with its name and the param it got wrong.

mod cli_support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use cli_support::{export_json, hypersweep, path, run, run_ok, text};
use hypersweep::search::TrialState;
use hypersweep::trials::TrialRole;

/// A training run whose value is its param plus noise drawn from its seed,
/// which it also echoes; `x` and `y` matter, `z` does not.
const TRAIN: &str = r#"
import json, os, random, sys, time
params = json.loads(os.environ["HYPERSWEEP_PARAMS"])
seed = int(os.environ["HYPERSWEEP_SEED"])
assert sys.argv[1] == str(seed), (sys.argv[1], seed)
time.sleep(0.1)
noise = random.Random(seed).gauss(0.0, 0.02)
loss = (params["x"] - 0.3) ** 2 + (params["y"] - 0.7) ** 2 + noise
print(json.dumps({"loss": loss, "seed_seen": seed}), flush=True)
"#;

fn sweep(dir: &std::path::Path) -> std::path::PathBuf {
    let spec = cli_support::python_sweep(
        dir,
        TRAIN,
        serde_json::json!({
            "name": "rounds",
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {
                "x": {"min": 0.0, "max": 1.0},
                "y": {"min": 0.0, "max": 1.0},
                "z": {"min": 0.0, "max": 1.0}
            },
            "run": {"trials": 10, "parallel": 3, "seed": 4, "repeats": 2}
        }),
    );
    // The seed as an argument too: `{seed}` in the command.
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec).expect("spec")).expect("json");
    value["command"]
        .as_array_mut()
        .expect("a command")
        .push("{seed}".into());
    std::fs::write(&spec, value.to_string()).expect("spec");
    spec
}

#[test]
fn repeats_confirm_after_kill_and_ablate_through_the_binary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = sweep(dir.path());
    let store = dir.path().join("store");
    let store = path(&store);
    run_ok(&["run", path(&spec), "--storage", store]);
    let search = export_json(std::path::Path::new(store));
    assert_eq!(search.len(), 10);
    for t in &search {
        assert_eq!(t.seeds.len(), 2, "two seeds per configuration");
        let r = t.repeats.as_ref().expect("the values of both seeds");
        assert_eq!(r.values.len(), 2);
        let mean = (r.values[0] + r.values[1]) / 2.0;
        assert!((t.value.expect("a value") - mean).abs() < 1e-12);
    }
    let status = text(&run_ok(&["status", "--storage", store]).stdout);
    assert!(
        status.contains("repeats   2 seeds per configuration"),
        "{status}"
    );
    assert!(status.contains("(95%, 2 seeds)"), "{status}");

    // Confirm, killed after its first configuration, then run again.
    let confirm = [
        "confirm",
        "--storage",
        store,
        "--top",
        "3",
        "--repeats",
        "3",
        "--parallel",
        "1",
    ];
    let mut child = hypersweep(&confirm)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("confirm starts");
    let stdout = child.stdout.take().expect("stdout");
    let first = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("trial "));
    assert!(first.is_some(), "a configuration finished before the kill");
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let out = run_ok(&confirm);
    let table = text(&out.stdout);
    assert!(
        table.contains("confirm round 0: 3 configurations"),
        "{table}"
    );
    assert!(table.contains("(95%, 3 seeds)"), "{table}");
    assert!(table.contains("winner trial"), "{table}");
    let trials = export_json(std::path::Path::new(store));
    let round: Vec<_> = trials.iter().filter(|t| !t.role.is_search()).collect();
    let seeds: BTreeSet<_> = round.iter().map(|t| t.seeds.clone()).collect();
    assert_eq!(
        seeds.len(),
        1,
        "one list of seeds for the round, re-runs included"
    );
    let complete: Vec<u32> = round
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| t.role.variant())
        .collect();
    let mut sorted = complete.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [0, 1, 2],
        "each configuration complete exactly once"
    );
    let status = text(&run_ok(&["status", "--storage", store]).stdout);
    assert!(
        status.contains("confirm   round 0: 3 of 3 configurations complete (done)"),
        "{status}"
    );
    assert!(status.contains("budget    10 of 10 counted"), "{status}");

    // Ablate from the best, with a baseline for x; y and z get their centre.
    let baseline = dir.path().join("baseline.json");
    std::fs::write(&baseline, r#"{"x": 1.0}"#).expect("baseline");
    let out = run_ok(&[
        "ablate",
        "--storage",
        store,
        "--baseline",
        path(&baseline),
        "--repeats",
        "3",
    ]);
    let table = text(&out.stdout);
    assert!(table.contains("ablate round 0: trial"), "{table}");
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("param"))
        .skip(1)
        .take(3)
        .collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[0].starts_with('x'),
        "x reset to 1.0 costs the most: {table}"
    );
    let ablated = export_json(std::path::Path::new(store))
        .into_iter()
        .filter(|t| matches!(t.role, TrialRole::Ablate { .. }))
        .count();
    assert_eq!(ablated, 4, "the best and one variant per param");

    // A baseline naming no param is refused, naming the file and the key.
    std::fs::write(&baseline, r#"{"learning_rate": 0.1}"#).expect("baseline");
    let out = run(&["ablate", "--storage", store, "--baseline", path(&baseline)]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("baseline.json") && err.contains("`learning_rate`"),
        "{err}"
    );

    // Counts out of range are refused before anything runs.
    let out = run(&["confirm", "--storage", store, "--repeats", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("an interval needs two seeds"));
    let other = dir.path().join("other");
    let out = run(&[
        "run",
        path(&spec),
        "--storage",
        path(&other),
        "--repeats",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--repeats must be from 1 to 1000"));
}
