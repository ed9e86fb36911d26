//! Options of the TPE searcher, as written in a sweep file's `tpe: {...}` or
//! set through the builder methods; every field has a default, so `tpe: {}`
//! (or no `tpe` key at all) gives the tuned defaults.

use serde::{Deserialize, Serialize};

use crate::SearchError;

/// How the first trials are drawn, before there is anything to model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Startup {
    /// Independent draws from each parameter's prior.
    #[default]
    Random,
    /// Scrambled Sobol points over the encoded unit cube (better coverage
    /// than random for the same number of points).
    Sobol,
}

/// How the width of each numerical kernel is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bandwidth {
    /// Scott's rule: one width for all kernels of a dimension, the weighted
    /// standard deviation of the observations times
    /// `(4/(d+2))^(1/(d+4)) n^(-1/(d+4))`, `d` the number of dimensions
    /// modelled together. As the good trials cluster, their kernels narrow.
    Scott,
    /// Optuna's multivariate rule: `0.2 * n^(-1/(d+4))` of the range,
    /// whatever the spread of the observations.
    Optuna,
    /// Each kernel as wide as the larger gap to its sorted neighbours (the
    /// original TPE rule of Bergstra et al. 2011, Optuna's univariate rule).
    /// The default: unlike Scott's rule it keeps isolated good points wide
    /// and clustered ones narrow, which the conditional `mixed` problem of
    /// the quality suite needed (see `TpeOptions` below).
    #[default]
    Neighbor,
}

/// How pruned trials are placed among the others when the trials are split
/// into good and bad (`split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrunedRank {
    /// Optuna's rule: every complete trial first, by its value; then the
    /// pruned ones, the deepest (largest last step) first and by their value
    /// there within a step.
    #[default]
    DeepestStep,
    /// Rank a pruned trial among the complete ones by a prediction of its
    /// final value: a least-squares line of final value on value at its
    /// last step, fit on the complete trials that reported that step (at
    /// least 5 of them; below that, Optuna's rule).
    Linear,
}

/// Options of the TPE searcher. The defaults were picked on the quality
/// suite against Optuna's `TPESampler` (`benches/quality`, mean log10 regret
/// at 100 trials, 30 seeds of the synthetic problems and 1000 of the tabular
/// ones, where the mean is mostly how often the table's best row is found):
/// neighbour widths (Optuna's rule, the prior's centre not a neighbour) with
/// a one-bucket minimum for integers, integers scored by bucket mass, gamma
/// 0.15, categorical smoothing that grows with the number of choices, and no
/// repeated configurations in discrete spaces. Scott's rule with gamma 0.2
/// (an earlier default, best on Branin) fell 0.9 behind Optuna on the
/// conditional `mixed` problem; gamma 0.1 lost on Branin, Hartmann-6 and
/// `fcnet-protein`; Optuna's half-bucket integer widths lost on every
/// tabular problem; 12 or 48 candidates, a prior weight of 2, Sobol startup
/// and no recency weights were within the noise or worse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TpeOptions {
    /// Finished trials (complete or pruned) needed before the model is used;
    /// until then suggestions come from `startup`. Default 10.
    pub n_startup_trials: usize,
    /// How the startup trials are drawn. Default `random`.
    pub startup: Startup,
    /// Fraction of the ranked trials that form the good set. Default 0.15
    /// (Optuna uses 0.1; see the type's documentation).
    pub gamma: f64,
    /// Cap on the size of the good set. Default 25.
    pub max_below: usize,
    /// Candidates drawn from the good density per suggestion; the one with
    /// the highest `l(x) / g(x)` wins. Default 24.
    pub n_candidates: usize,
    /// Model the parameters of one group jointly (one kernel per observation
    /// over all of them) rather than each parameter on its own. Default true.
    pub multivariate: bool,
    /// With `multivariate`, the largest group modelled jointly; a group of
    /// more parameters gets one kernel per parameter and observation
    /// (univariate kernels; a candidate is still scored as a whole). Default
    /// 16. Joint kernels win on the suite's problems of 2 to 6 params
    /// (univariate lost by 0.14 to 0.30 log10 regret on every one of them,
    /// 30 seeds); in many dimensions a joint kernel only ever proposes
    /// perturbations of one good trial, and univariate kernels won on
    /// `sphere20` (-0.19 ± 0.03, 30 seeds) and on the 40-param sphere at
    /// 1,000 trials (mean best 75.4 against 175.9, 10 seeds; Optuna 179.5).
    pub max_joint_params: usize,
    /// Group conditional parameters by the condition that activates them and
    /// model each group on the trials where it was active. When false each
    /// parameter is modelled on its own (univariate). Default true.
    pub group: bool,
    /// Weight of the prior component, relative to one observation. Default 1.
    pub prior_weight: f64,
    /// Let the ends of the unit range count as neighbours when widths are
    /// chosen by the `neighbor` rule. Default false.
    pub consider_endpoints: bool,
    /// How kernel widths are chosen. Default `neighbor`.
    pub bandwidth: Bandwidth,
    /// Keep every width at least `1 / min(100, n + 1)` of the range, so
    /// that a tight cluster of observations does not collapse the density
    /// (Bergstra et al.'s "magic clip"). Default true.
    pub magic_clip: bool,
    /// Weigh observations older than the newest 25 less, linearly down to
    /// `1/n` for the oldest (Optuna's default weights). Default true.
    pub recency_weights: bool,
    /// Treat running trials as bad observations (constant liar), so that
    /// parallel workers are steered away from each other's pending points.
    /// Default true.
    pub constant_liar: bool,
    /// When every parameter is discrete (ints, stepped floats,
    /// categoricals), do not suggest a configuration some trial already has
    /// (finished, failed or running) while untried ones can be found: the
    /// model is drawn from again, then the prior. Default true; turn it off
    /// for a noisy objective whose repeats are worth paying for.
    pub skip_duplicates: bool,
    /// Model a categorical whose choices are at least three numbers in
    /// increasing or decreasing order (`values: [16, 32, 64, 128]`) over the
    /// choices' ranks, as an integer, instead of as unordered choices.
    /// Default true: on the suite's tabular problems with their numeric
    /// grids written as choices (`fcnet-*-choices`, 300 seeds) it found the
    /// table's best row 237 times against 112, better on three of the four
    /// and worse on `parkinsons` (+0.43 ± 0.18 log10 regret).
    pub ordinal_choices: bool,
    /// Threads that score the candidates of a group with univariate
    /// kernels, a share of its parameters each; 0 (the default) takes the
    /// machine's available parallelism, at most 8. The suggestions are the
    /// same whatever the number: each value is computed the same way by
    /// whichever thread, and summed in the same order. Only large models
    /// (tens of params at hundreds of trials) are split.
    pub threads: usize,
    /// How pruned trials are ranked for the good/bad split. Default
    /// `deepest_step` (Optuna's rule). On the pruning bench
    /// (`benches/pruning`, 30 seeds) `linear` made TPE behind Hyperband
    /// reach the no-pruning best sooner on the three synthetic problems
    /// (median share of epochs 0.97 -> 0.56, 0.62 -> 0.42, 0.77 -> 0.56)
    /// and not on the SGD one; behind ASHA it changed little.
    pub pruned_rank: PrunedRank,
}

impl Default for TpeOptions {
    fn default() -> Self {
        TpeOptions {
            n_startup_trials: 10,
            startup: Startup::Random,
            gamma: 0.15,
            max_below: 25,
            n_candidates: 24,
            multivariate: true,
            max_joint_params: 16,
            group: true,
            prior_weight: 1.0,
            consider_endpoints: false,
            bandwidth: Bandwidth::Neighbor,
            magic_clip: true,
            recency_weights: true,
            constant_liar: true,
            skip_duplicates: true,
            ordinal_choices: true,
            threads: 0,
            pruned_rank: PrunedRank::DeepestStep,
        }
    }
}

macro_rules! setter {
    ($(#[$doc:meta] $name:ident: $ty:ty),* $(,)?) => {
        $(
            #[$doc]
            #[must_use]
            pub fn $name(mut self, value: $ty) -> Self {
                self.$name = value;
                self
            }
        )*
    };
}

impl TpeOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    setter! {
        /// Sets [`TpeOptions::n_startup_trials`].
        n_startup_trials: usize,
        /// Sets [`TpeOptions::startup`].
        startup: Startup,
        /// Sets [`TpeOptions::gamma`].
        gamma: f64,
        /// Sets [`TpeOptions::max_below`].
        max_below: usize,
        /// Sets [`TpeOptions::n_candidates`].
        n_candidates: usize,
        /// Sets [`TpeOptions::multivariate`].
        multivariate: bool,
        /// Sets [`TpeOptions::max_joint_params`].
        max_joint_params: usize,
        /// Sets [`TpeOptions::group`].
        group: bool,
        /// Sets [`TpeOptions::prior_weight`].
        prior_weight: f64,
        /// Sets [`TpeOptions::consider_endpoints`].
        consider_endpoints: bool,
        /// Sets [`TpeOptions::bandwidth`].
        bandwidth: Bandwidth,
        /// Sets [`TpeOptions::magic_clip`].
        magic_clip: bool,
        /// Sets [`TpeOptions::recency_weights`].
        recency_weights: bool,
        /// Sets [`TpeOptions::constant_liar`].
        constant_liar: bool,
        /// Sets [`TpeOptions::skip_duplicates`].
        skip_duplicates: bool,
        /// Sets [`TpeOptions::ordinal_choices`].
        ordinal_choices: bool,
        /// Sets [`TpeOptions::threads`].
        threads: usize,
        /// Sets [`TpeOptions::pruned_rank`].
        pruned_rank: PrunedRank,
    }

    /// Checks the values; errors name the field (`tpe.gamma`).
    pub fn check(&self) -> Result<(), SearchError> {
        if !(self.gamma > 0.0 && self.gamma <= 1.0) {
            return Err(SearchError::invalid(
                "tpe.gamma",
                format!("expected 0 < gamma <= 1, got {}", self.gamma),
            ));
        }
        if self.max_joint_params == 0 {
            return Err(SearchError::invalid(
                "tpe.max_joint_params",
                "expected at least 1",
            ));
        }
        if self.max_below == 0 {
            return Err(SearchError::invalid("tpe.max_below", "expected at least 1"));
        }
        if self.n_candidates == 0 {
            return Err(SearchError::invalid(
                "tpe.n_candidates",
                "expected at least 1",
            ));
        }
        if !(self.prior_weight.is_finite() && self.prior_weight > 0.0) {
            return Err(SearchError::invalid(
                "tpe.prior_weight",
                format!("expected a finite weight > 0, got {}", self.prior_weight),
            ));
        }
        Ok(())
    }

    /// The threads [`TpeOptions::threads`] asks for: itself, or for 0 the
    /// available parallelism (1 when unknown), at most 8.
    pub fn scoring_threads(&self) -> usize {
        // Asked once per process: finding it reads the CPU affinity and
        // cgroup files, tens of microseconds every suggestion otherwise.
        static AVAILABLE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        match self.threads {
            0 => *AVAILABLE.get_or_init(|| {
                std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .min(8)
            }),
            n => n,
        }
    }

    /// Whether a group of `d` parameters is modelled with joint kernels.
    pub fn joint(&self, d: usize) -> bool {
        self.multivariate && d <= self.max_joint_params
    }

    /// Size of the good set among `n` ranked trials: `ceil(gamma * n)`,
    /// at most `max_below`, at least 1 when there is any trial.
    pub fn n_below(&self, n: usize) -> usize {
        let k = (self.gamma * n as f64).ceil() as usize;
        k.clamp(n.min(1), self.max_below).min(n)
    }
}
