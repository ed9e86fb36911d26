//! The GP's input space: one coordinate per parameter in `[0, 1]` (the
//! space's own encoding), of which the non-constant ones are kernel inputs.
//!
//! - Continuous floats (and unquantised normals) are numeric kernel inputs
//!   that local search moves freely.
//! - Integers, stepped floats and quantised normals are numeric inputs too,
//!   but every point the GP sees has been through the domain's decode/encode
//!   round trip, so they only ever take the centres of their value buckets.
//! - Categoricals are Hamming-distance kernel inputs (see [`super::kernel`]).
//! - Constants (and one-valued domains) are left out of the kernel.
//! - An inactive conditional parameter is held at a fixed placeholder:
//!   `0.5` for numeric dimensions, `-1` for categorical ones (a value no
//!   choice takes, so "inactive" counts as one more choice).

use rand::RngExt;

use crate::domain::Domain;
use crate::{Params, SearchSpace, StdRng};

use super::kernel::DimKind;

/// Placeholder of an inactive numeric parameter.
const INACTIVE_NUMERIC: f64 = 0.5;
/// Placeholder of an inactive categorical parameter.
const INACTIVE_CATEGORICAL: f64 = -1.0;

/// How one parameter's coordinate behaves.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// Any value in `[0, 1]`.
    Continuous,
    /// Only the values the domain's round trip produces (ordered).
    Discrete,
    /// One of `n` unordered choices (bucket centres).
    Categorical(usize),
    /// A single value: not a kernel input.
    Fixed,
}

/// A parameter's condition as coordinates: the parent's position and the
/// parent's choice indices under which it is active.
#[derive(Debug, Clone)]
struct ActiveWhen {
    parent: usize,
    choices: Vec<usize>,
}

/// The mapping between a [`SearchSpace`] and the GP's kernel inputs.
#[derive(Debug, Clone)]
pub(crate) struct Encoding {
    domains: Vec<Domain>,
    kinds: Vec<Kind>,
    conditions: Vec<Option<ActiveWhen>>,
    /// Parameter position of each kernel input.
    kernel_params: Vec<usize>,
    kernel_kinds: Vec<DimKind>,
}

impl Encoding {
    /// The encoding of `space`.
    pub fn new(space: &SearchSpace) -> Encoding {
        let params = space.params();
        let kinds: Vec<Kind> = params.iter().map(|p| kind_of(&p.domain)).collect();
        let conditions = params
            .iter()
            .map(|p| {
                let c = p.condition.as_ref()?;
                let parent = space.position(&c.parent)?;
                let choices = match &params[parent].domain {
                    Domain::Categorical { choices, .. } => choices
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| c.values.contains(v))
                        .map(|(i, _)| i)
                        .collect(),
                    Domain::Const { value } => vec![0; usize::from(c.values.contains(value))],
                    _ => Vec::new(),
                };
                Some(ActiveWhen { parent, choices })
            })
            .collect();
        let kernel_params: Vec<usize> = (0..params.len())
            .filter(|&i| kinds[i] != Kind::Fixed)
            .collect();
        let kernel_kinds = kernel_params
            .iter()
            .map(|&i| match kinds[i] {
                Kind::Categorical(_) => DimKind::Categorical,
                _ => DimKind::Numeric,
            })
            .collect();
        Encoding {
            domains: params.iter().map(|p| p.domain.clone()).collect(),
            kinds,
            conditions,
            kernel_params,
            kernel_kinds,
        }
    }

    /// Kernel input kinds, one per kernel dimension.
    pub fn kernel_kinds(&self) -> &[DimKind] {
        &self.kernel_kinds
    }

    /// Number of parameters (coordinates).
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Moves every coordinate to a value its domain can take.
    pub fn snap(&self, coords: &mut [f64]) {
        for (i, u) in coords.iter_mut().enumerate() {
            *u = u.clamp(0.0, 1.0);
            match self.kinds[i] {
                Kind::Continuous | Kind::Fixed => {}
                Kind::Categorical(n) => *u = bucket_centre(bucket(*u, n), n),
                Kind::Discrete => {
                    let d = &self.domains[i];
                    if let Some(v) = d.encode(&d.decode(*u)) {
                        *u = v;
                    }
                }
            }
        }
    }

    /// A uniform random point, snapped.
    pub fn random(&self, rng: &mut StdRng) -> Vec<f64> {
        let mut coords: Vec<f64> = (0..self.len()).map(|_| rng.random::<f64>()).collect();
        self.snap(&mut coords);
        coords
    }

    /// Which parameters are active at `coords` (parents precede children).
    pub fn active(&self, coords: &[f64]) -> Vec<bool> {
        let mut active = vec![true; self.len()];
        for i in 0..self.len() {
            if let Some(c) = &self.conditions[i] {
                let n = match self.kinds[c.parent] {
                    Kind::Categorical(n) => n,
                    _ => 1,
                };
                active[i] = active[c.parent] && c.choices.contains(&bucket(coords[c.parent], n));
            }
        }
        active
    }

    /// Kernel inputs of a (snapped) point.
    pub fn features(&self, coords: &[f64]) -> Vec<f64> {
        let active = self.active(coords);
        self.kernel_params
            .iter()
            .zip(&self.kernel_kinds)
            .map(|(&i, &k)| placeholder(active[i].then_some(coords[i]), k))
            .collect()
    }

    /// Kernel inputs of a configuration from the history; absent (inactive)
    /// or foreign values take the inactive placeholder.
    pub fn features_of(&self, space: &SearchSpace, params: &Params) -> Vec<f64> {
        let coords = space.encode(params);
        self.kernel_params
            .iter()
            .zip(&self.kernel_kinds)
            .map(|(&i, &k)| placeholder(coords[i], k))
            .collect()
    }

    /// Coordinates of a configuration from the history, inactive ones at the
    /// numeric placeholder (used to seed local search near good trials).
    pub fn coords_of(&self, space: &SearchSpace, params: &Params) -> Vec<f64> {
        let mut coords: Vec<f64> = space
            .encode(params)
            .into_iter()
            .map(|u| u.unwrap_or(INACTIVE_NUMERIC))
            .collect();
        self.snap(&mut coords);
        coords
    }

    /// Kernel dimensions (with their parameter positions) that local search
    /// may move continuously at `coords`: active continuous parameters.
    pub fn free_dims(&self, coords: &[f64]) -> Vec<(usize, usize)> {
        let active = self.active(coords);
        self.kernel_params
            .iter()
            .enumerate()
            .filter(|&(_, &i)| active[i] && self.kinds[i] == Kind::Continuous)
            .map(|(k, &i)| (k, i))
            .collect()
    }

    /// Points one discrete step away from `coords`: each active integer or
    /// stepped parameter one bucket up or down, each active categorical set
    /// to each other choice.
    pub fn discrete_neighbours(&self, coords: &[f64]) -> Vec<Vec<f64>> {
        let active = self.active(coords);
        let mut out = Vec::new();
        for i in 0..self.len() {
            if !active[i] {
                continue;
            }
            match self.kinds[i] {
                Kind::Categorical(n) => {
                    let current = bucket(coords[i], n);
                    for c in (0..n).filter(|&c| c != current) {
                        let mut p = coords.to_vec();
                        p[i] = bucket_centre(c, n);
                        out.push(p);
                    }
                }
                Kind::Discrete => {
                    let n = self.domains[i].cardinality().unwrap_or(0).max(1);
                    let width = 1.0 / n as f64;
                    for delta in [-width, width] {
                        let mut p = coords.to_vec();
                        p[i] = (coords[i] + delta).clamp(0.0, 1.0);
                        self.snap(&mut p);
                        if p[i] != coords[i] {
                            out.push(p);
                        }
                    }
                }
                Kind::Continuous | Kind::Fixed => {}
            }
        }
        out
    }

    /// True when parameter `i` takes only discrete values.
    pub fn is_discrete(&self, i: usize) -> bool {
        matches!(self.kinds[i], Kind::Discrete | Kind::Categorical(_))
    }
}

fn kind_of(domain: &Domain) -> Kind {
    match domain {
        _ if domain.cardinality() == Some(1) => Kind::Fixed,
        Domain::Const { .. } => Kind::Fixed,
        Domain::Categorical { choices, .. } => Kind::Categorical(choices.len()),
        Domain::Float { step: None, .. } | Domain::Normal { q: None, .. } => Kind::Continuous,
        Domain::Float { .. } | Domain::Int { .. } | Domain::Normal { .. } | Domain::Cell { .. } => {
            Kind::Discrete
        }
    }
}

fn placeholder(coord: Option<f64>, kind: DimKind) -> f64 {
    match (coord, kind) {
        (Some(u), _) => u,
        (None, DimKind::Numeric) => INACTIVE_NUMERIC,
        (None, DimKind::Categorical) => INACTIVE_CATEGORICAL,
    }
}

/// Index of the bucket (of `n` equal ones) holding `u`, as the domain
/// decodes it.
fn bucket(u: f64, n: usize) -> usize {
    ((u * n as f64).floor().max(0.0) as usize).min(n.saturating_sub(1))
}

/// Centre of bucket `k` of `n`, as the domain encodes it.
fn bucket_centre(k: usize, n: usize) -> f64 {
    (k as f64 + 0.5) / n as f64
}
