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
//!   avoided), pruned trials their last intermediate value, or with
//!   `pruned_value: linear` a final value predicted from it ([`PrunedValue`]);
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

use std::collections::BTreeMap;

use crate::tpe::PrunedRank;
use crate::tpe::final_prediction::{FinalFit, support_at};
use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng, TrialState};

pub use acquisition::{log_expected_improvement, log_h};
pub use options::{GpOptions, PrunedValue};

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

/// The loss each trial is fitted to, by trial: complete trials their value,
/// pruned ones what `pruned` says (their last value, or a predicted final
/// value), `None` for failed trials and trials without a value. Running
/// trials are not in it (they are pending points).
fn training_losses(history: &History, pruned: PrunedValue) -> Vec<(usize, Option<f64>)> {
    let direction = history.direction;
    // One fit per step, from the complete trials that reported it.
    let mut fits: BTreeMap<u64, Option<FinalFit>> = BTreeMap::new();
    let mut out = Vec::with_capacity(history.trials.len());
    for (i, t) in history.trials.iter().enumerate() {
        let loss = match t.state {
            TrialState::Complete => t.loss(direction),
            TrialState::Pruned => t.last_intermediate().map(|(step, v)| {
                let last = direction.loss(v);
                let fit = match pruned {
                    PrunedValue::Last => None,
                    PrunedValue::Linear => *fits.entry(step).or_insert_with(|| {
                        FinalFit::fit(PrunedRank::Linear, &support_at(history, step))
                    }),
                };
                fit.map(|f| f.predict(last))
                    .filter(|p| p.is_finite())
                    .unwrap_or(last)
            }),
            TrialState::Running => continue,
            TrialState::Failed => None,
        };
        out.push((i, loss));
    }
    out
}

fn training_data(
    space: &SearchSpace,
    history: &History,
    encoding: &Encoding,
    options: &GpOptions,
) -> Option<Data> {
    let mut observed = Vec::new();
    let mut failed = Vec::new();
    let pending: Vec<Vec<f64>> = history
        .running()
        .map(|t| encoding.features_of(space, &t.params))
        .collect();
    for (i, loss) in training_losses(history, options.pruned_value) {
        let t = &history.trials[i];
        match loss {
            Some(l) => observed.push((t, l)),
            None => failed.push(t),
        }
    }
    if observed.is_empty() {
        return None;
    }
    let losses: Vec<f64> = observed.iter().map(|(_, l)| *l).collect();
    let mut y = warp::transform(&losses, options.warp_outputs);
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
        let Some(data) = training_data(space, history, &encoding, &self.options) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, Observation};

    fn obs(
        number: u64,
        state: TrialState,
        value: Option<f64>,
        curve: &[(u64, f64)],
    ) -> Observation {
        Observation {
            number,
            params: Params::default(),
            state,
            value,
            intermediate: curve.to_vec(),
            duration_ms: None,
        }
    }

    /// Five complete trials whose (value at step 1, final value) are
    /// (1, 2), (2, 3), (3, 5), (4, 4), (5, 6), then a trial pruned at step 1
    /// with 10, one pruned at step 3 with 7, a failed and a running one;
    /// `sign` -1 stores every value negated (to be maximised).
    fn history(direction: Direction, sign: f64) -> History {
        let mut h = History::new(direction);
        let pairs = [(1.0, 2.0), (2.0, 3.0), (3.0, 5.0), (4.0, 4.0), (5.0, 6.0)];
        for (i, &(x, y)) in pairs.iter().enumerate() {
            let curve = [(1, sign * x), (2, sign * (x + y) / 2.0), (3, sign * y)];
            h.trials
                .push(obs(i as u64, TrialState::Complete, Some(sign * y), &curve));
        }
        h.trials
            .push(obs(5, TrialState::Pruned, None, &[(1, sign * 10.0)]));
        h.trials.push(obs(
            6,
            TrialState::Pruned,
            None,
            &[(1, sign * 8.0), (2, sign * 7.5), (3, sign * 7.0)],
        ));
        h.trials.push(obs(7, TrialState::Failed, None, &[]));
        h.trials
            .push(obs(8, TrialState::Running, None, &[(1, 1.0)]));
        h
    }

    #[test]
    fn pruned_trials_by_last_value_or_a_predicted_final_value() {
        for (direction, sign) in [(Direction::Minimize, 1.0), (Direction::Maximize, -1.0)] {
            let h = history(direction, sign);
            let last = training_losses(&h, PrunedValue::Last);
            let linear = training_losses(&h, PrunedValue::Linear);
            let expected_last: Vec<(usize, Option<f64>)> = vec![
                (0, Some(2.0)),
                (1, Some(3.0)),
                (2, Some(5.0)),
                (3, Some(4.0)),
                (4, Some(6.0)),
                (5, Some(10.0)),
                (6, Some(7.0)),
                (7, None),
            ];
            assert_eq!(last, expected_last, "{direction:?}");
            // By hand: at step 1, x = 1..5 and final y = 2 3 5 4 6: means 3
            // and 4, sxx = 10, sxy = 4 + 1 + 0 + 0 + 4 = 9, so final =
            // 1.3 + 0.9 x, and the trial pruned at 10 is fitted to 10.3.
            // At step 3 the complete trials' values are their finals (x =
            // y): slope 1, intercept 0, so the one pruned at 7 keeps 7.
            assert_eq!(linear.len(), 8);
            for (i, (got, want)) in linear.iter().zip(&expected_last).enumerate() {
                let want = if i == 5 { Some(10.3) } else { want.1 };
                assert_eq!(got.0, i);
                match (got.1, want) {
                    (Some(g), Some(w)) => assert!((g - w).abs() < 1e-12, "{i}: {g} {w}"),
                    (g, w) => assert_eq!(g, w, "{i}"),
                }
            }
        }
    }

    #[test]
    fn a_step_with_fewer_than_five_complete_trials_keeps_the_last_value() {
        let mut h = history(Direction::Minimize, 1.0);
        // Four complete trials reported step 1: no line there.
        h.trials[4].intermediate.retain(|&(s, _)| s != 1);
        let linear = training_losses(&h, PrunedValue::Linear);
        assert_eq!(linear[5], (5, Some(10.0)));
        // Step 3 still has its five: final = value there.
        assert!((linear[6].1.unwrap() - 7.0).abs() < 1e-12);
    }

    #[test]
    fn the_option_changes_the_suggestion_only_through_pruned_trials() {
        let space =
            SearchSpace::new(vec![crate::Param::new("x", crate::Domain::float(0.0, 1.0))]).unwrap();
        let mut h = History::new(Direction::Minimize);
        for i in 0..12u64 {
            let x = (i as f64 + 0.5) / 12.0;
            let mut p = Params::default();
            p.insert("x", crate::Value::from(x));
            let y = (x - 0.3) * (x - 0.3);
            h.trials.push(Observation {
                number: i,
                params: p,
                state: TrialState::Complete,
                value: Some(y),
                intermediate: vec![(1, y + 1.0), (2, y)],
                duration_ms: None,
            });
        }
        let suggest = |h: &History, pruned_value| {
            let options = GpOptions {
                pruned_value,
                n_candidates: 64,
                ..GpOptions::default()
            };
            let mut rng = crate::suggestion_rng(1, h.trials.len() as u64);
            GpSearcher::new(options, 1)
                .suggest(&space, h, &mut rng)
                .unwrap()
        };
        // No pruned trial: the same suggestion either way.
        assert_eq!(
            suggest(&h, PrunedValue::Last),
            suggest(&h, PrunedValue::Linear)
        );
        // A trial pruned at step 1 near the optimum: by its last value
        // (1.0) it looks worse than every complete trial, by the line
        // (final = value - 1) it is the best; the suggestions differ.
        let mut p = Params::default();
        p.insert("x", crate::Value::from(0.3));
        h.trials.push(Observation {
            number: 12,
            params: p,
            state: TrialState::Pruned,
            value: None,
            intermediate: vec![(1, 1.0)],
            duration_ms: None,
        });
        assert_ne!(
            suggest(&h, PrunedValue::Last),
            suggest(&h, PrunedValue::Linear)
        );
    }
}
