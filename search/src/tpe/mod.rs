//! PLACEHOLDER: the tpe searcher is being written.

use serde::{Deserialize, Serialize};

use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng};

/// Options of the tpe searcher.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TpeOptions {
    /// Trials drawn at random before the model is used.
    pub n_startup_trials: Option<usize>,
}

/// The tpe searcher.
#[derive(Debug, Default, Clone)]
pub struct TpeSearcher {
    options: TpeOptions,
}

impl TpeSearcher {
    /// A new searcher.
    pub fn new(options: TpeOptions, seed: u64) -> Self {
        let _ = seed;
        Self { options }
    }
}

impl Searcher for TpeSearcher {
    fn name(&self) -> &str {
        "tpe"
    }

    fn suggest(
        &mut self,
        _: &SearchSpace,
        _: &History,
        _: &mut StdRng,
    ) -> Result<Params, SearchError> {
        let _ = &self.options;
        Err(SearchError::Unsupported {
            searcher: "tpe".into(),
            message: "not written yet".into(),
        })
    }
}
