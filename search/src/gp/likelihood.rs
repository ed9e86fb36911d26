//! Fitting the kernel hyper-parameters: maximum a posteriori of the log
//! marginal likelihood under weak priors, by L-BFGS (argmin) on the log
//! parameters with analytic gradients.
//!
//! The marginal likelihood of standardised outputs `y` is
//! `ln p(y|θ) = -½ (y-m)ᵀK⁻¹(y-m) - Σ ln L_ii - n/2 ln 2π` with
//! `K = s·C(ℓ) + (σ²_min + σ²) I`, and its gradient is
//! `∂/∂θ = ½ tr((ααᵀ - K⁻¹) ∂K/∂θ)` with `α = K⁻¹(y-m)` (Rasmussen &
//! Williams 2006, eq. 5.9). One evaluation costs one Cholesky and one inverse,
//! O(n³), plus O(n² d) for the length-scale gradients.
//!
//! Priors (weak, on standardised targets and unit-cube inputs; the shapes
//! follow Optuna's GPSampler, which we compare against):
//! - `-(a/λ + aλ)` with `λ = 1/ℓ²`, `a = 0.1`: mode at `ℓ = 1`, steep against
//!   length scales far below 0.1 (white noise) or far above 10 (a constant);
//! - Gamma(2, 1) on the signal variance `s` (mode 1);
//! - Gamma(1.1, 30) on the noise variance `σ²` (mean 0.037): heavy noise must
//!   be earned by the data, or a few points in many dimensions are "all
//!   noise";
//! - N(0, 1) on the constant mean `m`.
//!
//! A dimension-scaled log-normal length-scale prior (Hvarfner et al. 2024)
//! was tried first: its long length scales let Hartmann-6 fall into the
//! "everything is noise" mode, and the fit stayed there.

use std::cell::RefCell;
use std::f64::consts::PI;

use argmin::core::{CostFunction, Error as ArgminError, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use faer::Mat;
use faer::linalg::solvers::{DenseSolveCore, Solve};

use super::kernel::{DimKind, matern52_and_grad};
use super::model::{Hyper, factor_with_jitter, pairwise_distances};

/// Weight `a` of the length-scale prior `-(a/λ + aλ)`, `λ = 1/ℓ²`.
const LENGTHSCALE_PRIOR_WEIGHT: f64 = 0.1;
/// Shape of the Gamma(shape, 1) prior of the signal variance.
const SIGNAL_PRIOR_SHAPE: f64 = 2.0;
/// Start of the noise fit, `ln σ²`.
const LOG_NOISE_PRIOR_MEAN: f64 = -4.0;
/// Shape of the Gamma prior of the noise variance.
const NOISE_PRIOR_SHAPE: f64 = 1.1;
/// Rate of the Gamma prior of the noise variance.
const NOISE_PRIOR_RATE: f64 = 30.0;
/// The noise parameter of a deterministic objective: `e^-30` is nothing next
/// to the noise floor, so the floor alone remains.
pub(crate) const DETERMINISTIC_LOG_NOISE: f64 = -30.0;
/// L-BFGS memory.
const LBFGS_MEMORY: usize = 7;
/// Gradient-norm tolerance of the fit.
const GRADIENT_TOLERANCE: f64 = 1e-3;
/// Change of the negative log posterior below which the fit stops: far
/// below what moves the posterior visibly.
const COST_TOLERANCE: f64 = 1e-5;
/// Log parameters are kept inside this box: beyond it the kernel matrix is
/// constant or diagonal to machine precision and the fit is meaningless.
const LOG_PARAMETER_BOUND: f64 = 12.0;

/// The prior's mode: where the first fit starts.
pub(crate) fn prior_mode(dims: usize, deterministic: bool) -> Hyper {
    Hyper {
        log_lengthscales: vec![0.0; dims],
        log_signal: 0.0,
        log_noise: if deterministic {
            DETERMINISTIC_LOG_NOISE
        } else {
            LOG_NOISE_PRIOR_MEAN
        },
        mean: 0.0,
    }
}

/// The negative log posterior of the hyper-parameters given the data.
pub(crate) struct Likelihood<'a> {
    kinds: &'a [DimKind],
    y: &'a [f64],
    /// Per-dimension distances of every pair, see [`pairwise_distances`].
    distances: Vec<f64>,
    min_noise: f64,
    deterministic: bool,
    /// Best point evaluated so far, so a failed optimiser run still yields it.
    best: RefCell<Option<(f64, Vec<f64>)>>,
    /// The last evaluation: argmin asks for the cost and the gradient at the
    /// same point separately, and both come from one factorisation.
    last: RefCell<Option<Evaluation>>,
}

/// A point and the negative log posterior there (`None`: not factorisable).
type Evaluation = (Vec<f64>, Option<(f64, Vec<f64>)>);

impl<'a> Likelihood<'a> {
    /// The likelihood of standardised outputs `y` at inputs `x`.
    pub fn new(
        kinds: &'a [DimKind],
        x: &[Vec<f64>],
        y: &'a [f64],
        min_noise: f64,
        deterministic: bool,
    ) -> Self {
        Likelihood {
            kinds,
            y,
            distances: pairwise_distances(kinds, x),
            min_noise,
            deterministic,
            best: RefCell::new(None),
            last: RefCell::new(None),
        }
    }

    /// Negative log posterior and its gradient at the packed parameters
    /// `theta` (see [`Hyper::to_vec`]); `None` when the kernel matrix cannot
    /// be factorised there.
    pub fn value_and_gradient(&self, theta: &[f64]) -> Option<(f64, Vec<f64>)> {
        if let Some((at, result)) = self.last.borrow().as_ref()
            && at.as_slice() == theta
        {
            return result.clone();
        }
        let result = self.evaluate(theta);
        *self.last.borrow_mut() = Some((theta.to_vec(), result.clone()));
        result
    }

    fn evaluate(&self, theta: &[f64]) -> Option<(f64, Vec<f64>)> {
        let dims = self.kinds.len();
        let hyper = Hyper::from_slice(theta, dims)?;
        if !hyper.is_finite() || theta.iter().any(|t| t.abs() > LOG_PARAMETER_BOUND + 20.0) {
            return None;
        }
        let n = self.y.len();
        let inv_sq_ls = hyper.inv_sq_lengthscales();
        let signal = hyper.log_signal.exp();
        let noise_param = hyper.log_noise.exp();
        let noise = self.min_noise + noise_param;

        let pairs = n * n.saturating_sub(1) / 2;
        let mut r2 = vec![0.0; pairs];
        for (p, r) in r2.iter_mut().enumerate() {
            let row = &self.distances[p * dims..(p + 1) * dims];
            *r = row.iter().zip(&inv_sq_ls).map(|(a, b)| a * b).sum();
        }
        let mut k = Mat::<f64>::zeros(n, n);
        // s·∂C/∂r² per pair, for the length-scale gradients.
        let mut dk = vec![0.0; pairs];
        let mut p = 0;
        for i in 0..n {
            k[(i, i)] = signal;
            for j in (i + 1)..n {
                let (c, dc) = matern52_and_grad(r2[p]);
                k[(i, j)] = signal * c;
                k[(j, i)] = signal * c;
                dk[p] = signal * dc;
                p += 1;
            }
        }
        let llt = factor_with_jitter(&k, noise, signal)?;
        let mut alpha = Mat::from_fn(n, 1, |i, _| self.y[i] - hyper.mean);
        let residual = alpha.clone();
        llt.solve_in_place(alpha.as_mut());
        let fit_term: f64 = (0..n).map(|i| residual[(i, 0)] * alpha[(i, 0)]).sum();
        let log_det: f64 = (0..n).map(|i| llt.L()[(i, i)].ln()).sum::<f64>() * 2.0;
        let lml = -0.5 * fit_term - 0.5 * log_det - 0.5 * n as f64 * (2.0 * PI).ln();

        // W = ααᵀ - K⁻¹; every gradient is ½ tr(W ∂K/∂θ).
        let k_inv = llt.inverse();
        let w = |i: usize, j: usize| alpha[(i, 0)] * alpha[(j, 0)] - k_inv[(i, j)];
        let mut grad = vec![0.0; dims + 3];
        let mut signal_grad: f64 = (0..n).map(|i| w(i, i)).sum::<f64>() * 0.5 * signal;
        let noise_grad = (0..n).map(|i| w(i, i)).sum::<f64>() * 0.5 * noise_param;
        let mut p = 0;
        for i in 0..n {
            for j in (i + 1)..n {
                let wij = w(i, j);
                signal_grad += wij * k[(i, j)];
                // ∂K_ij/∂ln ℓ_d = s·C'(r²)·(-2 dist_d / ℓ_d²); the pair appears twice in the trace.
                let scale = -2.0 * wij * dk[p];
                let row = &self.distances[p * dims..(p + 1) * dims];
                for d in 0..dims {
                    grad[d] += scale * row[d] * inv_sq_ls[d];
                }
                p += 1;
            }
        }
        grad[dims] = signal_grad;
        grad[dims + 1] = if self.deterministic { 0.0 } else { noise_grad };
        grad[dims + 2] = (0..n).map(|i| alpha[(i, 0)]).sum();

        let (log_prior, prior_grad) = self.log_prior(&hyper);
        let value = -(lml + log_prior);
        let gradient: Vec<f64> = grad
            .iter()
            .zip(&prior_grad)
            .map(|(g, pg)| -(g + pg))
            .collect();
        if !value.is_finite() || gradient.iter().any(|g| !g.is_finite()) {
            return None;
        }
        let mut best = self.best.borrow_mut();
        if best.as_ref().is_none_or(|(b, _)| value < *b) {
            *best = Some((value, theta.to_vec()));
        }
        Some((value, gradient))
    }

    /// Log prior density (up to a constant) and its gradient.
    fn log_prior(&self, hyper: &Hyper) -> (f64, Vec<f64>) {
        let dims = self.kinds.len();
        let mut grad = vec![0.0; dims + 3];
        let mut value = 0.0;
        for (d, &l) in hyper.log_lengthscales.iter().enumerate() {
            // -(a/λ + aλ) on λ = 1/ℓ²: mode at ℓ = 1, steep against length
            // scales far below the unit cube's 0.1 or far above 10.
            let lambda = (-2.0 * l).exp();
            value -= LENGTHSCALE_PRIOR_WEIGHT * (1.0 / lambda + lambda);
            grad[d] = 2.0 * LENGTHSCALE_PRIOR_WEIGHT * (lambda - 1.0 / lambda);
        }
        // Gamma(2, 1) density of s: mode 1, the standardised variance.
        let signal = hyper.log_signal.exp();
        value += (SIGNAL_PRIOR_SHAPE - 1.0) * hyper.log_signal - signal;
        grad[dims] = (SIGNAL_PRIOR_SHAPE - 1.0) - signal;
        // N(0, 1) for the constant mean of standardised targets.
        value -= 0.5 * hyper.mean * hyper.mean;
        grad[dims + 2] = -hyper.mean;
        if !self.deterministic {
            // Gamma(1.1, 30) density of σ² itself (no Jacobian): mean 0.037,
            // steep against large noise, nearly flat toward zero.
            let noise = hyper.log_noise.exp();
            value += (NOISE_PRIOR_SHAPE - 1.0) * hyper.log_noise - NOISE_PRIOR_RATE * noise;
            grad[dims + 1] = (NOISE_PRIOR_SHAPE - 1.0) - NOISE_PRIOR_RATE * noise;
        }
        (value, grad)
    }

    /// Runs L-BFGS from each start and returns the best hyper-parameters
    /// found, or `None` when no start could even be evaluated.
    pub fn maximise(&self, starts: &[Hyper], max_iters: u64) -> Option<Hyper> {
        for start in starts {
            let init = start.to_vec();
            if self.value_and_gradient(&init).is_none() {
                continue;
            }
            let Ok(linesearch) = MoreThuenteLineSearch::new().with_bounds(1e-12, 4.0) else {
                continue;
            };
            let Ok(solver) = LBFGS::new(linesearch, LBFGS_MEMORY)
                .with_tolerance_grad(GRADIENT_TOLERANCE)
                .and_then(|s| s.with_tolerance_cost(COST_TOLERANCE))
            else {
                continue;
            };
            // Errors (a line search that found no decrease) are not fatal:
            // the best point evaluated is kept in `self.best` either way.
            let _ = Executor::new(Objective(self), solver)
                .configure(|state| state.param(init).max_iters(max_iters))
                .ctrlc(false)
                .timer(false)
                .run();
        }
        let best = self.best.borrow();
        let (_, theta) = best.as_ref()?;
        let mut hyper = Hyper::from_slice(theta, self.kinds.len())?;
        clamp_hyper(&mut hyper);
        Some(hyper)
    }
}

/// Keeps a fitted (or cached) point inside the region where the kernel is
/// numerically meaningful.
fn clamp_hyper(hyper: &mut Hyper) {
    for l in &mut hyper.log_lengthscales {
        *l = l.clamp(-LOG_PARAMETER_BOUND, LOG_PARAMETER_BOUND);
    }
    hyper.log_signal = hyper
        .log_signal
        .clamp(-LOG_PARAMETER_BOUND, LOG_PARAMETER_BOUND);
    hyper.log_noise = hyper
        .log_noise
        .clamp(DETERMINISTIC_LOG_NOISE, LOG_PARAMETER_BOUND);
}

/// argmin's view of a [`Likelihood`]: it minimises the negative log
/// posterior. A point where the kernel cannot be factorised gets a huge cost
/// and a gradient pointing back toward the prior's mode, so the line search
/// retreats.
struct Objective<'l, 'a>(&'l Likelihood<'a>);

/// Cost reported where the kernel matrix cannot be factorised.
const INFEASIBLE_COST: f64 = 1e30;

impl CostFunction for Objective<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Self::Param) -> Result<f64, ArgminError> {
        Ok(self
            .0
            .value_and_gradient(theta)
            .map_or(INFEASIBLE_COST, |(v, _)| v))
    }
}

impl Gradient for Objective<'_, '_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, theta: &Self::Param) -> Result<Vec<f64>, ArgminError> {
        match self.0.value_and_gradient(theta) {
            Some((_, g)) => Ok(g),
            None => {
                let dims = self.0.kinds.len();
                let mode = prior_mode(dims, self.0.deterministic).to_vec();
                Ok(theta.iter().zip(&mode).map(|(t, m)| t - m).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytic_gradient_matches_finite_differences() {
        let kinds = [DimKind::Numeric, DimKind::Categorical, DimKind::Numeric];
        let x: Vec<Vec<f64>> = (0..12)
            .map(|i| {
                let t = i as f64;
                vec![
                    (t * 0.37).fract(),
                    ((i % 3) as f64 + 0.5) / 3.0,
                    (t * 0.61).fract(),
                ]
            })
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| (6.0 * r[0]).sin() + r[1] - r[2] * r[2])
            .collect();
        for deterministic in [false, true] {
            let lik = Likelihood::new(&kinds, &x, &y, 1e-6, deterministic);
            let theta = vec![-0.7, 0.2, -1.1, 0.3, -3.0, 0.1];
            let (_, grad) = lik.value_and_gradient(&theta).expect("finite");
            for k in 0..theta.len() {
                let h = 1e-5;
                let mut up = theta.clone();
                up[k] += h;
                let mut down = theta.clone();
                down[k] -= h;
                let fd = (lik.value_and_gradient(&up).expect("finite").0
                    - lik.value_and_gradient(&down).expect("finite").0)
                    / (2.0 * h);
                let want = if deterministic && k == 4 { 0.0 } else { fd };
                assert!(
                    (grad[k] - want).abs() < 1e-4 * (1.0 + fd.abs()),
                    "param {k}: analytic {} vs numeric {fd}",
                    grad[k]
                );
            }
        }
    }
}
