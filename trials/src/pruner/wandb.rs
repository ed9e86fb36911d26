//! W&B's hyperband early termination, as W&B's sweep controller runs it
//! (`wandb/sweeps`, `hyperband_stopping.py`), for sweep files written for
//! W&B.
//!
//! Bands: with `min_iter`, `min_iter · eta^k` (k = 0, 1, ...); with
//! `max_iter` and `s`, `max_iter / eta^i` for i = 1..=s while at least 1,
//! each truncated to an integer, ascending. An iteration is the count of
//! finite values of the metric a trial has logged (not its step numbers).
//! At band `b`, the threshold is W&B's: the values every trial (any state,
//! itself included) logged as its `b`-th value, sorted as losses, taken at
//! index `floor(n / eta)`. A trial at band `b` stops when its best value so
//! far is worse than the threshold, or with `strict`, its `b`-th value.
//!
//! One difference in timing, not in rule: W&B's controller re-judges running
//! trials on every poll, so when a decision is made depends on the poll. We
//! judge a trial once per band, at the report that reaches it, so the same
//! history gives the same decision in every process and on every resume.

use hypersweep_search::sweep::EarlyTerminate;
use hypersweep_search::{History, Observation};

use super::{Pruner, list_steps};

/// Bands W&B computes from `min_iter` (it lists 100; we stop where an
/// iteration count can no longer be reached).
const MAX_BAND: f64 = 9.0e15;

/// W&B's hyperband.
#[derive(Debug, Clone)]
pub struct WandbHyperbandPruner {
    bands: Vec<u64>,
    eta: f64,
    strict: bool,
}

impl WandbHyperbandPruner {
    /// From a W&B `early_terminate` block (`min_iter`, or `max_iter` + `s`).
    pub fn new(e: &EarlyTerminate) -> Self {
        WandbHyperbandPruner {
            bands: wandb_bands(e.min_iter, e.max_iter, e.s, e.eta),
            eta: e.eta,
            strict: e.strict,
        }
    }

    /// The band iterations, ascending.
    pub fn bands(&self) -> &[u64] {
        &self.bands
    }
}

/// W&B's bands; `max_iter` wins over `min_iter` when both are given, as in
/// W&B.
pub fn wandb_bands(
    min_iter: Option<u64>,
    max_iter: Option<u64>,
    s: Option<u64>,
    eta: f64,
) -> Vec<u64> {
    let mut bands = Vec::new();
    if let Some(max_iter) = max_iter {
        let mut band = max_iter as f64;
        for _ in 0..s.unwrap_or(0) {
            band /= eta;
            if band < 1.0 {
                break;
            }
            bands.push(band as u64);
        }
        bands.sort_unstable();
    } else if let Some(min_iter) = min_iter {
        let mut band = min_iter as f64;
        for _ in 0..100 {
            if band > MAX_BAND {
                break;
            }
            bands.push(band as u64);
            band *= eta;
        }
    }
    bands
}

/// A trial's finite logged values, as losses, in the order logged.
fn metric_history(t: &Observation, history: &History) -> Vec<f64> {
    t.intermediate
        .iter()
        .map(|&(_, v)| v)
        .filter(|v| v.is_finite())
        .map(|v| history.direction.loss(v))
        .collect()
}

impl Pruner for WandbHyperbandPruner {
    fn name(&self) -> &str {
        "hyperband"
    }

    fn should_prune(&self, trial: &Observation, step: u64, history: &History) -> bool {
        // W&B drops invalid values: a non-finite report is not an iteration.
        if !trial
            .intermediate
            .iter()
            .any(|&(s, v)| s == step && v.is_finite())
        {
            return false;
        }
        let mine = metric_history(trial, history);
        let iterations = mine.len() as u64;
        let Some(&band) = self.bands.iter().find(|&&b| b == iterations) else {
            return false;
        };
        let index = (band - 1) as usize;
        let mut at_band: Vec<f64> = history
            .trials
            .iter()
            .filter(|t| t.number != trial.number)
            .map(|t| metric_history(t, history))
            .filter_map(|h| h.get(index).copied())
            .collect();
        at_band.push(mine[index]);
        at_band.sort_by(f64::total_cmp);
        let r = 1.0 / self.eta;
        let at = ((r * at_band.len() as f64) as usize).min(at_band.len() - 1);
        let threshold = at_band[at];
        let judged = if self.strict {
            mine[index]
        } else {
            mine.iter().copied().fold(f64::INFINITY, f64::min)
        };
        judged > threshold
    }

    fn describe(&self) -> String {
        const SHOWN: usize = 6;
        let shown = &self.bands[..self.bands.len().min(SHOWN)];
        let more = if self.bands.len() > SHOWN {
            ", ..."
        } else {
            ""
        };
        format!(
            "hyperband, W&B's bands (eta {}, {}; judged at iterations {}{more})",
            self.eta,
            if self.strict {
                "strict: the value at the band"
            } else {
                "the best value so far"
            },
            list_steps(shown)
        )
    }
}
