//! The README's first command: `examples/train.json`, a real training run (a
//! small MLP fit by SGD or Adam, `examples/train_mlp.py`) with ASHA on. The
//! sweep spends its budget, prunes losing trials only at the rungs `check`
//! prints, and runs the survivors to the last epoch.

mod cli_support;

use cli_support::{export_json, path, root, run_ok, text};
use hypersweep::search::TrialState;
use hypersweep::search::sweep::parse_sweep;

#[test]
fn the_train_example_prunes_at_its_rungs_and_completes_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let check = text(&run_ok(&["check", "examples/train.json"]).stdout);
    assert!(
        check.contains("asha (eta 3, rungs at steps 1, 3, 9, complete at 20"),
        "{check}"
    );

    // Fewer trials and slots than the file asks, to keep the test short on
    // two cores; the pruner and the searcher are the file's.
    let out = run_ok(&[
        "run",
        "examples/train.json",
        "--storage",
        path(&store),
        "--trials",
        "16",
        "--parallel",
        "2",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("16 trials counted"), "{stdout}");

    let spec_text = std::fs::read_to_string(root().join("examples/train.json")).unwrap();
    let spec = parse_sweep(&spec_text, "train.json").unwrap();
    let trials = export_json(&store);
    assert_eq!(trials.len(), 16);
    let (mut complete, mut pruned) = (0, 0);
    for t in &trials {
        assert!(spec.space.admits(&t.params), "trial {}", t.number);
        let steps: Vec<u64> = t.intermediate.iter().map(|&(s, _)| s).collect();
        assert!(
            t.intermediate
                .iter()
                .all(|&(_, v)| v.is_finite() && v > 0.0),
            "trial {}: a log-loss is positive and finite: {:?}",
            t.number,
            t.intermediate
        );
        match t.state {
            TrialState::Complete => {
                complete += 1;
                assert_eq!(steps, (1..=20).collect::<Vec<_>>(), "trial {}", t.number);
            }
            TrialState::Pruned => {
                pruned += 1;
                let last = *steps.last().unwrap();
                assert!(
                    [1, 3, 9].contains(&last),
                    "trial {} pruned at epoch {last}, not at a rung",
                    t.number
                );
                assert_eq!(steps, (1..=last).collect::<Vec<_>>(), "trial {}", t.number);
            }
            other => panic!("trial {}: {other:?}: {:?}", t.number, t.error),
        }
    }
    // ASHA keeps the top third at each rung: of 16 trials most are stopped
    // early, and the first trial to reach each rung always continues.
    assert!(pruned >= 6, "{pruned} pruned of 16");
    assert!(complete >= 1, "{complete} complete of 16");
    let status = text(&run_ok(&["status", "--storage", path(&store), "--study", "train"]).stdout);
    assert!(
        status.contains(&format!("16 total: {complete} complete, {pruned} pruned")),
        "{status}"
    );
}
