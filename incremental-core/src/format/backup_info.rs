//! `xb_backup_info`: xb's own metadata file in every backup directory.
//!
//! The XtraBackup files (`xtrabackup_checkpoints`, `xtrabackup_info`) keep their exact layouts
//! because other tools parse them; what only xb needs lives here, in the same `key = value`
//! text form:
//!
//! | key | meaning |
//! | --- | --- |
//! | `xb_format` | version of this file's layout (1) |
//! | `tool_version` | `xb <version>` that wrote it |
//! | `backup_type` | `full` or `incremental` (as taken; not changed by prepare) |
//! | `from_lsn`, `to_lsn`, `last_lsn` | as in `xtrabackup_checkpoints` |
//! | `redo_start_lsn` | the checkpoint LSN the copied redo log (`ib_logfile0`) starts from |
//! | `selection_lsn` | pages with an LSN at or above this were copied (0 for a full backup); may be below `from_lsn` when the base's redo started earlier than its `to_lsn` |
//! | `method` | `full`, `scan`, `bitmap`, or `mixed` (bitmap for some tablespaces, scan for others) |
//! | `fallback_reason` | why a bitmap was not used, if one was asked for (empty otherwise) |
//! | `partial` | 1 if only some tables were backed up |
//! | `tables`, `tables_exclude`, `databases` | the filters of a partial backup, as given |
//! | `base_partial` | 1 if the base of this incremental was partial |
//! | `backup_id` | an identity of this backup, unique (time, process id and random bytes); a prepare gives the result the id of the newest incremental merged into it |
//! | `base_backup_id` | the `backup_id` of the base this incremental was taken from (empty for a full backup, an `--incremental-lsn` incremental, or a base without an id) |
//!
//! Unknown keys are kept, so newer writers' keys survive a round trip.

use std::path::Path;

use innodb_page::Lsn;

use crate::format::checkpoints::{BackupType, Checkpoints};
use crate::format::error::{Error, InfoError};
use crate::format::info::Info;

/// File name of xb's metadata file in a backup directory.
pub const FILE_NAME: &str = "xb_backup_info";

/// How the pages of a backup were selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// Every page copied (a full backup).
    Full,
    /// Every page read, pages at or above the selection LSN copied.
    Scan,
    /// Only pages a changed-page bitmap flagged were read (then filtered by LSN).
    Bitmap,
    /// Bitmap for some tablespaces, scan for others.
    Mixed,
}

impl Method {
    /// The name written to the file.
    pub fn name(self) -> &'static str {
        match self {
            Method::Full => "full",
            Method::Scan => "scan",
            Method::Bitmap => "bitmap",
            Method::Mixed => "mixed",
        }
    }

    /// Parses a name written by [`Method::name`].
    pub fn from_name(s: &str) -> Option<Method> {
        Some(match s {
            "full" => Method::Full,
            "scan" => Method::Scan,
            "bitmap" => Method::Bitmap,
            "mixed" => Method::Mixed,
            _ => return None,
        })
    }
}

/// The contents of `xb_backup_info`.
///
/// ```
/// use incremental_core::format::backup_info::{BackupInfo, Method};
/// use innodb_page::Lsn;
/// let mut b = BackupInfo::full(Lsn::new(2500178), Lsn::new(2500194));
/// assert_eq!(b.selection_lsn, Lsn::ZERO);
/// b.method = Method::Scan;
/// let back = BackupInfo::parse(&b.to_bytes()).unwrap();
/// assert_eq!(back, b);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// `true` for an incremental backup.
    pub incremental: bool,
    /// Base's `to_lsn` (0 for a full backup).
    pub from_lsn: Lsn,
    /// The checkpoint LSN this backup is consistent from (the next incremental's `from_lsn`).
    pub to_lsn: Lsn,
    /// Where the copied redo ends.
    pub last_lsn: Lsn,
    /// Checkpoint LSN the copied redo starts from.
    pub redo_start_lsn: Lsn,
    /// Pages with an LSN at or above this were copied.
    pub selection_lsn: Lsn,
    /// How pages were selected.
    pub method: Method,
    /// Why a requested bitmap was not used (empty if it was, or none was asked for).
    pub fallback_reason: String,
    /// Only some tables were backed up.
    pub partial: bool,
    /// `--tables` filter as given (empty if none).
    pub tables: String,
    /// `--tables-exclude` filter as given (empty if none).
    pub tables_exclude: String,
    /// `--databases` filter as given (empty if none).
    pub databases: String,
    /// The base of this incremental was partial.
    pub base_partial: bool,
    /// This backup's identity (empty when written by an xb without ids).
    pub backup_id: String,
    /// The `backup_id` of the base this incremental was taken from (empty when unknown).
    pub base_backup_id: String,
    /// Keys this version does not know, in file order.
    pub extra: Vec<(String, String)>,
}

const KNOWN: &[&str] = &[
    "xb_format",
    "tool_version",
    "backup_type",
    "from_lsn",
    "to_lsn",
    "last_lsn",
    "redo_start_lsn",
    "selection_lsn",
    "method",
    "fallback_reason",
    "partial",
    "tables",
    "tables_exclude",
    "databases",
    "base_partial",
    "backup_id",
    "base_backup_id",
];

impl BackupInfo {
    /// A full backup consistent from checkpoint `to_lsn`, with redo copied up to `last_lsn`.
    pub fn full(to_lsn: Lsn, last_lsn: Lsn) -> BackupInfo {
        BackupInfo {
            incremental: false,
            from_lsn: Lsn::ZERO,
            to_lsn,
            last_lsn,
            redo_start_lsn: to_lsn,
            selection_lsn: Lsn::ZERO,
            method: Method::Full,
            fallback_reason: String::new(),
            partial: false,
            tables: String::new(),
            tables_exclude: String::new(),
            databases: String::new(),
            base_partial: false,
            backup_id: String::new(),
            base_backup_id: String::new(),
            extra: Vec::new(),
        }
    }

    /// Serialises in the documented key order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut i = Info::new();
        i.set("xb_format", "1");
        i.set("tool_version", concat!("xb ", env!("CARGO_PKG_VERSION")));
        i.set(
            "backup_type",
            if self.incremental {
                "incremental"
            } else {
                "full"
            },
        );
        i.set_lsn("from_lsn", self.from_lsn);
        i.set_lsn("to_lsn", self.to_lsn);
        i.set_lsn("last_lsn", self.last_lsn);
        i.set_lsn("redo_start_lsn", self.redo_start_lsn);
        i.set_lsn("selection_lsn", self.selection_lsn);
        i.set("method", self.method.name());
        i.set("fallback_reason", &self.fallback_reason);
        i.set_flag("partial", self.partial);
        i.set("tables", &self.tables);
        i.set("tables_exclude", &self.tables_exclude);
        i.set("databases", &self.databases);
        i.set_flag("base_partial", self.base_partial);
        if !self.backup_id.is_empty() {
            i.set("backup_id", &self.backup_id);
        }
        if !self.base_backup_id.is_empty() {
            i.set("base_backup_id", &self.base_backup_id);
        }
        for (k, v) in &self.extra {
            i.set(k, v);
        }
        i.to_bytes()
    }

    /// Parses the file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<BackupInfo, InfoError> {
        let i = Info::parse(bytes)?;
        let lsn = |k: &'static str| -> Result<Lsn, InfoError> {
            i.get_lsn(k)?.ok_or(InfoError::MissingKey { key: k })
        };
        let text = |k: &str| i.get(k).unwrap_or("").to_string();
        let method_text = i.get("method").unwrap_or("");
        let method = Method::from_name(method_text).ok_or(InfoError::UnknownValue {
            key: "method",
            value: method_text.into(),
            expected: "full, scan, bitmap or mixed",
        })?;
        let incremental = match i.get("backup_type") {
            Some("incremental") => true,
            Some("full") => false,
            other => {
                return Err(InfoError::UnknownValue {
                    key: "backup_type",
                    value: other.unwrap_or("").into(),
                    expected: "full or incremental",
                })
            }
        };
        Ok(BackupInfo {
            incremental,
            from_lsn: lsn("from_lsn")?,
            to_lsn: lsn("to_lsn")?,
            last_lsn: lsn("last_lsn")?,
            redo_start_lsn: lsn("redo_start_lsn")?,
            selection_lsn: lsn("selection_lsn")?,
            method,
            fallback_reason: text("fallback_reason"),
            partial: i.get_flag("partial")?.unwrap_or(false),
            tables: text("tables"),
            tables_exclude: text("tables_exclude"),
            databases: text("databases"),
            base_partial: i.get_flag("base_partial")?.unwrap_or(false),
            backup_id: text("backup_id"),
            base_backup_id: text("base_backup_id"),
            extra: i
                .iter()
                .filter(|(k, _)| !KNOWN.contains(k))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    /// The backup's identity, when this file describes the present state of its directory
    /// (whose checkpoints are `ckpt`): written by xb with the same `to_lsn` and `last_lsn`, and
    /// the directory not since prepared by another tool (`full-backuped` or `incremental`; a
    /// mariabackup prepare leaves `xb_backup_info` as it was, so its id would name a state the
    /// directory no longer holds). `None` also for a file without an id.
    ///
    /// ```
    /// use incremental_core::format::backup_info::BackupInfo;
    /// use incremental_core::format::checkpoints::{BackupType, Checkpoints};
    /// use incremental_core::format::Dialect;
    /// use innodb_page::Lsn;
    /// let mut b = BackupInfo::full(Lsn(100), Lsn(110));
    /// b.backup_id = "x".into();
    /// let mut c = Checkpoints::new(Dialect::MariaDb, BackupType::FullBackuped, Lsn(0), Lsn(100), Lsn(110));
    /// assert_eq!(b.current_id(&c), Some("x"));
    /// c.backup_type = BackupType::LogApplied;
    /// assert_eq!(b.current_id(&c), None);
    /// ```
    pub fn current_id(&self, ckpt: &Checkpoints) -> Option<&str> {
        let current = self.to_lsn == ckpt.to_lsn
            && self.last_lsn == ckpt.last_lsn
            && matches!(
                ckpt.backup_type,
                BackupType::FullBackuped | BackupType::Incremental
            );
        (current && !self.backup_id.is_empty()).then_some(self.backup_id.as_str())
    }

    /// Reads `dir/xb_backup_info`; `Ok(None)` if the directory has none (a backup written by
    /// another tool).
    pub fn read_dir(dir: &Path) -> Result<Option<BackupInfo>, Error> {
        let path = dir.join(FILE_NAME);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        BackupInfo::parse(&bytes)
            .map(Some)
            .map_err(|source| Error::Info { path, source })
    }
}
