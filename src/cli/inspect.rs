//! `status` and `best`: read-only views of a study.

use hypersweep_search::TrialState;
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
    println!("method    {}", spec.method.as_str());
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
