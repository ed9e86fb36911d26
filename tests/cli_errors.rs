//! Errors the user sees: a malformed sweep file (exit 2, with the JSON path)
//! and a store already in use by a running sweep (the owner's pid).

mod cli_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use cli_support::{hypersweep, path, python_sweep, run, text};
use serde_json::json;

#[test]
fn malformed_spec_exits_2_naming_the_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.json");
    std::fs::write(
        &spec,
        r#"{"method": "random", "parameters": {"lr": {"min": 0.1, "max": "big"}}, "command": ["true"]}"#,
    )
    .unwrap();
    let store = dir.path().join("store");
    let out = run(&["run", path(&spec), "--storage", path(&store)]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("parameters.lr.max"), "{err}");
    assert!(!store.exists(), "nothing is created for a bad spec");

    let out = run(&[
        "run",
        path(&spec),
        "--storage",
        path(&store),
        "--method",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_second_command_on_a_store_in_use_reports_the_owner_pid() {
    let dir = tempfile::tempdir().unwrap();
    let spec = python_sweep(
        dir.path(),
        "import time\ntime.sleep(30)\n",
        json!({
            "method": "random",
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "run": {"trials": 1}
        }),
    );
    let store = dir.path().join("store");
    let mut child = hypersweep(&["run", path(&spec), "--storage", path(&store)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until the sweep owns the store (its pid file names it).
    let start = Instant::now();
    let pid_file = store.join("owner.pid");
    while std::fs::read_to_string(&pid_file).map_or(true, |t| t.trim() != pid.to_string()) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the sweep never took the store"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let asked = Instant::now();
    let out = run(&["status", "--storage", path(&store)]);
    let quick = asked.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    assert!(quick < Duration::from_secs(5), "took {quick:?}");
}
