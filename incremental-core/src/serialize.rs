//! Helpers for the `serde` feature: how the reports write paths and LSNs (as the `xb` CLI's
//! JSON always has: paths as displayed, LSNs as numbers).

use innodb_page::Lsn;
use serde::Serializer;

/// An optional LSN as a number or null.
pub(crate) fn lsn_opt<S: Serializer>(l: &Option<Lsn>, s: S) -> Result<S::Ok, S::Error> {
    match l {
        Some(l) => s.serialize_some(&l.get()),
        None => s.serialize_none(),
    }
}
