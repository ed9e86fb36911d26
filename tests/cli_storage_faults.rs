//! A store with a damaged record: the study still loads, `status` counts
//! the record, and a run goes on around it without overwriting it.

mod cli_support;

use cli_support::{export_json, path, python_sweep, run_ok, text};
use hypersweep::search::TrialState;

/// The sled key of trial `number` of `study` (see `sled_codec.rs`).
fn trial_key(study: &str, number: u64) -> Vec<u8> {
    let mut key = (study.len() as u32).to_be_bytes().to_vec();
    key.extend_from_slice(study.as_bytes());
    key.extend_from_slice(&number.to_be_bytes());
    key
}

#[test]
fn a_corrupt_record_is_counted_by_status_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let spec = python_sweep(
        dir.path(),
        "import json, os\np = json.loads(os.environ['HYPERSWEEP_PARAMS'])\nprint(json.dumps({'loss': p['x']}))\n",
        serde_json::json!({
            "name": "damaged",
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "run": {"trials": 3, "seed": 2}
        }),
    );
    run_ok(&["run", path(&spec), "--storage", path(&store)]);
    {
        let db = sled::open(store.join("sled")).unwrap();
        let trials = db.open_tree("trials").unwrap();
        trials
            .insert(trial_key("damaged", 1), b"{\"study\": tru".as_slice())
            .unwrap();
        db.flush().unwrap();
    }
    let status = run_ok(&["status", "--storage", path(&store)]);
    let status = text(&status.stdout);
    assert!(
        status.contains(
            "unreadable 1 damaged record(s), skipped and kept in the store: trials/damaged/1"
        ),
        "{status}"
    );
    assert!(status.contains("2 total: 2 complete"), "{status}");

    run_ok(&[
        "run",
        path(&spec),
        "--storage",
        path(&store),
        "--trials",
        "5",
    ]);
    let trials = export_json(&store);
    let numbers: Vec<u64> = trials.iter().map(|t| t.number).collect();
    assert_eq!(
        numbers,
        vec![0, 2, 3, 4, 5],
        "number 1 stays with its record"
    );
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    let status = text(&run_ok(&["status", "--storage", path(&store)]).stdout);
    assert!(status.contains("unreadable 1"), "still kept: {status}");
}
