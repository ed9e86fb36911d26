//! Searching cells as one categorical per edge.
//!
//! [`CellExpansion`] wraps a searcher. For a space with cells it hands the
//! inner searcher an expanded space, where each cell `c` of `nodes` nodes is
//! replaced by the categoricals `c#1~0`, `c#2~0`, `c#2~1`, ... (one per edge,
//! the cell's ops as choices, the cell's condition on each), and a history
//! whose architecture strings are split the same way. The inner searcher's
//! suggestion is joined back into the strings. TPE and GP model each edge,
//! evolution mutates one edge, and none of them knows about cells.
//!
//! A suggestion holding a disconnected cell is skipped: it is added to the
//! expanded history as a running trial (so a deterministic searcher such as
//! Sobol moves on, and model-based ones spread out) and a fresh inner
//! searcher is asked again, up to [`MAX_DRAWS`] times. Fresh, because the
//! long-lived one caches its encoding of the history by trial number (TPE)
//! and must never see these made-up trials; the fresh one lives for this
//! call only. So the same space, history and RNG give the same suggestion in
//! a fresh process. (Sobol may then propose the point it skipped to again
//! for the next trial: its index is the history's length.) Without cells in
//! the space the wrapper passes the call through untouched.

use crate::cell::{arch_string, edges, is_connected, parse_arch};
use crate::domain::Domain;
use crate::{
    History, Observation, Param, Params, SearchError, SearchSpace, Searcher, StdRng, TrialState,
    Value,
};

/// How many suggestions are drawn before giving up on finding a connected
/// cell: far more than the spaces where most cells are connected need
/// (1 in 46 of NAS-Bench-201's cells is disconnected).
pub const MAX_DRAWS: usize = 1000;

/// One cell of the user's space and the names of its edge parameters.
#[derive(Debug, Clone)]
struct CellParam {
    name: String,
    nodes: usize,
    ops: Vec<String>,
    run_disconnected: bool,
    edge_names: Vec<String>,
}

/// A space with its cells expanded, and what is needed to go back.
#[derive(Debug, Clone)]
struct Expanded {
    original: SearchSpace,
    space: SearchSpace,
    cells: Vec<CellParam>,
}

/// The name of the parameter for the edge `source -> target` of cell `cell`.
pub fn edge_param_name(cell: &str, target: usize, source: usize) -> String {
    format!("{cell}#{target}~{source}")
}

impl Expanded {
    /// `None` when `space` has no cell.
    fn new(space: &SearchSpace) -> Result<Option<Expanded>, SearchError> {
        let mut cells = Vec::new();
        let mut params = Vec::with_capacity(space.len());
        for p in space.params() {
            let Domain::Cell {
                nodes,
                ops,
                run_disconnected,
            } = &p.domain
            else {
                params.push(p.clone());
                continue;
            };
            let mut edge_names = Vec::new();
            for (i, j) in edges(*nodes) {
                let name = edge_param_name(&p.name, i, j);
                params.push(Param {
                    name: name.clone(),
                    domain: Domain::choice(ops.iter().map(|op| Value::String(op.clone()))),
                    condition: p.condition.clone(),
                    grid_points: None,
                });
                edge_names.push(name);
            }
            cells.push(CellParam {
                name: p.name.clone(),
                nodes: *nodes,
                ops: ops.clone(),
                run_disconnected: *run_disconnected,
                edge_names,
            });
        }
        if cells.is_empty() {
            return Ok(None);
        }
        Ok(Some(Expanded {
            original: space.clone(),
            space: SearchSpace::new(params)?,
            cells,
        }))
    }

    /// The configuration with each cell's string split into its edges; a
    /// value that is not an architecture of the cell is left out.
    fn split(&self, params: &Params) -> Params {
        let mut out = params.clone();
        for cell in &self.cells {
            let Some(value) = out.remove(&cell.name) else {
                continue;
            };
            let Some(choice) = value
                .as_str()
                .and_then(|s| parse_arch(s, cell.nodes, &cell.ops))
            else {
                continue;
            };
            for (name, k) in cell.edge_names.iter().zip(choice) {
                out.insert(name.clone(), Value::String(cell.ops[k].clone()));
            }
        }
        out
    }

    /// The suggestion with each cell's edges joined into its string, and
    /// whether every cell in it may run.
    fn join(&self, mut params: Params) -> (Params, bool) {
        let mut runnable = true;
        for cell in &self.cells {
            let choice: Option<Vec<usize>> = cell
                .edge_names
                .iter()
                .map(|name| {
                    let value = params.remove(name)?;
                    cell.ops.iter().position(|op| value.as_str() == Some(op))
                })
                .collect();
            if let Some(choice) = choice {
                runnable &= cell.run_disconnected || is_connected(cell.nodes, &cell.ops, &choice);
                let text = arch_string(cell.nodes, &cell.ops, &choice);
                params.insert(cell.name.clone(), Value::String(text));
            }
        }
        (params, runnable)
    }
}

/// Builds a fresh inner searcher, the same each time.
type MakeSearcher = Box<dyn Fn() -> Box<dyn Searcher> + Send>;

/// A searcher that searches cells as one categorical per edge (see the
/// module docs).
pub struct CellExpansion {
    make: MakeSearcher,
    inner: Box<dyn Searcher>,
    /// The last expansion, reused while the space stays the same.
    expanded: Option<Expanded>,
}

impl CellExpansion {
    /// Wraps the searcher `make` builds; `make` is called again for a fresh
    /// one whenever a suggestion holds a disconnected cell.
    pub fn new(make: impl Fn() -> Box<dyn Searcher> + Send + 'static) -> Self {
        CellExpansion {
            inner: make(),
            make: Box::new(make),
            expanded: None,
        }
    }
}

impl Searcher for CellExpansion {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        if !space
            .params()
            .iter()
            .any(|p| matches!(p.domain, Domain::Cell { .. }))
        {
            return self.inner.suggest(space, history, rng);
        }
        if self.expanded.as_ref().is_none_or(|e| &e.original != space) {
            self.expanded = Expanded::new(space)?;
        }
        let Some(expanded) = &self.expanded else {
            return self.inner.suggest(space, history, rng);
        };
        let mut split = History {
            direction: history.direction,
            trials: history
                .trials
                .iter()
                .map(|t| Observation {
                    params: expanded.split(&t.params),
                    ..t.clone()
                })
                .collect(),
        };
        let first = self.inner.suggest(&expanded.space, &split, rng)?;
        let (joined, runnable) = expanded.join(first.clone());
        if runnable {
            return Ok(joined);
        }
        let mut retry = (self.make)();
        let mut suggestion = first;
        for _ in 1..MAX_DRAWS {
            let number = split.trials.last().map_or(0, |t| t.number + 1);
            split.trials.push(Observation {
                number,
                params: suggestion,
                state: TrialState::Running,
                value: None,
                intermediate: Vec::new(),
                duration_ms: None,
            });
            suggestion = retry.suggest(&expanded.space, &split, rng)?;
            let (joined, runnable) = expanded.join(suggestion.clone());
            if runnable {
                return Ok(joined);
            }
        }
        Err(SearchError::Unsupported {
            searcher: self.inner.name().to_owned(),
            message: format!(
                "no cell with a path from input to output in {MAX_DRAWS} draws; \
                 set `run_disconnected` to run such cells"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::RandomSearcher;
    use rand::SeedableRng;

    fn space() -> SearchSpace {
        SearchSpace::new(vec![
            Param::new("lr", Domain::float(0.1, 1.0)),
            Param::new("cell", Domain::cell(3, ["none", "conv"])),
        ])
        .unwrap()
    }

    #[test]
    fn split_and_join_are_inverse() {
        let e = Expanded::new(&space()).unwrap().unwrap();
        let names: Vec<&str> = e.space.params().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["lr", "cell#1~0", "cell#2~0", "cell#2~1"]);
        let mut p = Params::default();
        p.insert("lr", Value::from(0.5));
        p.insert("cell", Value::from("|conv~0|+|none~0|conv~1|"));
        let split = e.split(&p);
        assert_eq!(split.get("cell#2~0"), Some(&Value::from("none")));
        assert_eq!(e.join(split), (p, true));
    }

    #[test]
    fn only_connected_cells_are_proposed() {
        let space = space();
        let mut searcher = CellExpansion::new(|| Box::new(RandomSearcher::new()));
        let history = History::default();
        for seed in 0..200 {
            let mut rng = StdRng::seed_from_u64(seed);
            let p = searcher.suggest(&space, &history, &mut rng).unwrap();
            assert!(space.admits(&p), "{p:?}");
            let text = p.get("cell").and_then(Value::as_str).unwrap();
            let choice = parse_arch(text, 3, &["none", "conv"]).unwrap();
            assert!(is_connected(3, &["none", "conv"], &choice), "{text}");
        }
    }

    #[test]
    fn a_space_of_only_disconnected_cells_is_an_error() {
        let space = SearchSpace::new(vec![Param::new("cell", Domain::cell(3, ["none"]))]).unwrap();
        let mut searcher = CellExpansion::new(|| Box::new(RandomSearcher::new()));
        let err = searcher
            .suggest(&space, &History::default(), &mut StdRng::seed_from_u64(0))
            .unwrap_err();
        assert!(err.to_string().contains("run_disconnected"), "{err}");
        let runs = SearchSpace::new(vec![Param::new(
            "cell",
            Domain::cell(3, ["none"]).run_disconnected(),
        )])
        .unwrap();
        let p = searcher
            .suggest(&runs, &History::default(), &mut StdRng::seed_from_u64(0))
            .unwrap();
        assert_eq!(
            p.get("cell"),
            Some(&Value::from("|none~0|+|none~0|none~1|"))
        );
    }
}
