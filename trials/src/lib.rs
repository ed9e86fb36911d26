//! Trial records, their storage, pruners and the scheduler that runs trials.
//!
//! The storage is the source of truth: every trial is written when it starts,
//! every report as it arrives, and every finished trial is flushed before the
//! scheduler counts it, so a crash loses at most the in-flight trials, which
//! the next run marks failed (and retries if asked).
#![warn(missing_docs)]

pub mod device;
mod error;
pub mod pruner;
mod runner;
pub mod scheduler;
pub mod storage;
mod trial;

pub use error::StorageError;
pub use hypersweep_search::{Direction, TrialState};
pub use pruner::{MedianPruner, NoPruner, Pruner, pruner_from_spec};
pub use runner::{BoxFuture, Decision, Device, Reporter, RunOutcome, Runner, TrialContext};
pub use scheduler::{
    Progress, Scheduler, SchedulerConfig, SchedulerError, SharedSearcher, StopHandle, StopLevel,
    StopReason, SweepEvent, SweepSummary,
};
pub use storage::{MemoryStorage, NewTrial, SledStorage, SpecRevision, Storage, StudyRecord};
pub use trial::{Trial, TrialOutcome, now_ms};
