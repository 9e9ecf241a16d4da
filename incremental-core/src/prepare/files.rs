//! The files of a backup directory as the prepare sees them, shared by the chain rules, the
//! safety rule, the planning and the chain verify: the listing, the role of each file by name,
//! and the head of a tablespace file (space id, page size).

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use innodb_page::fsp::{physical_page_size, FspHeader};
use innodb_page::redo::file::log_file_number;

use super::error::PrepareError;
use super::journal::JOURNAL;
use crate::format::{backup_info, checkpoints};

/// The role of a tablespace file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `ibdataN` (space 0): matched by path, never dropped.
    System,
    /// Undo tablespace: matched by path, never dropped.
    Undo,
    /// `*.ibd`: matched by name and space id, dropped when an incremental has no delta for it.
    User,
}

/// What a directory listing found.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// `(relative, absolute)` of every regular file at depth 1 or 2, sorted.
    pub files: Vec<(PathBuf, PathBuf)>,
    /// Relative names of the top-level directories.
    pub dirs: Vec<PathBuf>,
}

/// The entries of one directory: (name, path, is a directory), sorted; symbolic links are
/// followed (where they lead is checked before anything is written).
fn entries(d: &Path) -> Result<Vec<(std::ffi::OsString, PathBuf, bool)>, PrepareError> {
    let mut out = Vec::new();
    for e in fs::read_dir(d).map_err(|e| PrepareError::io(d, e))? {
        let e = e.map_err(|e| PrepareError::io(d, e))?;
        let path = e.path();
        let m = fs::metadata(&path).map_err(|e| PrepareError::io(&path, e))?;
        if m.is_dir() || m.is_file() {
            out.push((e.file_name(), path, m.is_dir()));
        }
    }
    out.sort();
    Ok(out)
}

/// Lists the files of a backup directory (top level and one level of database directories).
pub(crate) fn list(dir: &Path) -> Result<Listing, PrepareError> {
    let mut l = Listing::default();
    for (name, path, is_dir) in entries(dir)? {
        if !is_dir {
            l.files.push((PathBuf::from(name), path));
            continue;
        }
        l.dirs.push(PathBuf::from(&name));
        for (n2, p2, d2) in entries(&path)? {
            if !d2 {
                l.files.push((Path::new(&name).join(n2), p2));
            }
        }
    }
    Ok(l)
}

/// Top-level files the prepare itself owns (never copied as non-InnoDB files).
pub(crate) fn is_metadata(rel: &Path) -> bool {
    let Some(name) = rel.to_str() else {
        return false;
    };
    checkpoints::FILE_NAMES.contains(&name)
        || name == backup_info::FILE_NAME
        || name.starts_with(JOURNAL)
        || name.starts_with("xb_prepare.")
}

fn numbered(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
}

/// The role of a tablespace file by name (`None`: not a tablespace).
pub(crate) fn tablespace_kind(rel: &Path) -> Option<Kind> {
    let name = rel.to_str()?;
    let top = rel.components().count() == 1;
    if top && numbered(name, "ibdata") {
        return Some(Kind::System);
    }
    if (top && (numbered(name, "undo") || numbered(name, "undo_"))) || name.ends_with(".ibu") {
        return Some(Kind::Undo);
    }
    name.ends_with(".ibd").then_some(Kind::User)
}

/// A redo log file at the top of a backup (`ib_logfileN`).
pub(crate) fn is_redo(rel: &Path) -> bool {
    rel.components().count() == 1 && rel.to_str().and_then(log_file_number).is_some()
}

/// `rel` with its last extension replaced.
pub(crate) fn with_ext(rel: &Path, strip: &str, add: &str) -> Option<PathBuf> {
    let name = rel.file_name()?.to_str()?;
    let stem = name.strip_suffix(strip).filter(|s| !s.is_empty())?;
    Some(rel.with_file_name(format!("{stem}{add}")))
}

/// The first KiB of a file (less if the file is shorter).
fn head_of(path: &Path) -> Result<Vec<u8>, PrepareError> {
    let mut head = vec![0u8; 1024];
    let mut f = File::open(path).map_err(|e| PrepareError::io(path, e))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(PrepareError::io(path, e)),
        }
    }
    head.truncate(n);
    Ok(head)
}

/// Space id and physical page size from a tablespace file's first bytes.
fn parse_head(path: &Path, head: &[u8]) -> Result<(u32, u32), PrepareError> {
    let bad = |e: innodb_page::PageError| PrepareError::Tablespace {
        path: path.to_path_buf(),
        why: format!("cannot read page 0: {e}"),
    };
    let h = FspHeader::parse(head).map_err(bad)?;
    let ps = physical_page_size(head).map_err(bad)?;
    Ok((h.space_id, ps as u32))
}

/// Space id and physical page size from the head of a tablespace file.
pub(crate) fn read_head(path: &Path) -> Result<(u32, u32), PrepareError> {
    parse_head(path, &head_of(path)?)
}

/// Like [`read_head`], but `None` for a file whose first KiB is all zero: a tablespace created
/// so recently that the server had not written its first page yet when a hot backup copied it
/// (mariabackup copies such files as they are, as `.new`); recovery rebuilds it from the redo
/// log, which holds its creation.
pub(crate) fn read_head_opt(path: &Path) -> Result<Option<(u32, u32)>, PrepareError> {
    head_opt(path, &head_of(path)?)
}

/// [`read_head_opt`] of the first KiB `head` of the file `path`.
pub(crate) fn head_opt(path: &Path, head: &[u8]) -> Result<Option<(u32, u32)>, PrepareError> {
    if head.len() == 1024 && head.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    parse_head(path, head).map(Some)
}
