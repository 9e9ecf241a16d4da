//! Checking every block of every file (`xb bitmap verify`).

use std::path::{Path, PathBuf};

use innodb_page::Lsn;

use crate::block::BLOCK_SIZE;
use crate::dir::BitmapDir;
use crate::error::{DirProblem, Error};
use crate::file::{find_complete_end, BlockReader, RunState, Tail};

/// At most this many problems are kept per file (all are counted).
pub const MAX_PROBLEMS_KEPT: usize = 100;

/// The result of checking one file.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("ib_modified_log_1_0.xdb");
/// std::fs::write(&p, [0u8; 4096]).unwrap();
/// let r = lsn_bitmap::verify_file(&p, None).unwrap();
/// assert_eq!((r.blocks, r.runs, r.problem_count), (0, 0, 0));
/// assert!(r.tail.is_some());
/// ```
///
/// With the `serde` feature it serializes with the field `path` named `file`, and the
/// problems as [`Error`]s serialize (`kind`, `message`).
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FileReport {
    /// The file.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "file", serialize_with = "crate::ser::path")
    )]
    pub path: PathBuf,
    /// Its length.
    pub len: u64,
    /// Full blocks before the tail.
    pub blocks: u64,
    /// Complete runs.
    pub runs: u64,
    /// Start LSN of the first complete run.
    pub first_lsn: Option<Lsn>,
    /// End LSN of the last complete run.
    pub last_lsn: Option<Lsn>,
    /// Corrupt blocks and inconsistent runs before the tail (the first
    /// [`MAX_PROBLEMS_KEPT`]).
    pub problems: Vec<Error>,
    /// Number of problems found.
    pub problem_count: u64,
    /// What follows the last complete run; readers ignore it (the server truncates it on
    /// restart), so it is not counted as corruption.
    pub tail: Option<Tail>,
}

impl FileReport {
    /// Whether no problem was found (a tail is not a problem).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let p = dir.path().join("ib_modified_log_1_0.xdb");
    /// std::fs::write(&p, b"").unwrap();
    /// assert!(lsn_bitmap::verify_file(&p, None).unwrap().is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.problem_count == 0
    }
}

/// Checks every block of one file, continuing after problems. Only I/O errors are returned
/// as `Err`.
///
/// ```
/// use lsn_bitmap::{verify_file, Error};
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("ib_modified_log_1_0.xdb");
/// let mut bytes = vec![0u8; 8192];
/// bytes[0..4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
/// std::fs::write(&p, &bytes).unwrap();
/// let report = verify_file(&p, None).unwrap();
/// assert!(report.is_clean()); // two torn blocks at the end: a tail, ignored
/// assert!(report.tail.is_some());
/// ```
pub fn verify_file(path: impl AsRef<Path>, file_start: Option<Lsn>) -> Result<FileReport, Error> {
    let path = path.as_ref();
    let mut blocks = BlockReader::open(path)?;
    let (complete_end, tail) = find_complete_end(&mut blocks)?;
    blocks.seek_block(0);
    blocks.set_limit(complete_end);
    let mut report = FileReport {
        path: path.to_path_buf(),
        len: blocks.len(),
        blocks: complete_end / BLOCK_SIZE as u64,
        runs: 0,
        first_lsn: None,
        last_lsn: None,
        problems: Vec::new(),
        problem_count: 0,
        tail,
    };
    let mut state = RunState::new(file_start);
    let mut problems = Vec::new();
    let mut push = |e: Error| {
        if problems.len() < MAX_PROBLEMS_KEPT {
            problems.push(e);
        }
    };
    while let Some((offset, block)) = blocks.next_block()? {
        if let Err(problem) = block.validate() {
            report.problem_count += 1;
            push(Error::CorruptBlock {
                path: path.to_path_buf(),
                offset,
                problem,
            });
            state.reset();
            continue;
        }
        let fed = match state.feed(offset, &block) {
            Ok(done) => done,
            Err(problem) => {
                report.problem_count += 1;
                push(Error::InconsistentRun {
                    path: path.to_path_buf(),
                    offset,
                    problem,
                });
                // Start over with this block as the first of a run.
                state.reset();
                state.previous_end = None;
                state.feed(offset, &block).ok().flatten()
            }
        };
        if let Some(run) = fed {
            report.runs += 1;
            report.first_lsn.get_or_insert(run.start_lsn);
            report.last_lsn = Some(run.end_lsn);
        }
    }
    report.problems = problems;
    Ok(report)
}

/// The result of checking a directory.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let report = lsn_bitmap::BitmapDir::open(dir.path()).unwrap().verify().unwrap();
/// assert!(report.files.is_empty() && report.problems.is_empty());
/// ```
///
/// With the `serde` feature it serializes as `dir`, `clean` ([`DirReport::is_clean`]),
/// `files` and `problems`.
#[derive(Debug)]
#[non_exhaustive]
pub struct DirReport {
    /// The directory.
    pub dir: PathBuf,
    /// One report per file, in sequence order.
    pub files: Vec<FileReport>,
    /// Contradictions between file names: duplicate or missing sequence numbers between the
    /// lowest and the highest, start LSNs going backwards.
    pub problems: Vec<Error>,
}

impl DirReport {
    /// Whether no problem was found in any file or in the names.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let d = lsn_bitmap::BitmapDir::open(dir.path()).unwrap();
    /// assert!(d.verify().unwrap().is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.files.iter().all(FileReport::is_clean)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for DirReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("DirReport", 4)?;
        st.serialize_field("dir", &self.dir.display().to_string())?;
        st.serialize_field("clean", &self.is_clean())?;
        st.serialize_field("files", &self.files)?;
        st.serialize_field("problems", &self.problems)?;
        st.end()
    }
}

impl BitmapDir {
    /// Checks every file ([`verify_file`]) and the sequence of names. Only I/O errors are
    /// returned as `Err`.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("ib_modified_log_1_0.xdb"), b"").unwrap();
    /// std::fs::write(dir.path().join("ib_modified_log_3_0.xdb"), b"").unwrap();
    /// let d = lsn_bitmap::BitmapDir::open(dir.path()).unwrap();
    /// let report = d.verify().unwrap();
    /// assert!(matches!(report.problems[0], lsn_bitmap::Error::MissingFile { seq: 2, .. }));
    /// ```
    pub fn verify(&self) -> Result<DirReport, Error> {
        let mut problems = Vec::new();
        for pair in self.files().windows(2) {
            let [a, b] = pair else { continue };
            if a.name.seq == b.name.seq {
                problems.push(Error::InconsistentDir {
                    dir: self.path().to_path_buf(),
                    problem: DirProblem::DuplicateSeq {
                        first: a.path.clone(),
                        second: b.path.clone(),
                    },
                });
            } else if b.name.seq != a.name.seq.saturating_add(1) {
                problems.push(Error::MissingFile {
                    seq: a.name.seq.saturating_add(1),
                    previous: a.path.clone(),
                });
            }
            if b.name.start_lsn < a.name.start_lsn {
                problems.push(Error::InconsistentDir {
                    dir: self.path().to_path_buf(),
                    problem: DirProblem::LsnOrder {
                        earlier: a.path.clone(),
                        later: b.path.clone(),
                    },
                });
            }
        }
        let mut files = Vec::with_capacity(self.files().len());
        for f in self.files() {
            files.push(verify_file(&f.path, Some(f.name.start_lsn))?);
        }
        Ok(DirReport {
            dir: self.path().to_path_buf(),
            files,
            problems,
        })
    }
}
