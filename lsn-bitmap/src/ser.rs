//! Helpers of the `serde::Serialize` implementations (behind the `serde` feature).

use std::path::Path;

use serde::Serializer;

/// A path as it displays (lossy for names that are not UTF-8).
pub(crate) fn path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&p.display())
}
