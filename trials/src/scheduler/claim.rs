//! One claim: what a process asks the store for when a worker slot is free.
//!
//! The decision runs inside [`Storage::claim`], under the study's claim lock
//! and after the catch-up, so it sees every trial any process has stored:
//! the budget first (spent: stop; held by running trials: wait), then the
//! oldest failed trial waiting for its re-run, then a new suggestion for the
//! number the trial will get.

use std::sync::{Arc, PoisonError};

use hypersweep_search::{Params, SearchError, SearchSpace};

use super::{SchedulerError, SharedSearcher, suggestion_rng};
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
    /// The searcher had nothing to give (grid exhausted) or failed.
    Declined(SearchError),
}

/// Everything a claim needs, owned so that it can run off the async threads.
pub(crate) struct ClaimJob {
    pub storage: Arc<dyn Storage>,
    pub study: String,
    pub searcher: SharedSearcher,
    pub space: SearchSpace,
    pub seed: u64,
    /// Device and worker labels of the trial.
    pub template: NewTrial,
}

impl ClaimJob {
    /// Runs the claim on the blocking pool; the cache goes there and back.
    pub async fn run(
        self,
        cache: StudyCache,
    ) -> Result<(StudyCache, Result<Claimed, SchedulerError>), SchedulerError> {
        tokio::task::spawn_blocking(move || {
            let mut cache = cache;
            let result = self.claim(&mut cache);
            (cache, result)
        })
        .await
        .map_err(|e| SchedulerError::Runtime(format!("a claim panicked: {e}")))
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
                    verdict = Some(Claimed::Held);
                    return None;
                }
                if let Some(retry) = budget.next_retry() {
                    return Some(NewTrial {
                        params: retry.params.clone(),
                        attempt: retry.attempt,
                        retry_of: Some(retry.of),
                        ..self.template.clone()
                    });
                }
                match suggest(&self.searcher, &self.space, self.seed, cache, number) {
                    Ok(params) => Some(NewTrial {
                        params,
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
