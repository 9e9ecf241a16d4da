//! [`StreamSource`]: a backup read straight from a stream file, as a
//! [`BackupSource`]: `copy-back` of a full backup's stream without extracting it first.
//!
//! The stream is indexed once ([`StreamIndex`]: its chunk headers, seeking over the payloads)
//! and each file is then read in place. The payloads' CRC-32 are checked before the source is
//! handed out ([`StreamSource::open`] reads the stream once, sequentially), so a damaged stream
//! is refused before anything is restored.
//!
//! ```
//! use std::io::Read;
//! use incremental_core::source::BackupSource;
//! use incremental_core::xbstream::{StreamSource, StreamWriter};
//! let dir = tempfile::tempdir().unwrap();
//! let mut w = StreamWriter::new(Vec::new());
//! w.payload(b"xtrabackup_checkpoints", b"backup_type = full-backuped\n").unwrap();
//! w.end(b"xtrabackup_checkpoints").unwrap();
//! let path = dir.path().join("full.xbstream");
//! std::fs::write(&path, w.into_inner()).unwrap();
//! let src = StreamSource::open(&path).unwrap();
//! assert_eq!(src.files().unwrap()[0].size, 28);
//! let mut text = String::new();
//! src.open("xtrabackup_checkpoints".as_ref()).unwrap().read_to_string(&mut text).unwrap();
//! assert!(text.starts_with("backup_type"));
//! ```

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::source::{BackupSource, SourceError, SourceFile};

use super::error::XbstreamError;
use super::index::StreamIndex;

/// A backup in a stream file (see the module docs).
#[derive(Debug)]
pub struct StreamSource {
    path: PathBuf,
    file: File,
    index: StreamIndex,
}

/// Why a stream file cannot be a source: it cannot be opened, or it is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamSourceError {
    /// The file cannot be opened.
    #[error("{}: cannot open: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The stream is refused (damaged, truncated, not an xbstream).
    #[error("{}: {source}", path.display())]
    Stream {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: XbstreamError,
    },
}

impl StreamSource {
    /// Indexes the stream file `path` and checks every payload's CRC-32.
    pub fn open(path: impl Into<PathBuf>) -> Result<StreamSource, StreamSourceError> {
        let path = path.into();
        let open = |source| StreamSourceError::Open {
            path: path.clone(),
            source,
        };
        let stream = |source| StreamSourceError::Stream {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(open)?;
        let index = StreamIndex::build(&mut file).map_err(stream)?;
        let mut again = File::open(&path).map_err(open)?;
        StreamIndex::verify_checksums(&mut again).map_err(stream)?;
        Ok(StreamSource { path, file, index })
    }

    /// The index of the stream.
    pub fn index(&self) -> &StreamIndex {
        &self.index
    }
}

impl BackupSource for StreamSource {
    fn location(&self) -> &Path {
        &self.path
    }

    fn files(&self) -> Result<Vec<SourceFile>, SourceError> {
        Ok(self
            .index
            .files()
            .map(|f| SourceFile::new(f.path(), f.size()))
            .collect())
    }

    fn open(&self, path: &Path) -> Result<Box<dyn Read + '_>, SourceError> {
        match self.index.get(path) {
            Some(f) => Ok(Box::new(BufReader::with_capacity(
                1 << 20,
                f.view(&self.file),
            ))),
            None => Err(SourceError::new(
                "no such file in the stream",
                self.path.join(path),
                io::ErrorKind::NotFound.into(),
            )),
        }
    }
}
