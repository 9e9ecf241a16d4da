//! [`Repository`]: one stanza of a repository, what every repository operation starts from.

use super::error::RepoError;
use super::store::{Store, StoreOptions};

/// The stanza used when none is named.
pub const DEFAULT_STANZA: &str = "main";

/// One stanza (the backups of one server) of a repository.
///
/// ```
/// use incremental_core::repo::{Repository, Store};
/// let repo = Repository::new(Store::memory(), "db1").unwrap();
/// assert_eq!(repo.stanza(), "db1");
/// assert!(Repository::new(Store::memory(), "../x").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Repository {
    store: Store,
    stanza: String,
}

impl Repository {
    /// Opens stanza `stanza` of the repository at `url` (see [`Store::open`]).
    pub fn open(url: &str, options: &StoreOptions, stanza: &str) -> Result<Repository, RepoError> {
        Repository::new(Store::open(url, options)?, stanza)
    }

    /// Stanza `stanza` of the repository in `store`. A stanza name is 1 to 64 letters, digits,
    /// `_`, `-` and `.`, not starting with `.`.
    pub fn new(store: Store, stanza: &str) -> Result<Repository, RepoError> {
        let ok = (1..=64).contains(&stanza.len())
            && !stanza.starts_with('.')
            && stanza
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !ok {
            return Err(RepoError::location(
                store.location(),
                "bad stanza name (1 to 64 letters, digits, _, - and ., not starting with .)",
                format!("{stanza:?}"),
            ));
        }
        Ok(Repository {
            store,
            stanza: stanza.to_string(),
        })
    }

    /// The objects.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The stanza's name.
    pub fn stanza(&self) -> &str {
        &self.stanza
    }
}
