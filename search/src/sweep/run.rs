//! The `run` section (budget and execution).

use std::time::Duration;

use serde_json::Value;

use super::fields::{Fields, Res, describe, fault, unsigned};
use super::limits::{MAX_GPUS_PER_TRIAL, MAX_PARALLEL, MAX_REPEATS};
use super::{Devices, RunConfig};

const RUN_KEYS: &[&str] = &[
    "trials",
    "parallel",
    "timeout",
    "seed",
    "devices",
    "trials_per_device",
    "gpus_per_trial",
    "retry_failed",
    "trial_timeout",
    "max_consecutive_failures",
    "stale_after",
    "ask_timeout",
    "max_reports",
    "repeats",
];

/// Reads `run`. `run_cap` (W&B's budget) fills `trials` unless `run.trials`
/// is given.
pub(crate) fn parse_run(value: Option<&Value>, run_cap: Option<u64>) -> Res<RunConfig> {
    let mut run = RunConfig {
        trials: run_cap,
        ..RunConfig::default()
    };
    let Some(value) = value else {
        return Ok(run);
    };
    let f = Fields::of(value, "run", "the run section")?;
    f.only(RUN_KEYS, "`run`")?;
    let positive = |key: &str| -> Res<Option<u64>> {
        match f.unsigned(key)? {
            Some(0) => Err(fault(f.path_of(key), "expected at least 1")),
            n => Ok(n),
        }
    };
    let concurrency = |key: &str| -> Res<Option<u64>> {
        match positive(key)? {
            Some(n) if n > MAX_PARALLEL => Err(fault(
                f.path_of(key),
                format!("expected at most {MAX_PARALLEL}, got {n}"),
            )),
            n => Ok(n),
        }
    };
    let small = |key: &str| -> Res<Option<u32>> {
        f.unsigned(key)?
            .map(|n| {
                u32::try_from(n)
                    .map_err(|_| fault(f.path_of(key), format!("expected at most {}", u32::MAX)))
            })
            .transpose()
    };
    if let Some(n) = positive("trials")? {
        run.trials = Some(n);
    }
    if let Some(n) = concurrency("parallel")? {
        run.parallel = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = concurrency("trials_per_device")? {
        run.trials_per_device = usize::try_from(n).unwrap_or(usize::MAX);
    }
    run.seed = f.unsigned("seed")?;
    if let Some(n) = small("retry_failed")? {
        run.retry_failed = n;
    }
    if let Some(n) = small("max_consecutive_failures")? {
        run.max_consecutive_failures = n;
    }
    if let Some(v) = f.get("timeout") {
        run.timeout = Some(parse_duration(v, &f.path_of("timeout"))?);
    }
    if let Some(v) = f.get("trial_timeout") {
        run.trial_timeout = Some(parse_duration(v, &f.path_of("trial_timeout"))?);
    }
    if let Some(n) = positive("repeats")? {
        if n > MAX_REPEATS {
            return Err(fault(
                f.path_of("repeats"),
                format!("expected at most {MAX_REPEATS} evaluations per configuration, got {n}"),
            ));
        }
        run.repeats = u32::try_from(n).unwrap_or(u32::MAX);
    }
    if let Some(n) = positive("max_reports")? {
        run.max_reports = n;
    }
    if let Some(v) = f.get("stale_after") {
        run.stale_after = parse_duration(v, &f.path_of("stale_after"))?;
    }
    if let Some(v) = f.get("ask_timeout") {
        run.ask_timeout = parse_duration(v, &f.path_of("ask_timeout"))?;
    }
    if let Some(v) = f.get("devices") {
        run.devices = parse_devices(v, &f.path_of("devices"))?;
    }
    if let Some(k) = positive("gpus_per_trial")? {
        let k = usize::try_from(k).unwrap_or(usize::MAX);
        check_gpus_per_trial(&run.devices, k)
            .map_err(|message| fault(f.path_of("gpus_per_trial"), message))?;
        run.gpus_per_trial = k;
    }
    Ok(run)
}

/// Whether `devices` can give every trial `k` GPUs of its own: `k` from 1
/// to [`MAX_GPUS_PER_TRIAL`], at most the GPUs listed, and GPUs at all
/// (`"auto"` or a list) when `k` > 1. `"auto"` is checked again when the
/// GPUs are found. The message says what was expected.
pub fn check_gpus_per_trial(devices: &Devices, k: usize) -> Result<(), String> {
    if k == 0 || k as u64 > MAX_GPUS_PER_TRIAL {
        return Err(format!(
            "expected 1 to {MAX_GPUS_PER_TRIAL} GPUs per trial, got {k}"
        ));
    }
    match devices {
        Devices::List(ids) if ids.len() < k => Err(format!(
            "expected at most the {} GPU(s) listed in `devices`, got {k}",
            ids.len()
        )),
        Devices::Cpu if k > 1 => Err(format!(
            "{k} GPUs per trial need GPUs: set `devices` to \"auto\" or a list of GPU indices \
             (it is \"cpu\")"
        )),
        _ => Ok(()),
    }
}

/// `"cpu"`, `"auto"` or a list of GPU indices.
fn parse_devices(v: &Value, path: &str) -> Res<Devices> {
    match v {
        Value::String(s) if s == "cpu" => Ok(Devices::Cpu),
        Value::String(s) if s == "auto" => Ok(Devices::Auto),
        Value::Array(items) if !items.is_empty() => {
            let mut ids = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = format!("{path}[{i}]");
                let id = u32::try_from(unsigned(item, &at)?)
                    .map_err(|_| fault(&at, "expected a GPU index"))?;
                if ids.contains(&id) {
                    return Err(fault(at, format!("GPU {id} is listed twice")));
                }
                ids.push(id);
            }
            Ok(Devices::List(ids))
        }
        other => Err(fault(
            path,
            format!(
                "expected \"cpu\", \"auto\" or a non-empty list of GPU indices, got {}",
                describe(other)
            ),
        )),
    }
}

/// A duration: seconds as a number, or a string of `<integer><unit>` parts
/// with units `d`, `h`, `m`, `s` (`"8h"`, `"1h30m"`, `"90s"`).
pub(crate) fn parse_duration(v: &Value, path: &str) -> Res<Duration> {
    let expected =
        "expected a duration such as \"8h\", \"30m\", \"1h30m\", \"90s\" or seconds as a number";
    let seconds = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => duration_seconds(s.trim()),
        _ => None,
    };
    match seconds {
        Some(s) if s.is_finite() && s > 0.0 && s < 1e12 => Ok(Duration::from_secs_f64(s)),
        Some(_) => Err(fault(
            path,
            "expected a positive duration below 10^12 seconds",
        )),
        None => Err(fault(path, format!("{expected}, got {}", describe(v)))),
    }
}

fn duration_seconds(text: &str) -> Option<f64> {
    if text.is_empty() {
        return None;
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return Some(seconds);
    }
    let mut total = 0.0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400.0,
            'h' => 3_600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        let n: f64 = digits.parse().ok()?;
        total += n * unit;
        digits.clear();
    }
    digits.is_empty().then_some(total)
}
