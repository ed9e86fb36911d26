//! Trials that print what nobody planned for: a line far larger than
//! hypersweep could buffer, a report after a `\r` progress bar, a report
//! whose value is not a number, binary output. hypersweep's memory stays
//! bounded (measured as the peak RSS of its process), the report after `\r`
//! is read, the unreadable one fails its trial with the reason, and the log
//! keeps every byte.
//!
//! One test in this binary: the peak RSS of waited-for children
//! (`RUSAGE_CHILDREN`) is then that of this sweep and its trials.

mod cli_support;

use cli_support::{export_json, path, python_sweep, run_ok};
use hypersweep::search::TrialState;
use serde_json::json;

/// The long line: far more than the bound on hypersweep's memory below.
const LONG_LINE_MIB: usize = 200;

/// hypersweep's peak RSS must stay under this (it was about twice the long
/// line before lines were cut).
const PEAK_RSS_LIMIT_KIB: i64 = 96 * 1024;

const SCRIPT: &str = r##"
import json, os, sys
trial = int(os.environ["HYPERSWEEP_TRIAL"])
out = sys.stdout.buffer
if trial == 0:
    chunk = b"x" * (1 << 20)
    for _ in range(LONG_LINE_MIB):
        out.write(chunk)
    out.write(b"\n" + json.dumps({"loss": 0.0}).encode() + b"\n")
elif trial == 1:
    for p in range(0, 101, 10):
        out.write(b"\r%3d%%|" % p + b"#" * (p // 10))
    out.write(b"\r" + json.dumps({"step": 1, "loss": 1.0}).encode() + b"\n")
elif trial == 2:
    out.write(json.dumps({"loss": "high"}).encode() + b"\n")
else:
    out.write(bytes(range(256)) + b"\n" + json.dumps({"loss": 3.0}).encode() + b"\n")
out.flush()
"##;

fn peak_rss_of_children_kib() -> i64 {
    // SAFETY: getrusage fills the struct we own; all-zero is a valid rusage.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss
    }
}

#[test]
fn hostile_trial_output_keeps_memory_bounded_and_reports_read() {
    let dir = tempfile::tempdir().unwrap();
    let spec = json!({
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [0, 1, 2, 3]}},
        "run": {"trials": 4, "parallel": 1}
    });
    let script = SCRIPT.replace("LONG_LINE_MIB", &LONG_LINE_MIB.to_string());
    let spec = python_sweep(dir.path(), &script, spec);
    let store = dir.path().join("store");
    run_ok(&["run", path(&spec), "--storage", path(&store)]);
    let peak = peak_rss_of_children_kib();

    let trials = export_json(&store);
    let states: Vec<_> = trials.iter().map(|t| (t.state, t.value)).collect();
    assert_eq!(
        states,
        [
            (TrialState::Complete, Some(0.0)),
            (TrialState::Complete, Some(1.0)),
            (TrialState::Failed, None),
            (TrialState::Complete, Some(3.0)),
        ],
        "{trials:#?}"
    );
    let error = trials[2].error.as_deref().unwrap_or_default();
    assert!(error.contains(r#""high""#), "{error}");
    assert!(
        peak < PEAK_RSS_LIMIT_KIB,
        "peak RSS {peak} KiB for a {LONG_LINE_MIB} MiB line"
    );
    // The log holds the long line whole.
    let log = trials[0].log_path.as_ref().expect("a log file");
    let size = std::fs::metadata(log).unwrap().len();
    assert!(size > (LONG_LINE_MIB << 20) as u64, "log of {size} bytes");
}

/// A trial that reports in a tight loop fails with the reason once it passes
/// the cap on intermediate values, instead of flooding the store.
#[test]
fn a_flood_of_reports_fails_the_trial_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let spec = python_sweep(
        dir.path(),
        "import sys\n\
         w = sys.stdout.write\n\
         for i in range(100000):\n\
         \x20   w('{\"step\": %d, \"loss\": 1.0}\\n' % i)\n\
         print('{\"loss\": 0.5}')\n",
        serde_json::json!({
            "name": "flood",
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "run": {"trials": 1, "max_reports": 2000}
        }),
    );
    run_ok(&["run", path(&spec), "--storage", path(&store)]);
    let trials = export_json(&store);
    assert_eq!(trials.len(), 1);
    assert_eq!(trials[0].state, hypersweep::search::TrialState::Failed);
    let error = trials[0].error.as_deref().unwrap_or_default();
    assert!(
        error.contains("reported more than 2000 intermediate values (run.max_reports)"),
        "{error}"
    );
    assert_eq!(trials[0].intermediate.len(), 2000, "the first 2000 kept");
}
