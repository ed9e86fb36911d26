//! PLACEHOLDER: the sobol searcher is being written (issue 2).

use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng};

/// The sobol searcher.
#[derive(Debug, Default, Clone)]
pub struct SobolSearcher {}

impl SobolSearcher {
    /// A new searcher.
    pub fn new(seed: u64) -> Self {
        let _ = seed;
        Self::default()
    }
}

impl Searcher for SobolSearcher {
    fn name(&self) -> &str {
        "sobol"
    }

    fn suggest(
        &mut self,
        _: &SearchSpace,
        _: &History,
        _: &mut StdRng,
    ) -> Result<Params, SearchError> {
        Err(SearchError::Unsupported {
            searcher: "sobol".into(),
            message: "not written yet".into(),
        })
    }
}
