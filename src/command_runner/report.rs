//! Reading reports from a trial's stdout: one JSON object per line.
//!
//! A line is a report when it parses as a JSON object holding the metric
//! key. The value is a number, or `null` / a string such as `"nan"` or
//! `"inf"` for a non-finite one. Python's `json.dumps` writes non-finite
//! floats as the bare tokens `NaN`, `Infinity` and `-Infinity`, which are
//! not JSON; a line that fails to parse is retried with those tokens
//! quoted, so a training script that diverges is reported as such rather
//! than ignored.

use serde_json::{Map, Value};

/// Keys that carry the step of a report, in order of preference.
const STEP_KEYS: [&str; 3] = ["step", "_step", "epoch"];

/// One report read from a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LineReport {
    /// The step, when the line names one.
    pub step: Option<u64>,
    /// The metric's value (may be non-finite).
    pub value: f64,
}

/// Longest piece of a bad report quoted in the trial's error.
const QUOTE_CHARS: usize = 80;

/// The report in `line` for `metric`: `Ok(None)` when the line is not one,
/// an error when it is one whose value cannot be read (a string that is not
/// a number, an array, a number beyond `f64`, a JSON object that does not
/// parse): that would otherwise be a trial that silently "never reported".
pub(crate) fn parse_report(line: &str, metric: &str) -> Result<Option<LineReport>, String> {
    let line = line.trim();
    if !line.starts_with('{') {
        return Ok(None);
    }
    let object = match parse_object(line).or_else(|_| parse_object(&quote_non_finite(line))) {
        Ok(object) => object,
        // Not JSON: a report only if it names the metric as a key.
        Err(e) if line.contains(&format!("\"{metric}\"")) => {
            return Err(format!(
                "a report of `{metric}` is not valid JSON ({e}): {}",
                quote(line)
            ));
        }
        Err(_) => return Ok(None),
    };
    let Some(raw) = object.get(metric) else {
        return Ok(None);
    };
    let value = metric_value(raw).ok_or_else(|| {
        format!(
            "reported `{metric}` as {}, which is not a number",
            quote(&raw.to_string())
        )
    })?;
    let step = STEP_KEYS
        .iter()
        .find_map(|key| object.get(*key).and_then(step_value));
    Ok(Some(LineReport { step, value }))
}

fn parse_object(line: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("not an object".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// At most [`QUOTE_CHARS`] characters of `text`, for an error message.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn metric_value(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Null => Some(f64::NAN),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "nan" | "-nan" => Some(f64::NAN),
            "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
            "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
            // A number written as a string ("0.25") is still a number.
            other => other.parse::<f64>().ok(),
        },
        _ => None,
    }
}

/// A step is a non-negative integer; an integral float (`3.0`) counts.
fn step_value(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    (f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64).then_some(f as u64)
}

/// Quotes the bare `NaN`, `Infinity`, `-Infinity` tokens outside strings.
fn quote_non_finite(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        let token = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t));
        match token {
            Some(t) => {
                out.push('"');
                out.push_str(t);
                out.push('"');
                rest = &rest[t.len()..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report, panicking on an error.
    fn parse_ok(line: &str, metric: &str) -> Option<LineReport> {
        parse_report(line, metric).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn reads_metric_and_step() {
        let r = parse_ok(r#"{"step": 3, "val_loss": 0.41}"#, "val_loss");
        assert_eq!(
            r,
            Some(LineReport {
                step: Some(3),
                value: 0.41
            })
        );
    }

    #[test]
    fn accepts_epoch_and_wandb_step_keys() {
        let r = parse_ok(r#"{"epoch": 2.0, "acc": 0.9}"#, "acc");
        assert_eq!(r.and_then(|r| r.step), Some(2));
        let r = parse_ok(r#"{"_step": 7, "acc": 0.9}"#, "acc");
        assert_eq!(r.and_then(|r| r.step), Some(7));
        let r = parse_ok(r#"{"acc": 1}"#, "acc");
        assert_eq!(
            r,
            Some(LineReport {
                step: None,
                value: 1.0
            })
        );
    }

    #[test]
    fn ignores_lines_that_are_not_reports() {
        assert_eq!(parse_ok("epoch 3 loss 0.2", "loss"), None);
        assert_eq!(parse_ok(r#"{"acc": 0.9}"#, "loss"), None);
        assert_eq!(parse_ok(r#"[1, 2]"#, "loss"), None);
        assert_eq!(parse_ok(r#"{"acc": 0.9"#, "loss"), None);
    }

    #[test]
    fn reports_that_cannot_be_represented_are_errors() {
        let error = |line: &str| parse_report(line, "loss").expect_err(line);
        assert!(error(r#"{"loss": [1]}"#).contains("not a number"));
        assert!(error(r#"{"loss": "high"}"#).contains(r#""high""#));
        assert!(error(r#"{"loss": 1e999}"#).contains("not valid JSON"));
        assert!(error(r#"{"loss": 0.1"#).contains("not valid JSON"));
        let long = format!(r#"{{"loss": "{}"}}"#, "x".repeat(10_000));
        assert!(error(&long).chars().count() < 200);
    }

    #[test]
    fn non_finite_spellings() {
        let value = |line: &str| parse_ok(line, "loss").map(|r| r.value);
        assert!(value(r#"{"loss": null}"#).is_some_and(f64::is_nan));
        assert!(value(r#"{"loss": "NaN"}"#).is_some_and(f64::is_nan));
        assert!(value(r#"{"loss": "nan"}"#).is_some_and(f64::is_nan));
        assert_eq!(value(r#"{"loss": "inf"}"#), Some(f64::INFINITY));
        assert_eq!(value(r#"{"loss": "-inf"}"#), Some(f64::NEG_INFINITY));
        // What Python's json.dumps prints for float('nan') / float('-inf').
        assert!(value(r#"{"loss": NaN, "step": 1}"#).is_some_and(f64::is_nan));
        assert_eq!(value(r#"{"loss": -Infinity}"#), Some(f64::NEG_INFINITY));
        assert_eq!(value(r#"{"loss": "0.5"}"#), Some(0.5));
    }

    #[test]
    fn quoting_leaves_strings_alone() {
        assert_eq!(
            quote_non_finite(r#"{"note": "NaN \" Infinity", "loss": NaN}"#),
            r#"{"note": "NaN \" Infinity", "loss": "NaN"}"#
        );
    }
}
