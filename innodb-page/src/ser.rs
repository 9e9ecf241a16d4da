//! The `#[serde(serialize_with = "crate::ser::...")]` helpers the reports use for paths, errors,
//! flags and page compression (behind the `serde` feature). A leaf module: it names nothing but
//! `crate::flags`, so any module may use it. The `Serialize` impls of the types whose JSON form
//! is their name are in `crate::serde_impls`.

use std::path::{Path, PathBuf};

use serde::Serializer;

use crate::flags::{PageCompression, TablespaceFlags};

/// A path as it displays (lossy for names that are not UTF-8).
pub(crate) fn path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&p.display())
}

/// Paths as they display.
pub(crate) fn paths<S: Serializer>(ps: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ps.iter().map(|p| p.display().to_string()))
}

/// Things that display (errors), as strings.
pub(crate) fn displays<T: std::fmt::Display, S: Serializer>(
    vs: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(vs.iter().map(|v| v.to_string()))
}

/// Flags as their raw word.
pub(crate) fn flags<S: Serializer>(f: &TablespaceFlags, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u32(f.raw())
}

/// Page compression in lower case (`perpage`, `level(3)`, `fullcrc32(lz4)`).
pub(crate) fn page_compression<S: Serializer>(
    c: &Option<PageCompression>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_some(&format!("{c:?}").to_lowercase()),
        None => s.serialize_none(),
    }
}
