//! `kill -9` of a running sweep, then `run` again: the study ends with
//! exactly its budget of complete trials, none lost or duplicated, and the
//! trials that were running when the process died are marked failed.

mod cli_support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use cli_support::{export_json, hypersweep, path, run_ok, text};
use hypersweep::search::TrialState;
use hypersweep::trials::scheduler::is_interrupted;

#[test]
fn kill_dash_nine_then_run_again_ends_with_exactly_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let args = [
        "run",
        "examples/quickstart.json",
        "--storage",
        path(&store),
        "--trials",
        "12",
        "--parallel",
        "3",
    ];
    let mut child = hypersweep(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Stdout is not a terminal: one line per finished trial.
    let stdout = child.stdout.take().unwrap();
    let mut finished = 0;
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().starts_with("trial ") {
            finished += 1;
            if finished == 4 {
                break;
            }
        }
    }
    assert_eq!(finished, 4, "the sweep finished trials before the kill");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let out = run_ok(&args);
    assert!(
        text(&out.stdout).contains("12 trials counted"),
        "{}",
        text(&out.stdout)
    );

    let trials = export_json(&store);
    let complete: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    assert_eq!(complete.len(), 12);
    assert!(trials.iter().all(|t| t.state != TrialState::Running));
    let numbers: HashSet<u64> = trials.iter().map(|t| t.number).collect();
    assert_eq!(numbers.len(), trials.len(), "distinct numbers");
    assert_eq!(numbers, (0..trials.len() as u64).collect(), "no gaps");
    let params: HashSet<String> = complete
        .iter()
        .map(|t| serde_json::to_string(&t.params).unwrap())
        .collect();
    assert_eq!(params.len(), 12, "no configuration ran twice");
    let interrupted: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .collect();
    assert!(
        !interrupted.is_empty(),
        "the trials in flight at the kill are recorded"
    );
    assert!(
        interrupted.iter().all(|t| is_interrupted(t)),
        "{interrupted:?}"
    );
    assert_eq!(trials.len(), 12 + interrupted.len());
}
