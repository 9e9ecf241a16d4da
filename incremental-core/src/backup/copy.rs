//! Copying files through the read pipeline (`scan`): data files whole or as deltas, and
//! non-InnoDB files, with the figures of each tablespace.

use super::contents::{OtherFile, PlanNote, TablespacePlan};
use super::kind::BackupKind;
use super::options::BackupOptions;
use super::report::TablespaceReport;
use super::scan::{self, Mode, OtherTotals, Unit};
use super::sink::Sink;
use super::BackupError;
use crate::encryption::KeyRing;
use crate::progress::{Cancel, Event, Progress};

/// How the data files of a `kind` backup are written: whole, or as deltas.
pub(crate) fn mode_of(kind: &BackupKind) -> Mode {
    match kind {
        BackupKind::Full => Mode::Copy,
        BackupKind::Incremental { threshold, .. } => Mode::Delta {
            threshold: threshold.get(),
        },
    }
}

/// Sends `notes` as progress events.
pub(crate) fn announce<'a>(progress: &dyn Progress, notes: impl IntoIterator<Item = &'a PlanNote>) {
    for n in notes {
        progress.event(Event::Note {
            message: &n.to_string(),
        });
    }
}

/// Sends the amount of work of one batch: a cold run copies everything in one batch; a hot
/// one copies the non-InnoDB files and the tablespaces created during the copy in later
/// batches, each planned as it starts (so the bytes read never exceed the bytes planned).
fn plan_batch(progress: &dyn Progress, tablespaces: &[TablespacePlan], others: &[OtherFile]) {
    let data_files: usize = tablespaces.iter().map(|t| t.files.len()).sum();
    let pages: u64 = tablespaces
        .iter()
        .map(|t| t.pages_to_read() * t.page_size as u64)
        .sum();
    progress.event(Event::Planned {
        files: (data_files + others.len()) as u64,
        bytes: pages + others.iter().map(|f| f.size).sum::<u64>(),
    });
}

/// Cuts `tablespaces` and `others` into read units of at most `chunk` bytes.
fn units(tablespaces: &[TablespacePlan], others: &[OtherFile], chunk: usize) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    for (ti, t) in tablespaces.iter().enumerate() {
        let per = (chunk / t.page_size).max(1) as u64;
        for (fi, f) in t.files.iter().enumerate() {
            let ranges = match &t.ranges {
                Some(r) => r.get(fi).cloned().unwrap_or_default(),
                None => std::iter::once(0..f.pages).collect(),
            };
            scan::units_for_file(ti, fi, &ranges, per, &mut units);
        }
    }
    for (oi, f) in others.iter().enumerate() {
        scan::units_for_other(oi, f.size, chunk as u64, &mut units);
    }
    units
}

/// One batch of files to copy through the pipeline.
pub(crate) struct Batch<'a> {
    /// Tablespaces.
    pub tablespaces: &'a [TablespacePlan],
    /// Non-InnoDB files.
    pub others: &'a [OtherFile],
    /// Whole or as deltas.
    pub mode: Mode,
    /// The source is live (pages being written are read again; a file cut short while it is
    /// read ends in zero pages, as the redo log rebuilds it).
    pub hot: bool,
    /// Reads keep to the options' read limit: true but for what a hot backup copies while
    /// the server's DDL or commits are blocked.
    pub throttled: bool,
    /// Extended validation: the keys that decrypt encrypted pages for their own checksum.
    pub page_keys: Option<&'a KeyRing>,
}

/// Where a batch goes and how it reports.
pub(crate) struct Target<'a> {
    /// The backup's files.
    pub sink: &'a mut dyn Sink,
    /// Progress events.
    pub progress: &'a dyn Progress,
    /// Stops the copy at the next unit.
    pub cancel: &'a Cancel,
}

/// Copies a batch through one read pipeline.
pub(crate) fn copy_files(
    options: &BackupOptions,
    batch: Batch<'_>,
    to: Target<'_>,
) -> Result<(Vec<TablespaceReport>, OtherTotals), BackupError> {
    plan_batch(to.progress, batch.tablespaces, batch.others);
    let units = units(
        batch.tablespaces,
        batch.others,
        options.chunk_bytes().max(1),
    );
    let mut reports: Vec<TablespaceReport> = batch
        .tablespaces
        .iter()
        .map(|t| {
            TablespaceReport::empty(t.files[0].rel.clone(), t.space_id, t.method, t.why.clone())
        })
        .collect();
    let settings = scan::Settings {
        mode: batch.mode,
        threads: options.reader_threads(),
        log_corruption: options.log_innodb_page_corruption(),
        hot: batch.hot,
        read_limit: options.read_limit().filter(|_| batch.throttled),
    };
    let pipeline = scan::Pipeline {
        tablespaces: batch.tablespaces,
        others: batch.others,
        units: &units,
        settings,
        page_keys: batch.page_keys,
    };
    let totals = scan::run(pipeline, to.sink, to.progress, to.cancel, &mut reports)?;
    for (r, t) in reports.iter_mut().zip(batch.tablespaces) {
        r.pages_skipped = t.pages().saturating_sub(r.pages_copied);
    }
    Ok((reports, totals))
}
