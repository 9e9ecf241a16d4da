//! What a stanza holds: its [`Catalog`] of complete backups ([`BackupEntry`], each with its
//! manifest) and incomplete ones ([`IncompleteEntry`]: an attempt without a manifest), and
//! the chains they form.
//!
//! A backup is complete once its manifest exists (it is written last). An attempt without a
//! manifest (interrupted, still running, or half deleted by an interrupted `xb expire`) is
//! never listed among the complete backups and never used as a base.
//!
//! ```
//! use incremental_core::repo::{Repository, Store};
//! let repo = Repository::new(Store::memory(), "db1")?;
//! let catalog = repo.catalog()?;
//! assert!(catalog.backups().is_empty());
//! assert!(catalog.newest().is_none());
//! # Ok::<(), incremental_core::repo::RepoError>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::RepoError;
use super::keys;
use super::manifest::{Attempt, Kind, Manifest};
use super::repository::Repository;

/// Full or incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum BackupType {
    /// A full backup: the start of a chain.
    Full,
    /// An incremental of its parent.
    Incremental,
}

impl From<Kind> for BackupType {
    fn from(k: Kind) -> BackupType {
        match k {
            Kind::Full => BackupType::Full,
            Kind::Incremental => BackupType::Incremental,
        }
    }
}

impl std::fmt::Display for BackupType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackupType::Full => "full",
            BackupType::Incremental => "incremental",
        })
    }
}

/// The result of the last verification of a backup (`xb verify --repo`), as recorded in the
/// repository next to the backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerifiedState {
    /// When it was verified (Unix seconds).
    pub at: u64,
    /// Whether every object and page checked out.
    pub ok: bool,
    /// The problems found (0 when `ok`).
    pub problems: usize,
}

impl VerifiedState {
    /// A verification finished at `at` that found `problems` problems.
    pub(crate) fn new(at: u64, problems: usize) -> VerifiedState {
        VerifiedState {
            at,
            ok: problems == 0,
            problems,
        }
    }
}

/// One complete backup of a stanza: what its manifest says, and its last verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct BackupEntry {
    /// Its id (`YYYYMMDD-HHMMSSF` or `…I`: the UTC time it started; ids sort by start).
    pub id: String,
    /// Full or incremental.
    pub kind: BackupType,
    /// The backup it is an incremental of (`None` for a full).
    pub parent: Option<String>,
    /// How its pages were found: `"full"`, `"scan"` or `"bitmap"`.
    pub method: String,
    /// Taken from a running server.
    pub hot: bool,
    /// The LSN its pages start from (0 for a full).
    pub from_lsn: u64,
    /// The LSN it is consistent at (its checkpoint).
    pub to_lsn: u64,
    /// The last LSN of the redo it holds.
    pub last_lsn: u64,
    /// When it started (Unix seconds).
    pub started: u64,
    /// When it finished (Unix seconds).
    pub finished: u64,
    /// Files in it.
    pub files: usize,
    /// Stored objects holding them (parts and bundles).
    pub objects: usize,
    /// The files' plain bytes.
    pub plain_bytes: u64,
    /// The bytes stored (after compression and encryption).
    pub stored_bytes: u64,
    /// `"zstd"`, `"lz4"`, or `None` (not compressed).
    pub compression: Option<String>,
    /// Encrypted (with `age`).
    pub encrypted: bool,
    /// Some tables were left out.
    pub partial: bool,
    /// The host that ran it.
    pub hostname: String,
    /// The datadir it is of.
    pub datadir: String,
    /// The server's version, when known.
    pub server_version: Option<String>,
    /// The version of xb that took it.
    pub xb_version: String,
    /// Its last verification, if any.
    pub verified: Option<VerifiedState>,
}

impl BackupEntry {
    fn from_manifest(m: &Manifest, verified: Option<VerifiedState>) -> BackupEntry {
        BackupEntry {
            id: m.id.clone(),
            kind: m.kind.into(),
            parent: match m.kind {
                Kind::Full => None,
                Kind::Incremental => m.parent.clone(),
            },
            method: m.method.clone(),
            hot: m.hot,
            from_lsn: m.from_lsn,
            to_lsn: m.to_lsn,
            last_lsn: m.last_lsn,
            started: m.started,
            finished: m.finished,
            files: m.files.len(),
            objects: m.objects().count(),
            plain_bytes: m.plain_bytes(),
            stored_bytes: m.stored_bytes(),
            compression: m.encoding.compression.clone(),
            encrypted: !m.encoding.recipients.is_empty(),
            partial: m.partial,
            hostname: m.server.hostname.clone(),
            datadir: m.server.datadir.clone(),
            server_version: m.server.version.clone(),
            xb_version: m.xb_version.clone(),
            verified,
        }
    }

    /// A full backup.
    pub fn is_full(&self) -> bool {
        self.kind == BackupType::Full
    }

    /// How long it took, in seconds.
    pub fn duration(&self) -> u64 {
        self.finished.saturating_sub(self.started)
    }
}

/// An incomplete backup of a stanza: objects (normally an attempt record) without a
/// manifest. Interrupted, still running, or left half deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct IncompleteEntry {
    /// Its id.
    pub id: String,
    /// Full or incremental (from its attempt record, else from its id).
    pub kind: BackupType,
    /// The backup it was to be an incremental of, if its attempt record says.
    pub parent: Option<String>,
    /// When it started (Unix seconds; from its attempt record, else from its id).
    pub started: u64,
    /// Whether its attempt record exists.
    pub attempt: bool,
    /// Objects stored so far.
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// The backups of a stanza, as [`Repository::catalog`] found them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Catalog {
    location: String,
    stanza: String,
    backups: Vec<BackupEntry>,
    incomplete: Vec<IncompleteEntry>,
}

impl Repository {
    /// Lists the stanza's backups: one listing of the stanza's objects, then the manifest
    /// (and verification record) of each complete backup and the attempt record of each
    /// incomplete one.
    ///
    /// A manifest that cannot be read or parsed is an error naming its key.
    pub fn catalog(&self) -> Result<Catalog, RepoError> {
        let store = self.store();
        let stanza = self.stanza();
        let prefix = format!("{stanza}/");
        // id -> (objects, bytes, has manifest, has attempt, has verified)
        let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
        for o in store.list(stanza)? {
            let Some(rest) = o.key.strip_prefix(&prefix) else {
                continue;
            };
            let Some((id, _)) = rest.split_once('/') else {
                continue;
            };
            if !keys::is_id(id) {
                continue;
            }
            let s = seen.entry(id.to_string()).or_default();
            s.objects += 1;
            s.bytes += o.size;
            if o.key == keys::manifest(stanza, id) {
                s.manifest = true;
            } else if o.key == keys::attempt(stanza, id) {
                s.attempt = true;
            } else if o.key == keys::verified(stanza, id) {
                s.verified = true;
            }
        }
        let mut backups = Vec::new();
        let mut incomplete = Vec::new();
        for (id, s) in seen {
            let manifest = if s.manifest {
                Manifest::read(store, stanza, &id)?
            } else {
                None
            };
            match manifest {
                Some(m) => {
                    let verified = if s.verified {
                        read_verified(self, &id)?
                    } else {
                        None
                    };
                    backups.push(BackupEntry::from_manifest(&m, verified));
                }
                None => {
                    let attempt = if s.attempt {
                        Attempt::read(store, stanza, &id)?
                    } else {
                        None
                    };
                    let from_id = if id.as_bytes()[15] == b'F' {
                        BackupType::Full
                    } else {
                        BackupType::Incremental
                    };
                    incomplete.push(IncompleteEntry {
                        kind: attempt.as_ref().map_or(from_id, |a| a.kind.into()),
                        parent: attempt.as_ref().and_then(|a| a.parent.clone()),
                        started: attempt
                            .as_ref()
                            .map_or_else(|| id_time(&id).unwrap_or(0), |a| a.started),
                        attempt: attempt.is_some(),
                        objects: s.objects,
                        bytes: s.bytes,
                        id,
                    });
                }
            }
        }
        Ok(Catalog {
            location: store.location().to_string(),
            stanza: stanza.to_string(),
            backups,
            incomplete,
        })
    }
}

#[derive(Default)]
struct Seen {
    objects: usize,
    bytes: u64,
    manifest: bool,
    attempt: bool,
    verified: bool,
}

impl Catalog {
    /// The repository's location (for messages).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The stanza.
    pub fn stanza(&self) -> &str {
        &self.stanza
    }

    /// The complete backups, oldest first (sorted by id).
    pub fn backups(&self) -> &[BackupEntry] {
        &self.backups
    }

    /// The incomplete backups (attempts without a manifest), oldest first.
    pub fn incomplete(&self) -> &[IncompleteEntry] {
        &self.incomplete
    }

    /// The complete backup `id`.
    pub fn get(&self, id: &str) -> Option<&BackupEntry> {
        self.backups
            .binary_search_by(|b| b.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.backups[i])
    }

    /// The newest complete backup whose chain is whole (its full and every backup between
    /// are complete): the base a new incremental uses. `None` if there is none (the next
    /// backup is a full).
    ///
    /// ```
    /// # use incremental_core::repo::{Repository, Store};
    /// let repo = Repository::new(Store::memory(), "main")?;
    /// assert!(repo.catalog()?.newest().is_none());
    /// # Ok::<(), incremental_core::repo::RepoError>(())
    /// ```
    pub fn newest(&self) -> Option<&BackupEntry> {
        self.backups
            .iter()
            .rev()
            .find(|b| self.chain(&b.id).is_ok())
    }

    /// The chain ending with backup `id`: its full first, then each incremental down to
    /// `id`. An error if `id` is not a complete backup ([`RepoError::NoSuchBackup`]) or a
    /// backup of the chain is missing or incomplete ([`RepoError::BrokenChain`]).
    pub fn chain(&self, id: &str) -> Result<Vec<&BackupEntry>, RepoError> {
        let mut b = self.get(id).ok_or_else(|| RepoError::NoSuchBackup {
            location: self.location.clone(),
            stanza: self.stanza.clone(),
            id: id.to_string(),
        })?;
        let mut out = vec![b];
        while !b.is_full() {
            let broken = |missing: &str| RepoError::BrokenChain {
                location: self.location.clone(),
                stanza: self.stanza.clone(),
                id: id.to_string(),
                missing: missing.to_string(),
            };
            let Some(parent) = b.parent.as_deref() else {
                return Err(broken("(no parent recorded)"));
            };
            // A parent is always older: this also rules out loops.
            if parent >= b.id.as_str() {
                return Err(broken(parent));
            }
            b = self.get(parent).ok_or_else(|| broken(parent))?;
            out.push(b);
        }
        out.reverse();
        Ok(out)
    }

    /// Every chain: each full (oldest first) followed by every backup descending from it,
    /// through any depth, sorted by id. Backups whose chain is broken are in none (see
    /// [`Catalog::broken`]).
    pub fn chains(&self) -> Vec<Vec<&BackupEntry>> {
        let mut by_full: BTreeMap<&str, Vec<&BackupEntry>> = BTreeMap::new();
        for b in &self.backups {
            if let Ok(c) = self.chain(&b.id) {
                by_full.entry(c[0].id.as_str()).or_default().push(b);
            }
        }
        by_full.into_values().collect()
    }

    /// The complete backups whose chain is broken (a backup they need is missing or
    /// incomplete): they cannot be restored.
    pub fn broken(&self) -> Vec<&BackupEntry> {
        self.backups
            .iter()
            .filter(|b| self.chain(&b.id).is_err())
            .collect()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Catalog {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let chains: Vec<Vec<&str>> = self
            .chains()
            .iter()
            .map(|c| c.iter().map(|b| b.id.as_str()).collect())
            .collect();
        let broken: Vec<&str> = self.broken().iter().map(|b| b.id.as_str()).collect();
        let mut st = s.serialize_struct("Catalog", 6)?;
        st.serialize_field("location", &self.location)?;
        st.serialize_field("stanza", &self.stanza)?;
        st.serialize_field("chains", &chains)?;
        st.serialize_field("broken", &broken)?;
        st.serialize_field("backups", &self.backups)?;
        st.serialize_field("incomplete", &self.incomplete)?;
        st.end()
    }
}

/// The manifest of complete backup `id` ([`RepoError::NoSuchBackup`] if it has none).
pub(crate) fn manifest(repo: &Repository, id: &str) -> Result<Manifest, RepoError> {
    Manifest::read(repo.store(), repo.stanza(), id)?.ok_or_else(|| RepoError::NoSuchBackup {
        location: repo.store().location().to_string(),
        stanza: repo.stanza().to_string(),
        id: id.to_string(),
    })
}

/// The record of the last verification of backup `id`, if any.
pub(crate) fn read_verified(
    repo: &Repository,
    id: &str,
) -> Result<Option<VerifiedState>, RepoError> {
    let key = keys::verified(repo.stanza(), id);
    let Some(bytes) = repo.store().get_opt(&key)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| RepoError::store(repo.store(), &key, "not a verification record", e))
}

/// Records the verification of backup `id`.
pub(crate) fn write_verified(
    repo: &Repository,
    id: &str,
    state: &VerifiedState,
) -> Result<(), RepoError> {
    let key = keys::verified(repo.stanza(), id);
    let bytes = serde_json::to_vec_pretty(state).expect("a verification record serializes");
    repo.store().put(&key, bytes)
}

/// The start time (Unix seconds) an id names.
fn id_time(id: &str) -> Option<u64> {
    let n = |r: std::ops::Range<usize>| id.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hh, mm, ss) = (n(9..11)?, n(11..13)?, n(13..15)?);
    // Days from civil (Howard Hinnant's algorithm), the inverse of the ids' calendar.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::manifest::{Encoding, Server, FORMAT};
    use super::super::store::Store;
    use super::*;

    pub(crate) fn manifest_of(
        stanza: &str,
        id: &str,
        parent: Option<&str>,
        finished: u64,
    ) -> Manifest {
        Manifest {
            format: FORMAT,
            id: id.into(),
            stanza: stanza.into(),
            kind: if parent.is_some() {
                Kind::Incremental
            } else {
                Kind::Full
            },
            parent: parent.map(str::to_string),
            method: if parent.is_some() { "scan" } else { "full" }.into(),
            hot: true,
            from_lsn: 100,
            to_lsn: 200,
            last_lsn: 210,
            partial: false,
            server: Server {
                hostname: "h".into(),
                datadir: "/d".into(),
                version: None,
            },
            started: finished.saturating_sub(5),
            finished,
            xb_version: "test".into(),
            encoding: Encoding::default(),
            files: Vec::new(),
            bundles: Vec::new(),
        }
    }

    #[test]
    fn id_time_inverts_new_id() {
        for t in [0, 1_796_584_217, 951_782_400, 4_102_444_799] {
            assert_eq!(id_time(&keys::new_id(t, true)), Some(t), "{t}");
        }
    }

    #[test]
    fn complete_incomplete_chains_and_newest() {
        let repo = Repository::new(Store::memory(), "s").unwrap();
        let st = repo.store();
        let f1 = "20260101-000000F";
        let i1 = "20260102-000000I";
        let i2 = "20260103-000000I";
        let orphan = "20260104-000000I";
        let running = "20260105-000000I";
        manifest_of("s", f1, None, 10).write(st).unwrap();
        manifest_of("s", i1, Some(f1), 20).write(st).unwrap();
        manifest_of("s", i2, Some(i1), 30).write(st).unwrap();
        manifest_of("s", orphan, Some("20251231-000000F"), 40)
            .write(st)
            .unwrap();
        st.put(&format!("s/{running}/bundle/0"), vec![0; 7])
            .unwrap();
        st.put(&keys::lock("s"), b"{}".to_vec()).unwrap();
        st.put("other/20260101-000000F/manifest.json", b"x".to_vec())
            .unwrap();
        write_verified(&repo, i1, &VerifiedState::new(99, 2)).unwrap();
        let c = repo.catalog().unwrap();
        let ids: Vec<_> = c.backups().iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, [f1, i1, i2, orphan]);
        assert_eq!(c.incomplete().len(), 1);
        let inc = &c.incomplete()[0];
        assert_eq!((inc.id.as_str(), inc.objects, inc.bytes), (running, 1, 7));
        assert!(!inc.attempt);
        assert_eq!(inc.kind, BackupType::Incremental);
        assert_eq!(inc.started, id_time(running).unwrap());
        assert_eq!(
            c.get(i1).unwrap().verified,
            Some(VerifiedState {
                at: 99,
                ok: false,
                problems: 2
            })
        );
        let chain: Vec<_> = c.chain(i2).unwrap().iter().map(|b| b.id.clone()).collect();
        assert_eq!(chain, [f1, i1, i2]);
        let e = c.chain(orphan).unwrap_err();
        assert!(
            matches!(&e, RepoError::BrokenChain { missing, .. } if missing == "20251231-000000F"),
            "{e}"
        );
        assert!(matches!(
            c.chain("20990101-000000F"),
            Err(RepoError::NoSuchBackup { .. })
        ));
        // The orphan is newer but cannot be a base.
        assert_eq!(c.newest().unwrap().id, i2);
        assert_eq!(c.chains().len(), 1);
        assert_eq!(c.chains()[0].len(), 3);
        assert_eq!(c.broken().len(), 1);
        assert!(matches!(
            manifest(&repo, running),
            Err(RepoError::NoSuchBackup { .. })
        ));
        assert_eq!(manifest(&repo, f1).unwrap().id, f1);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn the_catalog_serializes_with_its_chains() {
        let repo = Repository::new(Store::memory(), "s").unwrap();
        let st = repo.store();
        manifest_of("s", "20260101-000000F", None, 10)
            .write(st)
            .unwrap();
        manifest_of("s", "20260102-000000I", Some("20260101-000000F"), 20)
            .write(st)
            .unwrap();
        let v = serde_json::to_value(repo.catalog().unwrap()).unwrap();
        assert_eq!(
            v["chains"],
            serde_json::json!([["20260101-000000F", "20260102-000000I"]])
        );
        assert_eq!(v["backups"][1]["kind"], "incremental");
        assert_eq!(v["backups"][1]["parent"], "20260101-000000F");
        assert_eq!(v["backups"][1]["to_lsn"], 200);
        assert_eq!(v["incomplete"], serde_json::json!([]));
    }

    #[test]
    fn a_bad_manifest_is_an_error_naming_its_key() {
        let repo = Repository::new(Store::memory(), "s").unwrap();
        repo.store()
            .put("s/20260101-000000F/manifest.json", b"{".to_vec())
            .unwrap();
        let e = repo.catalog().unwrap_err().to_string();
        assert!(e.contains("s/20260101-000000F/manifest.json"), "{e}");
    }
}
