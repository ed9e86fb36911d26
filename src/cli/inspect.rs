//! `status` and `best`: read-only views of a study.

use std::time::Duration;

use hypersweep_search::TrialState;
use hypersweep_search::sweep::{RunConfig, SweepSpec};
use hypersweep_trials::scheduler::{Budget, best_trial};
use std::collections::{BTreeMap, BTreeSet};

use hypersweep::evidence::{Estimate, value_text};
use hypersweep_trials::{Staleness, Trial, TrialRole, now_ms};
use serde_json::json;

use super::common::{StudyArgs, StudySnapshot, read_study};

/// `hypersweep status`: counts by state, budget, best value.
pub fn status(args: StudyArgs) -> anyhow::Result<i32> {
    let StudySnapshot {
        storage,
        name,
        record,
        trials,
    } = read_study(&args)?;
    let (trials, rounds): (Vec<Trial>, Vec<Trial>) =
        trials.into_iter().partition(|t| t.role.is_search());
    let count = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
    let spec = &record.spec;
    let budget = Budget::from_trials(&trials, spec.run.trials, spec.run.retry_failed);
    outln!("study     {name}");
    match &spec.custom.searcher {
        Some(searcher) => outln!("method    {searcher} (a searcher given in code)"),
        None => outln!("method    {}", spec.method.as_str()),
    }
    outln!("pruner    {}", pruner_text(spec, &name)?);
    outln!(
        "metric    {} ({})",
        spec.metric.name,
        serde_json::to_value(spec.metric.goal)?
            .as_str()
            .unwrap_or("?")
    );
    match spec.run.trials {
        Some(total) => outln!("budget    {} of {total} counted", budget.counted()),
        None => outln!("budget    {} counted (no limit)", budget.counted()),
    }
    if spec.run.repeats > 1 {
        outln!(
            "repeats   {} seeds per configuration; a trial's value is their mean",
            spec.run.repeats
        );
    }
    outln!(
        "trials    {} total: {} complete, {} pruned, {} failed, {}",
        trials.len(),
        count(TrialState::Complete),
        count(TrialState::Pruned),
        count(TrialState::Failed),
        running_summary(&trials, &spec.run, storage.is_exclusive(), now_ms())
    );
    for line in round_lines(&rounds) {
        outln!("{line}");
    }
    if let Some(last) = record.revisions.last() {
        outln!(
            "revised   {} time(s), last: {}",
            record.revisions.len(),
            last.differences.join("; ")
        );
    }
    let unreadable = storage.unreadable(&name)?;
    if !unreadable.is_empty() {
        outln!(
            "unreadable {} damaged record(s), skipped and kept in the store: {}",
            unreadable.len(),
            unreadable.join(", ")
        );
    }
    match best_trial(&trials, spec.metric.goal) {
        Some(best) => outln!(
            "best      trial {}: {} = {} {}",
            best.number,
            spec.metric.name,
            value_text(&best),
            serde_json::to_string(&best.params)?
        ),
        None => outln!("best      none yet"),
    }
    Ok(0)
}

/// The pruner the study runs with (one home: the report says the same).
fn pruner_text(spec: &SweepSpec, study: &str) -> anyhow::Result<String> {
    Ok(hypersweep::report::pruner_text(spec, study))
}

/// "N running", with the stale ones among them named. `exclusive`: the store
/// was opened by this process, so no process is running trials and every
/// Running trial not made by `ask` was left by one that stopped; otherwise
/// (read through a live owner) a trial is stale when its heartbeat is older
/// than `run.stale_after`. Asked trials go stale after `run.ask_timeout`.
fn running_summary(trials: &[Trial], run: &RunConfig, exclusive: bool, now_ms: u64) -> String {
    let staleness = Staleness {
        after: if exclusive {
            Duration::ZERO
        } else {
            run.stale_after
        },
        asked_after: run.ask_timeout,
    };
    let running: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .collect();
    let stale = running
        .iter()
        .filter(|t| staleness.is_stale(t, now_ms))
        .count();
    let n = running.len();
    let why = if exclusive {
        "left by a stopped process; the next run reaps them"
    } else {
        "no heartbeat within run.stale_after; a running process reaps them"
    };
    match stale {
        0 => format!("{n} running"),
        s if s == n => format!("{n} running (stale: {why})"),
        s => format!("{n} running ({} live, {s} stale: {why})", n - s),
    }
}

/// `hypersweep best`: the best trial as JSON.
pub fn best(args: StudyArgs) -> anyhow::Result<i32> {
    let StudySnapshot {
        name,
        record,
        trials,
        ..
    } = read_study(&args)?;
    match best_trial(&trials, record.spec.metric.goal) {
        Some(t) => {
            let mut out = json!({"number": t.number, "value": t.value, "params": t.params});
            if !t.seeds.is_empty() {
                out["seeds"] = json!(t.seeds);
            }
            if let (Some(r), Some(e)) = (&t.repeats, Estimate::of_trial(&t)) {
                out["repeats"] = json!({
                    "values": r.values,
                    "std_error": r.std_error,
                    "interval95": e.interval().map(|(lo, hi)| [lo, hi]),
                });
            }
            outln!("{}", serde_json::to_string_pretty(&out)?);
            Ok(0)
        }
        None => {
            errln!("study `{name}` has no complete trial yet");
            Ok(1)
        }
    }
}

/// One line per confirmation or ablation round: how many of its planned
/// configurations have a result.
fn round_lines(trials: &[Trial]) -> Vec<String> {
    let mut rounds: BTreeMap<(&str, u32), (u32, BTreeSet<u32>)> = BTreeMap::new();
    for t in trials {
        let (Some(round), Some(variant)) = (t.role.round(), t.role.variant()) else {
            continue;
        };
        let planned = match &t.role {
            TrialRole::Confirm { variants, .. } | TrialRole::Ablate { variants, .. } => *variants,
            _ => 0,
        };
        let entry = rounds.entry(round).or_insert((planned, BTreeSet::new()));
        if t.state == TrialState::Complete {
            entry.1.insert(variant);
        }
    }
    rounds
        .into_iter()
        .map(|((kind, round), (planned, done))| {
            let state = if done.len() as u32 >= planned {
                "done".to_owned()
            } else {
                format!("unfinished; `{kind}` again resumes it")
            };
            format!(
                "{kind:<9} round {round}: {} of {planned} configurations complete ({state})",
                done.len()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: u64, state: TrialState, heartbeat_ms: u64, asked: bool) -> Trial {
        serde_json::from_value(json!({
            "study": "s", "number": number, "params": {}, "state": state,
            "started_ms": 0, "heartbeat_ms": heartbeat_ms, "asked": asked,
        }))
        .expect("a trial")
    }

    #[test]
    fn without_an_owner_every_worker_trial_still_running_is_stale() {
        let now = 1_000_000;
        let trials = [
            trial(0, TrialState::Complete, now, false),
            trial(1, TrialState::Running, now, false),
            trial(2, TrialState::Running, now, false),
        ];
        let text = running_summary(&trials, &RunConfig::default(), true, now);
        assert_eq!(
            text,
            "2 running (stale: left by a stopped process; the next run reaps them)"
        );
        // An asked trial is evaluated outside hypersweep: live until its timeout.
        let trials = [trial(0, TrialState::Running, now, true), trials[1].clone()];
        let text = running_summary(&trials, &RunConfig::default(), true, now);
        assert!(text.starts_with("2 running (1 live, 1 stale: "), "{text}");
    }

    #[test]
    fn through_a_live_owner_staleness_is_the_heartbeat_age() {
        let run = RunConfig::default();
        let now = 10 * run.stale_after.as_millis() as u64;
        let fresh = now - 1000;
        let old = now - run.stale_after.as_millis() as u64 - 1;
        let trials = [
            trial(0, TrialState::Running, fresh, false),
            trial(1, TrialState::Running, fresh, false),
        ];
        assert_eq!(running_summary(&trials, &run, false, now), "2 running");
        let trials = [trials[0].clone(), trial(1, TrialState::Running, old, false)];
        let text = running_summary(&trials, &run, false, now);
        assert!(text.starts_with("2 running (1 live, 1 stale: "), "{text}");
    }
}
