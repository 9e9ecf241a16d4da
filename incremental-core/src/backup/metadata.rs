//! The metadata files a finished copy gets (`innodb_corrupted_pages`, `backup-my.cnf`,
//! `xb_backup_info`, `xtrabackup_info`, then `xtrabackup_checkpoints`, last: a directory
//! without it is recognisably incomplete), made from the run's facts.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use innodb_page::Lsn;

use super::contents::{Contents, TablespacePlan};
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
    /// The server's `innodb_data_file_path` (hot backups).
    pub data_file_path: Option<&'a str>,
    /// The server's encryption settings (`backup-my.cnf` lines).
    pub encryption: &'a [(String, String)],
    /// The server's `innodb_checksum_algorithm` and `innodb_compression_level` (hot backups).
    pub server_cnf: &'a ServerCnf,
}

/// Server variables a hot backup writes into `backup-my.cnf`, as mariabackup takes them from
/// the server (`None`: unknown, a cold backup: what the files say, or the default).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ServerCnf {
    /// `@@innodb_checksum_algorithm`.
    pub checksum_algorithm: Option<String>,
    /// `@@innodb_compression_level`.
    pub compression_level: Option<u32>,
}

#[cfg(feature = "hot")]
impl ServerCnf {
    /// The variables from `SHOW GLOBAL VARIABLES` rows (name, value); one the server lacks
    /// (a server without InnoDB) stays unknown.
    pub(crate) fn from_variables<'v>(vars: impl IntoIterator<Item = (&'v str, &'v str)>) -> Self {
        let mut c = ServerCnf::default();
        for (name, value) in vars {
            match name.to_ascii_lowercase().as_str() {
                "innodb_checksum_algorithm" if !value.is_empty() => {
                    c.checksum_algorithm = Some(value.to_ascii_lowercase());
                }
                "innodb_compression_level" => c.compression_level = value.parse().ok(),
                _ => {}
            }
        }
        c
    }
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

/// The `xtrabackup_info` and `xtrabackup_checkpoints` a backup got.
pub(crate) struct Written {
    /// `xtrabackup_info`.
    pub info: Info,
    /// `xtrabackup_checkpoints`.
    pub checkpoints: Checkpoints,
    /// `xb_backup_info`: an incremental on `--extra-lsndir` needs its redo start LSN.
    pub backup_info: BackupInfo,
}

impl Written {
    /// Writes `xtrabackup_checkpoints` and `xtrabackup_info` into `dir` too (created if
    /// missing), as mariabackup's `--extra-lsndir`, and with `with_backup_info` `xb_backup_info`,
    /// so that `dir` can be the base of the next incremental (its redo start LSN and
    /// identity).
    pub(crate) fn write_to_dir(
        &self,
        dir: &Path,
        with_backup_info: bool,
    ) -> Result<(), BackupError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BackupError::Write { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut files = vec![
            (info::FILE_NAMES[0], self.info.to_bytes()),
            (checkpoints::FILE_NAMES[0], self.checkpoints.to_bytes()),
        ];
        if with_backup_info {
            files.insert(0, (backup_info::FILE_NAME, self.backup_info.to_bytes()));
        }
        for (name, bytes) in files {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(io(&path))?;
        }
        Ok(())
    }
}

/// Writes the metadata files, `xtrabackup_checkpoints` last.
pub(crate) fn write(sink: &mut dyn Sink, f: &Facts<'_>) -> Result<Written, BackupError> {
    let c = f.contents;
    let corrupt = corrupted_pages(&c.tablespaces, f.reports);
    if !corrupt.is_empty() {
        let text = corrupt.to_text();
        put(sink, Path::new(corrupted_pages::FILE_NAME), text.as_bytes())?;
    }
    let mut my = backup_my_cnf(&c.tablespaces, &c.redo, f.data_file_path);
    my.checksum_algorithm = f.server_cnf.checksum_algorithm.clone();
    if let Some(level) = f.server_cnf.compression_level {
        my.compression_level = level;
    }
    let mut cnf = my.to_text();
    // as mariabackup: after an empty line, the directory quoted
    if !f.encryption.is_empty() {
        cnf.push('\n');
    }
    for (k, v) in f.encryption {
        match k.as_str() {
            "plugin_dir" => cnf.push_str(&format!("{k}=\"{v}\"\n")),
            _ => cnf.push_str(&format!("{k}={v}\n")),
        }
    }
    put(sink, Path::new(backup_my_cnf::FILE_NAME), cnf.as_bytes())?;
    let backup_info = xb_info(f);
    put(
        sink,
        Path::new(backup_info::FILE_NAME),
        &backup_info.to_bytes(),
    )?;
    let mut info = xtrabackup_info(f);
    info.set("format", sink.info_format());
    put(sink, Path::new(info::FILE_NAMES[0]), &info.to_bytes())?;
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
    put(sink, Path::new(checkpoints::FILE_NAMES[0]), &cps.to_bytes())?;
    Ok(Written {
        info,
        checkpoints: cps,
        backup_info,
    })
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
    if !filter.databases_exclude.is_empty() {
        let v = filter.databases_exclude.clone();
        xb.extra.push(("databases_exclude".into(), v));
    }
    if !filter.table_names.is_empty() {
        let v = filter.table_names.join(",");
        xb.extra.push(("tables_file_names".into(), v));
    }
    xb.base_partial = matches!(
        f.kind,
        BackupKind::Incremental {
            base_partial: true,
            ..
        }
    );
    xb.backup_id = new_backup_id(f.start_time);
    if let BackupKind::Incremental { base_backup_id, .. } = f.kind {
        xb.base_backup_id = base_backup_id.clone();
    }
    xb.extra.extend(f.xb_info.iter().cloned());
    xb
}

/// A new backup identity: the start time (seconds since the epoch, in hex), the process id and
/// 8 random bytes in hex (`6934f1a2-4242-0123456789abcdef`). Unique in practice; what orders a
/// chain is the base's id that each incremental records, not the time.
fn new_backup_id(start: SystemTime) -> String {
    use std::io::Read;
    let secs = start
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut random = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut random));
    if read.is_err() {
        // No /dev/urandom: the clock's nanoseconds and the address of a local instead.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let here = &random as *const _ as usize as u64;
        random = (u64::from(nanos) ^ here.rotate_left(32)).to_be_bytes();
    }
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{secs:x}-{}-{hex}", std::process::id())
}

/// The key of `xtrabackup_info` that holds the LSN the backup's redo log starts at (xb's own
/// key; mariabackup ignores keys it does not know).
pub(crate) const REDO_START_KEY: &str = "xb_redo_start_lsn";

/// `xtrabackup_info`.
fn xtrabackup_info(f: &Facts<'_>) -> Info {
    let yes_no = |b: bool| if b { "Y" } else { "N" };
    let mut inf = Info::template(Dialect::MariaDb);
    inf.set("tool_name", f.options.tool_name());
    inf.set("tool_command", f.options.tool_command());
    inf.set("tool_version", env!("CARGO_PKG_VERSION"));
    inf.set("ibbackup_version", env!("CARGO_PKG_VERSION"));
    inf.set("server_version", f.contents.redo.server_version());
    inf.set("start_time", &local_time(f.start_time));
    inf.set("end_time", &local_time(SystemTime::now()));
    inf.set("lock_time", "0");
    inf.set_lsn("innodb_from_lsn", f.start_lsn());
    inf.set_lsn("innodb_to_lsn", f.contents.redo.checkpoint_lsn);
    // where the copied redo log starts: what an incremental on a directory holding only this
    // file and xtrabackup_checkpoints (an --extra-lsndir) needs, as xb_backup_info's copy
    inf.set_lsn(REDO_START_KEY, f.contents.redo.checkpoint_lsn);
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
/// checksum algorithm from the system tablespace's flags). `server_path` is the server's `innodb_data_file_path` (hot backups),
/// written as mariabackup writes it, within [`system_files`].
pub(crate) fn backup_my_cnf(
    tablespaces: &[TablespacePlan],
    redo: &RedoFacts,
    server_path: Option<&str>,
) -> BackupMyCnf {
    let sys = tablespaces.iter().find(|t| t.space_id == 0);
    let page_size = sys.map_or(16384, |t| if t.compressed { 16384 } else { t.page_size });
    let full_crc32 = sys.is_some_and(|t| t.format.flags.is_full_crc32());
    let files = sys.map_or(Vec::new(), system_files);
    let files: Vec<(&str, u64)> = files.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let undo = tablespaces
        .iter()
        .filter(|t| t.space_id != 0)
        .filter(|t| {
            let n = t.files[0].rel.to_string_lossy().into_owned();
            n.starts_with("undo") && !n.contains('/')
        })
        .count();
    let path = match server_path.and_then(|s| within(s, &files)) {
        Some(p) => p,
        None => data_file_path(&files),
    };
    BackupMyCnf::new(page_size, full_crc32, path, redo.file_size, undo)
}

/// The system tablespace's files and the sizes (bytes) `innodb_data_file_path` may give them
/// for any restore of this backup: each file as copied, the last (auto-extending) one no larger
/// than page 0 gave it when planned (its `FSP_SIZE` less the pages of the files before it), in
/// whole MiB. A server extends that file before the page 0 that records it reaches the disk
/// (at its next checkpoint); an incremental's prepare grows the file only to the size its
/// newest page 0 gives, and the server refuses to start on an auto-extending file smaller than
/// the option says.
fn system_files(t: &TablespacePlan) -> Vec<(String, u64)> {
    let ps = t.page_size as u64;
    let mut before = 0u64;
    let last = t.files.len().saturating_sub(1);
    let mut out = Vec::with_capacity(t.files.len());
    for (i, f) in t.files.iter().enumerate() {
        let mut bytes = f.pages * ps;
        if i == last {
            let header = u64::from(t.format.header.size).saturating_sub(before);
            if header > 0 && header < f.pages {
                bytes = header * ps;
            }
            if bytes >= 1 << 20 {
                bytes &= !((1 << 20) - 1);
            }
        }
        before += f.pages;
        out.push((f.rel.to_string_lossy().into_owned(), bytes));
    }
    out
}

/// The server's `innodb_data_file_path` `spec` with the last file's size lowered to its size
/// in `files` when larger (auto-extending only); `None` when `spec` names other files than
/// `files` (then the copy's sizes are written).
fn within(spec: &str, files: &[(&str, u64)]) -> Option<String> {
    // each file by its name alone, as the backup holds it (mariabackup writes it so)
    let local = |e: &str| {
        let mut parts: Vec<String> = e.split(':').map(str::to_string).collect();
        if let Some(name) = Path::new(&parts[0]).file_name() {
            parts[0] = name.to_string_lossy().into_owned();
        }
        parts
    };
    let mut entries: Vec<Vec<String>> = spec.split(';').map(local).collect();
    let names = entries.iter().map(|e| e[0].as_str());
    if !names.eq(files.iter().map(|(n, _)| *n)) {
        return None;
    }
    let (last, &(_, have)) = (entries.last_mut()?, files.last()?);
    let autoextend = last.get(2).is_some_and(|a| a == "autoextend");
    let want = backup_my_cnf::size_bytes(last.get(1)?)?;
    if autoextend && want > have {
        last[1] = backup_my_cnf::size_text(have);
    }
    Some(
        entries
            .iter()
            .map(|e| e.join(":"))
            .collect::<Vec<_>>()
            .join(";"),
    )
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
    fn the_server_setting_stays_within_the_copy() {
        let files = [("ibdata1", 12u64 << 20)];
        assert_eq!(
            within("ibdata1:76M:autoextend", &files).as_deref(),
            Some("ibdata1:12M:autoextend")
        );
        assert_eq!(
            within("ibdata1:10M:autoextend:max:2G", &files).as_deref(),
            Some("ibdata1:10M:autoextend:max:2G")
        );
        assert_eq!(
            within("ibdata1:1G:autoextend:max:2G", &files).as_deref(),
            Some("ibdata1:12M:autoextend:max:2G")
        );
        let two = [("ibdata0", 4u64 << 20), ("ibdata1", 12 << 20)];
        assert_eq!(
            within("ibdata0:4M;ibdata1:76M:autoextend", &two).as_deref(),
            Some("ibdata0:4M;ibdata1:12M:autoextend")
        );
        assert_eq!(within("ibdata9:76M:autoextend", &files), None);
        // absolute names are written without their directories, as the backup holds them
        let named = [("sys1", 6u64 << 20), ("sys2", 1 << 20)];
        assert_eq!(
            within("/srv/sys/sys1:6M;sys2:1M:autoextend", &named).as_deref(),
            Some("sys1:6M;sys2:1M:autoextend")
        );
        assert_eq!(within("ibdata0:4M;ibdata1:12M:autoextend", &files), None);
    }

    #[test]
    fn time_format() {
        let s = local_time(SystemTime::now());
        assert_eq!(s.len(), 19, "{s}");
        assert_eq!(&s[4..5], "-");
    }
}
