//! The options of a prepare.

use std::time::Duration;

/// Options of a prepare: `PrepareOptions::default()`, then setters.
///
/// ```
/// use std::time::Duration;
/// use incremental_core::prepare::PrepareOptions;
/// let o = PrepareOptions::default()
///     .check_pages(false)
///     .throttle(Some(Duration::from_millis(5)));
/// assert!(!o.page_checks());
/// assert_eq!(o.throttle_pause(), Some(Duration::from_millis(5)));
/// assert!(PrepareOptions::default().page_checks());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PrepareOptions {
    check_pages: bool,
    throttle: Option<Duration>,
}

impl Default for PrepareOptions {
    fn default() -> PrepareOptions {
        PrepareOptions {
            check_pages: true,
            throttle: None,
        }
    }
}

impl PrepareOptions {
    /// Read every delta page while planning and check that it carries the page number its
    /// header lists (default `true`). The pages are then in the page cache for the execution.
    /// Page 0 of each delta is checked against its `.meta` either way.
    pub fn check_pages(mut self, on: bool) -> PrepareOptions {
        self.check_pages = on;
        self
    }

    /// Throttle the execution: pause this long after each batch of pages written (a batch is
    /// at most 4 MiB), to leave I/O bandwidth to a production server on the same host. `None`
    /// (the default): no pause.
    pub fn throttle(mut self, pause: Option<Duration>) -> PrepareOptions {
        self.throttle = pause;
        self
    }

    /// Whether delta pages are checked while planning ([`PrepareOptions::check_pages`]).
    pub fn page_checks(&self) -> bool {
        self.check_pages
    }

    /// The pause after each batch of pages written ([`PrepareOptions::throttle`]).
    pub fn throttle_pause(&self) -> Option<Duration> {
        self.throttle
    }
}
