//! Backup repositories: backups kept on a local path or an object store (S3 and S3-compatible
//! stores, Google Cloud Storage, Azure), each with a manifest written last, in chains that
//! xb bases, expires, verifies and restores by itself (`xb backup --repo`, `xb info`,
//! `xb expire`, `xb verify --repo`, `xb restore`).
//!
//! A repository holds **stanzas** (one per server backed up, as pgBackRest names them); a
//! stanza holds backups, each under its id. [`keys`](self) lists every object's name.
//!
//! * [`Store`]: the objects themselves, on a path or an object store.

mod error;
mod hash;
mod keys;
mod manifest;
mod store;

pub use error::{Cause, RepoError};
pub use store::{ObjectInfo, Store, StoreOptions};
mod repository;
pub use repository::{Repository, DEFAULT_STANZA};
