//! The command line: one file per subcommand.
//!
//! Every command but `check` works on a store (`--storage`: a directory, by
//! default `./hypersweep.db`, or a `postgres://` URL; `HYPERSWEEP_STORAGE`
//! sets the default). A sled store belongs to one process at a time; many
//! processes share a study through PostgreSQL.
//! While a process owns a sled store, `status`, `best`, `export`, `report` and
//! `dashboard` read
//! it through that process (its live socket, see `hypersweep::live`).

#[macro_use]
pub(crate) mod output;

mod admin;
mod ask_tell;
mod check;
mod common;
mod dashboard;
mod drive;
mod export;
mod inspect;
mod progress;
mod report;
mod rounds;
mod run;
mod time;
mod worker;

use clap::{Parser, Subcommand};

/// Exit code for a spec or usage error.
pub const EXIT_BAD_INPUT: i32 = 2;

/// Exit code of a sweep stopped by Ctrl-C (128 + SIGINT, as shells report).
pub const EXIT_INTERRUPTED: i32 = 130;

/// hypersweep: hyperparameter sweeps that survive crashes.
#[derive(Debug, Parser)]
#[command(name = "hypersweep", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate a sweep file; print the search space.
    Check(check::CheckArgs),
    /// Run a sweep, or continue it if the study exists in the store.
    Run(run::RunArgs),
    /// Join an existing study (its sweep file from the store) and run its
    /// trials until its budget is spent.
    Worker(worker::WorkerArgs),
    /// Counts of trials by state, the budget and the best value.
    Status(common::StudyArgs),
    /// The best trial, as JSON.
    Best(common::StudyArgs),
    /// Every trial, as JSON or CSV.
    Export(export::ExportArgs),
    /// Propose a configuration and record it as a running trial.
    Ask(ask_tell::AskArgs),
    /// Record the result of an asked trial.
    Tell(ask_tell::TellArgs),
    /// Every study of the store, with its counts and best value.
    Studies(admin::StudiesArgs),
    /// Delete a study and its trials.
    Delete(admin::DeleteArgs),
    /// Write the study as one self-contained HTML file: summary, history,
    /// learning curves, parallel coordinates, slices, importance, trials.
    Report(report::ReportArgs),
    /// Re-run the best configurations on fresh shared seeds: each one's
    /// mean with a 95% interval, and whether the winner beats the runner-up.
    Confirm(rounds::ConfirmArgs),
    /// One-at-a-time ablation of the best configuration: each param's
    /// effect with its interval, the largest first.
    Ablate(rounds::AblateArgs),
    /// Serve the report's views live over HTTP (127.0.0.1:8080 by
    /// default): new trials appear as they finish.
    Dashboard(dashboard::DashboardArgs),
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Run(args) => run::run(args),
        Command::Worker(args) => worker::worker(args),
        Command::Status(args) => inspect::status(args),
        Command::Best(args) => inspect::best(args),
        Command::Export(args) => export::run(args),
        Command::Ask(args) => ask_tell::ask(args),
        Command::Tell(args) => ask_tell::tell(args),
        Command::Studies(args) => admin::studies(args),
        Command::Delete(args) => admin::delete(args),
        Command::Report(args) => report::run(args),
        Command::Confirm(args) => rounds::confirm(args),
        Command::Ablate(args) => rounds::ablate(args),
        Command::Dashboard(args) => dashboard::run(args),
    }
}
