//! Helpers shared by the end-to-end tests of the `hypersweep` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hypersweep::trials::Trial;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_hypersweep");

/// The repository root (examples' commands are relative to it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `hypersweep` command run from the repository root.
pub fn hypersweep(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(root());
    cmd
}

/// Runs `hypersweep args` to its end.
pub fn run(args: &[&str]) -> Output {
    hypersweep(args).output().expect("the binary starts")
}

/// Text of a stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `hypersweep args` and insists it succeeded.
pub fn run_ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "hypersweep {args:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// The trials of the store's only study, through `export --format json`.
pub fn export_json(store: &Path) -> Vec<Trial> {
    let out = run_ok(&["export", "--storage", path(store), "--format", "json"]);
    serde_json::from_slice(&out.stdout).expect("export writes a JSON array of trials")
}

/// A path as a `&str` argument.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// The real Python interpreter: `python3` may be a shell shim (pyenv) that
/// costs hundreds of milliseconds per start.
pub fn python() -> String {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            Command::new("python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .output()
                .ok()
                .map(|o| text(&o.stdout).trim().to_owned())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "python3".to_owned())
        })
        .clone()
}

/// Writes a trial script for `python3` into `dir` and a sweep file running
/// it; returns the sweep file's path.
pub fn python_sweep(dir: &Path, script: &str, spec: serde_json::Value) -> PathBuf {
    let script_path = dir.join("trial.py");
    std::fs::write(&script_path, script).expect("write the trial script");
    let mut spec = spec;
    spec["command"] = serde_json::json!([python(), path(&script_path)]);
    let spec_path = dir.join("sweep.json");
    std::fs::write(
        &spec_path,
        serde_json::to_string_pretty(&spec).expect("json"),
    )
    .expect("write the sweep file");
    spec_path
}
