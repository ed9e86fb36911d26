//! The quickstart sweep end to end: 20 trials, 4 at a time, through the real
//! binary and a Python trial script; exports agree with the store.

mod cli_support;

use cli_support::{export_json, path, root, run_ok, text};
use hypersweep::search::TrialState;
use hypersweep::search::sweep::parse_sweep;
use hypersweep::trials::{SledStorage, Storage};

#[test]
fn quickstart_sweep_completes_twenty_admissible_trials_and_exports_agree() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = run_ok(&["run", "examples/quickstart.json", "--storage", path(&store)]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("20 trials counted"), "{stdout}");

    let spec_text = std::fs::read_to_string(root().join("examples/quickstart.json")).unwrap();
    let spec = parse_sweep(&spec_text, "quickstart.json").unwrap();
    let trials = export_json(&store);
    assert_eq!(trials.len(), 20);
    for t in &trials {
        assert_eq!(
            t.state,
            TrialState::Complete,
            "trial {}: {:?}",
            t.number,
            t.error
        );
        assert!(
            spec.space.admits(&t.params),
            "trial {} params {:?}",
            t.number,
            t.params
        );
        assert!(t.value.is_some_and(f64::is_finite));
        assert_eq!(t.intermediate.len(), 5, "one report per epoch");
        assert_eq!(t.value, t.intermediate.last().map(|&(_, v)| v));
    }

    // JSON export is the stored record.
    let stored = {
        let s = SledStorage::open(&store).unwrap();
        s.trials("quickstart").unwrap()
    };
    assert_eq!(stored, trials);

    // CSV: one row per trial, one column per parameter, same values.
    let csv = text(&run_ok(&["export", "--storage", path(&store), "--format", "csv"]).stdout);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for p in spec.space.params() {
        assert!(header.contains(&p.name.as_str()), "column {}", p.name);
    }
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 20);
    for (row, t) in rows.iter().zip(&trials) {
        assert_eq!(row[col("number")], t.number.to_string());
        assert_eq!(row[col("state")], "complete");
        assert_eq!(row[col("value")].parse::<f64>().unwrap(), t.value.unwrap());
        assert_eq!(row[col("optimizer")], t.params.str("optimizer").unwrap());
        assert_eq!(
            row[col("batch_size")],
            t.params.i64("batch_size").unwrap().to_string()
        );
        assert_eq!(
            row[col("lr")].parse::<f64>().unwrap(),
            t.params.f64("lr").unwrap()
        );
        match t.params.get("momentum") {
            Some(m) => assert_eq!(
                row[col("momentum")].parse::<f64>().unwrap(),
                m.as_f64().unwrap()
            ),
            None => assert_eq!(row[col("momentum")], "", "inactive momentum is empty"),
        }
    }

    // `best` agrees with the minimum.
    let best: serde_json::Value =
        serde_json::from_slice(&run_ok(&["best", "--storage", path(&store)]).stdout).unwrap();
    let min = trials
        .iter()
        .map(|t| t.value.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best["value"].as_f64(), Some(min));
}
