//! The search space: an ordered list of parameters, each with a domain and an
//! optional condition on a categorical parent.
//!
//! A space is validated once, when it is built ([`SearchSpace::new`]); after
//! that every searcher may assume bounds are ordered, log ranges positive,
//! parents exist, are categorical, and come before their children (so one pass
//! in order decides which parameters are active).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cell::{MAX_CELL_NODES, RESERVED_CHARS};
use crate::domain::{Domain, MAX_EXACT_INT, MAX_STEPPED_VALUES};
use crate::error::SearchError;
use crate::params::Params;

/// Makes a parameter active only when its categorical `parent` took one of
/// `values`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Name of the parent parameter (categorical).
    pub parent: String,
    /// Values of the parent under which the child is active.
    pub values: Vec<Value>,
}

/// One named parameter of a search space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Name, dotted for nested groups (`model.width`).
    pub name: String,
    /// The values it can take.
    pub domain: Domain,
    /// When present, the parameter exists only under this condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// For the grid searcher: how many evenly spaced points (in the encoded
    /// scale) a continuous domain contributes. Ignored by other searchers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_points: Option<usize>,
}

impl Param {
    /// An unconditional parameter.
    pub fn new(name: impl Into<String>, domain: Domain) -> Self {
        Param {
            name: name.into(),
            domain,
            condition: None,
            grid_points: None,
        }
    }

    /// The same parameter, active only when `parent` is one of `values`.
    pub fn when(mut self, parent: impl Into<String>, values: Vec<Value>) -> Self {
        self.condition = Some(Condition {
            parent: parent.into(),
            values,
        });
        self
    }
}

/// A validated, ordered list of parameters; parents precede their children.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchSpace {
    params: Vec<Param>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl<'de> Deserialize<'de> for SearchSpace {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            params: Vec<Param>,
        }
        let raw = Raw::deserialize(deserializer)?;
        SearchSpace::new(raw.params).map_err(serde::de::Error::custom)
    }
}

impl SearchSpace {
    /// Validates `params` and orders them so that every parent precedes its
    /// children (otherwise keeping the given order).
    ///
    /// Errors name the parameter (`parameters.NAME...`) and what was expected.
    pub fn new(params: Vec<Param>) -> Result<Self, SearchError> {
        let mut seen = HashSet::new();
        for p in &params {
            if !seen.insert(p.name.as_str()) {
                return Err(SearchError::invalid(
                    format!("parameters.{}", p.name),
                    "duplicate parameter name",
                ));
            }
            validate_domain(&p.name, &p.domain)?;
        }
        let by_name: HashMap<&str, &Param> = params.iter().map(|p| (p.name.as_str(), p)).collect();
        for p in &params {
            if let Some(c) = &p.condition {
                let path = format!("parameters.{}.when.{}", p.name, c.parent);
                let parent = by_name.get(c.parent.as_str()).ok_or_else(|| {
                    SearchError::invalid(&path, format!("no parameter named `{}`", c.parent))
                })?;
                if !parent.domain.is_categorical() {
                    return Err(SearchError::invalid(
                        &path,
                        format!("parent `{}` must be categorical (`values`)", c.parent),
                    ));
                }
                if c.values.is_empty() {
                    return Err(SearchError::invalid(
                        &path,
                        "expected at least one parent value",
                    ));
                }
                for v in &c.values {
                    if !parent.domain.contains(v) {
                        return Err(SearchError::invalid(
                            &path,
                            format!("`{v}` is not one of the values of `{}`", c.parent),
                        ));
                    }
                }
            }
        }
        let ordered = topological_order(params)?;
        let index = ordered
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        Ok(SearchSpace {
            params: ordered,
            index,
        })
    }

    /// The parameters, parents before children.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// True when the space has no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Position of a parameter by name.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// A parameter by name.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.position(name).map(|i| &self.params[i])
    }

    /// True when the space has at least one conditional parameter.
    pub fn has_conditions(&self) -> bool {
        self.params.iter().any(|p| p.condition.is_some())
    }

    /// Whether `param` is active given the (possibly partial) `params`
    /// already chosen for its ancestors.
    pub fn is_active(&self, param: &Param, params: &Params) -> bool {
        match &param.condition {
            None => true,
            Some(c) => params.get(&c.parent).is_some_and(|v| c.values.contains(v)),
        }
    }

    /// Builds a full configuration from one coordinate per parameter, in the
    /// order of [`SearchSpace::params`]; inactive parameters are left out.
    pub fn decode(&self, coords: &[f64]) -> Params {
        let mut out = Params::default();
        for (p, &u) in self.params.iter().zip(coords) {
            if self.is_active(p, &out) {
                out.insert(p.name.clone(), p.domain.decode(u));
            }
        }
        out
    }

    /// Coordinates of a configuration, one per parameter; `None` for
    /// parameters that are absent (inactive) or hold a foreign value.
    pub fn encode(&self, params: &Params) -> Vec<Option<f64>> {
        self.params
            .iter()
            .map(|p| params.get(&p.name).and_then(|v| p.domain.encode(v)))
            .collect()
    }

    /// True when `params` holds exactly the active parameters, each with a
    /// value in its domain.
    pub fn admits(&self, params: &Params) -> bool {
        let mut active = 0;
        for p in &self.params {
            match (self.is_active(p, params), params.get(&p.name)) {
                (true, Some(v)) if p.domain.contains(v) => active += 1,
                (false, None) => {}
                _ => return false,
            }
        }
        active == params.len()
    }
}

fn validate_domain(name: &str, domain: &Domain) -> Result<(), SearchError> {
    let path = |field: &str| format!("parameters.{name}.{field}");
    let finite = |field: &str, x: f64| {
        if x.is_finite() {
            Ok(())
        } else {
            Err(SearchError::invalid(
                path(field),
                format!("expected a finite number, got {x}"),
            ))
        }
    };
    match domain {
        Domain::Float {
            low,
            high,
            log,
            step,
        } => {
            finite("min", *low)?;
            finite("max", *high)?;
            if low > high {
                return Err(SearchError::invalid(
                    path("max"),
                    format!("expected max >= min, got min {low} > max {high}"),
                ));
            }
            if *log && *low <= 0.0 {
                return Err(SearchError::invalid(
                    path("min"),
                    format!("a log range must be positive, got min {low}"),
                ));
            }
            if !(high - low).is_finite() {
                return Err(SearchError::invalid(
                    path("max"),
                    format!("the range [{low}, {high}] is too wide: its width overflows"),
                ));
            }
            if let Some(step) = step {
                validate_float_step(&path("step"), *low, *high, *step)?;
            }
        }
        Domain::Int {
            low,
            high,
            log,
            step,
        } => {
            for (field, x) in [("min", low), ("max", high)] {
                if x.unsigned_abs() > MAX_EXACT_INT.unsigned_abs() {
                    return Err(SearchError::invalid(
                        path(field),
                        format!(
                            "{x} is beyond ±2^53 ({MAX_EXACT_INT}), the largest integers \
                             the searchers represent exactly"
                        ),
                    ));
                }
            }
            if low > high {
                return Err(SearchError::invalid(
                    path("max"),
                    format!("expected max >= min, got min {low} > max {high}"),
                ));
            }
            if *log && *low < 1 {
                return Err(SearchError::invalid(
                    path("min"),
                    format!("a log integer range must start at 1 or above, got min {low}"),
                ));
            }
            if step.is_some_and(|s| s < 1) {
                return Err(SearchError::invalid(
                    path("step"),
                    "expected an integer step >= 1",
                ));
            }
        }
        Domain::Normal { mu, sigma, q, log } => {
            finite("mu", *mu)?;
            if !(sigma.is_finite() && *sigma > 0.0) {
                return Err(SearchError::invalid(path("sigma"), "expected sigma > 0"));
            }
            if q.is_some_and(|q| !(q.is_finite() && q > 0.0)) {
                return Err(SearchError::invalid(path("q"), "expected q > 0"));
            }
            // Decoding reaches `NORMAL_REACH` standard deviations; the value
            // there (its exp for a log normal, its multiple of q) must be a
            // finite number.
            let reach = mu.abs() + NORMAL_REACH * sigma;
            let top = if *log { reach.exp() } else { reach };
            if !top.is_finite() {
                return Err(SearchError::invalid(
                    path("sigma"),
                    format!(
                        "mu {mu} and sigma {sigma} give values that overflow a float{}",
                        if *log { " (after exp)" } else { "" }
                    ),
                ));
            }
            if let Some(q) = q.filter(|q| !(top / q).is_finite()) {
                return Err(SearchError::invalid(
                    path("q"),
                    format!("q {q} is too small for values up to {top:e}"),
                ));
            }
        }
        Domain::Categorical {
            choices,
            probabilities,
        } => {
            if choices.is_empty() {
                return Err(SearchError::invalid(
                    path("values"),
                    "expected at least one value",
                ));
            }
            if let Some(p) = probabilities {
                if p.len() != choices.len() {
                    return Err(SearchError::invalid(
                        path("probabilities"),
                        format!(
                            "expected {} probabilities, one per value, got {}",
                            choices.len(),
                            p.len()
                        ),
                    ));
                }
                if p.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
                    return Err(SearchError::invalid(
                        path("probabilities"),
                        "expected probabilities >= 0",
                    ));
                }
                let sum: f64 = p.iter().sum();
                if (sum - 1.0).abs() > 1e-6 {
                    return Err(SearchError::invalid(
                        path("probabilities"),
                        format!("expected probabilities that sum to 1, got {sum}"),
                    ));
                }
            }
        }
        Domain::Const { .. } => {}
        Domain::Cell { nodes, ops, .. } => validate_cell(&path, *nodes, ops)?,
    }
    Ok(())
}

/// A cell has 2 to [`MAX_CELL_NODES`] nodes and distinct, non-empty op
/// names free of the characters that delimit the architecture string.
fn validate_cell(
    path: &dyn Fn(&str) -> String,
    nodes: usize,
    ops: &[String],
) -> Result<(), SearchError> {
    if !(2..=MAX_CELL_NODES).contains(&nodes) {
        return Err(SearchError::invalid(
            path("nodes"),
            format!("expected 2 to {MAX_CELL_NODES} nodes, got {nodes}"),
        ));
    }
    if ops.is_empty() {
        return Err(SearchError::invalid(
            path("ops"),
            "expected at least one op",
        ));
    }
    for (i, op) in ops.iter().enumerate() {
        let at = path(&format!("ops[{i}]"));
        if op.is_empty() || op.contains(RESERVED_CHARS) {
            return Err(SearchError::invalid(
                at,
                format!("an op name must be non-empty and hold none of `|`, `~`, `+`: `{op}`"),
            ));
        }
        if ops[..i].contains(op) {
            return Err(SearchError::invalid(at, format!("duplicate op `{op}`")));
        }
    }
    Ok(())
}

/// How many standard deviations from `mu` a normal domain decodes to at
/// most (`norm_ppf` of the unit margin is about 7.03).
const NORMAL_REACH: f64 = 8.0;

/// A float step that gives at most [`MAX_STEPPED_VALUES`] values, each a
/// distinct float (`min + k * step` changes with `k`).
fn validate_float_step(path: &str, low: f64, high: f64, step: f64) -> Result<(), SearchError> {
    if !(step.is_finite() && step > 0.0) {
        return Err(SearchError::invalid(path, "expected a step > 0"));
    }
    let values = (high - low) / step;
    if values.is_nan() || values > MAX_STEPPED_VALUES {
        return Err(SearchError::invalid(
            path,
            format!(
                "step {step} over [{low}, {high}] gives {values:e} values, more than the \
                 2^52 a float range can tell apart"
            ),
        ));
    }
    // The spacing of floats near the larger bound: a step below a few of
    // those would make neighbouring values equal after rounding.
    let spacing = low.abs().max(high.abs()) * f64::EPSILON;
    if step < 4.0 * spacing {
        return Err(SearchError::invalid(
            path,
            format!("step {step} is below the precision of floats near {high}"),
        ));
    }
    Ok(())
}

/// Orders parameters so parents come first; a cycle is an error naming one of
/// the parameters on it.
fn topological_order(params: Vec<Param>) -> Result<Vec<Param>, SearchError> {
    let n = params.len();
    let position: HashMap<String, usize> = params
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.clone(), i))
        .collect();
    let parent_of: Vec<Option<usize>> = params
        .iter()
        .map(|p| {
            p.condition
                .as_ref()
                .and_then(|c| position.get(&c.parent).copied())
        })
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = placed.
    let mut mark = vec![0u8; n];
    let mut order = Vec::with_capacity(n);
    for start in 0..n {
        let mut chain = Vec::new();
        let mut cur = Some(start);
        while let Some(i) = cur {
            match mark[i] {
                2 => break,
                1 => {
                    return Err(SearchError::invalid(
                        format!("parameters.{}.when", params[i].name),
                        "conditions form a cycle",
                    ));
                }
                _ => {
                    mark[i] = 1;
                    chain.push(i);
                    cur = parent_of[i];
                }
            }
        }
        for &i in chain.iter().rev() {
            mark[i] = 2;
            order.push(i);
        }
    }
    let mut slots: Vec<Option<Param>> = params.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cat(values: &[&str]) -> Domain {
        Domain::Categorical {
            choices: values.iter().map(|v| json!(v)).collect(),
            probabilities: None,
        }
    }

    #[test]
    fn children_are_ordered_after_parents() {
        let space = SearchSpace::new(vec![
            Param::new(
                "lr",
                Domain::Float {
                    low: 0.1,
                    high: 1.0,
                    log: false,
                    step: None,
                },
            )
            .when("opt", vec![json!("sgd")]),
            Param::new("opt", cat(&["sgd", "adam"])),
        ])
        .unwrap();
        assert_eq!(space.params()[0].name, "opt");
        let adam = space.decode(&[0.9, 0.5]);
        assert_eq!(adam.len(), 1);
        assert!(space.admits(&adam));
    }

    #[test]
    fn cyclic_conditions_are_rejected() {
        let err = SearchSpace::new(vec![
            Param::new("a", cat(&["x"])).when("b", vec![json!("y")]),
            Param::new("b", cat(&["y"])).when("a", vec![json!("x")]),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("cycle"), "{err}");
    }

    #[test]
    fn condition_on_continuous_parent_is_rejected() {
        let err = SearchSpace::new(vec![
            Param::new(
                "a",
                Domain::Float {
                    low: 0.0,
                    high: 1.0,
                    log: false,
                    step: None,
                },
            ),
            Param::new("b", cat(&["y"])).when("a", vec![json!(0.5)]),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("parameters.b.when.a"), "{err}");
    }
}
