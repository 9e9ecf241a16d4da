//! `xtrabackup_checkpoints` (MariaDB 11 names it `mariadb_backup_checkpoints`): the state and
//! LSN range of a backup.
//!
//! `key = value` lines. The original tools read the file positionally, so [`Checkpoints`]
//! writes its keys in their one canonical order (each tool writes a subset of it); the parser
//! takes them in any order.
//!
//! ```
//! use incremental_core::format::checkpoints::{BackupType, Checkpoints};
//! let text = b"backup_type = incremental\nfrom_lsn = 2500178\nto_lsn = 15297519\n\
//!              last_lsn = 15297535\nrecover_binlog_info = 0\n";
//! let c = Checkpoints::parse(text).unwrap();
//! assert_eq!(c.backup_type, BackupType::Incremental);
//! assert_eq!(c.from_lsn.get(), 2500178);
//! assert_eq!(c.to_bytes(), text);
//! ```

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use innodb_page::Lsn;
use thiserror::Error as ThisError;

use crate::format::error::{CheckpointsError, Error};
use crate::format::Dialect;

/// The file names a backup directory may hold its checkpoints under, in order of preference.
///
/// ```
/// assert_eq!(incremental_core::format::checkpoints::FILE_NAMES[1], "mariadb_backup_checkpoints");
/// ```
pub const FILE_NAMES: &[&str] = &["xtrabackup_checkpoints", "mariadb_backup_checkpoints"];

/// The state of a backup directory (`backup_type`).
///
/// ```
/// use incremental_core::format::checkpoints::BackupType;
/// let t: BackupType = "log-applied".parse().unwrap();
/// assert_eq!(t, BackupType::LogApplied);
/// assert_eq!(t.to_string(), "log-applied");
/// assert!("full".parse::<BackupType>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackupType {
    /// `full-backuped`: a full backup, not prepared.
    FullBackuped,
    /// `incremental`: an incremental backup (deltas and its own redo), never a prepare target.
    Incremental,
    /// `log-applied`: redo applied without rollback; more incrementals can be applied. MariaDB
    /// writes it after every prepare; XtraBackup with `--apply-log-only`.
    LogApplied,
    /// `full-prepared` (XtraBackup only): prepared for good; no incremental can follow.
    FullPrepared,
}

impl BackupType {
    /// Every state, in the order above.
    ///
    /// ```
    /// use incremental_core::format::checkpoints::BackupType;
    /// assert!(BackupType::ALL.iter().all(|t| t.as_str().parse() == Ok(*t)));
    /// ```
    pub const ALL: [BackupType; 4] = [
        BackupType::FullBackuped,
        BackupType::Incremental,
        BackupType::LogApplied,
        BackupType::FullPrepared,
    ];

    /// The value as written in the file.
    ///
    /// ```
    /// use incremental_core::format::checkpoints::BackupType;
    /// assert_eq!(BackupType::FullBackuped.as_str(), "full-backuped");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            BackupType::FullBackuped => "full-backuped",
            BackupType::Incremental => "incremental",
            BackupType::LogApplied => "log-applied",
            BackupType::FullPrepared => "full-prepared",
        }
    }

    /// The state after preparing a backup in this state on its own (no incremental):
    /// `log_only` (XtraBackup's `--apply-log-only`; always true for mariabackup, which never
    /// rolls back in prepare) gives [`LogApplied`](BackupType::LogApplied), else
    /// [`FullPrepared`](BackupType::FullPrepared).
    ///
    /// A full backup can be prepared, and a `log-applied` one prepared again (to finish it);
    /// a `full-prepared` backup is final (preparing it again is allowed but keeps it
    /// final), and an incremental is never prepared on its own.
    ///
    /// ```
    /// use incremental_core::format::checkpoints::BackupType::*;
    /// assert_eq!(FullBackuped.prepare(true), Ok(LogApplied));
    /// assert_eq!(LogApplied.prepare(false), Ok(FullPrepared));
    /// assert!(FullPrepared.prepare(true).is_err());
    /// assert!(Incremental.prepare(true).is_err());
    /// ```
    pub fn prepare(self, log_only: bool) -> Result<BackupType, TransitionError> {
        match (self, log_only) {
            (BackupType::FullBackuped | BackupType::LogApplied, true) => Ok(BackupType::LogApplied),
            (BackupType::FullBackuped | BackupType::LogApplied, false)
            | (BackupType::FullPrepared, false) => Ok(BackupType::FullPrepared),
            (BackupType::FullPrepared, true) => Err(TransitionError::AlreadyFullyPrepared),
            (BackupType::Incremental, _) => Err(TransitionError::IncrementalIsNotATarget),
        }
    }

    /// The state of a base in this state after an incremental is applied to it. The base must
    /// be [`LogApplied`](BackupType::LogApplied) (prepared first, with `--apply-log-only` for
    /// XtraBackup); `log_only` as in [`prepare`](Self::prepare).
    ///
    /// ```
    /// use incremental_core::format::checkpoints::{BackupType::*, TransitionError};
    /// assert_eq!(LogApplied.apply_incremental(true), Ok(LogApplied));
    /// assert_eq!(LogApplied.apply_incremental(false), Ok(FullPrepared));
    /// assert_eq!(FullBackuped.apply_incremental(true), Err(TransitionError::BaseNotPrepared));
    /// assert_eq!(FullPrepared.apply_incremental(true), Err(TransitionError::AlreadyFullyPrepared));
    /// ```
    pub fn apply_incremental(self, log_only: bool) -> Result<BackupType, TransitionError> {
        match self {
            BackupType::LogApplied if log_only => Ok(BackupType::LogApplied),
            BackupType::LogApplied => Ok(BackupType::FullPrepared),
            BackupType::FullBackuped => Err(TransitionError::BaseNotPrepared),
            BackupType::FullPrepared => Err(TransitionError::AlreadyFullyPrepared),
            BackupType::Incremental => Err(TransitionError::IncrementalIsNotATarget),
        }
    }
}

impl fmt::Display for BackupType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `backup_type` value that is not one of the four states.
///
/// ```
/// use incremental_core::format::checkpoints::{BackupType, UnknownBackupType};
/// assert_eq!("x".parse::<BackupType>(), Err(UnknownBackupType("x".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[error("unknown backup_type {0:?}")]
pub struct UnknownBackupType(pub String);

impl FromStr for BackupType {
    type Err = UnknownBackupType;
    fn from_str(s: &str) -> Result<BackupType, UnknownBackupType> {
        BackupType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownBackupType(s.to_owned()))
    }
}

/// A step the state of a backup does not allow.
///
/// ```
/// use incremental_core::format::checkpoints::{BackupType, TransitionError};
/// let e = BackupType::Incremental.prepare(true).unwrap_err();
/// assert_eq!(e, TransitionError::IncrementalIsNotATarget);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum TransitionError {
    /// An incremental was given as the target of a prepare.
    #[error("an incremental backup cannot be prepared on its own; apply it to its base")]
    IncrementalIsNotATarget,
    /// The base of an incremental is a full backup that was not prepared yet.
    #[error("applying an incremental backup needs a prepared target (log-applied); prepare the base first")]
    BaseNotPrepared,
    /// The base was fully prepared (`full-prepared`): it cannot take an incremental nor go back
    /// to `log-applied`.
    #[error("the target is fully prepared (full-prepared): no incremental can be applied to it")]
    AlreadyFullyPrepared,
    /// The directory given as the incremental is not an incremental backup.
    #[error("the incremental directory holds a {0} backup, not an incremental one")]
    NotAnIncremental(BackupType),
    /// The incremental does not start where the base ends.
    #[error(
        "this incremental backup does not follow the target: the target's to_lsn is {base_to_lsn}, \
         the incremental's from_lsn is {inc_from_lsn} (they must be equal)"
    )]
    LsnGap {
        /// `to_lsn` of the base.
        base_to_lsn: Lsn,
        /// `from_lsn` of the incremental.
        inc_from_lsn: Lsn,
    },
}

/// The contents of an `xtrabackup_checkpoints` file.
///
/// The optional keys are `None` when absent; [`to_bytes`](Self::to_bytes) writes the keys that
/// are present in the canonical order, then the unknown keys found by the parser, in their
/// order.
///
/// ```
/// use incremental_core::format::checkpoints::{BackupType, Checkpoints};
/// let c = Checkpoints::read_dir("../tests/data/mariadb-10.11/backup/full").unwrap();
/// assert_eq!(c.backup_type, BackupType::FullBackuped);
/// assert_eq!((c.from_lsn.get(), c.to_lsn.get(), c.last_lsn.get()), (0, 2500178, 2500194));
/// assert_eq!(c.recover_binlog_info, Some(false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoints {
    /// `backup_type`.
    pub backup_type: BackupType,
    /// `from_lsn`: 0 for a full backup, the base's `to_lsn` for an incremental.
    pub from_lsn: Lsn,
    /// `to_lsn`: the checkpoint LSN at the end of the backup; the next incremental starts here.
    pub to_lsn: Lsn,
    /// `last_lsn`: where the redo copy ended (0 when absent, as the originals read it).
    pub last_lsn: Lsn,
    /// `compact` (XtraBackup 2.4).
    pub compact: Option<bool>,
    /// `recover_binlog_info` (XtraBackup 2.4, mariabackup).
    pub recover_binlog_info: Option<bool>,
    /// `flushed_lsn` (XtraBackup).
    pub flushed_lsn: Option<Lsn>,
    /// `redo_memory` (XtraBackup 8.0.30+).
    pub redo_memory: Option<u64>,
    /// `redo_frames` (XtraBackup 8.0.30+).
    pub redo_frames: Option<u64>,
    /// Keys this crate does not know, with their values, in file order.
    pub other: Vec<(String, String)>,
}

/// The known keys, in canonical order.
const KEYS: [&str; 9] = [
    "backup_type",
    "from_lsn",
    "to_lsn",
    "last_lsn",
    "compact",
    "recover_binlog_info",
    "flushed_lsn",
    "redo_memory",
    "redo_frames",
];

impl Checkpoints {
    /// The checkpoints of a new backup, with the optional keys `dialect` writes set to 0.
    ///
    /// ```
    /// use incremental_core::format::{checkpoints::{BackupType, Checkpoints}, Dialect};
    /// use innodb_page::Lsn;
    /// let c = Checkpoints::new(Dialect::MariaDb, BackupType::FullBackuped, Lsn(0), Lsn(46921), Lsn(46937));
    /// assert_eq!(c.to_bytes(), b"backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 46921\n\
    ///     last_lsn = 46937\nrecover_binlog_info = 0\n");
    /// ```
    pub fn new(
        dialect: Dialect,
        backup_type: BackupType,
        from_lsn: Lsn,
        to_lsn: Lsn,
        last_lsn: Lsn,
    ) -> Checkpoints {
        let (pxb24, pxb80, redo) = match dialect {
            Dialect::MariaDb => (false, false, false),
            Dialect::Pxb24 => (true, false, false),
            Dialect::Pxb80 => (false, true, false),
            Dialect::Pxb80Redo => (false, true, true),
        };
        Checkpoints {
            backup_type,
            from_lsn,
            to_lsn,
            last_lsn,
            compact: pxb24.then_some(false),
            recover_binlog_info: (!pxb80).then_some(false),
            flushed_lsn: (pxb24 || pxb80).then_some(Lsn::ZERO),
            redo_memory: redo.then_some(0),
            redo_frames: redo.then_some(0),
            other: Vec::new(),
        }
    }

    /// Parses the file: `key = value` lines in any order (whitespace around `=` and at the ends
    /// of a line is ignored; blank lines are skipped). `backup_type`, `from_lsn` and `to_lsn`
    /// are required; unknown keys are kept in [`other`](Self::other). Rejected: other lines,
    /// duplicate keys, unknown states, values that are not decimal numbers (or 0/1 for
    /// `compact` and `recover_binlog_info`).
    ///
    /// ```
    /// use incremental_core::format::checkpoints::Checkpoints;
    /// use incremental_core::format::error::CheckpointsError;
    /// let c = Checkpoints::parse(b"to_lsn=9\nfrom_lsn = 0\nbackup_type = log-applied\nx = 1\n").unwrap();
    /// assert_eq!((c.to_lsn.get(), c.last_lsn.get()), (9, 0));
    /// assert_eq!(c.other, [("x".to_string(), "1".to_string())]);
    /// assert!(matches!(
    ///     Checkpoints::parse(b"backup_type = full\n"),
    ///     Err(CheckpointsError::UnknownBackupType { line: 1, .. })
    /// ));
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Checkpoints, CheckpointsError> {
        let mut seen: Vec<(String, usize)> = Vec::new();
        let mut backup_type = None;
        let mut lsns = [None::<Lsn>; 3];
        // The required keys are filled in after the loop.
        let mut c = Checkpoints {
            backup_type: BackupType::FullBackuped,
            from_lsn: Lsn::ZERO,
            to_lsn: Lsn::ZERO,
            last_lsn: Lsn::ZERO,
            compact: None,
            recover_binlog_info: None,
            flushed_lsn: None,
            redo_memory: None,
            redo_frames: None,
            other: Vec::new(),
        };
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let text = std::str::from_utf8(raw).map_err(|_| CheckpointsError::NotUtf8 { line })?;
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let (key, value) = text
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or(CheckpointsError::Syntax { line })?;
            if let Some((_, first_line)) = seen.iter().find(|(k, _)| k == key) {
                return Err(CheckpointsError::DuplicateKey {
                    line,
                    first_line: *first_line,
                    key: key.to_owned(),
                });
            }
            seen.push((key.to_owned(), line));
            let Some(k) = KEYS.iter().position(|&k| k == key) else {
                c.other.push((key.to_owned(), value.to_owned()));
                continue;
            };
            let name = KEYS[k];
            let number = || {
                parse_u64(value).ok_or_else(|| CheckpointsError::BadValue {
                    line,
                    key: name,
                    value: value.to_owned(),
                    expected: "a decimal number",
                })
            };
            let flag = || match value {
                "0" => Ok(false),
                "1" => Ok(true),
                _ => Err(CheckpointsError::BadValue {
                    line,
                    key: name,
                    value: value.to_owned(),
                    expected: "0 or 1",
                }),
            };
            match k {
                0 => {
                    backup_type = Some(value.parse::<BackupType>().map_err(|_| {
                        CheckpointsError::UnknownBackupType {
                            line,
                            value: value.to_owned(),
                        }
                    })?)
                }
                1..=3 => lsns[k - 1] = Some(Lsn(number()?)),
                4 => c.compact = Some(flag()?),
                5 => c.recover_binlog_info = Some(flag()?),
                6 => c.flushed_lsn = Some(Lsn(number()?)),
                7 => c.redo_memory = Some(number()?),
                _ => c.redo_frames = Some(number()?),
            }
        }
        c.backup_type = backup_type.ok_or(CheckpointsError::Missing { key: "backup_type" })?;
        c.from_lsn = lsns[0].ok_or(CheckpointsError::Missing { key: "from_lsn" })?;
        c.to_lsn = lsns[1].ok_or(CheckpointsError::Missing { key: "to_lsn" })?;
        c.last_lsn = lsns[2].unwrap_or(Lsn::ZERO);
        Ok(c)
    }

    /// The file's bytes: `key = value\n` for each key present, in the canonical order
    /// (`backup_type`, `from_lsn`, `to_lsn`, `last_lsn`, `compact`, `recover_binlog_info`,
    /// `flushed_lsn`, `redo_memory`, `redo_frames`), then the unknown keys.
    ///
    /// ```
    /// use incremental_core::format::checkpoints::Checkpoints;
    /// let text = std::fs::read(
    ///     "../tests/data/mariadb-10.11/backup/prepared/xtrabackup_checkpoints").unwrap();
    /// assert_eq!(Checkpoints::parse(&text).unwrap().to_bytes(), text);
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut put = |k: &str, v: &dyn fmt::Display| s.push_str(&format!("{k} = {v}\n"));
        put("backup_type", &self.backup_type);
        put("from_lsn", &self.from_lsn);
        put("to_lsn", &self.to_lsn);
        put("last_lsn", &self.last_lsn);
        if let Some(v) = self.compact {
            put("compact", &u8::from(v));
        }
        if let Some(v) = self.recover_binlog_info {
            put("recover_binlog_info", &u8::from(v));
        }
        if let Some(v) = self.flushed_lsn {
            put("flushed_lsn", &v);
        }
        if let Some(v) = self.redo_memory {
            put("redo_memory", &v);
        }
        if let Some(v) = self.redo_frames {
            put("redo_frames", &v);
        }
        for (k, v) in &self.other {
            put(k, v);
        }
        s.into_bytes()
    }

    /// The checkpoints of the base after preparing it on its own (§4.9 of the spec: only the
    /// state changes).
    ///
    /// ```
    /// use incremental_core::format::checkpoints::{BackupType, Checkpoints};
    /// let full = Checkpoints::read_dir("../tests/data/mariadb-10.11/backup/full").unwrap();
    /// let prepared = full.prepared(true).unwrap();
    /// assert_eq!(prepared.backup_type, BackupType::LogApplied);
    /// assert_eq!(prepared.to_lsn, full.to_lsn);
    /// ```
    pub fn prepared(&self, log_only: bool) -> Result<Checkpoints, TransitionError> {
        Ok(Checkpoints {
            backup_type: self.backup_type.prepare(log_only)?,
            ..self.clone()
        })
    }

    /// Checks that the incremental `inc` can be applied to this base, and returns the base's
    /// checkpoints after the apply: the base must be `log-applied`, `inc` an `incremental`
    /// whose `from_lsn` equals the base's `to_lsn`. The result keeps the base's `from_lsn`;
    /// takes `to_lsn` and `last_lsn` from `inc` when it ends later; takes `inc`'s
    /// `flushed_lsn` when both have one.
    ///
    /// ```
    /// use incremental_core::format::checkpoints::{BackupType, Checkpoints};
    /// let dir = "../tests/data/mariadb-10.11/backup";
    /// let base = Checkpoints::read_dir(format!("{dir}/full")).unwrap().prepared(true).unwrap();
    /// let inc = Checkpoints::read_dir(format!("{dir}/inc1")).unwrap();
    /// let after = base.apply_incremental(&inc, true).unwrap();
    /// assert_eq!(after, Checkpoints::read_dir(format!("{dir}/prepared")).unwrap());
    /// // Applying it twice breaks the chain.
    /// assert!(after.apply_incremental(&inc, true).is_err());
    /// ```
    pub fn apply_incremental(
        &self,
        inc: &Checkpoints,
        log_only: bool,
    ) -> Result<Checkpoints, TransitionError> {
        let backup_type = self.backup_type.apply_incremental(log_only)?;
        if inc.backup_type != BackupType::Incremental {
            return Err(TransitionError::NotAnIncremental(inc.backup_type));
        }
        if self.to_lsn != inc.from_lsn {
            return Err(TransitionError::LsnGap {
                base_to_lsn: self.to_lsn,
                inc_from_lsn: inc.from_lsn,
            });
        }
        let mut out = Checkpoints {
            backup_type,
            ..self.clone()
        };
        if self.to_lsn < inc.to_lsn {
            out.to_lsn = inc.to_lsn;
            out.last_lsn = inc.last_lsn;
        }
        if out.flushed_lsn.is_some() && inc.flushed_lsn.is_some() {
            out.flushed_lsn = inc.flushed_lsn;
        }
        Ok(out)
    }

    /// Reads and parses the checkpoints file at `path`.
    ///
    /// ```
    /// use incremental_core::format::checkpoints::Checkpoints;
    /// let c = Checkpoints::read_file(
    ///     "../tests/data/mariadb-10.11/backup/inc1/xtrabackup_checkpoints").unwrap();
    /// assert_eq!(c.to_lsn.get(), 15297519);
    /// ```
    pub fn read_file(path: impl AsRef<Path>) -> Result<Checkpoints, Error> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        Checkpoints::parse(&bytes).map_err(|source| Error::Checkpoints {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads the checkpoints of the backup directory `dir` ([`find`]).
    ///
    /// ```
    /// use incremental_core::format::checkpoints::Checkpoints;
    /// let e = Checkpoints::read_dir("../tests/data/mariadb-10.11/backup").unwrap_err();
    /// assert!(e.to_string().contains("none of"));
    /// ```
    pub fn read_dir(dir: impl AsRef<Path>) -> Result<Checkpoints, Error> {
        Checkpoints::read_file(find(dir.as_ref())?)
    }

    /// Writes the file at `path` (replacing it).
    ///
    /// ```
    /// use incremental_core::format::{checkpoints::{BackupType, Checkpoints}, Dialect};
    /// use innodb_page::Lsn;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("xtrabackup_checkpoints");
    /// let c = Checkpoints::new(Dialect::Pxb24, BackupType::FullBackuped, Lsn(0), Lsn(5), Lsn(6));
    /// c.write_file(&path).unwrap();
    /// assert_eq!(Checkpoints::read_file(&path).unwrap(), c);
    /// ```
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        fs::write(path, self.to_bytes()).map_err(|e| Error::io(path, e))
    }
}

/// The checkpoints file of the backup directory `dir`: `xtrabackup_checkpoints`, else
/// `mariadb_backup_checkpoints` (MariaDB 11).
///
/// ```
/// use incremental_core::format::checkpoints::find;
/// let p = find("../tests/data/mariadb-10.11/backup/inc1".as_ref()).unwrap();
/// assert!(p.ends_with("xtrabackup_checkpoints"));
/// ```
pub fn find(dir: &Path) -> Result<PathBuf, Error> {
    find_one_of(dir, FILE_NAMES)
}

/// The first of `names` that exists as a file in `dir`.
pub(crate) fn find_one_of(dir: &Path, names: &'static [&'static str]) -> Result<PathBuf, Error> {
    for name in names {
        let p = dir.join(name);
        match fs::metadata(&p) {
            Ok(m) if m.is_file() => return Ok(p),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(p, e)),
        }
    }
    Err(Error::NotFound {
        dir: dir.to_owned(),
        names,
    })
}

/// A decimal u64: digits only, at least one.
pub(crate) fn parse_u64(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_total_and_consistent() {
        for t in BackupType::ALL {
            for log_only in [false, true] {
                if let Ok(next) = t.prepare(log_only) {
                    assert_ne!(next, BackupType::Incremental);
                    assert_ne!(next, BackupType::FullBackuped);
                }
                if let Ok(next) = t.apply_incremental(log_only) {
                    assert_eq!(t, BackupType::LogApplied);
                    assert_ne!(next, BackupType::Incremental);
                }
            }
        }
    }

    #[test]
    fn pxb24_example_round_trips() {
        let text =
            b"backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 2632867\nlast_lsn = 2632876\n\
compact = 0\nrecover_binlog_info = 0\nflushed_lsn = 2632867\n";
        let c = Checkpoints::parse(text).unwrap();
        assert_eq!(c.flushed_lsn, Some(Lsn(2632867)));
        assert_eq!(c.to_bytes(), text);
    }

    #[test]
    fn rejects_with_line_numbers() {
        let e = Checkpoints::parse(
            b"backup_type = incremental\nfrom_lsn = 0\nto_lsn = 1\ncompact = 2\n",
        )
        .unwrap_err();
        assert!(matches!(
            e,
            CheckpointsError::BadValue {
                line: 4,
                key: "compact",
                ..
            }
        ));
        let e = Checkpoints::parse(b"from_lsn = 0\nfrom_lsn = 0\n").unwrap_err();
        assert!(matches!(
            e,
            CheckpointsError::DuplicateKey {
                line: 2,
                first_line: 1,
                ..
            }
        ));
        assert_eq!(
            Checkpoints::parse(b"backup_type = incremental\n= 3\n"),
            Err(CheckpointsError::Syntax { line: 2 })
        );
        assert_eq!(
            Checkpoints::parse(b"to_lsn = 1\nfrom_lsn = 0\n"),
            Err(CheckpointsError::Missing { key: "backup_type" })
        );
        let e = Checkpoints::parse(b"backup_type = log-applied\nfrom_lsn = -1\n").unwrap_err();
        assert!(matches!(e, CheckpointsError::BadValue { line: 2, .. }));
    }
}
