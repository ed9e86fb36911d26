//! Hyperband as ASHA brackets (Li et al., "Hyperband", JMLR 2018; the
//! asynchronous form of Li et al., MLSys 2020, as Optuna's
//! `HyperbandPruner` runs it).
//!
//! Bracket `b` (0 ..= s_max, with s_max = floor(log_eta(max/min))) is ASHA
//! with its first rung at `min_resource · eta^b`: bracket 0 prunes most
//! aggressively, the last runs every trial to `max_resource`. A trial's
//! bracket is a hash of the study's name and the trial's number, drawn with
//! the paper's weights (bracket `b`, the paper's `s = s_max - b`, gets
//! `ceil((s_max + 1) / (s + 1) · eta^s)` shares), so every process of a study
//! puts a trial in the same bracket without asking anyone. A trial competes
//! at its rungs only with trials of its bracket.
//!
//! Unlike Optuna's, the searcher is not split per bracket: it learns from
//! every trial of every bracket, so no bracket pays a random startup of its
//! own.

use hypersweep_search::{History, Observation};

use super::asha::{asha_prunes, rung_steps};
use super::{Pruner, diverged_at, is_protected, list_steps};

/// Hyperband: several ASHA brackets.
#[derive(Debug, Clone)]
pub struct HyperbandPruner {
    /// Keys the bracket assignment (a hash of the study's name).
    study_key: u64,
    /// The first rung of the most aggressive bracket.
    min_resource: u64,
    /// The step a trial completes at.
    max_resource: u64,
    /// The reduction factor.
    eta: f64,
    /// No pruning before this step.
    warmup_steps: u64,
    /// Shares of each bracket, bracket 0 first.
    weights: Vec<u64>,
}

impl HyperbandPruner {
    /// Hyperband for study `study` from `min_resource` to `max_resource`.
    pub fn new(
        study: &str,
        min_resource: u64,
        max_resource: u64,
        eta: f64,
        warmup_steps: u64,
    ) -> Self {
        let min_resource = min_resource.max(1);
        let max_resource = max_resource.max(min_resource);
        HyperbandPruner {
            study_key: fnv1a(study.as_bytes()),
            min_resource,
            max_resource,
            eta,
            warmup_steps,
            weights: bracket_weights(min_resource, max_resource, eta),
        }
    }

    /// How many brackets there are.
    pub fn n_brackets(&self) -> usize {
        self.weights.len()
    }

    /// The bracket of trial `number`: the same in every process.
    pub fn bracket_of(&self, number: u64) -> usize {
        let total: u64 = self.weights.iter().sum();
        let mut draw =
            splitmix64(self.study_key ^ number.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % total.max(1);
        for (b, &w) in self.weights.iter().enumerate() {
            if draw < w {
                return b;
            }
            draw -= w;
        }
        self.weights.len().saturating_sub(1)
    }

    /// The first rung of bracket `b`.
    fn bracket_min(&self, b: usize) -> u64 {
        let exact = self.min_resource as f64 * self.eta.powi(b as i32);
        ((exact * (1.0 + 1e-12)).floor() as u64).min(self.max_resource)
    }
}

/// The paper's number of configurations per bracket, as shares.
fn bracket_weights(min: u64, max: u64, eta: f64) -> Vec<u64> {
    let ratio = max as f64 / min as f64;
    // floor(log_eta(ratio)), nudged so that 27/1 at eta 3 gives 3, not 2.
    let s_max = ((ratio.ln() / eta.ln()) + 1e-9).floor().max(0.0) as i32;
    (0..=s_max)
        .map(|b| {
            let s = s_max - b;
            ((s_max + 1) as f64 / (s + 1) as f64 * eta.powi(s)).ceil() as u64
        })
        .collect()
}

/// FNV-1a: a stable hash of the study's name (std's hasher is seeded per
/// process, which is exactly what must not happen here).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64's finaliser: spreads consecutive numbers over the range.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Pruner for HyperbandPruner {
    fn name(&self) -> &str {
        "hyperband"
    }

    fn should_prune(&self, trial: &Observation, step: u64, history: &History) -> bool {
        if diverged_at(trial, step) {
            return true;
        }
        if is_protected(trial, step, history, self.warmup_steps) {
            return false;
        }
        let bracket = self.bracket_of(trial.number);
        asha_prunes(
            trial,
            step,
            history,
            self.bracket_min(bracket),
            self.eta,
            Some(self.max_resource),
            |t| self.bracket_of(t.number) == bracket,
        )
    }

    fn describe(&self) -> String {
        let brackets: Vec<String> = (0..self.n_brackets())
            .map(|b| {
                let rungs = rung_steps(
                    self.bracket_min(b),
                    self.eta,
                    Some(self.max_resource),
                    u64::MAX,
                );
                let rungs = if rungs.is_empty() {
                    "no rungs".to_owned()
                } else {
                    format!("rungs {}", list_steps(&rungs))
                };
                format!("[{rungs}; weight {}]", self.weights[b])
            })
            .collect();
        format!(
            "hyperband (eta {}, complete at {}, warm-up {} steps; brackets {})",
            self.eta,
            self.max_resource,
            self.warmup_steps,
            brackets.join(" ")
        )
    }
}
