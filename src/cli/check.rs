//! `hypersweep check SPEC`: parse and validate a sweep file and print what
//! it describes, so a typo is found before a night of trials, not after.

use std::fmt::Write as _;
use std::path::PathBuf;

use hypersweep::CommandRunner;
use hypersweep_search::Domain;
use hypersweep_search::sweep::{Devices, EarlyTerminate, SweepSpec, parse_sweep};
use hypersweep_search::{Direction, History, Param, Value, build_searcher, suggestion_rng};
use hypersweep_trials::{device, pruner_from_spec};

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The sweep file (JSON, YAML or NNI search space).
    pub spec: PathBuf,
}

/// Runs `check`: prints the parsed sweep and returns 0, or prints the error
/// to stderr and returns [`super::EXIT_BAD_INPUT`].
pub fn run(args: CheckArgs) -> anyhow::Result<i32> {
    let file = args.spec.display().to_string();
    let text = match super::common::read_sweep_file(&args.spec) {
        Ok(text) => text,
        Err(err) => {
            errln!("error: {file}: cannot read the sweep file: {err}");
            return Ok(super::EXIT_BAD_INPUT);
        }
    };
    match parse_sweep(&text, &file) {
        Ok(spec) => {
            let first = match first_command(&spec) {
                Ok(first) => first,
                Err(message) => {
                    errln!("error: {file}: command: {message}");
                    return Ok(super::EXIT_BAD_INPUT);
                }
            };
            out!("{}", describe_sweep(&file, &spec));
            if let Some(first) = first {
                out!("{first}");
            }
            Ok(0)
        }
        Err(err) => {
            errln!("error: {err}");
            Ok(super::EXIT_BAD_INPUT)
        }
    }
}

/// Validates the command (placeholders naming params, W&B macros, a
/// program to run) and says what the first trial will run; `None` for a
/// spec without a command (ask/tell and embedded studies).
fn first_command(spec: &SweepSpec) -> Result<Option<String>, String> {
    if spec.command.is_none() && spec.program.is_none() {
        return Ok(None);
    }
    let runner = CommandRunner::builder_from_sweep(spec)
        .build()
        .map_err(|e| e.to_string())?;
    let seed = spec.run.seed.unwrap_or(0);
    let mut searcher = build_searcher(spec.method, &spec.searcher, seed);
    let params = searcher
        .suggest(
            &spec.space,
            &History::new(spec.metric.goal),
            &mut suggestion_rng(seed, 0),
        )
        .map_err(|e| format!("no first trial: {e}"))?;
    let argv = runner.command_line(&params);
    let mut text = format!("first     {}\n", argv.join(" "));
    if let Some(program) = argv.first()
        && !program_exists(program)
    {
        text.push_str(&format!(
            "warning   `{program}` is not an executable on PATH or a file here; every trial would fail to start\n"
        ));
    }
    for name in unknown_placeholders(spec) {
        text.push_str(&format!(
            "warning   `{{{name}}}` in the command names no parameter; it is passed as written\n"
        ));
    }
    Ok(Some(text))
}

/// `{name}` spans of the command that name no parameter (a typo such as
/// `{learning_rate}` for `lr` would otherwise reach every trial as text).
fn unknown_placeholders(spec: &SweepSpec) -> Vec<String> {
    let names: std::collections::HashSet<&str> = spec
        .space
        .params()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let mut unknown = Vec::new();
    for arg in spec.command.iter().flatten() {
        let mut rest = arg.as_str();
        while let Some(open) = rest.find('{') {
            let is_macro = rest[..open].ends_with('$');
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                break;
            };
            let inner = &after[..close];
            let looks_like_name = !inner.is_empty()
                && inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            // `{seed}` is the evaluation's seed, not a parameter.
            if !is_macro && looks_like_name && !names.contains(inner) && inner != "seed" {
                unknown.push(inner.to_owned());
            }
            rest = &after[close + 1..];
        }
    }
    unknown
}

/// True when `program` names an existing file, or an executable on PATH.
fn program_exists(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// The human summary `check` prints.
fn describe_sweep(file: &str, spec: &SweepSpec) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(out, "{file}: ok");
    if let Some(name) = &spec.name {
        let _ = writeln!(out, "name      {name}");
    }
    let _ = writeln!(out, "method    {}", spec.method.as_str());
    if spec.method == hypersweep_search::Method::Auto {
        let plan = hypersweep_search::auto::plan(spec.space.len());
        let _ = writeln!(out, "          {plan}");
    }
    let goal = match spec.metric.goal {
        Direction::Minimize => "minimize",
        Direction::Maximize => "maximize",
    };
    let target = spec
        .metric
        .target
        .map(|t| format!(", target {}", number(t)))
        .unwrap_or_default();
    let _ = writeln!(out, "metric    {} ({goal}{target})", spec.metric.name);
    if let Some(et) = &spec.early_terminate {
        let study = spec.name.as_deref().unwrap_or("study");
        let _ = writeln!(out, "early     {}", early_terminate(et, study));
    }
    let _ = writeln!(out, "run       {}", run_summary(spec));
    let _ = writeln!(out, "slots     {}", slots_summary(spec));
    if let Some(command) = &spec.command {
        let _ = writeln!(out, "command   {}", command.join(" "));
    }
    let params = spec.space.params();
    let _ = writeln!(out, "parameters ({}):", params.len());
    let width = params
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(0)
        .max(12);
    for p in params {
        let _ = writeln!(out, "  {:width$}  {}", p.name, param_line(p));
    }
    out
}

fn run_summary(spec: &SweepSpec) -> String {
    let run = &spec.run;
    let mut parts = vec![
        match run.trials {
            Some(n) => format!("{n} trials"),
            None => "trials until stopped".to_owned(),
        },
        format!("{} parallel", run.parallel),
    ];
    if run.repeats > 1 {
        parts.push(format!(
            "{} seeds per configuration ({} evaluations)",
            run.repeats,
            run.trials.map_or_else(
                || "unbounded".to_owned(),
                |n| (n * u64::from(run.repeats)).to_string()
            )
        ));
    }
    if let Some(t) = run.timeout {
        parts.push(format!("timeout {}", duration(t)));
    }
    if let Some(t) = run.trial_timeout {
        parts.push(format!("trial timeout {}", duration(t)));
    }
    if let Some(seed) = run.seed {
        parts.push(format!("seed {seed}"));
    }
    if run.trials_per_device > 1 {
        parts.push(format!("{} trials per device", run.trials_per_device));
    }
    if run.gpus_per_trial > 1 {
        parts.push(format!("{} GPUs per trial", run.gpus_per_trial));
    }
    parts.push(match &run.devices {
        Devices::Cpu => "devices cpu".to_owned(),
        Devices::Auto => "devices auto".to_owned(),
        Devices::List(ids) => {
            let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
            format!("devices [{}]", ids.join(", "))
        }
        other => format!("devices {other:?}"),
    });
    parts.join(", ")
}

/// The worker slots a `run` here would start, with the GPUs each owns and
/// those left idle (`devices: auto` asks `nvidia-smi` on this machine).
fn slots_summary(spec: &SweepSpec) -> String {
    let run = &spec.run;
    let plan = match device::plan_slots(
        &run.devices,
        run.parallel,
        run.trials_per_device,
        run.gpus_per_trial,
    ) {
        Ok(plan) => plan,
        Err(err) => return format!("none on this machine: {err}"),
    };
    let n = plan.slots.len();
    if plan.slots.iter().all(|d| d.gpus().is_empty()) {
        return format!("{n} on the cpu");
    }
    let mut text = format!(
        "{n}: {}",
        plan.slots
            .iter()
            .map(|d| format!("[{}]", d.cuda_visible_devices().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !plan.idle_gpus.is_empty() {
        let idle: Vec<String> = plan.idle_gpus.iter().map(u32::to_string).collect();
        text.push_str(&format!(" (idle GPUs: {})", idle.join(", ")));
    }
    text
}

/// The pruner that will actually run, with its rungs or bands (the study's
/// name only changes which trial lands in which Hyperband bracket).
fn early_terminate(et: &EarlyTerminate, study: &str) -> String {
    pruner_from_spec(Some(et), study).describe()
}

/// `float [1e-5, 0.1] log`, then the condition, if any.
fn param_line(p: &Param) -> String {
    let mut s = domain(&p.domain);
    if let Some(n) = p.grid_points {
        let _ = write!(s, " grid_points {n}");
    }
    if let Some(c) = &p.condition {
        let values: Vec<String> = c.values.iter().map(Value::to_string).collect();
        let _ = write!(s, " when {} in [{}]", c.parent, values.join(", "));
    }
    s
}

fn domain(d: &Domain) -> String {
    match d {
        Domain::Float {
            low,
            high,
            log,
            step,
        } => {
            let mut s = format!("float [{}, {}]", number(*low), number(*high));
            if *log {
                s.push_str(" log");
            }
            if let Some(step) = step {
                let _ = write!(s, " step {}", number(*step));
            }
            s
        }
        Domain::Int {
            low,
            high,
            log,
            step,
        } => {
            let mut s = format!("int [{low}, {high}]");
            if *log {
                s.push_str(" log");
            }
            if let Some(step) = step {
                let _ = write!(s, " step {step}");
            }
            s
        }
        Domain::Normal { mu, sigma, log, q } => {
            let mut s = format!(
                "{} mu {} sigma {}",
                if *log { "log_normal" } else { "normal" },
                number(*mu),
                number(*sigma)
            );
            if let Some(q) = q {
                let _ = write!(s, " q {}", number(*q));
            }
            s
        }
        Domain::Categorical {
            choices,
            probabilities,
        } => {
            let choices: Vec<String> = choices.iter().map(Value::to_string).collect();
            let mut s = format!("categorical [{}]", choices.join(", "));
            if let Some(p) = probabilities {
                let p: Vec<String> = p.iter().map(|x| number(*x)).collect();
                let _ = write!(s, " p [{}]", p.join(", "));
            }
            s
        }
        Domain::Const { value } => format!("const {value}"),
        Domain::Cell {
            nodes,
            ops,
            run_disconnected,
        } => format!(
            "cell of {nodes} nodes over [{}]{}",
            ops.join(", "),
            if *run_disconnected {
                ", disconnected cells run"
            } else {
                ""
            }
        ),
        // Domains added later print in their debug form until they get a
        // line of their own.
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}

/// Short form of a number: six significant digits, plain in the usual
/// range, scientific outside it.
fn number(x: f64) -> String {
    let x: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// `1h30m`, `8h`, `90s` -> `1m30s`.
fn duration(d: std::time::Duration) -> String {
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            let _ = write!(out, "{n}{unit}");
        }
    }
    if out.is_empty() {
        format!("{}s", d.as_secs_f64())
    } else {
        out
    }
}
