//! [`StudyBuilder`]: a study configured in Rust rather than from a sweep file.
//!
//! The builder fills in a [`SweepSpec`] (the same value a sweep file parses
//! into), so a study built in code and one run from the CLI are stored alike
//! and can be inspected with the same commands. A searcher or pruner given
//! as an object is recorded by its name in [`SweepSpec::custom`], so the
//! stored spec never claims a default that did not run.

use std::sync::Arc;
use std::time::Duration;

use hypersweep_search::sweep::{CustomParts, Devices, Metric, RunConfig, SweepSpec};
use hypersweep_search::{Direction, Method, SearchSpace, Searcher, SearcherOptions};
use hypersweep_trials::{MemoryStorage, Pruner, Storage};

use super::{OnSpecChange, Study, StudyError};

/// Configures a [`Study`]; [`StudyBuilder::build`] validates and opens it.
///
/// Defaults: study name `study`, minimise, `method: auto` (GP while affordable, then TPE; see
/// [`hypersweep_search::auto`]), no pruner,
/// an in-memory store, one trial at a time on the CPU, and seed 0 (fixed, so
/// that a run is reproducible unless a seed is chosen).
#[derive(Default)]
pub struct StudyBuilder {
    name: Option<String>,
    space: Option<SearchSpace>,
    direction: Direction,
    metric: Option<String>,
    target: Option<f64>,
    method: Option<Method>,
    searcher_options: SearcherOptions,
    searcher: Option<Box<dyn Searcher>>,
    pruner: Option<Arc<dyn Pruner>>,
    storage: Option<Arc<dyn Storage>>,
    run: RunConfig,
    on_spec_change: OnSpecChange,
}

impl std::fmt::Debug for StudyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StudyBuilder")
            .field("name", &self.name)
            .field("direction", &self.direction)
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl StudyBuilder {
    /// Study name (the key in the store).
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        self.name = Some(name.into());
        self
    }

    /// The search space (required).
    pub fn space(&mut self, space: SearchSpace) -> &mut Self {
        self.space = Some(space);
        self
    }

    /// Minimise or maximise.
    pub fn direction(&mut self, direction: Direction) -> &mut Self {
        self.direction = direction;
        self
    }

    /// Name of the objective, as stored (default `loss`).
    pub fn metric(&mut self, name: impl Into<String>) -> &mut Self {
        self.metric = Some(name.into());
        self
    }

    /// Stop proposing once a trial reaches this value.
    pub fn target(&mut self, value: f64) -> &mut Self {
        self.target = Some(value);
        self
    }

    /// A searcher by name (ignored when [`searcher`](Self::searcher) is set).
    pub fn method(&mut self, method: Method) -> &mut Self {
        self.method = Some(method);
        self
    }

    /// Options of the searcher named by [`method`](Self::method) (the sweep
    /// file's `tpe`, `gp` and `evolution` sections), stored with the study.
    pub fn searcher_options(&mut self, options: SearcherOptions) -> &mut Self {
        self.searcher_options = options;
        self
    }

    /// A searcher of your own. It sees the space as given; to search
    /// [`Domain::Cell`](hypersweep_search::Domain::Cell) params as one
    /// categorical per edge, as the built-in searchers do, wrap it in
    /// [`CellExpansion`](hypersweep_search::cell::expand::CellExpansion).
    pub fn searcher(&mut self, searcher: Box<dyn Searcher>) -> &mut Self {
        self.searcher = Some(searcher);
        self
    }

    /// The pruner (default: none).
    pub fn pruner(&mut self, pruner: Arc<dyn Pruner>) -> &mut Self {
        self.pruner = Some(pruner);
        self
    }

    /// The store (default: a fresh [`MemoryStorage`]).
    pub fn storage(&mut self, storage: Arc<dyn Storage>) -> &mut Self {
        self.storage = Some(storage);
        self
    }

    /// What [`build`](Self::build) does when the store holds the study with
    /// another space, metric, method, seed or pruner (default: refuse).
    pub fn on_spec_change(&mut self, on_change: OnSpecChange) -> &mut Self {
        self.on_spec_change = on_change;
        self
    }

    /// Trials at once.
    pub fn parallel(&mut self, k: usize) -> &mut Self {
        self.run.parallel = k;
        self
    }

    /// Devices of the worker slots.
    pub fn devices(&mut self, devices: Devices) -> &mut Self {
        self.run.devices = devices;
        self
    }

    /// Slots per device.
    pub fn trials_per_device(&mut self, n: usize) -> &mut Self {
        self.run.trials_per_device = n;
        self
    }

    /// GPUs each trial gets (default 1), for a trial that trains on several
    /// GPUs itself: each slot owns `k` of the devices' GPUs (see
    /// [`hypersweep_trials::device::slots`]).
    pub fn gpus_per_trial(&mut self, k: usize) -> &mut Self {
        self.run.gpus_per_trial = k;
        self
    }

    /// Seed of every suggestion.
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.run.seed = Some(seed);
        self
    }

    /// Evaluations of each configuration, each with its own seed
    /// (`ctx.seed()`); the trial's value is their mean (default 1). The
    /// budget of `optimize(n, ..)` counts configurations: `n * k`
    /// evaluations.
    pub fn repeats(&mut self, k: u32) -> &mut Self {
        self.run.repeats = k;
        self
    }

    /// Wall-clock limit of each `optimize`.
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.run.timeout = Some(timeout);
        self
    }

    /// Limit of one trial's run time.
    pub fn trial_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.run.trial_timeout = Some(timeout);
        self
    }

    /// Re-runs of a failed trial's params.
    pub fn retry_failed(&mut self, n: u32) -> &mut Self {
        self.run.retry_failed = n;
        self
    }

    /// Stop after this many failures in a row (0: never).
    pub fn max_consecutive_failures(&mut self, n: u32) -> &mut Self {
        self.run.max_consecutive_failures = n;
        self
    }

    /// Validates the configuration and opens (or creates) the study; an
    /// existing study of another identity is handled as
    /// [`on_spec_change`](Self::on_spec_change) says.
    pub fn build(&mut self) -> Result<Study, StudyError> {
        let space = self
            .space
            .clone()
            .ok_or_else(|| StudyError::Config("a search space is required (`space`)".into()))?;
        if self.run.parallel == 0 {
            return Err(StudyError::Config("`parallel` must be at least 1".into()));
        }
        hypersweep_search::sweep::check_gpus_per_trial(&self.run.devices, self.run.gpus_per_trial)
            .map_err(|message| StudyError::Config(format!("`gpus_per_trial`: {message}")))?;
        let max_repeats = hypersweep_search::sweep::MAX_REPEATS;
        if self.run.repeats == 0 || u64::from(self.run.repeats) > max_repeats {
            return Err(StudyError::Config(format!(
                "`repeats` must be between 1 and {max_repeats}, got {}",
                self.run.repeats
            )));
        }
        let name = self.name.clone().unwrap_or_else(|| "study".to_owned());
        let method = self.method.unwrap_or(Method::Auto);
        let spec = SweepSpec {
            name: Some(name.clone()),
            description: None,
            method,
            metric: Metric {
                name: self.metric.clone().unwrap_or_else(|| "loss".to_owned()),
                goal: self.direction,
                target: self.target,
            },
            space,
            early_terminate: None,
            run: self.run.clone(),
            command: None,
            program: None,
            searcher: self.searcher_options.clone(),
            extra: Default::default(),
            custom: CustomParts {
                searcher: self.searcher.as_ref().map(|s| s.name().to_owned()),
                pruner: self.pruner.as_ref().map(|p| p.name().to_owned()),
            },
        };
        let storage = self
            .storage
            .clone()
            .unwrap_or_else(|| Arc::new(MemoryStorage::new()));
        let mut study = Study::open_with(
            &name,
            spec,
            storage,
            self.searcher.take(),
            self.on_spec_change,
        )?;
        if let Some(pruner) = self.pruner.clone() {
            study.pruner = pruner;
        }
        Ok(study)
    }
}
