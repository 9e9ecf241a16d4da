//! What a prepare plans and what it did. With the `serde` feature both serialize: a
//! [`PrepareReport`] as the one JSON record of `xb prepare --json` (the plan's summary and the
//! execution's counters side by side).

use std::path::PathBuf;

use innodb_page::Lsn;

/// What a plan will do.
///
/// ```no_run
/// use incremental_core::prepare::{PreparePlan, PrepareOptions};
/// let plan = PreparePlan::new("full".as_ref(), &[], &PrepareOptions::default())?;
/// assert_eq!(plan.summary().incrementals, 0);
/// # Ok::<(), incremental_core::prepare::PrepareError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct PlanSummary {
    /// Incrementals in the chain.
    pub incrementals: usize,
    /// `.delta` files read.
    pub deltas: u64,
    /// Data pages in them (before keeping only the newest copy of each page).
    pub delta_pages: u64,
    /// Steps of the plan (0: nothing to do).
    pub steps: usize,
    /// Steps already done by an interrupted run.
    pub steps_done: usize,
    /// Files whose pages are written.
    pub files_merged: usize,
    /// The plan comes from the journal of an interrupted run.
    pub resumed: bool,
    /// `to_lsn` of the result (`None` when resuming or when no incremental is applied).
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serialize::lsn_opt"))]
    pub to_lsn: Option<Lsn>,
    /// The target's `.ibd` files (relative) too short to hold a page 0 (an empty file put
    /// there): no tablespace, left as they are (mariabackup cannot read their first page and
    /// skips them too).
    pub not_tablespaces: Vec<PathBuf>,
}

/// What a prepare did (or, for a dry run, would do): the plan's summary and the execution's
/// counters.
///
/// ```
/// let r = incremental_core::prepare::PrepareReport::default();
/// assert_eq!(r.pages_written, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PrepareReport {
    /// The target directory (canonical).
    pub target: PathBuf,
    /// Nothing was written: the plan was only described ([`PreparePlan::dry_run`](super::PreparePlan::dry_run)).
    pub dry_run: bool,
    /// The plan's summary.
    pub summary: PlanSummary,
    /// With a dry run, one sentence per step ([`PreparePlan::describe`](super::PreparePlan::describe));
    /// else empty.
    pub plan: Vec<String>,
    /// Pages written (each page once).
    pub pages_written: u64,
    /// Bytes of pages written.
    pub bytes_written: u64,
    /// Files whose pages were written.
    pub files_merged: u64,
    /// New tablespaces created.
    pub files_created: u64,
    /// Files removed (dropped tablespaces, stale non-InnoDB files, consumed markers).
    pub files_removed: u64,
    /// Renames done.
    pub files_renamed: u64,
    /// Files copied from the newest incremental.
    pub files_copied: u64,
    /// Files of the newest incremental not copied because the target already held the same
    /// bytes.
    pub files_unchanged: u64,
    /// Tablespace files lengthened (with zeroes) to the size their page 0 records (`FSP_SIZE`
    /// × physical page size): a hot copy may be shorter than the page 0 it copied, and a
    /// merged file shorter than its newest page 0.
    pub files_extended: u64,
    /// Steps run by this execution.
    pub steps_run: usize,
    /// This execution finished an interrupted one.
    pub resumed: bool,
    /// Seconds from the start of the planning to the end of the execution.
    pub seconds: f64,
}

/// The record of `xb prepare --json` (schema in docs/json.md): the summary's fields and the
/// counters at the top level.
#[cfg(feature = "serde")]
impl serde::Serialize for PrepareReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let sum = &self.summary;
        let mut m = s.serialize_struct("PrepareReport", 20)?;
        m.serialize_field("target", &self.target.display().to_string())?;
        m.serialize_field("dry_run", &self.dry_run)?;
        m.serialize_field("resumed", &sum.resumed)?;
        m.serialize_field("incrementals", &sum.incrementals)?;
        m.serialize_field("deltas", &sum.deltas)?;
        m.serialize_field("delta_pages", &sum.delta_pages)?;
        m.serialize_field("steps", &sum.steps)?;
        m.serialize_field("plan", &self.plan)?;
        m.serialize_field("to_lsn", &sum.to_lsn.map(Lsn::get))?;
        m.serialize_field("not_tablespaces", &sum.not_tablespaces)?;
        m.serialize_field("pages_written", &self.pages_written)?;
        m.serialize_field("bytes_written", &self.bytes_written)?;
        m.serialize_field("files_merged", &self.files_merged)?;
        m.serialize_field("files_created", &self.files_created)?;
        m.serialize_field("files_renamed", &self.files_renamed)?;
        m.serialize_field("files_removed", &self.files_removed)?;
        m.serialize_field("files_copied", &self.files_copied)?;
        m.serialize_field("files_unchanged", &self.files_unchanged)?;
        m.serialize_field("files_extended", &self.files_extended)?;
        m.serialize_field("seconds", &self.seconds)?;
        m.end()
    }
}
