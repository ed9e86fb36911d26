//! When a synchronous call may run on the sweep's own task.
//!
//! A claim (catch-up, suggestion, store write) and a trial's finish are
//! synchronous: a TPE or GP suggestion takes milliseconds, a sled finish
//! waits for an fsync, a PostgreSQL call for a round trip. Such calls must
//! leave the async threads, and the scheduler used to send every one of them
//! away (the blocking pool for claims, `block_in_place` for finishes). For a
//! random suggestion from a memory store the call itself takes a few
//! microseconds and the hand-off to another thread and back costs far more,
//! most of a trivial trial's time on a loaded machine.
//!
//! So each kind of call keeps a [`CostGauge`]: the time its last run took,
//! measured around the call alone. While that stays under [`INLINE_LIMIT`]
//! (tokio's advice is to yield every 10 to 100 µs) the next one runs inline;
//! one slow call sends the following ones away again until one is fast. The
//! first call of a sweep is always sent away, since nothing is known yet.
//! The price: the call that turns slow (the first TPE fit after the random
//! start-up, a disk that stalls) holds the async thread once, for its own
//! duration. What runs is the same either way, only the thread differs.

use std::time::{Duration, Instant};

/// The longest call that lets the next one run on the async thread.
pub(crate) const INLINE_LIMIT: Duration = Duration::from_micros(50);

/// How long the last call of one kind took (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct CostGauge {
    last: Option<Duration>,
}

impl CostGauge {
    /// True when the last call was fast enough for this one to run inline.
    pub fn inline(&self) -> bool {
        self.last.is_some_and(|d| d <= INLINE_LIMIT)
    }

    /// Records a call's duration.
    pub fn record(&mut self, took: Duration) {
        self.last = Some(took);
    }

    /// Runs `f`, recording how long it took.
    pub fn measure<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let out = f();
        self.record(start.elapsed());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_call_and_any_after_a_slow_one_go_away() {
        let mut gauge = CostGauge::default();
        assert!(!gauge.inline(), "nothing known yet");
        gauge.record(Duration::from_micros(3));
        assert!(gauge.inline());
        gauge.record(INLINE_LIMIT + Duration::from_micros(1));
        assert!(!gauge.inline());
        gauge.record(INLINE_LIMIT);
        assert!(gauge.inline());
    }
}
