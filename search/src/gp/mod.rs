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
//!   analytic gradients ([`likelihood`]), from the prior's mode and fixed
//!   perturbations of it every time: never warm-started from an earlier fit,
//!   so a fresh searcher (another worker, a resumed study) suggests exactly
//!   what a long-lived one does; the last fit is reused only when the
//!   training data are bit for bit the same;
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
//! faer), times up to 60 L-BFGS iterations from each of `n_fit_restarts`
//! starts, whenever a trial has finished since the last suggestion (no warm
//! start: it made a used searcher differ from a fresh one); conditioning is
//! one more O(n³) Cholesky; scoring is O(n²c) in one triangular solve; local
//! search O(n²) per step. Measured at n = 200, d = 10, release, on-CPU time
//! of one thread (test `suggest_latency_200_trials_10_params` in
//! `search/tests/gp.rs`): ~90 ms per suggestion after a new observation
//! (~30 ms when fits were warm-started, before the searcher was made pure),
//! ~15 ms when only running trials changed (the fit is reused), ~80-140 ms
//! for a fresh searcher's first.

mod acquisition;
mod encoding;
mod kernel;
mod likelihood;
mod model;
mod options;
mod warp;

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};

use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng, TrialState};

pub use acquisition::{log_expected_improvement, log_h};
pub use options::GpOptions;

use encoding::Encoding;
use kernel::DimKind;
use likelihood::{Likelihood, prior_mode};
use model::{Gp, Hyper};

/// L-BFGS iterations of each start of the hyper-parameter fit.
const FIT_ITERS: u64 = 60;
/// Standard deviation of a restart's log length scales around the prior's
/// mode.
const RESTART_SPREAD: f64 = 1.0;
/// Seed of the restarts' perturbations. Fixed, so that the fit is a function
/// of the training data alone (see [`GpSearcher`]).
const RESTART_SEED: u64 = 0x6770_5f72_6573_7461;

/// The GP searcher.
///
/// A suggestion is a pure function of (space, history, RNG): the
/// hyper-parameters are fitted from the same starts every time (the prior's
/// mode and fixed perturbations of it), never warm-started from an earlier
/// fit, because a warm start makes a searcher that has made suggestions
/// differ from a fresh one (another worker, or a resumed study) for the same
/// history. The last fit is cached, keyed by the exact training data, so a
/// suggestion made while only running trials changed (the common case with
/// parallel workers) or a repeated call reuses it without changing anything.
#[derive(Debug, Clone)]
pub struct GpSearcher {
    options: GpOptions,
    seed: u64,
    cache: Option<CachedFit>,
}

/// A fit and the exact data it was fitted to.
#[derive(Debug, Clone)]
struct CachedFit {
    kinds: Vec<DimKind>,
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
    hyper: Hyper,
}

impl CachedFit {
    /// True when this fit was made from exactly this data (bit for bit, so
    /// that a hit returns what a fresh fit would).
    fn fits(&self, kinds: &[DimKind], x: &[Vec<f64>], y: &[f64]) -> bool {
        self.kinds == kinds
            && self.x.len() == x.len()
            && self.x.iter().zip(x).all(|(a, b)| same_bits(a, b))
            && same_bits(&self.y, y)
    }
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits())
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

    /// MAP hyper-parameters for the data: a function of `kinds`, `x`, `y`
    /// and the options only, cached for the next call with the same data.
    fn fit_hyper(&mut self, kinds: &[DimKind], x: &[Vec<f64>], y: &[f64]) -> Hyper {
        if let Some(cached) = self.cache.as_ref().filter(|c| c.fits(kinds, x, y)) {
            return cached.hyper.clone();
        }
        let deterministic = self.options.deterministic_objective;
        let likelihood = Likelihood::new(kinds, x, y, self.options.min_noise, deterministic);
        let mode = prior_mode(kinds.len(), deterministic);
        let starts = fit_starts(&mode, self.options.n_fit_restarts);
        let hyper = likelihood.maximise(&starts, FIT_ITERS).unwrap_or(mode);
        self.cache = Some(CachedFit {
            kinds: kinds.to_vec(),
            x: x.to_vec(),
            y: y.to_vec(),
            hyper: hyper.clone(),
        });
        hyper
    }
}

/// The starts of the hyper-parameter fit: the prior's mode, then
/// `n_restarts - 1` copies with their log length scales perturbed by draws
/// from an RNG of fixed seed, the same for every fit.
fn fit_starts(mode: &Hyper, n_restarts: usize) -> Vec<Hyper> {
    let mut rng = StdRng::seed_from_u64(RESTART_SEED);
    let spread = Normal::new(0.0, RESTART_SPREAD).ok();
    let mut starts = vec![mode.clone()];
    for _ in 1..n_restarts.max(1) {
        let mut h = mode.clone();
        if let Some(spread) = &spread {
            for l in &mut h.log_lengthscales {
                *l += spread.sample(&mut rng);
            }
        }
        starts.push(h);
    }
    starts
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
        let hyper = self.fit_hyper(&kinds, &data.x, &data.y);
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
/// searcher does (MAP marginal likelihood from the prior's mode and
/// `n_fit_restarts - 1` fixed restarts). `None` when the data cannot be
/// fitted (empty, ragged, or non-finite).
pub fn fit_kernel(x: &[Vec<f64>], y: &[f64], options: &GpOptions) -> Option<FittedKernel> {
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
    let h = searcher.fit_hyper(&kinds, x, y);
    Some(FittedKernel {
        lengthscales: h.log_lengthscales.iter().map(|l| l.exp()).collect(),
        signal_variance: h.log_signal.exp(),
        noise_variance: h.log_noise.exp(),
        mean: h.mean,
    })
}
