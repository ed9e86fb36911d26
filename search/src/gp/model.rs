//! The fitted Gaussian process: one Cholesky factorisation of the kernel
//! matrix, reused for every posterior query of a suggestion.

use faer::linalg::solvers::{Llt, Solve};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Mat, Par, Side};

use super::kernel::{DimKind, dim_distance, matern52, matern52_and_grad, scaled_sq_distance};

/// Extra diagonal tried, relative to the signal variance, when a kernel
/// matrix is numerically not positive definite; escalated tenfold per try.
const JITTER_START: f64 = 1e-9;
/// Largest relative jitter tried before the factorisation counts as failed.
const JITTER_MAX: f64 = 1e-2;
/// Floor of the posterior variance, so `ln σ` stays finite at data points.
const MIN_VARIANCE: f64 = 1e-18;

/// Kernel hyper-parameters, in the log scale the likelihood is optimised in
/// (except the constant mean, which is unbounded already).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hyper {
    /// ln ℓ_d per input dimension.
    pub log_lengthscales: Vec<f64>,
    /// ln of the signal variance.
    pub log_signal: f64,
    /// ln of the noise variance.
    pub log_noise: f64,
    /// Constant prior mean, in standardised output units.
    pub mean: f64,
}

impl Hyper {
    /// Packs into the optimiser's vector: `[ln ℓ.., ln s, ln σ², m]`.
    pub fn to_vec(&self) -> Vec<f64> {
        let mut v = self.log_lengthscales.clone();
        v.extend([self.log_signal, self.log_noise, self.mean]);
        v
    }

    /// Unpacks [`Hyper::to_vec`]; `None` for a vector of the wrong length.
    pub fn from_slice(v: &[f64], dims: usize) -> Option<Hyper> {
        (v.len() == dims + 3).then(|| Hyper {
            log_lengthscales: v[..dims].to_vec(),
            log_signal: v[dims],
            log_noise: v[dims + 1],
            mean: v[dims + 2],
        })
    }

    /// `1/ℓ_d²` per dimension.
    pub fn inv_sq_lengthscales(&self) -> Vec<f64> {
        self.log_lengthscales
            .iter()
            .map(|l| (-2.0 * l).exp())
            .collect()
    }

    /// True when every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.to_vec().iter().all(|v| v.is_finite())
    }
}

/// Cholesky factor of `K + noise·I`, adding escalating jitter when `K` is
/// numerically indefinite. `None` when even the largest jitter fails.
pub(crate) fn factor_with_jitter(k: &Mat<f64>, noise: f64, signal: f64) -> Option<Llt<f64>> {
    let n = k.nrows();
    let mut extra = 0.0;
    loop {
        let mut a = k.clone();
        for i in 0..n {
            a[(i, i)] += noise + extra;
        }
        if let Ok(llt) = a.llt(Side::Lower) {
            return Some(llt);
        }
        extra = if extra == 0.0 {
            JITTER_START * signal
        } else {
            extra * 10.0
        };
        if extra > JITTER_MAX * signal || !extra.is_finite() {
            return None;
        }
    }
}

/// A GP conditioned on data: `x` (rows in the kernel's input space) and
/// standardised outputs `y`.
pub(crate) struct Gp {
    kinds: Vec<DimKind>,
    inv_sq_ls: Vec<f64>,
    signal: f64,
    mean: f64,
    x: Vec<Vec<f64>>,
    llt: Llt<f64>,
    /// `(K + σ²I)⁻¹ (y - m)`.
    alpha: Vec<f64>,
}

impl Gp {
    /// Conditions the GP with hyper-parameters `hyper` on `(x, y)`. `None`
    /// when the kernel matrix cannot be factorised.
    pub fn fit(kinds: &[DimKind], x: &[Vec<f64>], y: &[f64], hyper: &Hyper) -> Option<Gp> {
        let n = x.len();
        let inv_sq_ls = hyper.inv_sq_lengthscales();
        let signal = hyper.log_signal.exp();
        let k = Mat::from_fn(n, n, |i, j| {
            signal * matern52(scaled_sq_distance(kinds, &inv_sq_ls, &x[i], &x[j]))
        });
        let llt = factor_with_jitter(&k, hyper.log_noise.exp(), signal)?;
        let mut alpha = Mat::from_fn(n, 1, |i, _| y[i] - hyper.mean);
        llt.solve_in_place(alpha.as_mut());
        let alpha: Vec<f64> = (0..n).map(|i| alpha[(i, 0)]).collect();
        if alpha.iter().any(|a| !a.is_finite()) {
            return None;
        }
        Some(Gp {
            kinds: kinds.to_vec(),
            inv_sq_ls,
            signal,
            mean: hyper.mean,
            x: x.to_vec(),
            llt,
            alpha,
        })
    }

    /// Posterior mean and variance (of the latent function) at each
    /// candidate: one kernel block and one triangular solve for the batch.
    pub fn predict_batch(&self, candidates: &[Vec<f64>]) -> Vec<(f64, f64)> {
        let n = self.x.len();
        let mut ks = Mat::from_fn(n, candidates.len(), |i, j| {
            self.signal
                * matern52(scaled_sq_distance(
                    &self.kinds,
                    &self.inv_sq_ls,
                    &self.x[i],
                    &candidates[j],
                ))
        });
        let means: Vec<f64> = (0..candidates.len())
            .map(|j| self.mean + (0..n).map(|i| ks[(i, j)] * self.alpha[i]).sum::<f64>())
            .collect();
        solve_lower_triangular_in_place(self.llt.L(), ks.as_mut(), Par::Seq);
        (0..candidates.len())
            .map(|j| {
                let explained: f64 = (0..n).map(|i| ks[(i, j)] * ks[(i, j)]).sum();
                (means[j], (self.signal - explained).max(MIN_VARIANCE))
            })
            .collect()
    }

    /// Posterior mean and variance at `point` with their gradients along the
    /// numeric dimensions listed in `free` (the others are held fixed).
    pub fn predict_with_gradient(&self, point: &[f64], free: &[usize]) -> Prediction {
        let n = self.x.len();
        let mut k = Mat::zeros(n, 1);
        let mut dk_dr2 = vec![0.0; n];
        for (i, xi) in self.x.iter().enumerate() {
            let r2 = scaled_sq_distance(&self.kinds, &self.inv_sq_ls, xi, point);
            let (c, dc) = matern52_and_grad(r2);
            k[(i, 0)] = self.signal * c;
            dk_dr2[i] = self.signal * dc;
        }
        let mean = self.mean + (0..n).map(|i| k[(i, 0)] * self.alpha[i]).sum::<f64>();
        let mut v = k.clone();
        self.llt.solve_in_place(v.as_mut());
        let explained: f64 = (0..n).map(|i| k[(i, 0)] * v[(i, 0)]).sum();
        let variance = (self.signal - explained).max(MIN_VARIANCE);
        let mut d_mean = vec![0.0; free.len()];
        let mut d_variance = vec![0.0; free.len()];
        for (g, &d) in free.iter().enumerate() {
            debug_assert_eq!(self.kinds[d], DimKind::Numeric);
            for (i, xi) in self.x.iter().enumerate() {
                // ∂k(x_i, x)/∂x_d = ∂k/∂r² · 2 (x_d - x_i,d) / ℓ_d².
                let dk = dk_dr2[i] * 2.0 * (point[d] - xi[d]) * self.inv_sq_ls[d];
                d_mean[g] += dk * self.alpha[i];
                d_variance[g] -= 2.0 * dk * v[(i, 0)];
            }
        }
        Prediction {
            mean,
            variance,
            d_mean,
            d_variance,
        }
    }
}

/// A posterior query with gradients, from [`Gp::predict_with_gradient`].
pub(crate) struct Prediction {
    /// Posterior mean.
    pub mean: f64,
    /// Posterior variance of the latent function.
    pub variance: f64,
    /// ∂mean/∂x along the free dimensions.
    pub d_mean: Vec<f64>,
    /// ∂variance/∂x along the free dimensions.
    pub d_variance: Vec<f64>,
}

/// Per-dimension distances of every pair `i < j`, laid out pair-major
/// (`[pair * dims + d]`): they do not depend on the hyper-parameters, so the
/// likelihood computes them once per fit.
pub(crate) fn pairwise_distances(kinds: &[DimKind], x: &[Vec<f64>]) -> Vec<f64> {
    let n = x.len();
    let dims = kinds.len();
    let mut out = Vec::with_capacity(n * n.saturating_sub(1) / 2 * dims);
    for i in 0..n {
        for j in (i + 1)..n {
            out.extend((0..dims).map(|d| dim_distance(kinds[d], x[i][d], x[j][d])));
        }
    }
    out
}
