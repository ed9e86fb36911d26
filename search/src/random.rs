//! Random search: every active parameter is drawn independently from its
//! prior, in the space's order so that parents are decided before their
//! children and inactive conditional parameters are simply never drawn.
//!
//! The priors are those of Bergstra & Bengio, "Random Search for
//! Hyper-Parameter Optimization" (JMLR 13, 2012) and of the W&B sweep
//! distributions: uniform or log-uniform reals, uniform (or log-uniform)
//! integers, equal weight per admissible value of a stepped domain, real
//! normal draws (optionally log-normal and rounded to `q`), and categorical
//! choices weighted by their `probabilities`. The history is not looked at.
//! Cost per suggestion: O(d) for d parameters, plus O(k) per categorical
//! parameter of k choices; no allocation beyond the returned [`Params`].
//!
//! [`sample_param`] and [`sample_params`] are public so that model-based
//! searchers can draw their start-up trials and candidates from the same
//! priors.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};
use serde_json::Value;

use crate::domain::{Domain, float_value, grid_value};
use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng};

/// Independent draws from each parameter's prior.
#[derive(Debug, Default, Clone)]
pub struct RandomSearcher {}

impl RandomSearcher {
    /// A new searcher; it keeps no state.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Searcher for RandomSearcher {
    fn name(&self) -> &str {
        "random"
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        _history: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        Ok(sample_params(space, rng))
    }
}

/// Draws one configuration from the priors: active parameters only, in the
/// space's order (parents first), one or more draws from `rng` per parameter.
pub fn sample_params<R: Rng + ?Sized>(space: &SearchSpace, rng: &mut R) -> Params {
    let mut out = Params::with_capacity(space.len());
    for p in space.params() {
        if space.is_active(p, &out) {
            out.insert(p.name.clone(), sample_param(&p.domain, rng));
        }
    }
    out
}

/// Draws one value of `domain` from its prior.
///
/// Floats are uniform, or log-uniform with `log`; a stepped float gives each
/// admissible value `low + k * step` the same weight, or with `log` rounds a
/// log-uniform draw to the nearest admissible value. Integers work the same
/// way; a log integer without step is drawn log-uniformly over
/// `[low - 0.5, high + 0.5]` and rounded, which is the cell each integer owns
/// in the domain's encoding. Normals are real normal draws, `exp`'d with
/// `log` and rounded to multiples of `q`. Categoricals honour their
/// `probabilities`.
pub fn sample_param<R: Rng + ?Sized>(domain: &Domain, rng: &mut R) -> Value {
    match domain {
        Domain::Float {
            low,
            high,
            log,
            step,
        } => sample_float(*low, *high, *log, *step, rng),
        Domain::Int {
            low,
            high,
            log,
            step,
        } => Value::from(sample_int(*low, *high, *log, *step, rng)),
        Domain::Normal { mu, sigma, log, q } => {
            let z: f64 = StandardNormal.sample(rng);
            let mut x = mu + sigma * z;
            if *log {
                x = x.exp();
            }
            match q {
                Some(q) => grid_value((x / q).round() * q, *q),
                None => float_value(x),
            }
        }
        Domain::Categorical {
            choices,
            probabilities,
        } => {
            // A validated space has at least one choice; an unvalidated empty
            // domain gives null rather than a panic.
            let i = match probabilities {
                Some(p) => weighted_index(p, rng.random::<f64>()),
                None if choices.is_empty() => 0,
                None => rng.random_range(0..choices.len()),
            };
            choices.get(i).cloned().unwrap_or(Value::Null)
        }
        Domain::Const { value } => value.clone(),
        // Uniform over the architectures, one op per edge (disconnected
        // cells are skipped by `crate::cell::expand`, which searches cells
        // as categoricals before this is ever reached).
        Domain::Cell { nodes, ops, .. } => {
            let choice: Vec<usize> = crate::cell::edges(*nodes)
                .map(|_| rng.random_range(0..ops.len().max(1)))
                .collect();
            Value::String(crate::cell::arch_string(*nodes, ops, &choice))
        }
    }
}

fn sample_float<R: Rng + ?Sized>(
    low: f64,
    high: f64,
    log: bool,
    step: Option<f64>,
    rng: &mut R,
) -> Value {
    let u: f64 = rng.random();
    let x = match step {
        Some(step) => {
            // Same count as `Domain::cardinality`, so every searcher agrees on
            // the last admissible value.
            let n = ((high - low) / step + 1e-9).floor() as u64 + 1;
            let k = if log {
                let top = low + (n - 1) as f64 * step;
                let x = log_uniform(low, top, u);
                (((x - low) / step).round() as u64).min(n - 1)
            } else {
                rng.random_range(0..n)
            };
            return grid_value((low + k as f64 * step).clamp(low, high), step);
        }
        None if log => log_uniform(low, high, u),
        None => low + u * (high - low),
    };
    float_value(x.clamp(low, high))
}

fn sample_int<R: Rng + ?Sized>(
    low: i64,
    high: i64,
    log: bool,
    step: Option<i64>,
    rng: &mut R,
) -> i64 {
    let step = i128::from(step.unwrap_or(1).max(1));
    // i128: `high - low` overflows i64 for the widest ranges.
    let last = (i128::from(high) - i128::from(low)) / step;
    let k = if log && step == 1 {
        let x = log_uniform(low as f64 - 0.5, high as f64 + 0.5, rng.random());
        (x.round() as i128 - i128::from(low)).clamp(0, last)
    } else if log {
        let top = i128::from(low) + last * step;
        let x = log_uniform(low as f64, top as f64, rng.random());
        (((x - low as f64) / step as f64).round() as i128).clamp(0, last)
    } else {
        i128::from(rng.random_range(0..=last as u64))
    };
    i64::try_from(i128::from(low) + k * step).unwrap_or(high)
}

/// `exp` of a uniform draw between `ln low` and `ln high`; `low > 0`.
fn log_uniform(low: f64, high: f64, u: f64) -> f64 {
    (low.ln() + u * (high.ln() - low.ln())).exp()
}

/// The first index whose cumulative probability exceeds `u`, skipping
/// zero-probability choices so they are never drawn, even when rounding
/// leaves the total a hair below `u`.
fn weighted_index(probabilities: &[f64], u: f64) -> usize {
    let mut cumulative = 0.0;
    let mut last_possible = 0;
    for (i, &p) in probabilities.iter().enumerate() {
        if p > 0.0 {
            cumulative += p;
            last_possible = i;
            if u < cumulative {
                return i;
            }
        }
    }
    last_possible
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn weighted_index_skips_zero_weights() {
        let p = [0.0, 0.5, 0.0, 0.5, 0.0];
        assert_eq!(weighted_index(&p, 0.0), 1);
        assert_eq!(weighted_index(&p, 0.49), 1);
        assert_eq!(weighted_index(&p, 0.5), 3);
        // Past the total (rounding): the last choice that can be drawn.
        assert_eq!(weighted_index(&p, 1.0), 3);
    }

    #[test]
    fn widest_int_range_does_not_overflow() {
        let mut rng = StdRng::seed_from_u64(1);
        for log in [false, true] {
            let low = if log { 1 } else { i64::MIN };
            let d = Domain::Int {
                low,
                high: i64::MAX,
                log,
                step: None,
            };
            for _ in 0..100 {
                let v = sample_param(&d, &mut rng);
                assert!(d.contains(&v), "{v}");
            }
        }
    }

    #[test]
    fn stepped_log_int_stays_on_the_steps() {
        let d = Domain::Int {
            low: 16,
            high: 520,
            log: true,
            step: Some(16),
        };
        let mut rng = StdRng::seed_from_u64(2);
        let mut small = 0;
        for _ in 0..2000 {
            let v = sample_param(&d, &mut rng).as_i64().unwrap();
            assert!(v % 16 == 0 && (16..=512).contains(&v), "{v}");
            small += usize::from(v <= 64);
        }
        // Log-uniform over [16, 512]: P(v <= 64) is about ln(4.5)/ln(32) = 0.43,
        // where a uniform draw over the steps would give 4/32 = 0.125.
        assert!(small > 700, "{small}");
    }
}
