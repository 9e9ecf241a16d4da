//! The base of an incremental: which backup (the stanza's newest complete one, of this
//! server), and a small local directory with its metadata for the backup engine
//! ([`Incremental::Basedir`](crate::backup::Incremental::Basedir)).
//!
//! The engine reads of its base: `xtrabackup_checkpoints` and `xb_backup_info` (the LSNs, the
//! identity), `xtrabackup_info` (partial or not), and for a hot incremental the names the
//! base gives its tablespaces (`backup/hot/base_names.rs`): page 0 of each `.ibd` and `.new`
//! file, each `.meta`, `.ren` and `.del` file, and the copied redo log when the base holds
//! `.new` files. Only these are fetched (page 0 only of the tablespaces), into a directory
//! under the system's temporary directory that is removed when the run ends.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::codec::names::{encoded_name, stays_plain};
use crate::codec::{decode_to, Compression, KeyFile};
use crate::format::ddl_files::{parse_marker, DdlFile};

use super::super::error::RepoError;
use super::super::keys;
use super::super::manifest::{FileEntry, Manifest};
use super::super::store::Store;

/// The tablespace bytes fetched to find page 0 (the largest page size).
const PAGE0_MAX: usize = 64 << 10;

/// A temporary directory, removed when dropped.
pub(crate) struct BaseDir {
    path: PathBuf,
}

impl BaseDir {
    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BaseDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// What of a file of the base the engine reads.
enum Need {
    Whole,
    Page0,
}

fn need(path: &str, with_redo: bool) -> Option<Need> {
    let p = Path::new(path);
    if matches!(
        path,
        "xtrabackup_checkpoints" | "xb_backup_info" | "xtrabackup_info"
    ) {
        return Some(Need::Whole);
    }
    if path == "ib_logfile0" {
        return with_redo.then_some(Need::Whole);
    }
    match parse_marker(p) {
        Some((DdlFile::New, _)) => return Some(Need::Page0),
        Some(_) => return Some(Need::Whole),
        None => {}
    }
    if path.ends_with(".meta") {
        return Some(Need::Whole);
    }
    (path.ends_with(".ibd") && path.contains('/')).then_some(Need::Page0)
}

/// Writes the metadata of the backup `m` into a new temporary directory. Encrypted files are
/// read with `keys`' identity; without one, only the files stored plain are fetched (the
/// LSNs and identity: enough for the incremental, without the base's tablespace names).
/// Returns the directory and whether the names could be read.
pub(crate) fn materialize(
    store: &Store,
    m: &Manifest,
    keys: Option<&KeyFile>,
) -> Result<(BaseDir, bool), RepoError> {
    let path = std::env::temp_dir().join(format!(
        "xb-base-{}-{}-{}",
        std::process::id(),
        m.id,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    let io_err = |action, p: &Path, source| RepoError::Io {
        action,
        path: p.to_path_buf(),
        source,
    };
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&path)
        .map_err(|e| io_err("create the base's metadata directory", &path, e))?;
    let dir = BaseDir { path };
    let encrypted = !m.encoding.recipients.is_empty();
    let readable = !encrypted || keys.is_some_and(KeyFile::can_decrypt);
    let with_redo = m
        .files
        .iter()
        .any(|f| matches!(parse_marker(Path::new(&f.path)), Some((DdlFile::New, _))));
    for f in &m.files {
        let Some(need) = need(&f.path, with_redo) else {
            continue;
        };
        if !readable && !stays_plain(Path::new(&f.path)) {
            continue;
        }
        let mut bytes = read_file(
            store,
            m,
            f,
            keys,
            matches!(need, Need::Page0).then_some(PAGE0_MAX),
        )?;
        if matches!(need, Need::Page0)
            && let Ok(ps) = innodb_page::fsp::physical_page_size(&bytes)
        {
            bytes.truncate(ps);
        }
        let to = dir.path.join(&f.path);
        if !to.starts_with(&dir.path) || f.path.split('/').any(|c| c == ".." || c.is_empty()) {
            continue; // a name that would leave the directory: not ours
        }
        if let Some(parent) = to.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| io_err("create", parent, e))?;
        }
        fs::write(&to, &bytes).map_err(|e| io_err("write", &to, e))?;
    }
    Ok((dir, readable))
}

/// The plain bytes of file `f` of backup `m` (the first `limit` only, when given).
pub(crate) fn read_file(
    store: &Store,
    m: &Manifest,
    f: &FileEntry,
    keys: Option<&KeyFile>,
    limit: Option<usize>,
) -> Result<Vec<u8>, RepoError> {
    let compression = match m.encoding.compression.as_deref() {
        Some("zstd") => Some(Compression::Zstd),
        Some("lz4") => Some(Compression::Lz4),
        _ => None,
    };
    let stored = encoded_name(
        Path::new(&f.path),
        compression,
        !m.encoding.recipients.is_empty(),
    );
    let mut out = Limited {
        buf: Vec::new(),
        limit: limit.unwrap_or(usize::MAX),
    };
    let codec_err = |key: &str, source| RepoError::Codec {
        location: store.location().to_string(),
        backup: m.id.clone(),
        key: key.to_string(),
        file: f.path.clone(),
        source: Box::new(source),
    };
    if let Some(b) = &f.bundled {
        let Some(bundle) = m.bundles.get(b.bundle) else {
            return Err(RepoError::Corrupt {
                location: store.location().to_string(),
                backup: m.id.clone(),
                key: keys::manifest(&m.stanza, &m.id),
                file: f.path.clone(),
                what: format!("names bundle {} of {}", b.bundle, m.bundles.len()).into(),
            });
        };
        // an empty file stored plain is 0 bytes long: nothing to read
        let bytes = match b.stored {
            0 => Vec::new(),
            n => store.get_range(&bundle.key, b.offset..b.offset + n)?,
        };
        if let Err(e) = decode_to(&stored, &bytes[..], &mut out, keys)
            && !out.full()
        {
            return Err(codec_err(&bundle.key, e));
        }
        return Ok(out.buf);
    }
    for p in &f.parts {
        if out.full() {
            break;
        }
        let r = store.reader(&p.object.key)?;
        if let Err(e) = decode_to(&stored, r, &mut out, keys)
            && !out.full()
        {
            return Err(codec_err(&p.object.key, e));
        }
    }
    Ok(out.buf)
}

/// A writer keeping the first `limit` bytes, refusing more (which stops a decoder early).
struct Limited {
    buf: Vec<u8>,
    limit: usize,
}

impl Limited {
    fn full(&self) -> bool {
        self.buf.len() >= self.limit
    }
}

impl Write for Limited {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.full() {
            return Err(io::Error::other("enough bytes read"));
        }
        let n = data.len().min(self.limit - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
