//! `hypersweep check SPEC` (PLACEHOLDER, issue 2).

use std::path::PathBuf;

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The sweep file (JSON, YAML or NNI search space).
    pub spec: PathBuf,
}

/// Runs `check`.
pub fn run(args: CheckArgs) -> anyhow::Result<i32> {
    let _ = args;
    Ok(super::EXIT_BAD_INPUT)
}
