//! Restoring a prepared backup into a data directory (`xb copy-back`).
//!
//! The backup's files are copied into an empty (or absent) datadir, except the backup's own
//! metadata (`xtrabackup_*`, `mariadb_backup_*`, `backup-my.cnf`, `xb_backup_info`). The redo log
//! `ib_logfile0` is copied: the server's crash recovery applies it on first start.
//!
//! The backup is read through a [`BackupSource`] (a local directory: [`DirSource`]); local
//! files are copied by the kernel, several at once ([`CopyBackOptions::set_parallel`]), or
//! moved ([`CopyBackOptions::set_move_back`]). The system tablespace, the redo log, the undo
//! tablespaces and the Aria log can go into directories of their own, as mariabackup's
//! `--innodb-data-home-dir`, `--innodb-log-group-home-dir`, `--innodb-undo-directory` and
//! `--aria-log-dir-path` place them ([`CopyBackOptions`]).
//!
//! While copying, the datadir holds a marker file ([`MARKER`]); a copy that was interrupted is
//! recognised by it (it also lists the files written outside the datadir), and running the
//! restore again clears what the interrupted run copied and starts over. An interrupted move
//! is never cleared (what it moved is no longer in the backup): the datadir is refused as not
//! empty. Nothing else outside the datadir is changed, and the backup is only read (but for a
//! move).
//!
//! ```no_run
//! use incremental_core::copy_back::copy_back;
//! use incremental_core::progress::{Cancel, NoProgress};
//! use incremental_core::source::DirSource;
//! let r = copy_back(&DirSource::new("/backups/full"), "/var/lib/mysql".as_ref(), &NoProgress,
//!                   &Cancel::new())?;
//! println!("{} files; start the server with: {}", r.files, r.start_command());
//! # Ok::<(), incremental_core::copy_back::CopyBackError>(())
//! ```

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::encryption::EncryptionError;
use crate::format::backup_my_cnf::{self, ServerSettings};
use crate::format::checkpoints::{self, BackupType, Checkpoints};
use crate::format::ddl_files::parse_marker;
use crate::progress::{Cancel, Event, Progress};
use crate::source::{BackupSource, SourceError, SourceFile};
use crate::Remedy;

mod keys;
mod layout;
mod options;
mod transfer;

pub(crate) use keys::check_keys;
use layout::Layout;
pub use options::CopyBackOptions;
use transfer::{create_private_dir, Flusher, Job};

#[cfg(doc)]
use crate::source::DirSource;

/// Marker present in the datadir while a restore is in progress.
pub const MARKER: &str = ".xb-copy-back-in-progress";

/// Largest read or write issued at once while copying a file.
const CHUNK: usize = 1 << 20;

/// Names of backup metadata files that are not copied into a datadir.
pub fn is_backup_metadata(name: &str) -> bool {
    name.starts_with("xtrabackup_")
        || name.starts_with("mariadb_backup_")
        || name == backup_my_cnf::FILE_NAME
        || name == crate::format::backup_info::FILE_NAME
        || name.starts_with("xb_prepare")
}

/// Why a copy-back was refused or failed.
///
/// Every variant names the backup or file concerned; where there is a way out that a front end
/// words in its own terms, [`CopyBackError::remedy`] returns it and the message leaves it out.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CopyBackError {
    /// A file could not be read, written or listed.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The backup's checkpoints file is missing or unreadable.
    #[error(transparent)]
    Format(#[from] crate::format::error::Error),
    /// The backup is an incremental: it must be prepared onto its base first.
    #[error("{}: this is an incremental backup", path.display())]
    Incremental {
        /// The backup directory.
        path: PathBuf,
    },
    /// A prepare of the backup was interrupted (its journal is still there).
    #[error("{}: a prepare was interrupted ({})", path.display(), journal.display())]
    PrepareInterrupted {
        /// The backup directory.
        path: PathBuf,
        /// The journal of the interrupted prepare.
        journal: PathBuf,
    },
    /// The backup still holds a delta: it is not a full backup.
    #[error(
        "{}: {} is an unapplied delta: this directory is not a full backup",
        path.display(),
        delta.display()
    )]
    UnappliedDelta {
        /// The backup directory.
        path: PathBuf,
        /// The delta.
        delta: PathBuf,
    },
    /// The backup holds a DDL file (`.new`, `.ren`, `.del`: a tablespace created, renamed or
    /// dropped during a hot backup) that only a prepare turns into the tablespace it stands
    /// for; copied as it is, the server would find redo for a tablespace it cannot open and
    /// refuse to start.
    #[error(
        "{}: {} is a DDL file of a hot backup that was not prepared: a datadir restored from it \
         would not start (its redo names a tablespace that is not in place)",
        path.display(),
        file.display()
    )]
    NeedsPrepare {
        /// The backup directory.
        path: PathBuf,
        /// The first DDL file found.
        file: PathBuf,
    },
    /// The datadir has files in it that this restore did not put there.
    #[error("{}: the datadir is not empty ({first} and possibly more); restore into an empty or new directory", path.display())]
    DatadirNotEmpty {
        /// The datadir.
        path: PathBuf,
        /// One of the entries found.
        first: String,
    },
    /// A file of the backup exists at its destination (a restore into non-empty
    /// directories, or a layout directory outside the datadir): nothing was written.
    #[error("{}: exists already; a restore never overwrites a file", path.display())]
    Exists {
        /// The destination that exists.
        path: PathBuf,
    },
    /// A move was asked from a backup that is not a local directory.
    #[error("{}: files can only be moved out of a local backup directory", path.display())]
    MoveNeedsLocal {
        /// The backup.
        path: PathBuf,
    },
    /// The backup is of a server encrypted with the `file_key_management` plugin, and the
    /// key file its `backup-my.cnf` names cannot be read here or holds no key 1: a server
    /// started on the restored datadir would fail to read its tablespaces or redo log.
    #[error(
        "{}: the backup is of an encrypted server: a server started on it needs key 1 of the \
         key file {} (file_key_management, as backup-my.cnf says): {source}",
        path.display(),
        key_file.display()
    )]
    Keys {
        /// The backup directory.
        path: PathBuf,
        /// The key file the restored server will load.
        key_file: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: Box<EncryptionError>,
    },
    /// The caller cancelled.
    #[error("cancelled; run the restore again to start over")]
    Cancelled,
}

impl CopyBackError {
    /// What the caller can do about it, when it is an action a front end words (the message
    /// leaves it out).
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            CopyBackError::Incremental { .. } => Some(Remedy::PrepareOntoBase),
            CopyBackError::PrepareInterrupted { journal, .. }
                if crate::prepare::is_apply_redo_journal(journal) =>
            {
                Some(Remedy::FinishApplyRedo)
            }
            CopyBackError::PrepareInterrupted { .. } => Some(Remedy::FinishPrepare),
            CopyBackError::NeedsPrepare { .. } => Some(Remedy::PrepareFirst),
            CopyBackError::Keys { source, .. } => match source.remedy() {
                Some(Remedy::ReadableKeyFile) => Some(Remedy::ReadableKeyFile),
                _ if matches!(**source, EncryptionError::UnknownAlgorithm { .. }) => None,
                _ => Some(Remedy::RestoreKeyFile),
            },
            _ => None,
        }
    }
}

impl From<SourceError> for CopyBackError {
    fn from(e: SourceError) -> CopyBackError {
        CopyBackError::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        }
    }
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> CopyBackError + 'a {
    move |source| CopyBackError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What a copy-back did. With the `serde` feature it serializes as the record of
/// `xb copy-back --json` (schema in docs/json.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyBackReport {
    /// The backup (its source's location).
    pub backup: PathBuf,
    /// The datadir restored into.
    pub datadir: PathBuf,
    /// Files copied.
    pub files: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// The server settings the datadir needs (from `backup-my.cnf`).
    pub settings: ServerSettings,
    /// The server options that say where files went outside the datadir
    /// (`--innodb-data-home-dir=…` and the like; empty when all are in the datadir).
    pub layout_options: Vec<String>,
}

impl CopyBackReport {
    /// The `mariadbd` options the datadir needs beyond the defaults.
    pub fn startup_options(&self) -> Vec<String> {
        let mut o = self.settings.startup_options();
        o.extend(self.layout_options.iter().cloned());
        o
    }

    /// Names of the settings the datadir needs that are left out of
    /// [`startup_options`](Self::startup_options) because they must not appear on a command
    /// line (a literal `file_key_management_filekey`): they must come from an option file.
    pub fn option_file_only(&self) -> Vec<String> {
        self.settings.option_file_only()
    }

    /// The command that starts a server on the restored datadir.
    pub fn start_command(&self) -> String {
        let mut cmd = format!("mariadbd --datadir={}", self.datadir.display());
        for o in self.startup_options() {
            cmd.push(' ');
            cmd.push_str(&o);
        }
        cmd
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for CopyBackReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("CopyBackReport", 6)?;
        m.serialize_field("backup", &self.backup.display().to_string())?;
        m.serialize_field("datadir", &self.datadir.display().to_string())?;
        m.serialize_field("files", &self.files)?;
        m.serialize_field("bytes", &self.bytes)?;
        m.serialize_field("startup_options", &self.startup_options())?;
        m.serialize_field("start_command", &self.start_command())?;
        m.end()
    }
}

/// Reads the whole file `name` of `source`; `None` when it does not exist.
fn read_small(source: &dyn BackupSource, name: &str) -> Result<Option<Vec<u8>>, CopyBackError> {
    let mut r = match source.open(Path::new(name)) {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let path = source.location().join(name);
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .map_err(|e| crate::Error::io(&path, e))?;
    Ok(Some(bytes))
}

/// The backup's checkpoints (`xtrabackup_checkpoints`, else `mariadb_backup_checkpoints`).
fn read_checkpoints(source: &dyn BackupSource) -> Result<Checkpoints, CopyBackError> {
    for name in checkpoints::FILE_NAMES {
        if let Some(bytes) = read_small(source, name)? {
            return Checkpoints::parse(&bytes).map_err(|e| {
                crate::Error::Checkpoints {
                    path: source.location().join(name),
                    source: e,
                }
                .into()
            });
        }
    }
    Err(crate::Error::NotFound {
        dir: source.location().to_path_buf(),
        names: checkpoints::FILE_NAMES,
    }
    .into())
}

/// The server settings of the backup's `backup-my.cnf` (none if it has none).
fn read_settings(source: &dyn BackupSource) -> Result<ServerSettings, CopyBackError> {
    let Some(bytes) = read_small(source, backup_my_cnf::FILE_NAME)? else {
        return Ok(ServerSettings::default());
    };
    let path = source.location().join(backup_my_cnf::FILE_NAME);
    let text = String::from_utf8(bytes).map_err(|_| {
        crate::Error::io(
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ),
        )
    })?;
    Ok(ServerSettings::parse(&text))
}

/// Checks that the backup can be restored as it is: a full backup (`full-backuped`,
/// `log-applied` or `full-prepared`), no `.delta` files left, no prepare in progress, and no
/// DDL file (`.new`, `.ren`, `.del`) that a prepare must process first
/// ([`CopyBackError::NeedsPrepare`], reported only when nothing else is wrong: a prepare is
/// what it calls for). Returns its checkpoints.
///
/// A `full-backuped` backup without DDL files restores unprepared: the server's crash recovery
/// applies its redo on first start.
pub fn check_restorable(source: &dyn BackupSource) -> Result<Checkpoints, CopyBackError> {
    let cp = read_checkpoints(source)?;
    let path = source.location().to_path_buf();
    if cp.backup_type == BackupType::Incremental {
        return Err(CopyBackError::Incremental { path });
    }
    let mut ddl_file = None;
    for f in source.files()? {
        // Where the prepare looks for them: the top level and the database directories.
        let depth = f.path.components().count();
        if ddl_file.is_none() && depth <= 2 && parse_marker(&f.path).is_some() {
            ddl_file = Some(path.join(&f.path));
        }
        let name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("xb_prepare") && name.ends_with("journal") {
            let journal = path.join(&f.path);
            return Err(CopyBackError::PrepareInterrupted { path, journal });
        }
        if name.ends_with(".delta") {
            let delta = path.join(&f.path);
            return Err(CopyBackError::UnappliedDelta { path, delta });
        }
    }
    match ddl_file {
        Some(file) => Err(CopyBackError::NeedsPrepare { path, file }),
        None => Ok(cp),
    }
}

/// What a previous restore into the datadir left, read from its [`MARKER`]: whether it moved
/// files, and the files it wrote outside the datadir.
#[derive(Debug, Default)]
struct Leftover {
    moved: bool,
    outside: Vec<PathBuf>,
}

impl Leftover {
    fn read(marker: &Path) -> Leftover {
        let text = fs::read_to_string(marker).unwrap_or_default();
        let mut lines = text.lines();
        Leftover {
            moved: lines.next() == Some(MOVE_MARK),
            outside: lines.filter(|l| !l.is_empty()).map(PathBuf::from).collect(),
        }
    }
}

/// The first line of the marker of a `--move-back`.
const MOVE_MARK: &str = "move-back";

/// Prepares `datadir` for a restore: creates it (0700) if absent; clears a previous interrupted
/// copy (recognised by [`MARKER`]), with the files it wrote outside the datadir; refuses any
/// other content, and the leftover of an interrupted move (what it moved is no longer in the
/// backup). With `force`, the datadir may hold anything and nothing is cleared.
fn prepare_datadir(datadir: &Path, force: bool) -> Result<(), CopyBackError> {
    if !datadir.exists() {
        return create_private_dir(datadir);
    }
    if force {
        return Ok(());
    }
    let mut entries: Vec<_> = fs::read_dir(datadir)
        .map_err(io_err("cannot list", datadir))?
        .collect::<Result<_, _>>()
        .map_err(io_err("cannot list", datadir))?;
    if entries.is_empty() {
        return Ok(());
    }
    let marker = datadir.join(MARKER);
    let leftover = marker.exists().then(|| Leftover::read(&marker));
    let Some(leftover) = leftover.filter(|l| !l.moved) else {
        entries.sort_by_key(|e| e.file_name());
        return Err(CopyBackError::DatadirNotEmpty {
            path: datadir.to_path_buf(),
            first: entries[0].file_name().to_string_lossy().into_owned(),
        });
    };
    // An interrupted restore: everything here was put by it (the datadir was empty before).
    let leftover_err = "cannot remove the leftover of an interrupted restore";
    for e in entries {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == MARKER) {
            continue;
        }
        let r = if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        r.map_err(io_err(leftover_err, &p))?;
    }
    for p in &leftover.outside {
        match fs::remove_file(p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_err(leftover_err, p)(e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The files of the backup that go into the datadir: all but the backup's own metadata at the
/// top and the `.meta` files (left beside applied deltas by mariabackup's prepare).
fn files_to_copy(source: &dyn BackupSource) -> Result<Vec<SourceFile>, CopyBackError> {
    let mut files = source.files()?;
    files.retain(|f| {
        let top_level = f.path.components().count() == 1;
        let name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        !(name.ends_with(".meta") || (top_level && is_backup_metadata(&name)))
    });
    Ok(files)
}

/// Copies the full backup of `source` into `datadir` (absent or empty), as the server will
/// read it, with the default [`CopyBackOptions`]. See [`copy_back_with`].
pub fn copy_back(
    source: &dyn BackupSource,
    datadir: &Path,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<CopyBackReport, CopyBackError> {
    copy_back_with(
        source,
        datadir,
        &CopyBackOptions::default(),
        progress,
        cancel,
    )
}

/// `datadir` made absolute (against the current directory).
fn absolute(datadir: &Path) -> Result<PathBuf, CopyBackError> {
    if datadir.is_absolute() {
        return Ok(datadir.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(io_err("cannot resolve", datadir))?;
    Ok(cwd.join(datadir))
}

/// Restores the full backup of `source` into `datadir` as `options` ask: the files copied (or
/// moved) into the datadir and the layout directories, by [`CopyBackOptions::parallel`]
/// threads; everything is on disk when it returns (see `transfer` in the source; unless
/// [`CopyBackOptions::set_sync`] is off); the marker is removed last.
///
/// Refused before anything is written: a backup that cannot be restored
/// ([`check_restorable`]), a datadir that is not empty (unless
/// [`CopyBackOptions::set_force_non_empty_directories`]), a file of the backup that exists at
/// its destination ([`CopyBackError::Exists`]), a move from a backup that is not a local
/// directory, a backup of an encrypted server whose key file is not there
/// ([`CopyBackError::Keys`]).
pub fn copy_back_with(
    source: &dyn BackupSource,
    datadir: &Path,
    options: &CopyBackOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<CopyBackReport, CopyBackError> {
    check_restorable(source)?;
    let settings = read_settings(source)?;
    let files = files_to_copy(source)?;
    let moving = options.move_back();
    if moving && files.iter().any(|f| source.local_path(&f.path).is_none()) {
        return Err(CopyBackError::MoveNeedsLocal {
            path: source.location().to_path_buf(),
        });
    }
    let datadir = absolute(datadir)?;
    check_keys(source.location(), &settings, &datadir)?;
    let mut layout = Layout::new(&datadir, options, &settings);
    add_remote_tablespaces(source, &files, &mut layout)?;
    let force = options.force_non_empty_directories();
    prepare_datadir(&datadir, force)?;
    let jobs: Vec<(SourceFile, PathBuf)> = files
        .into_iter()
        .map(|f| {
            let dst = layout.destination(&f.path);
            (f, dst)
        })
        .collect();
    let outside: Vec<&Path> = jobs
        .iter()
        .map(|(_, d)| d.as_path())
        .filter(|d| layout.is_outside(d))
        .collect();
    for (_, dst) in &jobs {
        if (force || layout.is_outside(dst)) && fs::symlink_metadata(dst).is_ok() {
            return Err(CopyBackError::Exists { path: dst.clone() });
        }
    }
    for root in layout.roots() {
        create_private_dir(root)?;
    }
    let marker = datadir.join(MARKER);
    let mut mark = String::from(if moving { MOVE_MARK } else { "copy" });
    for d in &outside {
        mark.push('\n');
        mark.push_str(&d.to_string_lossy());
    }
    mark.push('\n');
    fs::write(&marker, mark).map_err(io_err("cannot write", &marker))?;
    progress.event(Event::Planned {
        files: jobs.len() as u64,
        bytes: jobs.iter().map(|(f, _)| f.size).sum(),
    });
    let mut report = CopyBackReport {
        backup: source.location().to_path_buf(),
        datadir: datadir.clone(),
        files: jobs.len() as u64,
        settings,
        layout_options: layout.server_options(),
        ..Default::default()
    };
    let mut local = Vec::new();
    let mut streamed = Vec::new();
    for (f, dst) in jobs {
        match source.local_path(&f.path) {
            Some(src) => local.push(Job {
                rel: f.path,
                src,
                dst,
                size: f.size,
            }),
            None => streamed.push((f, dst)),
        }
    }
    let flusher = Flusher::start(options.sync());
    let threads = options.parallel();
    report.bytes = transfer::run_all(&mut local, threads, moving, &flusher, progress, cancel)?;
    let mut buf = vec![0u8; CHUNK];
    for (f, dst) in streamed {
        if cancel.is_cancelled() {
            return Err(CopyBackError::Cancelled);
        }
        let (w, n) = stream_file(source, &f, &dst, &mut buf, progress)?;
        flusher.push(&dst, w);
        report.bytes += n;
    }
    flusher.finish()?;
    if options.sync() {
        transfer::sync_filesystems(&layout.roots())?;
    }
    fs::remove_file(&marker).map_err(io_err("cannot remove", &marker))?;
    if options.sync() {
        fs::File::open(&datadir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("cannot sync", &datadir))?;
    }
    Ok(report)
}

/// Places each tablespace of the backup that has a `.isl` file beside it (`db/t.ibd` and
/// `db/t.isl`: a table created with `DATA DIRECTORY`) at the path the `.isl` file holds, as
/// mariabackup's copy-back does; the `.isl` file itself goes into the datadir.
fn add_remote_tablespaces(
    source: &dyn BackupSource,
    files: &[SourceFile],
    layout: &mut Layout,
) -> Result<(), CopyBackError> {
    let has = |p: &Path| files.iter().any(|f| f.path == p);
    for f in files {
        if f.path.extension().is_none_or(|e| e != "isl") || f.path.components().count() != 2 {
            continue;
        }
        let ibd = f.path.with_extension("ibd");
        if !has(&ibd) {
            continue;
        }
        let Some(bytes) = read_small(source, &f.path.to_string_lossy())? else {
            continue;
        };
        if let Some(target) = crate::backup::files::isl_target(&String::from_utf8_lossy(&bytes)) {
            layout.add_remote(ibd, &target);
        }
    }
    Ok(())
}

/// Copies the file `f` of `source` (not a local file) to `dst` through `buf`; returns the
/// file written and its length.
fn stream_file(
    source: &dyn BackupSource,
    f: &SourceFile,
    dst: &Path,
    buf: &mut [u8],
    progress: &dyn Progress,
) -> Result<(fs::File, u64), CopyBackError> {
    let rel = &f.path;
    if let Some(parent) = dst.parent() {
        create_private_dir(parent)?;
    }
    progress.event(Event::FileStarted {
        path: rel,
        bytes: f.size,
    });
    let mut r = source.open(rel)?;
    let mut w = transfer::create_new(dst)?;
    let mut len = 0u64;
    loop {
        let n = match r.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // nothing under the final name that is not whole (a damaged encoded file)
                drop(w);
                let _ = fs::remove_file(dst);
                return Err(io_err("cannot read", &source.location().join(rel))(e));
            }
        };
        w.write_all(&buf[..n])
            .map_err(io_err("cannot copy to", dst))?;
        len += n as u64;
        progress.event(Event::Pages {
            scanned: 0,
            copied: 0,
            bytes: n as u64,
        });
    }
    progress.event(Event::FileDone { path: rel });
    Ok((w, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;
    use crate::source::DirSource;

    fn src(p: &str) -> DirSource {
        DirSource::new(fixture(p))
    }

    fn fixture(p: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/mariadb-10.11/backup")
            .join(p)
    }

    #[test]
    fn restores_a_full_backup_without_its_metadata() {
        let t = tempfile::tempdir().unwrap();
        let dd = t.path().join("data");
        let r = copy_back(&src("full"), &dd, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!(r.files, 2);
        assert_eq!(r.settings.page_size, Some(16384));
        assert!(r.settings.startup_options().is_empty());
        assert_eq!(
            fs::read(dd.join("fx/t_small.ibd")).unwrap(),
            fs::read(fixture("full/fx/t_small.ibd")).unwrap()
        );
        assert!(dd.join("ib_logfile0").exists());
        for gone in [
            "xtrabackup_checkpoints",
            "xtrabackup_info",
            "backup-my.cnf",
            MARKER,
        ] {
            assert!(!dd.join(gone).exists(), "{gone}");
        }
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&dd).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // The datadir is no longer empty: a second restore is refused.
        let e = copy_back(&src("full"), &dd, &NoProgress, &Cancel::new()).unwrap_err();
        assert!(matches!(e, CopyBackError::DatadirNotEmpty { .. }), "{e}");
    }

    #[test]
    fn refuses_incrementals_and_resumes_interrupted_restores() {
        let t = tempfile::tempdir().unwrap();
        let e = copy_back(
            &src("inc1"),
            &t.path().join("d"),
            &NoProgress,
            &Cancel::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("incremental"), "{e}");
        assert!(!t.path().join("d").exists());
        // An interrupted restore leaves the marker and partial files; a rerun starts over.
        let dd = t.path().join("d2");
        fs::create_dir_all(dd.join("fx")).unwrap();
        fs::write(dd.join(MARKER), b"").unwrap();
        fs::write(dd.join("fx/t_small.ibd"), b"partial").unwrap();
        copy_back(&src("full"), &dd, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!(
            fs::metadata(dd.join("fx/t_small.ibd")).unwrap().len(),
            65536
        );
        assert!(!dd.join(MARKER).exists());
    }

    #[cfg(feature = "hot")]
    #[test]
    fn an_encrypted_backup_without_its_key_file_is_refused_before_anything_is_written() {
        use crate::prepare::apply_redo::{apply_redo, ApplyRedoError, ApplyRedoOptions};
        let t = tempfile::tempdir().unwrap();
        let backup = t.path().join("full");
        xb_testkit::sandbox::copy_dir(&fixture("full"), &backup).unwrap();
        let key_file = t.path().join("moved-away/keys.txt");
        let mut cnf = fs::read_to_string(backup.join(backup_my_cnf::FILE_NAME)).unwrap();
        cnf.push_str(&format!(
            "plugin_load=file_key_management=file_key_management\n\
             file_key_management_filename={}\ninnodb_encrypt_tables=ON\ninnodb_encrypt_log=1\n",
            key_file.display()
        ));
        fs::write(backup.join(backup_my_cnf::FILE_NAME), cnf).unwrap();
        let dd = t.path().join("data");
        let e = copy_back(&DirSource::new(&backup), &dd, &NoProgress, &Cancel::new()).unwrap_err();
        assert!(matches!(e, CopyBackError::Keys { .. }), "{e}");
        assert!(
            e.to_string().contains(&key_file.display().to_string()),
            "{e}"
        );
        assert_eq!(e.remedy(), Some(Remedy::RestoreKeyFile));
        assert!(!dd.exists(), "nothing written");
        // the private server of apply-redo is not started either
        let listing = |d: &Path| {
            let mut n: Vec<_> = fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            n.sort();
            n
        };
        let before = listing(&backup);
        let e = apply_redo(&backup, &ApplyRedoOptions::default()).unwrap_err();
        assert!(
            matches!(e, ApplyRedoError::CopyBack(CopyBackError::Keys { .. })),
            "{e}"
        );
        assert_eq!(e.remedy(), Some(Remedy::RestoreKeyFile));
        assert_eq!(listing(&backup), before);
    }

    #[test]
    fn cancel_leaves_the_marker() {
        let t = tempfile::tempdir().unwrap();
        let c = Cancel::new();
        c.cancel();
        let dd = t.path().join("d");
        assert!(matches!(
            copy_back(&src("full"), &dd, &NoProgress, &c),
            Err(CopyBackError::Cancelled)
        ));
        assert!(dd.join(MARKER).exists());
    }

    #[test]
    fn a_rerun_clears_what_a_copy_wrote_outside_but_never_what_a_move_left() {
        let t = tempfile::tempdir().unwrap();
        let (dd, logs) = (t.path().join("d"), t.path().join("logs"));
        let mut o = CopyBackOptions::default();
        o.set_innodb_log_group_home_dir(Some(logs.clone()));
        // an interrupted copy wrote the redo log outside the datadir: a rerun replaces it
        fs::create_dir_all(&dd).unwrap();
        fs::create_dir_all(&logs).unwrap();
        fs::write(logs.join("ib_logfile0"), b"partial").unwrap();
        let mark = format!("copy\n{}\n", logs.join("ib_logfile0").display());
        fs::write(dd.join(MARKER), mark).unwrap();
        let r = copy_back_with(&src("full"), &dd, &o, &NoProgress, &Cancel::new()).unwrap();
        assert!(fs::metadata(logs.join("ib_logfile0")).unwrap().len() > 7);
        assert_eq!(r.layout_options.len(), 1);
        // not listed by a marker: an existing file outside the datadir is refused
        let e = copy_back_with(
            &src("full"),
            &t.path().join("e"),
            &o,
            &NoProgress,
            &Cancel::new(),
        )
        .unwrap_err();
        assert!(matches!(e, CopyBackError::Exists { .. }), "{e}");
        // an interrupted move: what it moved is only in the datadir now
        let dd = t.path().join("m");
        fs::create_dir_all(&dd).unwrap();
        fs::write(dd.join(MARKER), "move-back\n").unwrap();
        fs::write(dd.join("ibdata1"), b"moved").unwrap();
        let e = copy_back(&src("full"), &dd, &NoProgress, &Cancel::new()).unwrap_err();
        assert!(matches!(e, CopyBackError::DatadirNotEmpty { .. }), "{e}");
        assert_eq!(fs::read(dd.join("ibdata1")).unwrap(), b"moved");
    }
}
