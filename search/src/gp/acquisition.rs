//! Log expected improvement and its maximisation over the search space.
//!
//! For minimisation with incumbent `f*`, `EI(x) = σ h(z)` with
//! `z = (f* - μ)/σ` and `h(z) = φ(z) + zΦ(z)`. Far from the incumbent `h`
//! underflows and its direct formula cancels catastrophically, which leaves
//! EI flat (zero) over most of the space and gives local search nothing to
//! climb. LogEI (Ament et al. 2023, "Unexpected improvements to expected
//! improvement for Bayesian optimization", NeurIPS) computes `ln h` stably:
//! directly for `z > -1`, as `ln φ(z) + ln(1 - |z| M(|z|))` with the Mills
//! ratio `M(t) = √(π/2) erfcx(t/√2)` in the middle range, and by the
//! asymptotic series of `1 - t M(t)` for `t > 37`.
//!
//! Maximisation: score `n_candidates` random points plus perturbations of
//! the best trials with one batched posterior, then refine the best few by
//! projected gradient ascent on the continuous dimensions (inside the unit
//! box) alternated with single discrete moves (one integer step, or another
//! categorical choice).

use std::f64::consts::PI;

use rand::RngExt;
use rand_distr::{Distribution, Normal};

use crate::StdRng;
use crate::special::{erfc, log_norm_cdf, norm_cdf, norm_pdf};

use super::encoding::Encoding;
use super::model::Gp;

/// Below `z = -1`, `ln h` goes through the Mills ratio.
const DIRECT_LIMIT: f64 = -1.0;
/// Beyond `|z| = 37`, `exp(z²/2)` would overflow in erfcx; the asymptotic
/// series (6 terms) is accurate to ~1e-12 relative there.
const ASYMPTOTIC_LIMIT: f64 = 37.0;
/// Iterations of projected gradient ascent per local search.
const GRADIENT_STEPS: usize = 25;
/// Rounds of (gradient ascent, discrete moves) per local search.
const LOCAL_ROUNDS: usize = 2;
/// Largest first move of a gradient step, in unit-cube coordinates.
const MAX_STEP: f64 = 0.2;
/// Armijo sufficient-increase constant.
const ARMIJO: f64 = 1e-4;
/// Share of candidates drawn around the best trials instead of uniformly.
const LOCAL_CANDIDATE_SHARE: f64 = 0.25;
/// Best trials whose neighbourhoods are sampled.
const N_ELITE: usize = 5;
/// Standard deviation of a continuous perturbation around an elite trial.
const PERTURBATION_SD: f64 = 0.05;

/// `ln h(z)` with `h(z) = φ(z) + zΦ(z)`, finite for every finite `z`.
pub fn log_h(z: f64) -> f64 {
    if z > DIRECT_LIMIT {
        return (norm_pdf(z) + z * norm_cdf(z)).ln();
    }
    let t = -z;
    let log_pdf = -0.5 * t * t - 0.5 * (2.0 * PI).ln();
    log_pdf + one_minus_t_mills(t).ln()
}

/// `1 - t M(t)` for `t >= 1`, where `M(t) = Φ(-t)/φ(t)`; equals `h(-t)/φ(t)`.
fn one_minus_t_mills(t: f64) -> f64 {
    if t < ASYMPTOTIC_LIMIT {
        let x = t / std::f64::consts::SQRT_2;
        let erfcx = (x * x).exp() * erfc(x);
        1.0 - t * (PI / 2.0).sqrt() * erfcx
    } else {
        // 1 - tM(t) = Σ_k (-1)^(k+1) (2k-1)!! / t^(2k).
        let s = 1.0 / (t * t);
        s * (1.0 - s * (3.0 - s * (15.0 - s * (105.0 - s * (945.0 - s * 10395.0)))))
    }
}

/// `d ln h / dz = Φ(z) / h(z)`, computed in logs.
fn log_h_slope(z: f64) -> f64 {
    (log_norm_cdf(z) - log_h(z)).exp()
}

/// Log expected improvement below `best` of a normal posterior with `mean`
/// and standard deviation `sigma` (minimisation).
pub fn log_expected_improvement(mean: f64, sigma: f64, best: f64) -> f64 {
    sigma.ln() + log_h((best - mean) / sigma)
}

/// Log EI and its derivatives with respect to the posterior mean and
/// variance.
fn log_ei_with_partials(mean: f64, variance: f64, best: f64) -> (f64, f64, f64) {
    let sigma = variance.sqrt();
    let z = (best - mean) / sigma;
    let slope = log_h_slope(z);
    let value = sigma.ln() + log_h(z);
    let d_mean = -slope / sigma;
    let d_variance = 0.5 / variance - slope * z / (2.0 * variance);
    (value, d_mean, d_variance)
}

/// Settings of one acquisition maximisation.
pub(crate) struct Maximiser<'a> {
    /// The fitted GP (with pending points fantasised in).
    pub gp: &'a Gp,
    /// The space's encoding.
    pub encoding: &'a Encoding,
    /// Incumbent: best standardised observation.
    pub best: f64,
    /// Coordinates of the best trials, best first.
    pub elites: Vec<Vec<f64>>,
    /// Random candidates to score.
    pub n_candidates: usize,
    /// Candidates refined locally.
    pub n_local_searches: usize,
}

impl Maximiser<'_> {
    /// Log EI at each point (coordinates).
    fn score(&self, points: &[Vec<f64>]) -> Vec<f64> {
        let features: Vec<Vec<f64>> = points.iter().map(|p| self.encoding.features(p)).collect();
        self.gp
            .predict_batch(&features)
            .into_iter()
            .map(|(m, v)| {
                let value = log_expected_improvement(m, v.sqrt(), self.best);
                if value.is_nan() {
                    f64::NEG_INFINITY
                } else {
                    value
                }
            })
            .collect()
    }

    /// The coordinates maximising log EI, and its value there.
    pub fn run(&self, rng: &mut StdRng) -> (Vec<f64>, f64) {
        let n_local = if self.elites.is_empty() {
            0
        } else {
            (self.n_candidates as f64 * LOCAL_CANDIDATE_SHARE) as usize
        };
        let mut candidates: Vec<Vec<f64>> = (0..self.n_candidates.max(1)
            - n_local.min(self.n_candidates.saturating_sub(1)))
            .map(|_| self.encoding.random(rng))
            .collect();
        let elites = &self.elites[..self.elites.len().min(N_ELITE)];
        for k in 0..n_local {
            candidates.push(self.perturb(&elites[k % elites.len()], rng));
        }
        let scores = self.score(&candidates);
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        order.dedup_by(|a, b| candidates[*a] == candidates[*b]);

        let mut best = (candidates[order[0]].clone(), scores[order[0]]);
        for &i in order.iter().take(self.n_local_searches) {
            let (point, value) = self.local_search(candidates[i].clone(), scores[i]);
            if value > best.1 {
                best = (point, value);
            }
        }
        best
    }

    /// A copy of `elite` nudged: continuous coordinates by a small Gaussian,
    /// each discrete one re-drawn with probability 1/dims.
    fn perturb(&self, elite: &[f64], rng: &mut StdRng) -> Vec<f64> {
        let n = elite.len().max(1) as f64;
        let normal = Normal::new(0.0, PERTURBATION_SD).ok();
        let mut p = elite.to_vec();
        for (i, u) in p.iter_mut().enumerate() {
            if self.encoding.is_discrete(i) {
                if rng.random::<f64>() < 1.0 / n {
                    *u = rng.random::<f64>();
                }
            } else if let Some(normal) = &normal {
                *u += normal.sample(rng);
            }
        }
        self.encoding.snap(&mut p);
        p
    }

    /// Alternates projected gradient ascent with discrete moves until neither
    /// improves.
    fn local_search(&self, mut point: Vec<f64>, mut value: f64) -> (Vec<f64>, f64) {
        for _ in 0..LOCAL_ROUNDS {
            let before = value;
            (point, value) = self.gradient_ascent(point, value);
            let neighbours = self.encoding.discrete_neighbours(&point);
            if !neighbours.is_empty() {
                let scores = self.score(&neighbours);
                if let Some((i, &s)) = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))
                    && s > value
                {
                    point = neighbours[i].clone();
                    value = s;
                }
            }
            if value <= before {
                break;
            }
        }
        (point, value)
    }

    /// Log EI and its gradient along the free dimensions.
    fn value_and_gradient(&self, point: &[f64], free: &[(usize, usize)]) -> (f64, Vec<f64>) {
        let features = self.encoding.features(point);
        let kernel_dims: Vec<usize> = free.iter().map(|&(k, _)| k).collect();
        let p = self.gp.predict_with_gradient(&features, &kernel_dims);
        let (value, d_mean, d_variance) = log_ei_with_partials(p.mean, p.variance, self.best);
        let grad = p
            .d_mean
            .iter()
            .zip(&p.d_variance)
            .map(|(dm, dv)| d_mean * dm + d_variance * dv)
            .collect();
        (value, grad)
    }

    /// Projected gradient ascent with Armijo backtracking inside `[0, 1]`.
    fn gradient_ascent(&self, mut point: Vec<f64>, mut value: f64) -> (Vec<f64>, f64) {
        let free = self.encoding.free_dims(&point);
        if free.is_empty() {
            return (point, value);
        }
        let mut step_scale = 1.0;
        for _ in 0..GRADIENT_STEPS {
            let (v, grad) = self.value_and_gradient(&point, &free);
            if !v.is_finite() || grad.iter().any(|g| !g.is_finite()) {
                break;
            }
            value = v;
            let largest = grad.iter().fold(0.0_f64, |m, g| m.max(g.abs()));
            if largest < 1e-12 {
                break;
            }
            let mut t = step_scale * MAX_STEP / largest;
            let mut moved = false;
            for _ in 0..12 {
                let mut trial = point.clone();
                let mut ascent = 0.0;
                for (&(_, i), g) in free.iter().zip(&grad) {
                    trial[i] = (point[i] + t * g).clamp(0.0, 1.0);
                    ascent += g * (trial[i] - point[i]);
                }
                let (tv, _) = self.value_and_gradient(&trial, &free[..0]);
                if tv.is_finite() && tv >= value + ARMIJO * ascent && ascent > 0.0 {
                    point = trial;
                    value = tv;
                    moved = true;
                    break;
                }
                t *= 0.5;
                step_scale *= 0.5;
            }
            if !moved || t * largest < 1e-9 {
                break;
            }
            step_scale = (step_scale * 2.0).min(1.0);
        }
        (point, value)
    }
}
