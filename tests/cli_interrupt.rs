//! Ctrl-C during `hypersweep run`: once lets the running trials finish,
//! twice cancels them; nothing is left Running either way.

mod cli_support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cli_support::{export_json, hypersweep, path, python_sweep};
use hypersweep::search::TrialState;
use hypersweep::trials::scheduler::is_interrupted;
use serde_json::json;

/// Starts a sweep of slow trials and waits until it owns its store.
fn start(dir: &std::path::Path) -> Child {
    let spec = python_sweep(
        dir,
        "import json, time\ntime.sleep(1.5)\nprint(json.dumps({'loss': 1.0}))\n",
        json!({
            "method": "random",
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "run": {"trials": 10, "parallel": 2}
        }),
    );
    let store = dir.join("store");
    let child = hypersweep(&["run", path(&spec), "--storage", path(&store)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let pid_file = store.join("owner.pid");
    while std::fs::read_to_string(&pid_file).map_or(true, |t| t.trim() != child.id().to_string()) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the sweep never took the store"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Wait until both slots have started their trials (each opens its log
    // file, logs/STUDY/trial-*.log, as it starts); a fixed sleep was too
    // short on a loaded machine.
    let logs = store.join("logs");
    let started = || {
        std::fs::read_dir(&logs).map_or(0, |studies| {
            studies
                .flatten()
                .map(|s| std::fs::read_dir(s.path()).map_or(0, |d| d.count()))
                .sum::<usize>()
        })
    };
    while started() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the two trials never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    child
}

fn interrupt(child: &Child) {
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
}

#[test]
fn one_ctrl_c_lets_running_trials_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = start(dir.path());
    interrupt(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let trials = export_json(&dir.path().join("store"));
    assert_eq!(trials.len(), 2, "nothing new after Ctrl-C");
    assert!(
        trials.iter().all(|t| t.state == TrialState::Complete),
        "{trials:?}"
    );
}

#[test]
fn two_ctrl_c_cancel_running_trials() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = start(dir.path());
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(100));
    interrupt(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let trials = export_json(&dir.path().join("store"));
    assert_eq!(trials.len(), 2);
    assert!(trials.iter().all(is_interrupted), "{trials:?}");
}
