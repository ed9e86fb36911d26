//! hypersweep: hyperparameter optimisation for ML training runs.
//!
//! This facade crate ties the pure search core ([`hypersweep_search`]) and the
//! trial machinery ([`hypersweep_trials`]) into the [`Study`] API, the
//! [`CommandRunner`] that runs one process per trial, and the CLI.
#![warn(missing_docs)]

pub mod command_runner;
#[cfg(feature = "dashboard")]
pub mod dashboard;
pub mod evidence;
#[cfg(unix)]
pub mod live;
pub mod report;
pub mod study;
#[cfg(feature = "torch")]
pub mod torch;

pub use command_runner::CommandRunner;
pub use hypersweep_search as search;
pub use hypersweep_trials as trials;
pub use study::{OnSpecChange, OpenTrial, Proposal, Study, StudyBuilder, StudyError};
