//! The options of a prepare.

use std::time::Duration;

use crate::codec::KeyFile;

/// Options of a prepare: `PrepareOptions::default()`, then setters.
///
/// ```
/// use std::time::Duration;
/// use incremental_core::prepare::PrepareOptions;
/// let mut o = PrepareOptions::default();
/// o.set_check_pages(false).set_throttle(Some(Duration::from_millis(5)));
/// assert!(!o.check_pages());
/// assert_eq!(o.throttle(), Some(Duration::from_millis(5)));
/// assert!(PrepareOptions::default().check_pages());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PrepareOptions {
    check_pages: bool,
    throttle: Option<Duration>,
    redo_step: bool,
    keys: Option<KeyFile>,
    accept_partial: bool,
}

impl Default for PrepareOptions {
    fn default() -> PrepareOptions {
        PrepareOptions {
            check_pages: true,
            throttle: None,
            redo_step: false,
            keys: None,
            accept_partial: false,
        }
    }
}

impl PrepareOptions {
    /// Read every delta page while planning and check that it carries the page number its
    /// header lists (default `true`). The pages are then in the page cache for the execution.
    /// Page 0 of each delta is checked against its `.meta` either way.
    pub fn set_check_pages(&mut self, on: bool) -> &mut Self {
        self.check_pages = on;
        self
    }

    /// Throttle the execution: pause this long after each batch of pages written (a batch is
    /// at most 4 MiB), to leave I/O bandwidth to a production server on the same host. `None`
    /// (the default): no pause.
    pub fn set_throttle(&mut self, pause: Option<Duration>) -> &mut Self {
        self.throttle = pause;
        self
    }

    /// The caller runs the apply-redo step on the result (`xb prepare --apply-redo`; default
    /// `false`). A target that already holds exactly the given chain (merged by an earlier run
    /// whose apply-redo step did not finish) is then a plan with nothing to do instead of
    /// [`super::PrepareError::AlreadyApplied`], and a target whose apply-redo step was
    /// interrupted is accepted with that chain (or none) instead of
    /// [`super::PrepareError::RedoInterrupted`]: the caller finishes the step.
    pub fn set_redo_step(&mut self, on: bool) -> &mut Self {
        self.redo_step = on;
        self
    }

    /// Whether the caller runs the apply-redo step ([`PrepareOptions::set_redo_step`]).
    pub fn redo_step(&self) -> bool {
        self.redo_step
    }

    /// Whether delta pages are checked while planning ([`PrepareOptions::set_check_pages`]).
    pub fn check_pages(&self) -> bool {
        self.check_pages
    }

    /// The pause after each batch of pages written ([`PrepareOptions::set_throttle`]).
    pub fn throttle(&self) -> Option<Duration> {
        self.throttle
    }

    /// The age identities that decrypt the encrypted files (`X.age`) of incrementals given as
    /// streams (default none: an encrypted file is refused, naming it).
    pub fn set_keys(&mut self, keys: Option<KeyFile>) -> &mut Self {
        self.keys = keys;
        self
    }

    /// The keys given with [`PrepareOptions::set_keys`].
    pub fn keys(&self) -> Option<&KeyFile> {
        self.keys.as_ref()
    }

    /// Merge even when the target or an incremental is a partial backup (default `false`:
    /// refused with [`super::PrepareError::Partial`]), as mariabackup does. The merge then
    /// treats a tablespace an incremental lacks as dropped, and a tablespace the target lacks
    /// is created from its delta (refused when the delta has no page 0): the result holds
    /// whole only the tables that every backup of the chain holds, or that were created after
    /// the target was taken.
    pub fn set_accept_partial(&mut self, on: bool) -> &mut Self {
        self.accept_partial = on;
        self
    }

    /// Whether partial backups are merged ([`PrepareOptions::set_accept_partial`]).
    pub fn accept_partial(&self) -> bool {
        self.accept_partial
    }
}
