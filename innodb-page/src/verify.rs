//! Checking every page of a tablespace: checksum, page number, space id.
//!
//! The rules are the servers' (see [`crate::checksum`]) plus two cross-checks that catch pages
//! written to the wrong place: the page number in the header must be the page's position, and
//! the space id must be the tablespace's. All-zero pages are never-written pages, not corrupt.
//! Pages of the system tablespace's doublewrite area are copies of other tablespaces' pages and
//! are not judged.

use std::path::{Path, PathBuf};

use crate::checksum::{self, ChecksumContext, Verdict};
use crate::datadir;
use crate::flags::{PageCompression, TablespaceFlags};
use crate::fsp::{Encryption, TablespaceFormat};
use crate::page_type::{PageType, Vendor};
use crate::tablespace::{Doublewrite, OpenOptions, ReadMode, Tablespace};
use crate::{Error, Lsn, Page};

/// Chunk size for parallel scans: large sequential reads, bounded memory.
pub const SCAN_CHUNK_BYTES: usize = 4 << 20;

/// The checksum context page 0 implies.
///
/// ```
/// use innodb_page::fsp::TablespaceFormat;
/// let page0 = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"),
///     "/../tests/data/mariadb-10.11/datadir-16k/t_comp.ibd")).unwrap();
/// let fmt = TablespaceFormat::detect(&page0).unwrap();
/// let ctx = innodb_page::verify::checksum_context(&fmt);
/// assert!(ctx.zip && !ctx.full_crc32);
/// ```
pub fn checksum_context(format: &TablespaceFormat) -> ChecksumContext {
    let flags = &format.flags;
    ChecksumContext {
        full_crc32: flags.is_full_crc32(),
        zip: flags.zip_size().is_some(),
        page_compression: matches!(
            flags.page_compression(),
            Some(PageCompression::PerPage | PageCompression::Level(_))
        ),
        encrypted: format.is_encrypted(),
        vendor: format.vendor,
    }
}

/// Why a page is not sound.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The checksum (or the trailer LSN copy) does not match.
    Checksum(Verdict),
    /// The page number in the header is not the page's position.
    PageNumber {
        /// What the header says.
        found: u32,
    },
    /// The space id in the header is not the tablespace's.
    SpaceId {
        /// What the header says.
        found: u32,
        /// The tablespace's id (page 0).
        expected: u32,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Checksum(v) => write!(f, "{v}"),
            Problem::PageNumber { found } => {
                write!(f, "page number field is {found}: the page is misplaced")
            }
            Problem::SpaceId { found, expected } => write!(
                f,
                "space id field is {found}, the tablespace's is {expected}: the page belongs elsewhere"
            ),
        }
    }
}

/// What was found on one page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageCheck {
    /// Position in the tablespace.
    pub page_no: u64,
    /// Page type as the tablespace's vendor and format define it.
    pub page_type: PageType,
    /// Page LSN.
    pub lsn: Lsn,
    /// The checksum verdict (`None` for doublewrite copies, which are not judged).
    pub verdict: Option<Verdict>,
    /// The first problem found, if any.
    pub problem: Option<Problem>,
}

impl PageCheck {
    /// The name of the checksum verdict: the algorithm that matched, or `empty`,
    /// `unverifiable`, `corrupt`, `doublewrite` (a copy in the system tablespace's doublewrite
    /// area, not judged), `misplaced` (a sound checksum but the wrong page number or space id).
    ///
    /// ```
    /// use innodb_page::tablespace::Tablespace;
    /// let ts = Tablespace::open(concat!(env!("CARGO_MANIFEST_DIR"),
    ///     "/../tests/data/mariadb-10.11/datadir-16k/t_small.ibd")).unwrap();
    /// let r = innodb_page::verify::verify_tablespace(&ts, true).unwrap();
    /// assert_eq!(r.page_checks[0].checksum_name(), "full_crc32");
    /// ```
    pub fn checksum_name(&self) -> &'static str {
        match (&self.problem, &self.verdict) {
            (Some(Problem::Checksum(_)), _) => "corrupt",
            (Some(_), _) => "misplaced",
            (None, Some(v)) => v.algorithm().map(|a| a.name()).unwrap_or(v.name()),
            (None, None) => "doublewrite",
        }
    }
}

/// Serializes as `page_no`, `page_type` (its name), `lsn`, `checksum_ok`, `checksum`
/// ([`PageCheck::checksum_name`]) and `reason` (the problem in words, or null).
#[cfg(feature = "serde")]
impl serde::Serialize for PageCheck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("PageCheck", 6)?;
        st.serialize_field("page_no", &self.page_no)?;
        st.serialize_field("page_type", &self.page_type)?;
        st.serialize_field("lsn", &self.lsn)?;
        st.serialize_field("checksum_ok", &self.problem.is_none())?;
        st.serialize_field("checksum", self.checksum_name())?;
        st.serialize_field("reason", &self.problem.as_ref().map(|p| p.to_string()))?;
        st.end()
    }
}

/// Checks one page found at position `page_no` of a tablespace with `format`.
pub fn check_page(
    format: &TablespaceFormat,
    ctx: &ChecksumContext,
    doublewrite: Option<&Doublewrite>,
    page_no: u64,
    page: Page<'_>,
) -> PageCheck {
    let full_crc32 = format.flags.is_full_crc32();
    let page_type = page.page_type_in(format.vendor, full_crc32);
    let lsn = page.lsn();
    if doublewrite.is_some_and(|d| d.contains(page_no)) {
        return PageCheck {
            page_no,
            page_type,
            lsn,
            verdict: None,
            problem: None,
        };
    }
    let verdict = checksum::validate(page, ctx);
    let problem = if !verdict.is_sound() {
        Some(Problem::Checksum(verdict))
    } else if verdict == Verdict::Empty {
        None
    } else if u64::from(page.page_no()) != page_no {
        Some(Problem::PageNumber {
            found: page.page_no(),
        })
    } else {
        // The space id is not readable on full_crc32 pages that are encrypted (key version at 0)
        // or page-compressed (type bit 15).
        let readable =
            !full_crc32 || (page.space_or_checksum() == 0 && page.raw_page_type() & 0x8000 == 0);
        (readable && page.space_id() != format.space_id).then_some(Problem::SpaceId {
            found: page.space_id(),
            expected: format.space_id,
        })
    };
    PageCheck {
        page_no,
        page_type,
        lsn,
        verdict: Some(verdict),
        problem,
    }
}

/// Result of checking a whole tablespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TablespaceReport {
    /// Pages checked.
    pub pages: u64,
    /// Never-written pages (all zero under the servers' rules).
    pub empty_pages: u64,
    /// Highest page LSN.
    pub max_lsn: Lsn,
    /// Unsound pages, in page order.
    pub corrupt: Vec<PageCheck>,
    /// Every page, in order (only when asked for).
    pub page_checks: Vec<PageCheck>,
}

/// Checks every page of `ts` in parallel. With `keep_pages`, every page's [`PageCheck`] is kept
/// in the report (for per-page listings); otherwise only the unsound ones.
///
/// ```
/// use innodb_page::tablespace::Tablespace;
/// let ts = Tablespace::open(concat!(env!("CARGO_MANIFEST_DIR"),
///     "/../tests/data/mariadb-10.11/datadir-16k/t_small.ibd")).unwrap();
/// let r = innodb_page::verify::verify_tablespace(&ts, false).unwrap();
/// assert_eq!(r.pages, 4);
/// assert!(r.corrupt.is_empty());
/// assert_eq!(r.max_lsn.get(), 2500545);
/// ```
pub fn verify_tablespace(ts: &Tablespace, keep_pages: bool) -> Result<TablespaceReport, Error> {
    let format = ts.format();
    let ctx = checksum_context(format);
    let dblwr = ts.doublewrite();
    let parts = ts.par_map_chunks(SCAN_CHUNK_BYTES, |chunk| {
        let mut r = TablespaceReport::default();
        for (page_no, page) in chunk.pages() {
            let c = check_page(format, &ctx, dblwr, page_no, page);
            r.pages += 1;
            if c.verdict == Some(Verdict::Empty) {
                r.empty_pages += 1;
            }
            r.max_lsn = r.max_lsn.max(c.lsn);
            if c.problem.is_some() {
                r.corrupt.push(c.clone());
            }
            if keep_pages {
                r.page_checks.push(c);
            }
        }
        r
    })?;
    Ok(parts
        .into_iter()
        .fold(TablespaceReport::default(), |mut acc, mut r| {
            acc.pages += r.pages;
            acc.empty_pages += r.empty_pages;
            acc.max_lsn = acc.max_lsn.max(r.max_lsn);
            acc.corrupt.append(&mut r.corrupt);
            acc.page_checks.append(&mut r.page_checks);
            acc
        }))
}

/// The facts of a tablespace (page 0 and the files) and the verdict on its pages: what
/// `xb inspect` shows. Made by [`summarize`].
///
/// With the `serde` feature it serializes as an object whose `kind` is `tablespace`; `flags`
/// is the raw word, `vendor` its name, `page_compression` the variant in lower case; `pages` is
/// present only when the page checks were kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "kind", rename = "tablespace")
)]
#[non_exhaustive]
pub struct TablespaceSummary {
    /// The files, in order.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::paths"))]
    pub files: Vec<PathBuf>,
    /// Space id.
    pub space_id: u32,
    /// Decoded flags.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::flags"))]
    pub flags: TablespaceFlags,
    /// [`TablespaceFormat::format_name`].
    pub format: &'static str,
    /// Server family, as far as page 0 tells.
    pub vendor: Vendor,
    /// Logical page size in bytes.
    pub logical_page_size: usize,
    /// Physical page size in bytes.
    pub physical_page_size: usize,
    /// Compressed page size (ROW_FORMAT=COMPRESSED), if any.
    pub zip_size: Option<u32>,
    /// Whole pages in the files.
    pub page_count: u64,
    /// Size in pages in the FSP header.
    pub fsp_size: u32,
    /// The FSP header's free limit.
    pub free_limit: u32,
    /// Highest page LSN.
    pub max_lsn: Lsn,
    /// Encryption information on page 0.
    pub encryption: Option<Encryption>,
    /// MariaDB page compression, as the flags describe it.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::ser::page_compression")
    )]
    pub page_compression: Option<PageCompression>,
    /// Pages checked.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub pages_checked: u64,
    /// Unsound pages.
    pub corrupt_pages: u64,
    /// Every page's check, in order (when asked for).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub pages: Option<Vec<PageCheck>>,
}

/// Checks every page of `ts` ([`verify_tablespace`]) and sums up its facts; with `keep_pages`,
/// every page's [`PageCheck`] is kept in [`TablespaceSummary::pages`].
///
/// ```
/// use innodb_page::tablespace::Tablespace;
/// let ts = Tablespace::open(concat!(env!("CARGO_MANIFEST_DIR"),
///     "/../tests/data/mariadb-10.11/datadir-16k/t_comp.ibd")).unwrap();
/// let s = innodb_page::verify::summarize(&ts, false).unwrap();
/// assert_eq!((s.space_id, s.format, s.physical_page_size), (6, "compressed", 8192));
/// assert_eq!((s.corrupt_pages, s.pages), (0, None));
/// ```
pub fn summarize(ts: &Tablespace, keep_pages: bool) -> Result<TablespaceSummary, Error> {
    let f = ts.format();
    let report = verify_tablespace(ts, keep_pages)?;
    Ok(TablespaceSummary {
        files: ts.files().map(|d| d.path.clone()).collect(),
        space_id: f.space_id,
        flags: f.flags,
        format: f.format_name(),
        vendor: f.vendor,
        logical_page_size: f.logical_page_size(),
        physical_page_size: f.physical_page_size(),
        zip_size: f.flags.zip_size(),
        page_count: ts.page_count(),
        fsp_size: f.header.size,
        free_limit: f.header.free_limit,
        max_lsn: report.max_lsn,
        encryption: f.encryption,
        page_compression: f.flags.page_compression(),
        pages_checked: report.pages,
        corrupt_pages: report.corrupt.len() as u64,
        pages: keep_pages.then_some(report.page_checks),
    })
}

/// A page or file found unsound by [`verify_paths`]; it displays as `FILE: page N: REASON`
/// (or `FILE: REASON`).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let t = dir.path().join("t.ibd");
/// let page0 = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"),
///     "/../tests/data/mariadb-10.11/datadir-16k/t_small.ibd")).unwrap();
/// std::fs::write(&t, &page0[..20000]).unwrap();
/// let r = innodb_page::verify::verify_paths(&[&t]).unwrap();
/// assert_eq!(r.corrupt[0].page_no, None);
/// assert!(r.corrupt[0].to_string().starts_with(&format!("{}: ", t.display())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Finding {
    /// The file.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::path"))]
    pub file: PathBuf,
    /// The page (`None` when the file as a whole is wrong, e.g. its size).
    pub page_no: Option<u64>,
    /// What is wrong, in words.
    pub reason: String,
}

impl Finding {
    /// A finding about page `page_no` of `file` (`None`: the whole file).
    ///
    /// ```
    /// let f = innodb_page::verify::Finding::new("t.ibd".into(), Some(3), "checksum mismatch".into());
    /// assert_eq!(f.to_string(), "t.ibd: page 3: checksum mismatch");
    /// ```
    pub fn new(file: PathBuf, page_no: Option<u64>, reason: String) -> Finding {
        Finding {
            file,
            page_no,
            reason,
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.page_no {
            Some(n) => write!(f, "{}: page {n}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

/// The result of checking tablespace files and datadirs ([`verify_paths`]).
///
/// With the `serde` feature it serializes as `files_checked`, `pages_checked`, `corrupt` (the
/// findings) and `errors` (the errors' messages).
#[derive(Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct PathsReport {
    /// Tablespaces checked or tried.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub tablespaces: u64,
    /// Files of the tablespaces checked.
    pub files_checked: u64,
    /// Pages checked.
    pub pages_checked: u64,
    /// Unsound pages and files, in the order found.
    pub corrupt: Vec<Finding>,
    /// Tablespaces that could not be read.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::displays"))]
    pub errors: Vec<Error>,
}

impl PathsReport {
    /// Whether every page is sound and every file was read.
    ///
    /// ```
    /// assert!(innodb_page::verify::PathsReport::default().is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.errors.is_empty()
    }
}

/// Checks every page of every InnoDB tablespace of `paths`: datadirs (every tablespace in
/// them, [`datadir::scan`]) or tablespace files ([`datadir::tablespace_files`]). A tablespace that
/// cannot be opened is a finding when its bytes are wrong (a bad page 0, a size that does not
/// fit) and an error when it cannot be read; `Err` only when a path cannot be listed.
///
/// ```
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/mariadb-10.11/datadir-16k");
/// let r = innodb_page::verify::verify_paths(&[dir]).unwrap();
/// assert!(r.is_clean());
/// assert_eq!((r.files_checked, r.pages_checked), (3, 16));
/// ```
pub fn verify_paths<P: AsRef<Path>>(paths: &[P]) -> Result<PathsReport, Error> {
    let mut groups: Vec<Vec<PathBuf>> = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let md = std::fs::metadata(p).map_err(|e| Error::io(p, 0, e))?;
        if md.is_dir() {
            groups.extend(datadir::scan(p)?.tablespace_groups());
        } else {
            groups.push(datadir::tablespace_files(p));
        }
    }
    groups.dedup();
    let mut r = PathsReport {
        tablespaces: groups.len() as u64,
        ..PathsReport::default()
    };
    for g in &groups {
        // pread, not a memory map: the files may be a running server's, which truncates
        // them, and a disk error must be an error, not a SIGBUS
        match Tablespace::open_with(g, OpenOptions::default().mode(ReadMode::Pread)) {
            Ok(ts) => {
                let v = verify_tablespace(&ts, false)?;
                r.files_checked += g.len() as u64;
                r.pages_checked += v.pages;
                r.corrupt.extend(v.corrupt.into_iter().map(|c| Finding {
                    file: ts.path_of(c.page_no).to_path_buf(),
                    page_no: Some(c.page_no),
                    reason: c.problem.map(|p| p.to_string()).unwrap_or_default(),
                }));
            }
            Err(Error::Page {
                path,
                offset,
                source,
            }) => r.corrupt.push(Finding {
                page_no: Some(offset / 1024),
                file: path,
                reason: source.to_string(),
            }),
            Err(Error::Layout { path, what }) => r.corrupt.push(Finding {
                file: path,
                page_no: None,
                reason: what,
            }),
            Err(e) => r.errors.push(e),
        }
    }
    Ok(r)
}
