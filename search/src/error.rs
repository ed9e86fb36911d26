use thiserror::Error;

/// Errors from building a search space or asking a searcher for a suggestion.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The space or a parameter in it is invalid; `path` is the JSON path
    /// (`parameters.lr.max`) or the parameter name.
    #[error("{path}: {message}")]
    InvalidSpace {
        /// Where the problem is, as a JSON path or parameter name.
        path: String,
        /// What was expected.
        message: String,
    },
    /// A finite searcher (the grid) has proposed every point it has.
    #[error("the search space is exhausted: all {total} points were proposed")]
    Exhausted {
        /// How many points the searcher had.
        total: usize,
    },
    /// The searcher cannot work on this space (e.g. grid over a continuous
    /// parameter without `step` or `grid_points`).
    #[error("searcher `{searcher}` cannot search this space: {message}")]
    Unsupported {
        /// The searcher's name.
        searcher: String,
        /// Why not.
        message: String,
    },
    /// A numerical routine failed in a way the searcher could not recover from.
    #[error("numerical failure in {context}: {message}")]
    Numerical {
        /// Which computation failed.
        context: String,
        /// What went wrong.
        message: String,
    },
}

impl SearchError {
    /// Shorthand for [`SearchError::InvalidSpace`].
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        SearchError::InvalidSpace {
            path: path.into(),
            message: message.into(),
        }
    }
}
