//! Grid search: every combination of the parameters' discrete values, each
//! proposed exactly once, in a fixed order.
//!
//! Each parameter contributes an axis of values: categorical choices, a
//! constant, every admissible integer or stepped float, or, when the
//! parameter sets `grid_points = n`, n points evenly spaced in its encoded
//! scale (so log domains get log-spaced points; normal domains get the n
//! quantile midpoints). The grid is the union over the branches of the
//! conditional tree: a point holds only the parameters active under its
//! parents' values, so an inactive child is not multiplied in. Points are
//! visited like an odometer over the active axes, the last parameter turning
//! fastest (the order of W&B's and Optuna's grids).
//!
//! The searcher keeps no cursor: the next point is the first one in that
//! order that the history does not hold, whatever the trial's state, so a
//! resumed study or a pool of workers with running trials never repeats a
//! point. History values are matched by index on the axis (stepped values by
//! their bucket, listed numbers within 1e-9 in the encoded scale), not by
//! float equality. Cost per suggestion: O(H d) to index the H trials of the
//! history in a hash set, then O(d) per taken point skipped, at most H + 1
//! steps; the size of the grid does not enter. A cell is one axis of all
//! its architectures, by number; disconnected ones are stepped over (not
//! proposed) unless the domain runs them, which adds their count to the
//! steps.

use std::collections::HashSet;

use serde_json::Value;

use crate::cell;
use crate::domain::Domain;
use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng};

/// The largest cell axis whose disconnected cells [`GridSearcher::total_points`]
/// subtracts (one connectivity check per architecture).
const MAX_COUNTED_CELLS: usize = 1 << 20;

/// Marks an inactive parameter in a point's key.
const INACTIVE: usize = usize::MAX;

/// How close, in the encoded scale, a history number must be to a listed
/// grid value to count as that value.
const LISTED_TOLERANCE: f64 = 1e-9;

/// Every combination of discrete values, once each.
#[derive(Debug, Default, Clone)]
pub struct GridSearcher {}

impl GridSearcher {
    /// A new searcher; it keeps no state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of points in the grid of `space` (for progress bars), not
    /// counting the disconnected cells it skips; `Unsupported` when a parameter has no finite set of values or the
    /// count does not fit in `usize`.
    pub fn total_points(space: &SearchSpace) -> Result<usize, SearchError> {
        Grid::new(space)?.total()
    }
}

impl Searcher for GridSearcher {
    fn name(&self) -> &str {
        "grid"
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        _rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        let grid = Grid::new(space)?;
        let taken: HashSet<Vec<usize>> = history
            .trials
            .iter()
            .filter_map(|t| grid.key_of(&t.params))
            .collect();
        let mut key = grid.first();
        while taken.contains(&key) || grid.skips(&key) {
            if !grid.advance(&mut key) {
                return Err(SearchError::Exhausted {
                    total: grid.total().unwrap_or(usize::MAX),
                });
            }
        }
        Ok(grid.params_of(&key))
    }
}

/// The values one parameter takes on the grid.
#[derive(Debug)]
enum Values {
    /// `count` integers `low + k * step`.
    IntSteps { low: i64, step: i64, count: usize },
    /// `count` stepped floats, the bucket values of the domain's encoding.
    FloatSteps { count: usize },
    /// The `count` architectures of a cell, by their number (see
    /// [`crate::cell::arch_index`]); `skip_disconnected` unless the domain
    /// runs them.
    Cells {
        nodes: usize,
        count: usize,
        skip_disconnected: bool,
    },
    /// An explicit list (choices, a constant, `grid_points`), with each
    /// value's encoded coordinate for tolerant matching of numbers.
    Listed {
        values: Vec<Value>,
        coords: Vec<Option<f64>>,
    },
}

/// One parameter's axis.
#[derive(Debug)]
struct Axis<'a> {
    name: &'a str,
    domain: &'a Domain,
    values: Values,
    /// Position of the parent, and for each of its value indices whether
    /// this parameter is active under it.
    parent: Option<(usize, Vec<bool>)>,
}

/// The grid of a space: one axis per parameter, in the space's order.
#[derive(Debug)]
struct Grid<'a> {
    axes: Vec<Axis<'a>>,
}

impl<'a> Grid<'a> {
    fn new(space: &'a SearchSpace) -> Result<Self, SearchError> {
        let mut axes: Vec<Axis<'a>> = Vec::with_capacity(space.len());
        for p in space.params() {
            let values = axis_values(&p.name, &p.domain, p.grid_points)?;
            let parent = match &p.condition {
                None => None,
                Some(c) => {
                    // A validated space puts parents first, and they are
                    // categorical, hence listed.
                    let at = space
                        .position(&c.parent)
                        .filter(|&at| at < axes.len())
                        .ok_or_else(|| unsupported(format!("`{}` has no parent", p.name)))?;
                    let Values::Listed { values, .. } = &axes[at].values else {
                        return Err(unsupported(format!("`{}` is not categorical", c.parent)));
                    };
                    let under = values.iter().map(|v| c.values.contains(v)).collect();
                    Some((at, under))
                }
            };
            axes.push(Axis {
                name: &p.name,
                domain: &p.domain,
                values,
                parent,
            });
        }
        Ok(Grid { axes })
    }

    /// Number of points: a parameter's subtree has, per value, the product of
    /// the subtrees of the children active under it; the grid is the product
    /// of the roots' subtrees.
    fn total(&self) -> Result<usize, SearchError> {
        let n = self.axes.len();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, axis) in self.axes.iter().enumerate() {
            if let Some((p, _)) = axis.parent {
                children[p].push(i);
            }
        }
        let too_many = || unsupported("the grid has more points than fit in usize".into());
        let mut subtree = vec![0usize; n];
        // Children come after their parents, so going backwards sees them first.
        for i in (0..n).rev() {
            let axis = &self.axes[i];
            subtree[i] = if children[i].is_empty() {
                axis.proposed_len()
            } else {
                let mut sum = 0usize;
                for k in (0..axis.len()).filter(|&k| !axis.skips(k)) {
                    let mut product = 1usize;
                    for &c in &children[i] {
                        if self.is_active_under(c, k) {
                            product = product.checked_mul(subtree[c]).ok_or_else(too_many)?;
                        }
                    }
                    sum = sum.checked_add(product).ok_or_else(too_many)?;
                }
                sum
            };
        }
        let mut total = 1usize;
        for (i, axis) in self.axes.iter().enumerate() {
            if axis.parent.is_none() {
                total = total.checked_mul(subtree[i]).ok_or_else(too_many)?;
            }
        }
        Ok(total)
    }

    fn is_active_under(&self, child: usize, parent_value: usize) -> bool {
        self.axes[child]
            .parent
            .as_ref()
            .is_some_and(|(_, under)| under.get(parent_value).copied().unwrap_or(false))
    }

    fn is_active(&self, i: usize, key: &[usize]) -> bool {
        match &self.axes[i].parent {
            None => true,
            Some((p, under)) => key[*p] != INACTIVE && under[key[*p]],
        }
    }

    /// The first point: every active parameter at its first value.
    fn first(&self) -> Vec<usize> {
        let mut key = vec![INACTIVE; self.axes.len()];
        self.reset_from(&mut key, 0);
        key
    }

    fn reset_from(&self, key: &mut [usize], from: usize) {
        for i in from..self.axes.len() {
            key[i] = if self.is_active(i, key) { 0 } else { INACTIVE };
        }
    }

    /// Steps `key` to the next point, like an odometer whose later digits
    /// turn faster; a digit that turns re-decides which later parameters are
    /// active. False when `key` was the last point.
    fn advance(&self, key: &mut [usize]) -> bool {
        for i in (0..self.axes.len()).rev() {
            if key[i] != INACTIVE && key[i] + 1 < self.axes[i].len() {
                key[i] += 1;
                self.reset_from(key, i + 1);
                return true;
            }
        }
        false
    }

    /// The grid point a configuration is, if it is one: its active
    /// parameters (and no others of the space) sit on the axes.
    fn key_of(&self, params: &Params) -> Option<Vec<usize>> {
        let mut key = vec![INACTIVE; self.axes.len()];
        for (i, axis) in self.axes.iter().enumerate() {
            match (self.is_active(i, &key), params.get(axis.name)) {
                (true, Some(v)) => key[i] = axis.index_of(v)?,
                (false, None) => {}
                _ => return None,
            }
        }
        Some(key)
    }

    /// True when the point holds a value no searcher proposes (a
    /// disconnected cell).
    fn skips(&self, key: &[usize]) -> bool {
        self.axes
            .iter()
            .zip(key)
            .any(|(axis, &k)| k != INACTIVE && axis.skips(k))
    }

    fn params_of(&self, key: &[usize]) -> Params {
        self.axes
            .iter()
            .zip(key)
            .filter(|&(_, &k)| k != INACTIVE)
            .map(|(axis, &k)| (axis.name.to_owned(), axis.value(k)))
            .collect()
    }
}

impl Axis<'_> {
    fn len(&self) -> usize {
        match &self.values {
            Values::IntSteps { count, .. }
            | Values::FloatSteps { count }
            | Values::Cells { count, .. } => *count,
            Values::Listed { values, .. } => values.len(),
        }
    }

    /// How many of the axis's values the grid proposes: all but the
    /// disconnected cells it skips (counted up to [`MAX_COUNTED_CELLS`]
    /// architectures; a larger cell axis counts them all).
    fn proposed_len(&self) -> usize {
        match &self.values {
            Values::Cells {
                count,
                skip_disconnected: true,
                ..
            } if *count <= MAX_COUNTED_CELLS => (0..*count).filter(|&k| !self.skips(k)).count(),
            _ => self.len(),
        }
    }

    fn value(&self, k: usize) -> Value {
        match &self.values {
            Values::IntSteps { low, step, .. } => {
                // Within [low, high] for k < count, so it fits an i64.
                let x = i128::from(*low) + k as i128 * i128::from(*step);
                i64::try_from(x).map_or(Value::Null, Value::from)
            }
            // The bucket centre decodes to `low + k * step`, cleaned of
            // representation noise exactly as every other searcher's values.
            Values::FloatSteps { count } => self.domain.decode((k as f64 + 0.5) / *count as f64),
            Values::Cells { nodes, .. } => match self.domain {
                Domain::Cell { ops, .. } => {
                    let choice = cell::arch_of_index(k as u128, *nodes, ops.len());
                    Value::String(cell::arch_string(*nodes, ops, &choice))
                }
                _ => Value::Null,
            },
            Values::Listed { values, .. } => values[k].clone(),
        }
    }

    /// True when value `k` of this axis is a disconnected cell the grid
    /// must not propose.
    fn skips(&self, k: usize) -> bool {
        match (&self.values, self.domain) {
            (
                Values::Cells {
                    nodes,
                    skip_disconnected: true,
                    ..
                },
                Domain::Cell { ops, .. },
            ) => !cell::is_connected(
                *nodes,
                ops,
                &cell::arch_of_index(k as u128, *nodes, ops.len()),
            ),
            _ => false,
        }
    }

    fn index_of(&self, v: &Value) -> Option<usize> {
        match &self.values {
            Values::IntSteps { low, step, count } => {
                let x = v
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| v.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i128))?;
                let offset = x - i128::from(*low);
                let k = offset / i128::from(*step);
                (offset >= 0 && offset % i128::from(*step) == 0 && k < *count as i128)
                    .then_some(k as usize)
            }
            Values::FloatSteps { count } => {
                let Domain::Float {
                    low,
                    step: Some(step),
                    ..
                } = self.domain
                else {
                    return None;
                };
                let x = v.as_f64()?;
                self.domain
                    .contains(v)
                    .then(|| (((x - low) / step).round().max(0.0) as usize).min(count - 1))
            }
            Values::Cells { nodes, count, .. } => {
                let Domain::Cell { ops, .. } = self.domain else {
                    return None;
                };
                let choice = cell::parse_arch(v.as_str()?, *nodes, ops)?;
                let k = usize::try_from(cell::arch_index(&choice, ops.len())?).ok()?;
                (k < *count).then_some(k)
            }
            Values::Listed { values, coords } => {
                if let Some(k) = values.iter().position(|x| x == v) {
                    return Some(k);
                }
                let u = v.as_f64().and_then(|_| self.domain.encode(v))?;
                coords
                    .iter()
                    .position(|c| c.is_some_and(|c| (c - u).abs() <= LISTED_TOLERANCE))
            }
        }
    }
}

fn unsupported(message: String) -> SearchError {
    SearchError::Unsupported {
        searcher: "grid".into(),
        message,
    }
}

/// The axis of one parameter; `Unsupported` for a continuous domain without
/// `step` or `grid_points`.
fn axis_values(
    name: &str,
    domain: &Domain,
    grid_points: Option<usize>,
) -> Result<Values, SearchError> {
    let listed = |values: Vec<Value>| {
        let mut distinct: Vec<Value> = Vec::with_capacity(values.len());
        for v in values {
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        let coords = distinct.iter().map(|v| domain.encode(v)).collect();
        Values::Listed {
            values: distinct,
            coords,
        }
    };
    match (domain, grid_points) {
        (Domain::Categorical { choices, .. }, _) => Ok(listed(choices.clone())),
        (Domain::Const { value }, _) => Ok(listed(vec![value.clone()])),
        (
            Domain::Cell {
                nodes,
                ops,
                run_disconnected,
            },
            _,
        ) => match cell::arch_count(*nodes, ops.len()) {
            usize::MAX => Err(unsupported(format!(
                "parameter `{name}` has more architectures than fit in usize"
            ))),
            count => Ok(Values::Cells {
                nodes: *nodes,
                count,
                skip_disconnected: !run_disconnected,
            }),
        },
        (_, Some(0)) => Err(unsupported(format!(
            "parameter `{name}`: grid_points must be at least 1"
        ))),
        (_, Some(n)) => {
            let normal = matches!(domain, Domain::Normal { .. });
            let coordinate = |j: usize| match n {
                1 => 0.5,
                // A normal's ends are infinite: take the quantile midpoints.
                _ if normal => (j as f64 + 0.5) / n as f64,
                _ => j as f64 / (n - 1) as f64,
            };
            // Rounding (ints, steps, q) can merge neighbours; `listed` keeps
            // the first of each.
            Ok(listed(
                (0..n).map(|j| domain.decode(coordinate(j))).collect(),
            ))
        }
        (
            Domain::Int {
                low, high, step, ..
            },
            None,
        ) => {
            let step = step.unwrap_or(1).max(1);
            let count = (i128::from(*high) - i128::from(*low)) / i128::from(step) + 1;
            let count = usize::try_from(count).map_err(|_| {
                unsupported(format!(
                    "parameter `{name}` has more values than fit in usize"
                ))
            })?;
            Ok(Values::IntSteps {
                low: *low,
                step,
                count,
            })
        }
        (Domain::Float { step: Some(_), .. }, None) => Ok(Values::FloatSteps {
            count: domain.cardinality().unwrap_or(1).max(1),
        }),
        (Domain::Float { .. } | Domain::Normal { .. }, None) => Err(unsupported(format!(
            "parameter `{name}` is continuous: give it a `step` or `grid_points`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Observation, Param, TrialState};
    use rand::SeedableRng;
    use serde_json::json;

    fn cat(values: &[&str]) -> Domain {
        Domain::Categorical {
            choices: values.iter().map(|v| json!(v)).collect(),
            probabilities: None,
        }
    }

    fn run_to_exhaustion(space: &SearchSpace, history: &mut History) -> Vec<Params> {
        let mut grid = GridSearcher::new();
        let mut rng = StdRng::seed_from_u64(0);
        let mut out = Vec::new();
        loop {
            match grid.suggest(space, history, &mut rng) {
                Ok(p) => {
                    history.upsert(Observation {
                        number: history.trials.len() as u64,
                        params: p.clone(),
                        state: TrialState::Running,
                        value: None,
                        intermediate: Vec::new(),
                        duration_ms: None,
                    });
                    out.push(p);
                }
                Err(SearchError::Exhausted { total }) => {
                    assert_eq!(total, history.trials.len());
                    return out;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn conditional_grid_is_the_union_of_branches() {
        let space = SearchSpace::new(vec![
            Param::new("opt", cat(&["sgd", "adam"])),
            Param::new("momentum", cat(&["0.0", "0.9"])).when("opt", vec![json!("sgd")]),
            Param::new("beta", cat(&["a", "b", "c"])).when("opt", vec![json!("adam")]),
            Param::new(
                "layers",
                Domain::Int {
                    low: 1,
                    high: 2,
                    log: false,
                    step: None,
                },
            ),
        ])
        .unwrap();
        // sgd: 2 momenta x 2 layers; adam: 3 betas x 2 layers.
        assert_eq!(GridSearcher::total_points(&space).unwrap(), 10);
        let points = run_to_exhaustion(&space, &mut History::default());
        assert_eq!(points.len(), 10);
        assert_eq!(points[0].as_map().len(), 3);
        assert!(points.iter().all(|p| space.admits(p)));
    }

    #[test]
    fn log_grid_points_are_log_spaced() {
        let mut p = Param::new(
            "lr",
            Domain::Float {
                low: 1e-4,
                high: 1.0,
                log: true,
                step: None,
            },
        );
        p.grid_points = Some(5);
        let space = SearchSpace::new(vec![p]).unwrap();
        let got: Vec<f64> = run_to_exhaustion(&space, &mut History::default())
            .iter()
            .map(|p| p.f64("lr").unwrap())
            .collect();
        assert_eq!(got, [1e-4, 1e-3, 1e-2, 1e-1, 1.0]);
    }

    #[test]
    fn continuous_float_without_grid_points_is_named() {
        let space = SearchSpace::new(vec![Param::new(
            "lr",
            Domain::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: None,
            },
        )])
        .unwrap();
        let err = GridSearcher::total_points(&space).unwrap_err();
        assert!(err.to_string().contains("`lr`"), "{err}");
    }

    #[test]
    fn history_values_match_by_bucket_not_float_equality() {
        let space = SearchSpace::new(vec![Param::new(
            "x",
            Domain::Float {
                low: 0.1,
                high: 0.3,
                log: false,
                step: Some(0.1),
            },
        )])
        .unwrap();
        let grid = Grid::new(&space).unwrap();
        let noisy: Params = [("x".to_owned(), json!(0.1 + 0.2))].into_iter().collect();
        assert_eq!(grid.key_of(&noisy), Some(vec![2]));
    }
}
