//! The space a define-by-run study has discovered, decomposed into groups
//! of params that are searched jointly.
//!
//! An objective with Python `if`s asks for different params in different
//! trials, so no single space fits every trial. What does fit: split the
//! params seen in finished trials into the coarsest groups such that every
//! trial holds either all of a group or none of it (the common refinement of
//! the trials' param sets). Each group is then a plain space with a history
//! of its own, the trials that hold it, and a searcher models it jointly
//! there: a branch's params are learnt together from exactly the trials that
//! took that branch. This is the idea of Optuna's `group=True` decomposition;
//! the code is ours.
//!
//! A param is keyed by its name *and* its domain (stored with each trial,
//! [`Trial::distributions`]): a param asked for with another range is another
//! param, so a model never mixes values drawn from different domains.
//!
//! Cost: a finished trial is folded into the groups once (`O(groups x d)`);
//! each group keeps its projected history between asks and only adds trials
//! that finished since, re-reading just the running ones (pending points), so
//! an ask costs `O(n)` cheap membership checks plus the searchers' own work,
//! and each group's searcher keeps its cache (TPE's encoded history) because
//! it always sees the same space.

use std::collections::{BTreeSet, HashMap, HashSet};

use hypersweep_search::{
    Direction, Domain, History, Observation, Param, Params, SearchError, SearchSpace, Searcher,
    StdRng, TrialState, Value,
};
use hypersweep_trials::Trial;

/// Index of a (name, domain) pair in [`DiscoveredSpace::keys`].
type Key = usize;

/// Builds a fresh searcher of the study's kind (one per group, one per lone
/// param, so that each keeps its own cache).
pub(crate) type SearcherFactory = Box<dyn Fn() -> Box<dyn Searcher> + Send + Sync>;

/// A value drawn for a param of a group when its trial was claimed: the
/// trial takes it if its objective asks for `name` in exactly `domain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The param.
    pub name: String,
    /// The domain it was drawn from.
    pub domain: Domain,
    /// The value.
    pub value: Value,
}

/// The define-by-run state of a study (see the module docs).
pub(crate) struct DiscoveredSpace {
    /// Every (name, domain) pair seen in a finished trial.
    keys: Vec<(String, Domain)>,
    by_name: HashMap<String, Vec<Key>>,
    /// The decomposition: disjoint sets of keys.
    groups: Vec<BTreeSet<Key>>,
    /// Finished trials already folded into `groups`.
    folded: HashSet<u64>,
    /// A searcher and a projected history per group, by its keys.
    searches: HashMap<Vec<Key>, GroupSearch>,
    /// A searcher per param name, for params drawn alone.
    lone: HashMap<String, Box<dyn Searcher>>,
    factory: SearcherFactory,
}

impl DiscoveredSpace {
    pub(crate) fn new(factory: SearcherFactory) -> Self {
        DiscoveredSpace {
            keys: Vec::new(),
            by_name: HashMap::new(),
            groups: Vec::new(),
            folded: HashSet::new(),
            searches: HashMap::new(),
            lone: HashMap::new(),
            factory,
        }
    }

    /// The searcher that draws param `name` alone.
    pub(crate) fn lone_searcher(&mut self, name: &str) -> &mut Box<dyn Searcher> {
        let factory = &self.factory;
        self.lone
            .entry(name.to_owned())
            .or_insert_with(|| factory())
    }

    /// Draws every group jointly for trial `number`, given the study's
    /// trials: one proposal per param of every group. `rng_for` gives the
    /// RNG of a group from its param names.
    pub(crate) fn propose(
        &mut self,
        trials: &[Trial],
        direction: Direction,
        number: u64,
        rng_for: impl Fn(&[&str]) -> StdRng,
    ) -> Result<Vec<Proposal>, SearchError> {
        self.fold(trials);
        let live: HashSet<Vec<Key>> = self
            .groups
            .iter()
            .map(|g| g.iter().copied().collect())
            .collect();
        self.searches.retain(|keys, _| live.contains(keys));
        let mut proposals = Vec::new();
        for group in &self.groups {
            let keys: Vec<Key> = group.iter().copied().collect();
            if !self.searches.contains_key(&keys) {
                // By name: key numbers follow the order trials finished in,
                // which another process may have seen otherwise. (A group
                // never holds one name twice: a trial asks a name once.)
                let mut params: Vec<Param> = keys
                    .iter()
                    .map(|&k| Param::new(&self.keys[k].0, self.keys[k].1.clone()))
                    .collect();
                params.sort_by(|a, b| a.name.cmp(&b.name));
                let search = GroupSearch {
                    space: SearchSpace::new(params)?,
                    searcher: (self.factory)(),
                    history: History::new(direction),
                    judged: HashSet::new(),
                    pending: Vec::new(),
                };
                self.searches.insert(keys.clone(), search);
            }
            let Some(search) = self.searches.get_mut(&keys) else {
                continue;
            };
            search.catch_up(trials, number);
            let names: Vec<&str> = search
                .space
                .params()
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            let mut rng = rng_for(&names);
            let drawn = search
                .searcher
                .suggest(&search.space, &search.history, &mut rng)?;
            for p in search.space.params() {
                if let Some(value) = drawn.get(&p.name) {
                    proposals.push(Proposal {
                        name: p.name.clone(),
                        domain: p.domain.clone(),
                        value: value.clone(),
                    });
                }
            }
        }
        Ok(proposals)
    }

    /// Folds the finished trials not seen yet into the decomposition.
    fn fold(&mut self, trials: &[Trial]) {
        for t in trials {
            if !counts(t) || self.folded.contains(&t.number) {
                continue;
            }
            self.folded.insert(t.number);
            let held: BTreeSet<Key> = t
                .distributions
                .iter()
                .filter(|(name, _)| t.params.get(name.as_str()).is_some())
                .map(|(name, domain)| self.intern(name, domain))
                .collect();
            if held.is_empty() {
                continue;
            }
            self.groups = refine(&self.groups, &held);
        }
    }

    fn intern(&mut self, name: &str, domain: &Domain) -> Key {
        let ids = self.by_name.entry(name.to_owned()).or_default();
        if let Some(&k) = ids.iter().find(|&&k| self.keys[k].1 == *domain) {
            return k;
        }
        let k = self.keys.len();
        self.keys.push((name.to_owned(), domain.clone()));
        ids.push(k);
        k
    }
}

/// A trial that shapes the decomposition: it finished with its params
/// (a failed trial may have stopped halfway through its objective).
fn counts(t: &Trial) -> bool {
    matches!(t.state, TrialState::Complete | TrialState::Pruned)
}

/// The common refinement of `groups` and one trial's keys: every group
/// split into the part the trial holds and the part it lacks, and the
/// trial's keys that no group had as a new group.
fn refine(groups: &[BTreeSet<Key>], held: &BTreeSet<Key>) -> Vec<BTreeSet<Key>> {
    let mut out = Vec::with_capacity(groups.len() + 1);
    let mut new: BTreeSet<Key> = held.clone();
    for g in groups {
        let inside: BTreeSet<Key> = g.intersection(held).copied().collect();
        let outside: BTreeSet<Key> = g.difference(held).copied().collect();
        for k in &inside {
            new.remove(k);
        }
        out.extend([inside, outside].into_iter().filter(|s| !s.is_empty()));
    }
    if !new.is_empty() {
        out.push(new);
    }
    out
}

/// One group's searcher and the history it sees: the trials holding every
/// param of the group, with those params only.
struct GroupSearch {
    space: SearchSpace,
    searcher: Box<dyn Searcher>,
    history: History,
    /// Finished trials already judged (added to `history` or not): they
    /// never change.
    judged: HashSet<u64>,
    /// Running trials in `history`: re-read at every ask.
    pending: Vec<u64>,
}

impl GroupSearch {
    /// Brings the projected history up to date for a suggestion to trial
    /// `number` (which is left out).
    fn catch_up(&mut self, trials: &[Trial], number: u64) {
        if !self.pending.is_empty() {
            let pending: HashSet<u64> = self.pending.drain(..).collect();
            self.history.trials.retain(|o| !pending.contains(&o.number));
        }
        for t in trials {
            if t.number == number || self.judged.contains(&t.number) {
                continue;
            }
            let finished = t.state.is_finished();
            if finished {
                self.judged.insert(t.number);
            }
            let Some(params) = self.project(t) else {
                continue;
            };
            if !finished {
                self.pending.push(t.number);
            }
            self.history.upsert(Observation {
                number: t.number,
                params,
                state: t.state,
                value: t.value,
                intermediate: t.intermediate.clone(),
                duration_ms: t.finished_ms.map(|f| f.saturating_sub(t.started_ms)),
            });
        }
    }

    /// The trial's values of the group's params, when it holds all of them
    /// in the group's domains (an enqueued value may lie outside its domain).
    fn project(&self, t: &Trial) -> Option<Params> {
        let mut params = Params::new();
        for p in self.space.params() {
            let value = t.params.get(&p.name)?;
            if t.distributions.get(&p.name) != Some(&p.domain) || !p.domain.contains(value) {
                return None;
            }
            params.insert(p.name.clone(), value.clone());
        }
        Some(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(keys: &[Key]) -> BTreeSet<Key> {
        keys.iter().copied().collect()
    }

    #[test]
    fn refinement_splits_groups_by_the_trials_that_hold_them() {
        // Trials: {0,1,2}, {0,1,3}, {0,4}: 0 is in all, 1 in two, 2, 3 and
        // 4 alone.
        let mut groups = Vec::new();
        for held in [set(&[0, 1, 2]), set(&[0, 1, 3]), set(&[0, 4])] {
            groups = refine(&groups, &held);
        }
        let mut sorted: Vec<Vec<Key>> =
            groups.iter().map(|g| g.iter().copied().collect()).collect();
        sorted.sort();
        assert_eq!(sorted, vec![vec![0], vec![1], vec![2], vec![3], vec![4]]);
        // Trials of one shape keep one group.
        let mut groups = Vec::new();
        for _ in 0..3 {
            groups = refine(&groups, &set(&[5, 6, 7]));
        }
        assert_eq!(groups, vec![set(&[5, 6, 7])]);
        // Two branches: {kind, x, y} and {kind, depth}.
        let mut groups = Vec::new();
        for held in [set(&[0, 1, 2]), set(&[0, 3]), set(&[0, 1, 2])] {
            groups = refine(&groups, &held);
        }
        let mut sorted: Vec<Vec<Key>> =
            groups.iter().map(|g| g.iter().copied().collect()).collect();
        sorted.sort();
        assert_eq!(sorted, vec![vec![0], vec![1, 2], vec![3]]);
    }
}
