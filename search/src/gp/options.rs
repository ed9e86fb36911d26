//! Options of the GP searcher, as written in a sweep file's `gp: {...}`
//! block or built in Rust.

use serde::{Deserialize, Serialize};

/// Options of the GP searcher. Every field has a default, so `gp: {}` (or no
/// block at all) gives the tuned configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GpOptions {
    /// Completed trials drawn at random before the model is used.
    pub n_startup_trials: usize,
    /// Random candidates scored by the acquisition function per suggestion.
    pub n_candidates: usize,
    /// Best candidates refined by projected gradient ascent on log EI.
    pub n_local_searches: usize,
    /// Starts of the marginal-likelihood fit of every suggestion: the
    /// prior's mode, then fixed perturbations of it.
    pub n_fit_restarts: usize,
    /// The objective is noise-free: the noise variance is pinned at
    /// [`GpOptions::min_noise`] instead of being fitted.
    pub deterministic_objective: bool,
    /// Lower bound of the noise variance, in standardised output units; also
    /// the starting jitter of the Cholesky factorisation.
    pub min_noise: f64,
    /// Warp the objective by a shifted logarithm when it is strongly skewed
    /// (see [`super::warp`]).
    pub warp_outputs: bool,
    /// The target a pruned trial is fitted to (see [`PrunedValue`]).
    pub pruned_value: PrunedValue,
}

/// The training target of a pruned trial, whose last value was recorded at
/// an earlier step than the complete trials' final values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrunedValue {
    /// Its last intermediate value, as if it were a final one.
    #[default]
    Last,
    /// A prediction of its final value: a least-squares line of final value
    /// on value at its last step, fit on the complete trials that reported
    /// that step (at least 5 of them; with fewer, its last value), the same
    /// prediction as TPE's `pruned_rank: linear`.
    Linear,
}

impl Default for GpOptions {
    fn default() -> Self {
        GpOptions {
            n_startup_trials: 10,
            n_candidates: 1024,
            n_local_searches: 5,
            n_fit_restarts: 3,
            deterministic_objective: false,
            min_noise: 1e-6,
            warp_outputs: true,
            pruned_value: PrunedValue::Last,
        }
    }
}
