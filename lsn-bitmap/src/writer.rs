//! Writing bitmap files as the server does (spec §5.5), for a redo-log tracker and for tests.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ByteOrder};
use innodb_page::Lsn;

use crate::block::{
    BlockKey, BITMAP_LEN, BITMAP_OFFSET, BLOCK_SIZE, CHECKSUM_OFFSET, END_LSN_OFFSET,
    FIRST_PAGE_OFFSET, IS_LAST_OFFSET, SPACE_ID_OFFSET, START_LSN_OFFSET,
};
use crate::checksum::block_checksum;
use crate::dir::BitmapDir;
use crate::error::Error;
use crate::file::{BlockReader, RunReader};
use crate::name::FileName;
use crate::pageset::ChangedPages;

/// Writer settings: `Default` (or [`WriterOptions::new`], the same in `const` contexts), then
/// the setters.
///
/// ```
/// use lsn_bitmap::WriterOptions;
/// let o = WriterOptions::default();
/// assert_eq!(o, WriterOptions::new().max_file_size(100 << 20).sync(true));
/// const FAST: WriterOptions = WriterOptions::new().sync(false);
/// assert_ne!(FAST, o);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterOptions {
    /// A new file is started before a run once the current file has reached this many bytes
    /// (`innodb_max_bitmap_file_size`); a run never spans two files.
    pub(crate) max_file_size: u64,
    /// fsync the data before and after each run's last block, and the directory after
    /// creating a file. Turn off only for tests and benchmarks.
    pub(crate) sync: bool,
}

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions::new()
    }
}

impl WriterOptions {
    /// The defaults: files of up to 100 MiB (the server's default), synced.
    pub const fn new() -> WriterOptions {
        WriterOptions {
            max_file_size: 100 << 20,
            sync: true,
        }
    }

    /// Start a new file before a run once the current one has reached this many bytes
    /// (`innodb_max_bitmap_file_size`; default 100 MiB).
    pub const fn max_file_size(mut self, bytes: u64) -> WriterOptions {
        self.max_file_size = bytes;
        self
    }

    /// fsync each run and each new file (default on; turn off only for tests and benchmarks).
    pub const fn sync(mut self, sync: bool) -> WriterOptions {
        self.sync = sync;
        self
    }
}

/// What [`BitmapWriter::open`] found and repaired.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("ib_modified_log_1_500.xdb"), [1u8; 100]).unwrap();
/// let w = lsn_bitmap::BitmapWriter::open(dir.path(), Default::default()).unwrap();
/// let r = w.recovery();
/// assert_eq!(r.last_tracked_lsn.map(|l| l.get()), Some(500));
/// assert_eq!(r.truncated_bytes, 100);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// The newest non-empty bitmap file, if any.
    pub file: Option<PathBuf>,
    /// End LSN of its last complete run, or the LSN in its name if it has none (but not
    /// before the name LSN of a newer, empty file): where tracking must resume to leave no
    /// gap. If every file is empty, the greatest name LSN; `None` if there is no file.
    pub last_tracked_lsn: Option<Lsn>,
    /// Bytes removed from the end of `file` (a partial block, a torn block or an incomplete
    /// run).
    pub truncated_bytes: u64,
}

/// A run as written.
///
/// ```
/// use innodb_page::Lsn;
/// let dir = tempfile::tempdir().unwrap();
/// let mut w = lsn_bitmap::BitmapWriter::open(dir.path(), Default::default()).unwrap();
/// w.start_file(Lsn::new(1)).unwrap();
/// let mut pages = lsn_bitmap::ChangedPages::new();
/// pages.insert(0, 0);
/// let run = w.write_run(Lsn::new(2), &pages).unwrap().unwrap();
/// assert_eq!((run.offset, run.blocks), (0, 1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WrittenRun {
    /// The file.
    pub path: PathBuf,
    /// Offset of the first block.
    pub offset: u64,
    /// Number of blocks.
    pub blocks: u64,
}

struct Current {
    file: File,
    path: PathBuf,
    offset: u64,
}

/// Appends runs to `ib_modified_log_<seq>_<lsn>.xdb` files in a directory, as the server does.
///
/// * [`open`](BitmapWriter::open) is the server's startup: the newest non-empty file is cut
///   back to its last complete run (a partial block, torn blocks and a run without its last
///   block are removed) and [`Recovery::last_tracked_lsn`] says where tracking stopped.
///   Nothing is written until [`start_file`](BitmapWriter::start_file) creates the next file
///   (one more than the highest sequence number present), named with the LSN tracking resumes
///   from: the last tracked LSN if the redo since then is still available (no gap), otherwise
///   the current checkpoint (readers then see the gap and refuse ranges across it).
/// * [`write_run`](BitmapWriter::write_run) is one tracking pass from the last tracked LSN to
///   `end_lsn`: the blocks in `(space, first page)` order, all with the same start/end LSN,
///   the last one flagged, each with its checksum. A pass with no changed page writes nothing
///   but still advances the tracked LSN. Before a run, a file that has reached
///   `max_file_size` is closed and a new one is named with the run's start LSN.
///
/// ```
/// use innodb_page::Lsn;
/// use lsn_bitmap::{BitmapDir, BitmapWriter, ChangedPages, WriterOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let opts = WriterOptions::default().max_file_size(4096).sync(false);
/// let mut w = BitmapWriter::open(dir.path(), opts).unwrap();
/// assert_eq!(w.recovery().last_tracked_lsn, None);
/// w.start_file(Lsn::new(8192)).unwrap();
/// let mut run = ChangedPages::new();
/// run.insert(1, 1);
/// w.write_run(Lsn::new(9000), &run).unwrap();
/// w.write_run(Lsn::new(9500), &ChangedPages::new()).unwrap(); // nothing changed
/// w.write_run(Lsn::new(9900), &run).unwrap(); // rotates: the first file is full
/// drop(w);
///
/// let names: Vec<String> = BitmapDir::open(dir.path()).unwrap().files().iter()
///     .map(|f| f.name.to_string()).collect();
/// assert_eq!(names, ["ib_modified_log_1_8192.xdb", "ib_modified_log_2_9500.xdb"]);
///
/// let w = BitmapWriter::open(dir.path(), opts).unwrap();
/// assert_eq!(w.recovery().last_tracked_lsn, Some(Lsn::new(9900)));
/// ```
pub struct BitmapWriter {
    dir: PathBuf,
    options: WriterOptions,
    next_seq: u64,
    last_name_lsn: Option<Lsn>,
    current: Option<Current>,
    tracked: Option<Lsn>,
    recovery: Recovery,
    buf: Vec<u8>,
}

impl BitmapWriter {
    /// Opens `dir` for writing and repairs the newest non-empty file (see the type docs).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let w = lsn_bitmap::BitmapWriter::open(dir.path(), Default::default()).unwrap();
    /// assert!(w.current_file().is_none());
    /// ```
    pub fn open(dir: impl AsRef<Path>, options: WriterOptions) -> Result<BitmapWriter, Error> {
        let dir = dir.as_ref();
        let listing = BitmapDir::open(dir)?;
        let files = listing.files();
        let next_seq = files
            .iter()
            .map(|f| f.name.seq)
            .max()
            .map_or(1, |s| s.saturating_add(1));
        let last_name_lsn = files.iter().map(|f| f.name.start_lsn).max();
        let mut recovery = Recovery::default();
        if let Some(newest) = files.iter().filter(|f| f.len > 0).max_by_key(|f| f.name) {
            let reader = RunReader::open(&newest.path, Some(newest.name.start_lsn))?;
            let complete_end = reader.complete_end();
            let len = BlockReader::open(&newest.path)?.len();
            let last_tracked = if complete_end == 0 {
                newest.name.start_lsn
            } else {
                let mut blocks = BlockReader::open(&newest.path)?;
                let mut buf = Box::new([0u8; BLOCK_SIZE]);
                blocks.read_block_at(complete_end - BLOCK_SIZE as u64, &mut buf)?;
                crate::Block::from_array(&buf).end_lsn()
            };
            if complete_end < len {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&newest.path)
                    .map_err(|e| Error::io(&newest.path, 0, e))?;
                f.set_len(complete_end)
                    .map_err(|e| Error::io(&newest.path, complete_end, e))?;
                if options.sync {
                    f.sync_all()
                        .map_err(|e| Error::io(&newest.path, complete_end, e))?;
                }
            }
            // A newer, empty file already claims tracking started at its name LSN; resuming
            // before it would make names go backwards in LSN.
            let last_tracked = files
                .iter()
                .filter(|f| f.name > newest.name)
                .map(|f| f.name.start_lsn)
                .fold(last_tracked, Lsn::max);
            recovery = Recovery {
                file: Some(newest.path.clone()),
                last_tracked_lsn: Some(last_tracked),
                truncated_bytes: len - complete_end.min(len),
            };
        }
        if recovery.last_tracked_lsn.is_none() {
            // Only empty files: tracking began at the newest name and nothing was written.
            recovery.last_tracked_lsn = last_name_lsn;
        }
        Ok(BitmapWriter {
            dir: dir.to_path_buf(),
            options,
            next_seq,
            last_name_lsn,
            current: None,
            tracked: recovery.last_tracked_lsn,
            recovery,
            buf: Vec::new(),
        })
    }

    /// What [`BitmapWriter::open`] found.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let w = lsn_bitmap::BitmapWriter::open(dir.path(), Default::default()).unwrap();
    /// assert_eq!(w.recovery().truncated_bytes, 0);
    /// ```
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The LSN tracked so far (the start of the next run).
    ///
    /// ```
    /// use innodb_page::Lsn;
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut w = lsn_bitmap::BitmapWriter::open(dir.path(), Default::default()).unwrap();
    /// w.start_file(Lsn::new(10)).unwrap();
    /// assert_eq!(w.tracked_lsn(), Some(Lsn::new(10)));
    /// ```
    pub fn tracked_lsn(&self) -> Option<Lsn> {
        self.tracked
    }

    /// The file being appended to.
    ///
    /// ```
    /// use innodb_page::Lsn;
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut w = lsn_bitmap::BitmapWriter::open(dir.path(), Default::default()).unwrap();
    /// let p = w.start_file(Lsn::new(10)).unwrap();
    /// assert_eq!(w.current_file(), Some(p.as_path()));
    /// ```
    pub fn current_file(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }

    /// Closes the current file (if any) and creates the next one, named with `start_lsn`,
    /// which also becomes the tracked LSN. An existing empty file of that name is replaced.
    ///
    /// ```
    /// use innodb_page::Lsn;
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut w = lsn_bitmap::BitmapWriter::open(dir.path(), Default::default()).unwrap();
    /// let p = w.start_file(Lsn::new(10)).unwrap();
    /// assert!(p.ends_with("ib_modified_log_1_10.xdb"));
    /// assert!(w.start_file(Lsn::new(5)).is_err()); // names must not go back in LSN
    /// ```
    pub fn start_file(&mut self, start_lsn: Lsn) -> Result<PathBuf, Error> {
        if let Some(previous) = self.last_name_lsn
            && start_lsn < previous
        {
            return Err(Error::LsnBackwards {
                lsn: start_lsn,
                previous,
            });
        }
        self.current = None;
        let name = FileName {
            seq: self.next_seq,
            start_lsn,
        };
        let path = self.dir.join(name.to_string());
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() == 0 => {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, 0, e))?
            }
            Ok(_) => return Err(Error::FileExists { path }),
            Err(_) => {}
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, 0, e))?;
        if self.options.sync {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(&self.dir, 0, e))?;
        }
        self.next_seq = self.next_seq.saturating_add(1);
        self.last_name_lsn = Some(start_lsn);
        self.tracked = Some(start_lsn);
        self.current = Some(Current {
            file,
            path: path.clone(),
            offset: 0,
        });
        Ok(path)
    }

    /// Records one tracking pass from the tracked LSN to `end_lsn` with the pages it found.
    /// Returns the run written, or `None` if `pages` is empty (nothing is written, the
    /// tracked LSN still advances).
    ///
    /// After an I/O error the current file is abandoned (its torn tail is ignored by readers
    /// and removed by the next [`BitmapWriter::open`]); call
    /// [`BitmapWriter::start_file`] to continue.
    ///
    /// ```
    /// use innodb_page::Lsn;
    /// use lsn_bitmap::{BitmapWriter, ChangedPages, Error};
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut w = BitmapWriter::open(dir.path(), Default::default()).unwrap();
    /// let mut pages = ChangedPages::new();
    /// pages.insert(3, 3);
    /// assert!(matches!(w.write_run(Lsn::new(5), &pages), Err(Error::NoOpenFile)));
    /// w.start_file(Lsn::new(10)).unwrap();
    /// let run = w.write_run(Lsn::new(20), &pages).unwrap().unwrap();
    /// assert_eq!((run.offset, run.blocks), (0, 1));
    /// assert!(matches!(w.write_run(Lsn::new(20), &pages), Err(Error::EmptyRun { .. })));
    /// ```
    pub fn write_run(
        &mut self,
        end_lsn: Lsn,
        pages: &ChangedPages,
    ) -> Result<Option<WrittenRun>, Error> {
        let (Some(start_lsn), Some(_)) = (self.tracked, self.current.as_ref()) else {
            return Err(Error::NoOpenFile);
        };
        if end_lsn < start_lsn {
            return Err(Error::LsnBackwards {
                lsn: end_lsn,
                previous: start_lsn,
            });
        }
        if pages.is_empty() {
            self.tracked = Some(end_lsn);
            return Ok(None);
        }
        if end_lsn == start_lsn {
            return Err(Error::EmptyRun { start_lsn, end_lsn });
        }
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.offset >= self.options.max_file_size)
        {
            self.start_file(start_lsn)?;
        }
        let blocks = encode_run(&mut self.buf, start_lsn, end_lsn, pages);
        let Some(cur) = self.current.as_mut() else {
            return Err(Error::NoOpenFile);
        };
        let offset = cur.offset;
        let result = write_blocks(cur, &self.buf, self.options.sync);
        if let Err(e) = result {
            self.current = None;
            return Err(e);
        }
        cur.offset += self.buf.len() as u64;
        let path = cur.path.clone();
        self.tracked = Some(end_lsn);
        Ok(Some(WrittenRun {
            path,
            offset,
            blocks,
        }))
    }
}

/// Encodes the run's blocks into `buf`; returns the block count.
fn encode_run(buf: &mut Vec<u8>, start_lsn: Lsn, end_lsn: Lsn, pages: &ChangedPages) -> u64 {
    buf.clear();
    let mut count = 0u64;
    for (key, bits) in pages.blocks() {
        let at = buf.len();
        buf.resize(at + BLOCK_SIZE, 0);
        if let Some(block) = buf.get_mut(at..) {
            encode_block(block, key, start_lsn, end_lsn, bits.as_bytes(), false);
        }
        count += 1;
    }
    let len = buf.len();
    if let Some(last) = len.checked_sub(BLOCK_SIZE).and_then(|at| buf.get_mut(at..)) {
        BigEndian::write_u32(&mut last[IS_LAST_OFFSET..IS_LAST_OFFSET + 4], 1);
        seal(last);
    }
    count
}

fn encode_block(
    block: &mut [u8],
    key: BlockKey,
    start_lsn: Lsn,
    end_lsn: Lsn,
    bitmap: &[u8],
    last: bool,
) {
    BigEndian::write_u32(
        &mut block[IS_LAST_OFFSET..IS_LAST_OFFSET + 4],
        u32::from(last),
    );
    BigEndian::write_u64(
        &mut block[START_LSN_OFFSET..START_LSN_OFFSET + 8],
        start_lsn.get(),
    );
    BigEndian::write_u64(
        &mut block[END_LSN_OFFSET..END_LSN_OFFSET + 8],
        end_lsn.get(),
    );
    BigEndian::write_u32(
        &mut block[SPACE_ID_OFFSET..SPACE_ID_OFFSET + 4],
        key.space_id,
    );
    BigEndian::write_u32(
        &mut block[FIRST_PAGE_OFFSET..FIRST_PAGE_OFFSET + 4],
        key.first_page_id,
    );
    block[BITMAP_OFFSET..BITMAP_OFFSET + BITMAP_LEN].copy_from_slice(bitmap);
    seal(block);
}

fn seal(block: &mut [u8]) {
    if let Ok(arr) = <&[u8; BLOCK_SIZE]>::try_from(&block[..BLOCK_SIZE]) {
        let sum = block_checksum(arr);
        BigEndian::write_u32(&mut block[CHECKSUM_OFFSET..BLOCK_SIZE], sum);
    }
}

/// Writes the blocks; with `sync`, the last block (the one that completes the run) only
/// after the others are durable, then syncs again.
fn write_blocks(cur: &mut Current, bytes: &[u8], sync: bool) -> Result<(), Error> {
    let path = cur.path.as_path();
    let io = |offset: u64| move |e| Error::io(path, offset, e);
    let split = bytes.len().saturating_sub(BLOCK_SIZE);
    let (body, last) = bytes.split_at(split);
    if sync {
        cur.file.write_all(body).map_err(io(cur.offset))?;
        cur.file.sync_data().map_err(io(cur.offset))?;
        cur.file
            .write_all(last)
            .map_err(io(cur.offset + split as u64))?;
        cur.file
            .sync_data()
            .map_err(io(cur.offset + split as u64))?;
    } else {
        cur.file.write_all(bytes).map_err(io(cur.offset))?;
    }
    Ok(())
}
