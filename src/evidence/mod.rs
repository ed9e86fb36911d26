//! Evidence beyond one lucky run: seed repeats, confirmation of the winners
//! and one-at-a-time ablations.
//!
//! How the pieces map onto the store, and why:
//!
//! - **Seeds.** Every trial's seeds are fixed when it is claimed: search
//!   trial `n` gets `evaluation_seed(study seed, Trial, n, r)` for each
//!   repeat `r` (a stream apart from the suggestions' RNGs), a retry keeps
//!   its trial's seeds, and a confirmation or ablation round shares one list
//!   of seeds among all its variants (streams `Confirm` and `Ablate`, keyed
//!   by the round). A trial sees its seed as `ctx.seed()`, `HYPERSWEEP_SEED`
//!   or `{seed}`.
//! - **Repeats are one trial with k evaluations**, not k trials: the claim,
//!   the budget, the searcher and every worker keep one configuration per
//!   trial, so resume and multi-process studies work as before. The trial's
//!   value is the mean (what the searcher learns from); the k values and
//!   their standard error are kept on the trial (`repeats`), recorded as
//!   each evaluation ends. The budget `run.trials` counts configurations:
//!   `trials: n, repeats: k` runs `n * k` evaluations. A crash loses only
//!   the evaluation in flight: the re-run (under `retry_failed`, as for
//!   any interrupted trial) keeps the seeds and starts with the values
//!   recorded so far.
//!   Pruning judges the first evaluation only (see the scheduler's
//!   `trial_task`).
//! - **Confirmation and ablation trials are rounds** in the same study,
//!   marked by their [`TrialRole`] (kind, round, variant). They run through
//!   the same scheduler, claims and store as a search (a plan in place of the
//!   searcher, see [`Plan`]), so a crashed round resumes where it stopped
//!   and several processes given the same command share a round (each plans
//!   when it starts: one that starts after the round finished begins the
//!   next round; `tests/cli_cluster.rs` runs three on one round). They never
//!   reach the searcher, the pruner, `best` or the search budget: a round
//!   counts only its own variants. Running `confirm` (or `ablate`) again
//!   resumes the latest round of that kind if it is unfinished, and starts a
//!   new round with fresh seeds once it is finished.
//!
//! Intervals are 95% Student-t intervals over the seeds; two configurations
//! are compared with a paired t-test over their shared seeds ([`stats`]).

mod ablate;
mod confirm;
mod format;

pub use ablate::{AblationRow, AblationTable, ablation_plan, ablation_table, baseline_of};
pub use confirm::{ConfirmRow, ConfirmTable, confirm_plan, confirm_table};
pub use format::{Estimate, number, value_text};

use std::collections::{BTreeMap, BTreeSet};

use hypersweep_trials::scheduler::{Plan, PlannedTrial, is_interrupted};
use hypersweep_trials::{Trial, TrialState, stats};
use thiserror::Error;

/// Why a round could not be planned.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// The study has no complete search trial to start from.
    #[error("the study has no complete search trial yet")]
    NoTrials,
    /// A count is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The latest round is unfinished and was planned differently.
    #[error(
        "{kind} round {round} is unfinished and was planned with other settings or other trials; \
         run `{kind}` with the settings it was started with to finish it"
    )]
    RoundMismatch {
        /// `confirm` or `ablate`.
        kind: &'static str,
        /// The round.
        round: u32,
    },
    /// A baseline names no param or holds a value outside its domain.
    #[error("{0}")]
    Baseline(String),
}

/// The trials of each round of `kind`, by round.
fn rounds<'a>(trials: &'a [Trial], kind: &str) -> BTreeMap<u32, Vec<&'a Trial>> {
    let mut rounds: BTreeMap<u32, Vec<&Trial>> = BTreeMap::new();
    for t in trials {
        if let Some((k, round)) = t.role.round()
            && k == kind
        {
            rounds.entry(round).or_default().push(t);
        }
    }
    rounds
}

/// True when every planned variant of a round has a result that will stand
/// (finished, and not interrupted).
fn round_finished(trials: &[&Trial]) -> bool {
    let Some(variants) = trials.first().and_then(|t| planned_variants(t)) else {
        return false;
    };
    let done: BTreeSet<u32> = trials
        .iter()
        .filter(|t| t.state.is_finished() && !is_interrupted(t))
        .filter_map(|t| t.role.variant())
        .collect();
    (0..variants).all(|v| done.contains(&v))
}

fn planned_variants(t: &Trial) -> Option<u32> {
    match t.role {
        hypersweep_trials::TrialRole::Confirm { variants, .. }
        | hypersweep_trials::TrialRole::Ablate { variants, .. } => Some(variants),
        _ => None,
    }
}

/// The plan to run: the latest round of `kind` when it is unfinished (it
/// must be the one `planned` gives for it), else a new round.
fn choose_round(
    trials: &[Trial],
    kind: &'static str,
    planned: impl Fn(u32) -> Vec<PlannedTrial>,
) -> Result<Plan, EvidenceError> {
    let rounds = rounds(trials, kind);
    let round = match rounds.last_key_value() {
        Some((&latest, stored)) if !round_finished(stored) => {
            let variants = planned(latest);
            let matches = stored.iter().all(|t| {
                t.role
                    .variant()
                    .and_then(|v| variants.get(v as usize))
                    .is_some_and(|p| p.role == t.role && p.params == t.params && p.seeds == t.seeds)
            });
            if !matches {
                return Err(EvidenceError::RoundMismatch {
                    kind,
                    round: latest,
                });
            }
            return Plan::new(variants).ok_or(EvidenceError::NoTrials);
        }
        Some((&latest, _)) => latest + 1,
        None => 0,
    };
    Plan::new(planned(round)).ok_or(EvidenceError::NoTrials)
}

/// The result of each variant of a round: its latest trial that ended
/// Complete, with the value of each of its seeds.
fn round_results<'a>(
    trials: &'a [Trial],
    kind: &str,
    round: u32,
) -> BTreeMap<u32, Result<&'a Trial, &'a Trial>> {
    let mut out: BTreeMap<u32, Result<&Trial, &Trial>> = BTreeMap::new();
    for t in trials {
        if t.role.round() != Some((kind, round)) {
            continue;
        }
        let Some(v) = t.role.variant() else { continue };
        match (t.state, out.get(&v)) {
            (TrialState::Complete, _) => {
                out.insert(v, Ok(t));
            }
            (_, Some(Ok(_))) => {}
            _ => {
                out.insert(v, Err(t));
            }
        }
    }
    out
}

/// Each seed's value of a complete trial: its repeats, or its one value.
pub fn seed_values(t: &Trial) -> Vec<(u64, f64)> {
    match (&t.repeats, t.value) {
        (Some(r), _) => t
            .seeds
            .iter()
            .copied()
            .zip(r.values.iter().copied())
            .collect(),
        (None, Some(v)) => vec![(t.seeds.first().copied().unwrap_or(0), v)],
        (None, None) => Vec::new(),
    }
}

/// The paired test of `a - b` over the seeds both were evaluated on.
fn paired_over_seeds(a: &[(u64, f64)], b: &[(u64, f64)]) -> Option<stats::PairedTest> {
    let b: BTreeMap<u64, f64> = b.iter().copied().collect();
    let (xs, ys): (Vec<f64>, Vec<f64>) = a
        .iter()
        .filter_map(|(seed, x)| b.get(seed).map(|y| (*x, *y)))
        .unzip();
    stats::paired_t_test(&xs, &ys)
}

/// The latest round of `kind` in `trials`, if any.
pub fn latest_round(trials: &[Trial], kind: &str) -> Option<u32> {
    rounds(trials, kind).keys().next_back().copied()
}

#[cfg(test)]
mod tests;
