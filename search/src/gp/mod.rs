//! Gaussian-process Bayesian optimisation (`method: "gp"`, or `"bayes"` as in
//! W&B sweep files).
//!
//! After `n_startup_trials` random draws from the prior, each suggestion fits
//! a GP to the history and maximises log expected improvement:
//! - surrogate over the encoded unit cube ([`encoding`]): Matérn-5/2 kernel
//!   with one length scale per dimension, Hamming distance for categoricals,
//!   integer and stepped parameters snapped to their values, inactive
//!   conditional parameters at a fixed placeholder; constant mean, signal
//!   variance and a noise term ([`kernel`], [`model`]);
//! - targets: losses, log-warped when heavily right-skewed, standardised
//!   ([`warp`]); failed trials get the worst target (so their region is
//!   avoided), pruned trials their last intermediate value;
//! - hyper-parameters: MAP of the log marginal likelihood under weak priors
//!   (length scales near the unit cube's size, small noise), L-BFGS with
//!   analytic gradients ([`likelihood`]), warm-started from the previous
//!   suggestion's fit when the searcher has one (plus the prior's mode every
//!   few trials), otherwise from the prior's mode plus random restarts;
//! - running trials are fantasised by the kriging believer (Ginsbourger et
//!   al. 2010): the GP is conditioned on its own mean at each pending point,
//!   which collapses the variance there, so K parallel workers get K distinct
//!   points;
//! - acquisition: logEI (Ament et al. 2023), maximised over random
//!   candidates and perturbations of the best trials, the best few refined
//!   by projected gradient ascent and discrete moves ([`acquisition`]); the
//!   incumbent is the best posterior mean at an observed point.
//!
//! Cost per suggestion with n trials, d parameters, c candidates: the fit is
//! O(n³ + n²d) per likelihood evaluation (a Cholesky and an inverse from
//! faer), times ~10-20 L-BFGS evaluations when warm-started (~80 cold);
//! conditioning is one more O(n³) Cholesky; scoring is O(n²c) in one
//! triangular solve; local search O(n²) per step. Measured at n = 200,
//! d = 10, one core, release: ~25-30 ms warm, ~150 ms cold (test
//! `suggest_latency_200_trials_10_params` in `search/tests/gp.rs`).

mod acquisition;
mod encoding;
mod kernel;
mod likelihood;
mod model;
mod options;
mod warp;

use rand::RngExt;
use rand_distr::{Distribution, Normal};

use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng, TrialState};

pub use acquisition::{log_expected_improvement, log_h};
pub use options::GpOptions;

use encoding::Encoding;
use kernel::DimKind;
use likelihood::{Likelihood, prior_mode};
use model::{Gp, Hyper};

/// L-BFGS iterations of a cold fit (from the prior's mode or a restart).
const COLD_FIT_ITERS: u64 = 60;
/// L-BFGS iterations of a warm-started fit. Few: the start is the previous
/// optimum, and a fit left short of convergence continues from where it
/// stopped at the next suggestion, so the work is spread over trials.
const WARM_FIT_ITERS: u64 = 10;
/// With a warm start, the fit also restarts from the prior's mode when the
/// number of observations is a multiple of this.
const MODE_RESTART_PERIOD: usize = 8;
/// Standard deviation of a random restart's log length scales around the
/// prior's mode.
const RESTART_SPREAD: f64 = 1.0;

/// The GP searcher. The previous fit is kept only as a warm start: a fresh
/// searcher (after a crash) fits from scratch and reaches the same model up
/// to optimiser tolerance.
#[derive(Debug, Clone)]
pub struct GpSearcher {
    options: GpOptions,
    seed: u64,
    cache: Option<(Vec<DimKind>, Hyper)>,
}

impl GpSearcher {
    /// A new searcher. `seed` is unused: every random choice comes from the
    /// RNG handed to [`Searcher::suggest`].
    pub fn new(options: GpOptions, seed: u64) -> Self {
        GpSearcher {
            options,
            seed,
            cache: None,
        }
    }

    /// The seed given at construction.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn fit_hyper(
        &mut self,
        kinds: &[DimKind],
        x: &[Vec<f64>],
        y: &[f64],
        rng: &mut StdRng,
    ) -> Hyper {
        let deterministic = self.options.deterministic_objective;
        let likelihood = Likelihood::new(kinds, x, y, self.options.min_noise, deterministic);
        let mode = prior_mode(kinds.len(), deterministic);
        let warm = self
            .cache
            .as_ref()
            .filter(|(k, _)| k.as_slice() == kinds)
            .map(|(_, h)| h.clone());
        let fitted = match warm {
            // Every few trials the prior's mode too: a warm start alone can
            // stay stuck in a mode the early data favoured.
            Some(start) if y.len().is_multiple_of(MODE_RESTART_PERIOD) => {
                likelihood.maximise(&[start, mode.clone()], WARM_FIT_ITERS)
            }
            Some(start) => likelihood.maximise(&[start], WARM_FIT_ITERS),
            None => {
                let mut starts = vec![mode.clone()];
                let spread = Normal::new(0.0, RESTART_SPREAD).ok();
                for _ in 1..self.options.n_fit_restarts.max(1) {
                    let mut h = mode.clone();
                    if let Some(spread) = &spread {
                        for l in &mut h.log_lengthscales {
                            *l += spread.sample(rng);
                        }
                    }
                    starts.push(h);
                }
                likelihood.maximise(&starts, COLD_FIT_ITERS)
            }
        };
        let hyper = fitted.unwrap_or(mode);
        self.cache = Some((kinds.to_vec(), hyper.clone()));
        hyper
    }
}

/// The history as GP training data.
struct Data {
    /// Kernel inputs of every usable trial.
    x: Vec<Vec<f64>>,
    /// Standardised targets.
    y: Vec<f64>,
    /// Coordinates of observed trials, best first (local search seeds).
    elites: Vec<Vec<f64>>,
    /// Best target among real observations.
    best: f64,
    /// The first `n_observed` rows of `x` are real observations (the rest
    /// are failed trials with an imputed target).
    n_observed: usize,
    /// Kernel inputs of running trials.
    pending: Vec<Vec<f64>>,
}

fn training_data(
    space: &SearchSpace,
    history: &History,
    encoding: &Encoding,
    warp: bool,
) -> Option<Data> {
    let mut observed = Vec::new();
    let mut failed = Vec::new();
    let mut pending = Vec::new();
    for t in &history.trials {
        let loss = match t.state {
            TrialState::Complete => t.loss(history.direction),
            TrialState::Pruned => t
                .last_intermediate()
                .map(|(_, v)| history.direction.loss(v)),
            TrialState::Running => {
                pending.push(encoding.features_of(space, &t.params));
                continue;
            }
            TrialState::Failed => None,
        };
        match loss {
            Some(l) => observed.push((t, l)),
            None => failed.push(t),
        }
    }
    if observed.is_empty() {
        return None;
    }
    let losses: Vec<f64> = observed.iter().map(|(_, l)| *l).collect();
    let mut y = warp::transform(&losses, warp);
    let worst = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let best = y.iter().copied().fold(f64::INFINITY, f64::min);
    let mut order: Vec<usize> = (0..observed.len()).collect();
    order.sort_by(|&a, &b| y[a].total_cmp(&y[b]));
    let elites = order
        .iter()
        .map(|&i| encoding.coords_of(space, &observed[i].0.params))
        .collect();
    let mut x: Vec<Vec<f64>> = observed
        .iter()
        .map(|(t, _)| encoding.features_of(space, &t.params))
        .collect();
    let n_observed = x.len();
    for t in failed {
        x.push(encoding.features_of(space, &t.params));
        y.push(worst);
    }
    Some(Data {
        x,
        y,
        elites,
        best,
        n_observed,
        pending,
    })
}

fn random_params(space: &SearchSpace, rng: &mut StdRng) -> Params {
    let coords: Vec<f64> = (0..space.len()).map(|_| rng.random::<f64>()).collect();
    space.decode(&coords)
}

impl Searcher for GpSearcher {
    fn name(&self) -> &str {
        "gp"
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        let encoding = Encoding::new(space);
        let kinds = encoding.kernel_kinds().to_vec();
        if kinds.is_empty() || history.n_with_value() < self.options.n_startup_trials.max(1) {
            return Ok(random_params(space, rng));
        }
        let Some(data) = training_data(space, history, &encoding, self.options.warp_outputs) else {
            return Ok(random_params(space, rng));
        };
        let hyper = self.fit_hyper(&kinds, &data.x, &data.y, rng);
        let fallback = prior_mode(kinds.len(), self.options.deterministic_objective);
        let Some(mut gp) = Gp::fit(&kinds, &data.x, &data.y, &hyper)
            .or_else(|| Gp::fit(&kinds, &data.x, &data.y, &fallback))
        else {
            return Ok(random_params(space, rng));
        };
        // Incumbent: the best posterior mean at an observed point. With a
        // fitted noise term the mean there sits above the raw best value,
        // and using the raw value would make refinement near it look
        // hopeless.
        let incumbent = gp
            .predict_batch(&data.x[..data.n_observed])
            .iter()
            .map(|(m, _)| *m)
            .fold(f64::INFINITY, f64::min);
        let incumbent = if incumbent.is_finite() {
            incumbent
        } else {
            data.best
        };
        if !data.pending.is_empty() {
            // Kriging believer: the pending points' outcomes are taken to be
            // the current posterior mean.
            let believed = gp.predict_batch(&data.pending);
            let mut x = data.x.clone();
            let mut y = data.y.clone();
            x.extend(data.pending.iter().cloned());
            y.extend(believed.iter().map(|(m, _)| *m));
            if let Some(conditioned) = Gp::fit(&kinds, &x, &y, &hyper) {
                gp = conditioned;
            }
        }
        let maximiser = acquisition::Maximiser {
            gp: &gp,
            encoding: &encoding,
            best: incumbent,
            elites: data.elites,
            n_candidates: self.options.n_candidates.max(1),
            n_local_searches: self.options.n_local_searches,
        };
        let (coords, _) = maximiser.run(rng);
        Ok(space.decode(&coords))
    }
}

/// Kernel hyper-parameters fitted by [`fit_kernel`], in natural units.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedKernel {
    /// Length scale per input dimension.
    pub lengthscales: Vec<f64>,
    /// Signal variance.
    pub signal_variance: f64,
    /// Noise variance (above the floor `min_noise`).
    pub noise_variance: f64,
    /// Constant mean.
    pub mean: f64,
}

/// Fits a Matérn-5/2 ARD GP to numeric inputs `x` (rows, each coordinate
/// in about `[0, 1]`) and roughly standardised outputs `y`, exactly as the
/// searcher does (MAP marginal likelihood, cold start with `n_fit_restarts`
/// restarts). `None` when the data cannot be fitted (empty, ragged, or
/// non-finite).
pub fn fit_kernel(
    x: &[Vec<f64>],
    y: &[f64],
    options: &GpOptions,
    rng: &mut StdRng,
) -> Option<FittedKernel> {
    let dims = x.first()?.len();
    if x.len() != y.len()
        || x.iter()
            .any(|r| r.len() != dims || r.iter().any(|v| !v.is_finite()))
        || y.iter().any(|v| !v.is_finite())
    {
        return None;
    }
    let kinds = vec![DimKind::Numeric; dims];
    let mut searcher = GpSearcher::new(options.clone(), 0);
    let h = searcher.fit_hyper(&kinds, x, y, rng);
    Some(FittedKernel {
        lengthscales: h.log_lengthscales.iter().map(|l| l.exp()).collect(),
        signal_variance: h.log_signal.exp(),
        noise_variance: h.log_noise.exp(),
        mean: h.mean,
    })
}
