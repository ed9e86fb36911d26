//! PLACEHOLDER: the random searcher is being written (issue 2).

use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng};

/// The random searcher.
#[derive(Debug, Default, Clone)]
pub struct RandomSearcher {}

impl RandomSearcher {
    /// A new searcher.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Searcher for RandomSearcher {
    fn name(&self) -> &str {
        "random"
    }

    fn suggest(
        &mut self,
        _: &SearchSpace,
        _: &History,
        _: &mut StdRng,
    ) -> Result<Params, SearchError> {
        Err(SearchError::Unsupported {
            searcher: "random".into(),
            message: "not written yet".into(),
        })
    }
}
