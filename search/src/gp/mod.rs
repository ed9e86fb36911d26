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
//! - hyper-parameters: MAP of the log marginal likelihood under
//!   dimension-scaled log-normal length-scale priors (Hvarfner et al. 2024),
//!   L-BFGS with analytic gradients ([`likelihood`]), warm-started from the
//!   previous suggestion's fit when the searcher has one, otherwise from the
//!   prior's mode plus random restarts;
//! - running trials are fantasised by the kriging believer (Ginsbourger et
//!   al. 2010): the GP is conditioned on its own mean at each pending point,
//!   which collapses the variance there, so K parallel workers get K distinct
//!   points;
//! - acquisition: logEI (Ament et al. 2023), maximised over random
//!   candidates and perturbations of the best trials, the best few refined
//!   by projected gradient ascent and discrete moves ([`acquisition`]).
//!
//! Cost per suggestion with n trials, d parameters, c candidates: the fit is
//! O(n³ + n²d) per likelihood evaluation (a Cholesky and an inverse from
//! faer), times ~10-60 L-BFGS evaluations (a handful when warm-started);
//! conditioning is one more O(n³) Cholesky; scoring is O(n²c) in one
//! triangular solve; local search O(n²) per step. About 10-30 ms at n = 200,
//! d = 10 on one core (release build; see the report of `benches`).

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
/// L-BFGS iterations of a warm-started fit.
const WARM_FIT_ITERS: u64 = 25;
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
    for t in failed {
        x.push(encoding.features_of(space, &t.params));
        y.push(worst);
    }
    Some(Data {
        x,
        y,
        elites,
        best,
        pending,
    })
}

/// Completed (or pruned with a value) trials, which count toward startup.
fn n_observed(history: &History) -> usize {
    history
        .trials
        .iter()
        .filter(|t| match t.state {
            TrialState::Complete => t.loss(history.direction).is_some(),
            TrialState::Pruned => t.last_intermediate().is_some(),
            _ => false,
        })
        .count()
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
        if kinds.is_empty() || n_observed(history) < self.options.n_startup_trials.max(1) {
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
            best: data.best,
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
