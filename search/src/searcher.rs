//! The one trait every searcher implements, and the table that names them.

use serde::{Deserialize, Serialize};

use crate::StdRng;
use crate::auto::AutoSearcher;
use crate::cell::expand::CellExpansion;
use crate::error::SearchError;
use crate::evolution::{EvolutionOptions, EvolutionSearcher};
use crate::gp::{GpOptions, GpSearcher};
use crate::grid::GridSearcher;
use crate::history::History;
use crate::params::Params;
use crate::random::RandomSearcher;
use crate::sobol::SobolSearcher;
use crate::space::SearchSpace;
use crate::tpe::{TpeOptions, TpeSearcher};

/// Proposes the next configuration to evaluate.
///
/// A searcher derives everything it knows from `history` (finished trials with
/// their values, running trials as pending points). It may cache work across
/// calls for speed, but nothing it needs to be correct lives only in memory:
/// the same space, history and RNG state give the same suggestion, also in a
/// fresh process after a crash.
pub trait Searcher: Send {
    /// Short name, as in the sweep file's `method`.
    fn name(&self) -> &str;

    /// Proposes one configuration. Inactive conditional parameters are left
    /// out of the result.
    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError>;
}

/// The searchers, by the name a sweep file's `method` uses. More will come,
/// hence `#[non_exhaustive]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Method {
    /// GP while it is affordable, TPE beyond ([`crate::auto`]); the default.
    Auto,
    /// Every combination of discrete values, once each.
    Grid,
    /// Independent draws from each parameter's prior.
    Random,
    /// Scrambled Sobol points over the encoded unit cube.
    Sobol,
    /// Tree-structured Parzen Estimator.
    Tpe,
    /// Gaussian-process Bayesian optimisation (`bayes` in W&B files).
    #[serde(alias = "bayes")]
    Gp,
    /// Regularized (aging) evolution.
    Evolution,
}

impl Method {
    /// Every method name a sweep file may use, for error messages.
    pub const NAMES: &'static [&'static str] = &[
        "auto",
        "grid",
        "random",
        "sobol",
        "tpe",
        "bayes",
        "gp",
        "evolution",
    ];

    /// Parses a sweep file's `method` string.
    pub fn from_name(name: &str) -> Option<Method> {
        Some(match name {
            "auto" => Method::Auto,
            "grid" => Method::Grid,
            "random" => Method::Random,
            "sobol" | "quasi_random" | "quasirandom" => Method::Sobol,
            "tpe" => Method::Tpe,
            "bayes" | "gp" => Method::Gp,
            "evolution" => Method::Evolution,
            _ => return None,
        })
    }

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Grid => "grid",
            Method::Random => "random",
            Method::Sobol => "sobol",
            Method::Tpe => "tpe",
            Method::Gp => "gp",
            Method::Evolution => "evolution",
        }
    }
}

/// Per-searcher options, as in the sweep file's `tpe: {...}` and `gp: {...}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearcherOptions {
    /// Options of the TPE searcher.
    pub tpe: TpeOptions,
    /// Options of the GP searcher.
    pub gp: GpOptions,
    /// Options of the evolution searcher.
    pub evolution: EvolutionOptions,
}

/// Builds the searcher named by `method`. `seed` is the study's seed, for
/// searchers that need one fixed draw across all suggestions (the Sobol
/// scramble); per-suggestion randomness comes from the RNG passed to
/// [`Searcher::suggest`].
///
/// Every searcher but the grid (which walks a cell's architectures itself)
/// is wrapped in [`CellExpansion`], so it searches cells as one categorical
/// per edge and never proposes a disconnected cell unless told to.
pub fn build_searcher(method: Method, options: &SearcherOptions, seed: u64) -> Box<dyn Searcher> {
    if method == Method::Grid {
        return Box::new(GridSearcher::new());
    }
    let options = options.clone();
    Box::new(CellExpansion::new(move || {
        build_plain_searcher(method, &options, seed)
    }))
}

/// The searcher named by `method`, without the cell expansion.
fn build_plain_searcher(method: Method, options: &SearcherOptions, seed: u64) -> Box<dyn Searcher> {
    match method {
        Method::Auto => Box::new(AutoSearcher::new(
            options.tpe.clone(),
            options.gp.clone(),
            seed,
        )),
        Method::Grid => Box::new(GridSearcher::new()),
        Method::Random => Box::new(RandomSearcher::new()),
        Method::Sobol => Box::new(SobolSearcher::new(seed)),
        Method::Tpe => Box::new(TpeSearcher::new(options.tpe.clone(), seed)),
        Method::Gp => Box::new(GpSearcher::new(options.gp.clone(), seed)),
        Method::Evolution => Box::new(EvolutionSearcher::new(options.evolution.clone())),
    }
}
