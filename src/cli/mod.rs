//! The command line: one file per subcommand.

mod check;

use clap::{Parser, Subcommand};

/// Exit code for a spec or usage error.
pub const EXIT_BAD_INPUT: i32 = 2;

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
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Check(args) => check::run(args),
    }
}
