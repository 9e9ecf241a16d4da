//! Progress reports and cancellation for long operations (backup, apply).
//!
//! The types live in [`innodb_page::progress`], shared by every crate of xb (the changed-page
//! tracker of `lsn-bitmap` reports through the same [`Progress`] trait); this module re-exports
//! them so that `incremental_core::progress::…` keeps working.
//!
//! ```
//! use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
//! NoProgress.event(Event::Planned { files: 1, bytes: 16384 });
//! assert!(!Cancel::new().is_cancelled());
//! ```

pub use innodb_page::progress::*;
