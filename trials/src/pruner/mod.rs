//! Pruners: decide, at each intermediate report, whether a trial should stop.
//!
//! A pruner is stateless over the history, like a searcher: everything it
//! knows comes from the [`History`] it is handed (every trial with its
//! intermediate values, running ones included) and from its own settings
//! (Hyperband also from the study's name). A resumed sweep, a second worker
//! or an ask/tell client therefore prunes exactly as the first process would
//! have, whatever the number of workers.
//!
//! The rules: the median and percentile stopping rules ([`MedianPruner`],
//! [`PercentilePruner`]); asynchronous successive halving ([`AshaPruner`]);
//! Hyperband as ASHA brackets ([`HyperbandPruner`]); and W&B's hyperband as
//! W&B runs it ([`WandbHyperbandPruner`]), chosen when a sweep file uses W&B's
//! keys. [`pruner_from_spec`] maps a sweep file's `early_terminate` onto
//! them. Our own rules share a protection for slow starters: no pruning
//! before `warmup_steps`, and a trial whose value at its step is the best any
//! trial reported at that step (when others did) is never pruned.

use hypersweep_search::sweep::{EarlyTerminate, MinResource, PrunerKind};
use hypersweep_search::{Direction, History, Observation};

mod asha;
mod hyperband;
mod percentile;
mod wandb;

pub use asha::AshaPruner;
pub use hyperband::HyperbandPruner;
pub use percentile::{MedianPruner, PercentilePruner};
pub use wandb::{WandbHyperbandPruner, wandb_bands};

/// Decides whether a running trial should stop at a reported step.
pub trait Pruner: Send + Sync {
    /// Short name, as in `early_terminate.type`.
    fn name(&self) -> &str;

    /// True when `trial`, having just reported at `step` (its report is
    /// already in `trial.intermediate`), should stop. `history` holds every
    /// trial of the study, `trial` included.
    fn should_prune(&self, trial: &Observation, step: u64, history: &History) -> bool;

    /// One line for `check` and `status`: the rule and where it decides
    /// (rungs, bands, brackets).
    fn describe(&self) -> String {
        self.name().to_owned()
    }
}

/// Never prunes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPruner;

impl Pruner for NoPruner {
    fn name(&self) -> &str {
        "none"
    }

    fn should_prune(&self, _: &Observation, _: u64, _: &History) -> bool {
        false
    }
}

/// The best (as a loss) finite intermediate value of `trial` at steps up to
/// `step`.
fn best_loss_up_to(trial: &Observation, step: u64, direction: Direction) -> Option<f64> {
    trial
        .intermediate
        .iter()
        .filter(|(s, v)| *s <= step && v.is_finite())
        .map(|&(_, v)| direction.loss(v))
        .min_by(f64::total_cmp)
}

/// The value `trial` reported exactly at `step`, as a loss.
fn loss_at(trial: &Observation, step: u64, direction: Direction) -> Option<f64> {
    trial
        .intermediate
        .binary_search_by_key(&step, |&(s, _)| s)
        .ok()
        .map(|i| trial.intermediate[i].1)
        .filter(|v| v.is_finite())
        .map(|v| direction.loss(v))
}

/// True when `trial` reported a non-finite value at `step`: there is nothing
/// to learn from continuing a diverged run.
fn diverged_at(trial: &Observation, step: u64) -> bool {
    trial
        .intermediate
        .iter()
        .any(|&(s, v)| s == step && !v.is_finite())
}

/// The protection of slow starters: true before `warmup_steps`, and when
/// other trials reported at `step` and none of them did better than `trial`.
fn is_protected(trial: &Observation, step: u64, history: &History, warmup_steps: u64) -> bool {
    if step < warmup_steps {
        return true;
    }
    let dir = history.direction;
    let Some(mine) = loss_at(trial, step, dir) else {
        return false;
    };
    let mut peers = history
        .trials
        .iter()
        .filter(|t| t.number != trial.number)
        .filter_map(|t| loss_at(t, step, dir))
        .peekable();
    peers.peek().is_some() && peers.all(|other| other >= mine)
}

/// The pruner a sweep file's `early_terminate` asks for. `study` keys
/// Hyperband's bracket assignment, so every process of the study assigns a
/// trial number to the same bracket. The parser has validated the block, so
/// every combination it lets through maps to a real rule.
pub fn pruner_from_spec(early: Option<&EarlyTerminate>, study: &str) -> Box<dyn Pruner> {
    let Some(e) = early else {
        return Box::new(NoPruner);
    };
    // `min_iter` is W&B's name; outside W&B's hyperband it was read as the
    // first rung (asha) or the warm-up (median, percentile), and still is.
    let warmup = e.warmup_steps.or(e.min_iter).unwrap_or(0);
    match e.kind {
        PrunerKind::Hyperband if e.is_wandb_hyperband() => Box::new(WandbHyperbandPruner::new(e)),
        PrunerKind::Hyperband => Box::new(HyperbandPruner::new(
            study,
            steps(e.min_resource).unwrap_or(1),
            e.max_resource.unwrap_or(1),
            e.eta,
            e.warmup_steps.unwrap_or(0),
        )),
        PrunerKind::Asha => Box::new(AshaPruner {
            min_resource: e
                .min_resource
                .unwrap_or(MinResource::Steps(e.min_iter.unwrap_or(1))),
            max_resource: e.max_resource,
            eta: e.eta,
            warmup_steps: e.warmup_steps.unwrap_or(0),
        }),
        PrunerKind::Median => Box::new(MedianPruner::new().warmup_steps(warmup)),
        PrunerKind::Percentile => {
            Box::new(PercentilePruner::new(e.percentile.unwrap_or(50.0)).warmup_steps(warmup))
        }
        _ => Box::new(NoPruner),
    }
}

fn steps(r: Option<MinResource>) -> Option<u64> {
    match r {
        Some(MinResource::Steps(n)) => Some(n),
        _ => None,
    }
}

/// `1, 3, 9`: steps as a list for [`Pruner::describe`].
fn list_steps(steps: &[u64]) -> String {
    steps
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
