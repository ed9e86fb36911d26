//! PLACEHOLDER (issue 3): one process per trial.

/// Runs one process per trial (being written).
#[derive(Debug, Default)]
pub struct CommandRunner {}
