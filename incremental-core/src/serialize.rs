//! Helpers for the `serde` feature: how the reports write paths and LSNs (as the `xb` CLI's
//! JSON always has: paths as displayed, LSNs as numbers).

use std::path::Path;

use innodb_page::Lsn;
use serde::Serializer;

/// A path as displayed (lossy for names that are not UTF-8).
pub(crate) fn path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&p.display())
}

/// An optional LSN as a number or null.
pub(crate) fn lsn_opt<S: Serializer>(l: &Option<Lsn>, s: S) -> Result<S::Ok, S::Error> {
    match l {
        Some(l) => s.serialize_some(&l.get()),
        None => s.serialize_none(),
    }
}
