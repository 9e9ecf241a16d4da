//! How a round ends badly.

use std::fmt;

/// Why a round failed.
#[derive(Debug)]
pub enum RoundError {
    /// A restored server's tables differ from the reference, or `CHECK TABLE` complains.
    Mismatch(String),
    /// Anything else that should not happen: xb failing where it should succeed, succeeding
    /// where it should fail, a tool or the server misbehaving.
    Failure(String),
    /// Ctrl-C.
    Interrupted,
}

impl fmt::Display for RoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoundError::Mismatch(m) => write!(f, "MISMATCH: {m}"),
            RoundError::Failure(m) => write!(f, "FAILURE: {m}"),
            RoundError::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// A round's result.
pub type R<T> = Result<T, RoundError>;

/// Turns any error into a [`RoundError::Failure`] saying what was being done.
pub trait Ctx<T> {
    /// The error, as a failure of `what`.
    fn ctx(self, what: impl fmt::Display) -> R<T>;
}

impl<T, E: fmt::Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: impl fmt::Display) -> R<T> {
        self.map_err(|e| RoundError::Failure(format!("{what}: {e}")))
    }
}

/// A failure.
pub fn failure<T>(msg: impl Into<String>) -> R<T> {
    Err(RoundError::Failure(msg.into()))
}
