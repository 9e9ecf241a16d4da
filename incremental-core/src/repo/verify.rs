//! `xb verify --repo`: the backups of a stanza checked where they are stored.
//!
//! For each backup checked (one, or every complete backup of the stanza, oldest first), by
//! several threads:
//!
//! * every object its manifest lists (each part of each file, each bundle) is read and checked
//!   against its stored size and SHA-256: no key needed;
//! * when its files can be decoded (not encrypted, or a key that decrypts it given), every file
//!   is decoded and checked against its plain size and SHA-256, and the pages of its
//!   tablespaces (a full's `*.ibd`, `ibdata1`, undo tablespaces) and deltas (`*.delta`, with their
//!   `.meta`) are checked as `xb verify` checks pages (checksums, page numbers, space ids, the
//!   delta format), on the decoded bytes as they stream by.
//!
//! A missing object, a changed byte, a corrupt page is a [`RepoProblem`] naming the backup, the
//! object's key and the file. The result of each backup is recorded next to it
//! (`verified.json`: when, whether it was sound, how many problems), which the
//! [`Catalog`](super::Catalog) shows.

mod pages;

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::catalog::{self, VerifiedState};
use super::error::RepoError;
use super::manifest::{FileEntry, Kind, Manifest};
use super::repository::Repository;
use super::restore::download::{jobs, run_jobs, Job};
use super::restore::fetch::{repo_error, Objects, PartsReader};
use crate::codec::KeyFile;
use crate::format::meta::{self, Meta};
use crate::progress::{Cancel, Event, Progress};
use pages::{Findings, Known};

/// Options of [`Repository::verify`]: `RepoVerifyOptions::default()`, then setters.
///
/// ```
/// use incremental_core::repo::RepoVerifyOptions;
/// let mut o = RepoVerifyOptions::default();
/// o.set_backup(Some("20261206-191017F".into())).set_parallel(8);
/// assert_eq!((o.backup(), o.parallel()), (Some("20261206-191017F"), 8));
/// assert!(o.keys().is_none());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RepoVerifyOptions {
    backup: Option<String>,
    keys: Option<KeyFile>,
    parallel: usize,
}

impl Default for RepoVerifyOptions {
    fn default() -> Self {
        RepoVerifyOptions {
            backup: None,
            keys: None,
            parallel: 4,
        }
    }
}

impl RepoVerifyOptions {
    /// The backup to check, by id (`None`, the default: every complete backup of the stanza).
    pub fn set_backup(&mut self, id: Option<String>) -> &mut Self {
        self.backup = id;
        self
    }

    /// The age identities that decrypt encrypted backups; without them an encrypted backup's
    /// objects are checked, not its files and pages.
    pub fn set_keys(&mut self, keys: Option<KeyFile>) -> &mut Self {
        self.keys = keys;
        self
    }

    /// Objects read at once (threads), at least 1 (default 4).
    pub fn set_parallel(&mut self, threads: usize) -> &mut Self {
        self.parallel = threads.max(1);
        self
    }

    /// The backup asked for ([`RepoVerifyOptions::set_backup`]).
    pub fn backup(&self) -> Option<&str> {
        self.backup.as_deref()
    }

    /// The keys ([`RepoVerifyOptions::set_keys`]).
    pub fn keys(&self) -> Option<&KeyFile> {
        self.keys.as_ref()
    }

    /// Threads ([`RepoVerifyOptions::set_parallel`]).
    pub fn parallel(&self) -> usize {
        self.parallel
    }
}

/// One problem found in a backup of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RepoProblem {
    /// The backup.
    pub backup: String,
    /// The object concerned (a part, a bundle).
    pub key: String,
    /// The file of the backup concerned.
    pub file: String,
    /// The page, for a page problem.
    pub page: Option<u64>,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for RepoProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "backup {}: {} (file {}",
            self.backup, self.key, self.file
        )?;
        if let Some(p) = self.page {
            write!(f, ", page {p}")?;
        }
        write!(f, "): {}", self.what)
    }
}

/// What was checked of one backup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct BackupCheck {
    /// The backup.
    pub id: String,
    /// Objects read and checked.
    pub objects: u64,
    /// Stored bytes read.
    pub bytes: u64,
    /// Whether its files were decoded and checked (false: encrypted, and no key given).
    pub decoded: bool,
    /// Files decoded and checked.
    pub files: u64,
    /// Pages checked.
    pub pages: u64,
    /// Delta pages whose checksums could not be checked: no page 0 in their delta and their
    /// tablespace in no backup checked before (check the whole stanza to cover them).
    pub pages_unchecked: u64,
    /// The problems, in no particular order.
    pub problems: Vec<RepoProblem>,
}

/// What [`Repository::verify`] found. With the `serde` feature it serializes (the JSON of
/// `xb verify --repo --json`).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RepoVerifyReport {
    /// Each backup checked, oldest first.
    pub backups: Vec<BackupCheck>,
    /// Seconds taken.
    pub seconds: f64,
}

impl RepoVerifyReport {
    /// The problems of all backups.
    pub fn problems(&self) -> usize {
        self.backups.iter().map(|b| b.problems.len()).sum()
    }

    /// Whether no problem was found.
    pub fn ok(&self) -> bool {
        self.problems() == 0
    }
}

impl Repository {
    /// Checks one backup of the stanza (`opts.backup()`), or all its complete backups oldest
    /// first, reading in parallel: every object its manifest lists against its stored size and
    /// SHA-256 (no key needed); when the files can be decoded (not encrypted, or a key that
    /// decrypts them given), every file against its plain size and SHA-256, and the pages of its
    /// tablespaces and deltas as `xb verify` checks pages. Each problem names the backup, the
    /// object's key and the file ([`RepoProblem`]). Records each backup's result next to it
    /// (what [`Catalog`](super::Catalog) shows as its verification state). An error is what
    /// stopped the check (the store unreachable, a cancel), not a problem found.
    pub fn verify(
        &self,
        opts: &RepoVerifyOptions,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<RepoVerifyReport, RepoError> {
        let started = Instant::now();
        let cat = self.catalog()?;
        let ids: Vec<String> = match opts.backup() {
            Some(id) => {
                let b = cat.get(id).ok_or_else(|| RepoError::NoSuchBackup {
                    location: self.store().location().to_string(),
                    stanza: self.stanza().to_string(),
                    id: id.to_string(),
                })?;
                vec![b.id.clone()]
            }
            None => cat.backups().iter().map(|b| b.id.clone()).collect(),
        };
        let known = Known::default();
        let mut report = RepoVerifyReport::default();
        for id in ids {
            let m = catalog::manifest(self, &id)?;
            let check = self.verify_backup(&m, opts, &known, progress, cancel)?;
            let at = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            catalog::write_verified(self, &id, &VerifiedState::new(at, check.problems.len()))?;
            report.backups.push(check);
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    fn verify_backup(
        &self,
        m: &Manifest,
        opts: &RepoVerifyOptions,
        known: &Known,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<BackupCheck, RepoError> {
        let objects = Objects::new(self.store(), m, opts.keys())?;
        let run = Run {
            m,
            objects: &objects,
            decode: objects.can_decode(),
            known,
            metas: HashMap::new(),
            problems: Mutex::default(),
            counts: Default::default(),
            progress,
        };
        let metas = if run.decode && m.kind == Kind::Incremental {
            run.metas()?
        } else {
            HashMap::new()
        };
        let run = Run { metas, ..run };
        progress.event(Event::Planned {
            files: m.files.len() as u64,
            bytes: m.stored_bytes(),
        });
        let jobs = jobs(m);
        run_jobs(&jobs, opts.parallel(), cancel, |job| run.job(job))?;
        let c = &run.counts;
        Ok(BackupCheck {
            id: m.id.clone(),
            objects: c[0].load(Ordering::Relaxed),
            bytes: c[1].load(Ordering::Relaxed),
            decoded: run.decode,
            files: c[2].load(Ordering::Relaxed),
            pages: c[3].load(Ordering::Relaxed),
            pages_unchecked: c[4].load(Ordering::Relaxed),
            problems: run.problems.into_inner().unwrap_or_else(|p| p.into_inner()),
        })
    }
}

/// The check of one backup.
struct Run<'a> {
    m: &'a Manifest,
    objects: &'a Objects,
    decode: bool,
    known: &'a Known,
    /// The `.meta` files of an incremental, parsed, by path.
    metas: HashMap<String, Meta>,
    problems: Mutex<Vec<RepoProblem>>,
    /// Objects, stored bytes, files, pages, pages unchecked.
    counts: [AtomicU64; 5],
    progress: &'a dyn Progress,
}

impl Run<'_> {
    fn count(&self, i: usize, n: u64) {
        self.counts[i].fetch_add(n, Ordering::Relaxed);
    }

    fn problem(&self, key: &str, file: &str, page: Option<u64>, what: String) {
        self.problems
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(RepoProblem {
                backup: self.m.id.clone(),
                key: key.to_string(),
                file: file.to_string(),
                page,
                what,
            });
    }

    /// Records `e` when it is a problem of the backup (an object missing or changed, a file
    /// that does not decode); other errors stop the check.
    fn record(&self, e: RepoError) -> Result<(), RepoError> {
        match e {
            RepoError::Corrupt {
                key, file, what, ..
            } => self.problem(&key, &file, None, what.into()),
            RepoError::Codec {
                key, file, source, ..
            } => self.problem(&key, &file, None, source.to_string()),
            other => return Err(other),
        }
        Ok(())
    }

    /// The `.meta` files, read first (each delta's pages are checked with its `.meta`).
    fn metas(&self) -> Result<HashMap<String, Meta>, RepoError> {
        let mut out = HashMap::new();
        for f in self.m.files.iter().filter(|f| f.path.ends_with(".meta")) {
            let bytes = match self.whole(f) {
                Ok(b) => b,
                // Recorded with its job.
                Err(RepoError::Corrupt { .. } | RepoError::Codec { .. }) => continue,
                Err(e) => return Err(e),
            };
            match Meta::parse(&bytes) {
                Ok(meta) => {
                    out.insert(f.path.clone(), meta);
                }
                Err(e) => self.problem(&self.first_key(f), &f.path, None, e.to_string()),
            }
        }
        Ok(out)
    }

    /// The whole plain bytes of a (small) file.
    fn whole(&self, f: &FileEntry) -> Result<Vec<u8>, RepoError> {
        if f.bundled.is_some() {
            let b = self.objects.bundle_object(self.m, f)?;
            return self.objects.bundled_range(f, &b.key);
        }
        let mut out = Vec::new();
        PartsReader::new(self.objects, f)
            .read_to_end(&mut out)
            .map_err(|e| {
                repo_error(e).unwrap_or_else(|e| RepoError::Io {
                    action: "read",
                    path: f.path.clone().into(),
                    source: e,
                })
            })?;
        Ok(out)
    }

    /// The key of the object holding the start of `f`.
    fn first_key(&self, f: &FileEntry) -> String {
        match (&f.bundled, f.parts.first()) {
            (Some(b), _) => self
                .m
                .bundles
                .get(b.bundle)
                .map_or(String::new(), |o| o.key.clone()),
            (None, Some(p)) => p.object.key.clone(),
            (None, None) => String::new(),
        }
    }

    /// The key of the object holding plain offset `at` of `f`.
    fn key_at(&self, f: &FileEntry, at: u64) -> String {
        let mut start = 0;
        for p in &f.parts {
            if at < start + p.size {
                return p.object.key.clone();
            }
            start += p.size;
        }
        self.first_key(f)
    }

    fn job(&self, job: &Job<'_>) -> Result<(), RepoError> {
        match job {
            Job::Bundle(files) => self.bundle(files),
            Job::File(f) => self.file(f),
        }
    }

    /// A bundle and its files.
    fn bundle(&self, files: &[&FileEntry]) -> Result<(), RepoError> {
        let b = match self.objects.bundle_object(self.m, files[0]) {
            Ok(b) => b,
            Err(e) => return self.record(e),
        };
        let names = match files.len() {
            1 => files[0].path.clone(),
            n => format!("{} and {} more bundled", files[0].path, n - 1),
        };
        let bytes = match self.objects.stored(b, &names) {
            Ok(bytes) => bytes,
            Err(e) => return self.record(e),
        };
        self.count(0, 1);
        self.count(1, b.stored);
        if !self.decode {
            return Ok(());
        }
        for f in files {
            self.progress.event(Event::FileStarted {
                path: Path::new(&f.path),
                bytes: f.size,
            });
            match self.objects.bundled(f, &b.key, &bytes) {
                Ok(plain) => {
                    self.count(2, 1);
                    self.pages(f, &mut &plain[..]).map_err(|e| RepoError::Io {
                        action: "read",
                        path: f.path.clone().into(),
                        source: e,
                    })?;
                }
                Err(e) => self.record(e)?,
            }
            self.progress.event(Event::FileDone {
                path: Path::new(&f.path),
            });
        }
        Ok(())
    }

    /// A file stored in parts.
    fn file(&self, f: &FileEntry) -> Result<(), RepoError> {
        self.progress.event(Event::FileStarted {
            path: Path::new(&f.path),
            bytes: f.size,
        });
        let mut from = 0;
        if self.decode {
            let mut r = PartsReader::new(self.objects, f);
            let got = self
                .pages(f, &mut r)
                .and_then(|()| io::copy(&mut r, &mut io::sink()).map(|_| ()));
            let read = r.parts_read();
            self.count(0, read as u64);
            self.count(1, r.fetched());
            match got {
                Ok(()) => {
                    self.count(2, 1);
                    from = f.parts.len();
                }
                Err(e) => {
                    self.record(repo_error(e).unwrap_or_else(|e| RepoError::Io {
                        action: "read",
                        path: f.path.clone().into(),
                        source: e,
                    }))?;
                    // The object that failed is reported: check the others alone.
                    from = read + 1;
                }
            }
        }
        for p in f.parts.iter().skip(from) {
            match self.objects.stored(&p.object, &f.path) {
                Ok(_) => {
                    self.count(0, 1);
                    self.count(1, p.object.stored);
                }
                Err(e) => self.record(e)?,
            }
        }
        self.progress.event(Event::FileDone {
            path: Path::new(&f.path),
        });
        Ok(())
    }

    /// Checks the pages of `f` (when it is a tablespace or a delta) read from `r`.
    fn pages(&self, f: &FileEntry, r: &mut dyn Read) -> io::Result<()> {
        let delta = self.m.kind == Kind::Incremental;
        if !pages::is_checked(&f.path, delta) {
            return Ok(());
        }
        let found: Findings = if delta {
            let meta = meta::path_for_delta(Path::new(&f.path))
                .and_then(|p| p.to_str().map(str::to_string));
            let Some(meta) = meta.and_then(|p| self.metas.get(&p)) else {
                if !self.m.files.iter().any(|x| {
                    meta::path_for_delta(Path::new(&f.path))
                        .is_some_and(|p| Path::new(&x.path) == p)
                }) {
                    self.problem(
                        &self.first_key(f),
                        &f.path,
                        None,
                        "no .meta beside it in the backup (every .delta needs its .meta)".into(),
                    );
                }
                return Ok(());
            };
            let mut unchecked = 0;
            let found = pages::delta(r, meta, self.known, &mut unchecked)?;
            self.count(4, unchecked);
            found
        } else {
            let user = f.path.ends_with(".ibd");
            pages::tablespace(r, user, true, self.known)?
        };
        self.count(3, found.pages);
        let n = found.kept.len();
        for (i, (page, at, what)) in found.kept.into_iter().enumerate() {
            let what = if i + 1 == n && found.more > 0 {
                format!("{what}; {} more problem(s) in this file", found.more)
            } else {
                what
            };
            self.problem(&self.key_at(f, at), &f.path, page, what);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
