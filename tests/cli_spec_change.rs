//! The stored spec is the study's truth: a sweep file that changes an
//! existing study's space is refused with the differences, `--force`
//! continues with it (recorded in the study), and a changed budget alone
//! just continues. A study built in code shows what really runs it.

mod cli_support;

use std::path::Path;
use std::sync::Arc;

use cli_support::{export_json, path, python, run, run_ok, text};
use hypersweep::Study;
use hypersweep::search::{Domain, History, Param, Params, SearchError, SearchSpace, Searcher};
use hypersweep::trials::{MedianPruner, SledStorage};
use serde_json::json;

const SCRIPT: &str = r#"
import json, os
params = json.loads(os.environ["HYPERSWEEP_PARAMS"])
print(json.dumps({"step": 1, "loss": sum(params.values())}), flush=True)
"#;

/// A sweep file of two float params (`lr` up to `lr_max`, and `second`
/// named as given) that runs `trial.py` in `dir`.
fn sweep(dir: &Path, file: &str, lr_max: f64, second: &str) -> String {
    let spec = json!({
        "name": "spec-change",
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "lr": {"min": 0.001, "max": lr_max},
            second: {"min": 0.0, "max": 0.9}
        },
        "command": [python(), path(&dir.join("trial.py"))],
        "run": {"trials": 3, "seed": 5}
    });
    let file = dir.join(file);
    std::fs::write(&file, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    path(&file).to_owned()
}

fn names_of(params: &Params) -> Vec<String> {
    let value = serde_json::to_value(params).unwrap();
    let mut names: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_changed_space_is_refused_unless_forced_and_a_new_budget_continues() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trial.py"), SCRIPT).unwrap();
    let store = dir.path().join("store");
    let original = sweep(dir.path(), "v1.json", 0.1, "momentum");
    let changed = sweep(dir.path(), "v2.json", 0.5, "beta");
    run_ok(&["run", &original, "--storage", path(&store)]);
    assert_eq!(export_json(&store).len(), 3);

    // A changed range and a renamed param: refused, nothing runs.
    let out = run(&["run", &changed, "--storage", path(&store)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for expected in [
        "parameters.lr.max: 0.1 -> 0.5",
        "parameters.momentum: float in [0, 0.9] -> absent",
        "parameters.beta: absent -> float in [0, 0.9]",
        "--study NEW_NAME",
        "--force",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert_eq!(export_json(&store).len(), 3, "a refused run starts nothing");

    // Only the budget changes: the study continues.
    let out = run_ok(&["run", &original, "--storage", path(&store), "--trials", "5"]);
    assert!(
        text(&out.stdout).contains("5 trials counted"),
        "{}",
        text(&out.stdout)
    );

    // ask --spec refuses the same way.
    let out = run(&["ask", "--storage", path(&store), "--spec", &changed]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("parameters.lr.max: 0.1 -> 0.5"));

    // --force continues with the new spec and records the change.
    let out = run_ok(&[
        "run",
        &changed,
        "--storage",
        path(&store),
        "--trials",
        "7",
        "--force",
    ]);
    assert!(
        text(&out.stdout).contains("7 trials counted"),
        "{}",
        text(&out.stdout)
    );
    let trials = export_json(&store);
    assert_eq!(trials.len(), 7);
    assert_eq!(names_of(&trials[0].params), ["lr", "momentum"]);
    for t in &trials[5..] {
        assert_eq!(names_of(&t.params), ["beta", "lr"]);
        let lr = t.params.f64("lr").unwrap();
        assert!((0.001..=0.5).contains(&lr), "{lr}");
    }
    let status = text(&run_ok(&["status", "--storage", path(&store)]).stdout);
    assert!(
        status.contains("revised   1 time(s), last: parameters.lr.max: 0.1 -> 0.5"),
        "{status}"
    );
    // The new spec is now the study's truth: the old file is the change.
    let out = run(&["run", &original, "--storage", path(&store)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

struct MidpointSearcher;

impl Searcher for MidpointSearcher {
    fn name(&self) -> &str {
        "midpoint"
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        _: &History,
        _: &mut hypersweep::search::StdRng,
    ) -> Result<Params, SearchError> {
        Ok(space.decode(&vec![0.5; space.len()]))
    }
}

#[test]
fn status_shows_the_searcher_and_pruner_a_study_was_built_with() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    {
        let storage = Arc::new(SledStorage::open(&store).unwrap());
        let space = SearchSpace::new(vec![Param::new(
            "x",
            Domain::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: None,
            },
        )])
        .unwrap();
        Study::builder()
            .name("coded")
            .space(space)
            .searcher(Box::new(MidpointSearcher))
            .pruner(Arc::new(MedianPruner::new()))
            .storage(storage)
            .build()
            .unwrap();
    }
    let status = text(&run_ok(&["status", "--storage", path(&store)]).stdout);
    assert!(
        status.contains("method    midpoint (a searcher given in code)"),
        "{status}"
    );
    assert!(
        status.contains("pruner    median (a pruner given in code)"),
        "{status}"
    );
}
