//! Planning a backup (which files, which method per tablespace and why) and running it.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use innodb_page::checksum::ChecksumContext;
use innodb_page::datadir;
use innodb_page::fsp::TablespaceFormat;
use innodb_page::tablespace::{Doublewrite, OpenOptions, ReadMode, Tablespace};
use innodb_page::Lsn;

use super::bitmap_source;
use super::redo_copy::{self, RedoFacts};
use super::report::{BackupReport, Phases, TablespaceReport};
pub(crate) use super::scan::Mode;
use super::scan::{self, Unit};
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
    /// Hot backups: each file opened when planned, so that a rename or drop during the copy
    /// does not change what is read (empty: open the files by path).
    pub(crate) pinned: Vec<Arc<File>>,
}

impl TablespacePlan {
    /// Pages in all files.
    pub fn pages(&self) -> u64 {
        self.files.iter().map(|f| f.pages).sum()
    }

    /// The path the readers open for file `i`: `/proc/self/fd/N` of the descriptor opened at
    /// planning time (hot backups: the same file even if it was renamed or deleted since),
    /// else the file's path.
    pub(crate) fn open_path(&self, i: usize) -> PathBuf {
        match self.pinned.get(i) {
            Some(f) => PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd())),
            None => self.files[i].src.clone(),
        }
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

/// The note of a file that was listed but gone when it was opened (hot backups).
const VANISHED: &str = "vanished between the listing and its opening (renamed or dropped)";

/// Lists `datadir`, which must hold a system tablespace.
pub(crate) fn scan_datadir(dd: &Path) -> Result<datadir::DatadirFiles, BackupError> {
    let md = std::fs::metadata(dd).map_err(|source| BackupError::Io {
        path: dd.to_path_buf(),
        source,
    })?;
    if !md.is_dir() {
        return Err(BackupError::Io {
            path: dd.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a directory"),
        });
    }
    let files = datadir::scan(dd)?;
    if files.system.is_empty() {
        return Err(BackupError::Unsupported {
            path: dd.to_path_buf(),
            what: "no system tablespace (ibdata1): not an InnoDB datadir".into(),
        });
    }
    Ok(files)
}

/// The non-InnoDB files of a listing that a backup copies (with their sizes now), and those
/// it leaves out (transient files, filtered tables).
pub(crate) fn list_other_files(
    dd: &Path,
    files: &datadir::DatadirFiles,
    filter: &super::Filter,
) -> Result<(Vec<OtherFile>, Vec<PathBuf>), BackupError> {
    let mut other_files = Vec::new();
    let mut skipped = Vec::new();
    for p in &files.other {
        let rel = rel_to(dd, p);
        if is_transient(&rel) || !filter.keeps_file(&rel) {
            skipped.push(p.clone());
            continue;
        }
        let size = match std::fs::metadata(p) {
            Ok(m) => m.len(),
            // gone since the listing (a running server's temporary file): nothing to copy
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                skipped.push(p.clone());
                continue;
            }
            Err(source) => {
                return Err(BackupError::Io {
                    path: p.clone(),
                    source,
                })
            }
        };
        other_files.push(OtherFile {
            src: p.clone(),
            rel,
            size,
        });
    }
    Ok((other_files, skipped))
}

/// Opens one tablespace (its files in order) and describes it for a full copy. With `pin`,
/// each file is opened once and read through that descriptor from then on.
pub(crate) fn open_tablespace(
    dd: &Path,
    group: &[PathBuf],
    pin: bool,
) -> Result<TablespacePlan, BackupError> {
    let mut pinned = Vec::new();
    let mut open_paths = Vec::new();
    if pin {
        for p in group {
            let f = File::open(p).map_err(|source| BackupError::Io {
                path: p.clone(),
                source,
            })?;
            open_paths.push(PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd())));
            pinned.push(Arc::new(f));
        }
    } else {
        open_paths = group.to_vec();
    }
    let ts = Tablespace::open_with(
        &open_paths,
        OpenOptions {
            mode: ReadMode::Pread,
            allow_partial_tail: true,
        },
    )
    .map_err(|e| match e {
        // name the real file, not /proc/self/fd/N
        e if pin => BackupError::Unsupported {
            path: group[0].clone(),
            what: e
                .to_string()
                .replace(&open_paths[0].display().to_string(), "page 0"),
        },
        e => BackupError::Page(e),
    })?;
    let format = *ts.format();
    Ok(TablespacePlan {
        space_id: format.space_id,
        page_size: ts.page_size(),
        compressed: format.flags.zip_size().is_some(),
        flags: format.flags.raw(),
        files: ts
            .files()
            .zip(group)
            .map(|(f, src)| DataFilePlan {
                src: src.clone(),
                rel: rel_to(dd, src),
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
        pinned,
    })
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
        let files = scan_datadir(dd)?;
        source::check_not_running(dd, &files.system)?;
        let redo = redo_copy::read_source(dd)?;
        Self::with_source(options, files, redo, false)
    }

    /// The plan of a hot backup: `redo` describes the source's log as the redo follower found
    /// it (its checkpoint is where the backup's redo starts). Every data file is opened now
    /// and read through that descriptor (see [`TablespacePlan`]); a tablespace that vanished
    /// or whose page 0 cannot be read yet (being created) is left out with a note: the
    /// end-of-backup DDL pass copies what exists then.
    pub(crate) fn new_hot(
        options: &BackupOptions,
        redo: RedoFacts,
    ) -> Result<BackupPlan, BackupError> {
        // A file renamed between the listing and its opening would be missed, and the DDL pass
        // could then only copy it whole under its new name, leaving the base's copy under the
        // old one: list again until every file listed could be opened (a listing and its
        // openings take milliseconds; DDL comes far less often).
        let mut attempts = 0;
        loop {
            let files = scan_datadir(&options.datadir)?;
            let plan = Self::with_source(options, files, redo.clone(), true)?;
            let vanished = plan.notes.iter().any(|n| n.contains(VANISHED));
            attempts += 1;
            if !vanished || attempts >= 20 {
                return Ok(plan);
            }
            std::thread::sleep(std::time::Duration::from_millis(5 * attempts));
        }
    }

    fn with_source(
        options: &BackupOptions,
        files: datadir::DatadirFiles,
        redo: RedoFacts,
        hot: bool,
    ) -> Result<BackupPlan, BackupError> {
        let dd = &options.datadir;
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
            match open_tablespace(dd, &group, hot) {
                Ok(t) => {
                    if t.format.is_encrypted() {
                        notes.push(format!(
                            "{}: encrypted tablespace: pages are copied as they are on disk",
                            group[0].display()
                        ));
                    }
                    tablespaces.push(t);
                }
                Err(BackupError::Io { source, .. })
                    if hot && !always && source.kind() == io::ErrorKind::NotFound =>
                {
                    notes.push(format!("{}: {VANISHED}", group[0].display()))
                }
                Err(e) if hot && !always => notes.push(format!(
                    "{}: not copied now ({e}); the end-of-backup DDL pass copies it if it \
                     still exists",
                    group[0].display()
                )),
                Err(e) => return Err(e),
            }
        }
        let (other_files, more_skipped) = list_other_files(dd, &files, &options.filter)?;
        skipped.extend(more_skipped);

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
        self.announce(progress, &self.other_files);
        let (reports, others) = self.copy_files(
            &self.tablespaces,
            &self.other_files,
            self.mode(),
            false,
            sink,
            progress,
            cancel,
        )?;
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
        self.write_metadata(
            sink,
            Outcome {
                reports,
                others,
                redo: copied,
                start_time,
                t0,
                phases,
                info: Vec::new(),
                xb_info: Vec::new(),
            },
        )
    }

    /// Sends the plan's notes and the amount of work as progress events.
    pub(crate) fn announce(&self, progress: &dyn Progress, others: &[OtherFile]) {
        for n in &self.notes {
            progress.event(Event::Note { message: n });
        }
        let data_files: usize = self.tablespaces.iter().map(|t| t.files.len()).sum();
        let pages: u64 = self
            .tablespaces
            .iter()
            .map(|t| t.pages_to_read() * t.page_size as u64)
            .sum();
        progress.event(Event::Planned {
            files: (data_files + others.len() + 1) as u64,
            bytes: pages + others.iter().map(|f| f.size).sum::<u64>(),
        });
    }

    /// How the plan's data files are written: whole, or as deltas.
    pub(crate) fn mode(&self) -> Mode {
        match &self.kind {
            BackupKind::Full => Mode::Copy,
            BackupKind::Incremental { threshold, .. } => Mode::Delta {
                threshold: threshold.get(),
            },
        }
    }

    /// Copies `tablespaces` (in `mode`) and the non-InnoDB files `others` through one read
    /// pipeline. `hot`: the source is live (pages being written are read again; a file cut
    /// short while it is read ends in zero pages, as the redo log rebuilds it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn copy_files(
        &self,
        tablespaces: &[TablespacePlan],
        others: &[OtherFile],
        mode: Mode,
        hot: bool,
        sink: &mut dyn Sink,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<(Vec<TablespaceReport>, scan::OtherTotals), BackupError> {
        let chunk = self.options.chunk_bytes.max(1);
        let mut units: Vec<Unit> = Vec::new();
        for (ti, t) in tablespaces.iter().enumerate() {
            let per = (chunk / t.page_size).max(1) as u64;
            for (fi, f) in t.files.iter().enumerate() {
                let ranges = match &t.ranges {
                    Some(r) => r.get(fi).cloned().unwrap_or_default(),
                    None => std::iter::once(0..f.pages).collect(),
                };
                scan::units_for_file(ti, fi, &ranges, per, &mut units);
            }
        }
        for (oi, f) in others.iter().enumerate() {
            scan::units_for_other(oi, f.size, chunk as u64, &mut units);
        }
        let mut reports: Vec<TablespaceReport> = tablespaces
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
            hot,
            delay: self.options.read_delay,
        };
        let totals = scan::run(
            tablespaces,
            others,
            &units,
            settings,
            sink,
            progress,
            cancel,
            &mut reports,
        )?;
        for (r, t) in reports.iter_mut().zip(tablespaces) {
            r.pages_skipped = t.pages().saturating_sub(r.pages_copied);
        }
        Ok((reports, totals))
    }

    /// Writes the metadata files of a finished copy (`xtrabackup_checkpoints` last, then the
    /// sink's final sync) and makes the report. `to_lsn` is the checkpoint the copied redo
    /// starts from, `last_lsn` its end.
    pub(crate) fn write_metadata(
        &self,
        sink: &mut dyn Sink,
        o: Outcome,
    ) -> Result<BackupReport, BackupError> {
        let Outcome {
            reports,
            others,
            redo: copied,
            start_time,
            t0,
            mut phases,
            info: info_extra,
            xb_info,
        } = o;
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
        let all_ts: Vec<&TablespacePlan> = self.tablespaces.iter().collect();
        let corrupt_text = corrupted_pages_text(&all_ts, &reports);
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
        xb.extra.extend(xb_info);
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
        for (k, v) in &info_extra {
            inf.set(k, v);
        }
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

/// What a copy produced, for [`BackupPlan::write_metadata`].
pub(crate) struct Outcome {
    /// Per tablespace (the plan's, in order; then any copied later).
    pub reports: Vec<TablespaceReport>,
    /// Non-InnoDB files copied.
    pub others: scan::OtherTotals,
    /// The redo log written.
    pub redo: redo_copy::RedoCopy,
    /// When the backup started.
    pub start_time: SystemTime,
    /// Same, for durations.
    pub t0: Instant,
    /// Time spent so far.
    pub phases: Phases,
    /// Extra `xtrabackup_info` keys.
    pub info: Vec<(String, String)>,
    /// Extra `xb_backup_info` keys.
    pub xb_info: Vec<(String, String)>,
}

/// mariabackup's `innodb_corrupted_pages` format: per tablespace, a line `<name> <space id>`
/// then a line of page numbers.
fn corrupted_pages_text(tablespaces: &[&TablespacePlan], reports: &[TablespaceReport]) -> String {
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
