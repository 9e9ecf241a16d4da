//! The pages of a backup's files checked on their decoded bytes as they stream by, with the
//! page rules of `xb verify` (`innodb_page::verify::check_page`: checksums, page numbers, space
//! ids, the doublewrite area of the system tablespace) and the delta format's own checks
//! (`format::delta::DeltaReader`).

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Mutex;

use innodb_page::fsp::{physical_page_size, TablespaceFormat};
use innodb_page::tablespace::Doublewrite;
use innodb_page::verify::{check_page, checksum_context};
use innodb_page::Page;

use crate::format::delta::{Checks, DeltaReader, PageSize};
use crate::format::meta::Meta;

/// Findings kept per file; more are counted.
const KEEP: usize = 10;

/// A page problem: the page number (none: the file), its offset in the file, what is wrong.
pub(crate) type Finding = (Option<u64>, u64, String);

/// What is known of each tablespace from the backups checked before (formats by space id,
/// the system tablespace's doublewrite area): how the pages of a delta without its own page 0
/// are checked.
#[derive(Default)]
pub(crate) struct Known(Mutex<HashMap<u32, (TablespaceFormat, Option<Doublewrite>)>>);

impl Known {
    fn get(&self, id: u32) -> Option<(TablespaceFormat, Option<Doublewrite>)> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    fn put(&self, f: TablespaceFormat, d: Option<Doublewrite>) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let d = d.or_else(|| m.get(&f.space_id).and_then(|k| k.1.clone()));
        m.insert(f.space_id, (f, d));
    }
}

/// Which files are tablespaces whose pages are checked: `*.ibd`, the first system file and undo
/// tablespaces of a full backup (`delta: false`); `*.delta` of an incremental (`delta: true`),
/// but those of a later system file (file-relative page numbers, as `xb verify` skips).
pub(crate) fn is_checked(path: &str, delta: bool) -> bool {
    let name = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let base = if delta {
        match name.strip_suffix(".delta") {
            Some(b) => b,
            None => return false,
        }
    } else {
        name
    };
    base.ends_with(".ibd")
        || base == "ibdata1"
        || (base.starts_with("undo")
            && base[4..].bytes().all(|b| b.is_ascii_digit())
            && base.len() > 4)
}

/// Fills `buf` from `r`; the bytes read (fewer only at the end).
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Collects findings, keeping the first [`KEEP`].
#[derive(Default)]
pub(crate) struct Findings {
    pub kept: Vec<Finding>,
    pub more: u64,
    pub pages: u64,
}

impl Findings {
    fn add(&mut self, page: Option<u64>, at: u64, what: String) {
        if self.kept.len() < KEEP {
            self.kept.push((page, at, what));
        } else {
            self.more += 1;
        }
    }
}

/// Checks the tablespace file of a full backup read from `r` (its page 0 all zero and
/// `unrecovered`: a file-per-table tablespace created so late in a hot backup that recovery
/// writes it whole, not checked, as `xb verify` does). I/O errors (the objects) are returned.
pub(crate) fn tablespace(
    r: &mut dyn Read,
    user: bool,
    unrecovered: bool,
    known: &Known,
) -> io::Result<Findings> {
    let mut out = Findings::default();
    let mut head = vec![0u8; 1024];
    let n = fill(r, &mut head)?;
    if n < head.len() {
        out.add(None, 0, format!("{n} bytes: too short for a tablespace"));
        return Ok(out);
    }
    if head.iter().all(|&b| b == 0) && user && unrecovered {
        return Ok(out);
    }
    let ps = match physical_page_size(&head) {
        Ok(ps) => ps,
        Err(e) => {
            out.add(
                Some(0),
                0,
                format!("page 0 is not a readable tablespace header: {e}"),
            );
            return Ok(out);
        }
    };
    let mut page = vec![0u8; ps];
    page[..1024].copy_from_slice(&head);
    let n = fill(r, &mut page[1024..])?;
    if n + 1024 < ps {
        out.add(
            None,
            0,
            format!("{} bytes: shorter than one page of {ps}", n + 1024),
        );
        return Ok(out);
    }
    let format = match TablespaceFormat::detect(&page) {
        Ok(f) => f,
        Err(e) => {
            out.add(
                Some(0),
                0,
                format!("page 0 is not a readable tablespace header: {e}"),
            );
            return Ok(out);
        }
    };
    let ctx = checksum_context(&format);
    let mut dblwr: Option<Doublewrite> = None;
    let mut no = 0u64;
    loop {
        if let Ok(p) = Page::new(&page) {
            let c = check_page(&format, &ctx, dblwr.as_ref(), no, p);
            if let Some(problem) = c.problem {
                out.add(Some(no), no * ps as u64, problem.to_string());
            }
        }
        out.pages += 1;
        if no == 5 && format.space_id == 0 {
            dblwr = Doublewrite::from_trx_sys_page(&page, format.flags.extent_pages());
        }
        no += 1;
        let n = fill(r, &mut page)?;
        if n == 0 {
            break;
        }
        if n < ps {
            out.add(
                None,
                no * ps as u64,
                format!("ends with {n} bytes, not a whole page of {ps}"),
            );
            break;
        }
    }
    known.put(format, dblwr);
    Ok(out)
}

/// Checks the delta read from `r`, whose `.meta` is `meta`: its structure, and every page with
/// the format of its own page 0, else the one known for its space id (none known: its pages'
/// checksums cannot be checked, counted in `unchecked`).
pub(crate) fn delta(
    r: &mut dyn Read,
    meta: &Meta,
    known: &Known,
    unchecked: &mut u64,
) -> io::Result<Findings> {
    let mut out = Findings::default();
    let ps: PageSize = meta.physical_page_size();
    let checks = Checks {
        page_numbers_match: false,
        ..Checks::STRICT
    };
    let mut reader = DeltaReader::with_checks(r, ps, checks);
    let mut format: Option<(TablespaceFormat, Option<Doublewrite>)> = None;
    let mut first = true;
    loop {
        let p = match reader.next_page() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // The objects' own errors (a part missing or changed) are not the delta's.
            Err(crate::format::error::DeltaError::Io { source, .. }) => return Err(source),
            Err(e) => {
                out.add(None, 0, e.to_string());
                break;
            }
        };
        if first {
            first = false;
            let own = (p.page_no == 0 && p.data.iter().any(|&b| b != 0))
                .then(|| TablespaceFormat::detect(p.data).ok())
                .flatten();
            format = match own {
                Some(f) => {
                    let d = known.get(f.space_id).and_then(|k| k.1);
                    known.put(f, None);
                    Some((f, d))
                }
                None => meta.space_id.and_then(|id| known.get(id)),
            };
            if let (Some((f, _)), Some(id)) = (&format, meta.space_id)
                && f.physical_page_size() != ps.get()
            {
                out.add(
                    None,
                    0,
                    format!(
                        "its .meta says space {id} with pages of {ps}, page 0 says {}",
                        f.physical_page_size()
                    ),
                );
                return Ok(out);
            }
        }
        let Some((f, d)) = &format else {
            *unchecked += 1;
            continue;
        };
        let expect = TablespaceFormat {
            space_id: meta.space_id.unwrap_or(f.space_id),
            ..*f
        };
        out.pages += 1;
        if let Ok(page) = Page::new(p.data) {
            let c = check_page(
                &expect,
                &checksum_context(&expect),
                d.as_ref(),
                u64::from(p.page_no),
                page,
            );
            if let Some(problem) = c.problem {
                out.add(Some(u64::from(p.page_no)), p.offset, problem.to_string());
            }
        }
    }
    Ok(out)
}
