//! Planning a backup (which files, which method per tablespace and why) and running it.

use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use innodb_page::checksum::ChecksumContext;
use innodb_page::datadir;
use innodb_page::fsp::TablespaceFormat;
use innodb_page::tablespace::{Doublewrite, OpenOptions, ReadMode, Tablespace};
use innodb_page::Lsn;

use super::bitmap_source;
use super::redo_copy::{self, RedoFacts};
use super::report::{BackupReport, Phases, TablespaceReport};
use super::scan::{self, Mode, Unit};
use super::sink::Sink;
use super::source::{self, RESERVED_NAMES};
use super::{BackupError, BackupOptions, Incremental};
use crate::backup_info::{self, BackupInfo, Method};
use crate::checkpoints::{self, BackupType, Checkpoints};
use crate::info::{self, Info};
use crate::progress::{Cancel, Event, Progress};

/// Reader threads when [`BackupOptions::parallel`] is 0. The readers wait on the disk far more
/// than they compute (CRC-32C of a 16 KiB page takes microseconds, a 2 MiB read milliseconds),
/// so what matters is the reads kept in flight, not the CPUs. On the 2-core benchmark machine
/// (cold 1.8 GB scan) 1 thread took 4.8–5.2 s and 2 about 2 s; 4 and 8 against 2 and against
/// each other went both ways from one run to the next on its shared disk. 4 keeps a margin
/// over 2 for disks that want more requests in flight; each thread holds about three
/// `chunk_bytes` buffers, so 4 × 3 × 2 MiB bounds the memory.
pub const DEFAULT_READERS: usize = 4;

/// One data file of a tablespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFilePlan {
    /// The file in the source.
    pub src: PathBuf,
    /// Its path relative to the datadir (and in the backup).
    pub rel: PathBuf,
    /// Tablespace page number of its first page.
    pub first_page: u64,
    /// Whole pages in it when the plan was made (the copy reads exactly these).
    pub pages: u64,
    /// Bytes after the last whole page (not copied).
    pub trailing_bytes: u64,
}

/// One tablespace: its files and how its pages are selected.
#[derive(Debug, Clone)]
pub struct TablespacePlan {
    /// Space id (page 0).
    pub space_id: u32,
    /// Physical page size.
    pub page_size: usize,
    /// ROW_FORMAT=COMPRESSED (the physical page is the zip size).
    pub compressed: bool,
    /// FSP flags (page 0).
    pub flags: u32,
    /// The files (one, or the system tablespace's `ibdata1`, `ibdata2`, …).
    pub files: Vec<DataFilePlan>,
    /// How pages are selected.
    pub method: Method,
    /// Why.
    pub why: String,
    pub(crate) format: TablespaceFormat,
    pub(crate) checksum: ChecksumContext,
    pub(crate) doublewrite: Option<Doublewrite>,
    /// Per file, the page ranges to read (bitmap method only).
    pub(crate) ranges: Option<Vec<Vec<Range<u64>>>>,
}

impl TablespacePlan {
    /// Pages in all files.
    pub fn pages(&self) -> u64 {
        self.files.iter().map(|f| f.pages).sum()
    }

    /// Pages the plan reads (all of them, or those the bitmap flags).
    pub fn pages_to_read(&self) -> u64 {
        match &self.ranges {
            Some(r) => r.iter().flatten().map(|r| r.end - r.start).sum(),
            None => self.pages(),
        }
    }
}

/// A non-InnoDB file, copied whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherFile {
    /// The file in the source.
    pub src: PathBuf,
    /// Its path relative to the datadir (and in the backup).
    pub rel: PathBuf,
    /// Its size when planned.
    pub size: u64,
}

/// Full or incremental, with the LSNs that decide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupKind {
    /// A full backup.
    Full,
    /// An incremental backup.
    Incremental {
        /// `from_lsn` written to `xtrabackup_checkpoints` (the base's `to_lsn`).
        from_lsn: Lsn,
        /// Pages with an LSN at or above this are copied.
        threshold: Lsn,
        /// The base directory (`None` with `--incremental-lsn`).
        base: Option<PathBuf>,
        /// The base was a partial backup.
        base_partial: bool,
        /// How the threshold was chosen.
        why: String,
    },
}

/// What a backup will do. Made by [`BackupPlan::new`], carried out by [`BackupPlan::run`].
#[derive(Debug, Clone)]
pub struct BackupPlan {
    /// The source datadir.
    pub datadir: PathBuf,
    /// Full or incremental.
    pub kind: BackupKind,
    /// The source's redo log.
    pub redo: RedoFacts,
    /// Tablespaces to back up (system first).
    pub tablespaces: Vec<TablespacePlan>,
    /// Non-InnoDB files to copy.
    pub other_files: Vec<OtherFile>,
    /// Files left out: temporary tablespaces, bitmaps, filtered tables, transient files.
    pub skipped: Vec<PathBuf>,
    /// Overall page-selection method.
    pub method: Method,
    /// Why a bitmap was not used ("" when it was, or not applicable).
    pub fallback_reason: String,
    /// Things worth telling the user (also sent as progress notes by `run`).
    pub notes: Vec<String>,
    options: BackupOptions,
}

fn rel_to(datadir: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(datadir).unwrap_or(p).to_path_buf()
}

fn is_transient(rel: &Path) -> bool {
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let top = rel.components().count() == 1;
    (top && RESERVED_NAMES.contains(&name.as_str()))
        || name.ends_with(".pid")
        || name.ends_with(".xbtmp")
        || name == "mysql.sock"
        || name.ends_with(".sock.lock")
}

fn base_threshold(base: &Path) -> Result<(Lsn, Lsn, bool, String), BackupError> {
    let cps = Checkpoints::read_dir(base)?;
    let to = cps.to_lsn;
    let xb = BackupInfo::read_dir(base)?;
    let partial_info = info::Info::read_dir(base)
        .ok()
        .and_then(|i| i.partial().ok().flatten())
        .unwrap_or(false);
    let partial = xb.as_ref().is_some_and(|i| i.partial) || partial_info;
    if matches!(
        cps.backup_type,
        BackupType::LogApplied | BackupType::FullPrepared
    ) {
        return Ok((
            to,
            to,
            partial,
            format!("base is prepared ({}): its to_lsn {to}", cps.backup_type),
        ));
    }
    let redo_start = match &xb {
        Some(i) => Some((i.redo_start_lsn, "xb_backup_info redo_start_lsn")),
        None => {
            let log = base.join("ib_logfile0");
            innodb_page::redo::open(&log)
                .ok()
                .map(|l| (l.checkpoint_lsn(), "checkpoint in its ib_logfile0"))
        }
    };
    let Some((start, whence)) = redo_start else {
        return Err(BackupError::Base {
            path: base.to_path_buf(),
            what: "cannot find where the base's redo log starts (no xb_backup_info, no \
                   readable ib_logfile0); give the LSN with --incremental-lsn instead"
                .into(),
        });
    };
    let threshold = to.min(start);
    Ok((
        to,
        threshold,
        partial,
        format!("lower of the base's to_lsn {to} and its redo start {start} ({whence})"),
    ))
}

impl BackupPlan {
    /// Looks at the source (and the base of an incremental) and decides what to do. Nothing
    /// is written.
    ///
    /// Refused here: a datadir a running server holds, redo formats other than MariaDB 10.8+
    /// (and encrypted logs), an incremental whose base is newer than the source, a partial
    /// base without [`BackupOptions::accept_partial_base`].
    ///
    /// ```no_run
    /// use incremental_core::backup::{BackupOptions, BackupPlan};
    /// let plan = BackupPlan::new(&BackupOptions::new("/var/lib/mysql"))?;
    /// for ts in &plan.tablespaces {
    ///     println!("{} space {} {} ({})", ts.files[0].rel.display(), ts.space_id,
    ///              ts.method.name(), ts.why);
    /// }
    /// # Ok::<(), incremental_core::backup::BackupError>(())
    /// ```
    pub fn new(options: &BackupOptions) -> Result<BackupPlan, BackupError> {
        let dd = &options.datadir;
        let md = std::fs::metadata(dd).map_err(|source| BackupError::Io {
            path: dd.clone(),
            source,
        })?;
        if !md.is_dir() {
            return Err(BackupError::Io {
                path: dd.clone(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a directory"),
            });
        }
        let files = datadir::scan(dd)?;
        if files.system.is_empty() {
            return Err(BackupError::Unsupported {
                path: dd.clone(),
                what: "no system tablespace (ibdata1): not an InnoDB datadir".into(),
            });
        }
        source::check_not_running(dd, &files.system)?;
        let redo = redo_copy::read_source(dd)?;
        let checkpoint = redo.checkpoint_lsn;
        let mut notes = Vec::new();

        let kind = match &options.incremental {
            None => BackupKind::Full,
            Some(Incremental::Lsn(n)) => BackupKind::Incremental {
                from_lsn: *n,
                threshold: *n,
                base: None,
                base_partial: false,
                why: format!("--incremental-lsn {n}"),
            },
            Some(Incremental::Basedir(b)) => {
                let (from, threshold, partial, why) = base_threshold(b)?;
                if partial && !options.accept_partial_base {
                    return Err(BackupError::PartialBase { path: b.clone() });
                }
                if partial {
                    notes.push(format!(
                        "the base {} is partial; continuing as --accept-partial-base asks",
                        b.display()
                    ));
                }
                BackupKind::Incremental {
                    from_lsn: from,
                    threshold,
                    base: Some(b.clone()),
                    base_partial: partial,
                    why,
                }
            }
        };
        if let BackupKind::Incremental { from_lsn, base, .. } = &kind {
            if *from_lsn > checkpoint && base.is_none() {
                return Err(BackupError::Base {
                    path: dd.clone(),
                    what: format!(
                        "--incremental-lsn {from_lsn} is after this datadir's checkpoint \
                         {checkpoint}: give the to_lsn of the previous backup"
                    ),
                });
            }
            if *from_lsn > checkpoint {
                return Err(BackupError::Base {
                    path: base.clone().unwrap_or_else(|| dd.clone()),
                    what: format!(
                        "the base ends at LSN {from_lsn}, after this datadir's checkpoint \
                         {checkpoint}: the base is not an earlier backup of this datadir"
                    ),
                });
            }
        }

        let mut skipped = files.skipped.clone();
        let mut tablespaces = Vec::new();
        for group in files.tablespace_groups() {
            let always = files.system.contains(&group[0]) || files.undo.contains(&group[0]);
            if !always && !options.filter.keeps_file(&rel_to(dd, &group[0])) {
                skipped.extend(group);
                continue;
            }
            let ts = Tablespace::open_with(
                &group,
                OpenOptions {
                    mode: ReadMode::Pread,
                    allow_partial_tail: true,
                },
            )?;
            let format = *ts.format();
            if format.is_encrypted() {
                notes.push(format!(
                    "{}: encrypted tablespace: pages are copied as they are on disk",
                    group[0].display()
                ));
            }
            tablespaces.push(TablespacePlan {
                space_id: format.space_id,
                page_size: ts.page_size(),
                compressed: format.flags.zip_size().is_some(),
                flags: format.flags.raw(),
                files: ts
                    .files()
                    .map(|f| DataFilePlan {
                        src: f.path.clone(),
                        rel: rel_to(dd, &f.path),
                        first_page: f.first_page,
                        pages: f.pages,
                        trailing_bytes: f.trailing_bytes,
                    })
                    .collect(),
                method: Method::Full,
                why: "full backup".into(),
                checksum: innodb_page::verify::checksum_context(&format),
                doublewrite: ts.doublewrite().cloned(),
                format,
                ranges: None,
            });
        }
        let mut other_files = Vec::new();
        for p in &files.other {
            let rel = rel_to(dd, p);
            if is_transient(&rel) || !options.filter.keeps_file(&rel) {
                skipped.push(p.clone());
                continue;
            }
            let size = std::fs::metadata(p)
                .map_err(|source| BackupError::Io {
                    path: p.clone(),
                    source,
                })?
                .len();
            other_files.push(OtherFile {
                src: p.clone(),
                rel,
                size,
            });
        }

        let (mut method, mut fallback_reason) = (Method::Full, String::new());
        if let BackupKind::Incremental { threshold, .. } = &kind {
            if options.force_scan {
                method = Method::Scan;
                for t in &mut tablespaces {
                    t.method = Method::Scan;
                    t.why = "--incremental-force-scan".into();
                }
            } else {
                let dir = options.bitmap_dir.as_deref().unwrap_or(dd);
                match bitmap_source::query(dir, *threshold, checkpoint) {
                    Ok(changed) => {
                        method = Method::Bitmap;
                        for t in &mut tablespaces {
                            let counts: Vec<u64> = t.files.iter().map(|f| f.pages).collect();
                            t.ranges =
                                Some(bitmap_source::file_ranges(&changed, t.space_id, &counts));
                            t.method = Method::Bitmap;
                            t.why = format!("bitmap covers LSN {threshold}..{checkpoint}");
                        }
                    }
                    Err(reason) => {
                        method = Method::Scan;
                        notes.push(format!("{reason}; scanning every page instead"));
                        for t in &mut tablespaces {
                            t.method = Method::Scan;
                            t.why = format!("full scan: {reason}");
                        }
                        fallback_reason = reason;
                    }
                }
            }
        }
        Ok(BackupPlan {
            datadir: dd.clone(),
            kind,
            redo,
            tablespaces,
            other_files,
            skipped,
            method,
            fallback_reason,
            notes,
            options: options.clone(),
        })
    }

    /// Bytes the run will read from data files and non-InnoDB files.
    pub fn bytes_to_read(&self) -> u64 {
        let pages: u64 = self
            .tablespaces
            .iter()
            .map(|t| t.pages_to_read() * t.page_size as u64)
            .sum();
        pages + self.other_files.iter().map(|f| f.size).sum::<u64>()
    }

    /// The scan threshold (0 for a full backup).
    pub fn selection_lsn(&self) -> Lsn {
        match &self.kind {
            BackupKind::Full => Lsn::ZERO,
            BackupKind::Incremental { threshold, .. } => *threshold,
        }
    }

    /// Carries the plan out: data files (copied, or as `.delta` + `.meta`), non-InnoDB files,
    /// the redo log, then the metadata files, `xtrabackup_checkpoints` last.
    ///
    /// Progress goes to `progress` (from several threads); `cancel` stops the run at the next
    /// batch with [`BackupError::Cancelled`] (the destination then holds an incomplete backup,
    /// without `xtrabackup_checkpoints`).
    pub fn run(
        &self,
        sink: &mut dyn Sink,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<BackupReport, BackupError> {
        let t0 = Instant::now();
        let start_time = SystemTime::now();
        for n in &self.notes {
            progress.event(Event::Note { message: n });
        }
        let data_files: usize = self.tablespaces.iter().map(|t| t.files.len()).sum();
        progress.event(Event::Planned {
            files: (data_files + self.other_files.len() + 1) as u64,
            bytes: self.bytes_to_read(),
        });
        let mode = match &self.kind {
            BackupKind::Full => Mode::Copy,
            BackupKind::Incremental { threshold, .. } => Mode::Delta {
                threshold: threshold.get(),
            },
        };
        let chunk = self.options.chunk_bytes.max(1);
        let mut units: Vec<Unit> = Vec::new();
        for (ti, t) in self.tablespaces.iter().enumerate() {
            let per = (chunk / t.page_size).max(1) as u64;
            for (fi, f) in t.files.iter().enumerate() {
                let ranges = match &t.ranges {
                    Some(r) => r.get(fi).cloned().unwrap_or_default(),
                    None => std::iter::once(0..f.pages).collect(),
                };
                scan::units_for_file(ti, fi, &ranges, per, &mut units);
            }
        }
        for (oi, f) in self.other_files.iter().enumerate() {
            scan::units_for_other(oi, f.size, chunk as u64, &mut units);
        }
        let mut reports: Vec<TablespaceReport> = self
            .tablespaces
            .iter()
            .map(|t| TablespaceReport {
                path: t.files[0].rel.clone(),
                space_id: t.space_id,
                method: t.method,
                why: t.why.clone(),
                pages_scanned: 0,
                pages_copied: 0,
                pages_skipped: 0,
                bytes_read: 0,
                bytes_written: 0,
                corrupt: Vec::new(),
            })
            .collect();
        let settings = scan::Settings {
            mode,
            threads: self.reader_threads(),
            log_corruption: self.options.log_innodb_page_corruption,
        };
        let others = scan::run(
            &self.tablespaces,
            &self.other_files,
            &units,
            settings,
            sink,
            progress,
            cancel,
            &mut reports,
        )?;
        for (r, t) in reports.iter_mut().zip(&self.tablespaces) {
            r.pages_skipped = t.pages().saturating_sub(r.pages_copied);
        }
        let mut phases = Phases {
            files: t0.elapsed().as_secs_f64(),
            ..Phases::default()
        };

        let log_rel = Path::new("ib_logfile0");
        progress.event(Event::FileStarted {
            path: log_rel,
            bytes: self
                .redo
                .end_lsn
                .get()
                .saturating_sub(self.redo.checkpoint_lsn.get()),
        });
        let mut out = sink.create(log_rel).map_err(|source| BackupError::Write {
            path: log_rel.into(),
            source,
        })?;
        let t_redo = Instant::now();
        let copied = redo_copy::copy(&self.redo, &mut out, cancel)?;
        out.finish().map_err(|source| BackupError::Write {
            path: log_rel.into(),
            source,
        })?;
        progress.event(Event::FileDone { path: log_rel });
        phases.redo = t_redo.elapsed().as_secs_f64();

        let (incremental, from_lsn) = match &self.kind {
            BackupKind::Full => (false, Lsn::ZERO),
            BackupKind::Incremental { from_lsn, .. } => (true, *from_lsn),
        };
        let to_lsn = self.redo.checkpoint_lsn;
        let last_lsn = copied.end_lsn;
        let put = |sink: &mut dyn Sink, name: &str, bytes: &[u8]| -> Result<(), BackupError> {
            let p = Path::new(name);
            let err = |source| BackupError::Write {
                path: p.into(),
                source,
            };
            let mut f = sink.create(p).map_err(err)?;
            f.write_all(bytes).map_err(err)?;
            f.finish().map_err(err)
        };
        let corrupt_text = corrupted_pages_text(&self.tablespaces, &reports);
        if !corrupt_text.is_empty() {
            put(sink, "innodb_corrupted_pages", corrupt_text.as_bytes())?;
        }
        put(sink, "backup-my.cnf", self.backup_my_cnf().as_bytes())?;
        let mut xb = BackupInfo::full(to_lsn, last_lsn);
        xb.incremental = incremental;
        xb.from_lsn = from_lsn;
        xb.redo_start_lsn = to_lsn;
        xb.selection_lsn = self.selection_lsn();
        xb.method = self.method;
        xb.fallback_reason = self.fallback_reason.clone();
        xb.partial = self.options.filter.is_partial();
        xb.tables = self.options.filter.tables.clone();
        xb.tables_exclude = self.options.filter.tables_exclude.clone();
        xb.databases = self.options.filter.databases.clone();
        xb.base_partial = matches!(
            self.kind,
            BackupKind::Incremental {
                base_partial: true,
                ..
            }
        );
        put(sink, backup_info::FILE_NAME, &xb.to_bytes())?;
        let mut inf = Info::template(info::Dialect::MariaDb);
        inf.set("tool_name", "xb");
        inf.set("tool_command", &self.options.tool_command);
        inf.set("tool_version", env!("CARGO_PKG_VERSION"));
        inf.set("ibbackup_version", env!("CARGO_PKG_VERSION"));
        inf.set("server_version", self.redo.server_version());
        inf.set("start_time", &local_time(start_time));
        inf.set("end_time", &local_time(SystemTime::now()));
        inf.set("lock_time", "0");
        inf.set_lsn("innodb_from_lsn", from_lsn);
        inf.set_lsn("innodb_to_lsn", to_lsn);
        inf.set(
            "partial",
            if self.options.filter.is_partial() {
                "Y"
            } else {
                "N"
            },
        );
        inf.set("incremental", if incremental { "Y" } else { "N" });
        inf.set("format", "file");
        inf.set("compressed", "N");
        put(sink, info::FILE_NAMES[0], &inf.to_bytes())?;
        let cps = Checkpoints::new(
            checkpoints::Dialect::MariaDb,
            if incremental {
                BackupType::Incremental
            } else {
                BackupType::FullBackuped
            },
            from_lsn,
            to_lsn,
            last_lsn,
        );
        put(sink, checkpoints::FILE_NAMES[0], &cps.to_bytes())?;
        let t_sync = Instant::now();
        sink.finish().map_err(|source| BackupError::Write {
            path: PathBuf::from("."),
            source,
        })?;
        phases.sync = t_sync.elapsed().as_secs_f64();
        Ok(BackupReport {
            incremental,
            from_lsn,
            to_lsn,
            last_lsn,
            selection_lsn: self.selection_lsn(),
            method: self.method,
            fallback_reason: self.fallback_reason.clone(),
            tablespaces: reports,
            other_files: others.files,
            other_bytes: others.bytes,
            redo_bytes: copied.bytes,
            seconds: t0.elapsed().as_secs_f64(),
            phases,
        })
    }

    /// The `backup-my.cnf` this backup gets: what a prepare needs to open the files (page
    /// size, system tablespace files, undo tablespaces, log size, checksum algorithm).
    ///
    /// ```no_run
    /// # use incremental_core::backup::{BackupOptions, BackupPlan};
    /// let plan = BackupPlan::new(&BackupOptions::new("/var/lib/mysql"))?;
    /// assert!(plan.backup_my_cnf().contains("innodb_page_size="));
    /// # Ok::<(), incremental_core::backup::BackupError>(())
    /// ```
    pub fn backup_my_cnf(&self) -> String {
        let sys = self.tablespaces.iter().find(|t| t.space_id == 0);
        let page_size = sys.map_or(16384, |t| if t.compressed { 16384 } else { t.page_size });
        let full_crc32 = sys.is_some_and(|t| t.format.flags.is_full_crc32());
        let mut path = String::new();
        if let Some(t) = sys {
            let n = t.files.len();
            for (i, f) in t.files.iter().enumerate() {
                let bytes = f.pages * t.page_size as u64;
                let name = f.rel.to_string_lossy();
                if !path.is_empty() {
                    path.push(';');
                }
                if bytes.is_multiple_of(1 << 20) {
                    path.push_str(&format!("{name}:{}M", bytes >> 20));
                } else {
                    path.push_str(&format!("{name}:{}K", bytes >> 10));
                }
                if i + 1 == n {
                    path.push_str(":autoextend");
                }
            }
        }
        let undo = self
            .tablespaces
            .iter()
            .filter(|t| t.space_id != 0)
            .filter(|t| {
                let n = t.files[0].rel.to_string_lossy().into_owned();
                n.starts_with("undo") && !n.contains('/')
            })
            .count();
        format!(
            "# This options file was generated by xb {}.\n\n# The server\n[mysqld]\n\
             innodb_checksum_algorithm={}\ninnodb_data_file_path={path}\n\
             innodb_log_file_size={}\ninnodb_page_size={page_size}\n\
             innodb_undo_directory=./\ninnodb_undo_tablespaces={undo}\n\
             innodb_compression_level=6\n",
            env!("CARGO_PKG_VERSION"),
            if full_crc32 { "full_crc32" } else { "crc32" },
            self.redo.file_size,
        )
    }

    /// The options the plan was made with.
    pub fn options(&self) -> &BackupOptions {
        &self.options
    }

    /// Reader threads: [`BackupOptions::parallel`], or by default [`DEFAULT_READERS`].
    ///
    /// ```no_run
    /// # use incremental_core::backup::{BackupOptions, BackupPlan};
    /// let mut o = BackupOptions::new("/var/lib/mysql");
    /// assert_eq!(BackupPlan::new(&o)?.reader_threads(), 4);
    /// o.parallel = 1;
    /// assert_eq!(BackupPlan::new(&o)?.reader_threads(), 1);
    /// # Ok::<(), incremental_core::backup::BackupError>(())
    /// ```
    pub fn reader_threads(&self) -> usize {
        match self.options.parallel {
            0 => DEFAULT_READERS,
            n => n,
        }
    }
}

/// mariabackup's `innodb_corrupted_pages` format: per tablespace, a line `<name> <space id>`
/// then a line of page numbers.
fn corrupted_pages_text(tablespaces: &[TablespacePlan], reports: &[TablespaceReport]) -> String {
    let mut s = String::new();
    for (t, r) in tablespaces.iter().zip(reports) {
        if r.corrupt.is_empty() {
            continue;
        }
        let rel = t.files[0].rel.to_string_lossy().into_owned();
        let name = rel.strip_suffix(".ibd").unwrap_or(&rel);
        s.push_str(&format!("{name} {}\n", t.space_id));
        let pages: Vec<String> = r.corrupt.iter().map(|c| c.page_no.to_string()).collect();
        s.push_str(&pages.join(" "));
        s.push('\n');
    }
    s
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
    fn transient_names() {
        assert!(is_transient(Path::new("xtrabackup_checkpoints")));
        assert!(is_transient(Path::new("host.pid")));
        assert!(!is_transient(Path::new("db/xtrabackup_checkpoints")));
        assert!(!is_transient(Path::new("db/t.frm")));
    }

    #[test]
    fn time_format() {
        let s = local_time(SystemTime::now());
        assert_eq!(s.len(), 19, "{s}");
        assert_eq!(&s[4..5], "-");
    }
}
