//! Many processes on one study, through a real PostgreSQL server: one `run`
//! and several `worker`s share the budget and the grid, and a process killed
//! with SIGKILL loses nothing.
//!
//! The server is named by `HYPERSWEEP_TEST_POSTGRES` (`.ci/run` starts one
//! with `scripts/pg-test-server.sh`); each test makes a database of its own
//! with `psql`. Without the variable the tests say why and pass, except under
//! CI, where a missing server is a failure.

mod cli_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{BIN, python_sweep, text};
use hypersweep::search::TrialState;
use hypersweep::trials::Trial;
use hypersweep::trials::scheduler::Budget;

const URL_ENV: &str = "HYPERSWEEP_TEST_POSTGRES";

/// A database of its own on the test server, dropped at the end.
struct Database {
    server: String,
    name: String,
    url: String,
}

impl Database {
    fn create(tag: &str) -> Option<Database> {
        let Some(server) = std::env::var(URL_ENV).ok().filter(|u| !u.trim().is_empty()) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{URL_ENV} is unset: CI must start PostgreSQL (scripts/pg-test-server.sh)"
            );
            eprintln!(
                "skipped: {URL_ENV} is unset (start a server with scripts/pg-test-server.sh)"
            );
            return None;
        };
        let name = format!("hypersweep_cli_{tag}_{}", std::process::id());
        psql(
            &server,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        psql(&server, &format!("CREATE DATABASE {name}"));
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Some(Database { server, name, url })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        psql(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql runs (Debian package postgresql-client)");
    assert!(out.status.success(), "psql {sql}: {}", text(&out.stderr));
}

/// `hypersweep args` run in `dir` (trial logs go to `dir/hypersweep-logs`).
fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

fn finish(child: Child, what: &str) {
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn export(dir: &Path, url: &str, study: &str) -> Vec<Trial> {
    let out = Command::new(BIN)
        .args([
            "export",
            "--storage",
            url,
            "--study",
            study,
            "--format",
            "json",
        ])
        .current_dir(dir)
        .output()
        .expect("export runs");
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// Waits until `done(trials)` holds, for at most two minutes.
fn wait_for(dir: &Path, url: &str, study: &str, what: &str, done: impl Fn(&[Trial]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if done(&export(dir, url, study)) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One `run` of `spec`, then, once its study exists, three `worker`s on it.
fn run_and_workers(dir: &Path, spec: &Path, url: &str, study: &str) -> (Child, Vec<Child>) {
    let run = spawn(dir, &["run", spec.to_str().unwrap(), "--storage", url]);
    wait_for(dir, url, study, "the study to start", |t| !t.is_empty());
    let workers = (0..3)
        .map(|_| spawn(dir, &["worker", "--storage", url, "--study", study]))
        .collect();
    (run, workers)
}

/// A trial process that sleeps a little, so that processes overlap, and
/// reports `loss`.
const TRIAL: &str = "import json, os, time\n\
p = json.loads(os.environ['HYPERSWEEP_PARAMS'])\n\
time.sleep(0.15)\n\
print(json.dumps({'loss': float(p['x']) + float(p.get('y', 0))}))\n";

#[test]
fn four_processes_take_every_grid_point_exactly_once() {
    let Some(db) = Database::create("grid") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = python_sweep(
        dir.path(),
        TRIAL,
        serde_json::json!({
            "name": "grid60",
            "method": "grid",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {
                "x": {"values": [0, 1, 2, 3, 4, 5]},
                "y": {"values": [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]}
            },
            "run": {"parallel": 2, "seed": 1}
        }),
    );
    let url = db.url.as_str();
    let (run, workers) = run_and_workers(dir.path(), &spec, url, "grid60");
    finish(run, "run");
    for w in workers {
        finish(w, "worker");
    }
    let trials = export(dir.path(), url, "grid60");
    assert_eq!(trials.len(), 60, "one trial per grid point");
    let numbers: BTreeSet<u64> = trials.iter().map(|t| t.number).collect();
    assert_eq!(
        numbers,
        (0..60).collect(),
        "numbers 0..59, no gaps or repeats"
    );
    let mut points: BTreeMap<String, u64> = BTreeMap::new();
    for t in &trials {
        assert_eq!(
            t.state,
            TrialState::Complete,
            "trial {}: {:?}",
            t.number,
            t.error
        );
        *points
            .entry(serde_json::to_string(&t.params).unwrap())
            .or_default() += 1;
    }
    assert_eq!(points.len(), 60, "every point once: {points:?}");
    let processes: BTreeSet<&str> = trials.iter().filter_map(|t| t.worker.as_deref()).collect();
    assert!(
        processes.len() >= 2,
        "the workers took part (trials ran in {processes:?})"
    );
}

#[test]
fn a_budget_shared_by_four_processes_survives_one_killed() {
    let Some(db) = Database::create("kill") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = python_sweep(
        dir.path(),
        TRIAL,
        serde_json::json!({
            "name": "tpe80",
            "method": "tpe",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {
                "x": {"min": -5.0, "max": 5.0},
                "y": {"distribution": "log_uniform_values", "min": 0.001, "max": 1.0}
            },
            "run": {"trials": 80, "parallel": 2, "seed": 7, "stale_after": "2s"}
        }),
    );
    let url = db.url.as_str();
    let (run, mut workers) = run_and_workers(dir.path(), &spec, url, "tpe80");
    // Kill one worker while it runs trials, mid-sweep.
    let victim = workers.remove(0);
    let victim_tag = format!("localhost:{}", victim.id());
    wait_for(dir.path(), url, "tpe80", "the victim to run a trial", |t| {
        let done = t.iter().filter(|t| t.state.is_finished()).count();
        done >= 10
            && t.iter()
                .any(|t| t.state == TrialState::Running && t.worker.as_deref() == Some(&victim_tag))
    });
    let mut victim = victim;
    victim.kill().expect("SIGKILL");
    victim.wait().expect("reaped");
    finish(run, "run");
    for w in workers {
        finish(w, "worker");
    }
    // A worker that joins now finds the budget spent and leaves at once.
    finish(
        spawn(
            dir.path(),
            &["worker", "--storage", url, "--study", "tpe80"],
        ),
        "late worker",
    );
    let trials = export(dir.path(), url, "tpe80");
    let numbers: Vec<u64> = trials.iter().map(|t| t.number).collect();
    assert_eq!(
        numbers,
        (0..trials.len() as u64).collect::<Vec<_>>(),
        "numbers without gaps or repeats"
    );
    assert!(
        trials.iter().all(|t| t.state.is_finished()),
        "nothing left Running"
    );
    let interrupted: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.worker.as_deref() == Some(&victim_tag) && t.state == TrialState::Failed)
        .collect();
    assert!(
        !interrupted.is_empty(),
        "the killed worker's trials were reaped as failed"
    );
    let budget = Budget::from_trials(&trials, Some(80), 0);
    assert_eq!(budget.counted(), 80, "exactly the budget is counted");
}

#[test]
fn three_confirm_processes_share_one_round() {
    let Some(db) = Database::create("confirm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = python_sweep(
        dir.path(),
        TRIAL,
        serde_json::json!({
            "name": "confirm",
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "run": {"trials": 8, "parallel": 2, "seed": 3}
        }),
    );
    let url = db.url.as_str();
    finish(
        spawn(
            dir.path(),
            &["run", spec.to_str().unwrap(), "--storage", url],
        ),
        "run",
    );
    // The same command in three processes: each claims the round's next
    // configuration under the study's lock, as workers of a search do.
    let confirm = [
        "confirm",
        "--storage",
        url,
        "--study",
        "confirm",
        "--top",
        "6",
        "--repeats",
        "2",
        "--parallel",
        "1",
    ];
    let processes: Vec<Child> = (0..3).map(|_| spawn(dir.path(), &confirm)).collect();
    for p in processes {
        finish(p, "confirm");
    }
    let trials = export(dir.path(), url, "confirm");
    let round: Vec<&Trial> = trials.iter().filter(|t| !t.role.is_search()).collect();
    let variants: Vec<u32> = round.iter().filter_map(|t| t.role.variant()).collect();
    let distinct: BTreeSet<u32> = variants.iter().copied().collect();
    assert_eq!(variants.len(), 6, "each configuration once: {variants:?}");
    assert_eq!(distinct, (0..6).collect(), "all six of the round");
    assert!(round.iter().all(|t| t.state == TrialState::Complete));
    let workers: BTreeSet<&str> = round.iter().filter_map(|t| t.worker.as_deref()).collect();
    assert!(
        workers.len() >= 2,
        "the processes shared the round: {workers:?}"
    );
    let budget = Budget::from_trials(&trials, Some(8), 0);
    assert_eq!(budget.counted(), 8, "the search's budget ignores the round");
}
