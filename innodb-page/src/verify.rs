//! Checking every page of a tablespace: checksum, page number, space id.
//!
//! The rules are the servers' (see [`crate::checksum`]) plus two cross-checks that catch pages
//! written to the wrong place: the page number in the header must be the page's position, and
//! the space id must be the tablespace's. All-zero pages are never-written pages, not corrupt.
//! Pages of the system tablespace's doublewrite area are copies of other tablespaces' pages and
//! are not judged.

use crate::checksum::{self, ChecksumContext, Verdict};
use crate::flags::PageCompression;
use crate::fsp::TablespaceFormat;
use crate::page_type::PageType;
use crate::tablespace::{Doublewrite, Tablespace};
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
