//! One claim: what a process asks the store for when a worker slot is free.
//!
//! The decision runs inside [`Storage::claim`], under the study's claim lock
//! and after the catch-up, so it sees every trial any process has stored:
//! the budget first (spent: stop; held by running trials: wait), then the
//! oldest failed trial waiting for its re-run, then a new suggestion for the
//! number the trial will get.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use hypersweep_search::{Params, SearchError, SearchSpace};

use super::offload::CostGauge;
use super::{Plan, SchedulerError, SharedSearcher, suggestion_rng, trial_seeds};
use crate::cache::StudyCache;
use crate::storage::{NewTrial, Storage};
use crate::trial::Trial;

/// What a claim gave.
pub(crate) enum Claimed {
    /// A trial, stored Running, for this process to run.
    Trial(Box<Trial>),
    /// The budget is spent.
    Spent,
    /// Running trials (of any process) hold the rest of the budget.
    Held,
    /// Only asked trials, which end when someone tells them, hold the rest.
    HeldByAsked(u64),
    /// The searcher had nothing to give (grid exhausted) or failed.
    Declined(SearchError),
}

/// Everything a claim needs, owned so that it can run off the async threads.
pub(crate) struct ClaimJob {
    pub storage: Arc<dyn Storage>,
    pub study: String,
    pub searcher: SharedSearcher,
    pub space: Arc<SearchSpace>,
    pub seed: u64,
    /// Evaluations per search trial.
    pub repeats: u32,
    /// Planned configurations, in place of the searcher's.
    pub plan: Option<Arc<Plan>>,
    /// Device and worker labels of the trial.
    pub template: NewTrial,
}

impl ClaimJob {
    /// Runs the claim, inline when the last one was fast (`gauge`, see
    /// `offload.rs`), else on the blocking pool; the cache goes there and
    /// back. A panic fails the sweep either way, and the cache is lost.
    pub async fn run(
        self,
        cache: StudyCache,
        gauge: &mut CostGauge,
    ) -> Result<(StudyCache, Result<Claimed, SchedulerError>), SchedulerError> {
        if gauge.inline() {
            let mut cache = cache;
            let result = gauge.measure(|| self.run_here(&mut cache));
            return result.map(|claimed| (cache, claimed));
        }
        let (cache, result, took) = tokio::task::spawn_blocking(move || {
            let mut cache = cache;
            let start = Instant::now();
            let result = self.claim(&mut cache);
            (cache, result, start.elapsed())
        })
        .await
        .map_err(|e| SchedulerError::Runtime(format!("a claim panicked: {e}")))?;
        gauge.record(took);
        Ok((cache, result))
    }

    /// Runs the claim on this thread. Err: it panicked, and `cache` may be
    /// half updated (start it over).
    pub fn run_here(
        &self,
        cache: &mut StudyCache,
    ) -> Result<Result<Claimed, SchedulerError>, SchedulerError> {
        std::panic::catch_unwind(AssertUnwindSafe(|| self.claim(cache))).map_err(|payload| {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".to_owned());
            SchedulerError::Runtime(format!("a claim panicked: {text}"))
        })
    }

    fn claim(&self, cache: &mut StudyCache) -> Result<Claimed, SchedulerError> {
        let mut verdict = None;
        let stored = self
            .storage
            .claim(&self.study, cache, &mut |cache, number| {
                let budget = cache.budget();
                if budget.is_spent() {
                    verdict = Some(Claimed::Spent);
                    return None;
                }
                if !budget.may_start() {
                    verdict = Some(if budget.running() == budget.asked_running() {
                        Claimed::HeldByAsked(budget.asked_running())
                    } else {
                        Claimed::Held
                    });
                    return None;
                }
                if let Some(retry) = budget.next_retry() {
                    return Some(NewTrial {
                        params: retry.params.clone(),
                        attempt: retry.attempt,
                        retry_of: Some(retry.of),
                        seeds: retry.seeds.clone(),
                        role: retry.role.clone(),
                        repeats: retry.repeats.clone(),
                        ..self.template.clone()
                    });
                }
                if let Some(plan) = &self.plan {
                    let next = plan.next(cache, &self.template);
                    if next.is_none() {
                        verdict = Some(Claimed::Declined(SearchError::Exhausted {
                            total: plan.variants.len(),
                        }));
                    }
                    return next;
                }
                match suggest(&self.searcher, &self.space, self.seed, cache, number) {
                    Ok(params) => Some(NewTrial {
                        params,
                        seeds: trial_seeds(self.seed, number, self.repeats),
                        ..self.template.clone()
                    }),
                    Err(e) => {
                        verdict = Some(Claimed::Declined(e));
                        None
                    }
                }
            })?;
        Ok(match (stored, verdict) {
            (Some(trial), _) => Claimed::Trial(Box::new(trial)),
            (None, Some(v)) => v,
            (None, None) => Claimed::Held,
        })
    }
}

/// The suggestion for trial `number`, from the cache's history and the RNG
/// of (study seed, number): the same in every process that has seen the same
/// trials. Used by the scheduler's claims and by `ask`.
pub fn suggest(
    searcher: &SharedSearcher,
    space: &SearchSpace,
    seed: u64,
    cache: &StudyCache,
    number: u64,
) -> Result<Params, SearchError> {
    let history = cache.history();
    let mut rng = suggestion_rng(seed, number);
    let mut searcher = searcher.lock().unwrap_or_else(PoisonError::into_inner);
    searcher.suggest(space, &history, &mut rng)
}
