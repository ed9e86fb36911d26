//! Limits checked where a sweep file enters, through the binary: each is
//! refused by `check` with exit 2 and an error naming the file's path and
//! the limit.

mod cli_support;

use cli_support::{path, run, text};

fn refused(name: &str, content: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, content).unwrap();
    let out = run(&["check", path(&file)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
    for piece in expected {
        assert!(stderr.contains(piece), "{name}: `{piece}` not in {stderr}");
    }
}

#[test]
fn sweep_file_limits_are_refused_with_their_path() {
    refused(
        "dup.json",
        r#"{"parameters": {"lr": {"min": 0.1, "max": 1.0, "min": 0.5}}}"#,
        &["parameters.lr.min", "twice"],
    );
    refused(
        "parallel.json",
        r#"{"parameters": {"x": {"values": [1]}}, "run": {"parallel": 100000}}"#,
        &["run.parallel", "1024"],
    );
    refused(
        "per_device.json",
        r#"{"parameters": {"x": {"values": [1]}}, "run": {"trials_per_device": 5000}}"#,
        &["run.trials_per_device", "1024"],
    );
    refused(
        "gpus_zero.json",
        r#"{"parameters": {"x": {"values": [1]}}, "run": {"devices": [0, 1], "gpus_per_trial": 0}}"#,
        &["gpus_zero.json", "run.gpus_per_trial", "at least 1"],
    );
    refused(
        "gpus_over.json",
        r#"{"parameters": {"x": {"values": [1]}}, "run": {"devices": "auto", "gpus_per_trial": 17}}"#,
        &["run.gpus_per_trial", "1 to 16 GPUs per trial, got 17"],
    );
    refused(
        "gpus_listed.json",
        r#"{"parameters": {"x": {"values": [1]}}, "run": {"devices": [0, 1, 2], "gpus_per_trial": 4}}"#,
        &["run.gpus_per_trial", "at most the 3 GPU(s) listed", "got 4"],
    );
    refused(
        "gpus_cpu.json",
        r#"{"parameters": {"x": {"values": [1]}}, "run": {"gpus_per_trial": 2}}"#,
        &["run.gpus_per_trial", "need GPUs", "\"auto\" or a list"],
    );
    refused(
        "gpus_text.json",
        r#"{"parameters": {"x": {"values": [1]}}, "run": {"devices": [0, 1], "gpus_per_trial": "2"}}"#,
        &["run.gpus_per_trial"],
    );
    let deep = format!(
        r#"{{"parameters": {{"x": {{"values": [{}1{}]}}}}}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    refused("deep.json", &deep, &["parameters.x.values", "nested"]);
    let deep_yaml = format!(
        "parameters:\n  x:\n    value: {}1{}\n",
        "[".repeat(40),
        "]".repeat(40)
    );
    refused("deep.yaml", &deep_yaml, &["parameters.x.value", "nested"]);
    let many = (0..20_000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    refused(
        "many.json",
        &format!(r#"{{"parameters": {{"x": {{"values": [{many}]}}}}}}"#),
        &["parameters.x.values", "10000"],
    );
    let big = format!(
        r#"{{"parameters": {{"x": {{"value": "{}"}}}}}}"#,
        "x".repeat(2 << 20)
    );
    refused("big.json", &big, &["big.json", "1048576"]);
}
