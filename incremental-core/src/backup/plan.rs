//! Planning a backup: cold or hot (see [`detect`](super::detect())), full or incremental (and
//! from which LSN pages are copied), and which files are copied and how each tablespace's
//! pages are selected. [`BackupPlan::run`] (in `run.rs`) carries a plan out.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use innodb_page::datadir::DatadirFiles;
use innodb_page::Lsn;

use super::bitmap_source;
use super::contents::{Contents, OtherFile, PlanNote, TablespacePlan};
use super::detect::{self, Detected, ServerConn, SourceMode};
use super::files::{self, rel_to};
use super::kind::{check_start, check_undo, plan_kind, BackupKind};
use super::needed::LogFiles;
use super::options::{BackupOptions, Incremental};
use super::redo_copy::{self, RedoFacts};
use super::BackupError;
use crate::format::backup_info::Method;
use innodb_page::redo::mtr::SIZE_OF_FILE_CHECKPOINT;

/// Reader threads when [`BackupOptions::set_parallel`] is 0. The readers wait on the disk far
/// more than they compute (CRC-32C of a 16 KiB page takes microseconds, a 2 MiB read
/// milliseconds), so what matters is the reads kept in flight, not the CPUs. On the 2-core
/// benchmark machine (cold 1.8 GB scan) 1 thread took 4.8–5.2 s and 2 about 2 s; 4 and 8
/// against 2 and against each other went both ways from one run to the next on its shared
/// disk. 4 keeps a margin over 2 for disks that want more requests in flight; each thread
/// holds about three `chunk_bytes` buffers, so 4 × 3 × 2 MiB bounds the memory.
pub const DEFAULT_READERS: usize = 4;

/// What a backup will do. Made by [`BackupPlan::new`], carried out by
/// [`BackupPlan::run`]; read through its accessors (a plan cannot be changed).
///
/// A cold plan lists everything the run copies. A hot plan holds the connection to the
/// server; its files are listed by the run, once the server is in `BACKUP STAGE START` and
/// the redo log is followed ([`tablespaces`](Self::tablespaces) is empty until then).
#[derive(Debug)]
pub struct BackupPlan {
    options: BackupOptions,
    datadir: PathBuf,
    mode: SourceMode,
    kind: BackupKind,
    notes: Vec<PlanNote>,
    contents: Option<Contents>,
    plan_seconds: f64,
    pub(crate) server: Mutex<Option<ServerConn>>,
}

/// The tablespaces of a listing that a backup copies (filters applied).
#[derive(Default)]
struct Tablespaces {
    copied: Vec<TablespacePlan>,
    /// Those a hot backup cannot open now, encrypted ones.
    notes: Vec<PlanNote>,
    /// Filtered out.
    skipped: Vec<PathBuf>,
}

/// The tablespaces of a listing that a backup copies.
fn plan_tablespaces(
    options: &BackupOptions,
    dd: &Path,
    files: &DatadirFiles,
    hot: bool,
) -> Result<Tablespaces, BackupError> {
    let Tablespaces {
        copied: mut tablespaces,
        mut notes,
        mut skipped,
    } = Tablespaces::default();
    for group in files.tablespace_groups() {
        let always = files.system.contains(&group[0]) || files.undo.contains(&group[0]);
        if !always && !options.filter().keeps_file(&rel_to(dd, &group[0])) {
            skipped.extend(group);
            continue;
        }
        let path = group[0].clone();
        match files::open_tablespace(dd, &group, hot) {
            Ok(t) => {
                if t.format.is_encrypted() {
                    notes.push(PlanNote::Encrypted { path });
                }
                tablespaces.push(t);
            }
            Err(BackupError::Io { source, .. })
                if hot && !always && source.kind() == io::ErrorKind::NotFound =>
            {
                notes.push(PlanNote::Vanished { path })
            }
            Err(e) if hot && !always => notes.push(PlanNote::NotCopiedNow {
                path,
                problem: e.to_string(),
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(Tablespaces {
        copied: tablespaces,
        notes,
        skipped,
    })
}

/// Chooses each tablespace's page selection: everything (full), a scan, or the pages the
/// changed-page bitmaps flag. Returns the overall method and why a bitmap was not used.
fn select_pages(
    options: &BackupOptions,
    dd: &Path,
    kind: &BackupKind,
    checkpoint: Lsn,
    tablespaces: &mut [TablespacePlan],
) -> (Method, Option<String>) {
    let BackupKind::Incremental { threshold, .. } = kind else {
        return (Method::Full, None);
    };
    let scan = |tablespaces: &mut [TablespacePlan], why: &str| {
        for t in tablespaces {
            t.method = Method::Scan;
            t.why = why.to_string();
        }
    };
    if options.force_scan() {
        scan(tablespaces, "--incremental-force-scan");
        return (Method::Scan, None);
    }
    let dir = options.bitmap_dir().unwrap_or(dd);
    match bitmap_source::query(dir, *threshold, checkpoint) {
        Ok(changed) => {
            for t in tablespaces {
                let counts: Vec<u64> = t.files.iter().map(|f| f.pages).collect();
                t.ranges = Some(bitmap_source::file_ranges(&changed, t.space_id, &counts));
                t.method = Method::Bitmap;
                t.why = format!("bitmap covers LSN {threshold}..{checkpoint}");
            }
            (Method::Bitmap, None)
        }
        Err(reason) => {
            scan(tablespaces, &format!("full scan: {reason}"));
            (Method::Scan, Some(reason))
        }
    }
}

/// What a run copies from the listing `files` of `dd`, whose redo log is `redo`. `hot`: the
/// data files are opened now and read through those descriptors, and those that cannot be
/// opened are left out with a note (the end-of-backup DDL pass copies what exists then); the
/// non-InnoDB files are left to the end of the run.
pub(crate) fn plan_contents(
    options: &BackupOptions,
    dd: &Path,
    kind: &BackupKind,
    files: &DatadirFiles,
    redo: RedoFacts,
    hot: bool,
) -> Result<Contents, BackupError> {
    check_start(kind, dd, redo.checkpoint_lsn)?;
    check_undo(kind, files.undo.len())?;
    let Tablespaces {
        copied: mut tablespaces,
        mut notes,
        mut skipped,
    } = plan_tablespaces(options, dd, files, hot)?;
    skipped.splice(0..0, files.skipped.iter().cloned());
    let other_files = if hot {
        Vec::new()
    } else {
        let mut logs = LogFiles::from_index_files(dd);
        if let Some(base) = options.dirs().log_bin(dd) {
            logs.add_base(dd, &base.to_string_lossy());
        }
        let (others, more_skipped) = files::list_other_files(dd, files, options.filter(), &logs)?;
        skipped.extend(more_skipped);
        others
    };
    let checkpoint = redo.checkpoint_lsn;
    let (method, fallback) = select_pages(options, dd, kind, checkpoint, &mut tablespaces);
    if let Some(reason) = &fallback {
        notes.push(PlanNote::BitmapFallback {
            reason: reason.clone(),
        });
    }
    Ok(Contents {
        redo,
        tablespaces,
        other_files,
        skipped,
        method,
        fallback_reason: fallback.unwrap_or_default(),
        notes,
        page_keys: None,
    })
}

/// The contents of a hot backup whose redo follower found `redo`. A file renamed between the
/// listing and its opening would be missed, and the DDL pass could then only copy it whole
/// under its new name, leaving the base's copy under the old one: lists again until every
/// file listed could be opened (a listing and its openings take milliseconds; DDL comes far
/// less often).
#[cfg_attr(not(feature = "hot"), allow(dead_code))]
pub(crate) fn plan_hot_contents(
    options: &BackupOptions,
    dd: &Path,
    kind: &BackupKind,
    redo: &RedoFacts,
) -> Result<Contents, BackupError> {
    let mut attempts = 0;
    loop {
        let files = files::scan_datadir(dd, options.dirs())?;
        let contents = plan_contents(options, dd, kind, &files, redo.clone(), true)?;
        let vanished = contents
            .notes
            .iter()
            .any(|n| matches!(n, PlanNote::Vanished { .. }));
        attempts += 1;
        if !vanished || attempts >= 20 {
            return Ok(contents);
        }
        std::thread::sleep(std::time::Duration::from_millis(5 * attempts));
    }
}

/// The note of a cold source whose redo log goes on after its checkpoint's own
/// `FILE_CHECKPOINT` record (after a clean shutdown, that record ends the log).
fn unclean_shutdown(dd: &Path, redo: &RedoFacts) -> Option<PlanNote> {
    let clean_end = redo.checkpoint_end_lsn.get() + SIZE_OF_FILE_CHECKPOINT;
    (redo.end_lsn.get() > clean_end).then(|| PlanNote::UncleanShutdown {
        path: dd.to_path_buf(),
        checkpoint: redo.checkpoint_lsn,
        end: redo.end_lsn,
    })
}

/// Refuses, before the hot run starts `BACKUP STAGE`, an incremental that starts after the
/// server's current LSN (its base is not a backup of this server): the run's own check, at
/// the checkpoint it copies from, would only come once the backup has begun.
#[cfg(feature = "hot")]
fn check_hot_start(
    kind: &BackupKind,
    dd: &Path,
    server: Option<&mut ServerConn>,
) -> Result<(), BackupError> {
    match (kind, server) {
        (BackupKind::Incremental { .. }, Some(s)) => check_start(kind, dd, s.lsn_current()?),
        _ => Ok(()),
    }
}

#[cfg(not(feature = "hot"))]
fn check_hot_start(
    _: &BackupKind,
    _: &Path,
    _: Option<&mut ServerConn>,
) -> Result<(), BackupError> {
    Ok(())
}

/// The options of a plan: for a hot backup, each directory of the source's files not given
/// taken from the server (see [`layout`](super::layout)); and whether InnoDB runs in the
/// server (always, without a server: the datadir's files are all there is).
fn with_server_dirs(
    options: &BackupOptions,
    server: Option<&mut ServerConn>,
) -> Result<(BackupOptions, bool), BackupError> {
    #[cfg_attr(not(feature = "hot"), allow(unused_mut))]
    let mut options = options.clone();
    #[cfg(feature = "hot")]
    if let Some(s) = server {
        let innodb = options.dirs_mut().fill_from(s)?;
        return Ok((options, innodb));
    }
    #[cfg(not(feature = "hot"))]
    let _ = server;
    Ok((options, true))
}

/// Refuses what needs a running server on a cold source (the history table); looks up the
/// start LSN of an incremental from the history.
fn needs_server(
    options: &BackupOptions,
    dd: &Path,
    server: Option<&mut ServerConn>,
) -> Result<Option<(Lsn, String)>, BackupError> {
    let from_history = matches!(
        options.incremental(),
        Some(Incremental::HistoryName(_) | Incremental::HistoryUuid(_))
    );
    let what = match (from_history, options.history().is_some()) {
        (true, _) => "an incremental from the backup history table",
        (false, true) => "recording the backup in the history table",
        (false, false) => return Ok(None),
    };
    match (server, options.incremental()) {
        #[cfg(feature = "hot")]
        (Some(s), Some(inc)) if from_history => super::history::start_lsn(s, inc),
        (Some(_), _) => Ok(None),
        (None, _) => Err(BackupError::NeedsServer {
            path: dd.to_path_buf(),
            what: what.into(),
        }),
    }
}

impl BackupPlan {
    /// Looks at the source (see [`detect`](super::detect())) and the base of an incremental,
    /// and decides what to do. Nothing is written; a hot plan holds a connection to the
    /// server.
    ///
    /// Refused here: a datadir a running server holds when no hot backup is possible, redo
    /// formats other than MariaDB 10.8+ (and encrypted logs), an incremental whose base is
    /// newer than the source, a partial base unless
    /// [`BackupOptions::set_accept_partial_base`].
    ///
    /// ```no_run
    /// use incremental_core::backup::{BackupOptions, BackupPlan};
    /// let plan = BackupPlan::new(&BackupOptions::new("/var/lib/mysql"))?;
    /// for ts in plan.tablespaces() {
    ///     println!("{} space {} {} ({})", ts.files[0].rel.display(), ts.space_id,
    ///              ts.method.name(), ts.why);
    /// }
    /// # Ok::<(), incremental_core::backup::BackupError>(())
    /// ```
    pub fn new(options: &BackupOptions) -> Result<BackupPlan, BackupError> {
        let t0 = Instant::now();
        // the base and the options first: nothing is asked of the server before they pass
        options.hot().check()?;
        let kind = plan_kind(options)?;
        let detected = detect::detect(options)?;
        let mut plan = BackupPlan::from_parts(options, detected, kind)?;
        plan.plan_seconds = t0.elapsed().as_secs_f64();
        Ok(plan)
    }

    /// The plan for a source [`detect`](super::detect()) already looked at (with the same
    /// options).
    pub fn from_detected(
        options: &BackupOptions,
        detected: Detected,
    ) -> Result<BackupPlan, BackupError> {
        BackupPlan::from_parts(options, detected, plan_kind(options)?)
    }

    fn from_parts(
        options: &BackupOptions,
        mut detected: Detected,
        (kind, mut notes): (BackupKind, Vec<PlanNote>),
    ) -> Result<BackupPlan, BackupError> {
        let t0 = Instant::now();
        let dd = detected.datadir().to_path_buf();
        let mut mode = detected.mode().clone();
        let kind = match needs_server(options, &dd, detected.server.as_mut())? {
            Some((lsn, why)) => super::kind::from_history(lsn, why),
            None => kind,
        };
        let (options, innodb) = with_server_dirs(options, detected.server.as_mut())?;
        if !innodb {
            // a server without InnoDB (`--skip-innodb`) leaves the datadir's InnoDB files as
            // they are: they are copied as from a stopped server, the other files under the
            // server's lock (`Cold::locking`)
            mode = SourceMode::Cold;
        }
        let contents = match mode {
            SourceMode::Cold => {
                let files = files::scan_datadir(&dd, options.dirs())?;
                let redo = redo_copy::read_source(&options.dirs().log_dir(&dd))?;
                notes.extend(unclean_shutdown(&dd, &redo));
                Some(plan_contents(&options, &dd, &kind, &files, redo, false)?)
            }
            _ => {
                check_hot_start(&kind, &dd, detected.server.as_mut())?;
                None
            }
        };
        Ok(BackupPlan {
            options,
            datadir: dd,
            mode,
            kind,
            notes,
            contents,
            plan_seconds: t0.elapsed().as_secs_f64(),
            server: Mutex::new(detected.server),
        })
    }

    /// The options the plan was made with.
    pub fn options(&self) -> &BackupOptions {
        &self.options
    }

    /// The source datadir.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// Cold or hot, and why.
    pub fn mode(&self) -> &SourceMode {
        &self.mode
    }

    /// Full or incremental.
    pub fn kind(&self) -> &BackupKind {
        &self.kind
    }

    /// The source's redo log (`None` for a hot plan: the run finds it).
    pub fn redo(&self) -> Option<&RedoFacts> {
        self.contents.as_ref().map(|c| &c.redo)
    }

    /// Tablespaces to back up, system first (empty for a hot plan: the run lists them).
    pub fn tablespaces(&self) -> &[TablespacePlan] {
        self.contents.as_ref().map_or(&[], |c| &c.tablespaces)
    }

    /// Non-InnoDB files to copy (empty for a hot plan: the run lists them).
    pub fn other_files(&self) -> &[OtherFile] {
        self.contents.as_ref().map_or(&[], |c| &c.other_files)
    }

    /// Files left out: temporary tablespaces, bitmaps, filtered tables, transient files.
    pub fn skipped(&self) -> &[PathBuf] {
        self.contents.as_ref().map_or(&[], |c| &c.skipped)
    }

    /// Overall page-selection method (for a hot plan, decided by the run).
    pub fn method(&self) -> Method {
        self.contents.as_ref().map_or(Method::Full, |c| c.method)
    }

    /// Why a bitmap was not used ("" when it was, or not applicable).
    pub fn fallback_reason(&self) -> &str {
        self.contents.as_ref().map_or("", |c| &c.fallback_reason)
    }

    /// Things worth telling the user (also sent as progress notes by the run).
    pub fn notes(&self) -> impl Iterator<Item = &PlanNote> {
        let files = self.contents.iter().flat_map(|c| &c.notes);
        self.notes.iter().chain(files)
    }

    /// The notes of the plan itself (not of its files).
    pub(crate) fn kind_notes(&self) -> &[PlanNote] {
        &self.notes
    }

    /// A cold plan's contents.
    pub(crate) fn contents(&self) -> Option<&Contents> {
        self.contents.as_ref()
    }

    /// Seconds the planning took.
    pub(crate) fn plan_seconds(&self) -> f64 {
        self.plan_seconds
    }

    /// Bytes the run will read from data files and non-InnoDB files (cold plans).
    pub fn bytes_to_read(&self) -> u64 {
        let pages: u64 = self
            .tablespaces()
            .iter()
            .map(|t| t.pages_to_read() * t.page_size as u64)
            .sum();
        pages + self.other_files().iter().map(|f| f.size).sum::<u64>()
    }

    /// The scan threshold (0 for a full backup).
    pub fn selection_lsn(&self) -> Lsn {
        match &self.kind {
            BackupKind::Full => Lsn::ZERO,
            BackupKind::Incremental { threshold, .. } => *threshold,
        }
    }

    /// The `backup-my.cnf` this backup gets: what a prepare needs to open the files (page
    /// size, system tablespace files, undo tablespaces, log size, checksum algorithm);
    /// `None` for a hot plan (the run writes it).
    ///
    /// ```no_run
    /// # use incremental_core::backup::{BackupOptions, BackupPlan};
    /// let plan = BackupPlan::new(&BackupOptions::new("/var/lib/mysql"))?;
    /// assert!(plan.backup_my_cnf().unwrap().contains("innodb_page_size="));
    /// # Ok::<(), incremental_core::backup::BackupError>(())
    /// ```
    pub fn backup_my_cnf(&self) -> Option<String> {
        self.contents
            .as_ref()
            .map(|c| super::metadata::backup_my_cnf(&c.tablespaces, &c.redo, None).to_text())
    }

    /// Reader threads: [`BackupOptions::set_parallel`], or by default [`DEFAULT_READERS`].
    ///
    /// ```no_run
    /// # use incremental_core::backup::{BackupOptions, BackupPlan};
    /// let mut o = BackupOptions::new("/var/lib/mysql");
    /// assert_eq!(BackupPlan::new(&o)?.reader_threads(), 4);
    /// o.set_parallel(1);
    /// assert_eq!(BackupPlan::new(&o)?.reader_threads(), 1);
    /// # Ok::<(), incremental_core::backup::BackupError>(())
    /// ```
    pub fn reader_threads(&self) -> usize {
        self.options.reader_threads()
    }
}
