//! The state file of a restore in its staging directory (`xb-restore.json`), and what a re-run
//! does with what an interrupted one left.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::copy_back::MARKER;
use crate::repo::error::RepoError;

/// The state file's name.
pub(crate) const STATE: &str = "xb-restore.json";

/// How far a restore got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Phase {
    /// Downloading the full backup (started over when interrupted).
    Download,
    /// Merging the incrementals (resumed by the prepare's journal).
    Merge,
    /// Moving the result into the datadir.
    Move,
}

/// The state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    /// The chain restored (ids, the full first).
    pub chain: Vec<String>,
    pub phase: Phase,
}

fn io_err<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> RepoError + 'p {
    move |source| RepoError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl State {
    /// A restore of `chain`, starting.
    pub fn new(chain: Vec<String>) -> State {
        State {
            chain,
            phase: Phase::Download,
        }
    }

    /// The state in `staging`, if there is one.
    pub fn read(staging: &Path) -> Result<Option<State>, RepoError> {
        let p = staging.join(STATE);
        let text = match fs::read(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot read", &p)(e)),
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| RepoError::Restore {
                path: p,
                why: format!("not the state of a restore ({e}): remove the directory"),
            })
    }

    /// Writes the state durably (temporary name, fsync, rename, fsync of the directory).
    pub fn write(&self, staging: &Path) -> Result<(), RepoError> {
        let p = staging.join(STATE);
        let tmp = staging.join(format!("{STATE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).expect("a state serializes");
        fs::File::create(&tmp)
            .and_then(|mut f| {
                io::Write::write_all(&mut f, &bytes)?;
                f.sync_all()
            })
            .and_then(|()| fs::rename(&tmp, &p))
            .and_then(|()| fs::File::open(staging)?.sync_all())
            .map_err(io_err("cannot write", &p))
    }

    /// Records that phase `to` is reached.
    pub fn advance(&mut self, staging: &Path, to: Phase) -> Result<(), RepoError> {
        self.phase = to;
        self.write(staging)
    }
}

/// Whether `dir` is absent or an empty directory.
fn absent_or_empty(dir: &Path) -> Result<bool, RepoError> {
    match fs::read_dir(dir) {
        Ok(mut rd) => Ok(rd.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io_err("cannot list", dir)(e)),
    }
}

/// Before a new restore: the staging directory must be absent or empty (not another
/// program's directory), the datadir absent or empty.
pub(crate) fn check_fresh(staging: &Path, datadir: &Path) -> Result<(), RepoError> {
    if !absent_or_empty(staging)? {
        return Err(RepoError::Restore {
            path: staging.to_path_buf(),
            why: "the staging directory of the restore is not empty and holds no restore \
                  state: remove it, or choose another"
                .into(),
        });
    }
    if !absent_or_empty(datadir)? {
        return Err(RepoError::Restore {
            path: datadir.to_path_buf(),
            why: "the datadir is not empty: a restore goes into an absent or empty directory"
                .into(),
        });
    }
    Ok(())
}

/// Removes `dir` and everything in it; an absent one is fine.
pub(crate) fn remove_all(dir: &Path) -> Result<(), RepoError> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("cannot remove", dir)(e)),
    }
}

/// Whether an earlier run's move into `datadir` completed (the datadir holds files and no
/// copy-back marker) although the staging directory `full` was not removed yet.
pub(crate) fn done_before(datadir: &Path, _full: &Path) -> bool {
    !datadir.join(MARKER).exists() && matches!(absent_or_empty(datadir), Ok(false))
}

/// When `datadir` holds an interrupted move (the copy-back marker of a move): moves every file
/// it holds back to where it came from in `full`, then removes its directories and the marker,
/// so that the move can run again.
pub(crate) fn undo_interrupted_move(datadir: &Path, full: &Path) -> Result<(), RepoError> {
    let marker = datadir.join(MARKER);
    let Ok(text) = fs::read_to_string(&marker) else {
        return Ok(());
    };
    if text.lines().next() != Some("move-back") {
        // An interrupted copy: the copy-back engine clears it itself.
        return Ok(());
    }
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    walk(datadir, Path::new(""), &mut files, &mut dirs)?;
    for rel in files {
        if rel.as_os_str() == MARKER {
            continue;
        }
        let to = full.join(&rel);
        if let Some(parent) = to.parent() {
            super::download::create_dirs(parent)?;
        }
        let from = datadir.join(&rel);
        match fs::rename(&from, &to) {
            // Another file system: a copy and a removal.
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => fs::copy(&from, &to)
                .and_then(|_| fs::remove_file(&from))
                .map_err(io_err("cannot move back", &from))?,
            r => r.map_err(io_err("cannot move back", &from))?,
        }
    }
    for d in dirs.iter().rev() {
        let p = datadir.join(d);
        fs::remove_dir(&p).map_err(io_err("cannot remove", &p))?;
    }
    fs::remove_file(&marker).map_err(io_err("cannot remove", &marker))
}

/// The files and directories under `root/rel`, relative to `root` (directories parents first).
fn walk(
    root: &Path,
    rel: &Path,
    files: &mut Vec<PathBuf>,
    dirs: &mut Vec<PathBuf>,
) -> Result<(), RepoError> {
    let d = root.join(rel);
    for e in fs::read_dir(&d).map_err(io_err("cannot list", &d))? {
        let e = e.map_err(io_err("cannot list", &d))?;
        let r = rel.join(e.file_name());
        if e.file_type().map_err(io_err("cannot list", &d))?.is_dir() {
            dirs.push(r.clone());
            walk(root, &r, files, dirs)?;
        } else {
            files.push(r);
        }
    }
    Ok(())
}
