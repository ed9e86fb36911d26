//! PLACEHOLDER: the gp searcher is being written.

use serde::{Deserialize, Serialize};

use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng};

/// Options of the gp searcher.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GpOptions {
    /// Trials drawn at random before the model is used.
    pub n_startup_trials: Option<usize>,
}

/// The gp searcher.
#[derive(Debug, Default, Clone)]
pub struct GpSearcher {
    options: GpOptions,
}

impl GpSearcher {
    /// A new searcher.
    pub fn new(options: GpOptions, seed: u64) -> Self {
        let _ = seed;
        Self { options }
    }
}

impl Searcher for GpSearcher {
    fn name(&self) -> &str {
        "gp"
    }

    fn suggest(
        &mut self,
        _: &SearchSpace,
        _: &History,
        _: &mut StdRng,
    ) -> Result<Params, SearchError> {
        let _ = &self.options;
        Err(SearchError::Unsupported {
            searcher: "gp".into(),
            message: "not written yet".into(),
        })
    }
}
