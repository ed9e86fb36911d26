//! The pure core of hypersweep: search spaces, sweep files and searchers.
//!
//! Nothing in this crate does I/O, spawns threads or reads a clock. A searcher
//! sees a [`SearchSpace`], the [`History`] of a study and a seeded RNG, and
//! proposes [`Params`]; the same three inputs always give the same proposal.
//! That is what makes a resumed sweep continue exactly where it stopped and lets
//! many workers share one study: no progress state lives only in memory.
#![warn(missing_docs)]

pub mod auto;
pub mod cell;
pub mod domain;
mod error;
pub mod evolution;
pub mod gp;
pub mod grid;
mod history;
pub mod importance;
mod params;
pub mod problems;
pub mod random;
mod searcher;
pub mod sobol;
mod space;
pub mod special;
mod suggestion_rng;
pub mod sweep;
pub mod tpe;

pub use domain::Domain;
pub use error::SearchError;
pub use history::{Direction, History, Observation, TrialState, position_by_number};
pub use importance::{ImportanceError, ParamImportance, ped_anova};
pub use params::{ParamError, Params};
pub use searcher::{Method, Searcher, SearcherOptions, build_searcher};
pub use space::{Condition, Param, SearchSpace};
pub use suggestion_rng::{SeedStream, evaluation_seed, evaluation_seeds, suggestion_rng};

/// The JSON value type used for parameter values and categorical choices.
pub use serde_json::Value;

/// The RNG every searcher draws from; seeded by the caller.
pub use rand::rngs::StdRng;
