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

/// Regression: `run` used to mark every Running trial failed at start, so a
/// trial asked before the run could not be told afterwards.
#[test]
fn a_trial_asked_before_a_run_can_still_be_told() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let spec = cli_support::python_sweep(
        dir.path(),
        "import json; print(json.dumps({'loss': 1.0}))",
        serde_json::json!({
            "name": "mixed",
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "run": {"trials": 3, "parallel": 1, "seed": 3}
        }),
    );
    let asked: serde_json::Value = serde_json::from_slice(
        &run_ok(&["ask", "--storage", path(&store), "--spec", path(&spec)]).stdout,
    )
    .unwrap();
    assert_eq!(asked["trial"], 0);
    run_ok(&["run", path(&spec), "--storage", path(&store)]);
    let before = export_json(&store);
    assert_eq!(
        before[0].state,
        TrialState::Running,
        "the asked trial is kept"
    );
    assert!(before[0].asked);
    run_ok(&[
        "tell",
        "--storage",
        path(&store),
        "--trial",
        "0",
        "--value",
        "0.5",
    ]);
    let after = export_json(&store);
    assert_eq!(
        (after[0].state, after[0].value),
        (TrialState::Complete, Some(0.5))
    );
    let complete = after
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .count();
    assert_eq!(
        complete, 3,
        "the run's budget of 3 counted the asked trial once it ended"
    );
}

#[test]
fn tell_with_a_step_answers_prune_or_continue() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let spec = dir.path().join("asha.json");
    std::fs::write(
        &spec,
        serde_json::json!({
            "name": "asha",
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "early_terminate": {"type": "asha", "min_resource": 1, "eta": 2},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "run": {"seed": 3}
        })
        .to_string(),
    )
    .unwrap();
    let store_arg = path(&store);
    let ask = || {
        let out: serde_json::Value = serde_json::from_slice(
            &run_ok(&["ask", "--storage", store_arg, "--spec", path(&spec)]).stdout,
        )
        .unwrap();
        out["trial"].to_string()
    };
    let tell_step = |trial: &str, step: &str, value: &str| {
        let out = run_ok(&[
            "tell",
            "--storage",
            store_arg,
            "--trial",
            trial,
            "--step",
            step,
            "--value",
            value,
        ]);
        text(&out.stdout).trim().to_owned()
    };
    let good = ask();
    assert_eq!(tell_step(&good, "1", "0.1"), "continue");
    let bad = ask();
    // Two values at rung 1, eta 2: one continues, the better.
    assert_eq!(tell_step(&bad, "1", "0.9"), "prune");
    run_ok(&[
        "tell",
        "--storage",
        store_arg,
        "--trial",
        &bad,
        "--state",
        "pruned",
        "--value",
        "0.9",
    ]);
    let trials = export_json(&store);
    assert_eq!(trials[1].state, TrialState::Pruned);
    assert_eq!(trials[1].intermediate, vec![(1, 0.9)]);
    assert_eq!(trials[0].state, TrialState::Running);
}
