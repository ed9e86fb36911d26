use super::*;
use hypersweep_search::Params;
use hypersweep_search::TrialState;

fn obs(number: u64, state: TrialState, curve: &[f64]) -> Observation {
    Observation {
        number,
        params: Params::new(),
        state,
        value: curve.last().copied(),
        intermediate: curve
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as u64, v))
            .collect(),
        duration_ms: None,
    }
}

fn history(direction: Direction, finished: &[&[f64]]) -> History {
    let mut h = History::new(direction);
    for (i, c) in finished.iter().enumerate() {
        h.upsert(obs(i as u64, TrialState::Complete, c));
    }
    h
}

#[test]
fn median_prunes_a_trial_worse_than_the_median_of_its_peers() {
    // Peers at step 1: 0.5, 0.6, 0.7 -> median 0.6.
    let mut h = history(
        Direction::Minimize,
        &[&[1.0, 0.5], &[1.0, 0.6], &[1.0, 0.7]],
    );
    let bad = obs(10, TrialState::Running, &[1.0, 0.65]);
    let good = obs(11, TrialState::Running, &[1.0, 0.55]);
    h.upsert(bad.clone());
    h.upsert(good.clone());
    let p = MedianPruner::new().startup_trials(3);
    assert!(p.should_prune(&bad, 1, &h));
    assert!(!p.should_prune(&good, 1, &h));
}

#[test]
fn median_respects_direction() {
    let h = history(
        Direction::Maximize,
        &[&[0.0, 0.5], &[0.0, 0.6], &[0.0, 0.7]],
    );
    let p = MedianPruner::new().startup_trials(3);
    assert!(p.should_prune(&obs(9, TrialState::Running, &[0.0, 0.55]), 1, &h));
    assert!(!p.should_prune(&obs(9, TrialState::Running, &[0.0, 0.65]), 1, &h));
}

#[test]
fn median_waits_for_startup_and_warmup() {
    let h = history(Direction::Minimize, &[&[1.0, 0.5], &[1.0, 0.6]]);
    let bad = obs(9, TrialState::Running, &[9.0, 9.0]);
    assert!(!MedianPruner::new().should_prune(&bad, 1, &h), "startup");
    let p = MedianPruner::new().startup_trials(2).warmup_steps(2);
    assert!(!p.should_prune(&bad, 1, &h), "warm-up");
    assert!(
        MedianPruner::new()
            .startup_trials(2)
            .should_prune(&bad, 1, &h)
    );
}

#[test]
fn median_uses_the_best_value_so_far() {
    // A trial that was good at step 0 and got worse at step 1 is judged
    // on its best value (0.1), which beats the median 0.6.
    let h = history(
        Direction::Minimize,
        &[&[1.0, 0.5], &[1.0, 0.6], &[1.0, 0.7]],
    );
    let t = obs(9, TrialState::Running, &[0.1, 0.9]);
    assert!(
        !MedianPruner::new()
            .startup_trials(3)
            .should_prune(&t, 1, &h)
    );
}

#[test]
fn non_finite_report_is_pruned_at_once() {
    let h = History::new(Direction::Minimize);
    let t = obs(0, TrialState::Running, &[f64::NAN]);
    assert!(MedianPruner::new().should_prune(&t, 0, &h));
    assert!(!NoPruner.should_prune(&t, 0, &h));
}

/// A trial with reports at the given (step, value) pairs.
fn at(number: u64, state: TrialState, reports: &[(u64, f64)]) -> Observation {
    Observation {
        number,
        params: Params::new(),
        state,
        value: reports.last().map(|r| r.1),
        intermediate: reports.to_vec(),
        duration_ms: None,
    }
}

/// Values at steps 1, 2, ... (W&B's iterations).
fn logged(number: u64, state: TrialState, values: &[f64]) -> Observation {
    let reports: Vec<(u64, f64)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as u64 + 1, v))
        .collect();
    at(number, state, &reports)
}

#[test]
fn asha_rungs_are_min_times_powers_of_eta_below_max() {
    assert_eq!(asha::rung_steps(1, 3.0, Some(27), u64::MAX), [1, 3, 9]);
    assert_eq!(
        asha::rung_steps(3, 3.0, Some(100), u64::MAX),
        [3, 9, 27, 81]
    );
    assert_eq!(asha::rung_steps(2, 2.0, None, 20), [2, 4, 8, 16]);
    assert_eq!(
        asha::rung_steps(5, 3.0, Some(5), u64::MAX),
        Vec::<u64>::new()
    );
}

#[test]
fn asha_promotions_on_a_hand_made_history_match_a_hand_computation() {
    // Rungs at steps 1, 3, 9 (min 1, eta 3, max 27). Values at rung 1:
    // t0 0.9, t1 0.5, t2 0.7, t3 0.3, t4 0.8; at rung 3: t1 0.4, t3 0.2.
    let mut h = History::new(Direction::Minimize);
    h.upsert(at(0, TrialState::Pruned, &[(1, 0.9)]));
    h.upsert(at(1, TrialState::Running, &[(1, 0.5), (2, 0.45), (3, 0.4)]));
    h.upsert(at(2, TrialState::Pruned, &[(1, 0.7)]));
    h.upsert(at(
        3,
        TrialState::Complete,
        &[(1, 0.3), (2, 0.25), (3, 0.2)],
    ));
    h.upsert(at(4, TrialState::Pruned, &[(1, 0.8)]));
    let p = AshaPruner::new(1, 3.0).max_resource(27);
    // By hand, rung 1 with a newcomer: 6 values, floor(6/3) = 2 promoted, so
    // the threshold is the 2nd best, 0.5 (ties continue).
    for (value, pruned) in [(0.6, true), (0.5, false), (0.4, false), (0.95, true)] {
        let t = at(5, TrialState::Running, &[(1, value)]);
        h.upsert(t.clone());
        assert_eq!(p.should_prune(&t, 1, &h), pruned, "rung 1, value {value}");
    }
    // Rung 3: t1 0.4, t3 0.2 and the newcomer: floor(3/3) = 1 promoted, the
    // best; 0.3 loses to 0.2, 0.1 is the best.
    for (value, pruned) in [(0.3, true), (0.1, false)] {
        let t = at(5, TrialState::Running, &[(1, 0.4), (2, 0.35), (3, value)]);
        h.upsert(t.clone());
        assert_eq!(p.should_prune(&t, 3, &h), pruned, "rung 3, value {value}");
    }
    // Step 2 is no rung: never judged, however bad.
    let t = at(5, TrialState::Running, &[(1, 0.4), (2, 99.0)]);
    h.upsert(t.clone());
    assert!(!p.should_prune(&t, 2, &h));
    // A trial that reports every other step meets rung 3 at step 4.
    let t = at(6, TrialState::Running, &[(2, 0.3), (4, 0.3)]);
    h.upsert(t.clone());
    assert!(p.should_prune(&t, 4, &h));
}

#[test]
fn asha_respects_direction_warmup_and_auto_min_resource() {
    let mut h = History::new(Direction::Maximize);
    h.upsert(at(0, TrialState::Running, &[(1, 0.9)]));
    h.upsert(at(1, TrialState::Running, &[(1, 0.8)]));
    let worse = at(2, TrialState::Running, &[(1, 0.1)]);
    h.upsert(worse.clone());
    assert!(AshaPruner::new(1, 3.0).should_prune(&worse, 1, &h));
    let mut warm = AshaPruner::new(1, 3.0);
    warm.warmup_steps = 2;
    assert!(!warm.should_prune(&worse, 1, &h), "warm-up");
    // Auto: nothing complete, no pruning; a trial completed at step 300
    // puts the first rung at 3.
    let mut auto = AshaPruner::new(1, 3.0);
    auto.min_resource = MinResource::Auto;
    assert!(!auto.should_prune(&worse, 1, &h));
    h.upsert(at(3, TrialState::Complete, &[(3, 0.99), (300, 0.99)]));
    assert!(
        !auto.should_prune(&worse, 1, &h),
        "step 1 is below the first rung"
    );
    let worse3 = at(2, TrialState::Running, &[(1, 0.1), (3, 0.1)]);
    h.upsert(worse3.clone());
    assert!(auto.should_prune(&worse3, 3, &h));
}

#[test]
fn the_best_trial_at_its_step_is_never_pruned() {
    // ASHA judges a trial that skipped rung 3 by its value at step 4 (0.3)
    // against 0.2 recorded at rung 3: pruned. Once another trial reports a
    // worse value at step 4, it is the best at its step and keeps running.
    let mut h = History::new(Direction::Minimize);
    h.upsert(at(0, TrialState::Complete, &[(1, 0.3), (3, 0.2)]));
    let t = at(1, TrialState::Running, &[(2, 0.3), (4, 0.3)]);
    h.upsert(t.clone());
    let p = AshaPruner::new(1, 3.0);
    assert!(p.should_prune(&t, 4, &h));
    h.upsert(at(2, TrialState::Running, &[(4, 0.5)]));
    assert!(!p.should_prune(&t, 4, &h));
}

#[test]
fn percentile_interpolates_like_numpy() {
    let mut v = [4.0, 1.0, 3.0, 2.0];
    assert_eq!(percentile::percentile(&mut v, 50.0), 2.5);
    assert_eq!(percentile::percentile(&mut v, 25.0), 1.75);
    assert_eq!(percentile::percentile(&mut v, 100.0), 4.0);
    // Peers at step 1: 0.5, 0.6, 0.7, 0.8: 25th percentile 0.575.
    let h = history(
        Direction::Minimize,
        &[&[1.0, 0.5], &[1.0, 0.6], &[1.0, 0.7], &[1.0, 0.8]],
    );
    let p = PercentilePruner::new(25.0).startup_trials(4);
    assert!(p.should_prune(&obs(9, TrialState::Running, &[1.0, 0.58]), 1, &h));
    assert!(!p.should_prune(&obs(9, TrialState::Running, &[1.0, 0.57]), 1, &h));
}

#[test]
fn hyperband_weights_follow_the_paper() {
    // R = 27, eta = 3: the paper's n per bracket is 27, 12, 6, 4.
    let p = HyperbandPruner::new("study", 1, 27, 3.0, 0);
    assert_eq!(p.n_brackets(), 4);
    let mut counts = [0usize; 4];
    for number in 0..49_000 {
        counts[p.bracket_of(number)] += 1;
    }
    for (count, weight) in counts.iter().zip([27.0, 12.0, 6.0, 4.0]) {
        let expected = 49_000.0 * weight / 49.0;
        assert!(
            (*count as f64 - expected).abs() < 0.05 * expected,
            "{counts:?}"
        );
    }
    // Another study draws other brackets.
    let q = HyperbandPruner::new("other", 1, 27, 3.0, 0);
    assert!((0..100).any(|n| p.bracket_of(n) != q.bracket_of(n)));
}

#[test]
fn hyperband_trials_compete_only_within_their_bracket() {
    let p = HyperbandPruner::new("s", 1, 9, 3.0, 0);
    // Two brackets: 0 with rungs 1, 3; 1 with rung 3; 2 with none.
    let in_bracket = |b: usize| (0..).find(|&n| p.bracket_of(n) == b).unwrap_or(0);
    let (a, b) = (in_bracket(0), in_bracket(1));
    let mut h = History::new(Direction::Minimize);
    // A strong trial of bracket 1 at step 1.
    h.upsert(at(b, TrialState::Running, &[(1, 0.1)]));
    h.upsert(at(1000 + a, TrialState::Running, &[(1, 0.2)]));
    // A bracket-0 trial alone in its bracket at rung 1 is promoted, whatever
    // bracket 1 did.
    let t = at(a, TrialState::Running, &[(1, 0.5)]);
    h.upsert(t.clone());
    let peers_in_0 = p.bracket_of(1000 + a) == 0;
    assert_eq!(p.should_prune(&t, 1, &h), peers_in_0);
    assert!(p.describe().contains("rungs 1, 3"), "{}", p.describe());
}

const BRACKETS_ENV: &str = "HYPERSWEEP_TEST_PRINT_BRACKETS";

fn brackets_line() -> String {
    let p = HyperbandPruner::new("resnet-sweep", 1, 81, 3.0, 0);
    (0..2000)
        .map(|n| p.bracket_of(n).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn hyperband_brackets_agree_across_processes() {
    if std::env::var_os(BRACKETS_ENV).is_some() {
        println!("BRACKETS {}", brackets_line());
        return;
    }
    // The same test binary, run again as a second process, prints the
    // brackets it assigns; they must be ours, trial number by number.
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "pruner::tests::hyperband_brackets_agree_across_processes",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(BRACKETS_ENV, "1")
        .output()
        .expect("run the test binary again");
    let text = String::from_utf8_lossy(&out.stdout);
    let theirs = text
        .lines()
        .find_map(|l| l.split_once("BRACKETS ").map(|(_, b)| b))
        .expect("the second process printed its brackets");
    assert_eq!(theirs, brackets_line());
    // And they use every bracket.
    for b in 0..5 {
        assert!(theirs.split(',').any(|x| x == b.to_string()), "bracket {b}");
    }
}

fn wandb(
    min_iter: Option<u64>,
    max_iter: Option<u64>,
    s: Option<u64>,
    eta: f64,
    strict: bool,
) -> WandbHyperbandPruner {
    let mut e = EarlyTerminate::new(PrunerKind::Hyperband);
    e.min_iter = min_iter;
    e.max_iter = max_iter;
    e.s = s;
    e.eta = eta;
    e.strict = strict;
    WandbHyperbandPruner::new(&e)
}

#[test]
fn wandb_bands_match_wandbs_definitions() {
    // min_iter 3, eta 3: 3, 9, 27, ... (W&B lists 100 of them).
    let p = wandb(Some(3), None, None, 3.0, false);
    assert_eq!(&p.bands()[..5], [3, 9, 27, 81, 243]);
    // max_iter 27, s 2, eta 3: 27/3 = 9, 27/9 = 3, ascending.
    assert_eq!(wandb(None, Some(27), Some(2), 3.0, false).bands(), [3, 9]);
    // max_iter 12, s 2, eta 3: 4 and int(1.33) = 1.
    assert_eq!(wandb(None, Some(12), Some(2), 3.0, false).bands(), [1, 4]);
    // Bands stop below 1: max_iter 5, s 4, eta 2 gives 2.5, 1.25, (0.625).
    assert_eq!(wandb(None, Some(5), Some(4), 2.0, false).bands(), [1, 2]);
}

#[test]
fn wandb_docstring_example_stops_only_run_b() {
    // The example in W&B's `hyperband_stop_runs`: max_iter 5, eta 2, s 2
    // (bands 1, 2). Band 2's values: 9, 10, 8, 7, 6; threshold sorted[5/2]
    // = 8. b (best 10) stops; c (best 8) and d (7) continue.
    let mut h = History::new(Direction::Minimize);
    h.upsert(logged(0, TrialState::Complete, &[10.0, 9.0]));
    h.upsert(logged(1, TrialState::Running, &[10.0, 10.0]));
    h.upsert(logged(2, TrialState::Running, &[10.0, 8.0, 8.0]));
    h.upsert(logged(3, TrialState::Running, &[10.0, 7.0, 7.0]));
    h.upsert(logged(4, TrialState::Complete, &[10.0, 6.0, 6.0]));
    let p = wandb(None, Some(5), Some(2), 2.0, false);
    let b = &h.trials[1];
    assert!(p.should_prune(b, 2, &h));
    // c and d, judged at their band-2 report (with the same peers).
    for n in [2, 3] {
        let mut t = h.trials[n].clone();
        t.intermediate.truncate(2);
        assert!(!p.should_prune(&t, 2, &h), "trial {n}");
    }
}

#[test]
fn wandb_strict_judges_the_band_value_not_the_best() {
    // Band 3 (min_iter 3, eta 3): peers logged 5 as their 3rd value; the
    // trial logged 1, 9, 9. Values at band: 5, 5, 9 -> threshold sorted[1]
    // = 5. Its best (1) passes; its band value (9) does not.
    let mut h = History::new(Direction::Minimize);
    h.upsert(logged(0, TrialState::Complete, &[6.0, 6.0, 5.0]));
    h.upsert(logged(1, TrialState::Running, &[6.0, 6.0, 5.0]));
    let t = logged(2, TrialState::Running, &[1.0, 9.0, 9.0]);
    h.upsert(t.clone());
    assert!(!wandb(Some(3), None, None, 3.0, false).should_prune(&t, 3, &h));
    assert!(wandb(Some(3), None, None, 3.0, true).should_prune(&t, 3, &h));
}

#[test]
fn wandb_judges_only_at_band_iterations_counting_logged_values() {
    let mut h = History::new(Direction::Minimize);
    h.upsert(logged(0, TrialState::Complete, &[1.0; 10]));
    h.upsert(logged(1, TrialState::Complete, &[1.0; 10]));
    let p = wandb(Some(3), None, None, 3.0, false);
    for n in 1..=10u64 {
        let t = logged(2, TrialState::Running, &vec![5.0; n as usize]);
        h.upsert(t.clone());
        assert_eq!(p.should_prune(&t, n, &h), n == 3 || n == 9, "iteration {n}");
    }
    // Iterations are counted, not read from step numbers: the 3rd value
    // logged at step 30 is band 3.
    let t = at(2, TrialState::Running, &[(10, 5.0), (20, 5.0), (30, 5.0)]);
    h.upsert(t.clone());
    assert!(p.should_prune(&t, 30, &h));
}

#[test]
fn pruner_from_spec_picks_the_rule_the_file_names() {
    let mut e = EarlyTerminate::new(PrunerKind::Hyperband);
    e.min_iter = Some(3);
    assert!(pruner_from_spec(Some(&e), "s").describe().contains("W&B"));
    let mut e = EarlyTerminate::new(PrunerKind::Hyperband);
    e.max_resource = Some(27);
    assert!(
        pruner_from_spec(Some(&e), "s")
            .describe()
            .contains("brackets")
    );
    let mut e = EarlyTerminate::new(PrunerKind::Asha);
    e.min_iter = Some(2);
    let d = pruner_from_spec(Some(&e), "s").describe();
    assert!(d.contains("rungs at steps 2, 6, 18"), "{d}");
    assert_eq!(pruner_from_spec(None, "s").name(), "none");
}
