//! Changed-page bitmap files (`ib_modified_log_<seq>_<startlsn>.xdb`) written by Percona
//! Server 5.5–8.0.29 and MariaDB 10.1 with `innodb_track_changed_pages`, read the way
//! XtraBackup reads them — but never trusting data it cannot check.
//!
//! Instead of reading every page of every tablespace, an incremental backup asks
//! [`BitmapDir::changed_pages`] which pages changed in `[start_lsn, end_lsn]` and reads only
//! those, per tablespace, as ranges ([`PageSet::ranges`]); [`DataFileMap`] splits the
//! tablespace-global page numbers of a multi-file system tablespace into per-file offsets.
//! The answer is a superset at run granularity (the delta writer still applies its LSN test)
//! or an [`Error`] saying exactly why the bitmap cannot be trusted; on any error the caller
//! does a full scan.
//!
//! ```
//! use innodb_page::Lsn;
//! use lsn_bitmap::{BitmapDir, BitmapWriter, ChangedPages, DataFileMap, WriterOptions};
//! let dir = tempfile::tempdir().unwrap();
//! let mut w = BitmapWriter::open(dir.path(), WriterOptions { sync: false, ..Default::default() }).unwrap();
//! w.start_file(Lsn::new(8192)).unwrap();
//! let mut run = ChangedPages::new();
//! run.insert(0, 5);
//! run.insert(0, 6);
//! run.insert(0, 700);
//! run.insert(12, 3);
//! w.write_run(Lsn::new(10_000), &run).unwrap();
//!
//! let bitmaps = BitmapDir::open(dir.path()).unwrap();
//! let changed = bitmaps.changed_pages(Lsn::new(8192), Lsn::new(10_000)).unwrap();
//! let t12: Vec<_> = changed.space(12).unwrap().ranges().collect();
//! assert_eq!(t12, vec![3..4]);
//! // The system tablespace is ibdata1 (640 pages) + ibdata2.
//! let ibdata = DataFileMap::new(&[640, 640]);
//! let batches: Vec<_> = changed.space(0).unwrap().ranges()
//!     .flat_map(|r| ibdata.split(r)).collect();
//! assert_eq!(batches, vec![(0, 5..7), (1, 60..61)]);
//! ```
//!
//! # Which runs a query includes
//!
//! The server appends one *run* per tracking pass: blocks of 32448-page bitmaps, all with the
//! pass's `[start_lsn, end_lsn]`, the last block flagged. For a query `[start, end]`:
//!
//! * `start > end` is an error; `start == end` is the empty set (nothing can have changed).
//! * Files are chosen as XtraBackup does (spec §5.6): only files whose name LSN is `< end`;
//!   the first is the one with the greatest name LSN `≤ start` (lowest sequence number on
//!   ties, then leading files that start at the same LSN as the next one are skipped); all
//!   following sequence numbers must be present.
//! * The result is the union of the complete runs, in sequence and file order, **from the
//!   first run with `end_lsn > start` through the first run with `end_lsn ≥ end`**. Runs
//!   ending at or before `start` are read (and checked) but not included.
//!
//! # What counts as covered
//!
//! * **Inside one file** a gap between one run's end and the next run's start (or between
//!   the LSN in the file name and its first run) means *no page changed*: the server
//!   advances its tracked LSN without writing when a pass finds nothing, and a file is only
//!   ever written by one server lifetime. Such gaps are covered.
//! * **Across files** the name's LSN says where the new file's tracking began. If it is at or
//!   before the end of the data tracked so far (the last complete run's end, or the name LSN
//!   of a file with no run), the walk continues (an overlap only adds pages: a superset).
//!   If it is later, the LSNs in between are **not covered** ([`Error::LsnGap`]): the server
//!   names a new file with a later LSN both when it rotates after passes that found nothing
//!   (harmless) and when it restarts without the redo needed to re-track (data missing), and
//!   the two cannot be told apart. XtraBackup trusts the sequence numbers alone here; we
//!   prefer an unnecessary full scan to a silently partial set.
//! * Tracked data ending before `end` is [`Error::EndNotCovered`] (also XtraBackup's rule; it
//!   happens when nothing changed since the last written run, as the server writes no block
//!   then).
//! * Missing sequence numbers ([`Error::MissingFile`]), a first file starting after `start`
//!   ([`Error::StartNotCovered`]), any corrupt block or inconsistent run met on the way
//!   ([`Error::CorruptBlock`], [`Error::InconsistentRun`]), and contradicting names
//!   ([`Error::InconsistentDir`]) are errors.
//! * **Tails.** What follows a file's last complete run — a partial block, torn blocks, a run
//!   without its last block — is what a crash leaves; the server cuts it off on restart. It
//!   is ignored when the next file starts at or before the last complete run's end (the
//!   server re-tracked it); otherwise the error names it: [`Error::TruncatedFile`] if the
//!   file ends with a partial block, else [`Error::CorruptBlock`] for the first torn block,
//!   else [`Error::IncompleteRun`].
//!
//! Memory: one 4 KiB bitmap per distinct `(space, 32448-page block)` in the result, plus a
//! 256 KiB read buffer; never proportional to the number of runs or the LSN range.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod block;
pub mod checksum;
pub mod coverage;
pub mod datafiles;
pub mod dir;
pub mod error;
pub mod file;
pub mod name;
pub mod pageset;
pub mod purge;
pub mod track;
pub mod verify;
pub mod writer;

pub use block::{Block, BlockBuf, BlockError, BlockKey, BLOCK_SIZE, PAGES_PER_BLOCK};
pub use coverage::QueryStats;
pub use datafiles::DataFileMap;
pub use dir::{BitmapDir, BitmapFile};
pub use error::{DirProblem, Error, RunProblem};
pub use file::{BlockReader, Run, RunReader, Tail};
pub use name::FileName;
pub use pageset::{BlockBits, ChangedPages, PageRanges, PageSet};
pub use verify::{verify_file, DirReport, FileReport};
pub use writer::{BitmapWriter, Recovery, WriterOptions, WrittenRun};
