//! Bitmap file names: `ib_modified_log_<seq>_<startlsn>.xdb` (spec §5.1).

use std::fmt;

use innodb_page::Lsn;

/// The alphabetic stem every bitmap file name starts with.
pub const STEM: &str = "ib_modified_log_";
/// The extension.
pub const EXTENSION: &str = ".xdb";

/// The two numbers in a bitmap file name.
///
/// Parsing accepts exactly `ib_modified_log_` + decimal digits + `_` + decimal digits + `.xdb`,
/// both numbers fitting in a `u64` (leading zeros are accepted, as `sscanf("%lu")` does; signs,
/// spaces and trailing characters are not). Formatting writes the numbers without padding, as
/// the server does.
///
/// ```
/// use innodb_page::Lsn;
/// use lsn_bitmap::FileName;
/// let n = FileName::parse("ib_modified_log_2_1603391.xdb").unwrap();
/// assert_eq!(n, FileName { seq: 2, start_lsn: Lsn::new(1603391) });
/// assert_eq!(n.to_string(), "ib_modified_log_2_1603391.xdb");
/// assert!(FileName::parse("ib_modified_log_2_1603391.xdb.bak").is_none());
/// assert!(FileName::parse("xb_modified_log_2_1.xdb").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileName {
    /// Sequence number (1, 2, …; one more per new file).
    pub seq: u64,
    /// First LSN tracked in the file.
    pub start_lsn: Lsn,
}

impl FileName {
    /// Parses a file name (without directory); `None` if it is not a bitmap file name.
    ///
    /// ```
    /// assert!(lsn_bitmap::FileName::parse("ib_modified_log_1_0.xdb").is_some());
    /// assert!(lsn_bitmap::FileName::parse("ib_modified_log_1_.xdb").is_none());
    /// ```
    pub fn parse(name: &str) -> Option<FileName> {
        let rest = name.strip_prefix(STEM)?.strip_suffix(EXTENSION)?;
        let (seq, lsn) = rest.split_once('_')?;
        Some(FileName {
            seq: parse_decimal(seq)?,
            start_lsn: Lsn::new(parse_decimal(lsn)?),
        })
    }
}

fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STEM}{}_{}{EXTENSION}", self.seq, self.start_lsn.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_near_misses() {
        for bad in [
            "",
            "ib_modified_log_.xdb",
            "ib_modified_log_1.xdb",
            "ib_modified_log_1_2",
            "ib_modified_log_+1_2.xdb",
            "ib_modified_log_ 1_2.xdb",
            "ib_modified_log_1_2_3.xdb",
            "ib_modified_log_1_18446744073709551616.xdb",
            "IB_MODIFIED_LOG_1_2.xdb",
            "ib_modified_log_1_2.XDB",
        ] {
            assert_eq!(FileName::parse(bad), None, "{bad}");
        }
        assert_eq!(
            FileName::parse("ib_modified_log_01_18446744073709551615.xdb"),
            Some(FileName {
                seq: 1,
                start_lsn: Lsn::new(u64::MAX)
            })
        );
    }

    proptest! {
        #[test]
        fn round_trip(seq in any::<u64>(), lsn in any::<u64>()) {
            let n = FileName { seq, start_lsn: Lsn::new(lsn) };
            prop_assert_eq!(FileName::parse(&n.to_string()), Some(n));
        }

        #[test]
        fn arbitrary_names_never_panic(s in ".{0,40}") {
            let _ = FileName::parse(&s);
        }
    }
}
