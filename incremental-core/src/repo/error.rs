//! What can go wrong with a repository: [`RepoError`].

use std::error::Error as StdError;

use thiserror::Error;

use super::store::Store;

/// The cause of a failed request, whatever the storage layer's own error type is.
pub type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// A repository operation failed: which location, which object, what was done, and why.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RepoError {
    /// The repository location cannot be used (bad URL, missing configuration).
    #[error("{url}: {what}: {source}")]
    Location {
        /// The location as given.
        url: String,
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: Cause,
    },
    /// A request on one object (or prefix) failed, after the retries.
    #[error("{location}: {key}: {action}: {source}")]
    Store {
        /// The repository's location.
        location: String,
        /// The object's key (relative to the repository's root).
        key: String,
        /// What was being done.
        action: &'static str,
        /// Why it failed.
        #[source]
        source: Cause,
    },
    /// An object that must exist does not.
    #[error("{location}: {key}: object missing")]
    Missing {
        /// The repository's location.
        location: String,
        /// The object's key.
        key: String,
    },
}

impl RepoError {
    pub(crate) fn location(
        url: &str,
        what: &'static str,
        source: impl Into<Cause>,
    ) -> RepoError {
        RepoError::Location {
            url: url.to_string(),
            what,
            source: source.into(),
        }
    }

    pub(crate) fn store(
        store: &Store,
        key: &str,
        action: &'static str,
        source: impl Into<Cause>,
    ) -> RepoError {
        RepoError::Store {
            location: store.location().to_string(),
            key: key.to_string(),
            action,
            source: source.into(),
        }
    }

    pub(crate) fn missing(store: &Store, key: &str) -> RepoError {
        RepoError::Missing {
            location: store.location().to_string(),
            key: key.to_string(),
        }
    }
}
