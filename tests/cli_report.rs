//! `hypersweep report` through the binary: a pruned sweep's report is one
//! self-contained file that carries every trial, and (where Chromium is
//! installed) renders its plots in a headless browser without a script
//! error or a request, shows a trial on hover, and filters its table by a
//! brush drawn with the mouse.

mod browser;
mod cli_support;

use std::path::Path;
use std::time::Duration;

use browser::Browser;
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

#[test]
fn report_renders_in_headless_chromium_and_brushing_filters_the_table() {
    let Some(binary) = browser::chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, html) = sweep_and_report(dir.path());
    assert!(!html.is_empty());
    let file = dir.path().join("report.html");
    let mut page = Browser::launch(
        &binary,
        &dir.path().join("profile"),
        Duration::from_secs(120),
    );
    page.open(&format!("file://{}", path(&file)));
    page.wait_for(
        "document.body.hasAttribute('data-rendered')",
        Duration::from_secs(60),
        "the report to draw",
    );
    assert_eq!(page.eval("document.body.dataset.errors"), "0");
    assert_eq!(
        page.eval("document.querySelectorAll('.js-error').length"),
        0
    );
    // History, curves, parallel coordinates, contour and one slice per
    // param (2) are canvases with SVG axes; importance is SVG only.
    assert_eq!(
        page.eval("document.querySelectorAll('main canvas').length"),
        6
    );
    let svgs = page.eval("document.querySelectorAll('main svg').length");
    assert!(svgs.as_u64() >= Some(7), "{svgs} svg elements");
    // Every canvas drew marks: the history and the table show all 16 trials,
    // the curves one per trial that reported.
    let marks = page
        .eval("Array.from(document.querySelectorAll('main canvas')).map(c => +c.dataset.marks)");
    let marks: Vec<u64> = serde_json::from_value(marks).expect("numbers");
    assert!(
        marks.iter().all(|&m| m > 0),
        "a canvas without marks: {marks:?}"
    );
    assert_eq!(marks[0], 16, "one history point per trial");
    assert_eq!(
        page.eval("document.querySelectorAll('#hs-wrap tr[data-n]').length"),
        16
    );

    // Hovering a learning curve shows its trial; clicking selects it in the table.
    let curves = rect(&mut page, "#curves canvas");
    let x = curves.0 + curves.2 / 2.0;
    let mut y = curves.1;
    while y < curves.1 + curves.3 && page.eval("hsTip()") == false {
        page.mouse("mouseMoved", x, y);
        y += 2.0;
    }
    let tip = page.eval("document.getElementById('hs-tip').textContent");
    assert!(
        tip.as_str().is_some_and(|t| t.starts_with("trial ")),
        "hover shows the trial: {tip}"
    );
    page.mouse("mousePressed", x, y - 2.0);
    page.mouse("mouseReleased", x, y - 2.0);
    assert_eq!(
        page.eval("document.querySelectorAll('#hs-wrap tr.selected').length"),
        1
    );

    // Brushing the upper half of the `x` axis keeps only those trials in
    // the table.
    let axis = rect(&mut page, "#parallel rect.brusharea[data-axis='0']");
    let cx = axis.0 + axis.2 / 2.0;
    page.mouse("mousePressed", cx, axis.1 + 1.0);
    page.mouse("mouseMoved", cx, axis.1 + axis.3 * 0.3);
    page.mouse("mouseReleased", cx, axis.1 + axis.3 * 0.5);
    let shown: Vec<f64> = serde_json::from_value(page.eval(
        "Array.from(document.querySelectorAll('#hs-wrap tr[data-n]')).map(r => \
         window.hypersweepReport.data().trials.find(t => t.n == r.dataset.n).p.x)",
    ))
    .expect("numbers");
    let all: Vec<f64> =
        serde_json::from_value(page.eval("window.hypersweepReport.data().trials.map(t => t.p.x)"))
            .expect("numbers");
    let expected = all.iter().filter(|&&x| x >= 0.5).count();
    assert!(
        expected > 0 && expected < 16,
        "the seed gives trials on both sides"
    );
    assert_eq!(
        shown.len(),
        expected,
        "the table keeps the brushed trials: {shown:?}"
    );
    assert!(shown.iter().all(|&x| x >= 0.49), "{shown:?}");
    assert_eq!(
        page.eval("document.querySelectorAll('#parallel rect.brush').length"),
        1
    );
    // Double-clicking the axis clears the brush.
    page.call(
        "Input.dispatchMouseEvent",
        serde_json::json!({"type": "mousePressed", "x": cx, "y": axis.1 + 5.0, "button": "left", "clickCount": 2}),
    );
    page.call(
        "Input.dispatchMouseEvent",
        serde_json::json!({"type": "mouseReleased", "x": cx, "y": axis.1 + 5.0, "button": "left", "clickCount": 2}),
    );
    assert_eq!(
        page.eval("document.querySelectorAll('#hs-wrap tr[data-n]').length"),
        16
    );

    assert_eq!(page.errors(), Vec::<String>::new(), "console errors");
    assert_eq!(
        page.outside_requests(),
        Vec::<String>::new(),
        "requests off the machine"
    );
}

/// The viewport rectangle (x, y, width, height) of the first element
/// matching `selector`, scrolled into view; also defines `hsTip()` (is the
/// tooltip shown).
fn rect(page: &mut Browser, selector: &str) -> (f64, f64, f64, f64) {
    let r = page.eval(&format!(
        "window.hsTip = () => document.getElementById('hs-tip').style.display === 'block'; \
         (() => {{ const e = document.querySelector({selector:?}); e.scrollIntoView({{block: 'center'}}); \
         const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }})()"
    ));
    let r: Vec<f64> = serde_json::from_value(r).expect("a rectangle");
    (r[0], r[1], r[2], r[3])
}
