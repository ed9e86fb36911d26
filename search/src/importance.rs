//! Parameter importance by PED-ANOVA (Watanabe, Bansal and Hutter, "PED-ANOVA:
//! Efficiently Quantifying Hyperparameter Importance in Arbitrary Subspaces",
//! IJCAI 2023), the method behind Optuna's `PedAnovaImportanceEvaluator`.
//!
//! Why PED-ANOVA and not fANOVA: fANOVA fits a random forest and integrates
//! it over every subset of params (Optuna's needs about 90 s on 10,000 trials
//! of 10 params); PED-ANOVA has a closed form made of one-dimensional
//! densities, so it costs O(n + bins²) per param, needs no model, no RNG and
//! no extra dependency, and gives the same answer on every machine (a report
//! is a pure function of the trials). It also asks the question a researcher
//! asks after a sweep: which params decide whether a trial lands among the
//! good ones.
//!
//! The estimate: take the completed trials with a finite value, and their
//! top [`TOP_QUANTILE`] by loss. For each param, build a Parzen estimate of
//! its distribution among the top trials (`p_top`) and among all of them
//! (`p_all`), both on the same discrete grid; the param's importance is the
//! Pearson divergence `Σ p_all (p_top / p_all − 1)²`. A param whose good
//! values look like all its values scores 0; one that the top trials
//! concentrate on scores high. Scores are also given as shares of their sum,
//! as Optuna normalises them.
//!
//! The grid: a categorical param has one cell per choice; an ordered param
//! (float, int, normal) has [`GRID_CELLS`] equal cells of its unit-cube
//! coordinate ([`Domain::encode`], so log scales are binned in log space),
//! or one per value when it has fewer. Ordered params are smoothed with a
//! Gaussian kernel in cell units with Scott's bandwidth (at least
//! [`MIN_BANDWIDTH`] cells, Optuna's floor), categorical ones are not; both
//! get a prior of weight [`PRIOR_WEIGHT`] spread uniformly over the grid
//! (Optuna's prior is a wide Gaussian; uniform is nearly the same and exact
//! to state). A param counts only in the trials where it is active, so
//! conditional params are judged within their branch; one that is active in
//! no top trial scores 0. Constant params are left out.

use thiserror::Error;

use crate::domain::Domain;
use crate::history::{Direction, Observation};
use crate::space::SearchSpace;

/// Share of the completed trials, best first, that count as "top".
pub const TOP_QUANTILE: f64 = 0.1;

/// The fewest top trials used, whatever the quantile gives.
pub const MIN_TOP_TRIALS: usize = 2;

/// The fewest completed trials with a finite value needed for an estimate.
pub const MIN_TRIALS: usize = 4;

/// Cells of the grid of an ordered param with more distinct values.
pub const GRID_CELLS: usize = 50;

/// Smallest kernel bandwidth, in cells: 0.5 / 1.64 puts 90% of a kernel's
/// mass within its own cell (Optuna's `sigma_min`).
pub const MIN_BANDWIDTH: f64 = 0.5 / 1.64;

/// Weight, in trials, of the uniform prior added to every density.
pub const PRIOR_WEIGHT: f64 = 1.0;

/// Why no importance could be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ImportanceError {
    /// Fewer than [`MIN_TRIALS`] completed trials with a finite value.
    #[error(
        "parameter importance needs at least {need} completed trials with a value, the study has {have}"
    )]
    TooFewTrials {
        /// Completed trials with a finite value.
        have: usize,
        /// [`MIN_TRIALS`].
        need: usize,
    },
}

/// The importance of one param.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParamImportance {
    /// Param name.
    pub param: String,
    /// Pearson divergence between its top and overall densities (>= 0).
    pub divergence: f64,
    /// `divergence` as a share of the sum over params (0 when all are 0).
    pub share: f64,
}

/// PED-ANOVA importance of every non-constant param of `space` over the
/// completed trials of `observations`, most important first (ties in the
/// space's order).
pub fn ped_anova(
    space: &SearchSpace,
    observations: &[Observation],
    direction: Direction,
) -> Result<Vec<ParamImportance>, ImportanceError> {
    let mut scored: Vec<(&Observation, f64)> = observations
        .iter()
        .filter_map(|o| o.loss(direction).map(|loss| (o, loss)))
        .collect();
    if scored.len() < MIN_TRIALS {
        return Err(ImportanceError::TooFewTrials {
            have: scored.len(),
            need: MIN_TRIALS,
        });
    }
    // Stable sort by loss, ties by trial number, so the top set is a
    // function of the trials alone.
    scored.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.number.cmp(&b.0.number)));
    let n_top = ((scored.len() as f64 * TOP_QUANTILE).ceil() as usize)
        .max(MIN_TOP_TRIALS)
        .min(scored.len());
    let mut out: Vec<ParamImportance> = space
        .params()
        .iter()
        .filter(|p| !matches!(p.domain, Domain::Const { .. }))
        .map(|p| {
            let grid = Grid::of(&p.domain);
            let cells = |trials: &[(&Observation, f64)]| -> Vec<usize> {
                trials
                    .iter()
                    .filter_map(|(o, _)| o.params.get(&p.name))
                    .filter_map(|v| grid.cell(&p.domain, v))
                    .collect()
            };
            let top = cells(&scored[..n_top]);
            let all = cells(&scored[..]);
            let divergence = if top.is_empty() {
                0.0
            } else {
                pearson_divergence(&grid.density(&top), &grid.density(&all))
            };
            ParamImportance {
                param: p.name.clone(),
                divergence,
                share: 0.0,
            }
        })
        .collect();
    let total: f64 = out.iter().map(|i| i.divergence).sum();
    if total > 0.0 {
        for i in &mut out {
            i.share = i.divergence / total;
        }
    }
    out.sort_by(|a, b| b.divergence.total_cmp(&a.divergence));
    Ok(out)
}

/// `Σ q (p / q − 1)²` over cells where `q > 0` (the prior keeps every cell
/// positive).
pub fn pearson_divergence(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .filter(|(_, q)| **q > 0.0)
        .map(|(p, q)| q * (p / q - 1.0).powi(2))
        .sum()
}

/// The discrete grid a param's density lives on.
struct Grid {
    cells: usize,
    /// Ordered values are smoothed between neighbouring cells.
    ordered: bool,
}

impl Grid {
    fn of(domain: &Domain) -> Grid {
        match domain {
            Domain::Categorical { choices, .. } => Grid {
                cells: choices.len().max(1),
                ordered: false,
            },
            other => Grid {
                cells: other
                    .cardinality()
                    .map_or(GRID_CELLS, |c| c.clamp(1, GRID_CELLS)),
                ordered: true,
            },
        }
    }

    /// The cell of `value`, `None` when it is not of the domain's type.
    fn cell(&self, domain: &Domain, value: &serde_json::Value) -> Option<usize> {
        let u = domain.encode(value)?;
        Some(((u * self.cells as f64).floor() as usize).min(self.cells - 1))
    }

    /// The normalised Parzen density over the grid of values in `cells`.
    fn density(&self, cells: &[usize]) -> Vec<f64> {
        let mut counts = vec![0.0; self.cells];
        for &c in cells {
            counts[c] += 1.0;
        }
        let mut density = if self.ordered {
            smooth(&counts, scott_bandwidth(&counts))
        } else {
            counts
        };
        let prior = PRIOR_WEIGHT / self.cells as f64;
        for d in &mut density {
            *d += prior;
        }
        let total: f64 = density.iter().sum();
        density.iter().map(|d| d / total).collect()
    }
}

/// Scott's rule on cell indices weighted by `counts`:
/// `1.059 · min(σ, IQR / 1.34) · n^(−1/5)`, at least [`MIN_BANDWIDTH`].
fn scott_bandwidth(counts: &[f64]) -> f64 {
    let n: f64 = counts.iter().sum();
    if n < 2.0 {
        return MIN_BANDWIDTH;
    }
    let mean = counts
        .iter()
        .enumerate()
        .map(|(i, c)| i as f64 * c)
        .sum::<f64>()
        / n;
    let var = counts
        .iter()
        .enumerate()
        .map(|(i, c)| c * (i as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    let iqr = weighted_quantile(counts, 0.75) - weighted_quantile(counts, 0.25);
    let spread = var.sqrt().min(iqr / 1.34);
    (1.059 * spread * n.powf(-0.2)).max(MIN_BANDWIDTH)
}

/// The first cell index at which the cumulative count reaches `q · n`.
fn weighted_quantile(counts: &[f64], q: f64) -> f64 {
    let target = q * counts.iter().sum::<f64>();
    let mut cumulative = 0.0;
    for (i, c) in counts.iter().enumerate() {
        cumulative += c;
        if cumulative >= target && *c > 0.0 {
            return i as f64;
        }
    }
    counts.len().saturating_sub(1) as f64
}

/// Each cell's count spread by a Gaussian of `bandwidth` cells, truncated
/// to the grid and renormalised there, so every count keeps its mass.
fn smooth(counts: &[f64], bandwidth: f64) -> Vec<f64> {
    let n = counts.len();
    let mut out = vec![0.0; n];
    let mut kernel = vec![0.0; n];
    for (centre, &count) in counts.iter().enumerate() {
        if count == 0.0 {
            continue;
        }
        for (j, k) in kernel.iter_mut().enumerate() {
            let z = (j as f64 - centre as f64) / bandwidth;
            *k = (-0.5 * z * z).exp();
        }
        let mass: f64 = kernel.iter().sum();
        for (o, k) in out.iter_mut().zip(&kernel) {
            *o += count * k / mass;
        }
    }
    out
}

#[cfg(test)]
mod tests;
