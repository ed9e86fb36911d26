//! [`CommandRunner`]: one process per trial, speaking the trial process
//! protocol (DESIGN.md, "The trial process protocol").
//!
//! A trial is a process started from a command template (see the
//! `macros` module for `{name}` placeholders and W&B's `${...}` macros),
//! never through a shell. It gets its parameters in argv and in the
//! environment:
//!
//! - `HYPERSWEEP_PARAMS`: the parameters as a JSON object, nested the way
//!   the sweep file wrote them (`model.width` becomes `{"model":
//!   {"width": ..}}`; flat spaces are unchanged), the same object as
//!   `${args_json}`;
//! - `HYPERSWEEP_TRIAL`, `HYPERSWEEP_ATTEMPT`, `HYPERSWEEP_STUDY`;
//! - `HYPERSWEEP_SEED` (also `{seed}` in the command): the evaluation's
//!   seed, the same when the trial is re-run; and `HYPERSWEEP_REPEAT`, which
//!   of the configuration's evaluations this is (`run.repeats`), from 0;
//! - `CUDA_VISIBLE_DEVICES=i` on `Device::Cuda(i)`, `=0,1` on a slot of
//!   several GPUs (`gpus_per_trial`), with the variables a launcher needs on
//!   any GPU slot: `HYPERSWEEP_GPUS`, `MASTER_ADDR`/`MASTER_PORT` (a port no
//!   other running trial has) and torchrun's `PET_NPROC_PER_NODE`,
//!   `PET_MASTER_ADDR`, `PET_MASTER_PORT` (see the `launcher` module). On
//!   `Device::Cpu` none is set and `CUDA_VISIBLE_DEVICES` is inherited as
//!   it is: hiding every GPU from a CPU slot would silently slow scripts
//!   that use a GPU when they see one, and a user who set the variable for
//!   the whole sweep expects it to hold.
//!
//! The process reports by printing JSON lines on stdout (`{"step": 3,
//! "val_loss": 0.41}`); each one carrying the metric is passed to the
//! scheduler's reporter, and the last is the trial's value. A report without
//! `step` (or `_step`, `epoch`) gets the step after the previous report's
//! (the first is step 1). Every stdout and stderr line goes, interleaved as it
//! arrives and unprefixed (the file reads like the terminal would), to
//! `{log_dir}/trial-{number:05}-{attempt}.log` (evaluations after a
//! repeated trial's first: `trial-{number:05}-{attempt}-r{repeat}.log`); see
//! [`CommandRunner::log_path`].
//!
//! How a trial ends:
//! - exit 0 after reporting a finite value: `Complete(last value)`;
//! - exit 0 after reporting a non-finite last value: `Failed("reported a
//!   non-finite value of `NAME`: NaN")`, which says more than the scheduler's
//!   generic treatment of a non-finite `Complete`;
//! - exit 0 without a report: `Failed("exited 0 without reporting metric
//!   `NAME`")`;
//! - another exit code: `Failed("exit code N: <last stderr lines>")`;
//! - a signal: `Failed("killed by signal N")`;
//! - a command that cannot start: `Failed("cannot start `PROGRAM`: <OS
//!   error>")`;
//! - past the trial timeout: terminated, `Failed("timed out after ..")`;
//! - a `Prune` answer to a report: terminated, `Pruned`;
//! - the reporter cancelled: terminated, `Failed("interrupted")`.
//!
//! Terminating is SIGTERM to the process group, then SIGKILL after the grace
//! period (see the `process` module).

mod launcher;
mod lines;
mod macros;
mod process;
mod report;
mod trial;
mod watchdog;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hypersweep_search::Params;
use hypersweep_search::sweep::SweepSpec;
use hypersweep_trials::{BoxFuture, RunOutcome, Runner, TrialContext};
use thiserror::Error;

use macros::{CommandTemplate, TemplateInputs};

pub use hypersweep_search::sweep::DEFAULT_MAX_REPORTS;

/// The default grace period between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// A command template that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Neither a command nor a program was given.
    #[error("no command to run: give `command`, or `program` for W&B's default command")]
    EmptyCommand,
    /// The first element of the command is empty.
    #[error("the command's first element (the program to run) is empty")]
    EmptyProgram,
    /// An element is `${name}` and `name` is no macro.
    #[error(
        "unknown macro `${{{name}}}` in the command (known: ${{env}}, ${{interpreter}}, \
         ${{program}}, ${{args}}, ${{args_no_hyphens}}, ${{args_no_boolean_flags}}, \
         ${{args_json}}, ${{args_json_file}})"
    )]
    UnknownMacro {
        /// The macro's name.
        name: String,
    },
    /// A macro expanding to several arguments shares an element with other
    /// text.
    #[error(
        "`${{{name}}}` expands to several arguments and must be a command element of its own, not part of `{element}`"
    )]
    MacroNotAlone {
        /// The element.
        element: String,
        /// The macro's name.
        name: String,
    },
    /// `${program}` is used but no program was given.
    #[error("the command uses `${{program}}` but no `program` is set")]
    MissingProgram,
    /// The metric name is empty.
    #[error("the metric name is empty")]
    EmptyMetric,
}

/// Runs each trial as a process; see the [module docs](self) for the
/// protocol. Cheap to clone; one runner serves all slots of a sweep.
#[derive(Debug, Clone)]
pub struct CommandRunner {
    config: Arc<Config>,
}

/// A validated runner configuration.
#[derive(Debug)]
struct Config {
    template: CommandTemplate,
    metric: String,
    max_reports: u64,
    trial_timeout: Option<Duration>,
    grace_period: Duration,
    log_dir: Option<PathBuf>,
    working_dir: Option<PathBuf>,
    env: Vec<(String, String)>,
}

/// Configures a [`CommandRunner`]; [`CommandRunnerBuilder::build`] validates.
#[derive(Debug, Clone)]
pub struct CommandRunnerBuilder {
    command: Vec<String>,
    program: Option<String>,
    metric: String,
    max_reports: u64,
    param_names: Option<HashSet<String>>,
    trial_timeout: Option<Duration>,
    grace_period: Duration,
    log_dir: Option<PathBuf>,
    working_dir: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl CommandRunner {
    /// A builder for `command` (argv with placeholders and macros). An empty
    /// command with a [`program`](CommandRunnerBuilder::program) runs W&B's
    /// default `${env} ${interpreter} ${program} ${args}`.
    pub fn builder(command: Vec<String>) -> CommandRunnerBuilder {
        CommandRunnerBuilder {
            command,
            program: None,
            metric: "loss".to_owned(),
            param_names: None,
            max_reports: DEFAULT_MAX_REPORTS,
            trial_timeout: None,
            grace_period: DEFAULT_GRACE_PERIOD,
            log_dir: None,
            working_dir: None,
            env: Vec::new(),
        }
    }

    /// A builder set up from a sweep file: its `command`, `program`,
    /// `metric.name`, `run.trial_timeout` and parameter names. Add the log
    /// directory and the rest before building.
    pub fn builder_from_sweep(spec: &SweepSpec) -> CommandRunnerBuilder {
        let mut builder = CommandRunner::builder(spec.command.clone().unwrap_or_default());
        builder
            .metric(spec.metric.name.clone())
            .param_names(spec.space.params().iter().map(|p| p.name.clone()));
        if let Some(program) = &spec.program {
            builder.program(program.clone());
        }
        builder.max_reports(spec.run.max_reports);
        if let Some(timeout) = spec.run.trial_timeout {
            builder.trial_timeout(timeout);
        }
        builder
    }

    /// The argv a trial with `params` runs (a params file, when the template
    /// uses one, is shown as `<params.json>`): what `check` prints.
    pub fn command_line(&self, params: &Params) -> Vec<String> {
        let json = self
            .config
            .template
            .uses_json_file()
            .then(|| PathBuf::from("<params.json>"));
        self.config.template.expand(params, json.as_deref(), None)
    }

    /// The metric read from the trial's output.
    pub fn metric(&self) -> &str {
        &self.config.metric
    }

    /// The log file of a trial: `{dir}/trial-{number:05}-{attempt}.log`,
    /// where `dir` is the runner's [log
    /// directory](CommandRunnerBuilder::log_dir) or else `ctx_log_dir` (the
    /// trial context's `log_dir`); `None` when neither is set and the trial
    /// keeps no log. The scheduler or CLI calls this to store the path with
    /// the trial.
    pub fn log_path(
        &self,
        ctx_log_dir: Option<&Path>,
        number: u64,
        attempt: u32,
    ) -> Option<PathBuf> {
        self.config
            .log_dir(ctx_log_dir)
            .map(|dir| dir.join(format!("trial-{number:05}-{attempt}.log")))
    }
}

impl Config {
    fn log_dir<'a>(&'a self, ctx_log_dir: Option<&'a Path>) -> Option<&'a Path> {
        self.log_dir.as_deref().or(ctx_log_dir)
    }
}

impl Runner for CommandRunner {
    fn run(&self, ctx: TrialContext) -> BoxFuture<RunOutcome> {
        Box::pin(trial::run_trial(Arc::clone(&self.config), ctx))
    }
}

impl CommandRunnerBuilder {
    /// `program` (W&B): what `${program}` expands to.
    pub fn program(&mut self, program: impl Into<String>) -> &mut Self {
        self.program = Some(program.into());
        self
    }

    /// The metric key read from the JSON lines (default `loss`).
    pub fn metric(&mut self, name: impl Into<String>) -> &mut Self {
        self.metric = name.into();
        self
    }

    /// The search space's parameter names. With them, a `{name}` naming no
    /// parameter stays literal text and an element whose parameter is
    /// inactive in a trial is dropped (see the `macros` module).
    pub fn param_names<I, S>(&mut self, names: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.param_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Most intermediate values one trial may report (`run.max_reports`);
    /// past it the trial fails with the reason instead of flooding the store.
    pub fn max_reports(&mut self, max: u64) -> &mut Self {
        self.max_reports = max;
        self
    }

    /// Limit of one trial's run time; past it the trial is terminated and
    /// fails.
    pub fn trial_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.trial_timeout = Some(timeout);
        self
    }

    /// Time between SIGTERM and SIGKILL when a trial is terminated (default
    /// 10 s).
    pub fn grace_period(&mut self, grace: Duration) -> &mut Self {
        self.grace_period = grace;
        self
    }

    /// Directory of the trials' log files (created when needed); overrides
    /// the trial context's `log_dir`.
    pub fn log_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// Working directory of the trial processes (default: inherited).
    pub fn working_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// An extra environment variable for every trial process. The protocol's
    /// own variables (`HYPERSWEEP_*`, `CUDA_VISIBLE_DEVICES` on a GPU) win
    /// over it.
    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Validates the template and the settings.
    pub fn build(&self) -> Result<CommandRunner, CommandError> {
        if self.metric.trim().is_empty() {
            return Err(CommandError::EmptyMetric);
        }
        let command = if self.command.is_empty() && self.program.is_some() {
            macros::default_command()
        } else {
            self.command.clone()
        };
        let inputs = TemplateInputs {
            program: self.program.as_deref(),
            param_names: self.param_names.as_ref(),
        };
        let template = CommandTemplate::parse(&command, &inputs)?;
        Ok(CommandRunner {
            config: Arc::new(Config {
                template,
                metric: self.metric.clone(),
                max_reports: self.max_reports,
                trial_timeout: self.trial_timeout,
                grace_period: self.grace_period,
                log_dir: self.log_dir.clone(),
                working_dir: self.working_dir.clone(),
                env: self.env.clone(),
            }),
        })
    }
}

#[cfg(test)]
mod tests;
