//! Work sharing for the univariate model's dimensions: the caller works
//! through the items itself and helper threads, when they get the CPU,
//! take items it has not reached.
//!
//! A fork-join over freshly spawned (or pooled) threads waits for every
//! thread it forked; on a machine busy with trials a helper may not run for
//! milliseconds, longer than a whole suggestion, and the caller would sit
//! idle. Here items are claimed one at a time from a shared counter, the
//! caller included, and the caller waits only for items a helper has
//! claimed and is working on: with no helper running it just does them
//! all, as a single thread would. Which thread computes an item never
//! changes its result.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, TryLockError};
use std::thread;

/// Below this much work (kernels times dimensions, or kernel terms) per
/// thread, no more threads are asked for: waking one costs microseconds.
pub(super) const MIN_WORK: usize = 1 << 13;

/// Work units of fitting one kernel of one dimension (its width, its
/// truncation's normal CDFs, its normaliser's logarithm): a few dozen
/// nanoseconds, where a kernel term is one.
pub(super) const FIT_UNITS: usize = 16;

/// Work units of one draw (a kernel pick by bisection and an inverse
/// normal CDF).
pub(super) const DRAW_UNITS: usize = 32;

/// How many threads (the caller's included) to split `items` items of
/// `work` units in all among: at most `threads`, one per item, and one per
/// [`MIN_WORK`] units; at least 1.
pub(super) fn threads_for(threads: usize, items: usize, work: usize) -> usize {
    threads.min(items).min(work / MIN_WORK).max(1)
}

/// Runs `f(i)` for every `i` in `0..n`, on the calling thread and on up to
/// `helpers` pooled threads; returns when all are done. A panic in `f`
/// (on any thread) is raised again here once every started item ended.
pub(super) fn for_each(n: usize, helpers: usize, f: &(dyn Fn(usize) + Sync)) {
    if helpers == 0 || n <= 1 {
        (0..n).for_each(f);
        return;
    }
    // The job keeps `f` as a raw pointer, dereferenced only for an item
    // claimed below `n`; this function returns only once every such item
    // has finished, so no call outlives `f`. A helper that looks at the job
    // later claims nothing.
    // SAFETY: only the lifetime is erased; see above for why no use of the
    // pointer outlives the borrow.
    let f: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(f) };
    let job = Arc::new(Job {
        next: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        panicked: AtomicBool::new(false),
        n,
        f,
    });
    pool().offer(&job, helpers);
    job.work();
    // Only items some helper claimed and has not finished are left.
    while job.finished.load(Ordering::Acquire) < n {
        thread::yield_now();
    }
    pool().withdraw(&job);
    if job.panicked.load(Ordering::Relaxed) {
        panic!("a model dimension's computation panicked");
    }
}

/// Runs `f(i, &mut items[i])` for every item, as [`for_each`] splits the
/// work (on the caller alone for `helpers` 0 or a single item). Each item is
/// handed to one thread at a time.
pub(super) fn for_each_mut<T: Send>(
    items: &mut [T],
    helpers: usize,
    f: &(dyn Fn(usize, &mut T) + Sync),
) {
    if helpers == 0 || items.len() <= 1 {
        for (i, item) in items.iter_mut().enumerate() {
            f(i, item);
        }
        return;
    }
    let cells: Vec<Mutex<&mut T>> = items.iter_mut().map(Mutex::new).collect();
    for_each(cells.len(), helpers, &|i| {
        let mut item = cells[i].lock().unwrap_or_else(|e| e.into_inner());
        f(i, &mut item);
    });
}

struct Job {
    next: AtomicUsize,
    finished: AtomicUsize,
    panicked: AtomicBool,
    n: usize,
    f: *const (dyn Fn(usize) + Sync),
}

// SAFETY: `f` points to a `Sync` function, called from any thread only
// while `for_each` (which borrows it) is waiting; the rest is atomics.
unsafe impl Send for Job {}
// SAFETY: as above.
unsafe impl Sync for Job {}

impl Job {
    /// Claims and runs items until none are left.
    fn work(&self) {
        loop {
            let claim = self.next.fetch_add(1, Ordering::Relaxed);
            if claim >= self.n {
                return;
            }
            let i = spread(claim, self.n);
            // SAFETY: `i < n`, so `for_each` is still waiting for this item
            // and the function it borrowed is alive.
            let f = unsafe { &*self.f };
            if panic::catch_unwind(AssertUnwindSafe(|| f(i))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.finished.fetch_add(1, Ordering::Release);
        }
    }
}

/// The item of the `claim`-th claim: the first and second halves of
/// `0..n` alternate (0, h, 1, h + 1, ... for `h = ceil(n / 2)`), so that
/// threads claiming one after another work on items far apart, whose data
/// (vector headers, output rows) share no cache line.
fn spread(claim: usize, n: usize) -> usize {
    let half = n.div_ceil(2);
    if claim.is_multiple_of(2) {
        claim / 2
    } else {
        half + claim / 2
    }
}

/// The helper threads, started on first use and parked between jobs.
struct Pool {
    state: Mutex<PoolState>,
    wake: Condvar,
    /// `PoolState::generation`, readable without the lock: a helper that
    /// just finished a job watches it for a while before it parks, since a
    /// suggestion offers several jobs in quick succession and waking a
    /// parked thread takes longer than some of them.
    latest: AtomicU64,
}

/// How many times a helper looks for a new job before it parks (tens of
/// microseconds).
const SPINS: u32 = 20_000;

#[derive(Default)]
struct PoolState {
    job: Option<Arc<Job>>,
    /// Bumped for every job offered, so a helper takes each one once.
    generation: u64,
    threads: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState::default()),
        wake: Condvar::new(),
        latest: AtomicU64::new(0),
    })
}

impl Pool {
    /// Makes `job` the current one and wakes the helpers, starting more if
    /// fewer than `helpers` exist. A helper that cannot be started is no
    /// error: the caller does the work. So is a lock held elsewhere (a
    /// helper between jobs, or, in a child forked while one held it, for
    /// ever): the job is not offered and the caller does all of it.
    fn offer(&'static self, job: &Arc<Job>, helpers: usize) {
        let mut state = match self.state.try_lock() {
            Ok(state) => state,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        state.job = Some(Arc::clone(job));
        state.generation += 1;
        self.latest.store(state.generation, Ordering::Release);
        while state.threads < helpers {
            let spawned = thread::Builder::new()
                .name("hypersweep-tpe".into())
                .spawn(move || self.serve());
            if spawned.is_err() {
                break;
            }
            state.threads += 1;
        }
        drop(state);
        self.wake.notify_all();
    }

    /// Clears `job` if it is still the current one. Left in place (the
    /// lock held elsewhere), it is harmless: every item is claimed, so a
    /// helper that takes it returns at once.
    fn withdraw(&self, job: &Arc<Job>) {
        let mut state = match self.state.try_lock() {
            Ok(state) => state,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if state.job.as_ref().is_some_and(|j| Arc::ptr_eq(j, job)) {
            state.job = None;
        }
    }

    /// A helper's loop: take each new job once, work on it, park.
    fn serve(&self) {
        let mut seen = 0;
        loop {
            for _ in 0..SPINS {
                if self.latest.load(Ordering::Acquire) != seen {
                    break;
                }
                std::hint::spin_loop();
            }
            let job = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                while state.generation == seen || state.job.is_none() {
                    if state.generation != seen {
                        seen = state.generation;
                    }
                    state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                seen = state.generation;
                state.job.clone()
            };
            if let Some(job) = job {
                job.work();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_cover_every_item_once() {
        for n in 0..20 {
            let mut items: Vec<usize> = (0..n).map(|c| spread(c, n)).collect();
            items.sort_unstable();
            assert_eq!(items, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn every_item_runs_once_whatever_the_helpers() {
        for helpers in [0, 1, 3] {
            for n in [0, 1, 2, 7, 100] {
                let counts: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
                for_each(n, helpers, &|i| {
                    counts[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
            }
        }
    }

    #[test]
    fn a_panicking_item_is_raised_after_the_others_finish() {
        let done = AtomicU64::new(0);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            for_each(50, 2, &|i| {
                assert!(i != 17, "item 17");
                done.fetch_add(1, Ordering::Relaxed);
            });
        }));
        assert!(result.is_err());
        assert_eq!(done.load(Ordering::Relaxed), 49);
        // The pool still works afterwards.
        let sum = AtomicU64::new(0);
        for_each(10, 2, &|i| {
            sum.fetch_add(i as u64, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 45);
    }
}
