//! Regularized (aging) evolution, after Real, Aggarwal, Huang & Le,
//! "Regularized Evolution for Image Classifier Architecture Search"
//! (AAAI 2019).
//!
//! The population is the newest `population` finished trials of the history
//! (complete with a finite value, or pruned with a finite report), so the
//! oldest members die as new ones arrive, which is the "aging" that keeps
//! the search from resting on one lucky early trial. Each suggestion draws
//! `sample_size` distinct members uniformly, takes the best of them (complete
//! trials by value, ahead of pruned ones, which rank deeper-stopped first, as
//! in the TPE's split), and mutates it in one active parameter chosen
//! uniformly among those with more than one value: a categorical (so one
//! edge of a cell, which [`crate::cell::expand`] presents as a categorical)
//! moves to a different choice, a numeric parameter is drawn afresh from its
//! prior until it differs. A mutated parent re-decides its children: newly
//! active ones are drawn from their prior, inactive ones dropped. Until the
//! history holds `population` trials (any state), suggestions are random
//! draws, the initial population of the paper.
//!
//! The searcher keeps no state: the population is read from the history and
//! every draw comes from the RNG, so the same history and seed give the same
//! suggestion. Cost per suggestion: O(H) to collect the population of the H
//! trials, then O(d) for the child.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::random::{RandomSearcher, sample_param};
use crate::{
    History, Observation, Params, SearchError, SearchSpace, Searcher, StdRng, TrialState, Value,
};
use rand::RngExt;
use rand::seq::index;

/// How many fresh draws a numeric mutation takes to find a value different
/// from the parent's before keeping the parent's (a stepped domain of two
/// values needs about two).
const MAX_MUTATION_DRAWS: usize = 32;

/// Options of the evolution searcher, as in a sweep file's
/// `evolution: {...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvolutionOptions {
    /// How many of the newest finished trials form the population (and how
    /// many random trials come first). Default 20, sized for budgets of a
    /// few hundred trials (the paper used 100 over 20,000).
    pub population: usize,
    /// How many members enter each tournament. Default 5.
    pub sample_size: usize,
}

impl Default for EvolutionOptions {
    fn default() -> Self {
        EvolutionOptions {
            population: 20,
            sample_size: 5,
        }
    }
}

impl EvolutionOptions {
    /// Checks that both sizes are at least 1 and the sample fits in the
    /// population.
    pub fn check(&self) -> Result<(), SearchError> {
        if self.population == 0 {
            return Err(SearchError::invalid(
                "evolution.population",
                "expected at least 1",
            ));
        }
        if self.sample_size == 0 || self.sample_size > self.population {
            return Err(SearchError::invalid(
                "evolution.sample_size",
                format!(
                    "expected 1 to population ({}), got {}",
                    self.population, self.sample_size
                ),
            ));
        }
        Ok(())
    }
}

/// Regularized evolution; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct EvolutionSearcher {
    options: EvolutionOptions,
}

impl EvolutionSearcher {
    /// A searcher with these options (checked on each suggestion).
    pub fn new(options: EvolutionOptions) -> Self {
        EvolutionSearcher { options }
    }
}

/// A member's fitness; smaller is better.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fitness {
    Complete { loss: f64 },
    Pruned { step: u64, loss: f64 },
}

impl Fitness {
    fn of(t: &Observation, history: &History) -> Option<Fitness> {
        match t.state {
            TrialState::Complete => t
                .loss(history.direction)
                .map(|loss| Fitness::Complete { loss }),
            TrialState::Pruned => t.last_intermediate().map(|(step, v)| Fitness::Pruned {
                step,
                loss: history.direction.loss(v),
            }),
            TrialState::Running | TrialState::Failed => None,
        }
    }

    fn cmp(&self, other: &Fitness) -> Ordering {
        match (self, other) {
            (Fitness::Complete { loss: a }, Fitness::Complete { loss: b }) => a.total_cmp(b),
            (Fitness::Complete { .. }, Fitness::Pruned { .. }) => Ordering::Less,
            (Fitness::Pruned { .. }, Fitness::Complete { .. }) => Ordering::Greater,
            (Fitness::Pruned { step: sa, loss: a }, Fitness::Pruned { step: sb, loss: b }) => {
                sb.cmp(sa).then(a.total_cmp(b))
            }
        }
    }
}

/// The newest `size` finished trials with a fitness, oldest first.
fn population(history: &History, size: usize) -> Vec<(&Observation, Fitness)> {
    let mut members: Vec<(&Observation, Fitness)> = history
        .trials
        .iter()
        .rev()
        .filter_map(|t| Fitness::of(t, history).map(|f| (t, f)))
        .take(size)
        .collect();
    members.reverse();
    members
}

/// The best of `sample_size` distinct members drawn uniformly; ties go to
/// the member drawn first.
fn tournament<'h>(
    members: &[(&'h Observation, Fitness)],
    sample_size: usize,
    rng: &mut StdRng,
) -> Option<&'h Observation> {
    let sample = index::sample(rng, members.len(), sample_size.min(members.len()));
    sample
        .iter()
        .map(|i| members[i])
        .reduce(|best, m| {
            if m.1.cmp(&best.1) == Ordering::Less {
                m
            } else {
                best
            }
        })
        .map(|(t, _)| t)
}

/// `parent` changed in one active parameter that has more than one value.
fn mutate(space: &SearchSpace, parent: &Params, rng: &mut StdRng) -> Params {
    let mutable: Vec<usize> = space
        .params()
        .iter()
        .enumerate()
        .filter(|(_, p)| space.is_active(p, parent) && p.domain.cardinality() != Some(1))
        .map(|(i, _)| i)
        .collect();
    let chosen = (!mutable.is_empty()).then(|| mutable[rng.random_range(0..mutable.len())]);
    let mut child = Params::new();
    for (i, p) in space.params().iter().enumerate() {
        if !space.is_active(p, &child) {
            continue;
        }
        let inherited = parent.get(&p.name).filter(|v| p.domain.contains(v));
        let value = match inherited {
            Some(old) if Some(i) == chosen => different_value(&p.domain, old, rng),
            Some(old) => old.clone(),
            None => sample_param(&p.domain, rng),
        };
        child.insert(p.name.clone(), value);
    }
    child
}

/// A value of `domain` other than `old`: another choice of a categorical,
/// a fresh prior draw of anything else.
fn different_value(domain: &crate::Domain, old: &Value, rng: &mut StdRng) -> Value {
    if let crate::Domain::Categorical { choices, .. } = domain {
        let others: Vec<&Value> = choices.iter().filter(|c| *c != old).collect();
        return match others.len() {
            0 => old.clone(),
            n => others[rng.random_range(0..n)].clone(),
        };
    }
    for _ in 0..MAX_MUTATION_DRAWS {
        let v = sample_param(domain, rng);
        if &v != old {
            return v;
        }
    }
    old.clone()
}

impl Searcher for EvolutionSearcher {
    fn name(&self) -> &str {
        "evolution"
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        self.options.check()?;
        if history.trials.len() < self.options.population {
            return RandomSearcher::new().suggest(space, history, rng);
        }
        let members = population(history, self.options.population);
        match tournament(&members, self.options.sample_size, rng) {
            Some(parent) => Ok(mutate(space, &parent.params, rng)),
            None => RandomSearcher::new().suggest(space, history, rng),
        }
    }
}

#[cfg(test)]
mod tests;
