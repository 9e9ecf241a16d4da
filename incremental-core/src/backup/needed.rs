//! Which non-InnoDB files of a datadir a restore needs: **the one rule** for what a full or
//! incremental backup copies besides the InnoDB tablespaces and the redo log.
//!
//! It is mariabackup's (10.11, checked against its source and the installed binary on a
//! datadir with every kind of log turned on): a list of what is kept, not of what is left out,
//! so that a file nobody thought of is never copied into every backup.
//!
//! Kept:
//!
//! * in a database directory (`db/…`), the files of tables, views, triggers and databases,
//!   recognised by their extension (case-sensitive, after the last dot):
//!   [`TABLE_EXTENSIONS`] (`.frm`, `.isl`, MyISAM `.MYD`/`.MYI`, Aria `.MAD`/`.MAI`, `.MRG`,
//!   triggers `.TRG`/`.TRN`, Archive `.ARM`/`.ARZ`, CSV `.CSM`/`.CSV`, `db.opt`, partitioning
//!   `.par`), except the temporary tables of an `ALTER` or a repair in progress (`#sql…`);
//! * at the top of the datadir, the Aria log and its control file (`aria_log.N`,
//!   `aria_log_control`: the restored Aria tables need them) and the AWS key management
//!   plugin's key files (`aws-kms-key…`).
//!
//! Left out, so every backup is smaller by them: binary logs and their index (under any
//! basename, `--log-bin=foo`), relay logs and their index, `master.info`, `relay-log.info`,
//! `multi-master.info`, the error, general and slow query logs, `ddl_recovery.log` (the
//! server's DDL recovery log: it only describes DDL interrupted by a crash, and a backup holds
//! no interrupted DDL), pid files, sockets, `auto.cnf`, `mysql_upgrade_info`,
//! `ib_buffer_pool`, temporary files (`#sql…`, `*.TMD`), a restored datadir's backup metadata
//! (`xtrabackup_*`, `backup-my.cnf`, `xb_backup_info`), xb's own `.xbtmp` files, and anything
//! else unknown.
//!
//! A binary or relay log named like a kept file (`--log-bin=aria_log` makes `aria_log.000001`)
//! is left out too: every file an index file (top-level `*.index`) lists, and, for a hot
//! backup, the files the server names (`@@log_bin_basename`, `@@relay_log_basename` and their
//! numbered files, `@@log_bin_index`, `@@relay_log_index`, `@@log_error`,
//! `@@general_log_file`, `@@slow_query_log_file`), see [`LogFiles`].
//!
//! The binary log position is still recorded (`xtrabackup_binlog_info`, hot backups).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Extensions of the table, view, trigger and database files a backup copies from database
/// directories (mariabackup's list).
pub(crate) const TABLE_EXTENSIONS: &[&str] = &[
    "frm", "isl", "MYD", "MYI", "MAD", "MAI", "MRG", "TRG", "TRN", "ARM", "ARZ", "CSM", "CSV",
    "opt", "par",
];

/// Whether the file `rel` (relative to the datadir) is one a restore needs, by its name
/// alone (see the [module documentation](self)).
pub(crate) fn is_needed(rel: &Path) -> bool {
    let Some(name) = rel.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if rel.components().count() == 1 {
        return name.starts_with("aria_log.")
            || name == "aria_log_control"
            || name.starts_with("aws-kms-key");
    }
    if name.starts_with("#sql") {
        return false;
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) => !stem.is_empty() && TABLE_EXTENSIONS.contains(&ext),
        None => false,
    }
}

/// The server's own log files in a datadir (relative paths): never copied even when their
/// names look like a kept file.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogFiles {
    files: BTreeSet<PathBuf>,
    /// Basenames whose numbered files (`base.000001`) and index (`base.index`) are logs.
    bases: BTreeSet<PathBuf>,
}

impl LogFiles {
    /// The logs the index files at the top of `dd` (`*.index`: binary and relay log indexes)
    /// name, and the index files themselves.
    pub(crate) fn from_index_files(dd: &Path) -> LogFiles {
        let mut logs = LogFiles::default();
        let Ok(entries) = std::fs::read_dir(dd) else {
            return logs;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(base) = name.strip_suffix(".index") else {
                continue;
            };
            logs.add_base(dd, base);
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    logs.add_file(dd, line);
                }
            }
        }
        logs
    }

    /// A log file the server names (absolute, or relative to the datadir).
    pub(crate) fn add_file(&mut self, dd: &Path, value: &str) {
        if let Some(rel) = relative(dd, value) {
            self.files.insert(rel);
        }
    }

    /// A log basename the server names (`@@log_bin_basename`): its numbered files and index.
    pub(crate) fn add_base(&mut self, dd: &Path, value: &str) {
        if let Some(rel) = relative(dd, value) {
            self.bases.insert(rel);
        }
    }

    /// Whether `rel` is one of these logs.
    pub(crate) fn contains(&self, rel: &Path) -> bool {
        if self.files.contains(rel) {
            return true;
        }
        let Some(name) = rel.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        let Some((stem, suffix)) = name.rsplit_once('.') else {
            return false;
        };
        let numbered = !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit());
        // An Aria log (`aria_log.` and 8 digits) stays one unless an index lists it.
        let aria = stem == "aria_log" && suffix.len() == 8 && rel.components().count() == 1;
        (numbered && !aria || suffix == "index") && self.bases.contains(&rel.with_file_name(stem))
    }
}

/// `value` (absolute or relative to `dd`, `./` allowed) relative to `dd`; `None` when it is
/// outside.
fn relative(dd: &Path, value: &str) -> Option<PathBuf> {
    let p = Path::new(value.trim());
    let rel = if p.is_absolute() {
        let dd_real = std::fs::canonicalize(dd).unwrap_or_else(|_| dd.to_path_buf());
        let parent_real = p
            .parent()
            .and_then(|d| std::fs::canonicalize(d).ok())
            .map(|d| d.join(p.file_name().unwrap_or_default()));
        match parent_real.as_deref().unwrap_or(p).strip_prefix(&dd_real) {
            Ok(r) => r.to_path_buf(),
            Err(_) => p.strip_prefix(dd).ok()?.to_path_buf(),
        }
    } else {
        p.to_path_buf()
    };
    let rel: PathBuf = rel
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    (!rel.as_os_str().is_empty()).then_some(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_tables_and_aria_logs_only() {
        for kept in [
            "d/t.frm",
            "d/t.MYD",
            "d/t#P#p0.MYI",
            "d/db.opt",
            "mysql/general_log.CSV",
            "d/t.TRG",
            "d/t.par",
            "aria_log.00000001",
            "aria_log_control",
            "aws-kms-key.1",
        ] {
            assert!(is_needed(Path::new(kept)), "{kept}");
        }
        for left in [
            "foo.000001",
            "foo.index",
            "myrelay.000002",
            "ddl_recovery.log",
            "host.err",
            "host.pid",
            "gen.log",
            "slow.log",
            "master.info",
            "relay-log.info",
            "multi-master.info",
            "auto.cnf",
            "mysql.sock",
            "mysql_upgrade_info",
            "xtrabackup_checkpoints",
            "top.frm",
            "aria_logfoo",
            "d/#sql-123.MYD",
            "d/#sql-alter.frm",
            "d/t.TMD",
            "d/x.log",
            "d/xyzopt",
            "d/t.myd",
            "d/t.MYD.bak",
            "d/t.frm.xbtmp",
        ] {
            assert!(!is_needed(Path::new(left)), "{left}");
        }
    }

    #[test]
    fn logs_named_by_index_files_and_the_server() {
        let t = tempfile::tempdir().unwrap();
        let dd = t.path();
        std::fs::write(
            dd.join("aria_log.index"),
            "./aria_log.000001\n./aria_log.000002\n",
        )
        .unwrap();
        let mut logs = LogFiles::from_index_files(dd);
        assert!(logs.contains(Path::new("aria_log.000001")));
        assert!(logs.contains(Path::new("aria_log.000003")));
        assert!(!logs.contains(Path::new("aria_log.00000001")));
        assert!(logs.contains(Path::new("aria_log.index")));
        assert!(!logs.contains(Path::new("aria_log_control")));
        assert!(!logs.contains(Path::new("aria_log.00000001x")));
        logs.add_file(dd, &dd.join("d/general.CSV").display().to_string());
        logs.add_base(dd, "./d/bin");
        logs.add_file(dd, "/elsewhere/slow.log");
        assert!(logs.contains(Path::new("d/general.CSV")));
        assert!(logs.contains(Path::new("d/bin.000007")));
        assert!(!logs.contains(Path::new("d/bin.frm")));
        assert!(!logs.contains(Path::new("slow.log")));
    }
}
