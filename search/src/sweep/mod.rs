//! Sweep files: the W&B sweep configuration plus hypersweep's additions, and
//! NNI search spaces; parsed and validated once into a [`SweepSpec`].
//!
//! Everything a searcher or the scheduler may assume is checked here, once:
//! after [`parse_sweep`] succeeds, bounds are ordered, log ranges positive,
//! conditions point at categorical parents, and a grid sweep is finite.
//!
//! - Format: JSON, or YAML when the file name ends in `.yaml`/`.yml`; both
//!   become one `serde_json::Value` and take the same path from there.
//! - W&B files: see `wandb.rs` for the top level, `distributions.rs` for how
//!   each `distribution` maps onto a [`crate::Domain`], and `parameters.rs`
//!   for nested groups (flattened to `model.width`) and `when` conditions.
//! - NNI `search_space.json` files are recognised by their shape; see `nni.rs`
//!   (method `tpe`, metric `default` minimised).
//! - Whether a new spec may continue a stored study: see `diff.rs`
//!   ([`spec_differences`]).
//! - Errors are [`SpecError`]s: the file, the JSON path as written in the
//!   file (`parameters.model.parameters.width.min`, `lr._value`), or
//!   `line L, column C` for syntax errors, and what was expected.

mod diff;
mod distributions;
mod early;
mod fields;
mod limits;
mod nni;
mod parameters;
mod run;
#[cfg(test)]
mod tests;
mod wandb;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::history::Direction;
use crate::searcher::{Method, SearcherOptions};
use crate::space::SearchSpace;
pub use diff::{SpecDifference, spec_differences};
use fields::{Fault, display_path, fault};
pub use limits::{
    MAX_ARRAY_ITEMS, MAX_DEPTH, MAX_FILE_BYTES, MAX_GPUS_PER_TRIAL, MAX_KEY_CHARS, MAX_PARALLEL,
    MAX_REPEATS,
};
pub use run::check_gpus_per_trial;

/// A parsed, validated sweep file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// `name`: the study name unless overridden.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `method`.
    pub method: Method,
    /// `metric`.
    pub metric: Metric,
    /// `parameters`, flattened and validated.
    pub space: SearchSpace,
    /// `early_terminate`, kept for the pruners.
    pub early_terminate: Option<EarlyTerminate>,
    /// `run` (and W&B's `run_cap` as `run.trials`).
    pub run: RunConfig,
    /// `command`, argv with `{name}` placeholders and W&B `${...}` macros.
    pub command: Option<Vec<String>>,
    /// `program` (W&B): the script the default command runs.
    pub program: Option<String>,
    /// `tpe: {...}`, `gp: {...}`.
    pub searcher: SearcherOptions,
    /// Other top-level keys W&B knows (`project`, `entity`, ...), kept as
    /// written.
    pub extra: Map<String, Value>,
    /// A searcher or pruner given in code rather than by name; empty for a
    /// sweep file.
    #[serde(default, skip_serializing_if = "CustomParts::is_empty")]
    pub custom: CustomParts,
}

/// A searcher or pruner handed to a study as a Rust object (through the
/// `Study` builder) rather than named by `method` and `early_terminate`.
///
/// Such an object cannot be stored, only its name: recording it keeps the
/// stored spec honest (a study run by a custom searcher does not claim the
/// default `method`), and makes a later run with another searcher or pruner
/// a visible change of the study ([`spec_differences`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomParts {
    /// The searcher's `Searcher::name()`; `method` is then not what runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searcher: Option<String>,
    /// The pruner's name; `early_terminate` is then not what runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruner: Option<String>,
}

impl CustomParts {
    /// True when neither a searcher nor a pruner was given in code.
    pub fn is_empty(&self) -> bool {
        self.searcher.is_none() && self.pruner.is_none()
    }
}

/// The objective: which reported key to read and which way is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Key read from the trial's JSON lines.
    pub name: String,
    /// `goal`: minimize or maximize.
    pub goal: Direction,
    /// `target`: stop the sweep once a trial reaches it.
    pub target: Option<f64>,
}

impl Default for Metric {
    fn default() -> Self {
        Metric {
            name: "loss".to_owned(),
            goal: Direction::Minimize,
            target: None,
        }
    }
}

/// Which pruner `early_terminate` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PrunerKind {
    /// Hyperband: W&B's bands when the file uses W&B's keys (`min_iter`,
    /// `max_iter`, `s`, `strict`), else ASHA brackets.
    Hyperband,
    /// Asynchronous successive halving.
    Asha,
    /// Median stopping rule.
    Median,
    /// Percentile stopping rule (the median at `percentile: 50`).
    Percentile,
    /// No early stopping.
    None,
}

/// `min_resource`: a number of steps, or `"auto"` (Optuna's rule: a
/// hundredth of the longest completed trial's last step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MinResource {
    /// Derived from the completed trials.
    Auto,
    /// This many steps.
    Steps(u64),
}

/// `early_terminate`: W&B's fields (`min_iter`, `max_iter`, `s`, `strict`)
/// and ours, named as in Optuna and Ray (`min_resource`, `max_resource`,
/// `warmup_steps`, `percentile`). The parser keeps the two forms apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyTerminate {
    /// `type`.
    pub kind: PrunerKind,
    /// `min_iter` (W&B).
    pub min_iter: Option<u64>,
    /// `max_iter` (W&B).
    pub max_iter: Option<u64>,
    /// `eta` (default 3).
    pub eta: f64,
    /// `s`: number of W&B bands below `max_iter`.
    pub s: Option<u64>,
    /// `strict` (W&B): judge the value at the band, not the best so far.
    pub strict: bool,
    /// `min_resource`: the first rung (ASHA, Hyperband).
    #[serde(default)]
    pub min_resource: Option<MinResource>,
    /// `max_resource`: the step a trial completes at (ASHA, Hyperband).
    #[serde(default)]
    pub max_resource: Option<u64>,
    /// `warmup_steps`: no pruning before this step.
    #[serde(default)]
    pub warmup_steps: Option<u64>,
    /// `percentile` (percentile rule), in (0, 100).
    #[serde(default)]
    pub percentile: Option<f64>,
}

impl EarlyTerminate {
    /// A block of this kind with every option at its default.
    pub fn new(kind: PrunerKind) -> Self {
        EarlyTerminate {
            kind,
            min_iter: None,
            max_iter: None,
            eta: 3.0,
            s: None,
            strict: false,
            min_resource: None,
            max_resource: None,
            warmup_steps: None,
            percentile: None,
        }
    }

    /// True when this is W&B's hyperband (bands), not ours (brackets).
    pub fn is_wandb_hyperband(&self) -> bool {
        self.kind == PrunerKind::Hyperband && (self.min_iter.is_some() || self.max_iter.is_some())
    }
}

/// Where trials run. More forms may come (e.g. MIG instances), hence
/// `#[non_exhaustive]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Devices {
    /// Every slot on the CPU.
    #[default]
    Cpu,
    /// The GPUs `nvidia-smi -L` lists (the CPU when none and each trial
    /// asks for one GPU), in groups of `gpus_per_trial`.
    Auto,
    /// These GPU indices, grouped in the order written.
    List(Vec<u32>),
}

/// The `run` section: budget and execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Trial budget (Complete + Pruned + Failed-without-retry); none = until
    /// stopped.
    pub trials: Option<u64>,
    /// Trials at once.
    pub parallel: usize,
    /// Wall-clock limit of the sweep.
    pub timeout: Option<Duration>,
    /// Seed of every searcher draw.
    pub seed: Option<u64>,
    /// Device per worker slot.
    pub devices: Devices,
    /// Slots per device (per group of `gpus_per_trial` GPUs).
    pub trials_per_device: usize,
    /// GPUs each trial gets (a trial that trains on several GPUs itself,
    /// through torchrun, DDP or Horovod): each slot owns this many, and
    /// slots share none unless `trials_per_device` > 1.
    #[serde(default = "default_gpus_per_trial")]
    pub gpus_per_trial: usize,
    /// Re-runs of a failed trial's params.
    pub retry_failed: u32,
    /// Limit of one trial's run time.
    pub trial_timeout: Option<Duration>,
    /// Stop the sweep after this many failures in a row.
    pub max_consecutive_failures: u32,
    /// A running trial whose process has not beaten for this long is
    /// reaped (failed as interrupted) by any process of the study.
    #[serde(default = "default_stale_after")]
    pub stale_after: Duration,
    /// An asked trial (`ask`) is kept running this long without news.
    #[serde(default = "default_ask_timeout")]
    pub ask_timeout: Duration,
    /// Most intermediate values one trial may report: each is a storage
    /// write and a point in memory, so a trial that reports in a tight loop
    /// fails with the reason instead of flooding the store.
    #[serde(default = "default_max_reports")]
    pub max_reports: u64,
    /// Evaluations of each configuration, each with its own seed; the
    /// trial's value is their mean. Run settings, not identity: the budget
    /// (`trials`) counts configurations, so a sweep of `trials: n` with
    /// `repeats: k` runs `n * k` evaluations.
    #[serde(default = "default_repeats")]
    pub repeats: u32,
}

fn default_repeats() -> u32 {
    1
}

fn default_gpus_per_trial() -> usize {
    1
}

/// Default of `run.max_reports`: a report per batch of a day-long run
/// stays well under it.
pub const DEFAULT_MAX_REPORTS: u64 = 100_000;

fn default_max_reports() -> u64 {
    DEFAULT_MAX_REPORTS
}

fn default_stale_after() -> Duration {
    Duration::from_secs(120)
}

fn default_ask_timeout() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            trials: None,
            parallel: 1,
            timeout: None,
            seed: None,
            devices: Devices::Cpu,
            trials_per_device: 1,
            gpus_per_trial: 1,
            retry_failed: 0,
            trial_timeout: None,
            max_consecutive_failures: 10,
            stale_after: default_stale_after(),
            ask_timeout: default_ask_timeout(),
            max_reports: DEFAULT_MAX_REPORTS,
            repeats: 1,
        }
    }
}

/// A sweep file that could not be read: names the file, the JSON path and
/// what was expected.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{file}: {path}: {message}")]
pub struct SpecError {
    /// The file, as given.
    pub file: String,
    /// JSON path (`parameters.lr.max`), or `line L, column C` for syntax
    /// errors.
    pub path: String,
    /// What was expected.
    pub message: String,
}

/// Parses a sweep file's text. `file` names it in errors and its extension
/// picks YAML (`.yaml`, `.yml`) over JSON; an NNI search space is recognised
/// by its shape (`_type`/`_value`) and gets method `tpe` and metric
/// `default` (minimised), since such a file holds only the space.
///
/// A W&B file without `method` gets `tpe`, without `metric` gets `loss`
/// minimised. Never panics: any text gives a spec or a [`SpecError`].
pub fn parse_sweep(text: &str, file: &str) -> Result<SweepSpec, SpecError> {
    let in_file = |f: Fault| SpecError {
        file: file.to_owned(),
        path: display_path(&f.path),
        message: f.message,
    };
    limits::check_size(text).map_err(in_file)?;
    let document = read_document(text, file).map_err(in_file)?;
    limits::check_document(&document).map_err(in_file)?;
    let Value::Object(root) = &document else {
        return Err(in_file(fault(
            "",
            format!(
                "expected an object with `parameters` (or an NNI search space), got {}",
                fields::describe(&document)
            ),
        )));
    };
    if nni::looks_like_nni(root) {
        let space = nni::parse_nni(root).and_then(parameters::build_space);
        return space.map(nni_sweep).map_err(in_file);
    }
    wandb::parse_wandb(root).map_err(in_file)
}

/// True for file names that should be read as YAML.
fn is_yaml(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

/// Parses the text into one JSON value; syntax errors carry the line and
/// column.
fn read_document(text: &str, file: &str) -> Result<Value, Fault> {
    if is_yaml(file) {
        let yaml_fault = |e: serde_yaml_ng::Error| {
            let at = e
                .location()
                .map(|l| format!("line {}, column {}", l.line(), l.column()))
                .unwrap_or_default();
            fault(at, format!("invalid YAML: {e}"))
        };
        // Through YAML's own value first, so `<<: *defaults` merge keys work
        // as YAML users expect.
        let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(yaml_fault)?;
        yaml.apply_merge().map_err(yaml_fault)?;
        serde_json::to_value(yaml).map_err(|e| {
            fault(
                "",
                format!("YAML that JSON cannot hold (keys must be strings): {e}"),
            )
        })
    } else {
        limits::parse_strict_json(text)
    }
}

/// An NNI file holds only the space; everything else takes its default.
fn nni_sweep(space: SearchSpace) -> SweepSpec {
    SweepSpec {
        name: None,
        description: None,
        method: wandb::DEFAULT_METHOD,
        metric: Metric {
            name: "default".to_owned(),
            goal: Direction::Minimize,
            target: None,
        },
        space,
        early_terminate: None,
        run: RunConfig::default(),
        command: None,
        program: None,
        searcher: SearcherOptions::default(),
        extra: Map::new(),
        custom: CustomParts::default(),
    }
}
