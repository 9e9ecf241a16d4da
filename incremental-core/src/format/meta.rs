//! The `.meta` file beside each `.delta`: page size, compressed page size, space id, and (for
//! XtraBackup) the tablespace flags.
//!
//! Plain text, one `key = value` line each. mariabackup 10.11 writes exactly
//! `page_size = 16384\nzip_size = 0 \nspace_id = 5\n` (note the space after the zip size);
//! XtraBackup 2.4 and 8.0 write no such space and add `space_flags`.
//!
//! ```
//! use incremental_core::format::{meta::Meta, Dialect};
//! let m = Meta::parse(b"page_size = 8192\nzip_size = 8192 \nspace_id = 6\n").unwrap();
//! assert_eq!(m.physical_page_size().get(), 8192);
//! assert_eq!(m.space_id, Some(6));
//! assert_eq!(m.to_bytes(Dialect::MariaDb), b"page_size = 8192\nzip_size = 8192 \nspace_id = 6\n");
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use crate::format::delta::PageSize;
use crate::format::error::{Error, MetaError};
use crate::format::Dialect;

/// The contents of a `.meta` file.
///
/// Invariants kept by [`Meta::parse`] (and expected by the writer): `zip_size`, when set, is at
/// most 16384 and at most `page_size`.
///
/// ```
/// use incremental_core::format::delta::PageSize;
/// use incremental_core::format::meta::Meta;
/// // MariaDB 10.2-10.4 wrote the logical page size; the zip size is the physical one.
/// let m = Meta::parse(b"page_size = 16384\nzip_size = 8192 \nspace_id = 6\n").unwrap();
/// assert_eq!(m.page_size, PageSize::DEFAULT);
/// assert_eq!(m.physical_page_size().get(), 8192);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Meta {
    /// `page_size`: the physical page size (the logical one in MariaDB 10.2-10.4 backups).
    pub page_size: PageSize,
    /// `zip_size`: the compressed page size, `None` when 0 (not compressed) or absent.
    pub zip_size: Option<PageSize>,
    /// `space_id`: `None` when absent (backups by XtraBackup 2.0.1 or earlier).
    pub space_id: Option<u32>,
    /// `space_flags` (XtraBackup only): the FSP flags of the tablespace.
    pub space_flags: Option<u32>,
}

/// The largest compressed page.
const MAX_ZIP_SIZE: usize = 16384;

const KEYS: [&str; 4] = ["page_size", "zip_size", "space_id", "space_flags"];

impl Meta {
    /// The `.meta` of a tablespace as a backup writes it: `page_size` is the physical page size,
    /// and so is `zip_size` when the tablespace is compressed (else 0).
    /// `space_flags` is written by [`Dialect::Pxb80`] only.
    ///
    /// ```
    /// use incremental_core::format::delta::PageSize;
    /// use incremental_core::format::meta::Meta;
    /// let m = Meta::new(PageSize::MIN, true, 7, 0x23);
    /// assert_eq!(m.zip_size, Some(PageSize::MIN));
    /// assert_eq!(m.space_flags, Some(0x23));
    /// ```
    pub fn new(physical: PageSize, compressed: bool, space_id: u32, space_flags: u32) -> Meta {
        Meta {
            page_size: physical,
            zip_size: compressed.then_some(physical),
            space_id: Some(space_id),
            space_flags: Some(space_flags),
        }
    }

    /// The page size of the delta's pages: `zip_size` when set, else `page_size`. Correct for
    /// the files of every tool version (MariaDB 10.2-10.4 put the logical size in `page_size`).
    ///
    /// ```
    /// use incremental_core::format::meta::Meta;
    /// let m = Meta::parse(b"page_size = 4096\nzip_size = 0\n").unwrap();
    /// assert_eq!(m.physical_page_size().get(), 4096);
    /// ```
    pub fn physical_page_size(&self) -> PageSize {
        self.zip_size.unwrap_or(self.page_size)
    }

    /// Parses a `.meta` file the way the original tools do, and rejects what makes no sense.
    ///
    /// Each line is `key = value` with any whitespace around the `=`; lines without `=` and
    /// unknown keys are ignored; order does not matter. Rejected: a missing `page_size`, a
    /// known key given twice or with a value that is not a decimal u32, a `page_size` that is
    /// not a page size, a `zip_size` that is neither 0 nor a compressed page size no larger
    /// than `page_size`.
    ///
    /// ```
    /// use incremental_core::format::meta::Meta;
    /// use incremental_core::format::error::MetaError;
    /// let m = Meta::parse(b"space_id=9\n  page_size   =  1024\nfoo = bar\n").unwrap();
    /// assert_eq!((m.page_size.get(), m.zip_size, m.space_id), (1024, None, Some(9)));
    /// assert!(matches!(
    ///     Meta::parse(b"page_size = 16384\nspace_id = -1\n"),
    ///     Err(MetaError::BadNumber { line: 2, key: "space_id", .. })
    /// ));
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Meta, MetaError> {
        // (value, line) per key, in KEYS order.
        let mut found: [Option<(u32, usize)>; 4] = [None; 4];
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line_no = i + 1;
            let Some(eq) = line.iter().position(|&b| b == b'=') else {
                continue;
            };
            let key = line[..eq].trim_ascii();
            let value = line[eq + 1..].trim_ascii();
            let Some(k) = KEYS.iter().position(|k| k.as_bytes() == key) else {
                continue;
            };
            if let Some((_, first_line)) = found[k] {
                return Err(MetaError::DuplicateKey {
                    line: line_no,
                    first_line,
                    key: KEYS[k],
                });
            }
            let n = parse_u32(value).ok_or_else(|| MetaError::BadNumber {
                line: line_no,
                key: KEYS[k],
                value: String::from_utf8_lossy(value).into_owned(),
            })?;
            found[k] = Some((n, line_no));
        }
        let (ps, ps_line) = found[0].ok_or(MetaError::MissingPageSize)?;
        let page_size = PageSize::new(ps as usize).map_err(|_| MetaError::BadPageSize {
            line: ps_line,
            value: ps,
        })?;
        let zip_size = match found[1] {
            None | Some((0, _)) => None,
            Some((z, line)) => match PageSize::new(z as usize) {
                Ok(zs) if zs.get() <= MAX_ZIP_SIZE && zs <= page_size => Some(zs),
                _ => return Err(MetaError::BadZipSize { line, value: z }),
            },
        };
        Ok(Meta {
            page_size,
            zip_size,
            space_id: found[2].map(|(v, _)| v),
            space_flags: found[3].map(|(v, _)| v),
        })
    }

    /// The file's bytes in the layout of `dialect`. Keys absent from `self` (`space_id`,
    /// `space_flags`) are left out; [`Dialect::MariaDb`] never writes `space_flags`.
    ///
    /// ```
    /// use incremental_core::format::delta::PageSize;
    /// use incremental_core::format::{meta::Meta, Dialect};
    /// let m = Meta { page_size: PageSize::DEFAULT, zip_size: None, space_id: Some(5), space_flags: None };
    /// assert_eq!(m.to_bytes(Dialect::MariaDb), b"page_size = 16384\nzip_size = 0 \nspace_id = 5\n");
    /// assert_eq!(m.to_bytes(Dialect::Pxb80), b"page_size = 16384\nzip_size = 0\nspace_id = 5\n");
    /// ```
    pub fn to_bytes(&self, dialect: Dialect) -> Vec<u8> {
        let zip = self.zip_size.map_or(0, PageSize::get);
        let mut s = format!("page_size = {}\n", self.page_size);
        if dialect.is_xtrabackup() {
            s.push_str(&format!("zip_size = {zip}\n"));
        } else {
            s.push_str(&format!("zip_size = {zip} \n"));
        }
        if let Some(id) = self.space_id {
            s.push_str(&format!("space_id = {id}\n"));
        }
        if let (true, Some(flags)) = (dialect.is_xtrabackup(), self.space_flags) {
            s.push_str(&format!("space_flags = {flags}\n"));
        }
        s.into_bytes()
    }

    /// Reads and parses the `.meta` file at `path`.
    ///
    /// ```
    /// use incremental_core::format::meta::Meta;
    /// let m = Meta::read_file("../tests/data/mariadb-10.11/backup/inc1/fx/t_zip1.ibd.meta").unwrap();
    /// assert_eq!((m.physical_page_size().get(), m.space_id), (1024, Some(7)));
    /// ```
    pub fn read_file(path: impl AsRef<Path>) -> Result<Meta, Error> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        Meta::parse(&bytes).map_err(|e| Error::meta(path, e))
    }

    /// Writes the `.meta` file at `path` (replacing it) in the layout of `dialect`.
    ///
    /// ```
    /// use incremental_core::format::delta::PageSize;
    /// use incremental_core::format::{meta::Meta, Dialect};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.ibd.meta");
    /// let m = Meta::new(PageSize::DEFAULT, false, 5, 21);
    /// m.write_file(&path, Dialect::MariaDb).unwrap();
    /// assert_eq!(Meta::read_file(&path).unwrap(), Meta { space_flags: None, ..m });
    /// ```
    pub fn write_file(&self, path: impl AsRef<Path>, dialect: Dialect) -> Result<(), Error> {
        let path = path.as_ref();
        fs::write(path, self.to_bytes(dialect)).map_err(|e| Error::io(path, e))
    }
}

/// The `.meta` path of a `.delta` path: the trailing `.delta` replaced by `.meta`. `None` when
/// the file name does not end in `.delta` or is nothing but `.delta` (the originals reject such
/// names).
///
/// ```
/// use std::path::Path;
/// use incremental_core::format::meta::path_for_delta;
/// assert_eq!(path_for_delta(Path::new("db/t1.ibd.delta")).unwrap(), Path::new("db/t1.ibd.meta"));
/// assert_eq!(path_for_delta(Path::new("ibdata1.delta")).unwrap(), Path::new("ibdata1.meta"));
/// assert!(path_for_delta(Path::new("db/.delta")).is_none());
/// assert!(path_for_delta(Path::new("db/t1.ibd")).is_none());
/// ```
pub fn path_for_delta(delta: &Path) -> Option<PathBuf> {
    let name = delta.file_name()?.to_str()?;
    let stem = name.strip_suffix(".delta").filter(|s| !s.is_empty())?;
    Some(delta.with_file_name(format!("{stem}.meta")))
}

/// A decimal u32: digits only, at least one.
fn parse_u32(v: &[u8]) -> Option<u32> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_layouts_round_trip() {
        for text in [
            &b"page_size = 16384\nzip_size = 0 \nspace_id = 5\n"[..],
            b"page_size = 8192\nzip_size = 8192 \nspace_id = 6\n",
            b"page_size = 1024\nzip_size = 1024 \nspace_id = 7\n",
        ] {
            assert_eq!(Meta::parse(text).unwrap().to_bytes(Dialect::MariaDb), text);
        }
        let pxb = b"page_size = 8192\nzip_size = 8192\nspace_id = 13\nspace_flags = 16425\n";
        let m = Meta::parse(pxb).unwrap();
        assert_eq!(m.space_flags, Some(16425));
        assert_eq!(m.to_bytes(Dialect::Pxb80), pxb);
    }

    #[test]
    fn rejects_nonsense_with_line_numbers() {
        assert_eq!(Meta::parse(b""), Err(MetaError::MissingPageSize));
        assert_eq!(
            Meta::parse(b"page_size = 16384\npage_size = 8192\n"),
            Err(MetaError::DuplicateKey {
                line: 2,
                first_line: 1,
                key: "page_size"
            })
        );
        assert_eq!(
            Meta::parse(b"\npage_size = 12288\n"),
            Err(MetaError::BadPageSize {
                line: 2,
                value: 12288
            })
        );
        for (zip, page) in [(32768, 32768), (16384, 8192), (1000, 16384)] {
            let text = format!("page_size = {page}\nzip_size = {zip}\n");
            assert_eq!(
                Meta::parse(text.as_bytes()),
                Err(MetaError::BadZipSize {
                    line: 2,
                    value: zip
                })
            );
        }
        for bad in ["", "+5", "0x10", "4294967296", "1 2"] {
            let text = format!("page_size = 16384\nspace_flags = {bad}\n");
            assert!(
                matches!(
                    Meta::parse(text.as_bytes()),
                    Err(MetaError::BadNumber {
                        line: 2,
                        key: "space_flags",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tolerates_what_the_originals_tolerate() {
        let m =
            Meta::parse(b"# comment\r\nzip_size\t=\t0\r\nnonsense\npage_size = 4096\r\nx = y\n")
                .unwrap();
        assert_eq!(m.physical_page_size().get(), 4096);
        assert_eq!((m.space_id, m.space_flags), (None, None));
    }
}
