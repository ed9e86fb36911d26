//! Stopping a sweep from outside: Ctrl-C in the CLI, `Study::stop` in the
//! library.
//!
//! Two levels, because a user who presses Ctrl-C once usually wants the
//! running trials' results: the first request stops proposing and lets the
//! running trials finish; the second cancels them (they are recorded Failed,
//! "interrupted", and re-run by the next `run` when `retry_failed` allows).

use std::sync::Arc;

use tokio::sync::watch;

/// How far a stop request has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopLevel {
    /// Keep going.
    Run,
    /// Propose nothing new; let running trials finish.
    Drain,
    /// Cancel the running trials too.
    Cancel,
}

/// A cloneable handle that stops a running sweep.
#[derive(Debug, Clone)]
pub struct StopHandle {
    tx: Arc<watch::Sender<StopLevel>>,
}

impl Default for StopHandle {
    fn default() -> Self {
        StopHandle::new()
    }
}

impl StopHandle {
    /// A handle that has not been used.
    pub fn new() -> Self {
        StopHandle {
            tx: Arc::new(watch::Sender::new(StopLevel::Run)),
        }
    }

    /// Stops proposing trials; running ones finish.
    pub fn drain(&self) {
        self.raise(StopLevel::Drain);
    }

    /// Cancels running trials as well.
    pub fn cancel(&self) {
        self.raise(StopLevel::Cancel);
    }

    /// One step further (what each Ctrl-C does); returns the new level.
    pub fn escalate(&self) -> StopLevel {
        let next = match self.level() {
            StopLevel::Run => StopLevel::Drain,
            StopLevel::Drain | StopLevel::Cancel => StopLevel::Cancel,
        };
        self.raise(next);
        next
    }

    /// The current level.
    pub fn level(&self) -> StopLevel {
        *self.tx.borrow()
    }

    /// Back to [`StopLevel::Run`], for the next `optimize` of the same study.
    pub fn reset(&self) {
        self.tx.send_replace(StopLevel::Run);
    }

    /// A receiver that sees every change.
    pub fn subscribe(&self) -> watch::Receiver<StopLevel> {
        self.tx.subscribe()
    }

    fn raise(&self, level: StopLevel) {
        self.tx.send_if_modified(|l| {
            let raise = level > *l;
            if raise {
                *l = level;
            }
            raise
        });
    }
}
