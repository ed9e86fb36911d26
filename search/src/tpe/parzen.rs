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

use std::collections::HashMap;
use std::f64::consts::PI;

use rand::RngExt;

use crate::StdRng;
use crate::domain::bucket_index;
use crate::special::{norm_cdf, norm_ppf};

use super::categorical::{CategoricalKernels, choice_index};
use super::options::Bandwidth;
use super::pool;

/// Width of the prior component of a numerical dimension, in units of the
/// encoded range: a Gaussian this wide centred at 0.5 and truncated to
/// `[0, 1]` is close to uniform while still preferring the middle slightly
/// (Optuna uses the same prior).
pub const PRIOR_SIGMA: f64 = 1.0;

/// Scale of Scott's rule for the kernel width (Optuna's `SIGMA0_MAGNITUDE`).
pub const SCOTT_SCALE: f64 = 0.2;

/// The smallest width any numerical kernel gets, whatever the rule.
const MIN_SIGMA: f64 = 1e-6;

/// Distance from the centre to both ends of `[0, 1]`, in widths, beyond
/// which a kernel's truncation is ignored: `Φ(-8.5) < 1e-17`, so the mass
/// inside is 1 to double precision.
const FAR_INSIDE: f64 = 8.5;

/// Distinct kernels whose bucket masses a discrete dimension keeps between
/// refits before it starts over.
const MAX_CACHED_KERNELS: usize = 4096;

/// What one dimension of an estimator models.
#[derive(Debug, Clone, PartialEq)]
pub enum DimSpec {
    /// A coordinate in `[0, 1]`; kernels are never narrower than `min_sigma`
    /// (one bucket for integer and stepped domains).
    Numerical {
        /// Lower bound on the kernel width.
        min_sigma: f64,
    },
    /// A coordinate in `[0, 1]` of an integer or stepped domain with few
    /// values: kernels as for [`DimSpec::Numerical`], but a point is scored
    /// by the mass each kernel puts on the point's bucket (Optuna's discrete
    /// truncated normal), not by the density at it. Densities overrate
    /// narrow kernels: once a bucket has been tried many times its kernels
    /// shrink and their density there grows without bound, while the mass
    /// they can give it stays at most 1.
    Discrete {
        /// Lower bound on the kernel width.
        min_sigma: f64,
        /// The `c + 1` bucket edges (`Domain::bucket_edges`).
        edges: Vec<f64>,
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

/// One numerical dimension: per kernel (the prior last) its centre, width
/// and truncation terms, as contiguous arrays over kernels.
#[derive(Debug, Clone, Default)]
struct NumericalDim {
    mu: Vec<f64>,
    sigma: Vec<f64>,
    /// `1 / (sigma sqrt 2)`: the kernel's exponent at `x` is
    /// `-((x - mu) * scale)^2`.
    scale: Vec<f64>,
    /// `sigma * Z`, Z the kernel's mass inside [0, 1]: the normaliser
    /// without its `sqrt(2 pi)`.
    norm: Vec<f64>,
    /// `log w - log(sigma * sqrt(2 pi) * Z)`: a kernel's log weight less
    /// its log normaliser, kept for the univariate form only (the
    /// multivariate one folds the normalisers into `base`).
    log_coef: Vec<f64>,
    /// `(Φ of the lower truncation point, Z)` per kernel, `Z` the mass
    /// inside [0, 1] ([`truncation`]); for inverse-CDF sampling.
    truncation: Vec<(f64, f64)>,
    /// `log(sigma * sqrt(2 pi) * Z)` per kernel (univariate form only): a
    /// refit that adds kernels takes `log_coef` from it and the new
    /// weights without taking these logarithms again.
    log_norm: Vec<f64>,
    /// The lower bound the widths were clamped to.
    low: f64,
}

/// One discrete numerical dimension: the kernels, for their widths and for
/// sampling (a draw is snapped to its bucket by the caller), and each
/// kernel's log mass on each bucket.
#[derive(Debug, Clone, Default)]
struct DiscreteDim {
    kernels: NumericalDim,
    /// The bucket edges, `n_buckets + 1` of them.
    edges: Vec<f64>,
    /// The edges are `b / n_buckets`: a bucket is found by a product.
    uniform: bool,
    /// Kernels of equal centre and width are one distinct kernel: integer
    /// data repeat values, so at a thousand trials a dimension of 21 values
    /// has a thousand kernels but a few dozen distinct ones. `kind[k]` is
    /// kernel `k`'s distinct kernel.
    kind: Vec<u32>,
    /// `log P_u(bucket b)` of distinct kernel `u` at `b * n_distinct + u`
    /// (bucket-major: scoring a point reads one short row).
    log_p: Vec<f64>,
    /// The `rows` row of each distinct kernel (`n_distinct` of them).
    distinct_rows: Vec<usize>,
    /// Scratch for building: per bucket, the distinct kernels centred there
    /// by the bits of their centre and width.
    seen: Vec<Vec<((u64, u64), u32)>>,
    /// Rows of [`kernel_masses`] by the bits of the kernel's centre and
    /// width, kept from one refit to the next.
    cache: HashMap<(u64, u64), usize>,
    rows: Vec<f64>,
}

#[derive(Debug, Clone)]
enum Dim {
    Numerical(NumericalDim),
    /// Boxed: its caches make it several times larger than the others.
    Discrete(Box<DiscreteDim>),
    Categorical(CategoricalKernels),
}

impl Dim {
    /// A placeholder that owns no storage.
    fn empty() -> Dim {
        Dim::Categorical(CategoricalKernels::default())
    }
}

/// A weighted mixture of kernels over `n_dims` dimensions; kernel
/// `n_kernels - 1` is the prior.
///
/// [`ParzenEstimator::refit`] rebuilds one in place, reusing its arrays: at
/// a thousand trials and tens of parameters they hold megabytes, and
/// allocating them afresh for every suggestion cost more in page faults than
/// filling them.
#[derive(Debug, Clone, Default)]
pub struct ParzenEstimator {
    n_kernels: usize,
    multivariate: bool,
    log_weights: Vec<f64>,
    cum_weights: Vec<f64>,
    /// Multivariate: `log w_k - Σ_d log(sqrt(2 pi) sigma_dk Z_dk)`, the part
    /// of each kernel's log density that does not depend on the point.
    base: Vec<f64>,
    dims: Vec<Dim>,
    /// Scratch for building: the running product of normalisers per kernel.
    prod: Vec<f64>,
    log_prod: Vec<f64>,
    /// Threads the univariate form may use ([`ParzenEstimator::set_threads`];
    /// 0 as 1).
    threads: usize,
    /// What the last refit was given as [`Observations`], with its specs
    /// and config, for the next refit to tell whether it only adds
    /// observations.
    last: Option<LastFit>,
    /// Numerical dimensions refitted by adding kernels, for the tests to
    /// know that they took that path.
    #[cfg(test)]
    extended: usize,
}

/// Which observations an estimator is refitted to, named by ids that stay
/// the same from one refit to the next (TPE: the trials' positions in the
/// history): when the observations of a refit are those of the previous one
/// with a few more after them, and nothing else changed, the univariate
/// form keeps the kernels it has and fits only the new ones and the
/// neighbours whose widths they change. The result is the same, bit for bit,
/// as a refit from scratch; only the work differs.
#[derive(Debug, Clone, Copy)]
pub struct Observations<'a> {
    /// Changes whenever an id may come to name another observation (or the
    /// same one with other values).
    pub epoch: u64,
    /// One id per observation, in the order of `weights`.
    pub ids: &'a [u32],
}

/// What a refit was given as [`Observations`], and how.
#[derive(Debug, Clone)]
struct LastFit {
    epoch: u64,
    ids: Vec<u32>,
    specs: Vec<DimSpec>,
    config: EstimatorConfig,
}

/// Weights whose logarithms one thread takes at a time.
const LOG_RUN: usize = 256;

/// At most this many observations added since the last refit are fitted on
/// their own; more, and the estimator is refitted from scratch.
const MAX_ADDED: usize = 8;

/// Builds the Parzen estimator of `n = weights.len()` observations given
/// row-major in `obs` (`n * specs.len()` values: coordinates for numerical
/// dimensions, choice indices for categorical ones), each weighted by
/// `weights`, plus a prior component of weight `config.prior_weight`.
///
/// `orders`, when given, holds for each numerical dimension the observation
/// indices sorted by coordinate (ties by index), which the neighbour rule
/// needs; a caller that keeps its observations sorted saves a sort per
/// dimension. Without it they are sorted here.
pub fn parzen_estimator(
    obs: &[f64],
    weights: &[f64],
    specs: &[DimSpec],
    config: &EstimatorConfig,
    orders: Option<&[Vec<u32>]>,
) -> ParzenEstimator {
    let n = weights.len();
    let d = specs.len();
    let columns: Vec<f64> = (0..d)
        .flat_map(|j| (0..n).map(move |i| obs[i * d + j]))
        .collect();
    let mut pe = ParzenEstimator::default();
    let columns: Vec<&[f64]> = (0..d).map(|j| &columns[j * n..(j + 1) * n]).collect();
    pe.refit(&columns, weights, specs, config, orders, None);
    pe
}

impl ParzenEstimator {
    /// Rebuilds this estimator in place as [`parzen_estimator`] would build
    /// it, reusing its storage; `columns` holds the observations by
    /// dimension (`n` values each).
    ///
    /// With `observations` naming them, a univariate estimator under the
    /// neighbour rule (with `orders`) whose observations are the previous
    /// refit's followed by at most [`MAX_ADDED`] more keeps the numerical
    /// kernels it has: see [`Observations`].
    pub fn refit(
        &mut self,
        columns: &[&[f64]],
        weights: &[f64],
        specs: &[DimSpec],
        config: &EstimatorConfig,
        orders: Option<&[Vec<u32>]>,
        observations: Option<Observations<'_>>,
    ) {
        let n_obs = weights.len();
        let d = specs.len();
        assert_eq!(columns.len(), d);
        debug_assert!(columns.iter().all(|c| c.len() == n_obs));
        let n_kernels = n_obs + 1;
        // The indices (in the new kernel order) of the observations this
        // refit adds to the last one's, when it only adds a few.
        let added = match (&self.last, observations) {
            (Some(last), Some(now))
                if !config.multivariate
                    && config.bandwidth == Bandwidth::Neighbor
                    && orders.is_some()
                    && last.config == *config
                    && last.ids.len() >= 2
                    && last.specs == specs =>
            {
                self.added(now)
            }
            _ => None,
        };
        match observations {
            Some(now) => {
                let last = self.last.get_or_insert_with(|| LastFit {
                    epoch: now.epoch,
                    ids: Vec::new(),
                    specs: Vec::new(),
                    config: *config,
                });
                last.epoch = now.epoch;
                last.ids.clear();
                last.ids.extend_from_slice(now.ids);
                if last.specs != specs {
                    last.specs = specs.to_vec();
                }
                last.config = *config;
            }
            None => self.last = None,
        }
        self.n_kernels = n_kernels;
        self.multivariate = config.multivariate;
        let total: f64 = weights.iter().sum::<f64>() + config.prior_weight;
        self.log_weights.clear();
        self.log_weights.resize(n_kernels, 0.0);
        // Equal weights next to each other (the newest trials') share one
        // logarithm. The logarithms are taken in runs, split among threads
        // for a long history (the same values on any thread).
        let log_run = |start: usize, out: &mut [f64]| {
            let mut last = (f64::NAN, 0.0);
            for (k, lw) in (start..).zip(out.iter_mut()) {
                let w = weights.get(k).copied().unwrap_or(config.prior_weight);
                if w != last.0 {
                    last = (w, (w / total).ln());
                }
                *lw = last.1;
            }
        };
        let threads = if config.multivariate {
            1
        } else {
            let runs = n_kernels.div_ceil(LOG_RUN);
            pool::threads_for(self.threads, runs, n_kernels * pool::FIT_UNITS)
        };
        let mut runs: Vec<&mut [f64]> = self.log_weights.chunks_mut(LOG_RUN).collect();
        pool::for_each_mut(&mut runs, threads - 1, &|r, out| log_run(r * LOG_RUN, out));
        self.cum_weights.clear();
        let mut acc = 0.0;
        for &w in weights.iter().chain(std::iter::once(&config.prior_weight)) {
            acc += w / total;
            self.cum_weights.push(acc);
        }
        let scott_dims = if config.multivariate { d } else { 1 };
        let rule = |j: usize, min_sigma: f64| Rule {
            presorted: orders.map(|o| o[j].as_slice()),
            weights,
            min_sigma,
            scott_dims,
            config,
        };
        // Each dimension reuses the arrays of the one it replaces when both
        // are of the same kind.
        let mut dims = std::mem::take(&mut self.dims);
        dims.truncate(d);
        dims.resize_with(d, Dim::empty);
        let log_weights = &self.log_weights;
        #[cfg(test)]
        let extended = std::sync::atomic::AtomicUsize::new(0);
        let fit = |j: usize, dim: &mut Dim, order: &mut Vec<(f64, usize)>| {
            let column = columns[j];
            let old = std::mem::replace(dim, Dim::empty());
            *dim = match (&specs[j], old) {
                (DimSpec::Numerical { min_sigma }, old) => {
                    let mut dim = match old {
                        Dim::Numerical(dim) => dim,
                        _ => NumericalDim::default(),
                    };
                    let rule = rule(j, *min_sigma);
                    match &added {
                        Some(added)
                            if dim.low == rule.low(n_obs)
                                && dim.mu.len() == n_obs - added.len() + 1 =>
                        {
                            dim.extend(column, added, &rule, log_weights);
                            #[cfg(test)]
                            extended.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        _ => dim.refit(column, &rule, log_weights, order),
                    }
                    Dim::Numerical(dim)
                }
                (DimSpec::Discrete { min_sigma, edges }, old) => {
                    let mut dim = match old {
                        Dim::Discrete(dim) => dim,
                        _ => Box::default(),
                    };
                    dim.kernels.fit_widths(column, &rule(j, *min_sigma), order);
                    if dim.edges != *edges {
                        dim.cache.clear();
                        dim.rows.clear();
                        dim.edges.clone_from(edges);
                        let c = edges.len() - 1;
                        dim.uniform = (0..=c).all(|b| edges[b] == b as f64 / c as f64);
                    }
                    dim.fill_masses();
                    Dim::Discrete(dim)
                }
                (DimSpec::Categorical { prior }, old) => {
                    let mut dim = match old {
                        Dim::Categorical(dim) => dim,
                        _ => CategoricalKernels::default(),
                    };
                    dim.refit(column, prior, config.prior_weight);
                    Dim::Categorical(dim)
                }
            };
        };
        // Dimensions are independent: split among threads when there are
        // many kernels (each one is fitted the same way by any thread).
        let threads = if config.multivariate {
            1
        } else {
            pool::threads_for(self.threads, d, n_kernels * d * pool::FIT_UNITS)
        };
        // Only an unsorted neighbour rule sorts (TPE passes orders): it
        // takes a buffer per dimension.
        pool::for_each_mut(&mut dims, threads - 1, &|j, dim| {
            fit(j, dim, &mut Vec::new())
        });
        self.dims = dims;
        #[cfg(test)]
        {
            self.extended += extended.into_inner();
        }
        self.base.clear();
        if !config.multivariate {
            // Only the joint kernels use `base`.
            return;
        }
        // base = log w - Σ_d log(sqrt(2 pi) sigma_d Z_d): the normalisers
        // are multiplied per kernel and their product's logarithm taken once
        // (every factor is at most 1 and at least MIN_SIGMA / 2, so
        // rescaling below 1e-200 keeps the product far from underflow).
        self.prod.clear();
        self.prod.resize(n_kernels, 1.0);
        self.log_prod.clear();
        self.log_prod.resize(n_kernels, 0.0);
        let mut n_numerical = 0;
        for dim in &self.dims {
            if let Dim::Numerical(dim) = dim {
                n_numerical += 1;
                for ((p, lp), &z) in self.prod.iter_mut().zip(&mut self.log_prod).zip(&dim.norm) {
                    *p *= z;
                    if *p < 1e-200 {
                        *lp += p.ln();
                        *p = 1.0;
                    }
                }
            }
        }
        let half_log_2pi = 0.5 * (2.0 * PI).ln();
        let shift = n_numerical as f64 * half_log_2pi;
        self.base.extend(
            self.log_weights
                .iter()
                .zip(&self.log_prod)
                .zip(&self.prod)
                .map(|((lw, lp), p)| lw - shift - lp - p.ln()),
        );
    }
}

/// Sorts `(value, index)` pairs by value, ties by index: a total order, so
/// ties are broken the same way every time.
pub(super) fn sort_by_value<T: Ord>(pairs: &mut [(f64, T)]) {
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
}

/// How the widths of one numerical dimension are chosen.
struct Rule<'a> {
    presorted: Option<&'a [u32]>,
    weights: &'a [f64],
    min_sigma: f64,
    scott_dims: usize,
    config: &'a EstimatorConfig,
}

/// The indices in `now` of the ids that are not in `last`, when `last` is
/// `now` with those taken out (both in the same order) and there are at
/// most [`MAX_ADDED`] of them; `None` otherwise.
fn added_indices(last: &[u32], now: &[u32]) -> Option<Vec<usize>> {
    if now.len() <= last.len() || now.len() - last.len() > MAX_ADDED {
        return None;
    }
    // Usually the new ones come last: the common prefix is compared at once.
    let common = last.iter().zip(now).take_while(|(a, b)| a == b).count();
    let mut added = Vec::with_capacity(now.len() - last.len());
    let mut rest = last[common..].iter().peekable();
    for (i, id) in now.iter().enumerate().skip(common) {
        if rest.peek() == Some(&id) {
            rest.next();
        } else {
            if added.len() == MAX_ADDED {
                return None;
            }
            added.push(i);
        }
    }
    (rest.peek().is_none() && added.len() == now.len() - last.len()).then_some(added)
}

/// Inserts `value` into `v` at each of the indices `at` (ascending, in the
/// order after the insertions).
fn insert_at<T: Copy>(v: &mut Vec<T>, at: &[usize], value: T) {
    match at {
        [] => {}
        // New observations usually come last.
        _ if at[0] == v.len() => v.resize(v.len() + at.len(), value),
        _ => {
            for &i in at {
                v.insert(i, value);
            }
        }
    }
}

impl Rule<'_> {
    /// The lower bound of the widths of `n` observations' kernels: the
    /// magic clip's `1 / min(100, n + 1)` (or [`MIN_SIGMA`]), raised to
    /// the dimension's own `min_sigma`.
    fn low(&self, n: usize) -> f64 {
        let clip_low = if self.config.magic_clip {
            1.0 / (n as f64 + 1.0).min(100.0)
        } else {
            MIN_SIGMA
        };
        clip_low.max(self.min_sigma).clamp(MIN_SIGMA, 1.0)
    }
}

impl NumericalDim {
    /// Kernel centres and widths for the observations `centres`, the prior
    /// last, and the terms that score and sample them.
    fn refit(
        &mut self,
        centres: &[f64],
        rule: &Rule,
        log_weights: &[f64],
        order: &mut Vec<(f64, usize)>,
    ) {
        self.fit_widths(centres, rule, order);
        self.fit_truncation(rule.config.multivariate, log_weights);
    }

    /// Kernel centres and widths (`mu`, `sigma`) only.
    fn fit_widths(&mut self, centres: &[f64], rule: &Rule, order: &mut Vec<(f64, usize)>) {
        let config = rule.config;
        let n = centres.len();
        self.mu.clear();
        self.mu.extend(centres.iter().map(|x| x.clamp(0.0, 1.0)));
        self.mu.push(0.5);
        self.sigma.clear();
        match config.bandwidth {
            Bandwidth::Optuna => {
                let s = SCOTT_SCALE * (n.max(1) as f64).powf(-1.0 / (rule.scott_dims as f64 + 4.0));
                self.sigma.resize(n, s);
            }
            Bandwidth::Scott => {
                let s =
                    weighted_std(&self.mu[..n], rule.weights) * scott_factor(n, rule.scott_dims);
                self.sigma.resize(n, s);
            }
            Bandwidth::Neighbor => neighbor_widths(
                &self.mu,
                rule.presorted,
                config.consider_endpoints,
                order,
                &mut self.sigma,
            ),
        }
        let low = rule.low(n);
        self.low = low;
        for s in &mut self.sigma {
            *s = s.clamp(low, 1.0);
        }
        self.sigma.push(PRIOR_SIGMA);
    }

    /// [`NumericalDim::refit`] for `centres` that are the centres this
    /// dimension was last fitted to (with the same rule, width bound and
    /// more than one observation) with new ones at the indices `added`
    /// (ascending, in the new order): the kernels of the new centres are
    /// fitted, and those of their neighbours in sorted order refitted (their
    /// widths may change); the others are kept. Every kernel's terms are
    /// what a refit from scratch computes, bit for bit.
    fn extend(&mut self, centres: &[f64], added: &[usize], rule: &Rule, log_weights: &[f64]) {
        let n = centres.len();
        let kept = n - added.len();
        let order = rule
            .presorted
            .expect("only the neighbour rule with a sorted order extends");
        debug_assert_eq!(order.len(), n);
        debug_assert!(kept >= 2 && n > kept && self.mu.len() == kept + 1);
        // Take the prior's kernel off the end (it goes back last), and make
        // room for the new kernels where they belong.
        for v in [
            &mut self.mu,
            &mut self.sigma,
            &mut self.scale,
            &mut self.norm,
            &mut self.log_norm,
        ] {
            v.truncate(kept);
            insert_at(v, added, 0.0);
        }
        self.truncation.truncate(kept);
        insert_at(&mut self.truncation, added, (0.0, 0.0));
        for &k in added {
            self.mu[k] = centres[k].clamp(0.0, 1.0);
        }
        self.mu.push(0.5);
        // The places in sorted order of the new kernels and their
        // neighbours; each kernel's width depends on its two neighbours only.
        let mut places: Vec<usize> = Vec::with_capacity(3 * added.len());
        let first_added = added[0] as u32;
        for (i, &k) in order.iter().enumerate() {
            if k >= first_added && added.binary_search(&(k as usize)).is_ok() {
                places.extend(i.saturating_sub(1)..(i + 2).min(n));
            }
        }
        places.sort_unstable();
        places.dedup();
        let consider_endpoints = rule.config.consider_endpoints;
        let half_log_2pi = 0.5 * (2.0 * PI).ln();
        for i in places {
            let k = order[i] as usize;
            let x = self.mu[k];
            let left = match i {
                0 => consider_endpoints.then_some(x),
                _ => Some(x - self.mu[order[i - 1] as usize]),
            };
            let right = match order.get(i + 1) {
                Some(&j) => Some(self.mu[j as usize] - x),
                None => consider_endpoints.then_some(1.0 - x),
            };
            let width = match (left, right) {
                (Some(a), Some(b)) => a.max(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => 1.0,
            };
            let s = width.clamp(self.low, 1.0);
            self.sigma[k] = s;
            self.scale[k] = std::f64::consts::FRAC_1_SQRT_2 / s;
            let t = truncation(x, s);
            self.truncation[k] = t;
            let z = s * t.1;
            self.norm[k] = z;
            self.log_norm[k] = z.ln() + half_log_2pi;
        }
        self.sigma.push(PRIOR_SIGMA);
        let prior = (
            std::f64::consts::FRAC_1_SQRT_2 / PRIOR_SIGMA,
            truncation(0.5, PRIOR_SIGMA),
        );
        self.scale.push(prior.0);
        self.truncation.push(prior.1);
        let z = PRIOR_SIGMA * prior.1.1;
        self.norm.push(z);
        self.log_norm.push(z.ln() + half_log_2pi);
        self.log_coef.clear();
        self.log_coef.extend(
            log_weights
                .iter()
                .zip(&self.log_norm)
                .map(|(lw, ln)| lw - ln),
        );
    }

    /// A draw from kernel `k`, by the inverse CDF of its truncated normal
    /// at `u` in [0, 1).
    fn draw(&self, k: usize, u: f64) -> f64 {
        let (low_cdf, mass) = self.truncation[k];
        let p = low_cdf + u * mass;
        (self.mu[k] + self.sigma[k] * norm_ppf(p)).clamp(0.0, 1.0)
    }

    /// `scale`, the truncation terms and the normalisers, from `mu` and
    /// `sigma`.
    fn fit_truncation(&mut self, multivariate: bool, log_weights: &[f64]) {
        self.scale.clear();
        self.scale.extend(
            self.sigma
                .iter()
                .map(|s| std::f64::consts::FRAC_1_SQRT_2 / s),
        );
        self.truncation.clear();
        self.truncation.extend(
            self.mu
                .iter()
                .zip(&self.sigma)
                .map(|(&m, &s)| truncation(m, s)),
        );
        self.norm.clear();
        self.norm.extend(
            self.sigma
                .iter()
                .zip(&self.truncation)
                .map(|(s, (_, z))| s * z),
        );
        self.log_coef.clear();
        self.log_norm.clear();
        if !multivariate {
            let half_log_2pi = 0.5 * (2.0 * PI).ln();
            // Most kernels of a long history share their normaliser (the
            // narrowest width allowed, far from the ends): its logarithm is
            // taken once per run of equal ones.
            let mut last = (f64::NAN, 0.0);
            self.log_norm.extend(self.norm.iter().map(|&z| {
                if z != last.0 {
                    last = (z, z.ln() + half_log_2pi);
                }
                last.1
            }));
            self.log_coef.extend(
                log_weights
                    .iter()
                    .zip(&self.log_norm)
                    .map(|(lw, ln)| lw - ln),
            );
        }
    }
}

/// `(Φ(-m / s), Z)` for a kernel centred at `m` of width `s`: the normal
/// CDF at the lower end and the mass inside `[0, 1]`. The centre lies
/// inside, so the kernel keeps at least half its mass there: no
/// cancellation in the difference. Far inside an end, the mass beyond it is
/// below 1e-17: its `erfc` call is skipped, the bulk of building a wide
/// history's model.
fn truncation(m: f64, s: f64) -> (f64, f64) {
    let far_low = m > FAR_INSIDE * s;
    let far_high = 1.0 - m > FAR_INSIDE * s;
    match (far_low, far_high) {
        (true, true) => (0.0, 1.0),
        (true, false) => (0.0, norm_cdf((1.0 - m) / s)),
        (false, true) => {
            let lo = norm_cdf(-m / s);
            (lo, 1.0 - lo)
        }
        (false, false) => {
            let lo = norm_cdf(-m / s);
            (lo, norm_cdf((1.0 - m) / s) - lo)
        }
    }
}

impl DiscreteDim {
    /// Fills `log_p` from the kernels and edges. A bucket more than
    /// `FAR_INSIDE` widths from a kernel's centre gets no mass from it
    /// (`-inf`, against a true mass below 1e-17); a bucket that holds all of
    /// a kernel's mass within those widths gets all of it. Both spare the
    /// `erfc` calls, and at hundreds of trials most kernels are that narrow.
    ///
    /// Kernels of equal centre and width share one computation: integer
    /// data repeat values, so at a thousand trials a dimension of 21 values
    /// has a thousand kernels but a few dozen distinct ones.
    ///
    /// The same distinct kernels come back from one suggestion to the next
    /// (the data only grow), so each one's masses are kept in `cache` and
    /// computed once.
    fn fill_masses(&mut self) {
        let k = &mut self.kernels;
        let c = self.edges.len() - 1;
        let stride = c + 2;
        if self.cache.len() >= MAX_CACHED_KERNELS {
            self.cache.clear();
            self.rows.clear();
        }
        k.truncation.clear();
        self.kind.clear();
        self.distinct_rows.clear();
        self.seen.resize_with(c, Vec::new);
        for seen in &mut self.seen {
            seen.clear();
        }
        for (&m, &s) in k.mu.iter().zip(&k.sigma) {
            let home = bucket(&self.edges, self.uniform, m);
            let key = (m.to_bits(), s.to_bits());
            let u = match self.seen[home].iter().find(|(kk, _)| *kk == key) {
                Some(&(_, u)) => u,
                None => {
                    let u = self.distinct_rows.len() as u32;
                    self.seen[home].push((key, u));
                    let row = *self.cache.entry(key).or_insert_with(|| {
                        let row = self.rows.len() / stride;
                        kernel_masses(&self.edges, self.uniform, m, s, &mut self.rows);
                        row
                    });
                    self.distinct_rows.push(row);
                    u
                }
            };
            let row = &self.rows[self.distinct_rows[u as usize] * stride..];
            k.truncation.push((row[0], row[1]));
            self.kind.push(u);
        }
        let nd = self.distinct_rows.len();
        self.log_p.clear();
        self.log_p.resize(c * nd, 0.0);
        for (u, &row) in self.distinct_rows.iter().enumerate() {
            let masses = &self.rows[row * stride + 2..(row + 1) * stride];
            for (b, &lp) in masses.iter().enumerate() {
                self.log_p[b * nd + u] = lp;
            }
        }
    }

    /// The log masses of the distinct kernels on the bucket that holds `x`.
    fn log_masses(&self, x: f64) -> &[f64] {
        let nd = self.distinct_rows.len();
        let b = bucket(&self.edges, self.uniform, x);
        &self.log_p[b * nd..(b + 1) * nd]
    }
}

/// Appends to `out` the row of a kernel centred at `m` of width `s`:
/// `Φ(-m / s)` and its mass `Z` inside `[0, 1]` (as [`truncation`]), then
/// `log(P(bucket) / Z)` for every bucket of `edges`. A bucket more than
/// `FAR_INSIDE` widths from the centre gets `-inf` (its true mass is below
/// 1e-17); the normal's tail beyond each edge is found once, from the side
/// the edge is on, so no mass is a difference of numbers close to 1.
fn kernel_masses(edges: &[f64], uniform: bool, m: f64, s: f64, out: &mut Vec<f64>) {
    let c = edges.len() - 1;
    let (lo_cdf, z) = truncation(m, s);
    out.push(lo_cdf);
    out.push(z);
    let start = out.len();
    out.resize(start + c, f64::NEG_INFINITY);
    let reach = FAR_INSIDE * s;
    let first = bucket(edges, uniform, m - reach);
    let end = bucket(edges, uniform, m + reach) + 1;
    let log_z = z.ln();
    // The tail beyond an edge, away from the centre; 0 past the reach.
    let tail = |e: f64| {
        let t = (e - m).abs() / s;
        if t >= FAR_INSIDE { 0.0 } else { norm_cdf(-t) }
    };
    let mut tail_lo = tail(edges[first]);
    for b in first..end {
        let tail_hi = tail(edges[b + 1]);
        let mass = if edges[b] >= m {
            tail_lo - tail_hi
        } else if edges[b + 1] <= m {
            tail_hi - tail_lo
        } else {
            1.0 - tail_lo - tail_hi
        };
        out[start + b] = mass.ln() - log_z;
        tail_lo = tail_hi;
    }
}

/// The bucket of `edges` that holds `x` (the first or last for points
/// beyond); `uniform` when the edges are `b / n_buckets`.
fn bucket(edges: &[f64], uniform: bool, x: f64) -> usize {
    let c = edges.len() - 1;
    if uniform {
        bucket_index(x, c)
    } else {
        edges[1..c].partition_point(|&e| e <= x)
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

/// The neighbour rule (Optuna's): each observed kernel is as wide as the
/// larger gap to its neighbours among the observations in sorted order; the
/// range's ends count as neighbours with `consider_endpoints`, and always
/// for a lone observation. `mu` holds the observations and, last, the prior
/// centre, which takes no part; one width per observation comes back.
/// (Counting the prior centre as a neighbour, as older Optunas did, found
/// the exact best row of `fcnet-parkinsons` in 3.4% of 1000 runs instead of
/// 4.8%, and was no better elsewhere.)
fn neighbor_widths(
    mu: &[f64],
    presorted: Option<&[u32]>,
    consider_endpoints: bool,
    order: &mut Vec<(f64, usize)>,
    width: &mut Vec<f64>,
) {
    let n = mu.len() - 1;
    width.clear();
    width.resize(n, 0.0);
    let consider_endpoints = consider_endpoints || n == 1;
    match presorted {
        Some(sorted) => {
            debug_assert_eq!(sorted.len(), n);
            let sorted = sorted.iter().map(|&i| i as usize);
            widths_in_order(mu, sorted, consider_endpoints, width);
        }
        None => {
            // Sorted by value then index: a total order, so ties are broken
            // the same way every time.
            order.clear();
            order.extend(mu[..n].iter().copied().zip(0..));
            sort_by_value(order);
            widths_in_order(mu, order.iter().map(|&(_, i)| i), consider_endpoints, width);
        }
    }
}

/// The neighbour rule over the indices of `mu` in sorted order: each width
/// is the larger gap to the previous and next value (the range's ends count
/// as neighbours with `consider_endpoints`).
fn widths_in_order(
    mu: &[f64],
    mut order: impl Iterator<Item = usize>,
    consider_endpoints: bool,
    width: &mut [f64],
) {
    let Some(mut cur) = order.next() else {
        return;
    };
    let mut prev: Option<f64> = None;
    loop {
        let x = mu[cur];
        let next = order.next();
        let left = match prev {
            Some(p) => Some(x - p),
            None => consider_endpoints.then_some(x),
        };
        let right = match next {
            Some(j) => Some(mu[j] - x),
            None => consider_endpoints.then_some(1.0 - x),
        };
        width[cur] = match (left, right) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => 1.0,
        };
        let Some(j) = next else {
            break;
        };
        prev = Some(x);
        cur = j;
    }
}

impl ParzenEstimator {
    /// The indices in `now`'s order of the observations it adds to the last
    /// refit's, when it names that refit's observations (the same epoch) with
    /// at most [`MAX_ADDED`] more and none taken out; `None` otherwise, or
    /// when the last refit was not given its [`Observations`].
    pub fn added(&self, now: Observations<'_>) -> Option<Vec<usize>> {
        let last = self.last.as_ref()?;
        if last.epoch != now.epoch {
            return None;
        }
        added_indices(&last.ids, now.ids)
    }

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
        let mut kernel = self.pick_kernel(rng.random::<f64>());
        for (dim, x) in self.dims.iter().zip(out.iter_mut()) {
            if !self.multivariate {
                kernel = self.pick_kernel(rng.random::<f64>());
            }
            *x = Self::draw(dim, kernel, rng.random::<f64>());
        }
    }

    /// Draws `m` points into `out` (row-major, `m * n_dims` values): what
    /// `m` calls of [`ParzenEstimator::sample`] draw, bit for bit. The
    /// univariate form takes every uniform number first, in the order those
    /// calls would, then splits the dimensions among threads as
    /// [`ParzenEstimator::set_threads`] allows.
    pub fn sample_points(&self, rng: &mut StdRng, m: usize, out: &mut [f64]) {
        let d = self.dims.len();
        assert_eq!(out.len(), m * d);
        let threads = pool::threads_for(self.threads, d, m * d * pool::DRAW_UNITS);
        if self.multivariate || threads <= 1 || d == 0 {
            for x in out.chunks_exact_mut(d.max(1)).take(m) {
                self.sample(rng, x);
            }
            return;
        }
        // Per point: the first kernel pick (which the univariate form does
        // not use), then a kernel pick and a draw per dimension.
        let per_point = 1 + 2 * d;
        let uniforms: Vec<f64> = (0..m * per_point).map(|_| rng.random::<f64>()).collect();
        let mut columns = vec![0.0; m * d];
        let mut parts: Vec<&mut [f64]> = columns.chunks_exact_mut(m).collect();
        pool::for_each_mut(&mut parts, threads - 1, &|j, column| {
            for (c, x) in column.iter_mut().enumerate() {
                let u = &uniforms[c * per_point + 1 + 2 * j..];
                *x = Self::draw(&self.dims[j], self.pick_kernel(u[0]), u[1]);
            }
        });
        for (c, x) in out.chunks_exact_mut(d).enumerate() {
            for (j, xj) in x.iter_mut().enumerate() {
                *xj = columns[j * m + c];
            }
        }
    }

    /// A draw from kernel `kernel` of `dim` at the uniform number `u`.
    fn draw(dim: &Dim, kernel: usize, u: f64) -> f64 {
        match dim {
            Dim::Numerical(dim) => dim.draw(kernel, u),
            Dim::Discrete(dim) => dim.kernels.draw(kernel, u),
            Dim::Categorical(dim) => dim.draw(kernel, u) as f64,
        }
    }

    /// The kernel at `u` in [0, 1) of the weights' cumulative sums.
    fn pick_kernel(&self, u: f64) -> usize {
        let u = u * self.cum_weights[self.n_kernels - 1];
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
                    Dim::Numerical(NumericalDim { mu, scale, .. }) => {
                        subtract_squares(scratch, mu, scale, xj);
                    }
                    Dim::Discrete(dim) => {
                        let row = dim.log_masses(xj);
                        for (a, &u) in scratch.iter_mut().zip(&dim.kind) {
                            *a += row[u as usize];
                        }
                    }
                    Dim::Categorical(dim) => {
                        dim.add_log_p(choice_index(xj, dim.n_choices()), scratch);
                    }
                }
            }
            log_sum_exp(scratch)
        } else {
            sum_of_logs(
                self.dims
                    .iter()
                    .zip(x)
                    .map(|(dim, &xj)| self.dim_log_pdf(dim, xj, scratch)),
            )
        }
    }

    /// Univariate form only: the density of each dimension at each of the
    /// `m` points of `points` (row-major, `m * n_dims` values), into
    /// `out[j * m + c]` for dimension `j` and point `c`, as a [`LogSum`].
    /// Combined by [`sum_of_logs`] over `j` in order from 0, a point's
    /// values give [`ParzenEstimator::log_pdf`]'s result bit for bit.
    ///
    /// Points in the same bucket of a discrete dimension, or with the same
    /// choice of a categorical one, share one evaluation (the same bits).
    /// The dimensions are split among threads as
    /// [`ParzenEstimator::set_threads`] allows when the work is large enough
    /// to pay for them; each value is computed the same way whichever thread
    /// computes it.
    pub fn log_pdf_dims(&self, points: &[f64], m: usize, out: &mut [LogSum]) {
        log_pdf_dims_of(&[self], points, m, &mut [out]);
    }

    /// Lets [`ParzenEstimator::refit`] and
    /// [`ParzenEstimator::log_pdf_dims`] of the univariate form split their
    /// dimensions among up to `threads` scoped threads (1, the default,
    /// runs everything on the caller's). The results are the same, bit for
    /// bit, whatever the number.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }
    /// [`ParzenEstimator::log_pdf_dims`] for dimension `j` at the points
    /// `run` (row indices of `points`).
    fn dim_log_pdf_points(
        &self,
        j: usize,
        points: &[f64],
        run: std::ops::Range<usize>,
        out: &mut [LogSum],
        scratch: &mut Vec<f64>,
    ) {
        let d = self.dims.len();
        let dim = &self.dims[j];
        debug_assert_eq!(out.len(), run.len());
        let xs = run.map(|c| points[c * d + j]);
        // Discrete and categorical values repeat: the key of an evaluation
        // (bucket or choice) and its result, for the points seen so far.
        let mut seen: Vec<(usize, LogSum)> = Vec::new();
        for (o, x) in out.iter_mut().zip(xs) {
            let key = match dim {
                Dim::Numerical(_) => None,
                Dim::Discrete(dim) => Some(bucket(&dim.edges, dim.uniform, x)),
                Dim::Categorical(dim) => Some(choice_index(x, dim.n_choices())),
            };
            *o = match key.and_then(|k| seen.iter().find(|(kk, _)| *kk == k)) {
                Some(&(_, v)) => v,
                None => {
                    let v = self.dim_log_pdf(dim, x, scratch);
                    if let Some(k) = key {
                        seen.push((k, v));
                    }
                    v
                }
            };
        }
    }

    /// The univariate density of one dimension at `x`.
    fn dim_log_pdf(&self, dim: &Dim, x: f64, scratch: &mut Vec<f64>) -> LogSum {
        match dim {
            Dim::Numerical(NumericalDim {
                mu,
                scale,
                log_coef,
                ..
            }) => return kernel_sum(log_coef, mu, scale, x, scratch),
            Dim::Discrete(dim) => {
                let row = dim.log_masses(x);
                scratch.clear();
                scratch.extend(
                    self.log_weights
                        .iter()
                        .zip(&dim.kind)
                        .map(|(lw, &u)| lw + row[u as usize]),
                );
            }
            Dim::Categorical(dim) => {
                scratch.clear();
                scratch.extend_from_slice(&self.log_weights);
                dim.add_log_p(choice_index(x, dim.n_choices()), scratch);
            }
        }
        max_and_sum(scratch)
    }
}

/// Kernel terms in one piece of work of [`log_pdf_dims_of`]: a few
/// microseconds, so that threads sharing a job finish close together.
const ITEM_TERMS: usize = 1 << 15;

/// [`ParzenEstimator::log_pdf_dims`] of several univariate estimators over
/// the same dimensions, at the same `m` points, as one job: `outs[e]` gets
/// estimator `e`'s values. The work is split among threads as the first
/// estimator's [`ParzenEstimator::set_threads`] allows, by dimension and
/// run of points (each about [`ITEM_TERMS`] kernel terms), so that a small
/// density and a large one share one hand-over to the helper threads and
/// the threads finish together. Each value is computed the same way
/// whichever thread computes it.
pub fn log_pdf_dims_of(
    estimators: &[&ParzenEstimator],
    points: &[f64],
    m: usize,
    outs: &mut [&mut [LogSum]],
) {
    assert_eq!(estimators.len(), outs.len());
    let Some(first) = estimators.first() else {
        return;
    };
    let d = first.dims.len();
    assert_eq!(points.len(), m * d);
    for (pe, out) in estimators.iter().zip(outs.iter()) {
        assert!(
            !pe.multivariate,
            "log_pdf_dims is for univariate estimators"
        );
        assert_eq!(pe.dims.len(), d);
        assert_eq!(out.len(), m * d);
    }
    if m == 0 || d == 0 {
        return;
    }
    let terms: usize = estimators.iter().map(|pe| pe.n_kernels * m * d).sum();
    let threads = pool::threads_for(first.threads, estimators.len() * d * m, terms);
    if threads <= 1 {
        let mut scratch = Vec::new();
        for (pe, out) in estimators.iter().zip(outs.iter_mut()) {
            for (j, out) in out.chunks_exact_mut(m).enumerate() {
                pe.dim_log_pdf_points(j, points, 0..m, out, &mut scratch);
            }
        }
        return;
    }
    /// One piece of the work: a run of points of one dimension of one
    /// estimator, and where its values go.
    struct Item<'a> {
        estimator: &'a ParzenEstimator,
        dim: usize,
        start: usize,
        out: &'a mut [LogSum],
    }
    let mut items: Vec<Item> = Vec::new();
    for (pe, out) in estimators.iter().zip(outs.iter_mut()) {
        let run = (ITEM_TERMS / pe.n_kernels.max(1)).clamp(1, m);
        for (dim, out) in out.chunks_exact_mut(m).enumerate() {
            for (r, out) in out.chunks_mut(run).enumerate() {
                items.push(Item {
                    estimator: pe,
                    dim,
                    start: r * run,
                    out,
                });
            }
        }
    }
    pool::for_each_mut(&mut items, threads - 1, &|_, item| {
        let points_run = item.start..item.start + item.out.len();
        SCRATCH.with_borrow_mut(|scratch| {
            let (estimator, dim) = (item.estimator, item.dim);
            estimator.dim_log_pdf_points(dim, points, points_run, item.out, scratch);
        });
    });
}

/// `max + log(sum)`, a log-sum-exp kept in its two parts: the largest term
/// and the sum of `exp(term - max)` (at least 1 when `max` is finite), so
/// that a product of many densities takes one logarithm
/// ([`sum_of_logs`]) instead of one per factor.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LogSum {
    /// The largest term (`-inf` for none).
    pub max: f64,
    /// `Σ exp(term - max)` over the terms within range.
    pub sum: f64,
}

/// `Σ_i (max_i + log sum_i)` of `parts`, as `Σ max_i + log Π sum_i`: one
/// logarithm for all (the product's binary exponent is taken out whenever it
/// grows past 2^600, so any number of parts is safe). It differs from the
/// sum of the parts' logarithms in the last bits only.
pub fn sum_of_logs(parts: impl Iterator<Item = LogSum>) -> f64 {
    const BIG: f64 = 4.149_515_568_880_993e180; // 2^600
    let mut maxes = 0.0;
    let mut product = 1.0f64;
    let mut exponent = 0i64;
    for LogSum { max, sum } in parts {
        maxes += max;
        product *= sum;
        if product > BIG && product.is_finite() {
            // Take the binary exponent out: product = m 2^e, m in [1, 2).
            let bits = product.to_bits();
            let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
            product = f64::from_bits((bits & !(0x7ff << 52)) | (1023 << 52));
            exponent += e;
        }
    }
    maxes + (product.ln() + exponent as f64 * std::f64::consts::LN_2)
}

thread_local! {
    /// Each thread's buffer of kernel terms for
    /// [`ParzenEstimator::log_pdf_dims`].
    static SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `log Σ_k exp(coef[k] - ((x - mu[k]) * scale[k])^2)` in its two parts, as
/// [`max_and_sum`] of those terms (the same bits), with the largest found as
/// the terms are written to `scratch`.
fn kernel_sum(coef: &[f64], mu: &[f64], scale: &[f64], x: f64, scratch: &mut Vec<f64>) -> LogSum {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            let max = unsafe { kernel_terms_avx2(coef, mu, scale, x, scratch) };
            return with_sum(max, scratch, sum_exp_near);
        }
    }
    let max = kernel_terms_portable(coef, mu, scale, x, scratch);
    with_sum(max, scratch, sum_exp_near_portable)
}

/// `max` with `sum(terms, max)`, or with 1 when `max` is not finite (no
/// term, or an infinite one: the parts then add up to what one logarithm
/// per part would).
#[inline(always)]
fn with_sum(max: f64, terms: &mut [f64], sum: impl FnOnce(&mut [f64], f64) -> f64) -> LogSum {
    if !max.is_finite() {
        return LogSum { max, sum: 1.0 };
    }
    LogSum {
        max,
        sum: sum(terms, max),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn kernel_terms_avx2(coef: &[f64], mu: &[f64], scale: &[f64], x: f64, out: &mut Vec<f64>) -> f64 {
    kernel_terms_portable(coef, mu, scale, x, out)
}

/// Writes the terms of [`log_sum_exp_kernels`] to `out` and returns the
/// largest (`-inf` for none). Four running maxima, one per lane: the
/// maximum of a set is exact, so the order does not matter.
#[inline(always)]
fn kernel_terms_portable(
    coef: &[f64],
    mu: &[f64],
    scale: &[f64],
    x: f64,
    out: &mut Vec<f64>,
) -> f64 {
    // Every element is written below: no need to clear it first.
    out.resize(coef.len(), 0.0);
    let mut max = [f64::NEG_INFINITY; 4];
    let term = |c: f64, m: f64, sc: f64| {
        let z = (x - m) * sc;
        c - z * z
    };
    let mut o4 = out.chunks_exact_mut(4);
    let mut c4 = coef.chunks_exact(4);
    let mut m4 = mu.chunks_exact(4);
    let mut s4 = scale.chunks_exact(4);
    for (((o, c), m), sc) in (&mut o4).zip(&mut c4).zip(&mut m4).zip(&mut s4) {
        for l in 0..4 {
            let t = term(c[l], m[l], sc[l]);
            o[l] = t;
            max[l] = if t > max[l] { t } else { max[l] };
        }
    }
    let rest = o4.into_remainder().iter_mut().zip(c4.remainder());
    for ((o, &c), (&m, &sc)) in rest.zip(m4.remainder().iter().zip(s4.remainder())) {
        let t = term(c, m, sc);
        *o = t;
        max[0] = if t > max[0] { t } else { max[0] };
    }
    max.into_iter().fold(f64::NEG_INFINITY, f64::max)
}

/// `acc[k] -= ((x - mu[k]) * scale[k])^2` for every kernel `k`: the inner
/// loop of scoring a candidate, over thousands of kernels per dimension.
/// Where the CPU has AVX it runs in 256-bit registers (the same operations
/// in the same order, so the same bits as without: no fused multiply-add).
fn subtract_squares(acc: &mut [f64], mu: &[f64], scale: &[f64], x: f64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX, checked just above.
            unsafe { subtract_squares_avx(acc, mu, scale, x) };
            return;
        }
    }
    subtract_squares_portable(acc, mu, scale, x);
}

#[inline(always)]
fn subtract_squares_portable(acc: &mut [f64], mu: &[f64], scale: &[f64], x: f64) {
    for ((a, &m), &sc) in acc.iter_mut().zip(mu).zip(scale) {
        let z = (x - m) * sc;
        *a -= z * z;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn subtract_squares_avx(acc: &mut [f64], mu: &[f64], scale: &[f64], x: f64) {
    subtract_squares_portable(acc, mu, scale, x);
}

/// `log Σ exp(v)`, stable for large magnitudes; `-inf` for an empty slice.
/// Terms more than 40 below the largest (less than 1e-17 of it) are left
/// out; the others, gathered in blocks, go through [`exp_near`], which the
/// compiler vectorises: glibc's `exp`, one call per term, was 44 % of a
/// suggestion with univariate kernels at 1,000 trials x 40 params, where
/// half of all terms are within range. The gathering is done in place: `v`
/// is left holding scratch.
pub fn log_sum_exp(v: &mut [f64]) -> f64 {
    // A non-finite largest term comes with a sum of 1: `max + 0`.
    let LogSum { max, sum } = max_and_sum(v);
    max + sum.ln()
}

/// [`log_sum_exp`] of `v` in its two parts.
pub fn max_and_sum(v: &mut [f64]) -> LogSum {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    with_sum(max, v, sum_exp_near)
}

/// `Σ exp(x - max)` over the `x` of `v` within 40 of `max`.
fn sum_exp_near(v: &mut [f64], max: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { sum_exp_near_avx512(v, max) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { sum_exp_near_avx2(v, max) };
        }
    }
    sum_exp_near_portable(v, max)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_exp_near_avx2(v: &mut [f64], max: f64) -> f64 {
    sum_exp_near_portable(v, max)
}

/// [`sum_exp_near_portable`] with the gathering done eight terms at a time
/// by AVX-512's compress: the same terms in the same order, so the same
/// bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sum_exp_near_avx512(v: &mut [f64], max: f64) -> f64 {
    use std::arch::x86_64::{
        _CMP_GT_OQ, _mm512_cmp_pd_mask, _mm512_loadu_pd, _mm512_maskz_compress_pd, _mm512_set1_pd,
        _mm512_storeu_pd, _mm512_sub_pd,
    };
    let vmax = _mm512_set1_pd(max);
    let floor = _mm512_set1_pd(-40.0);
    sum_gathered(v, |block| {
        let mut m = 0;
        let mut i = 0;
        while i + 8 <= block.len() {
            // SAFETY: `i + 8 <= len` for the load; the store covers
            // `m..m + 8` with `m <= i`, inside the block, and only terms
            // already loaded (at `i` or before) or gathered are overwritten.
            unsafe {
                let d = _mm512_sub_pd(_mm512_loadu_pd(block.as_ptr().add(i)), vmax);
                let keep = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(d, floor);
                let packed = _mm512_maskz_compress_pd(keep, d);
                _mm512_storeu_pd(block.as_mut_ptr().add(m), packed);
                m += keep.count_ones() as usize;
            }
            i += 8;
        }
        gather_near(block, max, i, m)
    })
}

#[inline(always)]
fn sum_exp_near_portable(v: &mut [f64], max: f64) -> f64 {
    sum_gathered(v, |block| gather_near(block, max, 0, 0))
}

/// Gathers `x - max` for the `x` of `block[start..]` within 40 of `max`
/// after the `m` already at its front, in order, and returns how many are
/// there now. Without a branch: every term is written (at or before its own
/// place, `m <= start`), the count moves on only for those in range.
#[inline(always)]
fn gather_near(block: &mut [f64], max: f64, start: usize, mut m: usize) -> usize {
    for i in start..block.len() {
        let d = block[i] - max;
        block[m] = d;
        m += usize::from(d > -40.0);
    }
    m
}

/// `Σ exp(d)` over the terms `gather` moves to the front of each block of
/// `v` (returning their count), in eight partial sums (two 256-bit registers
/// or one 512-bit one) added in a fixed order: the same bits on every
/// machine.
#[inline(always)]
fn sum_gathered(v: &mut [f64], mut gather: impl FnMut(&mut [f64]) -> usize) -> f64 {
    const BLOCK: usize = 256;
    let mut acc = [0.0f64; 8];
    for block in v.chunks_mut(BLOCK) {
        let m = gather(block);
        let mut lanes = block[..m].chunks_exact(8);
        for c in &mut lanes {
            for (a, &d) in acc.iter_mut().zip(c) {
                *a += exp_near(d);
            }
        }
        for (a, &d) in acc.iter_mut().zip(lanes.remainder()) {
            *a += exp_near(d);
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// `exp(d)` for `d` in [-40, 0], within 1e-15 relative: with `k` the
/// integer nearest `64 d / ln 2`, `d = (k / 64) ln 2 + r` and `|r| <= ln 2 /
/// 128`; `exp(r)` by its Taylor series to degree 5 (remainder below 4e-17),
/// times `2^(k / 64)` from [`EXP2_SIXTY_FOURTHS`] with the whole powers of
/// two added to its exponent. Plain multiplications and additions (no fused
/// ones) and integer operations on the bits: every machine gives the same
/// bits, and the compiler vectorises it, table lookups included.
#[inline(always)]
fn exp_near(d: f64) -> f64 {
    const SIXTY_FOUR_LOG2_E: f64 = 92.332_482_616_893_66;
    // ln 2 / 64 in two parts; the first has 40 significant bits, so its
    // product with any k in [-4096, 0] is exact.
    const STEP_HI: f64 = 0.010_830_424_696_237_628;
    const STEP_LO: f64 = 1.151_719_150_807_468_6e-14;
    // Adding 1.5 * 2^52 rounds to an integer, held in the low mantissa bits.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let t = d * SIXTY_FOUR_LOG2_E + ROUND;
    let kf = t - ROUND;
    let r = (d - kf * STEP_HI) - kf * STEP_LO;
    let p = ((((r * (1.0 / 120.0) + 1.0 / 24.0) * r + 1.0 / 6.0) * r + 0.5) * r + 1.0) * r + 1.0;
    // k in [-3694, 0], so u = k + 4096 in [402, 4096]: its low six bits
    // pick the table's entry and the rest, shifted into the exponent field,
    // multiply it by 2^(u / 64), which with the table's 2^-64 is 2^(k / 64).
    let u = t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(4096);
    let entry = EXP2_SIXTY_FOURTHS[(u & 63) as usize];
    let scale = f64::from_bits(entry.wrapping_add((u >> 6) << 52));
    p * scale
}

/// The bits of `2^(j / 64 - 64)` for `j` in `0..64`, each the double nearest
/// the exact value (computed to 60 digits).
static EXP2_SIXTY_FOURTHS: [u64; 64] = [
    0x3bf0000000000000,
    0x3bf02c9a3e778061,
    0x3bf059b0d3158574,
    0x3bf0874518759bc8,
    0x3bf0b5586cf9890f,
    0x3bf0e3ec32d3d1a2,
    0x3bf11301d0125b51,
    0x3bf1429aaea92de0,
    0x3bf172b83c7d517b,
    0x3bf1a35beb6fcb75,
    0x3bf1d4873168b9aa,
    0x3bf2063b88628cd6,
    0x3bf2387a6e756238,
    0x3bf26b4565e27cdd,
    0x3bf29e9df51fdee1,
    0x3bf2d285a6e4030b,
    0x3bf306fe0a31b715,
    0x3bf33c08b26416ff,
    0x3bf371a7373aa9cb,
    0x3bf3a7db34e59ff7,
    0x3bf3dea64c123422,
    0x3bf4160a21f72e2a,
    0x3bf44e086061892d,
    0x3bf486a2b5c13cd0,
    0x3bf4bfdad5362a27,
    0x3bf4f9b2769d2ca7,
    0x3bf5342b569d4f82,
    0x3bf56f4736b527da,
    0x3bf5ab07dd485429,
    0x3bf5e76f15ad2148,
    0x3bf6247eb03a5585,
    0x3bf6623882552225,
    0x3bf6a09e667f3bcd,
    0x3bf6dfb23c651a2f,
    0x3bf71f75e8ec5f74,
    0x3bf75feb564267c9,
    0x3bf7a11473eb0187,
    0x3bf7e2f336cf4e62,
    0x3bf82589994cce13,
    0x3bf868d99b4492ed,
    0x3bf8ace5422aa0db,
    0x3bf8f1ae99157736,
    0x3bf93737b0cdc5e5,
    0x3bf97d829fde4e50,
    0x3bf9c49182a3f090,
    0x3bfa0c667b5de565,
    0x3bfa5503b23e255d,
    0x3bfa9e6b5579fdbf,
    0x3bfae89f995ad3ad,
    0x3bfb33a2b84f15fb,
    0x3bfb7f76f2fb5e47,
    0x3bfbcc1e904bc1d2,
    0x3bfc199bdd85529c,
    0x3bfc67f12e57d14b,
    0x3bfcb720dcef9069,
    0x3bfd072d4a07897c,
    0x3bfd5818dcfba487,
    0x3bfda9e603db3285,
    0x3bfdfc97337b9b5f,
    0x3bfe502ee78b3ff6,
    0x3bfea4afa2a490da,
    0x3bfefa1bee615a27,
    0x3bff50765b6e4540,
    0x3bffa7c1819e90d8,
];

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
        // Observations 0.1, 0.9, 0.2 and the prior centre 0.5 (last), which
        // is not a neighbour.
        let widths = |mu: &[f64], consider_endpoints, presorted: Option<&[u32]>| {
            let mut w = Vec::new();
            neighbor_widths(mu, presorted, consider_endpoints, &mut Vec::new(), &mut w);
            w
        };
        let mu = [0.1, 0.9, 0.2, 0.5];
        let w = widths(&mu, false, None);
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(close(&w, &[0.1, 0.7, 0.7]), "{w:?}");
        // The same from the observations' sorted order (0.1, 0.2, 0.9).
        assert_eq!(widths(&mu, false, Some(&[0, 2, 1])), w);
        // The ends as neighbours: 0.1 is 0.1 from 0, 0.9 is 0.1 from 1.
        assert!(close(&widths(&mu, true, None), &[0.1, 0.7, 0.7]));
        let mu = [0.05, 0.5, 0.95, 0.5];
        assert!(close(&widths(&mu, true, None), &[0.45, 0.45, 0.45]));
        assert!(close(&widths(&mu, false, None), &[0.45, 0.45, 0.45]));
        // A lone observation: its distance to the farther end.
        assert!(close(&widths(&[0.3, 0.5], false, None), &[0.7]));
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
            None,
        );
        let mut scratch = Vec::new();
        for x in [0.0, 0.1, 0.5, 0.93, 1.0] {
            let direct = truncated_normal_pdf(x, 0.5, PRIOR_SIGMA).ln();
            assert!((pe.log_pdf(&[x], &mut scratch) - direct).abs() < 1e-12);
        }
        // One observation at 0.3 with the neighbour rule: a lone observation
        // is as wide as its distance to the farther end, 0.7 (above the clip
        // of 1 / (1 + 1)); two kernels of equal weight.
        let cfg = EstimatorConfig {
            bandwidth: Bandwidth::Neighbor,
            ..config(false)
        };
        let pe = parzen_estimator(
            &[0.3],
            &[1.0],
            &[DimSpec::Numerical { min_sigma: 0.0 }],
            &cfg,
            None,
        );
        for x in [0.0, 0.3, 0.77, 1.0] {
            let direct = 0.5 * truncated_normal_pdf(x, 0.3, 0.7)
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
                let pe = parzen_estimator(&obs, &[0.5, 1.0, 1.0, 1.0], &specs, &cfg, None);
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

    /// Bucket edges of six equal buckets, and of six log-spaced ones.
    fn discrete_specs() -> [Vec<f64>; 2] {
        let uniform = (0..=6).map(|b| b as f64 / 6.0).collect();
        let log = (0..=6)
            .map(|b| (0.5 + b as f64).ln() - 0.5f64.ln())
            .map(|x| x / (6.5f64.ln() - 0.5f64.ln()))
            .collect();
        [uniform, log]
    }

    #[test]
    fn discrete_masses_sum_to_one_and_match_the_gaussian_mass() {
        for edges in discrete_specs() {
            let centre = |b: usize| 0.5 * (edges[b] + edges[b + 1]);
            let specs = [
                DimSpec::Discrete {
                    min_sigma: 1.0 / 6.0,
                    edges: edges.clone(),
                },
                DimSpec::Categorical {
                    prior: vec![0.5, 0.5],
                },
            ];
            // Repeated values, as integer data have: kernels share tables.
            let obs = [
                centre(0),
                0.0,
                centre(0),
                0.0,
                centre(5),
                1.0,
                centre(2),
                1.0,
                centre(0),
                1.0,
            ];
            for multivariate in [true, false] {
                let cfg = EstimatorConfig {
                    bandwidth: Bandwidth::Neighbor,
                    ..config(multivariate)
                };
                let pe = parzen_estimator(&obs, &[1.0; 5], &specs, &cfg, None);
                let mut scratch = Vec::new();
                let total: f64 = (0..6)
                    .flat_map(|b| [0.0, 1.0].map(|c| [centre(b), c]))
                    .map(|x| pe.log_pdf(&x, &mut scratch).exp())
                    .sum();
                assert!((total - 1.0).abs() < 1e-12, "{multivariate}: {total}");
                // Every point of a bucket scores the same.
                let a = pe.log_pdf(&[edges[3] + 1e-9, 1.0], &mut scratch);
                let b = pe.log_pdf(&[edges[4] - 1e-9, 1.0], &mut scratch);
                assert_eq!(a, b);
            }
            // The prior alone: its mass on each bucket, computed directly.
            let pe = parzen_estimator(&[], &[], &specs[..1], &config(true), None);
            let z = norm_cdf(0.5 / PRIOR_SIGMA) - norm_cdf(-0.5 / PRIOR_SIGMA);
            for b in 0..6 {
                let direct = (norm_cdf((edges[b + 1] - 0.5) / PRIOR_SIGMA)
                    - norm_cdf((edges[b] - 0.5) / PRIOR_SIGMA))
                    / z;
                let got = pe.log_pdf(&[centre(b)], &mut Vec::new()).exp();
                assert!(
                    (got - direct).abs() < 1e-12,
                    "bucket {b}: {got} vs {direct}"
                );
            }
        }
    }

    #[test]
    fn discrete_draws_follow_the_bucket_masses() {
        for edges in discrete_specs() {
            let centre = |b: usize| 0.5 * (edges[b] + edges[b + 1]);
            let specs = [DimSpec::Discrete {
                min_sigma: 1.0 / 6.0,
                edges: edges.clone(),
            }];
            let obs = [centre(1), centre(1), centre(4)];
            let cfg = EstimatorConfig {
                bandwidth: Bandwidth::Neighbor,
                ..config(true)
            };
            let pe = parzen_estimator(&obs, &[1.0; 3], &specs, &cfg, None);
            let mut rng = StdRng::seed_from_u64(5);
            let draws = 40_000;
            let mut counts = [0usize; 6];
            let mut x = [0.0];
            for _ in 0..draws {
                pe.sample(&mut rng, &mut x);
                counts[bucket(&edges, false, x[0])] += 1;
            }
            for (b, &n) in counts.iter().enumerate() {
                let p = pe.log_pdf(&[centre(b)], &mut Vec::new()).exp();
                let freq = n as f64 / draws as f64;
                // Four standard errors of a frequency near 0.25.
                assert!(
                    (freq - p).abs() < 0.01,
                    "bucket {b}: drawn {freq}, mass {p}"
                );
            }
        }
    }

    #[test]
    fn a_bucket_tried_often_is_not_overrated_by_its_narrow_kernels() {
        // 99 trials of bucket 2 and one of bucket 3: the neighbour rule makes
        // the repeated kernels as narrow as the clip allows (0.01, a
        // sixteenth of a bucket). Their density at bucket 2 would be 40, six
        // times what a bucket's width can hold; their mass there is 1.
        let edges: Vec<f64> = (0..=6).map(|b| b as f64 / 6.0).collect();
        let centre = |b: usize| (b as f64 + 0.5) / 6.0;
        let mut obs = vec![centre(2); 99];
        obs.push(centre(3));
        let cfg = EstimatorConfig {
            bandwidth: Bandwidth::Neighbor,
            ..config(true)
        };
        let pe = parzen_estimator(
            &obs,
            &[1.0; 100],
            &[DimSpec::Discrete {
                min_sigma: 0.0,
                edges,
            }],
            &cfg,
            None,
        );
        let p2 = pe.log_pdf(&[centre(2)], &mut Vec::new()).exp();
        assert!(p2 > 0.95 && p2 < 1.0, "{p2}");
    }

    #[test]
    fn exp_near_matches_exp() {
        let mut worst = 0.0f64;
        let mut check = |d: f64| {
            let (fast, exact) = (exp_near(d), d.exp());
            worst = worst.max(((fast - exact) / exact).abs());
        };
        for i in 0..=400_000 {
            check(-40.0 * f64::from(i) / 400_000.0);
        }
        for d in [
            0.0,
            -0.0,
            -1e-300,
            -f64::EPSILON,
            -std::f64::consts::LN_2 / 2.0,
            -39.999_999,
        ] {
            check(d);
        }
        assert!(worst < 1e-15, "largest relative error {worst:e}");
        // Blocks, the cut-off and the remainder lanes: against the plain sum.
        let v: Vec<f64> = (0..1000)
            .map(|i| -0.05 * f64::from(i % 977) + 3.0)
            .collect();
        let exact: f64 = v
            .iter()
            .map(|x| x - 3.0)
            .filter(|&d| d > -40.0)
            .map(f64::exp)
            .sum();
        assert!((sum_exp_near(&mut v.clone(), 3.0) - exact).abs() < 1e-13 * exact);
        assert!((log_sum_exp(&mut v.clone()) - (3.0 + exact.ln())).abs() < 1e-13);
    }

    /// Whatever the CPU's vector units, the gathered sum has the portable
    /// code's bits: the same terms, in the same order, in the same lanes.
    #[test]
    fn vector_paths_give_the_portable_bits() {
        let mut rng = StdRng::seed_from_u64(5);
        for n in [0, 1, 7, 8, 9, 255, 256, 257, 1000, 3001] {
            let v: Vec<f64> = (0..n).map(|_| -60.0 * rng.random::<f64>()).collect();
            let max = v.iter().copied().fold(0.0, f64::max);
            let fast = sum_exp_near(&mut v.clone(), max);
            let portable = sum_exp_near_portable(&mut v.clone(), max);
            assert_eq!(fast.to_bits(), portable.to_bits(), "n = {n}");
        }
    }

    /// One logarithm for many parts agrees with one per part to rounding,
    /// also when the product leaves the range of a double.
    #[test]
    fn sum_of_logs_matches_the_sum_of_logarithms() {
        let mut rng = StdRng::seed_from_u64(9);
        for n in [0, 1, 40, 300] {
            let parts: Vec<LogSum> = (0..n)
                .map(|_| LogSum {
                    max: -50.0 * rng.random::<f64>(),
                    sum: 1.0 + 1000.0 * rng.random::<f64>(),
                })
                .collect();
            let plain: f64 = parts.iter().map(|p| p.max + p.sum.ln()).sum();
            let one = sum_of_logs(parts.iter().copied());
            assert!(
                (one - plain).abs() <= 1e-12 * plain.abs().max(1.0),
                "{n}: {one} vs {plain}"
            );
        }
        let none = LogSum {
            max: f64::NEG_INFINITY,
            sum: 1.0,
        };
        let some = LogSum {
            max: -1.0,
            sum: 2.0,
        };
        assert_eq!(sum_of_logs([some, none].into_iter()), f64::NEG_INFINITY);
    }

    #[test]
    fn log_sum_exp_is_stable() {
        assert!((log_sum_exp(&mut [1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-9);
        assert_eq!(log_sum_exp(&mut []), f64::NEG_INFINITY);
    }

    /// The batch scorer of the univariate form gives `log_pdf`'s sums bit
    /// for bit, with numerical, discrete and categorical dimensions, at any
    /// number of threads, and so does a refit split among threads.
    #[test]
    fn dimension_scores_sum_to_log_pdf_at_any_thread_count() {
        let [edges, _] = discrete_specs();
        let specs = [
            DimSpec::Numerical { min_sigma: 0.0 },
            DimSpec::Discrete {
                min_sigma: 0.0,
                edges,
            },
            DimSpec::Categorical {
                prior: vec![0.25; 4],
            },
            DimSpec::Numerical { min_sigma: 0.01 },
        ];
        let d = specs.len();
        let n = 3000;
        let mut rng = StdRng::seed_from_u64(11);
        let mut obs = Vec::with_capacity(n * d);
        for _ in 0..n {
            obs.push(rng.random::<f64>().powi(3));
            obs.push(rng.random::<f64>());
            obs.push(f64::from(rng.random_range(0..4u8)));
            obs.push(0.5 + 0.1 * (rng.random::<f64>() - 0.5));
        }
        let weights: Vec<f64> = (0..n).map(|i| 0.5 + i as f64 / n as f64).collect();
        let columns: Vec<f64> = (0..d)
            .flat_map(|j| (0..n).map(move |i| (i, j)))
            .map(|(i, j)| obs[i * d + j])
            .collect();
        let config = EstimatorConfig {
            bandwidth: Bandwidth::Neighbor,
            ..config(false)
        };
        let single = parzen_estimator(&obs, &weights, &specs, &config, None);
        let m = 24;
        let mut points = vec![0.0; m * d];
        for x in points.chunks_exact_mut(d) {
            single.sample(&mut rng, x);
        }
        let mut scratch = Vec::new();
        let expected: Vec<f64> = points
            .chunks_exact(d)
            .map(|x| single.log_pdf(x, &mut scratch))
            .collect();
        for threads in [1, 2, 3, 8] {
            let mut pe = ParzenEstimator::default();
            pe.set_threads(threads);
            let columns: Vec<&[f64]> = columns.chunks_exact(n).collect();
            pe.refit(&columns, &weights, &specs, &config, None, None);
            let mut out = vec![LogSum::default(); m * d];
            pe.log_pdf_dims(&points, m, &mut out);
            for (c, want) in expected.iter().enumerate() {
                let got = sum_of_logs((0..d).map(|j| out[j * m + c]));
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "threads {threads}, point {c}"
                );
            }
            // Scored together with a small density in one job (the large
            // one's points cut into runs): the same values for both.
            let small = parzen_estimator(&obs[..5 * d], &weights[..5], &specs, &config, None);
            let mut alone = vec![LogSum::default(); m * d];
            small.log_pdf_dims(&points, m, &mut alone);
            let (mut both_large, mut both_small) = (
                vec![LogSum::default(); m * d],
                vec![LogSum::default(); m * d],
            );
            log_pdf_dims_of(
                &[&pe, &small],
                &points,
                m,
                &mut [&mut both_large, &mut both_small],
            );
            assert!(
                ITEM_TERMS / n < m,
                "the large density's points come in runs"
            );
            assert_eq!(both_large, out, "threads {threads}");
            assert_eq!(both_small, alone, "threads {threads}");
        }
    }

    /// A univariate estimator refitted with observations added after the
    /// last refit's (a few at a time, or too many, or after one was taken
    /// out) scores and samples exactly as one fitted from scratch.
    #[test]
    fn adding_observations_gives_the_fresh_fit_bit_for_bit() {
        let [uniform, _] = discrete_specs();
        let specs = vec![
            DimSpec::Numerical { min_sigma: 0.0 },
            DimSpec::Numerical { min_sigma: 0.02 },
            DimSpec::Discrete {
                min_sigma: 1.0 / 12.0,
                edges: uniform,
            },
            DimSpec::Categorical {
                prior: vec![0.25; 4],
            },
            DimSpec::Numerical { min_sigma: 0.0 },
        ];
        let d = specs.len();
        let mut rng = StdRng::seed_from_u64(5);
        let rows: Vec<[f64; 5]> = (0..181)
            .map(|i| {
                [
                    // Clustered, with repeats and the range's ends.
                    match i % 17 {
                        0 => 0.0,
                        1 => 1.0,
                        2 => 0.5,
                        _ => 0.4 + 0.2 * rng.random::<f64>().powi(2),
                    },
                    rng.random::<f64>(),
                    (rng.random_range(0..6u8) as f64 + 0.5) / 6.0,
                    f64::from(rng.random_range(0..4u8)),
                    0.02 * rng.random::<f64>(),
                ]
            })
            .collect();
        // Observation ids (row numbers) of each refit, in order: one more,
        // a few more, none more, too many more, one taken out, and more
        // after that.
        let mut steps: Vec<Vec<u32>> = Vec::new();
        for n in [100, 101, 104, 104, 112, 140, 141] {
            steps.push((0..n).collect());
        }
        steps.push((0..141).filter(|&i| i != 70).collect());
        steps.push((0..141).filter(|&i| i != 70).chain(141..144).collect());
        steps.push((0..141).filter(|&i| i != 70).chain(141..180).collect());
        // One back in the middle; three taken out; two back in the middle
        // and one more at the end; the last one back.
        steps.push((0..180).collect());
        steps.push((0..180).filter(|i| ![30, 90, 150].contains(i)).collect());
        steps.push((0..181).filter(|&i| i != 90).collect());
        steps.push((0..181).collect());
        for consider_endpoints in [false, true] {
            let config = EstimatorConfig {
                bandwidth: Bandwidth::Neighbor,
                consider_endpoints,
                ..config(false)
            };
            let mut grown = ParzenEstimator::default();
            for ids in &steps {
                let n = ids.len();
                let columns: Vec<Vec<f64>> = (0..d)
                    .map(|j| ids.iter().map(|&i| rows[i as usize][j]).collect())
                    .collect();
                let orders: Vec<Vec<u32>> = columns
                    .iter()
                    .map(|c| {
                        let mut o: Vec<u32> = (0..n as u32).collect();
                        o.sort_by(|&a, &b| c[a as usize].total_cmp(&c[b as usize]).then(a.cmp(&b)));
                        o
                    })
                    .collect();
                let weights: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
                let columns: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
                let observations = Observations { epoch: 0, ids };
                grown.refit(
                    &columns,
                    &weights,
                    &specs,
                    &config,
                    Some(&orders),
                    Some(observations),
                );
                let mut fresh = ParzenEstimator::default();
                fresh.refit(&columns, &weights, &specs, &config, Some(&orders), None);
                let m = 40;
                let mut points = vec![0.0; m * d];
                let mut draws = (
                    StdRng::seed_from_u64(n as u64),
                    StdRng::seed_from_u64(n as u64),
                );
                for (c, x) in points.chunks_exact_mut(d).enumerate() {
                    let mut y = vec![0.0; d];
                    fresh.sample(&mut draws.0, x);
                    grown.sample(&mut draws.1, &mut y);
                    assert_eq!(x, &y[..], "draw {c} of {n} observations");
                    if c < 5 {
                        // Kernel centres and the range's ends too.
                        x[0] = [0.0, 1.0, 0.5, rows[c][0], rows[n - 1][0]][c];
                    }
                }
                let mut want = vec![LogSum::default(); m * d];
                let mut got = vec![LogSum::default(); m * d];
                fresh.log_pdf_dims(&points, m, &mut want);
                grown.log_pdf_dims(&points, m, &mut got);
                for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                    assert_eq!(
                        (w.max.to_bits(), w.sum.to_bits()),
                        (g.max.to_bits(), g.sum.to_bits()),
                        "{n} observations, dimension {}, point {}",
                        i / m,
                        i % m
                    );
                }
            }
            // The numerical dimensions of the refits with one to eight
            // more observations and none taken out (8 of them) took the
            // shorter path.
            assert_eq!(
                grown.extended,
                3 * 8,
                "consider_endpoints {consider_endpoints}"
            );
        }
    }

    /// Drawing many points at once, split among threads or not, draws what
    /// one `sample` call after another does.
    #[test]
    fn points_drawn_together_are_the_points_drawn_one_by_one() {
        let [uniform, _] = discrete_specs();
        let specs = vec![
            DimSpec::Numerical { min_sigma: 0.0 },
            DimSpec::Discrete {
                min_sigma: 1.0 / 12.0,
                edges: uniform,
            },
            DimSpec::Categorical {
                prior: vec![0.25; 4],
            },
        ];
        let d = specs.len();
        let mut rng = StdRng::seed_from_u64(9);
        let n = 300;
        let mut obs = Vec::with_capacity(n * d);
        for _ in 0..n {
            obs.push(rng.random::<f64>());
            obs.push((rng.random_range(0..6u8) as f64 + 0.5) / 6.0);
            obs.push(f64::from(rng.random_range(0..4u8)));
        }
        let weights: Vec<f64> = (0..n).map(|i| 1.0 + (i % 5) as f64).collect();
        for multivariate in [false, true] {
            let config = EstimatorConfig {
                bandwidth: Bandwidth::Neighbor,
                ..config(multivariate)
            };
            let mut pe = parzen_estimator(&obs, &weights, &specs, &config, None);
            // Enough draws for three threads.
            let m = 256;
            let mut want = vec![0.0; m * d];
            let mut one_by_one = StdRng::seed_from_u64(4);
            for x in want.chunks_exact_mut(d) {
                pe.sample(&mut one_by_one, x);
            }
            let next = one_by_one.random::<u64>();
            for threads in [1, 2, 5] {
                pe.set_threads(threads);
                let mut together = StdRng::seed_from_u64(4);
                let mut got = vec![0.0; m * d];
                pe.sample_points(&mut together, m, &mut got);
                assert_eq!(got, want, "multivariate {multivariate}, threads {threads}");
                // The generator is left where the single draws leave it.
                assert_eq!(together.random::<u64>(), next);
            }
        }
    }

    #[test]
    fn added_ids_are_found_where_they_were_inserted() {
        assert_eq!(
            added_indices(&[1, 2, 3], &[1, 2, 3, 4, 5]),
            Some(vec![3, 4])
        );
        assert_eq!(
            added_indices(&[1, 3, 5], &[0, 1, 2, 3, 5, 6]),
            Some(vec![0, 2, 5])
        );
        // Nothing added, one taken out, another order, too many added.
        assert_eq!(added_indices(&[1, 2, 3], &[1, 2, 3]), None);
        assert_eq!(added_indices(&[1, 2, 3], &[1, 3, 4, 5]), None);
        assert_eq!(added_indices(&[1, 2, 3], &[2, 1, 3, 4]), None);
        let nine_more: Vec<u32> = (0..11).collect();
        assert_eq!(added_indices(&[0, 1], &nine_more), None);
        let eight_more: Vec<u32> = (0..10).collect();
        assert_eq!(added_indices(&[0, 1], &eight_more), Some((2..10).collect()));
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
            None,
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
