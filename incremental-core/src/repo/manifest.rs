//! A backup's manifest (`STANZA/ID/manifest.json`), written last: what makes a backup in a
//! repository complete. It lists every file with its plain size and SHA-256, and where its
//! bytes are stored (parts of its own, or a piece of a bundle), with each object's stored size
//! and SHA-256 (checkable without the decryption key); the backup's LSNs, method, parent and
//! encoding; the server it was taken from; its times and the version of xb that took it.
//!
//! The attempt record (`STANZA/ID/attempt.json`) is written first, before any file: an
//! attempt without a manifest is an incomplete backup (interrupted, or running).

use serde::{Deserialize, Serialize};

use super::error::RepoError;
use super::keys;
use super::store::Store;

/// The manifest format this version of xb writes and reads.
pub(crate) const FORMAT: u32 = 1;

/// Full or incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Full,
    Incremental,
}

/// How a backup's stored objects are encoded (each part and each bundled file is a whole
/// encoded file in the `codec` module's format: `X`, `X.zst`, `X.lz4`, `X.age`, `X.zst.age`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Encoding {
    /// `"zstd"`, `"lz4"`, or none.
    pub compression: Option<String>,
    /// The compression level (zstd).
    pub level: i32,
    /// The age recipients (`age1…`) the objects are encrypted to; empty: not encrypted.
    pub recipients: Vec<String>,
}

/// Where a backup was taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Server {
    /// The host name of the machine that ran the backup.
    pub hostname: String,
    /// The datadir backed up (absolute).
    pub datadir: String,
    /// The server's version, when known (a hot backup).
    pub version: Option<String>,
}

/// An object holding stored bytes: a part of a file, or a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Object {
    /// Its key, relative to the repository's root.
    pub key: String,
    /// Its size in bytes, as stored.
    pub stored: u64,
    /// The SHA-256 of its stored bytes (hex).
    pub sha256: String,
}

/// A part of a large file: its plain bytes `size` long, hashing to `sha256`, stored (encoded)
/// as `object`. A part is checked on its own, so that a file's parts can be fetched and
/// checked by several threads in any order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Part {
    /// Plain bytes in this part.
    pub size: u64,
    /// The SHA-256 of its plain bytes (hex).
    pub sha256: String,
    /// The object holding them.
    pub object: Object,
}

/// A small file stored inside a bundle: bytes `offset..offset+stored` of bundle number
/// `bundle` (an index into [`Manifest::bundles`]) are the file, encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Bundled {
    pub bundle: usize,
    pub offset: u64,
    pub stored: u64,
}

/// One file of the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileEntry {
    /// Its plain name, relative to the backup's root (`db/t.ibd.delta`).
    pub path: String,
    /// Its plain size.
    pub size: u64,
    /// The SHA-256 of its plain bytes (hex).
    pub sha256: String,
    /// Its parts, in order (a large file), or empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// Where it is in a bundle (a small file), or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundled: Option<Bundled>,
}

/// The manifest of a complete backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: u32,
    pub id: String,
    pub stanza: String,
    pub kind: Kind,
    /// The backup this one is an incremental of (same stanza).
    pub parent: Option<String>,
    /// `"full"`, `"scan"`, `"bitmap"` (as `xb_backup_info`'s method).
    pub method: String,
    pub hot: bool,
    pub from_lsn: u64,
    pub to_lsn: u64,
    pub last_lsn: u64,
    /// Some tables were left out (a partial backup).
    pub partial: bool,
    pub server: Server,
    /// Unix seconds.
    pub started: u64,
    pub finished: u64,
    pub xb_version: String,
    pub encoding: Encoding,
    pub files: Vec<FileEntry>,
    pub bundles: Vec<Object>,
}

impl Manifest {
    /// The plain bytes of all files.
    pub fn plain_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The stored bytes of all objects.
    pub fn stored_bytes(&self) -> u64 {
        self.objects().map(|o| o.stored).sum()
    }

    /// Every object of the backup: each part of each file, then each bundle.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.files
            .iter()
            .flat_map(|f| f.parts.iter().map(|p| &p.object))
            .chain(self.bundles.iter())
    }

    /// Reads and checks the manifest of backup `id` of `stanza`; `None` if it has none.
    pub fn read(store: &Store, stanza: &str, id: &str) -> Result<Option<Manifest>, RepoError> {
        let key = keys::manifest(stanza, id);
        let Some(bytes) = store.get_opt(&key)? else {
            return Ok(None);
        };
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| RepoError::store(store, &key, "not a manifest", e))?;
        if m.format != FORMAT {
            return Err(RepoError::store(
                store,
                &key,
                "manifest format not supported by this version of xb",
                format!("format {}, this xb reads {FORMAT}", m.format),
            ));
        }
        if m.id != id || m.stanza != stanza {
            return Err(RepoError::store(
                store,
                &key,
                "manifest of another backup",
                format!("it names {}/{}", m.stanza, m.id),
            ));
        }
        Ok(Some(m))
    }

    /// Writes the manifest (the last object of a backup: after this it is complete).
    pub fn write(&self, store: &Store) -> Result<(), RepoError> {
        let key = keys::manifest(&self.stanza, &self.id);
        let bytes = serde_json::to_vec_pretty(self).expect("a manifest serializes");
        store.put(&key, bytes)
    }
}

/// What an attempt records first: enough to resume it, or to tell what it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attempt {
    pub format: u32,
    pub id: String,
    pub stanza: String,
    pub kind: Kind,
    pub parent: Option<String>,
    pub encoding: Encoding,
    pub server: Server,
    /// Unix seconds.
    pub started: u64,
    pub xb_version: String,
}

impl Attempt {
    /// Reads the attempt record of backup `id`; `None` if there is none.
    pub fn read(store: &Store, stanza: &str, id: &str) -> Result<Option<Attempt>, RepoError> {
        let key = keys::attempt(stanza, id);
        let Some(bytes) = store.get_opt(&key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RepoError::store(store, &key, "not an attempt record", e))
    }

    /// Writes the attempt record.
    pub fn write(&self, store: &Store) -> Result<(), RepoError> {
        let key = keys::attempt(&self.stanza, &self.id);
        let bytes = serde_json::to_vec_pretty(self).expect("an attempt serializes");
        store.put(&key, bytes)
    }
}
