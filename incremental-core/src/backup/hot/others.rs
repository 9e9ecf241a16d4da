//! Which non-InnoDB file a hot backup copies in which `BACKUP STAGE`, and why the copy is
//! consistent. Commits wait only for what can still change while they are blocked.
//!
//! The files are those [`needed`](crate::backup::needed) names (tables of the other engines
//! and their dictionary files, the Aria log). What `BACKUP STAGE` guarantees (MariaDB's
//! documentation of the statement, and the order the installed `mariabackup` 10.11 follows):
//!
//! * after `FLUSH`, no non-transactional table (MyISAM, Merge, Archive, CSV, non-transactional
//!   Aria) can be opened for writing any more, and those not in use were flushed and closed;
//!   `BLOCK_DDL` then waits for the statements still writing them, and blocks `CREATE`,
//!   `DROP`, `RENAME`, `TRUNCATE` and the end of `ALTER`. From then on these tables, and every
//!   `.frm`, `.par`, `.TRG`, `.TRN`, `.isl` and `db.opt`, stay as they are to the end;
//! * crash-safe Aria tables and the Aria log go on changing until `BLOCK_COMMIT`, which blocks
//!   every commit; the statistics tables (`mysql.table_stats`, `column_stats`,
//!   `index_stats`) and the log tables (`mysql.general_log`, `slow_log`) are written until
//!   `BLOCK_COMMIT` too, which flushes and closes them.
//!
//! So, in [`When`] order:
//!
//! 1. under `BLOCK_DDL` (commits go on): every file except those of step 2, each with its
//!    state (size, inode, modification and change times) taken just before its copy starts;
//!    then once more, after a [`SETTLE`] pause, each file whose state has changed since, or
//!    that was modified less than [`SETTLE`] before its state was taken (a coarse filesystem
//!    clock may not have moved for a write just after it): the tables whose writers
//!    `BLOCK_DDL` waited for are copied again here, without blocking commits;
//! 2. under `BLOCK_COMMIT` (commits blocked): the statistics and log tables and
//!    `aria_log_control`, always; every other file only when it changed since its copy
//!    started (the same test), or was not there before: in practice the Aria tables written
//!    during the backup and the newest Aria log file. Then the binary log position, the end
//!    LSN of the redo log, `BACKUP STAGE END`.
//!
//! A file copied under `BLOCK_COMMIT` is as mariabackup copies it. A file copied before
//! whose state is unchanged at `BLOCK_COMMIT` has the same bytes the source has then: every
//! write moves the modification time, and one too close to the state's own time to move it
//! makes the file count as changed. The restored server's Aria recovery then runs on
//! tables and Aria log as they were together under `BLOCK_COMMIT`.
//!
//! Tables not in use could be copied right after `FLUSH` already (the documentation's ideal),
//! shortening `BLOCK_DDL`; but a table dropped or renamed before `BLOCK_DDL` would then leave
//! its old copy in the backup, and a streamed backup cannot take a file back.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::super::contents::OtherFile;

/// A write less than this long before a file's state was taken may not have moved its
/// modification time: the file counts as changed.
pub(crate) const SETTLE: Duration = Duration::from_secs(1);

/// The stage in which a file is copied first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// `BACKUP STAGE BLOCK_DDL`: commits go on.
    BlockDdl,
    /// `BACKUP STAGE BLOCK_COMMIT`: commits are blocked.
    BlockCommit,
}

/// Statistics and log tables of the `mysql` database: written until `BLOCK_COMMIT`.
const COMMIT_TABLES: &[&str] = &[
    "table_stats",
    "column_stats",
    "index_stats",
    "general_log",
    "slow_log",
];

/// When the file `rel` (relative to the datadir) is copied first (see the module docs).
pub(crate) fn first_copied(rel: &Path) -> When {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let in_mysql = rel.starts_with("mysql") && rel.iter().count() == 2;
    let stem = name.split('.').next().unwrap_or(name);
    let top = rel.iter().count() == 1;
    if (top && name == "aria_log_control") || (in_mysql && COMMIT_TABLES.contains(&stem)) {
        When::BlockCommit
    } else {
        When::BlockDdl
    }
}

/// When the file `rel` (at `src`) is copied for a destination that cannot replace a file (a
/// stream): as [`first_copied`] says, except that the files crash-safe Aria tables go on
/// writing until `BLOCK_COMMIT` are copied only then: the Aria log files, and the `.MAD` and
/// `.MAI` of every Aria table in the page format (the only one that can be crash-safe; see
/// [`aria_page_format`]). Every other file cannot change after `BLOCK_DDL`, so commits do
/// not wait for it.
pub(crate) fn stream_stage(src: &Path, rel: &Path) -> When {
    let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or("");
    let aria_table = ext.eq_ignore_ascii_case("MAD") || ext.eq_ignore_ascii_case("MAI");
    if is_aria_log(rel) || (aria_table && aria_page_format(&src.with_extension("MAI"))) {
        When::BlockCommit
    } else {
        first_copied(rel)
    }
}

/// Whether `rel` is a file of the Aria log: `aria_log.N` or `aria_log_control`, at the top of
/// the datadir. Copied after the Aria tables in a stage, so that their copies hold no change
/// the copied log lacks.
pub(crate) fn is_aria_log(rel: &Path) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    rel.iter().count() == 1 && (name.starts_with("aria_log.") || name == "aria_log_control")
}

/// Whether the Aria index file `mai` says its table is in the page (`BLOCK_RECORD`) format,
/// or cannot be read as an Aria header (then it may be: the caller waits). Its header starts
/// with the magic `FE FE 09`; byte 22 is the data file type (0 fixed, 1 dynamic, 2
/// compressed, 3 page), as seen in files the installed 10.11 server writes.
fn aria_page_format(mai: &Path) -> bool {
    const PAGE: u8 = 3;
    let mut head = [0u8; 24];
    let read = std::fs::File::open(mai).and_then(|mut f| io::Read::read_exact(&mut f, &mut head));
    read.is_err() || head[..3] != [0xFE, 0xFE, 0x09] || head[22] == PAGE
}

/// What a file looked like: any write changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    len: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl State {
    fn of(path: &Path) -> io::Result<State> {
        let m = std::fs::metadata(path)?;
        Ok(State {
            len: m.len(),
            ino: m.ino(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }

    /// Modified less than [`SETTLE`] before `taken`.
    fn unsettled(&self, taken: SystemTime) -> bool {
        let Ok(at) = taken.duration_since(UNIX_EPOCH) else {
            return true;
        };
        let mtime = Duration::new(self.mtime.0.max(0) as u64, self.mtime.1.max(0) as u32);
        mtime + SETTLE > at
    }
}

/// A file's state when its last copy started, and when that state was taken.
#[derive(Debug, Clone, Copy)]
struct Copied {
    state: State,
    taken: SystemTime,
}

/// The non-InnoDB files a hot backup copied so far.
#[derive(Debug, Default)]
pub(crate) struct Others {
    copied: BTreeMap<PathBuf, Copied>,
    /// Copy each file once, under `BLOCK_COMMIT`: the destination cannot replace a file
    /// (a stream).
    once: bool,
}

/// The files to copy now, and how many of them were copied before.
#[derive(Debug, Default)]
pub(crate) struct Due {
    /// The files, each with its size now.
    pub files: Vec<OtherFile>,
    /// How many of them are copies again.
    pub again: u64,
}

impl Others {
    /// Copy every file once, for a destination that cannot replace a file it received (a
    /// stream): a copy could not be taken back when the file changes afterwards. Under
    /// `BLOCK_DDL` only the files that cannot change any more are copied ([`stream_stage`]);
    /// the others wait for `BLOCK_COMMIT`.
    pub(crate) fn set_once(&mut self, once: bool) {
        self.once = once;
    }

    /// Which of `listed` to copy in stage `now` (see the module docs); each one's state is
    /// taken now, before its copy starts. Files gone since the listing are left out.
    pub(crate) fn due(&mut self, listed: Vec<OtherFile>, now: When) -> Result<Due, io::Error> {
        let mut due = Due::default();
        for mut f in listed {
            let first = match self.once {
                true => stream_stage(&f.src, &f.rel),
                false => first_copied(&f.rel),
            };
            if now == When::BlockDdl && first == When::BlockCommit {
                continue;
            }
            let state = match State::of(&f.src) {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let before = self.copied.get(&f.rel);
            if self.once {
                match self.once_due(&f.rel, state, before, now)? {
                    true => {}
                    false => continue,
                }
                self.copied.insert(
                    f.rel.clone(),
                    Copied {
                        state,
                        taken: SystemTime::now(),
                    },
                );
                f.size = state.len;
                due.files.push(f);
                continue;
            }
            let always = now == When::BlockCommit && first == When::BlockCommit;
            if !always && before.is_some_and(|c| c.state == state && !state.unsettled(c.taken)) {
                continue;
            }
            due.again += u64::from(before.is_some());
            let taken = SystemTime::now();
            self.copied.insert(f.rel.clone(), Copied { state, taken });
            f.size = state.len;
            due.files.push(f);
        }
        Ok(due)
    }

    /// With [`set_once`](Self::set_once): whether a file in `state` is copied in stage `now`.
    /// Under `BLOCK_DDL`, a file modified less than [`SETTLE`] ago waits for `BLOCK_COMMIT`
    /// (its modification time may not show its last write yet); under `BLOCK_COMMIT`, a file
    /// copied before must be unchanged: none can change under `BLOCK_DDL`, and the stream
    /// cannot take its copy back if one did.
    fn once_due(
        &self,
        rel: &Path,
        state: State,
        before: Option<&Copied>,
        now: When,
    ) -> Result<bool, io::Error> {
        match (before, now) {
            (None, When::BlockDdl) => Ok(!state.unsettled(SystemTime::now())),
            (None, When::BlockCommit) => Ok(true),
            (Some(c), _) if c.state == state => Ok(false),
            (Some(_), _) => Err(io::Error::other(format!(
                "{}: changed after its copy was streamed under BACKUP STAGE BLOCK_DDL, and a \
                 stream cannot replace a file",
                rel.display()
            ))),
        }
    }

    /// Whether a file copied was modified less than [`SETTLE`] before its copy started.
    pub(crate) fn unsettled(&self) -> bool {
        self.copied.values().any(|c| c.state.unsettled(c.taken))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_by_name() {
        let commit = |p: &str| first_copied(Path::new(p)) == When::BlockCommit;
        assert!(commit("aria_log_control"));
        assert!(commit("mysql/table_stats.MAD"));
        assert!(commit("mysql/general_log.CSV"));
        assert!(!commit("aria_log.00000001"));
        assert!(!commit("mysql/db.MAD"));
        assert!(!commit("shop/table_stats.MYD"));
        assert!(!commit("shop/t.frm"));
    }

    #[test]
    fn a_stream_gets_each_file_once_and_waits_only_for_what_can_change() {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str, age: u64| {
            let p = dir.path().join(name);
            std::fs::write(&p, b"1").unwrap();
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(SystemTime::now() - Duration::from_secs(age))
                .unwrap();
        };
        let names = ["old.MYD", "fresh.MYD", "t.MAD", "t.frm", "f.MAD", "f.MAI"];
        for (n, age) in names.iter().zip([10, 0, 10, 10, 10, 10]) {
            make(n, age);
        }
        // f is an Aria table of fixed-size rows (data file type 0): never crash-safe
        let mut head = [0u8; 24];
        head[..4].copy_from_slice(&[0xFE, 0xFE, 0x09, 0x03]);
        let f = std::fs::File::options()
            .write(true)
            .open(dir.path().join("f.MAI"))
            .unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, &head, 0).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(10))
            .unwrap();
        drop(f);
        let list = |names: &[&str]| -> Vec<OtherFile> {
            let at = |n: &&str| OtherFile::new(dir.path().join(n), n.into(), 0);
            names.iter().map(at).collect()
        };
        let due_names = |d: &Due| d.files.iter().map(|f| f.rel.clone()).collect::<Vec<_>>();
        let mut others = Others::default();
        others.set_once(true);
        let ddl = others.due(list(&names), When::BlockDdl).unwrap();
        let want = ["old.MYD", "t.frm", "f.MAD", "f.MAI"].map(Path::new);
        assert_eq!(due_names(&ddl), want);
        assert!(!others.unsettled());
        let commit = others.due(list(&names), When::BlockCommit).unwrap();
        assert_eq!(
            due_names(&commit),
            [Path::new("fresh.MYD"), Path::new("t.MAD")]
        );
        assert_eq!(commit.again, 0);
        // a streamed file that changed cannot be taken back: the backup fails, naming it
        make("old.MYD", 5);
        let err = others.due(list(&names), When::BlockCommit).unwrap_err();
        assert!(err.to_string().contains("old.MYD"), "{err}");
    }

    #[test]
    fn copies_again_only_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.MYD"), dir.path().join("b.MYD"));
        std::fs::write(&a, b"1").unwrap();
        std::fs::write(&b, b"1").unwrap();
        let list = || {
            [&a, &b]
                .iter()
                .map(|p| OtherFile::new(p.to_path_buf(), p.file_name().unwrap().into(), 0))
                .collect::<Vec<_>>()
        };
        let mut others = Others::default();
        let due = others.due(list(), When::BlockDdl).unwrap();
        assert_eq!((due.files.len(), due.again), (2, 0));
        // both were just written: not settled, copied again
        assert!(others.unsettled());
        // pretend the copies started long after the writes
        for c in others.copied.values_mut() {
            c.taken += SETTLE * 2;
        }
        assert!(!others.unsettled());
        std::fs::write(&b, b"22").unwrap();
        let due = others.due(list(), When::BlockCommit).unwrap();
        assert_eq!(due.files.len(), 1);
        assert_eq!(
            (due.files[0].rel.as_path(), due.files[0].size),
            (Path::new("b.MYD"), 2)
        );
        assert_eq!(due.again, 1);
    }
}
