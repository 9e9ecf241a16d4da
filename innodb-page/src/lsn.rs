//! Log sequence numbers.

use std::fmt;

/// A log sequence number: a byte position in InnoDB's redo stream.
///
/// Every page carries the LSN of the end of the last mini-transaction that changed it
/// (`FIL_PAGE_LSN`, 8 bytes big-endian at offset 16).
///
/// ```
/// use innodb_page::Lsn;
/// let a = Lsn::new(2500178);
/// assert!(a < Lsn::new(2500194));
/// assert_eq!(a.to_string(), "2500178");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Lsn(pub u64);

impl Lsn {
    /// The LSN of a page that was never written by a logged mini-transaction.
    pub const ZERO: Lsn = Lsn(0);

    /// Wraps a raw value.
    pub const fn new(v: u64) -> Lsn {
        Lsn(v)
    }

    /// The raw value.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u64> for Lsn {
    fn from(v: u64) -> Lsn {
        Lsn(v)
    }
}

impl From<Lsn> for u64 {
    fn from(l: Lsn) -> u64 {
        l.0
    }
}
