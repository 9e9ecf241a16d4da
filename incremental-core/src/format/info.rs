//! `xtrabackup_info` (MariaDB 11: `mariadb_backup_info`): what the backup was, as ordered
//! `key = value` lines.
//!
//! Recent XtraBackup 8.0 reads some values of this file by line position, so [`Info`] keeps
//! the keys in their order on read and write; [`Info::template`] gives each tool's order.
//!
//! ```
//! use incremental_core::format::info::Info;
//! let text = std::fs::read("../tests/data/mariadb-10.11/backup/inc1/xtrabackup_info").unwrap();
//! let info = Info::parse(&text).unwrap();
//! assert_eq!(info.get("tool_name"), Some("mariabackup"));
//! assert_eq!(info.innodb_from_lsn().unwrap().unwrap().get(), 2500178);
//! assert_eq!(info.incremental().unwrap(), Some(true));
//! assert_eq!(info.to_bytes(), text);
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use innodb_page::Lsn;

use crate::format::checkpoints::{find_one_of, parse_u64};
use crate::format::error::{Error, InfoError};
use crate::format::Dialect;

/// The file names a backup directory may hold its info under, in order of preference.
///
/// ```
/// assert_eq!(incremental_core::format::info::FILE_NAMES, ["xtrabackup_info", "mariadb_backup_info"]);
/// ```
pub const FILE_NAMES: &[&str] = &["xtrabackup_info", "mariadb_backup_info"];

impl Dialect {
    /// The `xtrabackup_info` keys this tool writes, in order.
    ///
    /// ```
    /// use incremental_core::format::Dialect;
    /// let k = Dialect::Pxb80.info_keys();
    /// // XtraBackup 8.0 reads lines 6 to 8 and line 20 by position.
    /// assert_eq!((k[5], k[6], k[7], k[19]),
    ///            ("ibbackup_version", "server_version", "server_flavor", "lock_ddl_type"));
    /// ```
    pub const fn info_keys(self) -> &'static [&'static str] {
        match self {
            Dialect::MariaDb => &[
                "uuid",
                "name",
                "tool_name",
                "tool_command",
                "tool_version",
                "ibbackup_version",
                "server_version",
                "start_time",
                "end_time",
                "lock_time",
                "binlog_pos",
                "innodb_from_lsn",
                "innodb_to_lsn",
                "partial",
                "incremental",
                "format",
                "compressed",
            ],
            Dialect::Pxb24 => &[
                "uuid",
                "name",
                "tool_name",
                "tool_command",
                "tool_version",
                "ibbackup_version",
                "server_version",
                "start_time",
                "end_time",
                "lock_time",
                "binlog_pos",
                "innodb_from_lsn",
                "innodb_to_lsn",
                "partial",
                "incremental",
                "format",
                "compact",
                "compressed",
                "encrypted",
            ],
            Dialect::Pxb80 | Dialect::Pxb80Redo => &[
                "uuid",
                "name",
                "tool_name",
                "tool_command",
                "tool_version",
                "ibbackup_version",
                "server_version",
                "server_flavor",
                "start_time",
                "end_time",
                "lock_time",
                "binlog_pos",
                "innodb_from_lsn",
                "innodb_to_lsn",
                "partial",
                "incremental",
                "format",
                "compressed",
                "encrypted",
                "lock_ddl_type",
            ],
        }
    }
}

/// The ordered `key = value` pairs of an `xtrabackup_info` file.
///
/// ```
/// use incremental_core::format::{info::Info, Dialect};
/// use innodb_page::Lsn;
/// let mut info = Info::template(Dialect::MariaDb);
/// info.set("tool_name", "xb");
/// info.set_lsn("innodb_to_lsn", Lsn(42));
/// info.set_flag("incremental", false);
/// let text = String::from_utf8(info.to_bytes()).unwrap();
/// assert!(text.starts_with("uuid = \nname = \ntool_name = xb\n"));
/// assert!(text.contains("\ninnodb_to_lsn = 42\npartial = \nincremental = N\n"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Info {
    entries: Vec<(String, String)>,
    /// Line number of each entry in the parsed file (0 when set by the program).
    lines: Vec<usize>,
}

impl PartialEq for Info {
    /// Equal when the entries are (line numbers do not count).
    fn eq(&self, other: &Info) -> bool {
        self.entries == other.entries
    }
}

impl Eq for Info {}

impl Info {
    /// An empty file.
    ///
    /// ```
    /// assert!(incremental_core::format::info::Info::new().is_empty());
    /// ```
    pub fn new() -> Info {
        Info::default()
    }

    /// The keys of `dialect` in order, each with an empty value, ready for [`set`](Self::set).
    ///
    /// ```
    /// use incremental_core::format::{info::Info, Dialect};
    /// let info = Info::template(Dialect::Pxb24);
    /// assert_eq!(info.len(), 19);
    /// assert_eq!(info.get("compact"), Some(""));
    /// ```
    pub fn template(dialect: Dialect) -> Info {
        let mut info = Info::new();
        for k in dialect.info_keys() {
            info.set(k, "");
        }
        info
    }

    /// Parses the file. Each non-blank line is `key = value`: the key is what precedes the first
    /// `=`, trimmed; the value is what follows it, less one leading space (so that
    /// `name = ` has an empty value and the file round-trips byte for byte). Rejected: other
    /// lines, empty keys, duplicate keys, text that is not UTF-8.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// use incremental_core::format::error::InfoError;
    /// let info = Info::parse(b"name = \nbinlog_pos = filename 'b.000001', position '4'\n").unwrap();
    /// assert_eq!(info.get("name"), Some(""));
    /// assert_eq!(info.get("binlog_pos"), Some("filename 'b.000001', position '4'"));
    /// assert!(matches!(Info::parse(b"a = 1\na = 2\n"), Err(InfoError::DuplicateKey { line: 2, .. })));
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Info, InfoError> {
        let mut info = Info::new();
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        if body.is_empty() {
            return Ok(info);
        }
        for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let text = std::str::from_utf8(raw).map_err(|_| InfoError::NotUtf8 { line })?;
            if text.trim().is_empty() {
                continue;
            }
            let (key, value) = text.split_once('=').ok_or(InfoError::Syntax { line })?;
            let key = key.trim();
            if key.is_empty() {
                return Err(InfoError::Syntax { line });
            }
            let value = value.strip_prefix(' ').unwrap_or(value);
            if let Some(first) = info.position(key) {
                return Err(InfoError::DuplicateKey {
                    line,
                    first_line: info.lines[first],
                    key: key.to_owned(),
                });
            }
            info.entries.push((key.to_owned(), value.to_owned()));
            info.lines.push(line);
        }
        Ok(info)
    }

    /// The file's bytes: `key = value\n` per entry, in order.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let mut info = Info::new();
    /// info.set("partial", "N");
    /// assert_eq!(info.to_bytes(), b"partial = N\n");
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::new();
        for (k, v) in &self.entries {
            s.push_str(k);
            s.push_str(" = ");
            s.push_str(v);
            s.push('\n');
        }
        s.into_bytes()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    /// The number of entries.
    ///
    /// ```
    /// assert_eq!(incremental_core::format::info::Info::parse(b"a = 1\nb = 2\n").unwrap().len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no entry.
    ///
    /// ```
    /// assert!(incremental_core::format::info::Info::parse(b"").unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys, in order.
    ///
    /// ```
    /// let info = incremental_core::format::info::Info::parse(b"b = 1\na = 2\n").unwrap();
    /// assert_eq!(info.keys().collect::<Vec<_>>(), ["b", "a"]);
    /// ```
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The entries, in order.
    ///
    /// ```
    /// let info = incremental_core::format::info::Info::parse(b"b = 1\n").unwrap();
    /// assert_eq!(info.iter().collect::<Vec<_>>(), [("b", "1")]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `key`.
    ///
    /// ```
    /// let info = incremental_core::format::info::Info::parse(b"format = file\n").unwrap();
    /// assert_eq!((info.get("format"), info.get("uuid")), (Some("file"), None));
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.position(key).map(|i| self.entries[i].1.as_str())
    }

    /// Sets `key` to `value`, in place when the key exists, else appended. A value holding a
    /// line break would break the file: line breaks are replaced by spaces.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let mut info = Info::parse(b"a = 1\nb = 2\n").unwrap();
    /// info.set("a", "x\ny");
    /// info.set("c", "3");
    /// assert_eq!(info.to_bytes(), b"a = x y\nb = 2\nc = 3\n");
    /// ```
    pub fn set(&mut self, key: &str, value: &str) {
        let value = value.replace(['\n', '\r'], " ");
        match self.position(key) {
            Some(i) => self.entries[i].1 = value,
            None => {
                self.entries.push((key.to_owned(), value));
                self.lines.push(0);
            }
        }
    }

    /// Sets `key` to an LSN.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let mut info = Info::new();
    /// info.set_lsn("innodb_from_lsn", innodb_page::Lsn(7));
    /// assert_eq!(info.get("innodb_from_lsn"), Some("7"));
    /// ```
    pub fn set_lsn(&mut self, key: &str, lsn: Lsn) {
        self.set(key, &lsn.to_string());
    }

    /// Sets `key` to `Y` or `N`.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let mut info = Info::new();
    /// info.set_flag("partial", true);
    /// assert_eq!(info.get("partial"), Some("Y"));
    /// ```
    pub fn set_flag(&mut self, key: &str, value: bool) {
        self.set(key, if value { "Y" } else { "N" });
    }

    fn bad(&self, key: &str, expected: &'static str) -> InfoError {
        let i = self.position(key).unwrap_or(0);
        InfoError::BadValue {
            line: self.lines.get(i).copied().unwrap_or(0),
            key: key.to_owned(),
            value: self.get(key).unwrap_or("").to_owned(),
            expected,
        }
    }

    /// The value of `key` as an LSN; `None` when absent.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let info = Info::parse(b"innodb_to_lsn = 2500178\nx = y\n").unwrap();
    /// assert_eq!(info.get_lsn("innodb_to_lsn").unwrap().unwrap().get(), 2500178);
    /// assert!(info.get_lsn("x").is_err());
    /// ```
    pub fn get_lsn(&self, key: &str) -> Result<Option<Lsn>, InfoError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_u64(v)
                .map(|n| Some(Lsn(n)))
                .ok_or_else(|| self.bad(key, "a decimal number")),
        }
    }

    /// The value of `key` as a `Y`/`N` flag; `None` when absent.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let info = Info::parse(b"partial = N\ncompressed = maybe\n").unwrap();
    /// assert_eq!(info.get_flag("partial").unwrap(), Some(false));
    /// assert!(info.get_flag("compressed").is_err());
    /// ```
    pub fn get_flag(&self, key: &str) -> Result<Option<bool>, InfoError> {
        match self.get(key) {
            None => Ok(None),
            Some("Y") => Ok(Some(true)),
            Some("N") => Ok(Some(false)),
            Some(_) => Err(self.bad(key, "Y or N")),
        }
    }

    /// `innodb_from_lsn`: the incremental LSN the backup started from (0 for a full backup).
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let info = Info::read_file("../tests/data/mariadb-10.11/backup/full/xtrabackup_info").unwrap();
    /// assert_eq!(info.innodb_from_lsn().unwrap(), Some(innodb_page::Lsn(0)));
    /// ```
    pub fn innodb_from_lsn(&self) -> Result<Option<Lsn>, InfoError> {
        self.get_lsn("innodb_from_lsn")
    }

    /// `innodb_to_lsn`: the backup's `to_lsn`.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let info = Info::read_file("../tests/data/mariadb-10.11/backup/full/xtrabackup_info").unwrap();
    /// assert_eq!(info.innodb_to_lsn().unwrap(), Some(innodb_page::Lsn(2500178)));
    /// ```
    pub fn innodb_to_lsn(&self) -> Result<Option<Lsn>, InfoError> {
        self.get_lsn("innodb_to_lsn")
    }

    /// `partial`: whether only some tables were backed up.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let info = Info::read_file("../tests/data/mariadb-10.11/backup/full/xtrabackup_info").unwrap();
    /// assert_eq!(info.partial().unwrap(), Some(false));
    /// ```
    pub fn partial(&self) -> Result<Option<bool>, InfoError> {
        self.get_flag("partial")
    }

    /// `incremental`: whether the backup is an incremental one.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let info = Info::read_file("../tests/data/mariadb-10.11/backup/full/xtrabackup_info").unwrap();
    /// assert_eq!(info.incremental().unwrap(), Some(false));
    /// ```
    pub fn incremental(&self) -> Result<Option<bool>, InfoError> {
        self.get_flag("incremental")
    }

    /// `compressed`: whether the backup's files are compressed (`.qp`, `.zst`, ...). A
    /// compressed backup has the value `compressed` (mariabackup and XtraBackup write that
    /// word, not `Y`), an uncompressed one `N`.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let info = Info::read_file("../tests/data/mariadb-10.11/backup/full/xtrabackup_info").unwrap();
    /// assert_eq!(info.compressed().unwrap(), Some(false));
    /// let info = Info::parse(b"compressed = compressed\n").unwrap();
    /// assert_eq!(info.compressed().unwrap(), Some(true));
    /// ```
    pub fn compressed(&self) -> Result<Option<bool>, InfoError> {
        match self.get("compressed") {
            Some("compressed") => Ok(Some(true)),
            _ => self.get_flag("compressed"),
        }
    }

    /// `encrypted` (XtraBackup): whether the backup's files are encrypted.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let info = Info::read_file("../tests/data/mariadb-10.11/backup/full/xtrabackup_info").unwrap();
    /// assert_eq!(info.encrypted().unwrap(), None); // mariabackup does not write it
    /// ```
    pub fn encrypted(&self) -> Result<Option<bool>, InfoError> {
        self.get_flag("encrypted")
    }

    /// Reads and parses the file at `path`.
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let info = Info::read_file("../tests/data/mariadb-10.11/backup/inc1/xtrabackup_info").unwrap();
    /// assert_eq!(info.get("format"), Some("file"));
    /// ```
    pub fn read_file(path: impl AsRef<Path>) -> Result<Info, Error> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        Info::parse(&bytes).map_err(|source| Error::Info {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads the info file of the backup directory `dir` ([`find`]).
    ///
    /// ```
    /// use incremental_core::format::info::Info;
    /// let info = Info::read_dir("../tests/data/mariadb-10.11/backup/full").unwrap();
    /// assert_eq!(info.len(), 17);
    /// ```
    pub fn read_dir(dir: impl AsRef<Path>) -> Result<Info, Error> {
        Info::read_file(find(dir.as_ref())?)
    }

    /// Writes the file at `path` (replacing it).
    ///
    /// ```
    /// use incremental_core::format::{info::Info, Dialect};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("xtrabackup_info");
    /// let info = Info::template(Dialect::Pxb80);
    /// info.write_file(&path).unwrap();
    /// assert_eq!(Info::read_file(&path).unwrap().to_bytes(), info.to_bytes());
    /// ```
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        fs::write(path, self.to_bytes()).map_err(|e| Error::io(path, e))
    }
}

/// The info file of the backup directory `dir`: `xtrabackup_info`, else `mariadb_backup_info`
/// (MariaDB 11).
///
/// ```
/// use incremental_core::format::info::find;
/// assert!(find("../tests/data/mariadb-10.11/backup/full".as_ref()).is_ok());
/// assert!(find("../tests/data/mariadb-10.11/backup/prepared".as_ref()).is_err());
/// ```
pub fn find(dir: &Path) -> Result<PathBuf, Error> {
    find_one_of(dir, FILE_NAMES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_fixture_follows_the_template_order() {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/mariadb-10.11/backup/full/xtrabackup_info"
        ))
        .unwrap();
        let info = Info::parse(&text).unwrap();
        assert!(info.keys().eq(Dialect::MariaDb.info_keys().iter().copied()));
        // Filling the template with the fixture's values gives the same bytes.
        let mut t = Info::template(Dialect::MariaDb);
        for (k, v) in info.iter() {
            t.set(k, v);
        }
        assert_eq!(t.to_bytes(), text);
    }

    #[test]
    fn bad_values_name_their_line() {
        let info = Info::parse(b"a = 1\n\ninnodb_to_lsn = 12x\n").unwrap();
        assert_eq!(
            info.innodb_to_lsn(),
            Err(InfoError::BadValue {
                line: 3,
                key: "innodb_to_lsn".into(),
                value: "12x".into(),
                expected: "a decimal number"
            })
        );
    }
}
