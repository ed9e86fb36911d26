//! PLACEHOLDER (issue 3).

/// Storage backend (being written).
#[derive(Debug, Default)]
pub struct MemoryStorage {}
