//! Reading whole tablespaces: one `.ibd` file, or the system tablespace made of several files
//! (`ibdata1`, `ibdata2`, …) whose page numbers continue from file to file.
//!
//! Files are memory-mapped when possible, read with `pread` otherwise (or when asked), and can be
//! scanned in parallel chunks with rayon.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ByteOrder};
use rayon::prelude::*;

use crate::fsp::{self, TablespaceFormat};
use crate::page::MIN_PAGE_SIZE;
use crate::{Error, Page};

/// How page bytes are fetched from the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReadMode {
    /// Memory-map each file; fall back to `pread` for a file that cannot be mapped.
    #[default]
    Auto,
    /// Memory-map only (fails if a file cannot be mapped).
    Mmap,
    /// `pread` into buffers only. Safe against files that shrink while they are read.
    Pread,
}

/// Options for [`Tablespace::open_with`]: `Default` (memory-mapped when possible, whole pages
/// only), then the setters.
///
/// ```
/// use innodb_page::tablespace::{OpenOptions, ReadMode};
/// let o = OpenOptions::default().mode(ReadMode::Pread).allow_partial_tail(true);
/// assert_ne!(o, OpenOptions::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct OpenOptions {
    /// How to read.
    pub(crate) mode: ReadMode,
    /// Accept a file whose size is not a multiple of the page size (the incomplete tail is
    /// ignored, as backup tools do). By default such a file is an error.
    pub(crate) allow_partial_tail: bool,
}

impl OpenOptions {
    /// How page bytes are fetched (default: [`ReadMode::Auto`]).
    pub const fn mode(mut self, mode: ReadMode) -> OpenOptions {
        self.mode = mode;
        self
    }

    /// Accept a file whose size is not a multiple of the page size (the incomplete tail is
    /// ignored, as backup tools do). By default such a file is an error.
    pub const fn allow_partial_tail(mut self, allow: bool) -> OpenOptions {
        self.allow_partial_tail = allow;
        self
    }
}

enum Source {
    Mmap(memmap2::Mmap),
    File(File),
}

/// One file of a tablespace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataFileInfo {
    /// The file.
    pub path: PathBuf,
    /// Tablespace page number of the file's first page.
    pub first_page: u64,
    /// Whole pages in the file.
    pub pages: u64,
    /// Bytes after the last whole page (0 unless [`OpenOptions::allow_partial_tail`]).
    pub trailing_bytes: u64,
}

struct DataFile {
    info: DataFileInfo,
    source: Source,
}

/// A run of consecutive pages handed to a scan callback: `data` holds `data.len() / page_size`
/// whole pages, the first of which is page number `first_page` of the tablespace.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// Page number of the first page.
    pub first_page: u64,
    /// The pages' bytes.
    pub data: &'a [u8],
    /// Physical page size.
    pub page_size: usize,
}

impl<'a> Chunk<'a> {
    /// Iterates `(page_no, page)` over the chunk.
    pub fn pages(&self) -> impl Iterator<Item = (u64, Page<'a>)> + 'a {
        let first = self.first_page;
        let data = self.data;
        data.chunks_exact(self.page_size)
            .enumerate()
            .filter_map(move |(i, b)| Page::new(b).ok().map(|p| (first + i as u64, p)))
    }
}

/// The doublewrite buffer of the system tablespace: two extents of page copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doublewrite {
    /// First block (page numbers).
    pub block1: Range<u64>,
    /// Second block (page numbers).
    pub block2: Range<u64>,
}

impl Doublewrite {
    /// Magic at `TRX_SYS_DOUBLEWRITE + 10` when the buffer exists: 536853855 (0x1FFFBD5F), as
    /// the servers write it. (The page-format spec's table gives the decimal value right and the
    /// hex value wrong.)
    pub const MAGIC: u32 = 536_853_855;

    /// True if `page_no` is one of the copies.
    pub fn contains(&self, page_no: u64) -> bool {
        self.block1.contains(&page_no) || self.block2.contains(&page_no)
    }

    /// Reads the doublewrite description from the TRX_SYS page (page 5 of space 0).
    ///
    /// ```
    /// use innodb_page::tablespace::Doublewrite;
    /// let mut trx_sys = vec![0u8; 16384];
    /// let at = 16384 - 200;
    /// trx_sys[at + 10..at + 14].copy_from_slice(&Doublewrite::MAGIC.to_be_bytes());
    /// trx_sys[at + 14..at + 18].copy_from_slice(&64u32.to_be_bytes());
    /// trx_sys[at + 18..at + 22].copy_from_slice(&128u32.to_be_bytes());
    /// let d = Doublewrite::from_trx_sys_page(&trx_sys, 64).unwrap();
    /// assert_eq!(d.block1, 64..128);
    /// assert!(d.contains(191) && !d.contains(192));
    /// ```
    pub fn from_trx_sys_page(page: &[u8], extent_pages: u32) -> Option<Doublewrite> {
        let base = page.len().checked_sub(200)?;
        let f = page.get(base + 10..base + 22)?;
        if BigEndian::read_u32(&f[0..4]) != Self::MAGIC {
            return None;
        }
        let b1 = u64::from(BigEndian::read_u32(&f[4..8]));
        let b2 = u64::from(BigEndian::read_u32(&f[8..12]));
        let n = u64::from(extent_pages);
        Some(Doublewrite {
            block1: b1..b1 + n,
            block2: b2..b2 + n,
        })
    }
}

/// An open tablespace: its format (from page 0 of the first file) and its files.
///
/// ```no_run
/// use innodb_page::tablespace::Tablespace;
/// let ts = Tablespace::open("db/t1.ibd")?;
/// let max = ts.par_map_chunks(1 << 20, |c| c.pages().map(|(_, p)| p.lsn()).max())?
///     .into_iter().flatten().max();
/// println!("space {} has {} pages, max LSN {:?}", ts.format().space_id, ts.page_count(), max);
/// # Ok::<(), innodb_page::Error>(())
/// ```
pub struct Tablespace {
    files: Vec<DataFile>,
    format: TablespaceFormat,
    page_size: usize,
    doublewrite: Option<Doublewrite>,
}

impl std::fmt::Debug for Tablespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tablespace")
            .field(
                "files",
                &self.files.iter().map(|d| &d.info).collect::<Vec<_>>(),
            )
            .field("format", &self.format)
            .finish()
    }
}

fn read_exact_at(file: &File, path: &Path, buf: &mut [u8], offset: u64) -> Result<(), Error> {
    file.read_exact_at(buf, offset)
        .map_err(|e| Error::io(path, offset, e))
}

fn map(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and private to this process. Another process truncating the
    // file while it is mapped would make reads fault; callers that read files a running server
    // may change use `ReadMode::Pread`.
    #[allow(unsafe_code)]
    unsafe {
        memmap2::Mmap::map(file)
    }
}

impl Tablespace {
    /// Opens a single-file tablespace with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Tablespace, Error> {
        Self::open_with(&[path.as_ref()], OpenOptions::default())
    }

    /// Opens a tablespace made of `paths`, in order (the system tablespace: `ibdata1`,
    /// `ibdata2`, …). Page 0 of the first file decides the format; page numbers continue across
    /// files. An FSP size larger than the files hold is normal (the server extends lazily).
    pub fn open_with<P: AsRef<Path>>(paths: &[P], opts: OpenOptions) -> Result<Tablespace, Error> {
        let first = paths.first().ok_or_else(|| Error::Layout {
            path: PathBuf::new(),
            what: "no data files given".into(),
        })?;
        let first = first.as_ref();
        let f = File::open(first).map_err(|e| Error::io(first, 0, e))?;
        let len = f.metadata().map_err(|e| Error::io(first, 0, e))?.len();
        if len < MIN_PAGE_SIZE as u64 {
            return Err(Error::Layout {
                path: first.into(),
                what: format!(
                    "{len} bytes is shorter than the smallest InnoDB page ({MIN_PAGE_SIZE} bytes)"
                ),
            });
        }
        let mut head = vec![0u8; MIN_PAGE_SIZE];
        read_exact_at(&f, first, &mut head, 0)?;
        let page_size = fsp::physical_page_size(&head).map_err(|e| Error::page(first, 0, e))?;
        if len < page_size as u64 {
            return Err(Error::Layout {
                path: first.into(),
                what: format!("{len} bytes is shorter than one page of {page_size} bytes (from the flags on page 0)"),
            });
        }
        head.resize(page_size, 0);
        read_exact_at(&f, first, &mut head, 0)?;
        let format = TablespaceFormat::detect(&head).map_err(|e| Error::page(first, 0, e))?;
        drop(f);

        let mut files = Vec::with_capacity(paths.len());
        let mut next_page = 0u64;
        for p in paths {
            let path = p.as_ref();
            let file = File::open(path).map_err(|e| Error::io(path, 0, e))?;
            let len = file.metadata().map_err(|e| Error::io(path, 0, e))?.len();
            let pages = len / page_size as u64;
            let trailing = len % page_size as u64;
            if pages == 0 {
                return Err(Error::Layout {
                    path: path.into(),
                    what: format!("{len} bytes holds no whole page of {page_size} bytes"),
                });
            }
            if trailing != 0 && !opts.allow_partial_tail {
                return Err(Error::Layout {
                    path: path.into(),
                    what: format!(
                        "size {len} is not a multiple of the page size {page_size} ({trailing} bytes after page {})",
                        next_page + pages - 1
                    ),
                });
            }
            let source = match opts.mode {
                ReadMode::Pread => Source::File(file),
                ReadMode::Mmap => Source::Mmap(map(&file).map_err(|e| Error::io(path, 0, e))?),
                ReadMode::Auto => match map(&file) {
                    Ok(m) => Source::Mmap(m),
                    Err(_) => Source::File(file),
                },
            };
            files.push(DataFile {
                info: DataFileInfo {
                    path: path.into(),
                    first_page: next_page,
                    pages,
                    trailing_bytes: trailing,
                },
                source,
            });
            next_page += pages;
        }
        let mut ts = Tablespace {
            files,
            format,
            page_size,
            doublewrite: None,
        };
        if ts.format.space_id == 0 && ts.page_count() > 5 {
            let mut scratch = Vec::new();
            let trx_sys = ts.read_pages(5, 1, &mut scratch)?;
            ts.doublewrite =
                Doublewrite::from_trx_sys_page(trx_sys, ts.format.flags.extent_pages());
        }
        Ok(ts)
    }

    /// What page 0 says.
    pub fn format(&self) -> &TablespaceFormat {
        &self.format
    }

    /// Physical page size in bytes.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Whole pages in all files.
    pub fn page_count(&self) -> u64 {
        self.files.iter().map(|f| f.info.pages).sum()
    }

    /// The files, in page order.
    pub fn files(&self) -> impl Iterator<Item = &DataFileInfo> {
        self.files.iter().map(|f| &f.info)
    }

    /// The doublewrite area (system tablespace only, when the TRX_SYS page describes one).
    pub fn doublewrite(&self) -> Option<&Doublewrite> {
        self.doublewrite.as_ref()
    }

    fn file_of(&self, page_no: u64) -> Option<&DataFile> {
        let i = self
            .files
            .partition_point(|f| f.info.first_page + f.info.pages <= page_no);
        self.files.get(i)
    }

    /// Returns `count` pages starting at `first`, all within one file: a slice of the mapping, or
    /// of `scratch` after a `pread`. Fails if the range runs past the end of the file holding
    /// `first`.
    pub fn read_pages<'s>(
        &'s self,
        first: u64,
        count: usize,
        scratch: &'s mut Vec<u8>,
    ) -> Result<&'s [u8], Error> {
        let file = self.file_of(first).ok_or_else(|| Error::Layout {
            path: self.files[0].info.path.clone(),
            what: format!(
                "page {first} is past the end of the tablespace ({} pages)",
                self.page_count()
            ),
        })?;
        let info = &file.info;
        let local = first - info.first_page;
        if local + count as u64 > info.pages {
            return Err(Error::Layout {
                path: info.path.clone(),
                what: format!(
                    "pages {first}..{} run past the end of the file (its last page is {})",
                    first + count as u64,
                    info.first_page + info.pages - 1
                ),
            });
        }
        let off = local * self.page_size as u64;
        let len = count * self.page_size;
        match &file.source {
            Source::Mmap(m) => Ok(&m[off as usize..off as usize + len]),
            Source::File(f) => {
                scratch.resize(len, 0);
                read_exact_at(f, &info.path, &mut scratch[..], off)?;
                Ok(&scratch[..])
            }
        }
    }

    /// Reads one page.
    pub fn page<'s>(&'s self, page_no: u64, scratch: &'s mut Vec<u8>) -> Result<Page<'s>, Error> {
        let b = self.read_pages(page_no, 1, scratch)?;
        Page::new(b).map_err(|e| Error::page(self.path_of(page_no), 0, e))
    }

    /// The file holding `page_no` (the first file if out of range).
    pub fn path_of(&self, page_no: u64) -> &Path {
        self.file_of(page_no)
            .map(|f| f.info.path.as_path())
            .unwrap_or(self.files[0].info.path.as_path())
    }

    /// Byte offset of `page_no` within the file holding it.
    pub fn offset_in_file(&self, page_no: u64) -> u64 {
        let base = self
            .file_of(page_no)
            .map(|f| f.info.first_page)
            .unwrap_or(0);
        (page_no - base.min(page_no)) * self.page_size as u64
    }

    /// The chunks (page ranges, never crossing a file) that a scan with `chunk_bytes` visits.
    pub fn chunk_ranges(&self, chunk_bytes: usize) -> Vec<Range<u64>> {
        let per = (chunk_bytes / self.page_size).max(1) as u64;
        let mut out = Vec::new();
        for f in &self.files {
            let mut p = f.info.first_page;
            let end = f.info.first_page + f.info.pages;
            while p < end {
                let e = (p + per).min(end);
                out.push(p..e);
                p = e;
            }
        }
        out
    }

    /// Applies `f` to every chunk of about `chunk_bytes` (whole pages, never crossing a file) in
    /// parallel, and returns the results in page order.
    pub fn par_map_chunks<T, F>(&self, chunk_bytes: usize, f: F) -> Result<Vec<T>, Error>
    where
        T: Send,
        F: Fn(Chunk<'_>) -> T + Sync,
    {
        self.chunk_ranges(chunk_bytes)
            .into_par_iter()
            .map_init(Vec::new, |scratch, r| {
                let data = self.read_pages(r.start, (r.end - r.start) as usize, scratch)?;
                Ok(f(Chunk {
                    first_page: r.start,
                    data,
                    page_size: self.page_size,
                }))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(p: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/mariadb-10.11")
            .join(p)
    }

    #[test]
    fn opens_real_files_in_every_mode() {
        for mode in [ReadMode::Auto, ReadMode::Mmap, ReadMode::Pread] {
            let opts = OpenOptions {
                mode,
                ..Default::default()
            };
            let ts = Tablespace::open_with(&[fixture("datadir-16k/t_comp.ibd")], opts).unwrap();
            assert_eq!(ts.page_size(), 8192);
            assert_eq!(ts.page_count(), 8);
            assert_eq!(ts.format().space_id, 6);
            let lsns: Vec<u64> = ts
                .par_map_chunks(3 * 8192, |c| {
                    c.pages().map(|(_, p)| p.lsn().get()).collect::<Vec<_>>()
                })
                .unwrap()
                .concat();
            assert_eq!(lsns.len(), 8);
            assert_eq!(lsns[0], 54351);
            assert_eq!(*lsns.iter().max().unwrap(), 2500938);
        }
    }

    #[test]
    fn multi_file_numbering() {
        let dir = tempfile::tempdir().unwrap();
        let src = std::fs::read(fixture("datadir-16k/ibdata1.head64k")).unwrap();
        let a = dir.path().join("ibdata1");
        let b = dir.path().join("ibdata2");
        std::fs::write(&a, &src[..3 * 16384]).unwrap();
        std::fs::write(&b, &src[3 * 16384..]).unwrap();
        let ts = Tablespace::open_with(&[&a, &b], OpenOptions::default()).unwrap();
        assert_eq!(ts.page_count(), 4);
        assert_eq!(ts.path_of(3), b.as_path());
        assert_eq!(ts.offset_in_file(3), 0);
        let mut s = Vec::new();
        assert_eq!(ts.page(3, &mut s).unwrap().page_no(), 3);
        assert!(ts.read_pages(2, 2, &mut s).is_err()); // crosses files
        assert_eq!(ts.chunk_ranges(1 << 20), vec![0..3, 3..4]);
    }

    #[test]
    fn bad_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ibd");
        std::fs::write(&p, b"short").unwrap();
        assert!(matches!(Tablespace::open(&p), Err(Error::Layout { .. })));
        let mut src = std::fs::read(fixture("datadir-16k/t_small.ibd")).unwrap();
        src.extend_from_slice(&[0u8; 100]);
        std::fs::write(&p, &src).unwrap();
        let e = Tablespace::open(&p).unwrap_err();
        assert!(
            e.to_string().contains("not a multiple of the page size"),
            "{e}"
        );
        let ts = Tablespace::open_with(
            &[&p],
            OpenOptions {
                allow_partial_tail: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(ts.files().next().unwrap().trailing_bytes, 100);
        std::fs::write(&p, vec![0xFFu8; 16384]).unwrap();
        assert!(matches!(Tablespace::open(&p), Err(Error::Page { .. })));
        assert!(matches!(
            Tablespace::open(dir.path().join("missing.ibd")),
            Err(Error::Io { .. })
        ));
    }
}
