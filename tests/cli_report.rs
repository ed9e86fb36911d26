//! `hypersweep report` through the binary: a pruned sweep's report is one
//! self-contained file that carries every trial, and (where Chromium is
//! installed) renders its plots in a headless browser without a script
//! error.

mod cli_support;

use std::path::Path;
use std::process::Command;

use cli_support::{export_json, path, run_ok, text};

/// Ten epochs; the loss falls with the epoch, a larger `x` is worse, and
/// `adam` is a little better.
const TRAIN: &str = r#"
import json, os
p = json.loads(os.environ["HYPERSWEEP_PARAMS"])
bonus = 0.0 if p["opt"] == "adam" else 0.2
for epoch in range(1, 11):
    print(json.dumps({"epoch": epoch, "loss": p["x"] + bonus + 1.0 / epoch}), flush=True)
"#;

/// Runs a 16-trial hyperband sweep and writes its report; returns the
/// store's trial count and the report's text.
fn sweep_and_report(dir: &Path) -> (usize, String) {
    let store = dir.join("store");
    let spec = cli_support::python_sweep(
        dir,
        TRAIN,
        serde_json::json!({
            "name": "reported",
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
            "parameters": {
                "x": {"min": 0.0, "max": 1.0},
                "opt": {"values": ["adam", "sgd"]}
            },
            "run": {"trials": 16, "parallel": 2, "seed": 3}
        }),
    );
    run_ok(&["run", path(&spec), "--storage", path(&store)]);
    let html_path = dir.join("report.html");
    let out = run_ok(&[
        "report",
        "--storage",
        path(&store),
        "--output",
        path(&html_path),
    ]);
    assert!(
        text(&out.stdout).contains("16 trials"),
        "{}",
        text(&out.stdout)
    );
    let html = std::fs::read_to_string(&html_path).expect("the report was written");
    (export_json(&store).len(), html)
}

#[test]
fn report_is_one_self_contained_file_with_every_trial() {
    let dir = tempfile::tempdir().unwrap();
    let (n, html) = sweep_and_report(dir.path());
    assert_eq!(n, 16);
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "a URL in the report"
    );
    for loader in [
        "<link",
        "src=",
        "@import",
        "url(",
        "fetch(",
        "XMLHttpRequest",
    ] {
        assert!(
            !html.contains(loader),
            "the report loads something: `{loader}`"
        );
    }
    for number in 0..16 {
        assert!(
            html.contains(&format!("{{\"n\":{number},")),
            "trial {number} is in the report"
        );
    }
    assert!(html.contains("\"name\":\"reported\""));
}

/// Chromium, when installed (`.ci/run` installs Debian's `chromium`):
/// `HYPERSWEEP_CHROMIUM`, else `chromium` or `chromium-browser` on PATH.
fn chromium() -> Option<String> {
    let candidates = std::env::var("HYPERSWEEP_CHROMIUM")
        .ok()
        .into_iter()
        .chain(["chromium".to_owned(), "chromium-browser".to_owned()]);
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn report_renders_in_headless_chromium_without_script_errors() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and no chromium was found (.ci/run installs it)"
        );
        eprintln!(
            "skipping: no chromium on PATH (apt-get install chromium, or set HYPERSWEEP_CHROMIUM)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, html) = sweep_and_report(dir.path());
    let file = dir.path().join("report.html");
    assert!(!html.is_empty());
    let profile = dir.path().join("profile");
    // `timeout`: a browser that hangs fails the test instead of holding it.
    let out = Command::new("timeout")
        .args(["120", &browser])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", path(&profile)))
        .arg("--dump-dom")
        .arg(format!("file://{}", path(&file)))
        .output()
        .expect("start chromium");
    let dump = text(&out.stdout);
    assert!(out.status.success(), "chromium: {}", text(&out.stderr));
    assert!(dump.contains("data-errors=\"0\""), "script errors: {dump}");
    assert!(!dump.contains("class=\"js-error\""), "{dump}");
    // What the script drew, without the script's own text (which spells
    // the same tags).
    let dom = &dump[..dump.find("<script").unwrap_or(dump.len())];
    // History, curves, parallel coordinates, importance, contour and one
    // slice per param: 7 charts.
    let svgs = dom.matches("<svg").count();
    assert!(svgs >= 7, "{svgs} svg elements rendered");
    assert!(dump.contains(&format!("data-rendered=\"{svgs}\"")));
    let rows = dom.matches("<tr data-n=").count();
    assert_eq!(rows, 16, "one table row per trial");
    assert!(dom.contains("class=\"curve "), "learning curves drawn");
    assert!(dom.contains("class=\"pc "), "parallel coordinates drawn");
}
