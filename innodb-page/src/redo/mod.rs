//! Redo log headers (being written).

/// Placeholder until the redo module lands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("redo")]
pub enum RedoError {}
