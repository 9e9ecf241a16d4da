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
    /// No complete backup has this id in the stanza.
    #[error("{location}: stanza {stanza}: no complete backup {id}")]
    NoSuchBackup {
        /// The repository's location.
        location: String,
        /// The stanza.
        stanza: String,
        /// The id asked for.
        id: String,
    },
    /// A backup cannot be restored or used as a base: a backup its chain needs is missing or
    /// incomplete.
    #[error("{location}: stanza {stanza}: the chain of backup {id} is broken: {missing} is missing or incomplete")]
    BrokenChain {
        /// The repository's location.
        location: String,
        /// The stanza.
        stanza: String,
        /// The backup whose chain is broken.
        id: String,
        /// The backup of the chain that is missing (its id, as the child's manifest names it).
        missing: String,
    },
    /// The stanza is locked by another backup or expire.
    #[error("{location}: {key}: the stanza is locked by {holder}; if that process is gone (killed on another host), delete {key} by hand")]
    Locked {
        /// The repository's location.
        location: String,
        /// The lock object's key.
        key: String,
        /// Who holds it: host, process id, what it does, since when.
        holder: String,
    },
    /// A retention policy that cannot be applied.
    #[error("bad retention policy: {what}")]
    BadPolicy {
        /// What is wrong.
        what: &'static str,
    },
    /// An object, or a file decoded from objects, is not what the manifest says: a changed or
    /// truncated object, a file of another size or checksum.
    #[error("{location}: backup {backup}: {key} (file {file}): {what}")]
    Corrupt {
        /// The repository's location.
        location: String,
        /// The backup.
        backup: String,
        /// The object's key.
        key: String,
        /// The file of the backup the object holds (bytes of).
        file: String,
        /// What is wrong.
        what: Box<str>,
    },
    /// An object could not be decoded (decompressed, decrypted) into its file's bytes.
    #[error("{location}: backup {backup}: {key} (file {file}): {source}")]
    Codec {
        /// The repository's location.
        location: String,
        /// The backup.
        backup: String,
        /// The object's key.
        key: String,
        /// The file of the backup.
        file: String,
        /// Why.
        #[source]
        source: Box<crate::codec::CodecError>,
    },
    /// A local file operation of a restore failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A restore cannot start, or go on, as asked (a datadir not empty, a staging directory of
    /// another restore, an unsafe file name in a manifest...).
    #[error("{}: {why}", path.display())]
    Restore {
        /// The directory or file concerned.
        path: std::path::PathBuf,
        /// Why, and what to do.
        why: String,
    },
    /// The merge of a restored chain (the prepare engine) failed.
    #[error(transparent)]
    Prepare(#[from] crate::prepare::PrepareError),
    /// Moving the restored files into the datadir (the copy-back engine) failed.
    #[error(transparent)]
    CopyBack(#[from] crate::copy_back::CopyBackError),
    /// The server's crash recovery on the restored files failed (`apply_redo`).
    #[error("applying the redo log of the restored backup: {source}")]
    ApplyRedo {
        /// Why.
        #[source]
        source: Cause,
    },
    /// The operation was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A backup is encrypted and no key that decrypts it was given.
    #[error("{location}: backup {backup} is encrypted: give the age identity (key file) that decrypts it")]
    NeedsKey {
        /// The repository's location.
        location: String,
        /// The backup.
        backup: String,
    },
    /// The backup engine failed (planning, reading the source, the base's checks).
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    /// The stanza's newest complete backup, the base an incremental would use, was taken
    /// from another host or datadir: each server needs a stanza of its own
    /// ([`Remedy::OwnStanza`](crate::Remedy::OwnStanza)).
    #[error("{location}: stanza {stanza}: its newest backup {base} was taken from {base_server}, this backup is of {this_server}")]
    DifferentServer {
        /// The repository's location.
        location: String,
        /// The stanza.
        stanza: String,
        /// The base's id.
        base: String,
        /// Where the base was taken (`host:datadir`).
        base_server: Box<str>,
        /// Where this backup is taken (`host:datadir`; `?` when not yet known).
        this_server: Box<str>,
    },
}

impl RepoError {
    pub(crate) fn location(url: &str, what: &'static str, source: impl Into<Cause>) -> RepoError {
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

impl RepoError {
    /// What a caller can do about the error, when there is a known way out.
    pub fn remedy(&self) -> Option<crate::Remedy> {
        match self {
            RepoError::DifferentServer { .. } => Some(crate::Remedy::OwnStanza),
            RepoError::Backup(e) => e.remedy(),
            RepoError::Prepare(e) => e.remedy(),
            RepoError::CopyBack(e) => e.remedy(),
            RepoError::Codec { source, .. } => source.remedy(),
            RepoError::NeedsKey { .. } => Some(crate::Remedy::GiveDecryptionKey),
            _ => None,
        }
    }
}
