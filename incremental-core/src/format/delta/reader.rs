//! Streaming reading of a delta from any `Read`.

use std::io::{self, Read};

use super::{
    be32, check_page_number, parse_header, Checks, DeltaSummary, HeaderInfo, PageNoTracker,
    PageSize,
};
use crate::format::error::DeltaError;

/// One data page of a delta, borrowed from the reader.
///
/// ```
/// use incremental_core::format::delta::{DeltaReader, DeltaWriter, PageSize};
/// let mut w = DeltaWriter::new(Vec::new(), PageSize::MIN);
/// w.push(42, &[9u8; 1024]).unwrap();
/// let (bytes, _) = w.finish().unwrap();
/// let mut r = DeltaReader::new(&bytes[..], PageSize::MIN);
/// let page = r.next_page().unwrap().unwrap();
/// assert_eq!((page.page_no, page.offset, page.data.len()), (42, 1024, 1024));
/// assert_eq!(page.target_offset(PageSize::MIN), 42 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaPage<'a> {
    /// The page number: the page's offset in the data file, in pages.
    pub page_no: u32,
    /// Byte offset of the page in the delta.
    pub offset: u64,
    /// The raw page image, `P` bytes.
    pub data: &'a [u8],
}

impl DeltaPage<'_> {
    /// Where the page goes in the data file: `page_no * P`.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaPage, PageSize};
    /// let page = DeltaPage { page_no: 3, offset: 0, data: &[] };
    /// assert_eq!(page.target_offset(PageSize::DEFAULT), 49152);
    /// ```
    pub fn target_offset(&self, page_size: PageSize) -> u64 {
        u64::from(self.page_no) * page_size.get_u64()
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Next: a header page at `offset`.
    Header,
    /// Inside a cluster: data page `next` (1-based) of `info.pages`.
    Cluster { info: HeaderInfo, next: usize },
    /// After the last cluster (or after an error).
    Done,
}

/// Reads a delta page by page from any [`Read`], in file order, with two pages of memory.
///
/// Each page is yielded as soon as it is read, so a problem later in the file is found only when
/// the reader gets there: run [`validate`] (or [`validate_file`](super::validate_file)) over the
/// whole delta first when nothing may be written before everything is known to be good.
/// After an error, `next_page` returns `Ok(None)`.
///
/// ```
/// use incremental_core::format::delta::{DeltaReader, PageSize};
/// let bytes = std::fs::read(
///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_small.ibd.delta").unwrap();
/// let mut r = DeltaReader::new(&bytes[..], PageSize::DEFAULT);
/// let page = r.next_page().unwrap().unwrap();
/// assert_eq!((page.page_no, page.offset), (3, 16384));
/// assert!(r.next_page().unwrap().is_none());
/// assert_eq!(r.summary().unwrap().pages, 1);
/// ```
#[derive(Debug)]
pub struct DeltaReader<R: Read> {
    r: R,
    ps: PageSize,
    checks: Checks,
    header: Vec<u8>,
    page: Vec<u8>,
    /// Bytes consumed.
    offset: u64,
    clusters: u64,
    state: State,
    tracker: PageNoTracker,
    /// Bytes covered by the clusters (set at the end of the last one).
    len: u64,
    /// Set once the end of the last cluster was reached without error.
    complete: bool,
}

/// Reads until `buf` is full or the data ends; returns how many bytes were read.
pub(super) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl<R: Read> DeltaReader<R> {
    /// A reader of a delta with physical page size `page_size`, checking what the original
    /// tools check ([`Checks::COMPATIBLE`]).
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaReader, PageSize};
    /// let r = DeltaReader::new(std::io::empty(), PageSize::MIN);
    /// assert_eq!(r.page_size(), PageSize::MIN);
    /// ```
    pub fn new(r: R, page_size: PageSize) -> DeltaReader<R> {
        DeltaReader::with_checks(r, page_size, Checks::COMPATIBLE)
    }

    /// A reader making the given checks. With [`Checks::no_trailing_bytes`], the reader reads
    /// to the end of the data after the last cluster.
    ///
    /// ```
    /// use incremental_core::format::delta::{Checks, DeltaReader, PageSize};
    /// let mut bytes = vec![0u8; 1024];
    /// bytes[..12].copy_from_slice(b"XTRA\0\0\0\x05\xff\xff\xff\xff");
    /// bytes.extend_from_slice(&[1u8; 1024]); // page 5, whose FIL header says page 0x01010101
    /// let mut r = DeltaReader::with_checks(&bytes[..], PageSize::MIN, Checks::STRICT);
    /// assert!(r.next_page().is_err());
    /// ```
    pub fn with_checks(r: R, page_size: PageSize, checks: Checks) -> DeltaReader<R> {
        DeltaReader {
            r,
            ps: page_size,
            checks,
            header: vec![0u8; page_size.get()],
            page: vec![0u8; page_size.get()],
            offset: 0,
            clusters: 0,
            state: State::Header,
            tracker: PageNoTracker::new(),
            len: 0,
            complete: false,
        }
    }

    /// The physical page size.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaReader, PageSize};
    /// assert_eq!(DeltaReader::new(&[][..], PageSize::MAX).page_size(), PageSize::MAX);
    /// ```
    pub fn page_size(&self) -> PageSize {
        self.ps
    }

    /// The next data page, or `None` after the last one.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaReader, PageSize};
    /// use incremental_core::format::error::DeltaError;
    /// let mut r = DeltaReader::new(&[0u8; 1024][..], PageSize::MIN);
    /// assert!(matches!(r.next_page(), Err(DeltaError::BadMagic { offset: 0, .. })));
    /// assert!(r.next_page().unwrap().is_none());
    /// ```
    pub fn next_page(&mut self) -> Result<Option<DeltaPage<'_>>, DeltaError> {
        match self.advance() {
            Ok(Some((page_no, offset))) => Ok(Some(DeltaPage {
                page_no,
                offset,
                data: &self.page,
            })),
            Ok(None) => Ok(None),
            Err(e) => {
                self.state = State::Done;
                Err(e)
            }
        }
    }

    /// Reads the next page into `self.page`; returns its number and offset.
    fn advance(&mut self) -> Result<Option<(u32, u64)>, DeltaError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Header => {
                    let off = self.offset;
                    let got = read_full(&mut self.r, &mut self.header).map_err(|source| {
                        DeltaError::Io {
                            offset: off,
                            source,
                        }
                    })?;
                    self.offset += got as u64;
                    if got < self.header.len() {
                        return Err(if got == 0 && self.clusters > 0 {
                            DeltaError::MissingFinalCluster { offset: off }
                        } else {
                            DeltaError::TruncatedHeader {
                                offset: off,
                                len: got as u64,
                            }
                        });
                    }
                    let info = parse_header(&self.header, off, &self.checks)?;
                    for i in 1..=info.pages {
                        let slot = 4 * i;
                        self.tracker.see(
                            be32(&self.header, slot),
                            off + slot as u64,
                            &self.checks,
                        )?;
                    }
                    self.clusters += 1;
                    self.state = State::Cluster { info, next: 1 };
                }
                State::Cluster { info, next } if next > info.pages => {
                    if info.last {
                        self.state = State::Done;
                        self.len = self.offset;
                        self.finish_trailing()?;
                        self.complete = true;
                        return Ok(None);
                    }
                    self.state = State::Header;
                }
                State::Cluster { info, next } => {
                    let page_no = be32(&self.header, 4 * next);
                    let off = self.offset;
                    let got = read_full(&mut self.r, &mut self.page).map_err(|source| {
                        DeltaError::Io {
                            offset: off,
                            source,
                        }
                    })?;
                    self.offset += got as u64;
                    if got < self.page.len() {
                        return Err(DeltaError::TruncatedPage {
                            offset: off,
                            page_no,
                            len: got as u64,
                        });
                    }
                    if self.checks.page_numbers_match {
                        check_page_number(&self.page, page_no, off)?;
                    }
                    self.state = State::Cluster {
                        info,
                        next: next + 1,
                    };
                    return Ok(Some((page_no, off)));
                }
            }
        }
    }

    /// At the end of the last cluster: rejects trailing bytes if the checks say so.
    fn finish_trailing(&mut self) -> Result<(), DeltaError> {
        if self.checks.no_trailing_bytes {
            let n = self.count_rest()?;
            if n > 0 {
                return Err(DeltaError::TrailingBytes {
                    offset: self.len,
                    len: n,
                });
            }
        }
        Ok(())
    }

    /// Reads to the end of the data, counting the bytes.
    fn count_rest(&mut self) -> Result<u64, DeltaError> {
        let off = self.offset;
        let n = io::copy(&mut self.r, &mut io::sink()).map_err(|source| DeltaError::Io {
            offset: off,
            source,
        })?;
        self.offset += n;
        Ok(n)
    }

    /// The shape of the delta, once every page was read without error (`None` before).
    /// `trailing_bytes` is 0 unless the reader was told to look at them
    /// ([`Checks::no_trailing_bytes`]): use [`validate`] to count them.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaReader, DeltaWriter, PageSize};
    /// let (bytes, _) = DeltaWriter::new(Vec::new(), PageSize::MIN).finish().unwrap();
    /// let mut r = DeltaReader::new(&bytes[..], PageSize::MIN);
    /// assert!(r.summary().is_none());
    /// assert!(r.next_page().unwrap().is_none());
    /// assert_eq!(r.summary().unwrap().pages, 0);
    /// ```
    pub fn summary(&self) -> Option<DeltaSummary> {
        self.complete.then_some(DeltaSummary {
            page_size: self.ps,
            clusters: self.clusters,
            pages: self.tracker.pages,
            len: self.len,
            trailing_bytes: self.offset - self.len,
            max_page_no: self.tracker.max,
            ascending: self.tracker.ascending,
        })
    }

    /// Gives back the underlying reader (positioned after the last byte read).
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaReader, PageSize};
    /// let r = DeltaReader::new(&b"abc"[..], PageSize::MIN);
    /// assert_eq!(r.into_inner(), b"abc");
    /// ```
    pub fn into_inner(self) -> R {
        self.r
    }
}

/// Reads a whole delta from `r` and checks it end to end: every header, every page whole, and
/// the given [`Checks`]. Counts the bytes after the last cluster (reading to the end).
///
/// ```
/// use incremental_core::format::delta::{validate, Checks, PageSize};
/// let bytes = std::fs::read(
///     "../tests/data/mariadb-10.11/backup/inc1/fx/t_zip1.ibd.delta").unwrap();
/// let s = validate(&bytes[..], PageSize::MIN, Checks::STRICT).unwrap();
/// assert_eq!((s.clusters, s.pages, s.max_page_no), (2, 392, Some(448)));
/// ```
pub fn validate<R: Read>(
    r: R,
    page_size: PageSize,
    checks: Checks,
) -> Result<DeltaSummary, DeltaError> {
    let mut reader = DeltaReader::with_checks(r, page_size, checks);
    while reader.next_page()?.is_some() {}
    reader.count_rest()?;
    // A reader that returned `None` without an error has completed the last cluster.
    reader.summary().ok_or(DeltaError::MissingFinalCluster {
        offset: reader.offset,
    })
}
