//! Tree-structured Parzen Estimator (TPE) searcher, `method: "tpe"`.
//!
//! TPE (Bergstra et al., "Algorithms for Hyper-Parameter Optimization",
//! NeurIPS 2011; Watanabe, "Tree-structured Parzen Estimator: Understanding
//! its algorithm components and their roles for better empirical
//! performance", 2023) ranks the finished trials, splits them into a small
//! good set and the rest (`split`), fits a Parzen estimator to each over the
//! encoded unit cube — `l(x)` to the good trials, `g(x)` to the bad ones,
//! each a mixture of one kernel per observation plus a prior (`parzen`,
//! `categorical`) — then draws `n_candidates` points from `l` and returns the
//! one maximising `log l(x) - log g(x)`, which is proportional to expected
//! improvement under the TPE model. Integer and stepped parameters with at
//! most 64 values are scored by the mass each kernel puts on the candidate's
//! bucket, as Optuna does, not by the density at its centre
//! (`parzen::DimSpec::Discrete`). By default the kernels are multivariate
//! (one joint kernel per observation, which keeps correlations between
//! parameters, Optuna's `multivariate=True`) and conditional parameters are
//! grouped by the condition that activates them, each group modelled on the
//! trials where it was active (Optuna's `group=True`); a group of more than
//! `max_joint_params` (16) parameters gets one kernel per parameter instead
//! (univariate kernels, Optuna's default), which searches many dimensions far
//! better (see `TpeOptions::max_joint_params`). Running trials join
//! the bad set (constant liar), so parallel workers get distinct points. The
//! first `n_startup_trials` suggestions are prior draws (or Sobol points).
//!
//! Cost per suggestion, `n` trials, `d` parameters, `m` candidates: the
//! history is encoded once per trial and kept between suggestions, column by
//! column and, per parameter, in sorted order (`HistoryCache`), so the
//! neighbour widths need no sort; building both estimators is `O(n d)` in
//! arrays reused from the previous suggestion (an `erfc` only for kernels
//! within 8.5 widths of an end); scoring is `O(m n d)` subtract-and-square
//! steps over contiguous arrays plus `m` log-sum-exps over `n` kernels.
//! Measured (`tpe_suggest_latency`, release, defaults, a random history):
//! 0.09 ms at 100 trials x 10 parameters, 0.5 ms at 1000 x 10, 1.7 ms at
//! 3000 x 10; 0.28 / 1.8 / 6.2 ms at 100 / 1000 / 3000 trials x 40
//! parameters.
//!
//! The defaults (see `TpeOptions`) were picked on the quality suite
//! (`benches/quality`) against Optuna's `TPESampler`: multivariate kernels
//! with neighbour widths, gamma 0.15, and no repeats in discrete spaces.

use std::collections::HashSet;

mod categorical;
pub(crate) mod final_prediction;
mod options;
pub mod parzen;
mod pool;
mod split;

pub use options::{Bandwidth, PrunedRank, Startup, TpeOptions};
pub use split::{Split, recency_weights, split_trials};

use crate::domain::bucket_index;
use crate::random::sample_params;
use crate::sobol::SobolSearcher;
use crate::{Domain, History, Param, Params, SearchError, SearchSpace, Searcher, StdRng};
use categorical::categorical_prior;
use parzen::{
    DimSpec, EstimatorConfig, LogSum, Observations, ParzenEstimator, log_pdf_dims_of, sum_of_logs,
};

/// The TPE searcher; see the module documentation.
#[derive(Debug, Clone)]
pub struct TpeSearcher {
    options: TpeOptions,
    /// The startup points when `startup` is `sobol`; its scramble comes
    /// from the study seed.
    sobol: SobolSearcher,
    /// The history encoded so far, reused by the next suggestion.
    cache: HistoryCache,
    /// Buffers reused by the next suggestion.
    work: Workspace,
}

/// The encoded parameters of the trials seen so far, kept between
/// suggestions. A trial's parameters never change once it is suggested, so
/// only trials new since the last call are encoded; re-encoding the whole
/// history (a name lookup and a JSON conversion per parameter and trial) was
/// the largest single cost at a thousand trials.
#[derive(Debug, Clone, Default)]
struct HistoryCache {
    /// The parameters the trials were encoded against; another space starts
    /// the cache afresh.
    params: Vec<Param>,
    /// Trial numbers, by position in `History::trials`.
    numbers: Vec<u64>,
    /// Per parameter, its coordinate in every trial by position; NaN where
    /// the trial does not set it.
    columns: Vec<Vec<f64>>,
    /// Per parameter, `(coordinate, position)` of every trial where it is
    /// set, sorted: the neighbour rule's order for any subset of trials is
    /// then a filter of this list, not a sort.
    sorted: Vec<Vec<(f64, u32)>>,
    /// Per position: whether the trial sets every parameter (then every
    /// group is whole without looking at its columns).
    complete: Vec<bool>,
    /// Changes whenever a position may come to name another trial: a new
    /// space, or a history that did not grow from the cached one.
    epoch: u64,
}

impl HistoryCache {
    /// The configurations of every trial so far (in any state) as
    /// [`configuration_key`]s, when every parameter of the space is
    /// discrete; `None` otherwise.
    fn tried_configurations(&self, space: &SearchSpace) -> Option<HashSet<Vec<u64>>> {
        let cards = space
            .params()
            .iter()
            .map(|p| p.domain.cardinality())
            .collect::<Option<Vec<usize>>>()?;
        Some(
            (0..self.numbers.len())
                .map(|i| {
                    self.columns
                        .iter()
                        .zip(&cards)
                        .map(|(column, &c)| bucket(Some(column[i]), c))
                        .collect()
                })
                .collect(),
        )
    }

    /// Brings the cache up to date with `history`.
    fn sync(&mut self, space: &SearchSpace, history: &History) {
        let d = space.params().len();
        if self.params != space.params() {
            self.epoch += 1;
            self.params = space.params().to_vec();
            self.numbers.clear();
            self.complete.clear();
            self.columns = vec![Vec::new(); d];
            self.sorted = vec![Vec::new(); d];
        }
        let keep = self
            .numbers
            .iter()
            .zip(&history.trials)
            .take_while(|(number, t)| **number == t.number)
            .count();
        if keep < self.numbers.len() {
            // Not a history that grew from the cached one: keep the common
            // prefix and sort it afresh.
            self.epoch += 1;
            self.numbers.truncate(keep);
            self.complete.truncate(keep);
            for (column, list) in self.columns.iter_mut().zip(&mut self.sorted) {
                column.truncate(keep);
                list.clear();
                list.extend(
                    column
                        .iter()
                        .zip(0u32..)
                        .filter(|(u, _)| !u.is_nan())
                        .map(|(&u, pos)| (u, pos)),
                );
                parzen::sort_by_value(list);
            }
        }
        for t in &history.trials[keep..] {
            let pos = self.numbers.len() as u32;
            let row = encode_row(space, &t.params);
            self.complete
                .push(row.iter().all(|u| u.is_some_and(|u| !u.is_nan())));
            for ((column, list), u) in self.columns.iter_mut().zip(&mut self.sorted).zip(row) {
                match u.filter(|u| !u.is_nan()) {
                    Some(u) => {
                        column.push(u);
                        // After every equal coordinate: positions only grow.
                        // `total_cmp`, as the re-sort uses, so that a list
                        // grown here and one sorted afresh are identical
                        // (`<=` would take -0.0 and 0.0 as equal).
                        let at = list.partition_point(|&(v, _)| v.total_cmp(&u).is_le());
                        list.insert(at, (u, pos));
                    }
                    None => column.push(f64::NAN),
                }
            }
            self.numbers.push(t.number);
        }
    }
}

impl Default for TpeSearcher {
    fn default() -> Self {
        TpeSearcher::new(TpeOptions::default(), 0)
    }
}

impl TpeSearcher {
    /// A new searcher. `seed` fixes the Sobol scramble of the startup
    /// points; all other randomness comes from the RNG given to `suggest`.
    pub fn new(options: TpeOptions, seed: u64) -> Self {
        TpeSearcher {
            options,
            sobol: SobolSearcher::new(seed),
            cache: HistoryCache::default(),
            work: Workspace::default(),
        }
    }

    /// The options in use.
    pub fn options(&self) -> &TpeOptions {
        &self.options
    }
}

impl Searcher for TpeSearcher {
    fn name(&self) -> &str {
        "tpe"
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        self.options.check()?;
        let startup = history.n_with_value() < self.options.n_startup_trials.max(1);
        let split = if startup {
            None
        } else {
            self.cache.sync(space, history);
            Some(split_trials(history, &self.options))
        };
        let draw = |this: &mut Self, rng: &mut StdRng| match &split {
            None => this.startup(space, history, rng),
            Some(split) => Ok(suggest_tpe(
                space,
                &this.cache,
                &mut this.work,
                split,
                &this.options,
                rng,
            )),
        };
        let mut out = draw(self, rng)?;
        if !self.options.skip_duplicates {
            return Ok(out);
        }
        // In a space of finitely many configurations, do not spend a trial
        // on one already tried (or running): draw again (from the model, or
        // the startup rule), then from the prior; if every draw was taken (a
        // nearly exhausted space), the model's first choice is repeated: a
        // repeat is better than no suggestion, and the model's better than
        // the prior's.
        if startup {
            self.cache.sync(space, history);
        }
        let Some(seen) = self.cache.tried_configurations(space) else {
            return Ok(out);
        };
        let key = |params: &Params| configuration_key(space, params);
        // If every configuration has been tried, the model's own first
        // choice is the repeat worth making (a prior draw would be random).
        let first = out.clone();
        for _ in 0..DUPLICATE_REDRAWS {
            if !seen.contains(&key(&out)) {
                return Ok(out);
            }
            out = draw(self, rng)?;
        }
        for _ in 0..DUPLICATE_PRIOR_DRAWS {
            if !seen.contains(&key(&out)) {
                return Ok(out);
            }
            out = sample_params(space, rng);
        }
        if seen.contains(&key(&out)) {
            return Ok(first);
        }
        Ok(out)
    }
}

/// Fresh model draws, then prior draws, tried for a configuration not yet
/// evaluated before a repeat is accepted (`skip_duplicates`).
const DUPLICATE_REDRAWS: usize = 8;
const DUPLICATE_PRIOR_DRAWS: usize = 64;

/// The bucket of every parameter of a configuration in a space of discrete
/// parameters (`u64::MAX` for one that is not set): equal keys, equal
/// configurations. (`u64`: an integer domain can hold 2^54 values.)
fn configuration_key(space: &SearchSpace, params: &Params) -> Vec<u64> {
    encode_row(space, params)
        .iter()
        .zip(space.params())
        .map(|(u, p)| bucket(*u, p.domain.cardinality().unwrap_or(1)))
        .collect()
}

/// The bucket of coordinate `u` among `cardinality` equal ones.
fn bucket(u: Option<f64>, cardinality: usize) -> u64 {
    match u {
        Some(u) if !u.is_nan() => bucket_index(u, cardinality) as u64,
        _ => u64::MAX,
    }
}

impl TpeSearcher {
    fn startup(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        match self.options.startup {
            Startup::Random => Ok(sample_params(space, rng)),
            Startup::Sobol => self.sobol.suggest(space, history, rng),
        }
    }
}

/// Parameters modelled together: they share the condition that makes them
/// active, so they are present in exactly the same trials.
struct Group {
    /// Positions in the space.
    params: Vec<usize>,
    specs: Vec<DimSpec>,
}

/// Groups the non-constant parameters by their condition (or one group per
/// parameter when `group` is off), ordered by their first parameter, which
/// puts every parent's group before its children's.
fn groups(space: &SearchSpace, group: bool, ordinal: bool) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    let mut keys: Vec<Option<&crate::Condition>> = Vec::new();
    for (i, p) in space.params().iter().enumerate() {
        let Some(spec) = dim_spec(p, ordinal) else {
            continue;
        };
        let found = if group {
            keys.iter().position(|k| *k == p.condition.as_ref())
        } else {
            None
        };
        match found {
            Some(g) => {
                out[g].params.push(i);
                out[g].specs.push(spec);
            }
            None => {
                keys.push(p.condition.as_ref());
                out.push(Group {
                    params: vec![i],
                    specs: vec![spec],
                });
            }
        }
    }
    out
}

/// How a parameter is modelled; `None` for constants.
fn dim_spec(p: &Param, ordinal: bool) -> Option<DimSpec> {
    match &p.domain {
        Domain::Const { .. } => None,
        // Numbers in order, as tabular grids and many sweep files write
        // them (`values: [16, 32, 64, 128]`): kernels over the choices' ranks,
        // like an integer's, so a good value lends weight to its neighbours.
        Domain::Categorical {
            choices,
            probabilities: None,
        } if ordinal && is_ordinal(choices) => {
            let c = choices.len();
            Some(DimSpec::Discrete {
                min_sigma: 1.0 / c as f64,
                edges: (0..=c).map(|i| i as f64 / c as f64).collect(),
            })
        }
        Domain::Categorical {
            choices,
            probabilities,
        } => Some(DimSpec::Categorical {
            prior: categorical_prior(choices.len(), probabilities.as_deref()),
        }),
        // One bucket: once the good trials agree on one value their spread
        // is zero, and a narrower kernel would all but stop the search from
        // trying the neighbouring values (it did, at half a bucket).
        d => {
            let cardinality = d.cardinality();
            let min_sigma = cardinality.map_or(0.0, |c| 1.0 / c as f64);
            // The count first: the edges are allocated, one per value.
            let edges = match cardinality {
                Some(c) if c <= MAX_MASS_BUCKETS => d.bucket_edges(),
                _ => None,
            };
            match edges {
                Some(edges) => Some(DimSpec::Discrete { min_sigma, edges }),
                None => Some(DimSpec::Numerical { min_sigma }),
            }
        }
    }
}

/// Integer and stepped domains with at most this many values are scored by
/// bucket mass ([`DimSpec::Discrete`]); larger ones by density, whose
/// buckets are then narrow next to most kernels.
const MAX_MASS_BUCKETS: usize = 64;

/// Moves a numerical coordinate to the one its decoded value encodes to, so
/// that integer and stepped domains are scored at the value they would run.
fn snap(domain: &Domain, u: f64) -> f64 {
    let discrete =
        domain.cardinality().is_some() || matches!(domain, Domain::Normal { q: Some(_), .. });
    if discrete {
        domain.encode(&domain.decode(u)).unwrap_or(u)
    } else {
        u
    }
}

/// A trial's coordinate for one parameter of a group in the estimator's
/// terms: the coordinate, or the choice index for categoricals.
/// True for at least three choices that are all numbers, strictly
/// increasing or strictly decreasing in the order written: an ordinal grid.
/// Two choices have no neighbours to share; numbers out of order (ids,
/// seeds listed at random) are left categorical.
fn is_ordinal(choices: &[crate::Value]) -> bool {
    if choices.len() < 3 {
        return false;
    }
    let Some(v) = choices
        .iter()
        .map(crate::Value::as_f64)
        .collect::<Option<Vec<f64>>>()
    else {
        return false;
    };
    v.windows(2).all(|w| w[0] < w[1]) || v.windows(2).all(|w| w[0] > w[1])
}

fn model_value(domain: &Domain, u: f64) -> f64 {
    match domain {
        Domain::Categorical { choices, .. } => bucket_index(u, choices.len()) as f64,
        _ => u,
    }
}

/// [`SearchSpace::encode`], faster when the configuration lists its
/// parameters in the space's order (as every suggestion does): names are
/// then matched by walking both lists together instead of hashing each one.
fn encode_row(space: &SearchSpace, params: &Params) -> Vec<Option<f64>> {
    let mut given = params.iter().peekable();
    space
        .params()
        .iter()
        .map(|p| {
            let value = match given.next_if(|(name, _)| **name == p.name) {
                Some((_, value)) => Some(value),
                None => params.get(&p.name),
            };
            value.and_then(|v| p.domain.encode(v))
        })
        .collect()
}

/// The TPE step proper, once there are enough finished trials.
fn suggest_tpe(
    space: &SearchSpace,
    cache: &HistoryCache,
    work: &mut Workspace,
    split: &Split,
    options: &TpeOptions,
    rng: &mut StdRng,
) -> Params {
    let params = space.params();
    let config = EstimatorConfig {
        multivariate: options.multivariate,
        bandwidth: options.bandwidth,
        magic_clip: options.magic_clip,
        consider_endpoints: options.consider_endpoints,
        prior_weight: options.prior_weight,
    };
    let mut coords = vec![0.5; params.len()];
    let mut partial = Params::new();
    let m = options.n_candidates;
    let groups = groups(space, options.group, options.ordinal_choices);
    if work.estimators.len() < groups.len() {
        work.estimators.resize_with(groups.len(), Default::default);
    }
    for (group, (below, above)) in groups.iter().zip(&mut work.estimators) {
        let first = &params[group.params[0]];
        if !space.is_active(first, &partial) {
            continue;
        }
        let d = group.params.len();
        let config = EstimatorConfig {
            multivariate: options.joint(d),
            ..config
        };
        let fit = Fit {
            space,
            cache,
            group,
            options,
            config: &config,
        };
        let threads = options.scoring_threads();
        below.estimator.set_threads(threads);
        above.estimator.set_threads(threads);
        fit.refit(below, &split.below, &mut work.slot);
        fit.refit(above, &split.above, &mut work.slot);
        let (below, above) = (&below.estimator, &above.estimator);

        let candidates = &mut work.candidates;
        candidates.clear();
        candidates.resize(m * d, 0.0);
        // Scoring draws nothing: the candidates are drawn first, in order.
        below.sample_points(rng, m, candidates);
        for x in candidates.chunks_exact_mut(d) {
            for ((xj, &j), spec) in x.iter_mut().zip(&group.params).zip(&group.specs) {
                if !matches!(spec, DimSpec::Categorical { .. }) {
                    *xj = snap(&params[j].domain, *xj);
                }
            }
        }
        let scores = &mut work.scores;
        scores.clear();
        if config.multivariate {
            let scratch = &mut work.scratch;
            scores.extend(
                candidates
                    .chunks_exact(d)
                    .map(|x| below.log_pdf(x, scratch) - above.log_pdf(x, scratch)),
            );
        } else {
            // Per dimension and candidate, then combined per candidate in
            // dimension order: `log_pdf`'s values, bit for bit.
            let (lb, la) = (&mut work.dim_log_below, &mut work.dim_log_above);
            lb.resize(m * d, LogSum::default());
            la.resize(m * d, LogSum::default());
            log_pdf_dims_of(&[below, above], candidates, m, &mut [lb, la]);
            scores.extend((0..m).map(|c| {
                let below = sum_of_logs((0..d).map(|j| lb[j * m + c]));
                let above = sum_of_logs((0..d).map(|j| la[j * m + c]));
                below - above
            }));
        }
        let mut best = (f64::NEG_INFINITY, 0);
        for (c, &score) in scores.iter().enumerate() {
            // NaN (both densities zero) never wins; ties keep the first.
            if score > best.0 || (c == 0 && !score.is_nan()) {
                best = (score, c);
            }
        }
        let x = &candidates[best.1 * d..(best.1 + 1) * d];
        for ((&xj, &j), spec) in x.iter().zip(&group.params).zip(&group.specs) {
            let domain = &params[j].domain;
            coords[j] = match (domain, spec) {
                (Domain::Categorical { choices, .. }, DimSpec::Categorical { .. }) => {
                    (xj + 0.5) / choices.len() as f64
                }
                _ => xj,
            };
            partial.insert(params[j].name.clone(), domain.decode(coords[j]));
        }
    }
    space.decode(&coords)
}

/// A set of fewer than 1/`SMALL_SET` of the trials gets its kernels' order
/// by a sort rather than by filtering the whole history's.
const SMALL_SET: usize = 8;

/// Storage reused from one suggestion to the next, so that a suggestion at
/// thousands of trials allocates next to nothing: the estimators of each
/// group (good, bad) with what they were built from.
#[derive(Debug, Clone, Default)]
struct Workspace {
    estimators: Vec<(Model, Model)>,
    candidates: Vec<f64>,
    /// Each candidate's score, and (univariate) each dimension's log
    /// densities at each candidate.
    scores: Vec<f64>,
    dim_log_below: Vec<LogSum>,
    dim_log_above: Vec<LogSum>,
    /// The kernel index of each trial in the estimator being built, or
    /// `u32::MAX`; all `u32::MAX` between builds.
    slot: Vec<u32>,
    /// For `ParzenEstimator::log_pdf`.
    scratch: Vec<f64>,
}

/// One density and the observations it was fitted to, kept for the next
/// fit: the bad density of a long sweep gains one trial per suggestion,
/// and its columns and sorted orders then gain one value each instead of
/// being gathered again.
#[derive(Debug, Clone, Default)]
struct Model {
    estimator: ParzenEstimator,
    /// Positions of the trials the estimator is built on, in trial order
    /// (the estimator keeps the last fit's, to tell what was added).
    kept: Vec<u32>,
    /// Per dimension of the group, the trials' values (`kept` order).
    columns: Vec<Vec<f64>>,
    /// Per dimension of the group, the kernels sorted by value, ties by
    /// index (numerical and discrete dimensions under the neighbour rule).
    orders: Vec<Vec<u32>>,
    weights: Vec<f64>,
}

/// What building one group's estimators needs.
struct Fit<'a> {
    space: &'a SearchSpace,
    cache: &'a HistoryCache,
    group: &'a Group,
    options: &'a TpeOptions,
    config: &'a EstimatorConfig,
}

impl Fit<'_> {
    /// Refits `model` to the trials `set` (positions in the history, in
    /// trial order) on which every parameter of the group is set. When they
    /// are the trials of its last fit followed by a few more, its columns
    /// and orders gain the new trials' values; otherwise they are gathered
    /// again. Either way they come out the same.
    fn refit(&self, model: &mut Model, set: &[usize], slot: &mut Vec<u32>) {
        let params = self.space.params();
        let group = self.group;
        let columns = &self.cache.columns;
        // The trials where the whole group is set (all of them, or none, in
        // a space of valid configurations).
        model.kept.clear();
        let complete = &self.cache.complete;
        model.kept.extend(set.iter().filter_map(|&i| {
            let whole = complete[i] || group.params.iter().all(|&j| !columns[j][i].is_nan());
            whole.then_some(i as u32)
        }));
        let kept = &model.kept;
        let observations = Observations {
            epoch: self.cache.epoch,
            ids: kept,
        };
        let presorted = self.options.bandwidth == Bandwidth::Neighbor;
        let n = kept.len();
        let d = group.params.len();
        let value = |k: usize, i: u32| {
            let (j, spec) = (group.params[k], &group.specs[k]);
            let u = columns[j][i as usize];
            match spec {
                DimSpec::Categorical { .. } => model_value(&params[j].domain, u),
                _ => u,
            }
        };
        let sorted = |k: usize| presorted && !matches!(group.specs[k], DimSpec::Categorical { .. });
        // The trials added since the last fit (indices in the new order),
        // when that is all that changed.
        // (The estimator keeps the last fit's trials; the columns and orders
        // here were built for them.)
        let added = if model.columns.len() == d {
            model.estimator.added(observations)
        } else {
            None
        };
        let extend = added.is_some();
        let added = added.unwrap_or_default();
        // With trials added before the last one kept, the kept kernels'
        // indices move: `remap[o]` is old kernel `o`'s new index.
        let n_last = n - added.len();
        let remap: Vec<u32> = if extend && added[0] < n_last {
            let mut remap = Vec::with_capacity(n_last);
            let mut next_added = added.iter().peekable();
            for i in 0..n {
                if next_added.peek() == Some(&&i) {
                    next_added.next();
                } else {
                    remap.push(i as u32);
                }
            }
            remap
        } else {
            Vec::new()
        };
        model.columns.resize_with(d, Vec::new);
        model.orders.resize_with(d, Vec::new);
        // Per dimension: its column of values, and for the neighbour rule
        // its kernels in sorted order. Extended: the new trials' values are
        // added, each inserted in the order after every smaller value and
        // every equal one (their indices are smaller), as a sort by value,
        // ties by index, places it. Gathered: the order is filtered from the
        // cache's sorted trials (a set much smaller than the history, the
        // good one, is sorted directly instead: by value, ties by position,
        // the same order). Dimensions are independent: large sets are split
        // among threads, with the same results.
        let small = n * SMALL_SET < self.cache.numbers.len();
        if !extend {
            slot.resize(self.cache.numbers.len(), u32::MAX);
            for (k, &i) in kept.iter().enumerate() {
                slot[i as usize] = k as u32;
            }
        }
        let slot_ref = &*slot;
        let prepare = |k: usize, column: &mut Vec<f64>, order: &mut Vec<u32>| {
            if extend {
                for &idx in &added {
                    column.insert(idx, value(k, kept[idx]));
                }
                if sorted(k) {
                    if !remap.is_empty() {
                        for o in order.iter_mut() {
                            *o = remap[*o as usize];
                        }
                    }
                    for &idx in &added {
                        let v = column[idx];
                        let at = order.partition_point(|&o| {
                            let by_value = column[o as usize].total_cmp(&v);
                            by_value.is_lt() || (by_value.is_eq() && (o as usize) < idx)
                        });
                        order.insert(at, idx as u32);
                    }
                }
                return;
            }
            column.clear();
            column.extend(kept.iter().map(|&i| value(k, i)));
            order.clear();
            if !sorted(k) {
                return;
            }
            if small {
                order.extend(0..n as u32);
                order.sort_unstable_by(|&a, &b| {
                    column[a as usize]
                        .total_cmp(&column[b as usize])
                        .then(a.cmp(&b))
                });
            } else {
                let j = group.params[k];
                order.extend(self.cache.sorted[j].iter().filter_map(|&(_, pos)| {
                    let k = slot_ref[pos as usize];
                    (k != u32::MAX).then_some(k)
                }));
            }
        };
        // Sorting a small set costs a few comparisons per value.
        let units = if small && !extend { pool::FIT_UNITS } else { 1 };
        let threads = pool::threads_for(self.options.scoring_threads(), d, n * d * units);
        let mut parts: Vec<(&mut Vec<f64>, &mut Vec<u32>)> =
            model.columns.iter_mut().zip(&mut model.orders).collect();
        pool::for_each_mut(&mut parts, threads - 1, &|k, (column, order)| {
            prepare(k, column, order)
        });
        if !extend {
            for &i in kept {
                slot[i as usize] = u32::MAX;
            }
        }
        if self.options.recency_weights {
            recency_weights(n, &mut model.weights);
        } else {
            model.weights.clear();
            model.weights.resize(n, 1.0);
        }
        let column_refs: Vec<&[f64]> = model.columns.iter().map(Vec::as_slice).collect();
        let orders = presorted.then_some(&model.orders[..]);
        model.estimator.refit(
            &column_refs,
            &model.weights,
            &group.specs,
            self.config,
            orders,
            Some(observations),
        );
    }
}
