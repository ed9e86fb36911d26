//! A plan: a fixed list of configurations to evaluate, in place of the
//! searcher's suggestions (`hypersweep confirm`, `hypersweep ablate`).
//!
//! A plan's trials go through the same claims, slots, devices, heartbeats
//! and store as a search, so a crashed round resumes and several workers can
//! share it. What makes that work is that a round is identified in the store:
//! every planned trial carries its [`TrialRole`] (kind, round, variant
//! index), the scheduler's cache is scoped to that round (its budget counts
//! the round's trials, never the search's, and its history is not the
//! searcher's), and a claim takes the first variant that has no trial which
//! counts or runs. An interrupted variant (its process died) counts for
//! nothing, so the next claim, in any process, runs it again with the same
//! seeds.

use std::collections::HashSet;

use hypersweep_search::Params;

use crate::budget::Accounted;
use crate::cache::StudyCache;
use crate::storage::NewTrial;
use crate::trial::TrialRole;

/// One configuration of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTrial {
    /// The configuration.
    pub params: Params,
    /// Its role: which round and which variant it is.
    pub role: TrialRole,
    /// The seeds of its evaluations (shared by the round's variants, so
    /// that they compare pairwise).
    pub seeds: Vec<u64>,
}

/// A round's configurations, in the order they are run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// (kind, round) of every variant's role.
    pub round: (&'static str, u32),
    /// The variants.
    pub variants: Vec<PlannedTrial>,
}

impl Plan {
    /// A plan of `variants`, which must all belong to one round.
    pub fn new(variants: Vec<PlannedTrial>) -> Option<Plan> {
        let round = variants.first()?.role.round()?;
        variants
            .iter()
            .all(|v| v.role.round() == Some(round))
            .then_some(Plan { round, variants })
    }

    /// The next variant to start, given the round's trials in `cache`: the
    /// first with no trial that counts, waits for its retry, or runs.
    pub(crate) fn next(&self, cache: &StudyCache, template: &NewTrial) -> Option<NewTrial> {
        let budget = cache.budget();
        let taken: HashSet<u32> = cache
            .trials()
            .iter()
            .filter(|t| t.role.round() == Some(self.round))
            .filter(|t| budget.classify(t) != Accounted::Ignored)
            .filter_map(|t| t.role.variant())
            .collect();
        let v = self
            .variants
            .iter()
            .find(|v| v.role.variant().is_some_and(|i| !taken.contains(&i)))?;
        Some(NewTrial {
            params: v.params.clone(),
            seeds: v.seeds.clone(),
            role: v.role.clone(),
            ..template.clone()
        })
    }
}
