//! `xb backup --repo`: a backup taken straight into a repository ([`Repository::backup`]).
//!
//! * `options`: [`RepoBackupOptions`].
//! * `base`: which backup an incremental is based on, and its metadata for the engine.
//! * `resume`: what becomes of an interrupted attempt.
//! * `sink`: the [`Sink`](crate::Sink) the engine writes through (hashing, bundles, parts).
//! * `upload`: the threads that encode and store objects.
//! * `report`: [`RepoBackupReport`].
//!
//! The order of a run: the stanza's lock; the catalog; the base; the engine's plan (which
//! reads the base and, hot, reaches the server); the interrupted attempts (continued or
//! deleted); the attempt record; the engine's run, its files uploaded as they are written;
//! once every object is stored, the objects of a continued attempt that the backup does not
//! use are deleted and the manifest is written, last. A failure or a cancellation at any
//! point writes no manifest: the attempt stays incomplete, for the next run to continue or
//! delete.
//!
//! Memory does not grow with the datadir: at most one encoded part per open file (two), the
//! current bundle, `upload threads + queue` parts being stored, the codec's pieces in flight.
//! With the defaults (8 MiB parts, 4 upload threads, zstd) a 372 MB datadir of
//! incompressible data peaked at 66 MB of RSS against 25 MB for the engine alone into a
//! directory (`tests/repo_backup_memory.rs`).

mod base;
mod encoding;
mod options;
mod report;
mod resume;
mod sink;
#[cfg(test)]
mod tests;
mod upload;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use innodb_page::progress::{Cancel, Event, Progress};

use crate::backup::{same_dir, BackupError, BackupPlan, Incremental, SourceMode};

use super::catalog;
use super::error::RepoError;
use super::keys;
use super::lock;
use super::manifest::{self, Attempt, FileEntry, Kind, Manifest, Server};
use super::Repository;

pub use options::{RepoBackupOptions, DEFAULT_PART_SIZE, DEFAULT_UPLOAD_THREADS};
pub use report::{BaseChoice, RepoBackupReport, Resumed};
pub use sink::{BUNDLE_SIZE, SMALL_FILE};

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn engine_error(e: BackupError) -> RepoError {
    match e {
        BackupError::Cancelled => RepoError::Cancelled,
        e => RepoError::Backup(e),
    }
}

/// A backup into a repository, planned: the stanza locked, the base chosen (and its metadata
/// read), the engine's plan made (cold or hot decided, the server reached). Made by
/// [`Repository::plan_backup`], so that a caller can show the decisions before the copy
/// starts; [`RepoBackupPlan::run`] takes the backup. Dropped unrun, it releases the lock and
/// writes nothing.
pub struct RepoBackupPlan<'r> {
    repo: &'r Repository,
    opts: RepoBackupOptions,
    t0: Instant,
    lock: lock::LockGuard,
    catalog: catalog::Catalog,
    choice: BaseChoice,
    base_dir: Option<base::BaseDir>,
    base_names: bool,
    plan: BackupPlan,
    codec: Arc<encoding::Codec>,
    server: Server,
    kind: Kind,
    parent: Option<String>,
}

impl std::fmt::Debug for RepoBackupPlan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoBackupPlan")
            .field("stanza", &self.repo.stanza())
            .field("base", &self.choice)
            .finish_non_exhaustive()
    }
}

impl Repository {
    /// Plans a backup of the source `opts` describe into the stanza (see
    /// [`Repository::backup`], which is this then [`RepoBackupPlan::run`]).
    pub fn plan_backup(&self, opts: &RepoBackupOptions) -> Result<RepoBackupPlan<'_>, RepoError> {
        let t0 = Instant::now();
        let store = self.store();
        let lock = lock::acquire(self, "backup")?;
        let catalog = self.catalog()?;
        let hostname = lock::hostname();

        // the base
        let (choice, base) = match catalog.newest() {
            _ if opts.force_full() => (BaseChoice::Forced, None),
            None => (BaseChoice::NoBackup, None),
            Some(b) => (
                BaseChoice::Newest { id: b.id.clone() },
                Some(catalog::manifest(self, &b.id)?),
            ),
        };
        if let Some(m) = &base
            && m.server.hostname != hostname
        {
            return Err(different_server(self, m, &hostname, None));
        }
        let codec = Arc::new(
            encoding::Codec::new(opts.codec()).map_err(|e| RepoError::Io {
                action: "start the compression threads",
                path: Default::default(),
                source: e,
            })?,
        );
        let mut bopts = opts.backup().clone();
        let (base_dir, base_names) = match &base {
            Some(m) => {
                let (dir, names) = base::materialize(store, m, opts.codec().keys())?;
                bopts.set_incremental(Some(Incremental::Basedir(dir.path().to_path_buf())));
                (Some(dir), names)
            }
            None => {
                bopts.set_incremental(None);
                (None, true)
            }
        };
        let plan = BackupPlan::new(&bopts).map_err(engine_error)?;
        // recorded canonical: the same datadir named otherwise is the same server
        let datadir = std::fs::canonicalize(plan.datadir())
            .unwrap_or_else(|_| plan.datadir().to_path_buf())
            .to_string_lossy()
            .into_owned();
        if let Some(m) = &base
            && !same_dir(Path::new(&m.server.datadir), plan.datadir())
        {
            return Err(different_server(self, m, &hostname, Some(&datadir)));
        }
        let server = Server {
            hostname,
            datadir,
            version: match plan.mode() {
                SourceMode::Hot { version, .. } => Some(version.to_string()),
                _ => None,
            },
        };
        let kind = if base.is_some() {
            Kind::Incremental
        } else {
            Kind::Full
        };
        let parent = base.as_ref().map(|m| m.id.clone());
        Ok(RepoBackupPlan {
            repo: self,
            opts: opts.clone(),
            t0,
            lock,
            catalog,
            choice,
            base_dir,
            base_names,
            plan,
            codec,
            server,
            kind,
            parent,
        })
    }

    /// Takes a backup of the source `opts` describe into the stanza: a full when asked
    /// ([`RepoBackupOptions::set_force_full`]) or when the stanza holds no complete backup
    /// with a whole chain; else an incremental on the newest such backup, which must have
    /// been taken from this host and datadir ([`RepoError::DifferentServer`] otherwise).
    /// The backup engine's own checks of a base apply (a partial base is refused unless
    /// accepted, a base newer than the datadir is refused).
    ///
    /// Files are uploaded as the engine writes them (see the module docs); the manifest is
    /// written last, once every object is stored. The stanza is locked for the whole run. An
    /// interrupted attempt of the same backup found in the stanza is continued (its stored
    /// parts kept), any other is deleted; [`RepoBackupReport::resumed`] says which and why.
    /// `cancel` stops the run with [`RepoError::Cancelled`], leaving no manifest.
    pub fn backup(
        &self,
        opts: &RepoBackupOptions,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<RepoBackupReport, RepoError> {
        self.plan_backup(opts)?.run(progress, cancel)
    }
}

impl RepoBackupPlan<'_> {
    /// Why the backup is full or incremental, and on which base.
    pub fn base(&self) -> &BaseChoice {
        &self.choice
    }

    /// The backup engine's plan: cold or hot, the source, what will be copied.
    pub fn engine(&self) -> &BackupPlan {
        &self.plan
    }

    /// Takes the planned backup (see [`Repository::backup`]).
    pub fn run(
        self,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<RepoBackupReport, RepoError> {
        let RepoBackupPlan {
            repo,
            opts,
            t0,
            lock,
            catalog,
            choice,
            base_dir,
            base_names,
            plan,
            codec,
            server,
            kind,
            parent,
        } = self;
        let opts = &opts;
        let store = repo.store();
        let stanza = repo.stanza();
        let encoding = codec.record();
        // interrupted attempts, then this one's record
        let decision = resume::decide(
            repo,
            catalog.incomplete(),
            kind,
            parent.as_deref(),
            &encoding,
            &server,
        )?;
        if let Some(r) = &decision.resumed {
            progress.event(Event::Note { message: &r.why });
        }
        let started = unix_now();
        let id = match &decision.continue_id {
            Some(id) => id.clone(),
            None => {
                let taken: HashSet<&str> = catalog
                    .backups()
                    .iter()
                    .map(|b| b.id.as_str())
                    .chain(catalog.incomplete().iter().map(|b| b.id.as_str()))
                    .collect();
                unique_id(started, kind == Kind::Full, &taken)
            }
        };
        let attempt = Attempt {
            format: manifest::FORMAT,
            id: id.clone(),
            stanza: stanza.to_string(),
            kind,
            parent: parent.clone(),
            encoding: encoding.clone(),
            server: server.clone(),
            started,
            xb_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        attempt.write(store)?;

        // the engine, its files uploaded as they come
        let uploader = upload::Uploader::start(
            store,
            stanza,
            &id,
            Arc::clone(&codec),
            decision.existing.clone(),
            opts.upload_threads(),
        )?;
        let mut sink = sink::RepoSink::new(uploader.queue(), opts.part_size());
        let run = plan.run(&mut sink, progress, cancel);
        drop(plan);
        drop(base_dir);
        let files = sink.into_files();
        let (report, (files, bundles)) = match (run, files) {
            (Ok(r), Ok(f)) if !cancel.is_cancelled() => (r, f),
            (run, files) => {
                if cancel.is_cancelled() {
                    // the parts already queued are stored: a next run keeps them
                    let _ = uploader.finish();
                    return Err(RepoError::Cancelled);
                }
                let upload_error = uploader.abort();
                if let Some(e) = upload_error {
                    return Err(e);
                }
                return Err(match (run, files) {
                    (Err(e), _) => engine_error(e),
                    (_, Err(e)) => RepoError::Io {
                        action: "finish the files of the backup",
                        path: Default::default(),
                        source: e,
                    },
                    _ => RepoError::Cancelled,
                });
            }
        };
        let mut results = uploader.finish()?;

        // the manifest
        let missing = |what: String| RepoError::Store {
            location: store.location().to_string(),
            key: keys::backup(stanza, &id),
            action: "assemble the manifest",
            source: what.into(),
        };
        let mut entries = Vec::with_capacity(files.len());
        let mut bundled_files = 0u64;
        for (index, w) in files {
            let mut parts = Vec::with_capacity(w.parts);
            for n in 0..w.parts {
                let p = results
                    .parts
                    .remove(&(index, n))
                    .ok_or_else(|| missing(format!("part {n} of {} was not stored", w.path)))?;
                parts.push(p);
            }
            bundled_files += u64::from(w.bundled.is_some());
            entries.push(FileEntry {
                path: w.path,
                size: w.size,
                sha256: w.sha256,
                parts,
                bundled: w.bundled,
            });
        }
        let mut bundle_objects = Vec::with_capacity(bundles);
        for n in 0..bundles {
            let o = results
                .bundles
                .remove(&n)
                .ok_or_else(|| missing(format!("bundle {n} was not stored")))?;
            bundle_objects.push(o);
        }
        let m = Manifest {
            format: manifest::FORMAT,
            id: id.clone(),
            stanza: stanza.to_string(),
            kind,
            parent: parent.clone(),
            method: report.method.name().to_string(),
            hot: report.mode.is_hot(),
            from_lsn: report.from_lsn.get(),
            to_lsn: report.to_lsn.get(),
            last_lsn: report.last_lsn.get(),
            partial: opts.backup().filter().is_partial(),
            server,
            started,
            finished: unix_now(),
            xb_version: env!("CARGO_PKG_VERSION").to_string(),
            encoding,
            files: entries,
            bundles: bundle_objects,
        };

        // what a continued attempt stored and this backup does not use, then the manifest
        let mut used: HashSet<&str> = m.objects().map(|o| o.key.as_str()).collect();
        let attempt_key = keys::attempt(stanza, &id);
        used.insert(&attempt_key);
        let mut deleted = 0u64;
        for key in decision.existing.keys() {
            if !used.contains(key.as_str()) {
                store.delete(key)?;
                deleted += 1;
            }
        }
        m.write(store)?;
        lock.release()?;

        let resumed = decision.resumed.map(|mut r| {
            r.kept_objects = results.kept;
            r.kept_bytes = results.kept_bytes;
            r.deleted_objects += deleted;
            r
        });
        Ok(RepoBackupReport {
            id,
            parent,
            base: choice,
            base_names,
            resumed,
            files: m.files.len() as u64,
            bundled_files,
            plain_bytes: m.plain_bytes(),
            stored_bytes: m.stored_bytes(),
            objects_uploaded: results.uploaded,
            objects_kept: results.kept,
            upload_seconds: results.store_seconds,
            seconds: t0.elapsed().as_secs_f64(),
            backup: report,
        })
    }
}

/// A new id for a backup started at `unix`, not among `taken` (`-2`, `-3`… when two start
/// in the same second).
fn unique_id(unix: u64, full: bool, taken: &HashSet<&str>) -> String {
    keys::next_id(unix, full, taken.iter().copied())
}

fn different_server(
    repo: &Repository,
    base: &Manifest,
    hostname: &str,
    datadir: Option<&str>,
) -> RepoError {
    RepoError::DifferentServer {
        location: repo.store().location().to_string(),
        stanza: repo.stanza().to_string(),
        base: base.id.clone(),
        base_server: format!("{}:{}", base.server.hostname, base.server.datadir).into(),
        this_server: format!("{hostname}:{}", datadir.unwrap_or("?")).into(),
    }
}
