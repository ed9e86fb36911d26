//! No orphans: after `kill -9` of `run`, no trial process (nor anything a
//! trial started in its process group) stays alive. Before the watchdog,
//! they lived on until they next wrote to their closed pipes.

mod cli_support;

use std::path::Path;
use std::time::{Duration, Instant};

use cli_support::{hypersweep, path, python_sweep};
use serde_json::json;

/// A trial that starts a child in its group, records both pids, and then
/// waits silently (as a trial between two epochs does).
const SCRIPT: &str = r#"
import os, subprocess, time
here = os.path.dirname(os.path.abspath(__file__))
trial = os.environ["HYPERSWEEP_TRIAL"]
child = subprocess.Popen(["sleep", "300"])
for name, pid in [("trial", os.getpid()), ("child", child.pid)]:
    tmp = os.path.join(here, "pids", f"{name}-{trial}.tmp")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, tmp[:-4])
time.sleep(300)
"#;

/// Generous: the watchdog reacts within milliseconds.
const DEADLINE: Duration = Duration::from_secs(20);

fn pids(dir: &Path) -> Vec<i32> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter_map(|text| text.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Alive and not a zombie (a zombie has exited; only its parent's wait is
/// missing).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn no_trial_process_outlives_a_sigkilled_run() {
    let dir = tempfile::tempdir().unwrap();
    let pid_dir = dir.path().join("pids");
    std::fs::create_dir(&pid_dir).unwrap();
    let spec = python_sweep(
        dir.path(),
        SCRIPT,
        json!({
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "run": {"trials": 2, "parallel": 2}
        }),
    );
    let store = dir.path().join("store");
    let mut run = hypersweep(&["run", path(&spec), "--storage", path(&store)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let start = Instant::now();
    while pids(&pid_dir).len() < 4 {
        assert!(start.elapsed() < DEADLINE, "the trials did not start");
        assert!(run.try_wait().unwrap().is_none(), "run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let trial_pids = pids(&pid_dir);
    assert!(trial_pids.iter().all(|&p| alive(p)));

    run.kill().unwrap(); // SIGKILL
    run.wait().unwrap();

    let start = Instant::now();
    loop {
        let living: Vec<i32> = trial_pids.iter().copied().filter(|&p| alive(p)).collect();
        if living.is_empty() {
            break;
        }
        if start.elapsed() > DEADLINE {
            for &p in &living {
                // SAFETY: kill(2) on pids this test's trials reported.
                unsafe {
                    libc::kill(p, libc::SIGKILL);
                }
            }
            panic!("trial processes {living:?} outlived the SIGKILLed run");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
