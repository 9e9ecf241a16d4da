//! The metadata files a finished copy gets (`innodb_corrupted_pages`, `backup-my.cnf`,
//! `xb_backup_info`, `xtrabackup_info`, then `xtrabackup_checkpoints`, last: a directory
//! without it is recognisably incomplete), made from the run's facts.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use innodb_page::Lsn;

use super::contents::{Contents, DataFilePlan, TablespacePlan};
use super::kind::BackupKind;
use super::options::BackupOptions;
use super::redo_copy::RedoFacts;
use super::report::TablespaceReport;
use super::sink::{put, Sink};
use super::BackupError;
use crate::format::backup_info::{self, BackupInfo};
use crate::format::backup_my_cnf::{self, data_file_path, BackupMyCnf};
use crate::format::checkpoints::{self, BackupType, Checkpoints};
use crate::format::corrupted_pages::{self, CorruptedPages};
use crate::format::info::{self, Info};
use crate::format::Dialect;

/// What the metadata files say.
pub(crate) struct Facts<'a> {
    /// The options of the run.
    pub options: &'a BackupOptions,
    /// Full or incremental.
    pub kind: &'a BackupKind,
    /// What was copied (its redo's checkpoint is `to_lsn`).
    pub contents: &'a Contents,
    /// Per tablespace, in the order of `contents` (then any copied later).
    pub reports: &'a [TablespaceReport],
    /// The end of the copied redo.
    pub last_lsn: Lsn,
    /// When the run started.
    pub start_time: SystemTime,
    /// Extra `xtrabackup_info` keys.
    pub info: &'a [(String, String)],
    /// Extra `xb_backup_info` keys.
    pub xb_info: &'a [(String, String)],
}

impl Facts<'_> {
    pub(crate) fn start_lsn(&self) -> Lsn {
        match self.kind {
            BackupKind::Full => Lsn::ZERO,
            BackupKind::Incremental { from_lsn, .. } => *from_lsn,
        }
    }

    fn selection_lsn(&self) -> Lsn {
        match self.kind {
            BackupKind::Full => Lsn::ZERO,
            BackupKind::Incremental { threshold, .. } => *threshold,
        }
    }

    pub(crate) fn incremental(&self) -> bool {
        matches!(self.kind, BackupKind::Incremental { .. })
    }
}

/// Writes the metadata files, `xtrabackup_checkpoints` last.
pub(crate) fn write(sink: &mut dyn Sink, f: &Facts<'_>) -> Result<(), BackupError> {
    let c = f.contents;
    let corrupt = corrupted_pages(&c.tablespaces, f.reports);
    if !corrupt.is_empty() {
        let text = corrupt.to_text();
        put(sink, Path::new(corrupted_pages::FILE_NAME), text.as_bytes())?;
    }
    let cnf = backup_my_cnf(&c.tablespaces, &c.redo);
    put(sink, Path::new(backup_my_cnf::FILE_NAME), cnf.as_bytes())?;
    put(
        sink,
        Path::new(backup_info::FILE_NAME),
        &xb_info(f).to_bytes(),
    )?;
    put(
        sink,
        Path::new(info::FILE_NAMES[0]),
        &xtrabackup_info(f).to_bytes(),
    )?;
    let backup_type = match f.incremental() {
        true => BackupType::Incremental,
        false => BackupType::FullBackuped,
    };
    let cps = Checkpoints::new(
        Dialect::MariaDb,
        backup_type,
        f.start_lsn(),
        c.redo.checkpoint_lsn,
        f.last_lsn,
    );
    put(sink, Path::new(checkpoints::FILE_NAMES[0]), &cps.to_bytes())
}

/// `xb_backup_info`.
fn xb_info(f: &Facts<'_>) -> BackupInfo {
    let to_lsn = f.contents.redo.checkpoint_lsn;
    let filter = f.options.filter();
    let mut xb = BackupInfo::full(to_lsn, f.last_lsn);
    xb.incremental = f.incremental();
    xb.from_lsn = f.start_lsn();
    xb.redo_start_lsn = to_lsn;
    xb.selection_lsn = f.selection_lsn();
    xb.method = f.contents.method;
    xb.fallback_reason = f.contents.fallback_reason.clone();
    xb.partial = filter.is_partial();
    xb.tables = filter.tables.clone();
    xb.tables_exclude = filter.tables_exclude.clone();
    xb.databases = filter.databases.clone();
    xb.base_partial = matches!(
        f.kind,
        BackupKind::Incremental {
            base_partial: true,
            ..
        }
    );
    xb.extra.extend(f.xb_info.iter().cloned());
    xb
}

/// `xtrabackup_info`.
fn xtrabackup_info(f: &Facts<'_>) -> Info {
    let yes_no = |b: bool| if b { "Y" } else { "N" };
    let mut inf = Info::template(Dialect::MariaDb);
    inf.set("tool_name", "xb");
    inf.set("tool_command", f.options.tool_command());
    inf.set("tool_version", env!("CARGO_PKG_VERSION"));
    inf.set("ibbackup_version", env!("CARGO_PKG_VERSION"));
    inf.set("server_version", f.contents.redo.server_version());
    inf.set("start_time", &local_time(f.start_time));
    inf.set("end_time", &local_time(SystemTime::now()));
    inf.set("lock_time", "0");
    inf.set_lsn("innodb_from_lsn", f.start_lsn());
    inf.set_lsn("innodb_to_lsn", f.contents.redo.checkpoint_lsn);
    inf.set("partial", yes_no(f.options.filter().is_partial()));
    inf.set("incremental", yes_no(f.incremental()));
    inf.set("format", "file");
    inf.set("compressed", "N");
    for (k, v) in f.info {
        inf.set(k, v);
    }
    inf
}

/// The `backup-my.cnf` of a backup of `tablespaces` with the redo log `redo`: what a prepare
/// needs to open the files (page size, system tablespace files, undo tablespaces, log size,
/// checksum algorithm).
pub(crate) fn backup_my_cnf(tablespaces: &[TablespacePlan], redo: &RedoFacts) -> String {
    let sys = tablespaces.iter().find(|t| t.space_id == 0);
    let page_size = sys.map_or(16384, |t| if t.compressed { 16384 } else { t.page_size });
    let full_crc32 = sys.is_some_and(|t| t.format.flags.is_full_crc32());
    let files: Vec<(String, u64)> = sys.map_or(Vec::new(), |t| {
        let bytes = |f: &DataFilePlan| f.pages * t.page_size as u64;
        let name = |f: &DataFilePlan| f.rel.to_string_lossy().into_owned();
        t.files.iter().map(|f| (name(f), bytes(f))).collect()
    });
    let files: Vec<(&str, u64)> = files.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let undo = tablespaces
        .iter()
        .filter(|t| t.space_id != 0)
        .filter(|t| {
            let n = t.files[0].rel.to_string_lossy().into_owned();
            n.starts_with("undo") && !n.contains('/')
        })
        .count();
    let path = data_file_path(&files);
    BackupMyCnf::new(page_size, full_crc32, path, redo.file_size, undo).to_text()
}

/// The `innodb_corrupted_pages` of a backup.
fn corrupted_pages(tablespaces: &[TablespacePlan], reports: &[TablespaceReport]) -> CorruptedPages {
    let mut c = CorruptedPages::default();
    for (t, r) in tablespaces.iter().zip(reports) {
        let pages: Vec<u64> = r.corrupt.iter().map(|c| c.page_no).collect();
        c.push(&t.files[0].rel.to_string_lossy(), t.space_id, &pages);
    }
    c
}

/// `YYYY-MM-DD HH:MM:SS` in local time, as mariabackup writes times.
fn local_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let tt = libc::time_t::try_from(secs).unwrap_or(0);
    // SAFETY: localtime_r writes into the tm we own and reads the time_t we pass.
    #[allow(unsafe_code)]
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&tt, &mut tm).is_null() {
            return String::new();
        }
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        let s = local_time(SystemTime::now());
        assert_eq!(s.len(), 19, "{s}");
        assert_eq!(&s[4..5], "-");
    }
}
