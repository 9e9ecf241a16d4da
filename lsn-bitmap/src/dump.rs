//! Listing what a directory of bitmap files holds (`xb bitmap dump`): the runs of every file
//! and, for an LSN range, the pages changed or the reason the files cannot answer.

use std::path::PathBuf;

use innodb_page::Lsn;

use crate::block::BlockKey;
use crate::coverage::QueryStats;
use crate::dir::BitmapDir;
use crate::error::Error;
use crate::file::{Run, RunReader, Tail};
use crate::pageset::ChangedPages;

/// The runs of every file of a directory and the answer for an LSN range. Made by
/// [`BitmapDir::dump`].
///
/// With the `serde` feature it serializes as `dir`, `files` and `range` (null when no range
/// was asked).
///
/// ```
/// use innodb_page::Lsn;
/// use lsn_bitmap::{BitmapDir, BitmapWriter, ChangedPages, WriterOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let mut w = BitmapWriter::open(dir.path(), WriterOptions::default().sync(false)).unwrap();
/// w.start_file(Lsn::new(100)).unwrap();
/// let mut run = ChangedPages::new();
/// run.insert(5, 3);
/// w.write_run(Lsn::new(200), &run).unwrap();
///
/// let d = BitmapDir::open(dir.path()).unwrap();
/// let r = d.dump(true, Some((Lsn::new(100), Lsn::new(200))));
/// assert!(r.is_clean());
/// assert_eq!(r.files[0].runs[0].run.end_lsn, Lsn::new(200));
/// assert_eq!(r.files[0].runs[0].block_keys.as_ref().unwrap()[0].pages, 1);
/// let (stats, pages) = r.range.unwrap().result.unwrap();
/// assert_eq!(stats.runs, 1);
/// assert!(pages.contains(5, 3));
/// ```
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct DumpReport {
    /// The directory.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::path"))]
    pub dir: PathBuf,
    /// One entry per file, in sequence order.
    pub files: Vec<FileDump>,
    /// The answer for the range asked, if one was.
    pub range: Option<RangeDump>,
}

impl DumpReport {
    /// Whether every file was read to its end without error and the range, if asked, is
    /// covered.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let d = lsn_bitmap::BitmapDir::open(dir.path()).unwrap();
    /// assert!(d.dump(false, None).is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.files.iter().all(|f| f.error.is_none())
            && self.range.as_ref().is_none_or(|r| r.result.is_ok())
    }
}

/// The complete runs of one file.
///
/// With the `serde` feature it serializes as `file`, `seq`, `start_lsn`, `len`, `runs`, `tail`
/// (in words, or null) and `error` (`kind` and `message`, or null).
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FileDump {
    /// The file.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "file", serialize_with = "crate::ser::path")
    )]
    pub path: PathBuf,
    /// Sequence number from the name.
    pub seq: u64,
    /// Start LSN from the name.
    pub start_lsn: Lsn,
    /// Length in bytes when listed.
    pub len: u64,
    /// The complete runs read, in order.
    pub runs: Vec<RunDump>,
    /// What follows the last complete run (ignored by readers).
    pub tail: Option<Tail>,
    /// The error that stopped the reading, if any.
    pub error: Option<Error>,
}

/// One complete run, and the blocks it holds when asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RunDump {
    /// The run.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub run: Run,
    /// Every block of the run (when asked for).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub block_keys: Option<Vec<BlockCount>>,
}

/// One block of a run: its key and how many pages it flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct BlockCount {
    /// The block's key.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub key: BlockKey,
    /// Pages flagged.
    pub pages: u64,
}

/// The answer for an LSN range.
///
/// With the `serde` feature it serializes as `start_lsn`, `end_lsn`, `covered`, then either
/// `runs`, `blocks` and `spaces` (per tablespace: `space_id`, `pages` and `ranges` of
/// `start`..`end` page numbers) or `reason` (`kind` and `message`).
#[derive(Debug)]
#[non_exhaustive]
pub struct RangeDump {
    /// Start of the range.
    pub start_lsn: Lsn,
    /// End of the range.
    pub end_lsn: Lsn,
    /// The runs and blocks read and the pages changed, or why the files cannot answer.
    pub result: Result<(QueryStats, ChangedPages), Error>,
}

impl BitmapDir {
    /// Reads every complete run of every file (with `block_keys`, also the key of every block)
    /// and, for `range`, the pages changed in it. Errors are kept in the report, each where it
    /// happened.
    pub fn dump(&self, block_keys: bool, range: Option<(Lsn, Lsn)>) -> DumpReport {
        let files = self
            .files()
            .iter()
            .map(|f| {
                let mut d = FileDump {
                    path: f.path.clone(),
                    seq: f.name.seq,
                    start_lsn: f.name.start_lsn,
                    len: f.len,
                    runs: Vec::new(),
                    tail: None,
                    error: None,
                };
                match RunReader::open(&f.path, Some(f.name.start_lsn)) {
                    Err(e) => d.error = Some(e),
                    Ok(mut reader) => {
                        loop {
                            let mut keys = Vec::new();
                            match reader.next_run(|b| {
                                if block_keys {
                                    keys.push(BlockCount {
                                        key: b.key(),
                                        pages: b.bits().count_ones() as u64,
                                    });
                                }
                            }) {
                                Ok(Some(run)) => d.runs.push(RunDump {
                                    run,
                                    block_keys: block_keys.then_some(keys),
                                }),
                                Ok(None) => break,
                                Err(e) => {
                                    d.error = Some(e);
                                    break;
                                }
                            }
                        }
                        d.tail = reader.tail().cloned();
                    }
                }
                d
            })
            .collect();
        let range = range.map(|(start, end)| {
            let mut changed = ChangedPages::new();
            let result = self
                .visit_blocks(start, end, |b| {
                    changed.union_bitmap(b.key(), b.bitmap());
                })
                .map(|stats| (stats, changed));
            RangeDump {
                start_lsn: start,
                end_lsn: end,
                result,
            }
        });
        DumpReport {
            dir: self.path().to_path_buf(),
            files,
            range,
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for RangeDump {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("start_lsn", &self.start_lsn)?;
        m.serialize_entry("end_lsn", &self.end_lsn)?;
        m.serialize_entry("covered", &self.result.is_ok())?;
        match &self.result {
            Ok((stats, pages)) => {
                m.serialize_entry("runs", &stats.runs)?;
                m.serialize_entry("blocks", &stats.blocks)?;
                m.serialize_entry("spaces", &Spaces(pages))?;
            }
            Err(e) => m.serialize_entry("reason", e)?,
        }
        m.end()
    }
}

/// The changed pages, per tablespace.
#[cfg(feature = "serde")]
struct Spaces<'a>(&'a ChangedPages);

#[cfg(feature = "serde")]
impl serde::Serialize for Spaces<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Space {
            space_id: u32,
            pages: u64,
            ranges: Vec<PageRange>,
        }
        #[derive(serde::Serialize)]
        struct PageRange {
            start: u32,
            end: u32,
        }
        s.collect_seq(self.0.spaces().map(|(space_id, set)| {
            Space {
                space_id,
                pages: set.len(),
                ranges: set
                    .ranges()
                    .map(|r| PageRange {
                        start: r.start,
                        end: r.end,
                    })
                    .collect(),
            }
        }))
    }
}
