//! One trial's run: spawn, watch output and deadlines, terminate, decide
//! the outcome.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hypersweep_trials::{Decision, RunOutcome, TrialContext};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

use super::Config;
use super::launcher::launcher_env;
use super::lines::{LineStream, SharedLog};
use super::process::{DRAIN_LIMIT, ExitKind, GroupGuard, describe_exit};
use super::report::parse_report;

/// Stderr lines kept for the error text of a failed trial.
const STDERR_TAIL_LINES: usize = 20;
/// Longest stderr line kept in that tail (a progress bar can be huge).
const STDERR_LINE_CHARS: usize = 400;

/// Why the runner stopped a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Pruned,
    TimedOut,
    Interrupted,
    /// A report that cannot be read; the message is in the `bad_report` field of `Watch`.
    BadReport,
}

/// How watching a running process ended.
enum End {
    Exited(std::io::Result<std::process::ExitStatus>),
    Stopped(Stop),
}

/// Runs one trial to its outcome.
pub(crate) async fn run_trial(config: Arc<Config>, ctx: TrialContext) -> RunOutcome {
    let log_dir = config
        .log_dir(ctx.log_dir.as_deref())
        .map(Path::to_path_buf);
    let params_file = if config.template.uses_json_file() {
        match ParamsFile::write(log_dir.as_deref(), &ctx) {
            Ok(file) => Some(file),
            Err(message) => return RunOutcome::Failed(message),
        }
    } else {
        None
    };
    let argv = config.template.expand(
        &ctx.params,
        params_file.as_ref().map(|f| f.path.as_path()),
        Some(ctx.seed),
    );
    let Some((program, args)) = argv.split_first() else {
        return RunOutcome::Failed("the command expanded to no arguments".to_owned());
    };

    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &config.working_dir {
        command.current_dir(dir);
    }
    for (key, value) in &config.env {
        command.env(key, value);
    }
    command
        .env("HYPERSWEEP_PARAMS", ctx.params.to_nested().to_string())
        .env("HYPERSWEEP_TRIAL", ctx.number.to_string())
        .env("HYPERSWEEP_ATTEMPT", ctx.attempt.to_string())
        .env("HYPERSWEEP_STUDY", &ctx.study)
        .env("HYPERSWEEP_SEED", ctx.seed.to_string())
        .env("HYPERSWEEP_REPEAT", ctx.repeat.to_string());
    // Held until this function returns, i.e. until the trial has ended.
    let _port_lease = match launcher_env(ctx.device, &config.env) {
        Ok(launcher) => {
            command.envs(launcher.vars);
            launcher.lease
        }
        Err(message) => return RunOutcome::Failed(message),
    };

    let mut log = log_dir.and_then(|dir| open_log(&dir, ctx.number, ctx.attempt, ctx.repeat));
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let message = format!("cannot start `{program}`: {e}");
            // The log then says why it is empty.
            if let Some(file) = &mut log {
                let _ = writeln!(file, "hypersweep: {message}");
            }
            return RunOutcome::Failed(message);
        }
    };
    let mut guard = GroupGuard::new(&child);
    let log: SharedLog = Arc::new(std::sync::Mutex::new(log));
    let mut trial = Watch {
        stdout: LineStream::new(child.stdout.take(), Arc::clone(&log)),
        stderr: LineStream::new(child.stderr.take(), log),
        stderr_tail: VecDeque::with_capacity(STDERR_TAIL_LINES),
        metric: &config.metric,
        last_value: None,
        last_step: None,
        reports: 0,
        max_reports: config.max_reports,
        pruned: false,
        bad_report: None,
    };

    let end = trial.watch(&mut child, &ctx, config.trial_timeout).await;
    let exit = match end {
        End::Exited(status) => {
            guard.kill_rest();
            trial.drain(Some(&ctx)).await;
            status
        }
        End::Stopped(stop) => {
            trial
                .terminate(&mut child, &guard, config.grace_period)
                .await;
            guard.kill_rest();
            trial.drain(None).await;
            return match stop {
                Stop::Pruned => RunOutcome::Pruned,
                Stop::Interrupted => RunOutcome::Failed("interrupted".to_owned()),
                Stop::BadReport => RunOutcome::Failed(trial.bad_report.take().unwrap_or_default()),
                Stop::TimedOut => RunOutcome::Failed(format!(
                    "timed out after {}",
                    seconds(config.trial_timeout.unwrap_or_default())
                )),
            };
        }
    };
    drop(params_file);
    trial.outcome(exit)
}

/// The state of a running trial's output.
struct Watch<'a> {
    stdout: LineStream<ChildStdout>,
    stderr: LineStream<ChildStderr>,
    stderr_tail: VecDeque<String>,
    metric: &'a str,
    last_value: Option<f64>,
    last_step: Option<u64>,
    /// Reports passed on so far.
    reports: u64,
    /// `run.max_reports`.
    max_reports: u64,
    pruned: bool,
    /// Why the last report could not be read, once one could not.
    bad_report: Option<String>,
}

impl Watch<'_> {
    /// Reads output and reports until the process exits or must stop.
    async fn watch(
        &mut self,
        child: &mut Child,
        ctx: &TrialContext,
        timeout: Option<Duration>,
    ) -> End {
        let deadline = tokio::time::sleep(timeout.unwrap_or(Duration::MAX));
        tokio::pin!(deadline);
        loop {
            // Biased: a stop request wins over more output, and output that
            // is already there is read before the exit is noticed.
            tokio::select! {
                biased;
                () = ctx.reporter.cancelled() => return End::Stopped(Stop::Interrupted),
                () = &mut deadline, if timeout.is_some() => return End::Stopped(Stop::TimedOut),
                Some(line) = self.stdout.next_line(), if !self.stdout.is_done() => {
                    if let Some(stop) = self.on_stdout(&line, Some(ctx)) {
                        return End::Stopped(stop);
                    }
                }
                Some(line) = self.stderr.next_line(), if !self.stderr.is_done() => {
                    self.on_stderr(&line);
                }
                status = child.wait() => return End::Exited(status),
            }
        }
    }

    /// SIGTERM to the group, output still logged (so a process flushing on
    /// SIGTERM does not block on a full pipe), SIGKILL after `grace`.
    async fn terminate(&mut self, child: &mut Child, guard: &GroupGuard, grace: Duration) {
        guard.signal(libc::SIGTERM);
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                biased;
                _ = child.wait() => return,
                () = &mut deadline => break,
                Some(line) = self.stdout.next_line(), if !self.stdout.is_done() => {
                    self.on_stdout(&line, None);
                }
                Some(line) = self.stderr.next_line(), if !self.stderr.is_done() => {
                    self.on_stderr(&line);
                }
            }
        }
        guard.signal(libc::SIGKILL);
        // Reaps the leader; SIGKILL cannot be caught, so this is prompt.
        let _ = child.wait().await;
    }

    /// Reads what is left in the pipes once the group is gone. Reports still
    /// count when `ctx` is given (a process often prints its last report
    /// right before exiting).
    async fn drain(&mut self, ctx: Option<&TrialContext>) {
        let drain = async {
            while let Some(line) = self.stdout.next_line().await {
                self.on_stdout(&line, ctx);
            }
            while let Some(line) = self.stderr.next_line().await {
                self.on_stderr(&line);
            }
        };
        // Only a process that left the group can hold a pipe open this long.
        let _ = tokio::time::timeout(DRAIN_LIMIT, drain).await;
    }

    /// Logs a stdout line and passes on its report, if any; answers whether
    /// the trial must stop.
    fn on_stdout(&mut self, line: &str, ctx: Option<&TrialContext>) -> Option<Stop> {
        let ctx = ctx?;
        let report = match parse_report(line, self.metric) {
            Ok(report) => report?,
            Err(message) => {
                self.bad_report = Some(message);
                return Some(Stop::BadReport);
            }
        };
        self.reports += 1;
        if self.reports > self.max_reports {
            self.bad_report = Some(format!(
                "reported more than {} intermediate values (run.max_reports); report once per step or epoch",
                self.max_reports
            ));
            return Some(Stop::BadReport);
        }
        let step = report
            .step
            .unwrap_or_else(|| self.last_step.map_or(1, |s| s.saturating_add(1)));
        self.last_step = Some(step);
        self.last_value = Some(report.value);
        match ctx.report(step, report.value) {
            Decision::Continue => None,
            // A cancelled reporter answers Prune to every report.
            Decision::Prune if ctx.reporter.is_cancelled() => Some(Stop::Interrupted),
            Decision::Prune => {
                self.pruned = true;
                Some(Stop::Pruned)
            }
        }
    }

    fn on_stderr(&mut self, line: &str) {
        if self.stderr_tail.len() == STDERR_TAIL_LINES {
            self.stderr_tail.pop_front();
        }
        self.stderr_tail
            .push_back(truncate(line, STDERR_LINE_CHARS));
    }

    /// The outcome of a process that exited by itself.
    fn outcome(&self, status: std::io::Result<std::process::ExitStatus>) -> RunOutcome {
        let status = match status {
            Ok(status) => status,
            Err(e) => return RunOutcome::Failed(format!("cannot wait for the process: {e}")),
        };
        if let Some(message) = &self.bad_report {
            return RunOutcome::Failed(message.clone());
        }
        match describe_exit(status) {
            ExitKind::Signal(signal) => RunOutcome::Failed(format!("killed by signal {signal}")),
            ExitKind::Code(code) if self.stderr_tail.is_empty() => {
                RunOutcome::Failed(format!("exit code {code} (nothing on stderr)"))
            }
            ExitKind::Code(code) => {
                let tail = Vec::from(self.stderr_tail.clone()).join("\n");
                RunOutcome::Failed(format!("exit code {code}: {tail}"))
            }
            ExitKind::Success if self.pruned => RunOutcome::Pruned,
            ExitKind::Success => match self.last_value {
                None => RunOutcome::Failed(format!(
                    "exited 0 without reporting metric `{}`",
                    self.metric
                )),
                Some(v) if !v.is_finite() => RunOutcome::Failed(format!(
                    "reported a non-finite value of `{}`: {v}",
                    self.metric
                )),
                Some(v) => RunOutcome::Complete(v),
            },
        }
    }
}

/// Opens (creating its directory) a trial's log file; a trial without a log
/// still runs, with a warning.
fn open_log(dir: &Path, number: u64, attempt: u32, repeat: u32) -> Option<std::fs::File> {
    let path = if repeat == 0 {
        dir.join(format!("trial-{number:05}-{attempt}.log"))
    } else {
        dir.join(format!("trial-{number:05}-{attempt}-r{repeat}.log"))
    };
    let opened = std::fs::create_dir_all(dir).and_then(|()| std::fs::File::create(&path));
    match opened {
        Ok(file) => Some(file),
        Err(e) => {
            tracing::warn!("cannot create the trial log {}: {e}", path.display());
            None
        }
    }
}

/// The `${args_json_file}` file: kept next to the log when there is a log
/// directory (a record of what the trial read), else a temporary file
/// removed after the trial.
struct ParamsFile {
    path: PathBuf,
    temporary: bool,
}

impl ParamsFile {
    fn write(log_dir: Option<&Path>, ctx: &TrialContext) -> Result<Self, String> {
        let (number, attempt) = (ctx.number, ctx.attempt);
        let (path, temporary) = match log_dir {
            Some(dir) => (
                dir.join(format!("trial-{number:05}-{attempt}.params.json")),
                false,
            ),
            None => {
                let study: String = ctx
                    .study
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                let name = format!(
                    "hypersweep-{}-{study}-{number}-{attempt}.params.json",
                    std::process::id()
                );
                (std::env::temp_dir().join(name), true)
            }
        };
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, ctx.params.to_nested().to_string())
        };
        write().map_err(|e| format!("cannot write the params file {}: {e}", path.display()))?;
        Ok(ParamsFile { path, temporary })
    }
}

impl Drop for ParamsFile {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn truncate(line: &str, max_chars: usize) -> String {
    match line.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

/// `1.5 s`, `300 ms`: how long a trial ran before its timeout.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs_f64())
    }
}
