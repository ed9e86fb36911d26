//! `status` and `best`: read-only views of a study.

use hypersweep_search::TrialState;
use hypersweep_search::sweep::SweepSpec;
use hypersweep_trials::scheduler::{Budget, best_trial};
use serde_json::json;

use super::common::{StudyArgs, open_existing, study_name};

/// `hypersweep status`: counts by state, budget, best value.
pub fn status(args: StudyArgs) -> anyhow::Result<i32> {
    let storage = open_existing(&args.storage)?;
    let name = study_name(storage.as_ref(), &args)?;
    let record = storage
        .load_study(&name)?
        .ok_or_else(|| anyhow::anyhow!("no study named `{name}`"))?;
    let trials = storage.trials(&name)?;
    let count = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
    let spec = &record.spec;
    let budget = Budget::from_trials(&trials, spec.run.trials, spec.run.retry_failed);
    println!("study     {name}");
    match &spec.custom.searcher {
        Some(searcher) => println!("method    {searcher} (a searcher given in code)"),
        None => println!("method    {}", spec.method.as_str()),
    }
    println!("pruner    {}", pruner_text(spec)?);
    println!(
        "metric    {} ({})",
        spec.metric.name,
        serde_json::to_value(spec.metric.goal)?
            .as_str()
            .unwrap_or("?")
    );
    match spec.run.trials {
        Some(total) => println!("budget    {} of {total} counted", budget.counted()),
        None => println!("budget    {} counted (no limit)", budget.counted()),
    }
    println!(
        "trials    {} total: {} complete, {} pruned, {} failed, {} running",
        trials.len(),
        count(TrialState::Complete),
        count(TrialState::Pruned),
        count(TrialState::Failed),
        count(TrialState::Running)
    );
    if let Some(last) = record.revisions.last() {
        println!(
            "revised   {} time(s), last: {}",
            record.revisions.len(),
            last.differences.join("; ")
        );
    }
    match best_trial(&trials, spec.metric.goal) {
        Some(best) => println!(
            "best      trial {}: {} = {} {}",
            best.number,
            spec.metric.name,
            best.value.unwrap_or(f64::NAN),
            serde_json::to_string(&best.params)?
        ),
        None => println!("best      none yet"),
    }
    Ok(0)
}

/// The pruner the study runs with: one given in code, else the kind
/// `early_terminate` names, else `none`.
fn pruner_text(spec: &SweepSpec) -> anyhow::Result<String> {
    Ok(match (&spec.custom.pruner, &spec.early_terminate) {
        (Some(pruner), _) => format!("{pruner} (a pruner given in code)"),
        (None, Some(early)) => serde_json::to_value(early.kind)?
            .as_str()
            .unwrap_or("?")
            .to_owned(),
        (None, None) => "none".to_owned(),
    })
}

/// `hypersweep best`: the best trial as JSON.
pub fn best(args: StudyArgs) -> anyhow::Result<i32> {
    let storage = open_existing(&args.storage)?;
    let name = study_name(storage.as_ref(), &args)?;
    let record = storage
        .load_study(&name)?
        .ok_or_else(|| anyhow::anyhow!("no study named `{name}`"))?;
    match best_trial(&storage.trials(&name)?, record.spec.metric.goal) {
        Some(t) => {
            let out = json!({"number": t.number, "value": t.value, "params": t.params});
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(0)
        }
        None => {
            eprintln!("study `{name}` has no complete trial yet");
            Ok(1)
        }
    }
}
