//! The journal: the whole plan, written (and fsynced) before the first change, plus one `done`
//! line appended after each finished step.
//!
//! ```text
//! xb-prepare-journal 1
//! args <base> <inc>...
//! step mkdir <rel>
//! step delete <rel>
//! step rename <rel-from> <rel-to>
//! step copy <absolute source> <rel-to>
//! step merge <rel-target> <page size> <create 0/1> <extend 0/1> <check 0/1> <delta>...
//! step write <rel> <bytes>
//! step extend <rel> <length in bytes>
//! step rmdir <rel>
//! end <number of steps>
//! done <step index>
//! ```
//!
//! Fields are separated by a tab and escaped (`%XX` for every byte that is not printable ASCII,
//! and for `%`). A journal without its `end` line was interrupted while being written: nothing
//! had been changed yet, so it is discarded. A last line without its newline is ignored.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::PrepareError;
use super::names::{escape, escape_path, unescape, unescape_path};

/// File name of the journal inside the target.
pub const JOURNAL: &str = "xb_prepare.journal";
const MAGIC: &str = "xb-prepare-journal 1";

/// One idempotent step of an apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Create a directory (and its parents) if missing.
    Mkdir(PathBuf),
    /// Remove a file if it exists.
    Delete(PathBuf),
    /// Rename a file if the source exists (done already otherwise).
    Rename { from: PathBuf, to: PathBuf },
    /// Copy a file from outside the target (a temporary name, then a rename).
    Copy { src: PathBuf, to: PathBuf },
    /// Write the pages of a list of deltas (oldest first, the newest page wins) into a file.
    Merge(Merge),
    /// Write a small file with the given content (a temporary name, then a rename).
    Write { to: PathBuf, bytes: Vec<u8> },
    /// Remove a directory if it exists and is empty.
    Rmdir(PathBuf),
    /// Lengthen a tablespace file with zeroes to `len` bytes (its page 0's `FSP_SIZE` ×
    /// physical page size) if it is shorter; a longer file is left as it is.
    Extend { target: PathBuf, len: u64 },
}

/// A merge step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Merge {
    /// The file in the target.
    pub target: PathBuf,
    /// Physical page size.
    pub page_size: u32,
    /// The file is a new tablespace (create it, MariaDB's initial size).
    pub create: bool,
    /// Extend the file to `FSP_SIZE` of the newest page 0.
    pub extend: bool,
    /// Check each page's number against its header slot.
    pub check: bool,
    /// The deltas, oldest first.
    pub layers: Vec<PathBuf>,
}

impl Step {
    fn encode(&self) -> String {
        let p = |p: &Path| escape_path(p);
        match self {
            Step::Mkdir(r) => format!("step\tmkdir\t{}", p(r)),
            Step::Delete(r) => format!("step\tdelete\t{}", p(r)),
            Step::Rename { from, to } => format!("step\trename\t{}\t{}", p(from), p(to)),
            Step::Copy { src, to } => format!("step\tcopy\t{}\t{}", p(src), p(to)),
            Step::Merge(m) => {
                let mut s = format!(
                    "step\tmerge\t{}\t{}\t{}\t{}\t{}",
                    p(&m.target),
                    m.page_size,
                    u8::from(m.create),
                    u8::from(m.extend),
                    u8::from(m.check)
                );
                for l in &m.layers {
                    s.push('\t');
                    s.push_str(&p(l));
                }
                s
            }
            Step::Write { to, bytes } => format!("step\twrite\t{}\t{}", p(to), escape(bytes)),
            Step::Rmdir(r) => format!("step\trmdir\t{}", p(r)),
            Step::Extend { target, len } => format!("step\textend\t{}\t{len}", p(target)),
        }
    }

    fn decode(fields: &[&str]) -> Option<Step> {
        let path = |i: usize| fields.get(i).and_then(|s| unescape_path(s));
        let flag = |i: usize| match fields.get(i) {
            Some(&"0") => Some(false),
            Some(&"1") => Some(true),
            _ => None,
        };
        let n = fields.len();
        Some(match *fields.first()? {
            "mkdir" if n == 2 => Step::Mkdir(path(1)?),
            "delete" if n == 2 => Step::Delete(path(1)?),
            "rmdir" if n == 2 => Step::Rmdir(path(1)?),
            "rename" if n == 3 => Step::Rename {
                from: path(1)?,
                to: path(2)?,
            },
            "copy" if n == 3 => Step::Copy {
                src: path(1)?,
                to: path(2)?,
            },
            "extend" if n == 3 => Step::Extend {
                target: path(1)?,
                len: fields[2].parse().ok()?,
            },
            "write" if n == 3 => Step::Write {
                to: path(1)?,
                bytes: unescape(fields[2])?,
            },
            "merge" if n >= 6 => Step::Merge(Merge {
                target: path(1)?,
                page_size: fields[2].parse().ok()?,
                create: flag(3)?,
                extend: flag(4)?,
                check: flag(5)?,
                layers: (6..n).map(path).collect::<Option<Vec<_>>>()?,
            }),
            _ => return None,
        })
    }
}

/// A journal read back from the target.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The arguments the prepare was started with (base, then incrementals).
    pub args: Vec<PathBuf>,
    /// The plan.
    pub steps: Vec<Step>,
    /// Steps known to be finished (a prefix: the count).
    pub done: usize,
}

/// Writes the journal (via a temporary file, fsynced, renamed, directory fsynced).
pub(crate) fn create(base: &Path, args: &[PathBuf], steps: &[Step]) -> Result<File, PrepareError> {
    let mut text = String::new();
    text.push_str(MAGIC);
    text.push('\n');
    text.push_str("args");
    for a in args {
        text.push('\t');
        text.push_str(&escape_path(a));
    }
    text.push('\n');
    for s in steps {
        text.push_str(&s.encode());
        text.push('\n');
    }
    text.push_str(&format!("end\t{}\n", steps.len()));
    let tmp = base.join(format!("{JOURNAL}.tmp"));
    let path = base.join(JOURNAL);
    {
        let mut f = File::create(&tmp).map_err(|e| PrepareError::io(&tmp, e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| PrepareError::io(&tmp, e))?;
    }
    fs::rename(&tmp, &path).map_err(|e| PrepareError::io(&path, e))?;
    sync_dir(base)?;
    open_append(&path)
}

/// Opens the journal for appending `done` lines.
pub(crate) fn open_append(path: &Path) -> Result<File, PrepareError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| PrepareError::io(path, e))
}

/// Records that step `i` is finished (fdatasync'd).
#[cfg(test)]
pub(crate) fn mark_done(f: &mut File, path: &Path, i: usize) -> Result<(), PrepareError> {
    mark_done_range(f, path, i..i + 1)
}

/// Records that the steps of `range` are finished, in one write and one fdatasync. Their
/// effects must be durable already.
pub(crate) fn mark_done_range(
    f: &mut File,
    path: &Path,
    range: std::ops::Range<usize>,
) -> Result<(), PrepareError> {
    let mut text = String::new();
    for i in range {
        text.push_str(&format!("done\t{i}\n"));
    }
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(|e| PrepareError::io(path, e))
}

/// Reads the journal of `base`: `None` when there is none (or only an unfinished one, which is
/// removed: it was being written before any change).
pub(crate) fn load(base: &Path) -> Result<Option<Loaded>, PrepareError> {
    let path = base.join(JOURNAL);
    let _ = fs::remove_file(base.join(format!("{JOURNAL}.tmp")));
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(PrepareError::io(&path, e)),
    };
    let bad = |line: usize, why: &str| PrepareError::Journal {
        path: path.clone(),
        line,
        why: why.to_string(),
    };
    let text = String::from_utf8(bytes).map_err(|_| bad(0, "not UTF-8"))?;
    // Only whole lines count.
    let whole = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut args = None;
    let mut steps = Vec::new();
    let mut ended = false;
    let mut done = 0usize;
    for (i, line) in whole.lines().enumerate() {
        let n = i + 1;
        if n == 1 {
            if line != MAGIC {
                return Err(bad(n, "not an xb prepare journal"));
            }
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        match fields[0] {
            "args" if args.is_none() => {
                let a = fields[1..]
                    .iter()
                    .map(|s| unescape_path(s))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(n, "bad argument"))?;
                args = Some(a);
            }
            "step" if !ended => {
                steps.push(Step::decode(&fields[1..]).ok_or_else(|| bad(n, "bad step"))?)
            }
            "end" if !ended => {
                let count: usize = fields
                    .get(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad(n, "bad end line"))?;
                if count != steps.len() {
                    return Err(bad(n, "step count differs from the end line"));
                }
                ended = true;
            }
            "done" if ended => {
                let k: usize = fields
                    .get(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad(n, "bad done line"))?;
                if k != done || k >= steps.len() {
                    return Err(bad(n, "done lines out of order"));
                }
                done += 1;
            }
            _ => return Err(bad(n, "unexpected line")),
        }
    }
    if !ended {
        // Written atomically, so this is only possible with a foreign file; treat as corrupt.
        return Err(bad(whole.lines().count(), "journal has no end line"));
    }
    Ok(Some(Loaded {
        args: args.ok_or_else(|| bad(2, "no args line"))?,
        steps,
        done,
    }))
}

/// Removes the journal (after the last step) and syncs the directory.
pub(crate) fn remove(base: &Path) -> Result<(), PrepareError> {
    let path = base.join(JOURNAL);
    fs::remove_file(&path).map_err(|e| PrepareError::io(&path, e))?;
    sync_dir(base)
}

/// fsyncs a directory (makes renames and creations in it durable).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), PrepareError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| PrepareError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_progress() {
        let d = tempfile::tempdir().unwrap();
        let steps = vec![
            Step::Mkdir("db".into()),
            Step::Rename {
                from: "db/a b.ibd".into(),
                to: "xb_prepare.mv.0".into(),
            },
            Step::Merge(Merge {
                target: "db/t.ibd".into(),
                page_size: 16384,
                create: true,
                extend: true,
                check: false,
                layers: vec![
                    "/x/inc1/db/t.ibd.delta".into(),
                    "/x/inc2/db/t.ibd.delta".into(),
                ],
            }),
            Step::Write {
                to: "xtrabackup_checkpoints".into(),
                bytes: b"backup_type = full-backuped\n".to_vec(),
            },
            Step::Copy {
                src: "/x/inc2/db/t.frm".into(),
                to: "db/t.frm".into(),
            },
            Step::Delete("db/u.frm".into()),
            Step::Rmdir("old".into()),
            Step::Extend {
                target: "db/t.ibd".into(),
                len: 65536,
            },
        ];
        let args = vec![PathBuf::from("/x/base"), PathBuf::from("/x/inc1")];
        let mut f = create(d.path(), &args, &steps).unwrap();
        let path = d.path().join(JOURNAL);
        mark_done(&mut f, &path, 0).unwrap();
        mark_done(&mut f, &path, 1).unwrap();
        // A torn last line is ignored.
        f.write_all(b"done\t2").unwrap();
        let l = load(d.path()).unwrap().unwrap();
        assert_eq!(l.args, args);
        assert_eq!(l.steps, steps);
        assert_eq!(l.done, 2);
        remove(d.path()).unwrap();
        assert!(load(d.path()).unwrap().is_none());
    }

    #[test]
    fn garbage_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(JOURNAL), "hello\n").unwrap();
        assert!(matches!(
            load(d.path()),
            Err(PrepareError::Journal { line: 1, .. })
        ));
        fs::write(
            d.path().join(JOURNAL),
            format!("{MAGIC}\nargs\t/b\nstep\tfly\n"),
        )
        .unwrap();
        assert!(matches!(
            load(d.path()),
            Err(PrepareError::Journal { line: 3, .. })
        ));
        fs::write(
            d.path().join(JOURNAL),
            format!("{MAGIC}\nargs\t/b\nend\t0\ndone\t0\n"),
        )
        .unwrap();
        assert!(load(d.path()).is_err());
    }
}
