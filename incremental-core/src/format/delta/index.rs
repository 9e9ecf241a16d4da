//! Random access to a delta: read the header pages only, then read single pages by position.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{be32, check_page_number, parse_header, Checks, DeltaSummary, PageNoTracker, PageSize};
use crate::format::error::{DeltaError, Error};

/// The page list of a delta, built by reading its header pages only.
///
/// Memory: 4 bytes per data page (the page numbers; offsets are computed, every cluster but the
/// last being full). Building it checks the whole structure: every header, and, from the length
/// of the data, that every listed page is whole (with [`Checks::page_numbers_match`] it also
/// reads the first 8 bytes of every page).
///
/// ```
/// use std::io::Cursor;
/// use incremental_core::format::delta::{Checks, DeltaIndex, DeltaWriter, PageSize};
/// let p = PageSize::MIN;
/// let mut w = DeltaWriter::new(Vec::new(), p);
/// for n in [4, 8, 15] {
///     w.push(n, &[n as u8; 1024]).unwrap();
/// }
/// let (bytes, _) = w.finish().unwrap();
/// let mut src = Cursor::new(bytes);
/// // (Checks::STRICT would also want each page to carry its number at bytes 4..8.)
/// let index = DeltaIndex::read(&mut src, p, Checks::COMPATIBLE).unwrap();
/// assert_eq!(index.page_nos(), [4, 8, 15]);
/// let mut buf = vec![0u8; 1024];
/// assert_eq!(index.read_page(&mut src, 2, &mut buf).unwrap(), 15);
/// assert_eq!(buf[0], 15);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaIndex {
    ps: PageSize,
    /// Stream position of the delta's first byte.
    start: u64,
    page_nos: Vec<u32>,
    summary: DeltaSummary,
}

/// Seeks to `at` and reads as much of `buf` as there is; returns the count.
fn read_at<R: Read + Seek>(r: &mut R, at: u64, buf: &mut [u8]) -> io::Result<usize> {
    r.seek(SeekFrom::Start(at))?;
    super::reader::read_full(r, buf)
}

impl DeltaIndex {
    /// Reads the header pages of the delta that starts at the current position of `r` and
    /// runs to its end.
    ///
    /// ```
    /// use std::fs::File;
    /// use incremental_core::format::delta::{Checks, DeltaIndex, PageSize};
    /// let mut f = File::open(
    ///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_crc32.ibd.delta").unwrap();
    /// let index = DeltaIndex::read(&mut f, PageSize::DEFAULT, Checks::STRICT).unwrap();
    /// assert!(index.is_empty());
    /// assert_eq!(index.summary().len, 16384);
    /// ```
    pub fn read<R: Read + Seek>(
        r: &mut R,
        page_size: PageSize,
        checks: Checks,
    ) -> Result<DeltaIndex, DeltaError> {
        let io = |offset: u64| move |source| DeltaError::Io { offset, source };
        let start = r.stream_position().map_err(io(0))?;
        let end = r.seek(SeekFrom::End(0)).map_err(io(0))?;
        let total = end.saturating_sub(start);
        let p = page_size.get_u64();
        let mut hdr = vec![0u8; page_size.get()];
        let mut page = Vec::new();
        let mut tracker = PageNoTracker::new();
        let mut page_nos = Vec::new();
        let mut clusters = 0u64;
        let mut off = 0u64;
        loop {
            if off == total && clusters > 0 {
                return Err(DeltaError::MissingFinalCluster { offset: off });
            }
            let got = read_at(r, start + off, &mut hdr).map_err(io(off))?;
            if got < hdr.len() {
                return Err(DeltaError::TruncatedHeader {
                    offset: off,
                    len: got as u64,
                });
            }
            let info = parse_header(&hdr, off, &checks)?;
            clusters += 1;
            for i in 1..=info.pages {
                tracker.see(be32(&hdr, 4 * i), off + 4 * i as u64, &checks)?;
            }
            // Data pages present in full, of this cluster.
            let present = ((total - off) / p).saturating_sub(1).min(info.pages as u64) as usize;
            if checks.page_numbers_match {
                for i in 1..=present {
                    let at = off + i as u64 * p;
                    let listed = be32(&hdr, 4 * i);
                    let mut head = [0u8; 8];
                    read_at(r, start + at, &mut head).map_err(io(at))?;
                    if be32(&head, 4) != listed {
                        page.resize(page_size.get(), 0);
                        read_at(r, start + at, &mut page).map_err(io(at))?;
                        check_page_number(&page, listed, at)?;
                    }
                }
            }
            if present < info.pages {
                let at = off + (present as u64 + 1) * p;
                return Err(DeltaError::TruncatedPage {
                    offset: at,
                    page_no: be32(&hdr, 4 * (present + 1)),
                    len: total - at,
                });
            }
            page_nos.extend((1..=info.pages).map(|i| be32(&hdr, 4 * i)));
            off += (info.pages as u64 + 1) * p;
            if info.last {
                break;
            }
        }
        if checks.no_trailing_bytes && total > off {
            return Err(DeltaError::TrailingBytes {
                offset: off,
                len: total - off,
            });
        }
        Ok(DeltaIndex {
            ps: page_size,
            start,
            page_nos,
            summary: DeltaSummary {
                page_size,
                clusters,
                pages: tracker.pages,
                len: off,
                trailing_bytes: total - off,
                max_page_no: tracker.max,
                ascending: tracker.ascending,
            },
        })
    }

    /// The physical page size.
    ///
    /// ```
    /// use std::io::Cursor;
    /// use incremental_core::format::delta::{Checks, DeltaIndex, DeltaWriter, PageSize};
    /// let (bytes, _) = DeltaWriter::new(Vec::new(), PageSize::MIN).finish().unwrap();
    /// let index = DeltaIndex::read(&mut Cursor::new(bytes), PageSize::MIN, Checks::STRICT).unwrap();
    /// assert_eq!(index.page_size(), PageSize::MIN);
    /// ```
    pub fn page_size(&self) -> PageSize {
        self.ps
    }

    /// The number of data pages.
    ///
    /// ```
    /// use std::io::Cursor;
    /// use incremental_core::format::delta::{Checks, DeltaIndex, DeltaWriter, PageSize};
    /// let mut w = DeltaWriter::new(Vec::new(), PageSize::MIN);
    /// w.push(1, &[0u8; 1024]).unwrap();
    /// let (bytes, _) = w.finish().unwrap();
    /// let index = DeltaIndex::read(&mut Cursor::new(bytes), PageSize::MIN, Checks::STRICT).unwrap();
    /// assert_eq!(index.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.page_nos.len()
    }

    /// True when the delta holds no page (the one-page delta of an unchanged file).
    ///
    /// ```
    /// use std::io::Cursor;
    /// use incremental_core::format::delta::{Checks, DeltaIndex, DeltaWriter, PageSize};
    /// let (bytes, _) = DeltaWriter::new(Vec::new(), PageSize::MIN).finish().unwrap();
    /// let index = DeltaIndex::read(&mut Cursor::new(bytes), PageSize::MIN, Checks::STRICT).unwrap();
    /// assert!(index.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.page_nos.is_empty()
    }

    /// The page numbers, in delta order.
    ///
    /// ```
    /// use std::fs::File;
    /// use incremental_core::format::delta::{Checks, DeltaIndex, PageSize};
    /// let mut f = File::open(
    ///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_comp.ibd.delta").unwrap();
    /// let index = DeltaIndex::read(&mut f, PageSize::new(8192).unwrap(), Checks::STRICT).unwrap();
    /// assert_eq!(index.page_nos(), [3]);
    /// ```
    pub fn page_nos(&self) -> &[u32] {
        &self.page_nos
    }

    /// Byte offset, in the delta, of data page `index` (0-based), or `None` past the end.
    ///
    /// ```
    /// use std::io::Cursor;
    /// use incremental_core::format::delta::{Checks, DeltaIndex, DeltaWriter, PageSize};
    /// let mut w = DeltaWriter::new(Vec::new(), PageSize::MIN);
    /// w.push(1, &[0u8; 1024]).unwrap();
    /// let (bytes, _) = w.finish().unwrap();
    /// let index = DeltaIndex::read(&mut Cursor::new(bytes), PageSize::MIN, Checks::STRICT).unwrap();
    /// assert_eq!((index.page_offset(0), index.page_offset(1)), (Some(1024), None));
    /// ```
    pub fn page_offset(&self, index: usize) -> Option<u64> {
        (index < self.page_nos.len()).then(|| self.ps.data_page_offset(index as u64))
    }

    /// `(page_no, offset in the delta)` of every data page, in delta order.
    ///
    /// ```
    /// use std::fs::File;
    /// use incremental_core::format::delta::{Checks, DeltaIndex, PageSize};
    /// let mut f = File::open(
    ///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_zip1.ibd.delta").unwrap();
    /// let index = DeltaIndex::read(&mut f, PageSize::MIN, Checks::STRICT).unwrap();
    /// let v: Vec<_> = index.iter().collect();
    /// assert_eq!(v[255], (278, 257 * 1024)); // first page of the second cluster
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (u32, u64)> + '_ {
        self.page_nos
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, self.ps.data_page_offset(i as u64)))
    }

    /// The shape of the delta.
    ///
    /// ```
    /// use std::fs::File;
    /// use incremental_core::format::delta::{Checks, DeltaIndex, PageSize};
    /// let mut f = File::open(
    ///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_small.ibd.delta").unwrap();
    /// let s = DeltaIndex::read(&mut f, PageSize::DEFAULT, Checks::STRICT).unwrap().summary();
    /// assert_eq!((s.pages, s.len, s.trailing_bytes), (1, 32768, 0));
    /// ```
    pub fn summary(&self) -> DeltaSummary {
        self.summary
    }

    /// Reads data page `index` from `r` (the same data the index was read from) into `buf`
    /// (`P` bytes); returns its page number.
    ///
    /// ```
    /// use std::fs::File;
    /// use incremental_core::format::delta::{Checks, DeltaIndex, PageSize};
    /// let mut f = File::open(
    ///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_small.ibd.delta").unwrap();
    /// let index = DeltaIndex::read(&mut f, PageSize::DEFAULT, Checks::STRICT).unwrap();
    /// let mut buf = vec![0u8; 16384];
    /// assert_eq!(index.read_page(&mut f, 0, &mut buf).unwrap(), 3);
    /// assert_eq!(&buf[4..8], &3u32.to_be_bytes()); // FIL_PAGE_OFFSET
    /// assert!(index.read_page(&mut f, 1, &mut buf).is_err());
    /// ```
    pub fn read_page<R: Read + Seek>(
        &self,
        r: &mut R,
        index: usize,
        buf: &mut [u8],
    ) -> Result<u32, DeltaError> {
        let (page_no, at) = self.locate(index, buf.len())?;
        let got = read_at(r, self.start + at, buf)
            .map_err(|source| DeltaError::Io { offset: at, source })?;
        if got < buf.len() {
            return Err(DeltaError::TruncatedPage {
                offset: at,
                page_no,
                len: got as u64,
            });
        }
        Ok(page_no)
    }

    /// Page number and delta offset of page `index`, after checking the buffer length.
    fn locate(&self, index: usize, buf_len: usize) -> Result<(u32, u64), DeltaError> {
        let offset = self.summary.len;
        let invalid = |what: String| DeltaError::Io {
            offset,
            source: io::Error::new(io::ErrorKind::InvalidInput, what),
        };
        let Some(&page_no) = self.page_nos.get(index) else {
            return Err(invalid(format!(
                "page index {index} out of range: the delta holds {} pages",
                self.page_nos.len()
            )));
        };
        if buf_len != self.ps.get() {
            return Err(invalid(format!(
                "buffer of {buf_len} bytes for a page of {} bytes",
                self.ps
            )));
        }
        Ok((page_no, self.ps.data_page_offset(index as u64)))
    }
}

/// An open delta file for random access: the header pages are read and checked once, then
/// single pages are read by position (`pread`), through `&self`, so that several threads can
/// read one delta.
///
/// ```
/// use incremental_core::format::delta::{DeltaFile, PageSize};
/// let f = DeltaFile::open(
///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_zip1.ibd.delta", PageSize::MIN).unwrap();
/// assert_eq!(f.index().len(), 392);
/// let mut buf = vec![0u8; 1024];
/// assert_eq!(f.read_page(391, &mut buf).unwrap(), 448);
/// ```
#[derive(Debug)]
pub struct DeltaFile {
    path: PathBuf,
    file: File,
    index: DeltaIndex,
}

impl DeltaFile {
    /// Opens `path` and reads its header pages, checking what the original tools check.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaFile, PageSize};
    /// let e = DeltaFile::open("no/such.delta", PageSize::MIN).unwrap_err();
    /// assert!(e.to_string().starts_with("no/such.delta: "));
    /// ```
    pub fn open(path: impl AsRef<Path>, page_size: PageSize) -> Result<DeltaFile, Error> {
        DeltaFile::open_with(path, page_size, Checks::COMPATIBLE)
    }

    /// Opens `path` and reads its header pages, making the given checks.
    ///
    /// ```
    /// use incremental_core::format::delta::{Checks, DeltaFile, PageSize};
    /// let f = DeltaFile::open_with(
    ///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_small.ibd.delta",
    ///     PageSize::DEFAULT,
    ///     Checks::STRICT,
    /// ).unwrap();
    /// assert_eq!(f.index().page_nos(), [3]);
    /// ```
    pub fn open_with(
        path: impl AsRef<Path>,
        page_size: PageSize,
        checks: Checks,
    ) -> Result<DeltaFile, Error> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let index = match DeltaIndex::read(&mut &file, page_size, checks) {
            Ok(index) => index,
            Err(e) => return Err(Error::delta(path, e)),
        };
        Ok(DeltaFile { path, file, index })
    }

    /// The file's path.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaFile, PageSize};
    /// let p = "../tests/data/mariadb-10.11/backup/inc1/fx/t_small.ibd.delta";
    /// assert_eq!(DeltaFile::open(p, PageSize::DEFAULT).unwrap().path().to_str(), Some(p));
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The page list.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaFile, PageSize};
    /// let f = DeltaFile::open(
    ///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_small.ibd.delta", PageSize::DEFAULT)
    ///     .unwrap();
    /// assert_eq!(f.index().summary().clusters, 1);
    /// ```
    pub fn index(&self) -> &DeltaIndex {
        &self.index
    }

    /// Reads data page `index` into `buf` (`P` bytes); returns its page number.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaFile, PageSize};
    /// let f = DeltaFile::open(
    ///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_comp.ibd.delta",
    ///     PageSize::new(8192).unwrap(),
    /// ).unwrap();
    /// let mut buf = vec![0u8; 8192];
    /// assert_eq!(f.read_page(0, &mut buf).unwrap(), 3);
    /// ```
    pub fn read_page(&self, index: usize, buf: &mut [u8]) -> Result<u32, Error> {
        let (page_no, at) = self
            .index
            .locate(index, buf.len())
            .map_err(|e| Error::delta(&self.path, e))?;
        let at = self.index.start + at;
        match pread_exact(&self.file, buf, at) {
            Ok(()) => Ok(page_no),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Error::delta(
                &self.path,
                DeltaError::TruncatedPage {
                    offset: at,
                    page_no,
                    len: 0,
                },
            )),
            Err(source) => Err(Error::delta(
                &self.path,
                DeltaError::Io { offset: at, source },
            )),
        }
    }

    /// Gives back the open file.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaFile, PageSize};
    /// let f = DeltaFile::open(
    ///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_small.ibd.delta", PageSize::DEFAULT)
    ///     .unwrap();
    /// assert_eq!(f.into_file().metadata().unwrap().len(), 32768);
    /// ```
    pub fn into_file(self) -> File {
        self.file
    }
}

#[cfg(unix)]
fn pread_exact(file: &File, buf: &mut [u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(not(unix))]
fn pread_exact(file: &File, buf: &mut [u8], at: u64) -> io::Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(buf)
}

/// Checks the delta file at `path` end to end without reading its data pages (unless
/// [`Checks::page_numbers_match`] asks for it): every header, every page whole, the given
/// checks. The first problem is reported with the file and its byte offset.
///
/// ```
/// use incremental_core::format::delta::{validate_file, Checks, PageSize};
/// let dir = "../tests/data/mariadb-10.11/backup/inc1/fx";
/// let s = validate_file(format!("{dir}/t_zip1.ibd.delta"), PageSize::MIN, Checks::STRICT).unwrap();
/// assert_eq!(s.pages, 392);
/// // The same file read with the wrong page size:
/// let e = validate_file(format!("{dir}/t_zip1.ibd.delta"), PageSize::new(2048).unwrap(),
///                       Checks::COMPATIBLE).unwrap_err();
/// assert!(e.to_string().contains("t_zip1.ibd.delta: at offset "));
/// ```
pub fn validate_file(
    path: impl AsRef<Path>,
    page_size: PageSize,
    checks: Checks,
) -> Result<DeltaSummary, Error> {
    DeltaFile::open_with(path, page_size, checks).map(|f| f.index.summary())
}
