//! The [`Study`]: one optimisation problem, its trials and how to run more.
//!
//! Ask/tell is the core protocol ([`Study::ask`], [`Study::tell`]); the
//! `optimize` family is a convenience on top that hands trials to a
//! [`Scheduler`] with a runner around the objective. Every trial goes through
//! the study's storage, so a study opened on a store that already holds
//! trials continues from them.
//!
//! The stored spec is the study's truth. Opening a study that exists with a
//! spec of another identity (space, metric, method, seed, pruner; see
//! [`spec_differences`]) is refused with [`StudyError::SpecChanged`], since
//! its old trials would silently mislead the searcher, unless the caller
//! asks for [`OnSpecChange::Update`], which stores the new spec and records
//! the change in the study. A spec that differs only in run settings (budget,
//! parallelism, timeouts, command) continues the study and is stored, so
//! `status` shows the budget the study now runs to.

mod builder;
mod define_by_run;
mod discovered;
mod objective;
mod rounds;

pub use builder::StudyBuilder;
pub use define_by_run::OpenTrial;
pub use discovered::Proposal;
pub use objective::IntoOutcome;

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use hypersweep_search::sweep::{SpecDifference, SweepSpec, spec_differences};
use hypersweep_search::{Params, SearchError, Searcher, TrialState, build_searcher};
use hypersweep_trials::scheduler::{Budget, Observer, best_trial, suggest};
use hypersweep_trials::{
    Decision, NewTrial, Pruner, Runner, Scheduler, SchedulerConfig, SchedulerError, SharedSearcher,
    StopHandle, Storage, StorageError, StudyCache, SweepSummary, Trial, TrialContext, TrialOutcome,
    blocking, pruner_from_spec,
};
use thiserror::Error;

use discovered::{DiscoveredSpace, SearcherFactory};
use objective::AsyncRunner;

/// A searcher shared by several users (the caller's own searcher, shared
/// by the groups of a define-by-run space).
struct SharedSearcherHandle(SharedSearcher);

impl Searcher for SharedSearcherHandle {
    fn name(&self) -> &str {
        "shared"
    }

    fn suggest(
        &mut self,
        space: &hypersweep_search::SearchSpace,
        history: &hypersweep_search::History,
        rng: &mut hypersweep_search::StdRng,
    ) -> Result<Params, SearchError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .suggest(space, history, rng)
    }
}

/// Why a study call failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StudyError {
    /// The configuration is invalid.
    #[error("invalid study configuration: {0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The searcher failed.
    #[error("the searcher failed: {0}")]
    Search(#[from] SearchError),
    /// The sweep stopped on an error.
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    /// A confirmation or ablation round could not be planned.
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),
    /// The async runtime could not be used.
    #[error("runtime: {0}")]
    Runtime(String),
    /// The study exists with a spec of another identity; nothing was
    /// changed. Open it with [`OnSpecChange::Update`] to continue with the
    /// new spec, or give the new spec a study name of its own.
    #[error(
        "study `{study}` exists with a different spec: {}",
        differences.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    SpecChanged {
        /// The study.
        study: String,
        /// What the new spec changes, stored spec first.
        differences: Vec<SpecDifference>,
    },
}

/// What opening a study does when the store holds it with a spec of another
/// identity (see [`spec_differences`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnSpecChange {
    /// Fail with [`StudyError::SpecChanged`] and leave the study as it is.
    #[default]
    Refuse,
    /// Store the new spec (the change is recorded in the study's revisions)
    /// and run with it.
    Update,
}

/// A study: a search space, a searcher, a store, and the trials so far.
pub struct Study {
    name: String,
    spec: SweepSpec,
    storage: Arc<dyn Storage>,
    searcher: SharedSearcher,
    pruner: Arc<dyn Pruner>,
    config: SchedulerConfig,
    stop: StopHandle,
    observer: Option<Observer>,
    /// What `ask` has read of the store, caught up at each ask.
    ask_cache: Mutex<StudyCache>,
    /// The space define-by-run trials have discovered, and its searchers.
    discovered: Mutex<DiscoveredSpace>,
}

impl std::fmt::Debug for Study {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Study")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Study {
    /// Configures a study in code.
    pub fn builder() -> StudyBuilder {
        StudyBuilder::default()
    }

    /// A study from a parsed sweep file, named by the file's `name` (or
    /// `study`), in `storage`; created there unless it exists. An existing
    /// study with a spec of another identity is refused
    /// ([`StudyError::SpecChanged`]).
    pub fn from_spec(spec: SweepSpec, storage: Arc<dyn Storage>) -> Result<Study, StudyError> {
        let name = spec.name.clone().unwrap_or_else(|| "study".to_owned());
        Study::open_checked(&name, spec, storage, OnSpecChange::Refuse)
    }

    /// [`Study::from_spec`] under an explicit name.
    pub fn from_spec_named(
        name: &str,
        spec: SweepSpec,
        storage: Arc<dyn Storage>,
    ) -> Result<Study, StudyError> {
        Study::open_checked(name, spec, storage, OnSpecChange::Refuse)
    }

    /// The study `name` of `storage` with `spec`: created when it does not
    /// exist; continued when its stored spec has the same identity (run
    /// settings may differ, and the new ones are stored and used); otherwise
    /// refused or updated, as `on_change` says.
    pub fn open_checked(
        name: &str,
        spec: SweepSpec,
        storage: Arc<dyn Storage>,
        on_change: OnSpecChange,
    ) -> Result<Study, StudyError> {
        Study::open_with(name, spec, storage, None, on_change)
    }

    /// An existing study of `storage`, with the spec it was created with.
    pub fn load(name: &str, storage: Arc<dyn Storage>) -> Result<Study, StudyError> {
        let record = storage
            .load_study(name)?
            .ok_or_else(|| StorageError::NoStudy(name.to_owned()))?;
        Study::open_with(name, record.spec, storage, None, OnSpecChange::Refuse)
    }

    pub(crate) fn open_with(
        name: &str,
        spec: SweepSpec,
        storage: Arc<dyn Storage>,
        searcher: Option<Box<dyn Searcher>>,
        on_change: OnSpecChange,
    ) -> Result<Study, StudyError> {
        let record = storage.create_study(name, &spec)?;
        if record.spec != spec {
            let differences = spec_differences(&record.spec, &spec);
            if !differences.is_empty() && on_change == OnSpecChange::Refuse {
                return Err(StudyError::SpecChanged {
                    study: name.to_owned(),
                    differences,
                });
            }
            storage.update_study(name, &spec)?;
        }
        let config = SchedulerConfig::from_spec(name, &spec);
        let direction = config.direction;
        let (searcher, factory): (SharedSearcher, SearcherFactory) = match searcher {
            // The caller's own searcher cannot be copied: every group of a
            // define-by-run space shares it (its caches then serve one group
            // at a time).
            Some(own) => {
                let shared: SharedSearcher = Arc::new(Mutex::new(own));
                let inner = Arc::clone(&shared);
                let factory: SearcherFactory =
                    Box::new(move || Box::new(SharedSearcherHandle(Arc::clone(&inner))));
                (shared, factory)
            }
            None => {
                let (method, options, seed) = (spec.method, spec.searcher.clone(), config.seed);
                let factory: SearcherFactory =
                    Box::new(move || build_searcher(method, &options, seed));
                (Arc::new(Mutex::new(factory())), factory)
            }
        };
        Ok(Study {
            name: name.to_owned(),
            pruner: Arc::from(pruner_from_spec(spec.early_terminate.as_ref(), name)),
            searcher,
            spec,
            storage,
            config,
            stop: StopHandle::new(),
            observer: None,
            ask_cache: Mutex::new(StudyCache::new(direction, Budget::default()).keeping_records()),
            discovered: Mutex::new(DiscoveredSpace::new(factory)),
        })
    }

    /// The study's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The spec it runs with.
    pub fn spec(&self) -> &SweepSpec {
        &self.spec
    }

    /// The scheduler settings `optimize` uses; adjust before running (log
    /// directory, heartbeat period, ...).
    pub fn config_mut(&mut self) -> &mut SchedulerConfig {
        &mut self.config
    }

    /// Replaces the pruner.
    pub fn set_pruner(&mut self, pruner: Arc<dyn Pruner>) {
        self.pruner = pruner;
    }

    /// Calls `observer` on every trial start and end of `optimize`.
    pub fn set_observer(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    /// The handle that stops a running `optimize` (first call: finish the
    /// running trials; second: cancel them).
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The store.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Runs `n` more trials of a synchronous objective, on a runtime of its
    /// own. The closure runs on a blocking thread pool (so it may train for
    /// minutes); a panic in it fails that trial only. Must not be called from
    /// inside a tokio runtime: use [`Study::optimize_async`] there.
    pub fn optimize<F, R>(&self, n: u64, objective: F) -> Result<SweepSummary, StudyError>
    where
        F: Fn(&TrialContext) -> R + Send + Sync + 'static,
        R: IntoOutcome + Send + 'static,
    {
        let counted =
            Budget::from_trials(&self.trials()?, None, self.config.retry_failed).counted();
        self.optimize_to(Some(counted + n), objective)
    }

    /// Runs trials of a synchronous objective until the study holds `total`
    /// counted trials, counting those of every process that works on it
    /// (`None`: until stopped or the searcher is exhausted). This is what a
    /// worker process of a shared study runs: any number of them, each
    /// calling `optimize_to(Some(100), ..)` on one study in PostgreSQL, end
    /// with exactly 100. Same runtime rules as [`Study::optimize`].
    pub fn optimize_to<F, R>(
        &self,
        total: Option<u64>,
        objective: F,
    ) -> Result<SweepSummary, StudyError>
    where
        F: Fn(&TrialContext) -> R + Send + Sync + 'static,
        R: IntoOutcome + Send + 'static,
    {
        objective::block_on_objective(
            "optimize() blocks and",
            "optimize_async()",
            objective,
            |runner| self.run_until(total, runner),
        )
    }

    /// Runs `n` more trials of an async objective on the current runtime.
    pub async fn optimize_async<F, Fut, R>(
        &self,
        n: u64,
        objective: F,
    ) -> Result<SweepSummary, StudyError>
    where
        F: Fn(TrialContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoOutcome + Send + 'static,
    {
        self.optimize_with(n, Arc::new(AsyncRunner(Arc::new(objective))))
            .await
    }

    /// Runs `n` more trials (counted as the budget counts them) with `runner`.
    pub async fn optimize_with(
        &self,
        n: u64,
        runner: Arc<dyn Runner>,
    ) -> Result<SweepSummary, StudyError> {
        let counted =
            Budget::from_trials(&self.trials()?, None, self.config.retry_failed).counted();
        self.run_until(Some(counted + n), runner).await
    }

    /// Runs until the study holds `total` counted trials (`None`: until
    /// stopped or the searcher is exhausted). This is what `hypersweep run`
    /// does, so a re-run of an interrupted sweep ends with exactly its budget.
    pub async fn run_until(
        &self,
        total: Option<u64>,
        runner: Arc<dyn Runner>,
    ) -> Result<SweepSummary, StudyError> {
        let mut config = self.config.clone();
        config.budget = total;
        self.stop.reset();
        let mut scheduler = Scheduler::new(
            config,
            Arc::clone(&self.storage),
            Arc::clone(&self.searcher),
            Arc::clone(&self.pruner),
            runner,
        )
        .with_stop(self.stop.clone());
        if let Some(observer) = &self.observer {
            scheduler = scheduler.with_observer(Arc::clone(observer));
        }
        Ok(scheduler.run().await?)
    }

    /// Proposes a configuration and records it as a Running trial; evaluate
    /// it yourself and report back with [`Study::tell`]. The trial is
    /// claimed from the store like a scheduler's (its number reserved under
    /// the study's claim lock, the suggestion drawn for that number), and
    /// kept Running until its `tell` or `run.ask_timeout` passes without news.
    pub fn ask(&self) -> Result<Trial, StudyError> {
        let mut cache = self
            .ask_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut failure = None;
        let template = NewTrial {
            worker: self.config.worker.clone(),
            asked: true,
            ..NewTrial::new(Params::new())
        };
        let trial = blocking(|| {
            self.storage
                .claim(&self.name, &mut cache, &mut |cache, number| match suggest(
                    &self.searcher,
                    &self.config.space,
                    self.config.seed,
                    cache,
                    number,
                ) {
                    // An asked trial is evaluated once, outside: one seed.
                    Ok(params) => Some(NewTrial {
                        params,
                        seeds: hypersweep_trials::scheduler::trial_seeds(
                            self.config.seed,
                            number,
                            1,
                        ),
                        ..template.clone()
                    }),
                    Err(e) => {
                        failure = Some(e);
                        None
                    }
                })
        })?;
        match (trial, failure) {
            (Some(t), _) => Ok(t),
            (None, Some(e)) => Err(e.into()),
            (None, None) => Err(StudyError::Runtime("the claim stored no trial".into())),
        }
    }

    /// Records the value of an asked trial (a non-finite value fails it).
    pub fn tell(&self, number: u64, value: f64) -> Result<Trial, StudyError> {
        let outcome = if value.is_finite() {
            TrialOutcome {
                state: TrialState::Complete,
                value: Some(value),
                error: None,
            }
        } else {
            TrialOutcome {
                state: TrialState::Failed,
                value: None,
                error: Some(format!("reported non-finite value {value}")),
            }
        };
        self.tell_outcome(number, outcome)
    }

    /// Records how an asked trial ended (failed, pruned, complete).
    pub fn tell_outcome(&self, number: u64, outcome: TrialOutcome) -> Result<Trial, StudyError> {
        Ok(self.storage.finish_trial(&self.name, number, outcome)?)
    }

    /// Records an intermediate value of an asked trial and answers whether
    /// it should go on: the study's pruner judges it against every trial of
    /// the study, caught up from the store (so an ask/tell client decides as
    /// `optimize` or any worker would). On [`Decision::Prune`], stop training
    /// and record the trial with [`Study::tell_outcome`] as
    /// [`TrialState::Pruned`] with its last value.
    pub fn report(&self, number: u64, step: u64, value: f64) -> Result<Decision, StudyError> {
        self.storage.report(&self.name, number, step, value)?;
        let mut cache = self
            .ask_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        blocking(|| self.storage.catch_up(&self.name, &mut cache))?;
        let history = cache.history();
        let Ok(i) = history.trials.binary_search_by_key(&number, |t| t.number) else {
            return Err(StorageError::NoTrial {
                study: self.name.clone(),
                number,
            }
            .into());
        };
        Ok(
            if self.pruner.should_prune(&history.trials[i], step, &history) {
                Decision::Prune
            } else {
                Decision::Continue
            },
        )
    }

    /// Every trial, by number.
    pub fn trials(&self) -> Result<Vec<Trial>, StudyError> {
        Ok(self.storage.trials(&self.name)?)
    }

    /// The best complete trial, if any.
    pub fn best_trial(&self) -> Result<Option<Trial>, StudyError> {
        Ok(best_trial(&self.trials()?, self.config.direction))
    }
}

#[cfg(test)]
mod tests;
