//! `status` and `best`: read-only views of a study.

use std::time::Duration;

use hypersweep_search::TrialState;
use hypersweep_search::sweep::{RunConfig, SweepSpec};
use hypersweep_search::{Direction, History, Method};
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
        None if spec.method == Method::Auto => {
            let history = History {
                direction: spec.metric.goal,
                trials: trials.iter().map(Trial::observation).collect(),
            };
            let now = hypersweep_search::auto::choice(&spec.space, &history);
            outln!("method    auto: next suggestion by {now}");
        }
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
    if let Some(text) = elapsed_text(&trials, now_ms()) {
        outln!("elapsed   {text}");
    }
    let top = top_trials(&trials, spec.metric.goal, TOP);
    match top.first() {
        Some(best) => outln!(
            "best      trial {}: {} = {} {}",
            best.number,
            spec.metric.name,
            value_text(best),
            serde_json::to_string(&best.params)?
        ),
        None => outln!("best      none yet"),
    }
    if !top.is_empty() {
        outln!("top {}", top.len());
        for line in top_table(&top, &spec.metric.name)? {
            outln!("  {line}");
        }
    }
    Ok(0)
}

/// How many of the best trials `status` lists.
const TOP: usize = 5;

/// The `k` best complete search trials with a finite value, best first
/// (confirmation and ablation re-runs have their own lines); ties keep the
/// order of numbers (so the first is [`best_trial`]'s).
fn top_trials(trials: &[Trial], goal: Direction, k: usize) -> Vec<&Trial> {
    let mut ranked: Vec<(&Trial, f64)> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.role.is_search())
        .filter_map(|t| t.value.filter(|v| v.is_finite()).map(|v| (t, goal.loss(v))))
        .collect();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
    ranked.into_iter().take(k).map(|(t, _)| t).collect()
}

/// The rows of `status`'s top table, columns aligned: number, value,
/// duration, params.
fn top_table(top: &[&Trial], metric: &str) -> anyhow::Result<Vec<String>> {
    let mut rows = vec![[
        "trial".to_owned(),
        metric.to_owned(),
        "duration".to_owned(),
        "params".to_owned(),
    ]];
    for t in top {
        rows.push([
            t.number.to_string(),
            t.value.map_or_else(|| "-".to_owned(), |v| v.to_string()),
            t.finished_ms.map_or_else(
                || "-".to_owned(),
                |f| fmt_duration(f.saturating_sub(t.started_ms)),
            ),
            serde_json::to_string(&t.params)?,
        ]);
    }
    let widths: Vec<usize> = (0..3)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            format!(
                "{:>w0$}  {:>w1$}  {:>w2$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            )
        })
        .collect())
}

/// Wall time of the study: from its first trial's start to the last finish
/// (or to `now_ms` while trials run), with both ends as ISO 8601 times.
fn elapsed_text(trials: &[Trial], now_ms: u64) -> Option<String> {
    let first = trials.iter().map(|t| t.started_ms).min()?;
    let running = trials.iter().any(|t| t.state == TrialState::Running);
    let last = if running {
        now_ms
    } else {
        trials
            .iter()
            .map(|t| t.finished_ms.unwrap_or(t.started_ms))
            .max()?
    };
    let until = if running {
        "now".to_owned()
    } else {
        crate::cli::time::iso8601(last)
    };
    Some(format!(
        "{} (from {} to {until})",
        fmt_duration(last.saturating_sub(first)),
        crate::cli::time::iso8601(first)
    ))
}

/// A duration in ms, as `0.25s`, `12.00s`, `3m05s` or `2h07m`.
fn fmt_duration(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.2}s", ms as f64 / 1000.0)
    } else {
        super::time::clock(ms / 1000)
    }
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

    fn finished(number: u64, value: f64, started_ms: u64, finished_ms: u64) -> Trial {
        serde_json::from_value(json!({
            "study": "s", "number": number, "params": {"x": number}, "state": "complete",
            "value": value, "started_ms": started_ms, "finished_ms": finished_ms,
        }))
        .expect("a trial")
    }

    #[test]
    fn top_lists_the_best_finite_complete_trials_best_first() {
        let mut trials: Vec<Trial> = [3.0, 1.0, 2.0, 1.0, f64::NAN, 0.5, 4.0, 5.0]
            .iter()
            .enumerate()
            .map(|(i, v)| finished(i as u64, *v, 0, 1500))
            .collect();
        trials.push(trial(8, TrialState::Running, 0, false));
        let numbers = |t: Vec<&Trial>| t.iter().map(|t| t.number).collect::<Vec<_>>();
        // Ties keep the order of numbers; NaN and running trials are not ranked.
        assert_eq!(
            numbers(top_trials(&trials, Direction::Minimize, 5)),
            [5, 1, 3, 2, 0]
        );
        assert_eq!(
            numbers(top_trials(&trials, Direction::Maximize, 3)),
            [7, 6, 0]
        );
        let top = top_trials(&trials, Direction::Minimize, 2);
        assert_eq!(
            top_table(&top, "loss").unwrap(),
            [
                "trial  loss  duration  params",
                "    5   0.5     1.50s  {\"x\":5}",
                "    1     1     1.50s  {\"x\":1}",
            ]
        );
    }

    #[test]
    fn elapsed_runs_from_the_first_start_to_the_last_finish_or_now() {
        let trials = [
            finished(0, 1.0, 951_827_696_789, 951_827_700_000),
            finished(1, 1.0, 951_827_697_000, 951_827_696_789 + 185_000),
        ];
        assert_eq!(
            elapsed_text(&trials, 0).unwrap(),
            "3m05s (from 2000-02-29T12:34:56.789Z to 2000-02-29T12:38:01.789Z)"
        );
        let mut running = trials.to_vec();
        running.push(trial(2, TrialState::Running, 0, false));
        running[2].started_ms = 951_827_697_000;
        let now = 951_827_696_789 + 2 * 3_600_000 + 7 * 60_000;
        assert_eq!(
            elapsed_text(&running, now).unwrap(),
            "2h07m (from 2000-02-29T12:34:56.789Z to now)"
        );
        assert_eq!(elapsed_text(&[], now), None);
        assert_eq!(fmt_duration(250), "0.25s");
        assert_eq!(fmt_duration(12_000), "12.00s");
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
