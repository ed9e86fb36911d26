//! `status`, `best` and `export` while `hypersweep run` owns the store: they
//! read it through the owner's live socket; after the owner is killed, its
//! trials show as stale.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cli_support::{hypersweep, path, python_sweep, run, run_ok, text};
use hypersweep::search::TrialState;
use hypersweep::trials::{SledStorage, Trial};
use serde_json::json;

/// Trial 0 ends at once; the others block until `release` appears in the
/// test's directory, or the directory is gone: a trial orphaned by the
/// kill -9 test may miss the release file, written just before the
/// directory is deleted, and would otherwise poll for ever.
const TRIAL: &str = r#"
import json, os, pathlib, sys, time
n = int(os.environ["HYPERSWEEP_TRIAL"])
if n > 0:
    release = pathlib.Path(sys.argv[1]) / "release"
    while not release.exists():
        if not release.parent.exists():
            sys.exit("the test's directory is gone")
        time.sleep(0.05)
print(json.dumps({"loss": float(n)}))
"#;

/// A running sweep of three trials, two at once; dropping it releases the
/// blocked trials and stops the sweep if it still runs.
struct Sweep {
    dir: tempfile::TempDir,
    child: Child,
}

impl Sweep {
    fn start() -> Sweep {
        let dir = tempfile::tempdir().unwrap();
        let spec = python_sweep(
            dir.path(),
            TRIAL,
            json!({
                "method": "random",
                "metric": {"name": "loss", "goal": "minimize"},
                "parameters": {"x": {"min": 0.0, "max": 1.0}},
                "run": {"trials": 3, "parallel": 2}
            }),
        );
        // The script finds the release file through its first argument.
        let mut sweep: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&spec).unwrap()).unwrap();
        sweep["command"]
            .as_array_mut()
            .unwrap()
            .push(json!(path(dir.path())));
        std::fs::write(&spec, sweep.to_string()).unwrap();
        let store = dir.path().join("store");
        let child = hypersweep(&["run", path(&spec), "--storage", path(&store)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Sweep { dir, child }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn release(&self) {
        std::fs::write(self.dir.path().join("release"), "").unwrap();
    }

    /// Polls `export` until it shows trial 0 complete and trials 1 and 2
    /// running, i.e. until both blocked trials have started.
    fn wait_for_two_running(&self) -> Vec<Trial> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = run(&[
                "export",
                "--storage",
                path(&self.store()),
                "--format",
                "json",
            ]);
            if out.status.success() {
                let trials: Vec<Trial> = serde_json::from_slice(&out.stdout).unwrap();
                if counts(&trials) == (1, 2) {
                    return trials;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the sweep never had 1 complete and 2 running trials; last export: {}",
                text(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sweep {
    fn drop(&mut self) {
        self.release();
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// (complete, running).
fn counts(trials: &[Trial]) -> (usize, usize) {
    let n = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
    (n(TrialState::Complete), n(TrialState::Running))
}

fn status(store: &Path) -> (String, String) {
    let out = run_ok(&["status", "--storage", path(store)]);
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn status_best_and_export_read_a_running_sweep_through_its_owner() {
    let mut sweep = Sweep::start();
    let trials = sweep.wait_for_two_running();
    assert_eq!(trials.len(), 3);
    let store = sweep.store();

    let (stdout, stderr) = status(&store);
    assert!(
        stdout.contains("3 total: 1 complete, 0 pruned, 0 failed, 2 running\n"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("in use by pid {}", sweep.child.id())),
        "{stderr}"
    );
    let best = run_ok(&["best", "--storage", path(&store)]);
    let best: serde_json::Value = serde_json::from_slice(&best.stdout).unwrap();
    assert_eq!(best["number"], 0);
    assert_eq!(best["value"], 0.0);
    let csv = run_ok(&["export", "--storage", path(&store), "--format", "csv"]);
    assert_eq!(text(&csv.stdout).lines().count(), 4, "a header and 3 rows");

    sweep.release();
    let exit = sweep.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(!store.join(hypersweep::live::SOCKET_FILE).exists());
    let (stdout, stderr) = status(&store);
    assert!(stdout.contains("3 total: 3 complete"), "{stdout}");
    assert!(!stderr.contains("in use by pid"), "read directly: {stderr}");
}

#[test]
fn after_kill_9_the_dead_owners_trials_show_as_stale() {
    let mut sweep = Sweep::start();
    sweep.wait_for_two_running();
    sweep.child.kill().unwrap();
    sweep.child.wait().unwrap();

    let (stdout, _) = status(&sweep.store());
    assert!(
        stdout.contains(
            "1 complete, 0 pruned, 0 failed, \
             2 running (stale: left by a stopped process; the next run reaps them)"
        ),
        "{stdout}"
    );
}

#[test]
fn an_owner_without_a_live_socket_keeps_the_locked_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let _owner = SledStorage::open(&store).unwrap();
    let out = run(&["status", "--storage", path(&store)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("in use by another hypersweep process"),
        "{}",
        text(&out.stderr)
    );
}
