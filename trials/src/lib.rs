//! Trial records, their storage, pruners and the scheduler that runs trials.
//!
//! The storage is the source of truth: every trial is written when it starts,
//! every report as it arrives, and every finished trial is flushed before the
//! scheduler counts it, so a crash loses at most the in-flight trials, which
//! are reaped once their heartbeat is stale (and retried if asked). A process
//! keeps only a cache of the store ([`StudyCache`]), caught up before each
//! claim, so any number of processes can share one study.
#![warn(missing_docs)]

pub mod budget;
mod cache;
pub mod device;
mod error;
pub mod pruner;
mod runner;
pub mod scheduler;
pub mod stats;
pub mod storage;
mod trial;

pub use cache::{SharedHistory, StudyCache, Tally};
pub use error::StorageError;
pub use hypersweep_search::{Direction, TrialState};
pub use pruner::{
    AshaPruner, HyperbandPruner, MedianPruner, NoPruner, PercentilePruner, Pruner,
    WandbHyperbandPruner, pruner_from_spec,
};
pub use runner::{
    BlockingRunner, BoxFuture, Decision, Device, GpuGroup, Reporter, RunOutcome, Runner,
    TrialContext,
};
pub use scheduler::{
    Progress, Scheduler, SchedulerConfig, SchedulerError, SharedSearcher, StopHandle, StopLevel,
    StopReason, SweepEvent, SweepSummary,
};
#[cfg(feature = "postgres")]
pub use storage::PostgresStorage;
pub use storage::{
    ClaimDecision, MemoryStorage, NewTrial, SledStorage, SpecRevision, Staleness, Storage,
    StudyRecord, blocking,
};
pub use trial::{Distributions, Repeats, Trial, TrialOutcome, TrialRole, TrialUpdate, now_ms};
