//! Writing deltas: to any `Write` (one cluster buffered) or to a `Write + Seek` (header
//! back-patched).

use std::io::{self, Seek, SeekFrom, Write};

use super::{DeltaStats, PageSize, MAGIC_LAST, MAGIC_MORE, TERMINATOR};
use crate::format::error::DeltaWriteError;

/// The header page of the cluster being built.
#[derive(Debug)]
struct Header {
    page: Vec<u8>,
    /// Pages in the cluster, header included (the next free slot).
    count: usize,
}

impl Header {
    fn new(ps: PageSize) -> Header {
        let mut page = vec![0u8; ps.get()];
        page[..4].copy_from_slice(&MAGIC_MORE);
        Header { page, count: 1 }
    }

    fn is_full(&self) -> bool {
        self.count == self.page.len() / 4
    }

    fn reset(&mut self) {
        self.page.fill(0);
        self.page[..4].copy_from_slice(&MAGIC_MORE);
        self.count = 1;
    }

    fn add(&mut self, page_no: u32) {
        let at = 4 * self.count;
        self.page[at..at + 4].copy_from_slice(&page_no.to_be_bytes());
        self.count += 1;
    }

    /// Marks the cluster as the last one: `XTRA`, and the terminator unless it is full.
    fn seal_last(&mut self) {
        if !self.is_full() {
            let at = 4 * self.count;
            self.page[at..at + 4].copy_from_slice(&TERMINATOR.to_be_bytes());
        }
        self.page[..4].copy_from_slice(&MAGIC_LAST);
    }
}

/// The checks common to both writers: length, order, the reserved number.
#[derive(Debug)]
struct PageChecks {
    ps: PageSize,
    previous: Option<u32>,
}

impl PageChecks {
    fn check(&mut self, page_no: u32, page: &[u8]) -> Result<(), DeltaWriteError> {
        if page.len() != self.ps.get() {
            return Err(DeltaWriteError::PageLength {
                page_no,
                len: page.len(),
                expected: self.ps.get(),
            });
        }
        if page_no == TERMINATOR {
            return Err(DeltaWriteError::ReservedPageNo);
        }
        if let Some(previous) = self.previous
            && page_no <= previous
        {
            return Err(DeltaWriteError::PageOrder { page_no, previous });
        }
        self.previous = Some(page_no);
        Ok(())
    }
}

fn io_at(offset: u64) -> impl FnOnce(io::Error) -> DeltaWriteError {
    move |source| DeltaWriteError::Io { offset, source }
}

/// Writes a delta to any [`Write`], exactly as XtraBackup and mariabackup do.
///
/// Pages are pushed in ascending page-number order. Because a header page lists the pages that
/// follow it, a cluster is kept in memory until it is full (or until [`finish`](Self::finish)):
/// at most `S * P` bytes (256 KiB at 1 KiB pages, 64 MiB at 16 KiB, 1 GiB at 64 KiB), growing
/// with the pages actually pushed. When the destination can seek (a file),
/// [`SeekDeltaWriter`] needs only one page of memory.
///
/// A full cluster is written only when the next page arrives, so a delta whose page count is a
/// multiple of `S - 1` ends in a full `XTRA` cluster without terminator, like the originals'.
/// Dropping the writer without calling [`finish`](Self::finish) leaves an incomplete delta.
/// After an error the delta is unusable.
///
/// ```
/// use incremental_core::format::delta::{DeltaWriter, PageSize};
/// // A data file with no changed page: a one-page delta, "XTRA" then the terminator.
/// let (bytes, _) = DeltaWriter::new(Vec::new(), PageSize::DEFAULT).finish().unwrap();
/// assert_eq!(bytes.len(), 16384);
/// assert_eq!(&bytes[..8], b"XTRA\xff\xff\xff\xff");
/// assert!(bytes[8..].iter().all(|&b| b == 0));
/// ```
#[derive(Debug)]
pub struct DeltaWriter<W: Write> {
    w: W,
    checks: PageChecks,
    header: Header,
    /// The data pages of the current cluster, back to back.
    pages: Vec<u8>,
    stats: DeltaStats,
}

impl<W: Write> DeltaWriter<W> {
    /// A writer of a delta with physical page size `page_size`.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaWriter, PageSize};
    /// let w = DeltaWriter::new(std::io::sink(), PageSize::new(8192).unwrap());
    /// assert_eq!(w.page_size().get(), 8192);
    /// ```
    pub fn new(w: W, page_size: PageSize) -> DeltaWriter<W> {
        DeltaWriter {
            w,
            checks: PageChecks {
                ps: page_size,
                previous: None,
            },
            header: Header::new(page_size),
            pages: Vec::new(),
            stats: DeltaStats::default(),
        }
    }

    /// The physical page size.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaWriter, PageSize};
    /// assert_eq!(DeltaWriter::new(Vec::new(), PageSize::MIN).page_size(), PageSize::MIN);
    /// ```
    pub fn page_size(&self) -> PageSize {
        self.checks.ps
    }

    /// Adds page `page_no` (its raw image, exactly `P` bytes). Page numbers must ascend
    /// strictly; `0xFFFFFFFF` is reserved.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaWriter, PageSize};
    /// use incremental_core::format::error::DeltaWriteError;
    /// let mut w = DeltaWriter::new(Vec::new(), PageSize::MIN);
    /// w.push(3, &[0u8; 1024]).unwrap();
    /// assert!(matches!(w.push(3, &[0u8; 1024]), Err(DeltaWriteError::PageOrder { .. })));
    /// ```
    pub fn push(&mut self, page_no: u32, page: &[u8]) -> Result<(), DeltaWriteError> {
        self.checks.check(page_no, page)?;
        if self.header.is_full() {
            self.write_cluster()?;
            self.header.reset();
            self.pages.clear();
        }
        self.header.add(page_no);
        self.pages.extend_from_slice(page);
        self.stats.pages += 1;
        Ok(())
    }

    fn write_cluster(&mut self) -> Result<(), DeltaWriteError> {
        let at = self.stats.bytes;
        self.w.write_all(&self.header.page).map_err(io_at(at))?;
        let at = at + self.header.page.len() as u64;
        self.w.write_all(&self.pages).map_err(io_at(at))?;
        self.stats.bytes = at + self.pages.len() as u64;
        self.stats.clusters += 1;
        Ok(())
    }

    /// Writes the last cluster (`XTRA`), flushes, and returns the destination and what was
    /// written.
    ///
    /// ```
    /// use incremental_core::format::delta::{DeltaWriter, PageSize};
    /// let mut w = DeltaWriter::new(Vec::new(), PageSize::MIN);
    /// for page_no in 0..255 {
    ///     w.push(page_no, &[0u8; 1024]).unwrap();
    /// }
    /// let (bytes, stats) = w.finish().unwrap();
    /// // Exactly one full cluster: "XTRA" and no terminator.
    /// assert_eq!((stats.clusters, bytes.len()), (1, 256 * 1024));
    /// assert_eq!(&bytes[..4], b"XTRA");
    /// assert_eq!(&bytes[1020..1024], &254u32.to_be_bytes());
    /// ```
    pub fn finish(mut self) -> Result<(W, DeltaStats), DeltaWriteError> {
        self.header.seal_last();
        self.write_cluster()?;
        self.w.flush().map_err(io_at(self.stats.bytes))?;
        Ok((self.w, self.stats))
    }
}

/// Writes a delta to a [`Write`] + [`Seek`] destination with one page of memory.
///
/// Each data page is written straight to its place; the cluster's header page is written as
/// zeros first and back-patched when the cluster is complete. The bytes are the same as those
/// of [`DeltaWriter`]. A delta left unfinished (crash, dropped writer) has a zero magic in its
/// last header and is rejected by every reader.
///
/// The delta starts at the destination's position when the writer is created. Many small writes
/// go to the destination: give it a [`BufWriter`](std::io::BufWriter) (which flushes on seek).
///
/// ```
/// use std::io::Cursor;
/// use incremental_core::format::delta::{DeltaWriter, PageSize, SeekDeltaWriter};
/// let p = PageSize::MIN;
/// let mut a = SeekDeltaWriter::new(Cursor::new(Vec::new()), p).unwrap();
/// let mut b = DeltaWriter::new(Vec::new(), p);
/// for page_no in (0..600).step_by(2) {
///     let page = [page_no as u8; 1024];
///     a.push(page_no, &page).unwrap();
///     b.push(page_no, &page).unwrap();
/// }
/// let (a, _) = a.finish().unwrap();
/// let (b, _) = b.finish().unwrap();
/// assert_eq!(a.into_inner(), b);
/// ```
#[derive(Debug)]
pub struct SeekDeltaWriter<W: Write + Seek> {
    w: W,
    checks: PageChecks,
    header: Header,
    /// Stream position of the delta's first byte.
    start: u64,
    /// Offset (from `start`) of the current cluster's header page.
    cluster: u64,
    stats: DeltaStats,
}

impl<W: Write + Seek> SeekDeltaWriter<W> {
    /// A writer starting at the current position of `w`; writes the first (placeholder) header
    /// page.
    ///
    /// ```
    /// use std::io::Cursor;
    /// use incremental_core::format::delta::{PageSize, SeekDeltaWriter};
    /// let w = SeekDeltaWriter::new(Cursor::new(Vec::new()), PageSize::MIN).unwrap();
    /// assert_eq!(w.page_size(), PageSize::MIN);
    /// ```
    pub fn new(mut w: W, page_size: PageSize) -> Result<SeekDeltaWriter<W>, DeltaWriteError> {
        let start = w.stream_position().map_err(io_at(0))?;
        let mut s = SeekDeltaWriter {
            w,
            checks: PageChecks {
                ps: page_size,
                previous: None,
            },
            header: Header::new(page_size),
            start,
            cluster: 0,
            stats: DeltaStats::default(),
        };
        s.begin_cluster()?;
        Ok(s)
    }

    /// The physical page size.
    ///
    /// ```
    /// use std::io::Cursor;
    /// use incremental_core::format::delta::{PageSize, SeekDeltaWriter};
    /// let w = SeekDeltaWriter::new(Cursor::new(Vec::new()), PageSize::MAX).unwrap();
    /// assert_eq!(w.page_size().get(), 65536);
    /// ```
    pub fn page_size(&self) -> PageSize {
        self.checks.ps
    }

    /// Writes a zero placeholder for the header page at the current end.
    fn begin_cluster(&mut self) -> Result<(), DeltaWriteError> {
        let p = self.checks.ps.get();
        let zeros = [0u8; 4096];
        let mut left = p;
        while left > 0 {
            let n = left.min(zeros.len());
            self.w
                .write_all(&zeros[..n])
                .map_err(io_at(self.stats.bytes))?;
            left -= n;
        }
        self.cluster = self.stats.bytes;
        self.stats.bytes += p as u64;
        self.stats.clusters += 1;
        Ok(())
    }

    /// Writes the current header page at its place and seeks back to the end.
    fn patch_header(&mut self) -> Result<(), DeltaWriteError> {
        let at = self.cluster;
        self.w
            .seek(SeekFrom::Start(self.start + at))
            .map_err(io_at(at))?;
        self.w.write_all(&self.header.page).map_err(io_at(at))?;
        self.w
            .seek(SeekFrom::Start(self.start + self.stats.bytes))
            .map_err(io_at(self.stats.bytes))?;
        Ok(())
    }

    /// Adds page `page_no`, written at once. Same rules as [`DeltaWriter::push`].
    ///
    /// ```
    /// use std::io::Cursor;
    /// use incremental_core::format::delta::{PageSize, SeekDeltaWriter};
    /// let mut w = SeekDeltaWriter::new(Cursor::new(Vec::new()), PageSize::MIN).unwrap();
    /// w.push(9, &[7u8; 1024]).unwrap();
    /// assert!(w.push(u32::MAX, &[7u8; 1024]).is_err());
    /// ```
    pub fn push(&mut self, page_no: u32, page: &[u8]) -> Result<(), DeltaWriteError> {
        self.checks.check(page_no, page)?;
        if self.header.is_full() {
            self.patch_header()?;
            self.header.reset();
            self.begin_cluster()?;
        }
        self.w.write_all(page).map_err(io_at(self.stats.bytes))?;
        self.header.add(page_no);
        self.stats.bytes += page.len() as u64;
        self.stats.pages += 1;
        Ok(())
    }

    /// Writes the last header page (`XTRA`), leaves the position at the end of the delta,
    /// flushes, and returns the destination and what was written.
    ///
    /// ```
    /// use std::io::Cursor;
    /// use incremental_core::format::delta::{PageSize, SeekDeltaWriter};
    /// let mut out = Cursor::new(b"prefix".to_vec());
    /// out.set_position(6);
    /// let w = SeekDeltaWriter::new(out, PageSize::MIN).unwrap();
    /// let (out, stats) = w.finish().unwrap();
    /// let bytes = out.into_inner();
    /// assert_eq!((bytes.len(), stats.bytes), (6 + 1024, 1024));
    /// assert_eq!(&bytes[..14], b"prefixXTRA\xff\xff\xff\xff");
    /// ```
    pub fn finish(mut self) -> Result<(W, DeltaStats), DeltaWriteError> {
        self.header.seal_last();
        self.patch_header()?;
        self.w.flush().map_err(io_at(self.stats.bytes))?;
        Ok((self.w, self.stats))
    }
}
