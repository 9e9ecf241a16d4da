//! The copy pipeline: data files cut into read units (whole files or bitmap ranges, at most
//! `chunk_bytes` each) and non-InnoDB files cut the same way, read (see [`read`](super::read))
//! and page-checked by worker threads that each keep one read in flight, written in order by
//! the calling thread (see [`ordered`](super::ordered)). Memory: about three units per
//! thread, whatever the datadir size.
//!
//! Every data-file page read is checksum-verified, also in an incremental scan where most are
//! not copied: the LSN that decides whether a page is copied is itself part of the page, and
//! a page whose LSN bytes are damaged would otherwise be left out of the delta silently. The
//! check costs about 0.1 s of CPU per GB (CRC-32C in hardware); the scan is bound by the disk.

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use innodb_page::verify::check_page;
use innodb_page::Page;

use super::contents::{OtherFile, TablespacePlan};
use super::ordered::{ordered_map, Lanes};
use super::read::{self, AlignedBuf, SourceFile};
use super::report::{CorruptPage, TablespaceReport};
use super::sink::{FileMeta, Sink, SinkHandle};
use super::throttle::{self, ReadLimit};
use super::validate;
use super::BackupError;
use crate::encryption::KeyRing;
use crate::format::delta::{DeltaWriter, PageSize, SeekDeltaWriter};
use crate::format::meta::Meta;
use crate::format::Dialect;
use crate::progress::{Cancel, Event, Progress};

/// What to do with the pages read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Copy every page into a data file of the same name.
    Copy,
    /// Write pages with LSN ≥ threshold to `.delta` (+ `.meta`).
    Delta {
        /// The scan threshold.
        threshold: u64,
    },
}

/// What one read covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// Pages `pages` (file-relative) of file `file` of tablespace `ts`.
    Pages {
        ts: usize,
        file: usize,
        pages: Range<u64>,
    },
    /// Bytes `bytes` of non-InnoDB file `other`, copied as they are.
    Raw { other: usize, bytes: Range<u64> },
}

/// One read, and whether it opens or closes its output file.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub src: Source,
    pub first: bool,
    pub last: bool,
}

/// Marks the first and last of the units pushed since `start`.
fn mark_ends(out: &mut [Unit], start: usize) {
    if let Some(u) = out.get_mut(start) {
        u.first = true;
    }
    if let Some(u) = out.last_mut() {
        u.last = true;
    }
}

/// Cuts a file's page ranges into units of at most `per` pages; an empty range list gives one
/// empty unit, so that every file gets its output.
pub(crate) fn units_for_file(
    ts: usize,
    file: usize,
    ranges: &[Range<u64>],
    per: u64,
    out: &mut Vec<Unit>,
) {
    let start = out.len();
    let unit = |pages| Unit {
        src: Source::Pages { ts, file, pages },
        first: false,
        last: false,
    };
    for r in ranges {
        let mut p = r.start;
        while p < r.end {
            let e = (p + per.max(1)).min(r.end);
            out.push(unit(p..e));
            p = e;
        }
    }
    if out.len() == start {
        out.push(unit(0..0));
    }
    mark_ends(out, start);
}

/// Cuts non-InnoDB file `other` of `size` bytes into units of at most `chunk` bytes (one
/// empty unit for an empty file).
pub(crate) fn units_for_other(other: usize, size: u64, chunk: u64, out: &mut Vec<Unit>) {
    let start = out.len();
    let mut b = 0;
    loop {
        let e = (b + chunk.max(1)).min(size);
        out.push(Unit {
            src: Source::Raw { other, bytes: b..e },
            first: false,
            last: false,
        });
        b = e;
        if b >= size {
            break;
        }
    }
    mark_ends(out, start);
}

/// What one unit gave.
struct UnitOut {
    unit: Unit,
    /// The bytes read, in `buf.get(len)`.
    buf: AlignedBuf,
    len: usize,
    /// Positions (in the unit) of the pages that go into the delta.
    selected: Vec<u32>,
    scanned: u64,
    corrupt: Vec<CorruptPage>,
}

/// A reader thread's open file, kept while it reads units of the same file.
type OpenFile = Option<(Source, SourceFile)>;

fn same_file(a: &Source, b: &Source) -> bool {
    match (a, b) {
        (
            Source::Pages { ts, file, .. },
            Source::Pages {
                ts: t2, file: f2, ..
            },
        ) => ts == t2 && file == f2,
        (Source::Raw { other, .. }, Source::Raw { other: o2, .. }) => other == o2,
        _ => false,
    }
}

/// The pipeline's read side, shared by the reader threads.
struct Reader<'a> {
    tablespaces: &'a [TablespacePlan],
    others: &'a [OtherFile],
    mode: Mode,
    log_corruption: bool,
    hot: bool,
    /// Extended validation: the keys that decrypt encrypted pages for their own checksum.
    page_keys: Option<&'a KeyRing>,
    limit: Option<ReadLimit>,
    cancel: &'a Cancel,
    /// Buffers handed back by the writer.
    pool: Mutex<Vec<AlignedBuf>>,
}

impl Reader<'_> {
    fn buffer(&self, len: usize) -> AlignedBuf {
        let reused = self.pool.lock().ok().and_then(|mut p| p.pop());
        match reused {
            Some(b) if b.capacity() >= len => b,
            _ => AlignedBuf::new(len),
        }
    }

    /// Reads `len` bytes at `off` of `path` into `buf`, through the thread's open file
    /// (opened as `open_path`: the file itself, or the descriptor pinned for it).
    #[allow(clippy::too_many_arguments)]
    fn read(
        &self,
        open: &mut OpenFile,
        unit: &Unit,
        path: &Path,
        open_path: &Path,
        direct: bool,
        buf: &mut [u8],
        off: u64,
    ) -> Result<(), BackupError> {
        let io = |source| BackupError::Io {
            path: path.to_path_buf(),
            source,
        };
        if !open.as_ref().is_some_and(|(s, _)| same_file(s, &unit.src)) {
            *open = Some((
                unit.src.clone(),
                SourceFile::open(open_path, direct).map_err(io)?,
            ));
        }
        let Some((_, f)) = open.as_mut() else {
            return Ok(());
        };
        self.read_at(f, open_path, buf, off).map_err(|source| {
            if self.cancel.is_cancelled() {
                BackupError::Cancelled
            } else if source.kind() == std::io::ErrorKind::UnexpectedEof {
                BackupError::Inconsistent {
                    what: format!(
                        "{}: the file became shorter while it was read (it ended before byte \
                         {}): is a server running on this datadir?",
                        path.display(),
                        off + buf.len() as u64
                    ),
                }
            } else {
                BackupError::ReadAt {
                    path: path.to_path_buf(),
                    offset: off,
                    len: buf.len() as u64,
                    source,
                }
            }
        })
    }

    /// Reads `buf` at `off` of `f`: at once, or in pieces that keep to the read limit.
    fn read_at(
        &self,
        f: &mut SourceFile,
        open_path: &Path,
        buf: &mut [u8],
        off: u64,
    ) -> std::io::Result<()> {
        let Some(limit) = &self.limit else {
            return f.read_exact_at(open_path, buf, off);
        };
        let mut at = off;
        for piece in buf.chunks_mut(throttle::PIECE) {
            if !limit.take(piece.len() as u64, self.cancel) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "cancelled",
                ));
            }
            f.read_exact_at(open_path, piece, at)?;
            at += piece.len() as u64;
        }
        Ok(())
    }

    fn process(&self, open: &mut OpenFile, unit: &Unit) -> Result<UnitOut, BackupError> {
        if self.cancel.is_cancelled() {
            return Err(BackupError::Cancelled);
        }
        match &unit.src {
            Source::Raw { other, bytes } => {
                let f = &self.others[*other];
                let len = (bytes.end - bytes.start) as usize;
                let mut buf = self.buffer(len);
                if len > 0 {
                    let r = self.read(
                        open,
                        unit,
                        &f.src,
                        &f.src,
                        false,
                        buf.get_mut(len),
                        bytes.start,
                    );
                    match r {
                        // a live server's file that became shorter: copy what is there now,
                        // zero-padded (such files are copied under BACKUP STAGE BLOCK_COMMIT,
                        // where only logs and statistics tables still change)
                        Err(BackupError::Inconsistent { .. }) if self.hot => {
                            let b = buf.get_mut(len);
                            b.fill(0);
                            if let Ok(file) = std::fs::File::open(&f.src) {
                                let _ = read_upto(&file, b, bytes.start);
                            }
                        }
                        r => r?,
                    }
                }
                Ok(UnitOut {
                    unit: unit.clone(),
                    buf,
                    len,
                    selected: Vec::new(),
                    scanned: 0,
                    corrupt: Vec::new(),
                })
            }
            Source::Pages { ts, file, pages } => {
                self.process_pages(open, unit, &self.tablespaces[*ts], *file, pages)
            }
        }
    }

    fn process_pages(
        &self,
        open: &mut OpenFile,
        unit: &Unit,
        ts: &TablespacePlan,
        file_idx: usize,
        pages: &Range<u64>,
    ) -> Result<UnitOut, BackupError> {
        let file = &ts.files[file_idx];
        let ps = ts.page_size;
        let count = (pages.end - pages.start) as usize;
        let len = count * ps;
        let mut buf = self.buffer(len);
        let open_path = ts.open_path(file_idx);
        if count > 0 {
            let off = pages.start * ps as u64;
            self.read_pages(open, unit, &file.src, &open_path, buf.get_mut(len), off)?;
        }
        let mut out = UnitOut {
            unit: unit.clone(),
            buf,
            len,
            selected: Vec::new(),
            scanned: count as u64,
            corrupt: Vec::new(),
        };
        let all = out.buf.get_mut(len);
        for i in 0..count {
            let bytes = &mut all[i * ps..(i + 1) * ps];
            let local = pages.start + i as u64;
            let forced =
                self.verify_page(ts, file_idx, &open_path, local, bytes, &mut out.corrupt)?;
            if let Mode::Delta { threshold } = self.mode {
                let lsn = Page::new(&*bytes).map(|p| p.lsn().get()).unwrap_or(0);
                if forced || lsn >= threshold {
                    out.selected.push(i as u32);
                }
            }
        }
        Ok(out)
    }

    /// Reads pages of data file `path` (opened as `open_path`) at `off` into `buf`.
    fn read_pages(
        &self,
        open: &mut OpenFile,
        unit: &Unit,
        path: &Path,
        open_path: &Path,
        buf: &mut [u8],
        off: u64,
    ) -> Result<(), BackupError> {
        match self.read(open, unit, path, open_path, true, buf, off) {
            // A live tablespace cut short while it is read (an undo tablespace truncated,
            // a table dropped): the missing pages become zero pages (never written), and
            // the redo log or the DDL pass restores what matters.
            Err(BackupError::Inconsistent { .. }) if self.hot => {
                buf.fill(0);
                if let Ok(f) = std::fs::File::open(open_path) {
                    let _ = read_upto(&f, buf, off);
                }
                Ok(())
            }
            r => r,
        }
    }

    /// Verifies the page `bytes` read as page `local` of file `file_idx` of `ts` (opened as
    /// `open_path`). A corrupt page fails the backup, or with `log_corruption` is recorded in
    /// `corrupt`; returns whether it was (it then goes into a delta whatever its LSN).
    fn verify_page(
        &self,
        ts: &TablespacePlan,
        file_idx: usize,
        open_path: &Path,
        local: u64,
        bytes: &mut [u8],
        corrupt: &mut Vec<CorruptPage>,
    ) -> Result<bool, BackupError> {
        let file = &ts.files[file_idx];
        let global = file.first_page + local;
        // Every page read is verified, copied or not: a page whose LSN field is damaged
        // could otherwise look unchanged and be left out of the delta without a word.
        let mut problem = page_problem(ts, self.page_keys, global, bytes);
        if problem.is_some() && self.hot {
            problem = reread_until_sound(ts, self.page_keys, open_path, global, local, bytes);
            if problem.is_some() && unlinked(ts, file_idx) {
                // a dropped table's file: torn pages do not matter, the backup deletes it
                problem = None;
            }
        }
        let Some(problem) = problem else {
            return Ok(false);
        };
        if !self.log_corruption {
            return Err(BackupError::CorruptPage {
                path: file.src.clone(),
                page_no: local,
                problem,
            });
        }
        corrupt.push(CorruptPage {
            page_no: global,
            problem,
        });
        Ok(true)
    }
}

/// What is wrong with page `global` of `ts` (`None`: sound); with `keys` (extended
/// validation), an encrypted page is also decrypted and its own checksum checked.
fn page_problem(
    ts: &TablespacePlan,
    keys: Option<&KeyRing>,
    global: u64,
    bytes: &[u8],
) -> Option<String> {
    let page = Page::new(bytes).ok()?;
    let problem = check_page(
        &ts.format,
        &ts.checksum,
        ts.doublewrite.as_ref(),
        global,
        page,
    )
    .problem
    .map(|p| p.to_string());
    match (problem, keys) {
        (None, Some(keys)) => validate::encrypted_page_problem(ts, keys, bytes),
        (problem, _) => problem,
    }
}

/// How often, and how long apart, a hot backup reads a page again that failed its checks
/// before calling it corrupt: a page write in progress lasts microseconds, a flush batch
/// milliseconds.
const REREADS: u32 = 8;

/// Reads page `local` of the file (opened as `open_path`) into `bytes` again, up to
/// [`REREADS`] times with growing pauses, until it passes its checks. Returns the problem of
/// the last read (`None`: sound).
fn reread_until_sound(
    ts: &TablespacePlan,
    keys: Option<&KeyRing>,
    open_path: &Path,
    global: u64,
    local: u64,
    bytes: &mut [u8],
) -> Option<String> {
    let ps = bytes.len() as u64;
    let mut problem = page_problem(ts, keys, global, bytes);
    let Ok(f) = std::fs::File::open(open_path) else {
        return problem;
    };
    for n in 0..REREADS {
        std::thread::sleep(std::time::Duration::from_millis(2u64 << n));
        bytes.fill(0);
        if read_upto(&f, bytes, local * ps).is_err() {
            return problem;
        }
        problem = page_problem(ts, keys, global, bytes);
        if problem.is_none() {
            break;
        }
    }
    problem
}

/// True when file `i` of `ts` was opened when planned and has been deleted since.
fn unlinked(ts: &TablespacePlan, i: usize) -> bool {
    use std::os::unix::fs::MetadataExt;
    ts.pinned
        .get(i)
        .and_then(|f| f.metadata().ok())
        .is_some_and(|m| m.nlink() == 0)
}

/// Reads as much of `buf` as the file has at `off` (buffered), leaving the rest as it is.
fn read_upto(f: &std::fs::File, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

enum Output {
    Copy(Box<dyn super::sink::SinkFile>),
    Seek(SeekDeltaWriter<SinkHandle>),
    Stream(DeltaWriter<SinkHandle>),
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn delta_err(path: &Path, e: crate::format::error::DeltaWriteError) -> BackupError {
    BackupError::Core(crate::Error::delta_write(path, e))
}

/// Output file name for a data file in `mode`.
pub(crate) fn out_name(rel: &Path, mode: Mode) -> PathBuf {
    match mode {
        Mode::Copy => rel.to_path_buf(),
        Mode::Delta { .. } => {
            let mut s = rel.as_os_str().to_owned();
            s.push(".delta");
            PathBuf::from(s)
        }
    }
}

fn meta_name(rel: &Path) -> PathBuf {
    let mut s = rel.as_os_str().to_owned();
    s.push(".meta");
    PathBuf::from(s)
}

/// Counts of the non-InnoDB files copied.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct OtherTotals {
    pub files: u64,
    pub bytes: u64,
}

/// The pipeline's write side: the calling thread, taking units in order.
struct Writer<'a> {
    tablespaces: &'a [TablespacePlan],
    others: &'a [OtherFile],
    reports: &'a mut [TablespaceReport],
    other_totals: OtherTotals,
    sink: &'a mut dyn Sink,
    progress: &'a dyn Progress,
    mode: Mode,
    current: Option<Output>,
}

impl Writer<'_> {
    /// Writes one unit's output; returns its buffer for reuse.
    fn handle(&mut self, o: UnitOut) -> Result<AlignedBuf, BackupError> {
        match &o.unit.src {
            Source::Pages { ts, file, .. } => self.handle_pages(&o, *ts, *file)?,
            Source::Raw { other, .. } => self.handle_raw(&o, *other)?,
        }
        Ok(o.buf)
    }

    fn handle_raw(&mut self, o: &UnitOut, other: usize) -> Result<(), BackupError> {
        let f = &self.others[other];
        let name = &f.rel;
        if o.unit.first {
            self.progress.event(Event::FileStarted {
                path: name,
                bytes: f.size,
            });
            let meta = FileMeta::new(name, Some(f.size));
            self.current = Some(Output::Copy(
                self.sink.create(&meta).map_err(write_err(name))?,
            ));
        }
        let Some(Output::Copy(out)) = self.current.as_mut() else {
            return Err(no_output(name));
        };
        out.write_all(o.buf.get(o.len)).map_err(write_err(name))?;
        self.other_totals.bytes += o.len as u64;
        self.progress.event(Event::Pages {
            scanned: 0,
            copied: 0,
            bytes: o.len as u64,
        });
        if o.unit.last {
            if let Some(Output::Copy(out)) = self.current.take() {
                out.finish().map_err(write_err(name))?;
            }
            self.other_totals.files += 1;
            self.progress.event(Event::FileDone { path: name });
        }
        Ok(())
    }

    fn handle_pages(
        &mut self,
        o: &UnitOut,
        ts_idx: usize,
        file_idx: usize,
    ) -> Result<(), BackupError> {
        let ts = &self.tablespaces[ts_idx];
        let name = out_name(&ts.files[file_idx].rel, self.mode);
        let ps = ts.page_size;
        if o.unit.first {
            self.open_pages(ts_idx, file_idx, &name)?;
        }
        let data = o.buf.get(o.len);
        let copied = match self.mode {
            Mode::Copy => o.scanned,
            Mode::Delta { .. } => o.selected.len() as u64,
        };
        let rep = &mut self.reports[ts_idx];
        let Some(out) = self.current.as_mut() else {
            return Err(no_output(&name));
        };
        out.write_unit(data, selected_pages(o, ps), &name, &mut rep.bytes_written)?;
        rep.pages_scanned += o.scanned;
        rep.pages_copied += copied;
        rep.bytes_read += o.scanned * ps as u64;
        rep.corrupt.extend(o.corrupt.iter().cloned());
        self.progress.event(Event::Pages {
            scanned: o.scanned,
            copied,
            bytes: o.scanned * ps as u64,
        });
        if o.unit.last {
            if let Some(out) = self.current.take() {
                out.finish(&name, &mut rep.bytes_written)?;
            }
            self.progress.event(Event::FileDone { path: &name });
        }
        Ok(())
    }

    /// Opens the output `name` of a data file at its first unit: the copy, or the `.delta`
    /// after its `.meta` is written whole.
    fn open_pages(
        &mut self,
        ts_idx: usize,
        file_idx: usize,
        name: &Path,
    ) -> Result<(), BackupError> {
        let tablespaces = self.tablespaces;
        let ts = &tablespaces[ts_idx];
        let file = &ts.files[file_idx];
        let ps = ts.page_size;
        self.progress.event(Event::FileStarted {
            path: &file.rel,
            bytes: file.pages * ps as u64,
        });
        let page_size = PageSize::new(ps).map_err(|_| BackupError::Unsupported {
            path: file.src.clone(),
            what: format!("page size {ps}"),
        })?;
        self.current = Some(match self.mode {
            Mode::Copy => {
                let meta = FileMeta::new(name, Some(file.pages * ps as u64));
                Output::Copy(self.sink.create(&meta).map_err(write_err(name))?)
            }
            Mode::Delta { .. } => {
                self.write_meta(ts_idx, &file.rel, page_size)?;
                self.open_delta(name, page_size)?
            }
        });
        Ok(())
    }

    /// Writes the `.meta` of the delta of data file `rel` of tablespace `ts_idx`.
    fn write_meta(
        &mut self,
        ts_idx: usize,
        rel: &Path,
        page_size: PageSize,
    ) -> Result<(), BackupError> {
        let ts = &self.tablespaces[ts_idx];
        let meta_path = meta_name(rel);
        let meta =
            Meta::new(page_size, ts.compressed, ts.space_id, ts.flags).to_bytes(Dialect::MariaDb);
        let mut m = self
            .sink
            .create(&FileMeta::new(&meta_path, Some(meta.len() as u64)))
            .map_err(write_err(&meta_path))?;
        m.write_all(&meta).map_err(write_err(&meta_path))?;
        m.finish().map_err(write_err(&meta_path))?;
        self.reports[ts_idx].bytes_written += meta.len() as u64;
        Ok(())
    }

    /// Opens the `.delta` `name`: written in place when the sink's file can seek, else as a
    /// stream.
    fn open_delta(&mut self, name: &Path, page_size: PageSize) -> Result<Output, BackupError> {
        let mut f = self
            .sink
            .create(&FileMeta::new(name, None))
            .map_err(write_err(name))?;
        Ok(if f.seekable().is_some() {
            Output::Seek(
                SeekDeltaWriter::new(SinkHandle(f), page_size).map_err(|e| delta_err(name, e))?,
            )
        } else {
            Output::Stream(DeltaWriter::new(SinkHandle(f), page_size))
        })
    }
}

/// The pages of unit `o` that go into a delta: (page number, its `ps` bytes).
fn selected_pages(o: &UnitOut, ps: usize) -> impl Iterator<Item = (u32, &[u8])> {
    let first_page = match &o.unit.src {
        Source::Pages { pages, .. } => pages.start,
        Source::Raw { .. } => 0,
    };
    let data = o.buf.get(o.len);
    o.selected.iter().filter_map(move |&i| {
        let at = i as usize * ps;
        let no = u32::try_from(first_page + u64::from(i)).unwrap_or(u32::MAX);
        data.get(at..at + ps).map(|page| (no, page))
    })
}

impl Output {
    /// Writes one unit of data file `name`: all its bytes `data` to a copy (counted in
    /// `written`), its `selected` pages to a delta.
    fn write_unit<'p>(
        &mut self,
        data: &[u8],
        selected: impl Iterator<Item = (u32, &'p [u8])>,
        name: &Path,
        written: &mut u64,
    ) -> Result<(), BackupError> {
        match self {
            Output::Copy(f) => {
                f.write_all(data).map_err(write_err(name))?;
                *written += data.len() as u64;
            }
            Output::Seek(w) => {
                for (no, page) in selected {
                    w.push(no, page).map_err(|e| delta_err(name, e))?;
                }
            }
            Output::Stream(w) => {
                for (no, page) in selected {
                    w.push(no, page).map_err(|e| delta_err(name, e))?;
                }
            }
        }
        Ok(())
    }

    /// Finishes data file `name`; a delta's bytes are counted in `written`.
    fn finish(self, name: &Path, written: &mut u64) -> Result<(), BackupError> {
        match self {
            Output::Copy(f) => f.finish().map_err(write_err(name))?,
            Output::Seek(w) => {
                let (h, stats) = w.finish().map_err(|e| delta_err(name, e))?;
                *written += stats.bytes;
                h.0.finish().map_err(write_err(name))?;
            }
            Output::Stream(w) => {
                let (h, stats) = w.finish().map_err(|e| delta_err(name, e))?;
                *written += stats.bytes;
                h.0.finish().map_err(write_err(name))?;
            }
        }
        Ok(())
    }
}

fn no_output(name: &Path) -> BackupError {
    BackupError::Inconsistent {
        what: format!("{}: internal error: no output open", name.display()),
    }
}

/// Bytes of non-InnoDB files queued for reading when the run starts (see
/// [`read::prefetch`]).
const PREFETCH_BUDGET: u64 = 64 << 20;

/// How the pipeline runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Copy or delta.
    pub mode: Mode,
    /// Reader threads (at least 1).
    pub threads: usize,
    /// Record corrupt pages instead of failing.
    pub log_corruption: bool,
    /// The source is a running server's datadir: read a page that fails its checks again
    /// before calling it corrupt; a file cut short ends in zero pages.
    pub hot: bool,
    /// Throttling: the bytes per second all threads read together (and no prefetching).
    pub read_limit: Option<u64>,
}

/// What one pipeline reads.
pub(crate) struct Pipeline<'a> {
    /// The tablespaces the units refer to.
    pub tablespaces: &'a [TablespacePlan],
    /// The non-InnoDB files the units refer to.
    pub others: &'a [OtherFile],
    /// The reads, in output order.
    pub units: &'a [Unit],
    /// How.
    pub settings: Settings,
    /// Extended validation: the keys that decrypt encrypted pages.
    pub page_keys: Option<&'a KeyRing>,
}

/// Reads the units (data-file pages and non-InnoDB files) on `settings.threads` threads, each
/// keeping a read in flight, and writes their output to `sink` in unit order on the calling
/// thread. Fills `reports` (one per tablespace); returns the non-InnoDB totals. Memory: about
/// `3 × threads` units' buffers, whatever the datadir size.
pub(crate) fn run(
    pipeline: Pipeline<'_>,
    sink: &mut dyn Sink,
    progress: &dyn Progress,
    cancel: &Cancel,
    reports: &mut [TablespaceReport],
) -> Result<OtherTotals, BackupError> {
    let Pipeline {
        tablespaces,
        others,
        units,
        settings,
        page_keys,
    } = pipeline;
    let threads = settings.threads.max(1);
    let reader = Reader {
        tablespaces,
        others,
        mode: settings.mode,
        log_corruption: settings.log_corruption,
        hot: settings.hot,
        page_keys,
        limit: settings.read_limit.map(ReadLimit::new),
        cancel,
        pool: Mutex::new(Vec::new()),
    };
    let mut writer = Writer {
        tablespaces,
        others,
        reports,
        other_totals: OtherTotals::default(),
        sink,
        progress,
        mode: settings.mode,
        current: None,
    };
    let lanes = Lanes {
        threads,
        ahead: 2 * threads,
    };
    std::thread::scope(|s| {
        if settings.read_limit.is_none() {
            // a throttled backup reads nothing ahead of its limit
            s.spawn(|| {
                let files = others.iter().map(|f| (f.src.as_path(), f.size));
                read::prefetch(files, PREFETCH_BUDGET);
            });
        }
        ordered_map(
            units,
            lanes,
            || None,
            |open: &mut OpenFile, u| reader.process(open, u),
            |o| {
                let buf = writer.handle(o)?;
                if let Ok(mut pool) = reader.pool.lock() {
                    pool.push(buf);
                }
                Ok(())
            },
        )
    })?;
    Ok(writer.other_totals)
}
