//! What a sweep tells its observer (progress bars, logs): each start and
//! end of a trial, with the study's counters at that moment.

use crate::trial::Trial;

/// Counters shown by progress bars.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Counted toward the budget.
    pub counted: u64,
    /// The budget.
    pub budget: Option<u64>,
    /// Running now.
    pub running: usize,
    /// Complete trials of the study.
    pub complete: u64,
    /// Pruned trials of the study.
    pub pruned: u64,
    /// Failed trials of the study.
    pub failed: u64,
    /// Best value so far.
    pub best: Option<f64>,
}

/// One event of a sweep.
#[derive(Debug, Clone)]
pub enum SweepEvent {
    /// A trial started.
    Started {
        /// The trial, Running.
        trial: Trial,
        /// Counters after the start.
        progress: Progress,
    },
    /// A trial ended and is stored.
    Finished {
        /// The trial, finished.
        trial: Trial,
        /// Counters after the end.
        progress: Progress,
    },
}
