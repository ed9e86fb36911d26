//! `hypersweep export`: every trial of a study, as JSON or CSV.
//!
//! JSON is the stored record of each trial (`number`, `state`, `params`,
//! `value`, `intermediate` as `[[step, value], ...]`, `error`, timestamps),
//! with NaN and infinities written as the strings `"NaN"`, `"inf"`, `"-inf"`.
//! CSV has one row per trial and one column per parameter of the space, in
//! the space's order; an inactive parameter's cell is empty.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use hypersweep_search::Value;
use hypersweep_trials::Trial;

use super::common::{StudyArgs, StudySnapshot, read_study};

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
    let mut header = vec!["number", "state", "value", "attempt", "retry_of", "error"];
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
        ];
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
}
