//! Reading one bitmap file: raw blocks ([`BlockReader`]) and validated runs ([`RunReader`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use innodb_page::Lsn;

use crate::block::{Block, BlockError, BlockKey, BLOCK_SIZE};
use crate::error::{Error, RunProblem};

/// Blocks read per `read` call.
const BUFFER_BLOCKS: usize = 64;

/// Sequential reader of the full 4096-byte blocks of one file, through a fixed-size buffer.
///
/// ```
/// use lsn_bitmap::{BlockBuf, BlockReader};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("ib_modified_log_1_0.xdb");
/// let mut bytes = BlockBuf::new(1, 0).finish().to_vec();
/// bytes.extend_from_slice(&[0u8; 100]); // a partial block
/// std::fs::write(&path, &bytes).unwrap();
/// let mut r = BlockReader::open(&path).unwrap();
/// assert_eq!(r.partial_block_offset(), Some(4096));
/// let (offset, block) = r.next_block().unwrap().unwrap();
/// assert_eq!((offset, block.space_id()), (0, 1));
/// assert!(r.next_block().unwrap().is_none());
/// ```
pub struct BlockReader {
    file: File,
    path: PathBuf,
    len: u64,
    /// Offset of the next block to return.
    pos: u64,
    /// Blocks at or after this offset are not returned.
    limit: u64,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_start: u64,
    /// Valid bytes in `buf`.
    buf_len: usize,
}

impl BlockReader {
    /// Opens a file.
    ///
    /// ```
    /// assert!(lsn_bitmap::BlockReader::open("/nonexistent/ib_modified_log_1_0.xdb").is_err());
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<BlockReader, Error> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io(path, 0, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, 0, e))?.len();
        Ok(BlockReader {
            file,
            path: path.to_path_buf(),
            len,
            pos: 0,
            limit: len - len % BLOCK_SIZE as u64,
            buf: Vec::new(),
            buf_start: 0,
            buf_len: 0,
        })
    }

    /// The file's path.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("x.xdb");
    /// # std::fs::write(&p, b"").unwrap();
    /// assert_eq!(lsn_bitmap::BlockReader::open(&p).unwrap().path(), p);
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file length when opened.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("x.xdb");
    /// std::fs::write(&p, [0u8; 5000]).unwrap();
    /// assert_eq!(lsn_bitmap::BlockReader::open(&p).unwrap().len(), 5000);
    /// ```
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Number of full blocks.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("x.xdb");
    /// std::fs::write(&p, [0u8; 9000]).unwrap();
    /// assert_eq!(lsn_bitmap::BlockReader::open(&p).unwrap().full_blocks(), 2);
    /// ```
    pub fn full_blocks(&self) -> u64 {
        self.len / BLOCK_SIZE as u64
    }

    /// Offset of the partial block at the end, if the length is not a multiple of 4096.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("x.xdb");
    /// std::fs::write(&p, [0u8; 4096]).unwrap();
    /// assert_eq!(lsn_bitmap::BlockReader::open(&p).unwrap().partial_block_offset(), None);
    /// ```
    pub fn partial_block_offset(&self) -> Option<u64> {
        let full = self.full_blocks() * BLOCK_SIZE as u64;
        (full != self.len).then_some(full)
    }

    /// Stops the iteration at `offset` (rounded down to a block boundary).
    pub(crate) fn set_limit(&mut self, offset: u64) {
        self.limit = offset.min(self.full_blocks() * BLOCK_SIZE as u64);
        self.limit -= self.limit % BLOCK_SIZE as u64;
    }

    /// The next full block and its offset; `None` at the end.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("x.xdb");
    /// std::fs::write(&p, [0u8; 8192]).unwrap();
    /// let mut r = lsn_bitmap::BlockReader::open(&p).unwrap();
    /// assert_eq!(r.next_block().unwrap().unwrap().0, 0);
    /// assert_eq!(r.next_block().unwrap().unwrap().0, 4096);
    /// assert!(r.next_block().unwrap().is_none());
    /// ```
    pub fn next_block(&mut self) -> Result<Option<(u64, Block<'_>)>, Error> {
        if self.pos >= self.limit {
            return Ok(None);
        }
        let buf_end = self.buf_start + self.buf_len as u64;
        if self.pos < self.buf_start || self.pos + BLOCK_SIZE as u64 > buf_end {
            self.fill()?;
        }
        let at = (self.pos - self.buf_start) as usize;
        let offset = self.pos;
        self.pos += BLOCK_SIZE as u64;
        let bytes = self
            .buf
            .get(at..at + BLOCK_SIZE)
            .ok_or_else(|| Error::io(&self.path, offset, short_read()))?;
        let block = Block::new(bytes).map_err(|_| Error::io(&self.path, offset, short_read()))?;
        Ok(Some((offset, block)))
    }

    fn fill(&mut self) -> Result<(), Error> {
        let want = ((self.limit - self.pos) as usize).min(BUFFER_BLOCKS * BLOCK_SIZE);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        let pos = self.pos;
        self.file
            .seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io(&self.path, pos, e))?;
        let dst = self
            .buf
            .get_mut(..want)
            .ok_or_else(|| Error::io(&self.path, pos, short_read()))?;
        self.file
            .read_exact(dst)
            .map_err(|e| Error::io(&self.path, pos, e))?;
        self.buf_start = pos;
        self.buf_len = want;
        Ok(())
    }

    /// Repositions the iteration at `offset` (a block boundary).
    pub(crate) fn seek_block(&mut self, offset: u64) {
        self.pos = offset - offset % BLOCK_SIZE as u64;
    }

    /// Reads the block at `offset` into `out` (bypassing the buffer).
    pub(crate) fn read_block_at(
        &mut self,
        offset: u64,
        out: &mut [u8; BLOCK_SIZE],
    ) -> Result<(), Error> {
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(&self.path, offset, e))?;
        self.file
            .read_exact(out)
            .map_err(|e| Error::io(&self.path, offset, e))?;
        Ok(())
    }
}

fn short_read() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "short read")
}

/// What follows the last complete run of a file: ignored by readers (the server truncates it
/// on restart), reported only when the data after it is needed.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("ib_modified_log_1_0.xdb");
/// std::fs::write(&p, [0u8; 4100]).unwrap();
/// let r = lsn_bitmap::RunReader::open(&p, None).unwrap();
/// assert_eq!(r.tail(), Some(&lsn_bitmap::Tail::Truncated { offset: 4096, len: 4100 }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tail {
    /// The file ends with a partial block.
    Truncated {
        /// Offset of the partial block.
        offset: u64,
        /// File length.
        len: u64,
    },
    /// A full block in the tail fails validation (a torn write).
    Corrupt {
        /// Offset of the first such block.
        offset: u64,
        /// Why.
        problem: BlockError,
    },
    /// Valid blocks of a run whose last block was never written.
    IncompleteRun {
        /// Offset of the run's first block.
        offset: u64,
        /// The run's start LSN.
        start_lsn: Lsn,
        /// The run's end LSN.
        end_lsn: Lsn,
    },
}

impl Tail {
    /// The error that reports this tail for `path`.
    ///
    /// ```
    /// use lsn_bitmap::{Error, Tail};
    /// let e = Tail::Truncated { offset: 4096, len: 5000 }.to_error("f.xdb".as_ref());
    /// assert!(matches!(e, Error::TruncatedFile { offset: 4096, len: 5000, .. }));
    /// ```
    pub fn to_error(&self, path: &Path) -> Error {
        let path = path.to_path_buf();
        match *self {
            Tail::Truncated { offset, len } => Error::TruncatedFile { path, offset, len },
            Tail::Corrupt { offset, problem } => Error::CorruptBlock {
                path,
                offset,
                problem,
            },
            Tail::IncompleteRun {
                offset,
                start_lsn,
                end_lsn,
            } => Error::IncompleteRun {
                path,
                offset,
                start_lsn,
                end_lsn,
            },
        }
    }

    /// Offset where the tail's problem is.
    ///
    /// ```
    /// assert_eq!(lsn_bitmap::Tail::Truncated { offset: 4096, len: 5000 }.offset(), 4096);
    /// ```
    pub fn offset(&self) -> u64 {
        match *self {
            Tail::Truncated { offset, .. }
            | Tail::Corrupt { offset, .. }
            | Tail::IncompleteRun { offset, .. } => offset,
        }
    }
}

/// What the tail is, in words (`partial block at byte 4096 (file is 5000 bytes)`).
///
/// ```
/// let t = lsn_bitmap::Tail::Truncated { offset: 4096, len: 5000 };
/// assert_eq!(t.to_string(), "partial block at byte 4096 (file is 5000 bytes)");
/// ```
impl std::fmt::Display for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tail::Truncated { offset, len } => {
                write!(f, "partial block at byte {offset} (file is {len} bytes)")
            }
            Tail::Corrupt { offset, problem } => {
                write!(f, "torn block at byte {offset}: {problem}")
            }
            Tail::IncompleteRun {
                offset,
                start_lsn,
                end_lsn,
            } => write!(
                f,
                "run at byte {offset} (LSN {start_lsn}..{end_lsn}) without its last block"
            ),
        }
    }
}

/// Serializes as its words ([`Display`](std::fmt::Display)).
#[cfg(feature = "serde")]
impl serde::Serialize for Tail {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One complete write run.
///
/// ```
/// use innodb_page::Lsn;
/// let run = lsn_bitmap::Run { offset: 0, start_lsn: Lsn::new(1), end_lsn: Lsn::new(2), blocks: 1 };
/// assert!(run.start_lsn < run.end_lsn);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Run {
    /// Offset of its first block.
    pub offset: u64,
    /// Start LSN.
    pub start_lsn: Lsn,
    /// End LSN.
    pub end_lsn: Lsn,
    /// Number of blocks.
    pub blocks: u64,
}

/// Reader of the complete runs of one file, validating as the server writes them.
///
/// On open it finds the end of the last complete run (scanning backwards from the end for a
/// valid block with the last-block flag, as the server does on restart); what follows is the
/// [`Tail`], which is never returned as runs. Every block before that point must be valid,
/// and blocks must form runs: same start/end LSN in every block of a run, strictly ascending
/// `(space, first page)`, a run never starting before the previous run's end or before the
/// LSN in the file name.
///
/// ```
/// use innodb_page::Lsn;
/// use lsn_bitmap::{BitmapWriter, ChangedPages, RunReader, WriterOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let mut w = BitmapWriter::open(dir.path(), WriterOptions::default()).unwrap();
/// let path = w.start_file(Lsn::new(100)).unwrap();
/// let mut pages = ChangedPages::new();
/// pages.insert(1, 5);
/// pages.insert(2, 50_000);
/// w.write_run(Lsn::new(200), &pages).unwrap();
/// let mut r = RunReader::open(&path, Some(Lsn::new(100))).unwrap();
/// let mut seen = ChangedPages::new();
/// let run = r.next_run(|b| { seen.union_bitmap(b.key(), b.bitmap()); }).unwrap().unwrap();
/// assert_eq!((run.start_lsn.get(), run.end_lsn.get(), run.blocks), (100, 200, 2));
/// assert_eq!(seen, pages);
/// assert!(r.next_run(|_| {}).unwrap().is_none());
/// assert!(r.tail().is_none());
/// ```
pub struct RunReader {
    blocks: BlockReader,
    path: PathBuf,
    complete_end: u64,
    tail: Option<Tail>,
    state: RunState,
}

impl RunReader {
    /// Opens a file; `file_start` is the LSN from its name, if known (runs must not start
    /// before it).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("ib_modified_log_1_0.xdb");
    /// std::fs::write(&p, [0u8; 100]).unwrap();
    /// let r = lsn_bitmap::RunReader::open(&p, None).unwrap();
    /// assert_eq!(r.complete_end(), 0);
    /// assert!(matches!(r.tail(), Some(lsn_bitmap::Tail::Truncated { offset: 0, len: 100 })));
    /// ```
    pub fn open(path: impl AsRef<Path>, file_start: Option<Lsn>) -> Result<RunReader, Error> {
        let mut blocks = BlockReader::open(path)?;
        let (complete_end, tail) = find_complete_end(&mut blocks)?;
        blocks.seek_block(0);
        blocks.set_limit(complete_end);
        Ok(RunReader {
            path: blocks.path().to_path_buf(),
            blocks,
            complete_end,
            tail,
            state: RunState::new(file_start),
        })
    }

    /// The file's path.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("ib_modified_log_1_0.xdb");
    /// # std::fs::write(&p, b"").unwrap();
    /// assert_eq!(lsn_bitmap::RunReader::open(&p, None).unwrap().path(), p);
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// End offset of the last complete run (0 if there is none).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("ib_modified_log_1_0.xdb");
    /// # std::fs::write(&p, b"").unwrap();
    /// assert_eq!(lsn_bitmap::RunReader::open(&p, None).unwrap().complete_end(), 0);
    /// ```
    pub fn complete_end(&self) -> u64 {
        self.complete_end
    }

    /// What follows the last complete run, if anything.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("ib_modified_log_1_0.xdb");
    /// std::fs::write(&p, [0u8; 4096]).unwrap();
    /// let r = lsn_bitmap::RunReader::open(&p, None).unwrap();
    /// assert!(matches!(r.tail(), Some(lsn_bitmap::Tail::Corrupt { offset: 0, .. })));
    /// ```
    pub fn tail(&self) -> Option<&Tail> {
        self.tail.as_ref()
    }

    /// End LSN of the last run returned so far.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("ib_modified_log_1_0.xdb");
    /// # std::fs::write(&p, b"").unwrap();
    /// assert_eq!(lsn_bitmap::RunReader::open(&p, None).unwrap().last_end_lsn(), None);
    /// ```
    pub fn last_end_lsn(&self) -> Option<Lsn> {
        self.state.previous_end
    }

    /// Reads the next complete run, passing each of its (validated) blocks to `on_block` in
    /// file order; `None` after the last complete run.
    ///
    /// On error the blocks already passed belong to a run that cannot be trusted.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("ib_modified_log_1_0.xdb");
    /// # std::fs::write(&p, b"").unwrap();
    /// let mut r = lsn_bitmap::RunReader::open(&p, None).unwrap();
    /// assert!(r.next_run(|_| {}).unwrap().is_none());
    /// ```
    pub fn next_run(&mut self, mut on_block: impl FnMut(&Block<'_>)) -> Result<Option<Run>, Error> {
        loop {
            let Some((offset, block)) = self.blocks.next_block()? else {
                // `complete_end` is just after a last block, so a run cannot be open here
                // unless the last block belonged to another run, which `feed` catches.
                return Ok(None);
            };
            block.validate().map_err(|problem| Error::CorruptBlock {
                path: self.path.clone(),
                offset,
                problem,
            })?;
            let done =
                self.state
                    .feed(offset, &block)
                    .map_err(|problem| Error::InconsistentRun {
                        path: self.path.clone(),
                        offset,
                        problem,
                    })?;
            on_block(&block);
            if let Some(run) = done {
                return Ok(Some(run));
            }
        }
    }
}

/// Groups valid blocks into runs and checks them (shared by [`RunReader`] and verification).
#[derive(Clone, Debug, Default)]
pub(crate) struct RunState {
    pub(crate) file_start: Option<Lsn>,
    pub(crate) previous_end: Option<Lsn>,
    run: Option<(Run, BlockKey)>,
}

impl RunState {
    pub(crate) fn new(file_start: Option<Lsn>) -> RunState {
        RunState {
            file_start,
            previous_end: None,
            run: None,
        }
    }

    /// Forgets the open run (after a problem).
    pub(crate) fn reset(&mut self) {
        self.run = None;
    }

    /// Adds a validated block; returns the run it completes, if it is a last block.
    pub(crate) fn feed(
        &mut self,
        offset: u64,
        block: &Block<'_>,
    ) -> Result<Option<Run>, RunProblem> {
        let (start_lsn, end_lsn, key) = (block.start_lsn(), block.end_lsn(), block.key());
        match &mut self.run {
            None => {
                if let Some(file_start) = self.file_start
                    && start_lsn < file_start
                {
                    return Err(RunProblem::BeforeFileStart {
                        start_lsn,
                        file_start,
                    });
                }
                if let Some(previous_end) = self.previous_end
                    && start_lsn < previous_end
                {
                    return Err(RunProblem::Overlap {
                        start_lsn,
                        previous_end,
                    });
                }
                self.run = Some((
                    Run {
                        offset,
                        start_lsn,
                        end_lsn,
                        blocks: 1,
                    },
                    key,
                ));
            }
            Some((r, last_key)) => {
                if (r.start_lsn, r.end_lsn) != (start_lsn, end_lsn) {
                    return Err(RunProblem::Unterminated {
                        run_offset: r.offset,
                        start_lsn,
                        end_lsn,
                    });
                }
                if key <= *last_key {
                    return Err(RunProblem::KeyOrder {
                        previous: *last_key,
                        key,
                    });
                }
                r.blocks += 1;
                *last_key = key;
            }
        }
        if block.is_last() {
            self.previous_end = Some(end_lsn);
            return Ok(self.run.take().map(|(r, _)| r));
        }
        Ok(None)
    }
}

/// Finds the end of the last complete run by scanning backwards for a valid block with the
/// last-block flag, and describes what follows it.
pub(crate) fn find_complete_end(blocks: &mut BlockReader) -> Result<(u64, Option<Tail>), Error> {
    let bs = BLOCK_SIZE as u64;
    let full = blocks.full_blocks();
    let mut buf = Box::new([0u8; BLOCK_SIZE]);
    let mut complete_end = 0;
    for i in (0..full).rev() {
        blocks.read_block_at(i * bs, &mut buf)?;
        let block = Block::from_array(&buf);
        if block.is_last() && block.verify_checksum().is_ok() {
            complete_end = (i + 1) * bs;
            break;
        }
    }
    let tail = if let Some(offset) = blocks.partial_block_offset() {
        Some(Tail::Truncated {
            offset,
            len: blocks.len(),
        })
    } else {
        let mut tail = None;
        let mut first_valid: Option<(u64, Lsn, Lsn)> = None;
        for i in complete_end / bs..full {
            blocks.read_block_at(i * bs, &mut buf)?;
            let block = Block::from_array(&buf);
            match block.validate() {
                Err(problem) => {
                    tail = Some(Tail::Corrupt {
                        offset: i * bs,
                        problem,
                    });
                    break;
                }
                Ok(()) => {
                    first_valid.get_or_insert((i * bs, block.start_lsn(), block.end_lsn()));
                }
            }
        }
        tail.or_else(|| {
            first_valid.map(|(offset, start_lsn, end_lsn)| Tail::IncompleteRun {
                offset,
                start_lsn,
                end_lsn,
            })
        })
    };
    Ok((complete_end, tail))
}
