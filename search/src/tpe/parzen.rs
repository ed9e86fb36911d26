//! Parzen estimators: weighted mixtures of one kernel per observation plus a
//! prior component, over the encoded unit cube.
//!
//! Numerical dimensions use Gaussians truncated to `[0, 1]`; categorical
//! dimensions use a kernel that puts most of its mass on the observed choice
//! and spreads the rest by the prior (see [`super::categorical`]). In the
//! multivariate form one kernel covers all dimensions of an observation
//! (a product of per-dimension kernels), so the density keeps the
//! correlations between parameters; in the univariate form each dimension
//! is its own mixture and the log densities add.
//!
//! Evaluation is laid out for speed: per dimension the kernel centres,
//! inverse widths and log normalisers are contiguous arrays over kernels, so
//! scoring one point is `n_kernels * n_dims` multiply-adds followed by one
//! log-sum-exp (multivariate), with no allocation beyond a scratch buffer
//! the caller keeps.

use std::f64::consts::PI;

use rand::RngExt;

use crate::StdRng;
use crate::special::{norm_cdf, norm_ppf};

use super::categorical::categorical_kernels;
use super::options::Bandwidth;

/// Width of the prior component of a numerical dimension, in units of the
/// encoded range: a Gaussian this wide centred at 0.5 and truncated to
/// `[0, 1]` is close to uniform while still preferring the middle slightly
/// (Optuna uses the same prior).
pub const PRIOR_SIGMA: f64 = 1.0;

/// Scale of Scott's rule for the kernel width (Optuna's `SIGMA0_MAGNITUDE`).
pub const SCOTT_SCALE: f64 = 0.2;

/// The smallest width any numerical kernel gets, whatever the rule.
const MIN_SIGMA: f64 = 1e-6;

/// What one dimension of an estimator models.
#[derive(Debug, Clone, PartialEq)]
pub enum DimSpec {
    /// A coordinate in `[0, 1]`; kernels are never narrower than `min_sigma`
    /// (one bucket for integer and stepped domains).
    Numerical {
        /// Lower bound on the kernel width.
        min_sigma: f64,
    },
    /// A choice index in `0..prior.len()`, with prior probabilities.
    Categorical {
        /// Prior probability of each choice (sums to 1).
        prior: Vec<f64>,
    },
}

/// How an estimator is built, shared by the good and bad densities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimatorConfig {
    /// One kernel per observation over all dimensions (true), or an
    /// independent mixture per dimension.
    pub multivariate: bool,
    /// The kernel width rule.
    pub bandwidth: Bandwidth,
    /// Lower-bound widths by `1 / min(100, n + 1)`.
    pub magic_clip: bool,
    /// Count the range ends as neighbours in the neighbour rule.
    pub consider_endpoints: bool,
    /// Weight of the prior component relative to one observation.
    pub prior_weight: f64,
}

#[derive(Debug, Clone)]
enum Dim {
    Numerical {
        mu: Vec<f64>,
        sigma: Vec<f64>,
        inv_sigma: Vec<f64>,
        /// `log(sigma * sqrt(2 pi) * Z)`, Z the kernel's mass inside [0, 1].
        log_norm: Vec<f64>,
        /// Φ of the lower truncation point, for inverse-CDF sampling.
        low_cdf: Vec<f64>,
        /// Z, the mass inside [0, 1].
        mass: Vec<f64>,
    },
    Categorical {
        n_choices: usize,
        /// `log p_k(c)` at `k * n_choices + c`.
        log_p: Vec<f64>,
        /// Cumulative `p_k(c)` at the same places, for sampling.
        cum_p: Vec<f64>,
    },
}

/// A weighted mixture of kernels over `n_dims` dimensions; kernel
/// `n_kernels - 1` is the prior.
#[derive(Debug, Clone)]
pub struct ParzenEstimator {
    n_kernels: usize,
    multivariate: bool,
    log_weights: Vec<f64>,
    cum_weights: Vec<f64>,
    /// Multivariate: `log w_k - Σ_d log_norm_d[k]`, the part of each
    /// kernel's log density that does not depend on the point.
    base: Vec<f64>,
    dims: Vec<Dim>,
}

/// Builds the Parzen estimator of `n = weights.len()` observations given
/// row-major in `obs` (`n * specs.len()` values: coordinates for numerical
/// dimensions, choice indices for categorical ones), each weighted by
/// `weights`, plus a prior component of weight `config.prior_weight`.
pub fn parzen_estimator(
    obs: &[f64],
    weights: &[f64],
    specs: &[DimSpec],
    config: &EstimatorConfig,
) -> ParzenEstimator {
    let n_obs = weights.len();
    let d = specs.len();
    debug_assert_eq!(obs.len(), n_obs * d);
    let n_kernels = n_obs + 1;
    let total: f64 = weights.iter().sum::<f64>() + config.prior_weight;
    let mut log_weights = Vec::with_capacity(n_kernels);
    let mut cum_weights = Vec::with_capacity(n_kernels);
    let mut acc = 0.0;
    for &w in weights.iter().chain(std::iter::once(&config.prior_weight)) {
        log_weights.push((w / total).ln());
        acc += w / total;
        cum_weights.push(acc);
    }
    let scott_dims = if config.multivariate { d } else { 1 };
    let mut column = Vec::with_capacity(n_kernels);
    let dims: Vec<Dim> = specs
        .iter()
        .enumerate()
        .map(|(j, spec)| {
            column.clear();
            column.extend((0..n_obs).map(|i| obs[i * d + j]));
            match spec {
                DimSpec::Numerical { min_sigma } => {
                    numerical_dim(&column, weights, *min_sigma, scott_dims, config)
                }
                DimSpec::Categorical { prior } => {
                    let n_choices = prior.len();
                    let log_p = categorical_kernels(&column, prior, config.prior_weight);
                    let mut cum_p = Vec::with_capacity(log_p.len());
                    for row in log_p.chunks(n_choices.max(1)) {
                        let mut s = 0.0;
                        cum_p.extend(row.iter().map(|lp| {
                            s += lp.exp();
                            s
                        }));
                    }
                    Dim::Categorical {
                        n_choices,
                        log_p,
                        cum_p,
                    }
                }
            }
        })
        .collect();
    let base = (0..n_kernels)
        .map(|k| {
            log_weights[k]
                - dims
                    .iter()
                    .map(|dim| match dim {
                        Dim::Numerical { log_norm, .. } => log_norm[k],
                        Dim::Categorical { .. } => 0.0,
                    })
                    .sum::<f64>()
        })
        .collect();
    ParzenEstimator {
        n_kernels,
        multivariate: config.multivariate,
        log_weights,
        cum_weights,
        base,
        dims,
    }
}

/// Kernel centres and widths of one numerical dimension; the prior comes
/// last.
fn numerical_dim(
    centres: &[f64],
    weights: &[f64],
    min_sigma: f64,
    scott_dims: usize,
    config: &EstimatorConfig,
) -> Dim {
    let n = centres.len();
    let mut mu: Vec<f64> = centres.iter().map(|x| x.clamp(0.0, 1.0)).collect();
    mu.push(0.5);
    let mut sigma = match config.bandwidth {
        Bandwidth::Optuna => {
            let s = SCOTT_SCALE * (n.max(1) as f64).powf(-1.0 / (scott_dims as f64 + 4.0));
            vec![s; n]
        }
        Bandwidth::Scott => {
            let s = weighted_std(&mu[..n], weights) * scott_factor(n, scott_dims);
            vec![s; n]
        }
        Bandwidth::Neighbor => neighbor_widths(&mu, config.consider_endpoints),
    };
    let clip_low = if config.magic_clip {
        1.0 / (n as f64 + 1.0).min(100.0)
    } else {
        MIN_SIGMA
    };
    let low = clip_low.max(min_sigma).clamp(MIN_SIGMA, 1.0);
    for s in &mut sigma {
        *s = s.clamp(low, 1.0);
    }
    sigma.push(PRIOR_SIGMA);
    let inv_sigma = sigma.iter().map(|s| 1.0 / s).collect();
    let mut log_norm = Vec::with_capacity(n + 1);
    let mut low_cdf = Vec::with_capacity(n + 1);
    let mut mass = Vec::with_capacity(n + 1);
    let half_log_2pi = 0.5 * (2.0 * PI).ln();
    for (&m, &s) in mu.iter().zip(&sigma) {
        // The centre lies inside [0, 1], so the kernel keeps at least half
        // its mass there: no cancellation in the difference.
        let lo = norm_cdf(-m / s);
        let z = norm_cdf((1.0 - m) / s) - lo;
        low_cdf.push(lo);
        mass.push(z);
        log_norm.push(s.ln() + half_log_2pi + z.ln());
    }
    Dim::Numerical {
        mu,
        sigma,
        inv_sigma,
        log_norm,
        low_cdf,
        mass,
    }
}

/// Scott's rule factor `(4 / (d + 2))^(1 / (d + 4)) n^(-1 / (d + 4))`, the
/// width of a Gaussian kernel per unit of sample standard deviation.
fn scott_factor(n: usize, d: usize) -> f64 {
    let d = d as f64;
    (4.0 / (d + 2.0)).powf(1.0 / (d + 4.0)) * (n.max(1) as f64).powf(-1.0 / (d + 4.0))
}

/// The weighted standard deviation of `x`; 0 for fewer than two points.
fn weighted_std(x: &[f64], weights: &[f64]) -> f64 {
    let total: f64 = weights.iter().sum();
    if x.len() < 2 || total <= 0.0 {
        return 0.0;
    }
    let mean = x.iter().zip(weights).map(|(x, w)| x * w).sum::<f64>() / total;
    let var = x
        .iter()
        .zip(weights)
        .map(|(x, w)| w * (x - mean).powi(2))
        .sum::<f64>()
        / total;
    var.sqrt()
}

/// The neighbour rule: each observed kernel is as wide as the larger gap to
/// its neighbours in sorted order (the prior centre included). `mu` holds
/// the observations and, last, the prior centre; one width per observation
/// comes back.
fn neighbor_widths(mu: &[f64], consider_endpoints: bool) -> Vec<f64> {
    let n = mu.len() - 1;
    let mut order: Vec<usize> = (0..mu.len()).collect();
    order.sort_by(|&a, &b| mu[a].total_cmp(&mu[b]));
    let mut width = vec![0.0; mu.len()];
    for (r, &i) in order.iter().enumerate() {
        let left = match r {
            0 if consider_endpoints => Some(mu[i]),
            0 => None,
            _ => Some(mu[i] - mu[order[r - 1]]),
        };
        let right = match order.get(r + 1) {
            Some(&j) => Some(mu[j] - mu[i]),
            None if consider_endpoints => Some(1.0 - mu[i]),
            None => None,
        };
        width[i] = match (left, right) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => 1.0,
        };
    }
    width.truncate(n);
    width
}

impl ParzenEstimator {
    /// Number of kernels, the prior included.
    pub fn n_kernels(&self) -> usize {
        self.n_kernels
    }

    /// Number of dimensions.
    pub fn n_dims(&self) -> usize {
        self.dims.len()
    }

    /// Draws one point into `out` (one value per dimension; choice indices
    /// for categorical dimensions).
    pub fn sample(&self, rng: &mut StdRng, out: &mut [f64]) {
        let mut kernel = self.pick_kernel(rng);
        for (dim, x) in self.dims.iter().zip(out.iter_mut()) {
            if !self.multivariate {
                kernel = self.pick_kernel(rng);
            }
            *x = match dim {
                Dim::Numerical {
                    mu,
                    sigma,
                    low_cdf,
                    mass,
                    ..
                } => {
                    let p = low_cdf[kernel] + rng.random::<f64>() * mass[kernel];
                    (mu[kernel] + sigma[kernel] * norm_ppf(p)).clamp(0.0, 1.0)
                }
                Dim::Categorical {
                    n_choices, cum_p, ..
                } => {
                    let row = &cum_p[kernel * n_choices..(kernel + 1) * n_choices];
                    let u = rng.random::<f64>() * row[n_choices - 1];
                    row.partition_point(|&c| c <= u).min(n_choices - 1) as f64
                }
            };
        }
    }

    fn pick_kernel(&self, rng: &mut StdRng) -> usize {
        let u = rng.random::<f64>() * self.cum_weights[self.n_kernels - 1];
        self.cum_weights
            .partition_point(|&c| c <= u)
            .min(self.n_kernels - 1)
    }

    /// Log density at `x` (one value per dimension). `scratch` is reused
    /// across calls to avoid allocating.
    pub fn log_pdf(&self, x: &[f64], scratch: &mut Vec<f64>) -> f64 {
        if self.multivariate {
            scratch.clear();
            scratch.extend_from_slice(&self.base);
            for (dim, &xj) in self.dims.iter().zip(x) {
                match dim {
                    Dim::Numerical { mu, inv_sigma, .. } => {
                        for ((a, &m), &is) in scratch.iter_mut().zip(mu).zip(inv_sigma) {
                            let z = (xj - m) * is;
                            *a -= 0.5 * z * z;
                        }
                    }
                    Dim::Categorical {
                        n_choices, log_p, ..
                    } => {
                        let c = choice(xj, *n_choices);
                        for (k, a) in scratch.iter_mut().enumerate() {
                            *a += log_p[k * n_choices + c];
                        }
                    }
                }
            }
            log_sum_exp(scratch)
        } else {
            let mut total = 0.0;
            for (dim, &xj) in self.dims.iter().zip(x) {
                scratch.clear();
                match dim {
                    Dim::Numerical {
                        mu,
                        inv_sigma,
                        log_norm,
                        ..
                    } => {
                        scratch.extend(
                            self.log_weights
                                .iter()
                                .zip(mu)
                                .zip(inv_sigma)
                                .zip(log_norm)
                                .map(|(((lw, &m), &is), ln)| {
                                    let z = (xj - m) * is;
                                    lw - ln - 0.5 * z * z
                                }),
                        );
                    }
                    Dim::Categorical {
                        n_choices, log_p, ..
                    } => {
                        let c = choice(xj, *n_choices);
                        scratch.extend(
                            self.log_weights
                                .iter()
                                .enumerate()
                                .map(|(k, lw)| lw + log_p[k * n_choices + c]),
                        );
                    }
                }
                total += log_sum_exp(scratch);
            }
            total
        }
    }
}

/// A categorical coordinate (a choice index stored as f64) as an index.
fn choice(x: f64, n_choices: usize) -> usize {
    (x.max(0.0) as usize).min(n_choices.saturating_sub(1))
}

/// `log Σ exp(v)`, stable for large magnitudes; `-inf` for an empty slice.
pub fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn config(multivariate: bool) -> EstimatorConfig {
        EstimatorConfig {
            multivariate,
            bandwidth: Bandwidth::Scott,
            magic_clip: true,
            consider_endpoints: false,
            prior_weight: 1.0,
        }
    }

    #[test]
    fn neighbour_widths_take_the_larger_gap() {
        // Observations 0.1, 0.2, 0.9 and the prior centre 0.5 (last).
        let w = neighbor_widths(&[0.1, 0.9, 0.2, 0.5], false);
        assert!((w[0] - 0.1).abs() < 1e-12);
        assert!((w[1] - 0.4).abs() < 1e-12);
        assert!((w[2] - 0.3).abs() < 1e-12);
        let w = neighbor_widths(&[0.1, 0.9, 0.2, 0.5], true);
        assert!((w[0] - 0.1).abs() < 1e-12);
        assert!((w[1] - 0.4).abs() < 1e-12);
    }

    /// The truncated normal density on [0, 1], computed directly.
    fn truncated_normal_pdf(x: f64, mu: f64, sigma: f64) -> f64 {
        let z = (x - mu) / sigma;
        let mass = norm_cdf((1.0 - mu) / sigma) - norm_cdf(-mu / sigma);
        (-0.5 * z * z).exp() / ((2.0 * PI).sqrt() * sigma * mass)
    }

    #[test]
    fn single_kernel_matches_the_truncated_normal() {
        // No observations: the estimator is the prior kernel alone.
        let pe = parzen_estimator(
            &[],
            &[],
            &[DimSpec::Numerical { min_sigma: 0.0 }],
            &config(true),
        );
        let mut scratch = Vec::new();
        for x in [0.0, 0.1, 0.5, 0.93, 1.0] {
            let direct = truncated_normal_pdf(x, 0.5, PRIOR_SIGMA).ln();
            assert!((pe.log_pdf(&[x], &mut scratch) - direct).abs() < 1e-12);
        }
        // One observation at 0.3 with the neighbour rule: its gap to the
        // prior centre is 0.2, clipped up to 1 / (1 + 1) = 0.5; two kernels
        // of equal weight.
        let cfg = EstimatorConfig {
            bandwidth: Bandwidth::Neighbor,
            ..config(false)
        };
        let pe = parzen_estimator(
            &[0.3],
            &[1.0],
            &[DimSpec::Numerical { min_sigma: 0.0 }],
            &cfg,
        );
        for x in [0.0, 0.3, 0.77, 1.0] {
            let direct = 0.5 * truncated_normal_pdf(x, 0.3, 0.5)
                + 0.5 * truncated_normal_pdf(x, 0.5, PRIOR_SIGMA);
            assert!((pe.log_pdf(&[x], &mut scratch) - direct.ln()).abs() < 1e-12);
        }
    }

    #[test]
    fn density_integrates_to_one_over_the_box() {
        let specs = [
            DimSpec::Numerical { min_sigma: 0.0 },
            DimSpec::Categorical {
                prior: vec![0.2, 0.3, 0.5],
            },
            DimSpec::Numerical { min_sigma: 0.0 },
        ];
        // Rows: (x, choice, y), some close to the edges.
        let obs = [
            0.02, 0.0, 0.5, 0.4, 2.0, 0.97, 0.45, 2.0, 0.9, 0.99, 1.0, 0.1,
        ];
        for multivariate in [true, false] {
            for bandwidth in [Bandwidth::Scott, Bandwidth::Optuna, Bandwidth::Neighbor] {
                let cfg = EstimatorConfig {
                    bandwidth,
                    ..config(multivariate)
                };
                let pe = parzen_estimator(&obs, &[0.5, 1.0, 1.0, 1.0], &specs, &cfg);
                let steps = 100;
                let h = 1.0 / steps as f64;
                let mut scratch = Vec::new();
                let mut total = 0.0;
                for i in 0..steps {
                    for j in 0..steps {
                        for c in 0..3 {
                            let x = [(i as f64 + 0.5) * h, c as f64, (j as f64 + 0.5) * h];
                            total += pe.log_pdf(&x, &mut scratch).exp() * h * h;
                        }
                    }
                }
                assert!(
                    (total - 1.0).abs() < 1e-3,
                    "{multivariate} {bandwidth:?}: {total}"
                );
            }
        }
    }

    #[test]
    fn log_sum_exp_is_stable() {
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-9);
        assert_eq!(log_sum_exp(&[]), f64::NEG_INFINITY);
    }

    #[test]
    fn samples_stay_in_the_box_and_near_the_data() {
        let obs = [0.2, 0.8, 0.21, 0.79, 0.19, 0.81];
        let pe = parzen_estimator(
            &obs,
            &[1.0; 3],
            &[
                DimSpec::Numerical { min_sigma: 0.0 },
                DimSpec::Numerical { min_sigma: 0.0 },
            ],
            &config(true),
        );
        let mut rng = StdRng::seed_from_u64(3);
        let mut x = [0.0; 2];
        let mut near = 0;
        for _ in 0..1000 {
            pe.sample(&mut rng, &mut x);
            assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
            if (x[0] - 0.2).abs() < 0.3 && (x[1] - 0.8).abs() < 0.3 {
                near += 1;
            }
        }
        // Three of four kernels sit at (0.2, 0.8).
        assert!(near > 600, "{near}");
    }
}
