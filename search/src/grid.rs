//! PLACEHOLDER: the grid searcher is being written (issue 2).

use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng};

/// The grid searcher.
#[derive(Debug, Default, Clone)]
pub struct GridSearcher {}

impl GridSearcher {
    /// A new searcher.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Searcher for GridSearcher {
    fn name(&self) -> &str {
        "grid"
    }

    fn suggest(
        &mut self,
        _: &SearchSpace,
        _: &History,
        _: &mut StdRng,
    ) -> Result<Params, SearchError> {
        Err(SearchError::Unsupported {
            searcher: "grid".into(),
            message: "not written yet".into(),
        })
    }
}
