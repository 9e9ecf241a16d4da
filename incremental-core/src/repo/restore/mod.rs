//! `xb restore --repo`: a backup of a repository restored into a datadir in one command.
//!
//! 1. The chain: the backup asked for (or the newest complete one whose chain is whole) and
//!    its parents down to the full, from the catalog; each manifest.
//! 2. The full backup is downloaded into a staging directory (`DATADIR.xb-restore` beside the
//!    datadir, so on its file system): every file decoded as its objects arrive, by several
//!    threads, each object checked against its stored size and SHA-256 and each file against
//!    its plain size and SHA-256; a mismatch stops the restore, naming the object and the file.
//! 3. The incrementals are merged into it by the prepare engine in one pass, each read in place
//!    from the repository, never downloaded whole (`input`: files read at random offsets by
//!    whole parts, a few decoded parts cached).
//! 4. Optionally the server's crash recovery runs on the result (`apply_redo`).
//! 5. The result is moved (renamed) into the datadir by the copy-back engine, and the staging
//!    directory removed.
//!
//! Disk: the restored datadir, plus the staging directory's metadata files and, while the
//! safety rule reads it, a copy of one incremental's redo log. Memory: the download threads'
//! parts, the part cache, the incrementals' bundles.
//!
//! # Interrupted restores
//!
//! The staging directory holds a state file (`xb-restore.json`: the chain and the phase
//! reached). A failed download removes the staging directory. Running the same restore again
//! (same datadir, same backup) **finishes** an interrupted one: a download that was
//! interrupted (killed) is started over (the staging copy is cleared); an
//! interrupted merge is resumed by the prepare's journal; an interrupted apply-redo step is
//! finished by its own journal; an interrupted move is completed by moving what was moved back
//! into the staging directory and moving everything again. A staging directory of another
//! backup's restore is refused (remove it, or restore that backup). The datadir holds the
//! copy-back marker until the move is complete, so a datadir never looks restored before it is.

mod chain;
pub(crate) mod download;
pub(crate) mod fetch;
mod input;
mod options;
mod report;
mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub use options::RestoreOptions;
pub use report::RestoreReport;

use super::error::RepoError;
use super::manifest::Manifest;
use super::repository::Repository;
use crate::copy_back::{copy_back_with, CopyBackOptions};
use crate::prepare::input::Inputs;
use crate::prepare::{PrepareOptions, PreparePlan};
use crate::progress::{Cancel, Progress};
use crate::source::DirSource;
use fetch::Objects;
use state::{Phase, State};

/// The staging directory's subdirectory holding the full backup being merged.
const FULL: &str = "full";

impl Repository {
    /// Restores a backup of the stanza (`opts.backup()`, else the newest complete one whose
    /// chain is whole) into `opts.datadir()`, which must be absent or empty.
    ///
    /// The chain's full backup is downloaded into a staging directory beside the datadir
    /// (`DATADIR.xb-restore`), every object checked against its stored size and SHA-256 and
    /// every file against its plain size and SHA-256 (a mismatch stops the restore, naming the
    /// backup, the object's key and the file: [`RepoError::Corrupt`]); the incrementals are
    /// merged into it by the prepare engine in one pass, read in place from the repository, never
    /// downloaded whole; optionally the server's crash recovery runs on the result; then the
    /// files are moved into the datadir by the copy-back engine and the staging directory is
    /// removed. Disk: the restored datadir, plus the staging directory's few metadata files and
    /// a temporary copy of an incremental's redo log while the prepare reads it.
    ///
    /// Re-running an interrupted restore with the same options finishes it: an interrupted
    /// download is started over, an interrupted merge or apply-redo step resumed by its journal,
    /// an interrupted move completed. A failed download removes the staging directory; a
    /// staging directory of another backup's restore is refused. The datadir carries the
    /// copy-back marker until the move is complete, so it never looks restored before it is.
    pub fn restore(
        &self,
        opts: &RestoreOptions,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<RestoreReport, RepoError> {
        let started = Instant::now();
        let chain = chain::chain(self, opts.backup())?;
        let ids: Vec<String> = chain.iter().map(|m| m.id.clone()).collect();
        for m in &chain {
            if !Objects::new(self.store(), m, opts.keys())?.can_decode() {
                return Err(RepoError::NeedsKey {
                    location: self.store().location().to_string(),
                    backup: m.id.clone(),
                });
            }
        }
        let datadir = absolute(opts.datadir())?;
        let staging = match opts.staging_dir() {
            Some(d) => absolute(d)?,
            None => default_staging(&datadir)?,
        };
        let mut report = RestoreReport {
            backup: ids.last().cloned().unwrap_or_default(),
            chain: ids.clone(),
            datadir: datadir.clone(),
            staging_dir: staging.clone(),
            ..RestoreReport::default()
        };
        let mut st = match State::read(&staging)? {
            Some(s) if s.chain != ids => {
                return Err(RepoError::Restore {
                    path: staging,
                    why: format!(
                        "holds an interrupted restore of backup {}: restore that backup \
                         again to finish it, or remove the directory",
                        s.chain.last().map_or("?", String::as_str)
                    ),
                })
            }
            Some(s) => {
                report.resumed = true;
                s
            }
            None => {
                state::check_fresh(&staging, &datadir)?;
                download::create_dirs(&staging)?;
                let s = State::new(ids.clone());
                s.write(&staging)?;
                s
            }
        };
        let full = staging.join(FULL);
        if st.phase == Phase::Download {
            state::remove_all(&full)?;
            let objects = Objects::new(self.store(), &chain[0], opts.keys())?;
            let got = download::download(
                &objects,
                &chain[0],
                &full,
                opts.parallel(),
                progress,
                cancel,
            );
            // A download is started over anyway: what a failed one wrote is not kept.
            report.bytes_downloaded += got.inspect_err(|_| {
                let _ = state::remove_all(&staging);
            })?;
            report.files_downloaded = chain[0].files.len() as u64;
            st.advance(&staging, Phase::Merge)?;
        }
        if st.phase == Phase::Merge {
            report.bytes_downloaded +=
                self.merge(&full, &staging, &chain, opts, &mut report, progress, cancel)?;
            st.advance(&staging, Phase::Move)?;
        }
        state::undo_interrupted_move(&datadir, &full)?;
        if !datadir.join(crate::copy_back::MARKER).exists() && state::done_before(&datadir, &full) {
            // An earlier run moved everything and was interrupted before it cleaned up.
            state::remove_all(&staging)?;
            report.seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }
        let mut cb = CopyBackOptions::default();
        cb.set_move_back(true).set_parallel(opts.parallel());
        report.copy_back = copy_back_with(&DirSource::new(&full), &datadir, &cb, progress, cancel)?;
        report.start_command = report.copy_back.start_command();
        state::remove_all(&staging)?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Merges the incrementals of `chain` into `full` (and runs the apply-redo step when
    /// asked); returns the stored bytes read.
    #[allow(clippy::too_many_arguments)]
    fn merge(
        &self,
        full: &Path,
        staging: &Path,
        chain: &[Manifest],
        opts: &RestoreOptions,
        report: &mut RestoreReport,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<u64, RepoError> {
        let mut inputs = Inputs::default();
        let mut roots = Vec::new();
        let cache = Arc::new(input::Cache::default());
        for (no, m) in chain[1..].iter().enumerate() {
            let objects = Arc::new(Objects::new(self.store(), m, opts.keys())?);
            let input = input::RepoInput::open(objects, m, no, cache.clone())?;
            // A root no directory holds (the staging directory has no such entry).
            let root = staging.join(format!("repo-{}", m.id));
            inputs.insert(root.clone(), Arc::new(input));
            roots.push(root);
        }
        let mut po = PrepareOptions::default();
        // Every object is checked against its SHA-256 as it is fetched: the pages need not be
        // read twice (the deltas' headers and page 0 against the .meta are still checked).
        po.set_check_pages(false).set_redo_step(true);
        let plan = PreparePlan::with_inputs(full, &roots, &po, inputs)?;
        report.prepare = plan.execute(progress, cancel)?;
        #[cfg(feature = "hot")]
        if let Some(ar) = opts.apply_redo() {
            let r = crate::prepare::apply_redo::apply_redo(full, ar).map_err(|e| {
                RepoError::ApplyRedo {
                    source: Box::new(e),
                }
            })?;
            report.redo_applied = true;
            report.recovery_notes = r.notes;
        }
        Ok(cache.fetched())
    }
}

/// `p` made absolute (against the current directory).
fn absolute(p: &Path) -> Result<PathBuf, RepoError> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    std::env::current_dir()
        .map(|c| c.join(p))
        .map_err(|source| RepoError::Io {
            action: "cannot resolve",
            path: p.to_path_buf(),
            source,
        })
}

/// `DATADIR.xb-restore`, beside the datadir.
fn default_staging(datadir: &Path) -> Result<PathBuf, RepoError> {
    let name = datadir.file_name().ok_or_else(|| RepoError::Restore {
        path: datadir.to_path_buf(),
        why: "a datadir needs a name".into(),
    })?;
    let mut n = name.to_os_string();
    n.push(".xb-restore");
    Ok(datadir.with_file_name(n))
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
pub(crate) mod tests;
// its chain ends with an apply-redo restore, which needs the `hot` feature
#[cfg(all(test, feature = "hot"))]
mod tests_server;
