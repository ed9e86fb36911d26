//! `run` SIGKILLed at random moments, store creation included: after each
//! kill, every trial the run printed as complete is still complete with its
//! value, numbers are unique and without gaps, and the run that finally ends
//! by itself ends with exactly the budget, nothing left Running.
//!
//! A few kills run with `cargo test`; `cargo test --test cli_kill_loop --
//! --ignored --nocapture` runs 100 and prints the figures recorded in
//! `docs/reliability.md`.

mod cli_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cli_support::{export_json, hypersweep, path, python_sweep};
use hypersweep::search::TrialState;
use hypersweep::trials::scheduler::Budget;

const BUDGET: u64 = 12;

/// SplitMix64: the kill moments, reproducible from the seed.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// "trial N complete, value V [...]" lines of a run's output.
fn printed_complete(out: &str) -> BTreeMap<u64, f64> {
    out.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("trial ")?;
            let (number, rest) = rest.split_once(' ')?;
            let value = rest.strip_prefix("complete, value ")?;
            let value = value.split_whitespace().next()?;
            Some((number.parse().ok()?, value.parse().ok()?))
        })
        .collect()
}

/// What a kill loop saw.
#[derive(Debug, Default)]
struct Figures {
    kills: usize,
    printed_complete_checked: usize,
    interrupted: usize,
    runs: usize,
    sweeps: usize,
}

/// Sweeps, each killed until a run of it ends by itself, until `kills`
/// kills have been made.
fn kill_loop(kills: usize, seed: u64) -> Figures {
    let mut figures = Figures::default();
    let mut rng = seed;
    while figures.kills < kills {
        figures.sweeps += 1;
        one_sweep(kills, &mut rng, &mut figures);
    }
    figures
}

/// One sweep in a fresh store, killed at random moments until a run ends
/// by itself or `kills` kills have been made overall (then it runs to its
/// end).
fn one_sweep(kills: usize, rng: &mut u64, figures: &mut Figures) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let spec = python_sweep(
        dir.path(),
        "import json, os, random, time\n\
         p = json.loads(os.environ['HYPERSWEEP_PARAMS'])\n\
         time.sleep(random.random() * 0.08)\n\
         print(json.dumps({'loss': p['x']}))\n",
        serde_json::json!({
            "name": "killed",
            "method": "tpe",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "run": {"trials": BUDGET, "parallel": 2, "seed": 5}
        }),
    );
    let mut printed: BTreeMap<u64, f64> = BTreeMap::new();
    loop {
        figures.runs += 1;
        let out_path = dir.path().join(format!("out-{}.txt", figures.runs));
        let mut child = hypersweep(&["run", path(&spec), "--storage", path(&store)])
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ended = if figures.kills < kills {
            let delay = Duration::from_millis(next(rng) % 700);
            let deadline = Instant::now() + delay;
            let mut status = None;
            while Instant::now() < deadline {
                if let Some(s) = child.try_wait().unwrap() {
                    status = Some(s);
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            match status {
                Some(s) => Some(s),
                None => {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    figures.kills += 1;
                    None
                }
            }
        } else {
            Some(child.wait().unwrap())
        };
        printed.extend(printed_complete(
            &std::fs::read_to_string(&out_path).unwrap(),
        ));
        if !store.join("sled").exists() {
            continue; // killed before the store existed
        }
        check(&store, &printed, figures);
        if let Some(status) = ended {
            assert!(
                status.success(),
                "a run that ends by itself succeeds: {status:?}"
            );
            break;
        }
    }
    let trials = export_json(&store);
    assert!(
        trials.iter().all(|t| t.state.is_finished()),
        "nothing left Running"
    );
    assert_eq!(
        Budget::from_trials(&trials, Some(BUDGET), 0).counted(),
        BUDGET,
        "exactly the budget"
    );
    figures.interrupted += trials
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .count();
}

/// The invariants that hold after every kill.
fn check(store: &Path, printed: &BTreeMap<u64, f64>, figures: &mut Figures) {
    let out = hypersweep(&["export", "--storage", path(store), "--format", "json"])
        .output()
        .unwrap();
    if !out.status.success() {
        // Killed during the store's creation, before the study existed.
        assert!(
            printed.is_empty(),
            "trials were printed but the store does not read: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let trials: Vec<hypersweep::trials::Trial> = serde_json::from_slice(&out.stdout).unwrap();
    let numbers: Vec<u64> = trials.iter().map(|t| t.number).collect();
    assert_eq!(
        numbers,
        (0..trials.len() as u64).collect::<Vec<_>>(),
        "numbers unique and without gaps"
    );
    for (&number, &value) in printed {
        let t = &trials[number as usize];
        assert_eq!(
            t.state,
            TrialState::Complete,
            "trial {number} was printed complete"
        );
        let stored = t.value.expect("a complete trial has a value");
        assert!(
            (stored - value).abs() <= 5e-7,
            "trial {number}: printed {value}, stored {stored}"
        );
        figures.printed_complete_checked += 1;
    }
}

#[test]
fn kills_at_random_moments_lose_nothing_and_end_with_exactly_the_budget() {
    let figures = kill_loop(4, 11);
    assert_eq!(figures.kills, 4);
    assert!(figures.printed_complete_checked > 0, "{figures:?}");
}

#[test]
#[ignore = "100 kills, about two minutes: the figures of docs/reliability.md"]
fn a_hundred_kills() {
    let start = Instant::now();
    let figures = kill_loop(100, 2026);
    println!(
        "kill loop: {} kills over {} runs of {} sweeps, {} printed-complete checks passed, {} trials failed as interrupted, {:.1} s",
        figures.kills,
        figures.runs,
        figures.sweeps,
        figures.printed_complete_checked,
        figures.interrupted,
        start.elapsed().as_secs_f64()
    );
}
