//! `ask` and `tell` from the shell: a trainer that drives itself.

mod cli_support;

use cli_support::{export_json, path, run, run_ok, text};
use hypersweep::search::TrialState;
use hypersweep::search::sweep::parse_sweep;

#[test]
fn ask_prints_a_trial_and_tell_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let spec = "examples/quickstart.json";
    let asked = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["ask", "--storage", path(&store)];
        args.extend_from_slice(extra);
        serde_json::from_slice(&run_ok(&args).stdout).unwrap()
    };
    let first = asked(&["--spec", spec]);
    let second = asked(&[]);
    assert_eq!(first["trial"], 0);
    assert_eq!(second["trial"], 1);
    let space = parse_sweep(
        &std::fs::read_to_string(cli_support::root().join(spec)).unwrap(),
        spec,
    )
    .unwrap()
    .space;
    let params: hypersweep::search::Params =
        serde_json::from_value(first["params"].clone()).unwrap();
    assert!(space.admits(&params));

    run_ok(&[
        "tell",
        "--storage",
        path(&store),
        "--trial",
        "0",
        "--value",
        "0.25",
    ]);
    run_ok(&[
        "tell",
        "--storage",
        path(&store),
        "--trial",
        "1",
        "--state",
        "failed",
        "--error",
        "CUDA OOM",
    ]);
    let again = run(&[
        "tell",
        "--storage",
        path(&store),
        "--trial",
        "0",
        "--value",
        "0.1",
    ]);
    assert!(!again.status.success(), "a finished trial is final");
    assert!(
        text(&again.stderr).contains("already finished"),
        "{}",
        text(&again.stderr)
    );

    let trials = export_json(&store);
    assert_eq!(
        (trials[0].state, trials[0].value),
        (TrialState::Complete, Some(0.25))
    );
    assert_eq!(trials[1].state, TrialState::Failed);
    assert_eq!(trials[1].error.as_deref(), Some("CUDA OOM"));
    let status = text(&run_ok(&["status", "--storage", path(&store)]).stdout);
    assert!(
        status.contains("1 complete") && status.contains("1 failed"),
        "{status}"
    );
}
