//! `hypersweep export`: every trial of a study, as JSON or CSV.
//!
//! JSON is the stored record of each trial (`number`, `state`, `params`,
//! `value`, `intermediate` as `[[step, value], ...]`, `error`, timestamps),
//! with NaN and infinities written as the strings `"NaN"`, `"inf"`, `"-inf"`.
//! CSV has one row per trial: its number, state, value, attempt, the trial it
//! retries, its error, its start and finish as ISO 8601 UTC times, its
//! duration in seconds, its last intermediate step and value, then one
//! column per parameter of the space, in the space's order; an empty cell
//! is a missing value (an inactive parameter, an unfinished trial).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use hypersweep_search::Value;
use hypersweep_trials::Trial;

use super::common::{StudyArgs, StudySnapshot, read_study};
use super::time::iso8601;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A JSON array of trials.
    Json,
    /// One row per trial, one column per parameter.
    Csv,
}

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Store and study.
    #[command(flatten)]
    pub study: StudyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Write here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Runs `export`.
pub fn run(args: ExportArgs) -> anyhow::Result<i32> {
    let StudySnapshot { record, trials, .. } = read_study(&args.study)?;
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&trials)? + "\n",
        Format::Csv => {
            let names: Vec<String> = record
                .spec
                .space
                .params()
                .iter()
                .map(|p| p.name.clone())
                .collect();
            to_csv(&trials, &names)
        }
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        // A reader that stopped early (`| head`) wanted no more.
        None => match std::io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        },
    }
    Ok(0)
}

/// The CSV text of `trials` with a column per name in `params`.
fn to_csv(trials: &[Trial], params: &[String]) -> String {
    let mut out = String::new();
    let mut header = vec![
        "number",
        "state",
        "value",
        "attempt",
        "retry_of",
        "error",
        "started",
        "finished",
        "duration_s",
        "last_step",
        "last_intermediate",
    ];
    header.extend(params.iter().map(String::as_str));
    push_row(&mut out, header.iter().map(|s| (*s).to_owned()));
    for t in trials {
        let mut row = vec![
            t.number.to_string(),
            serde_json::to_value(t.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            t.value.map(|v| v.to_string()).unwrap_or_default(),
            t.attempt.to_string(),
            t.retry_of.map(|n| n.to_string()).unwrap_or_default(),
            t.error.clone().unwrap_or_default(),
            iso8601(t.started_ms),
            t.finished_ms.map(iso8601).unwrap_or_default(),
            t.finished_ms
                .map(|f| (f.saturating_sub(t.started_ms) as f64 / 1000.0).to_string())
                .unwrap_or_default(),
        ];
        let last = t.intermediate.last();
        row.push(last.map(|(s, _)| s.to_string()).unwrap_or_default());
        row.push(last.map(|(_, v)| v.to_string()).unwrap_or_default());
        row.extend(
            params
                .iter()
                .map(|p| t.params.get(p).map(cell).unwrap_or_default()),
        );
        push_row(&mut out, row.into_iter());
    }
    out
}

/// A parameter value as a CSV cell: strings bare, everything else as JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn push_row(out: &mut String, cells: impl Iterator<Item = String>) {
    let cells: Vec<String> = cells.map(|c| quote(&c)).collect();
    out.push_str(&cells.join(","));
    out.push('\n');
}

/// RFC 4180 quoting, only where needed.
fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_where_needed() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn csv_rows_carry_times_duration_and_the_last_step() {
        let trial: Trial = serde_json::from_value(serde_json::json!({
            "study": "s", "number": 3, "params": {"lr": 0.1, "opt": "adam"},
            "state": "pruned", "value": 0.5, "intermediate": [[1, 0.9], [4, 0.5]],
            "started_ms": 951_827_696_789u64, "finished_ms": 951_827_699_289u64,
        }))
        .unwrap();
        let running: Trial = serde_json::from_value(serde_json::json!({
            "study": "s", "number": 4, "params": {"lr": 0.2},
            "state": "running", "started_ms": 951_827_696_789u64,
        }))
        .unwrap();
        let csv = to_csv(&[trial, running], &["lr".into(), "opt".into()]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            [
                "number,state,value,attempt,retry_of,error,started,finished,duration_s,\
                 last_step,last_intermediate,lr,opt",
                "3,pruned,0.5,0,,,2000-02-29T12:34:56.789Z,2000-02-29T12:34:59.289Z,2.5,4,0.5,0.1,adam",
                "4,running,,0,,,2000-02-29T12:34:56.789Z,,,,,0.2,",
            ]
        );
    }
}
