//! PLACEHOLDER (issue 3): the Study API.

/// A study (being written).
#[derive(Debug, Default)]
pub struct Study {}
