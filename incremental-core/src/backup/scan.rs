//! The page pipeline: data files cut into read units (whole files or bitmap ranges, at most
//! `chunk_bytes` each), read and checked in parallel a window at a time, written in order by
//! the calling thread. Memory: about three windows of units, whatever the datadir size.

use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};

use innodb_page::verify::check_page;
use innodb_page::Page;
use rayon::prelude::*;

use super::plan::TablespacePlan;
use super::report::{CorruptPage, TablespaceReport};
use super::sink::{Sink, SinkHandle};
use super::BackupError;
use crate::delta::{DeltaWriter, PageSize, SeekDeltaWriter};
use crate::meta::{Dialect, Meta};
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

/// One read: pages `pages` (file-relative) of file `file` of tablespace `ts`.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub ts: usize,
    pub file: usize,
    pub pages: Range<u64>,
    pub first: bool,
    pub last: bool,
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
    for r in ranges {
        let mut p = r.start;
        while p < r.end {
            let e = (p + per.max(1)).min(r.end);
            out.push(Unit {
                ts,
                file,
                pages: p..e,
                first: false,
                last: false,
            });
            p = e;
        }
    }
    if out.len() == start {
        out.push(Unit {
            ts,
            file,
            pages: 0..0,
            first: false,
            last: false,
        });
    }
    if let Some(u) = out.get_mut(start) {
        u.first = true;
    }
    if let Some(u) = out.last_mut() {
        u.last = true;
    }
}

struct UnitOut {
    unit: Unit,
    /// Selected page images, back to back.
    data: Vec<u8>,
    /// File-relative numbers of the pages in `data`.
    page_nos: Vec<u32>,
    scanned: u64,
    corrupt: Vec<CorruptPage>,
}

fn process(
    ts: &TablespacePlan,
    unit: &Unit,
    mode: Mode,
    log_corruption: bool,
) -> Result<UnitOut, BackupError> {
    let file = &ts.files[unit.file];
    let ps = ts.page_size;
    let count = (unit.pages.end - unit.pages.start) as usize;
    let mut buf = vec![0u8; count * ps];
    if count > 0 {
        let f = File::open(&file.src).map_err(|source| BackupError::Io {
            path: file.src.clone(),
            source,
        })?;
        let off = unit.pages.start * ps as u64;
        f.read_exact_at(&mut buf, off).map_err(|source| {
            if source.kind() == std::io::ErrorKind::UnexpectedEof {
                BackupError::Inconsistent {
                    what: format!(
                        "{}: the file became shorter while it was read (page {} is gone): is a \
                         server running on this datadir?",
                        file.src.display(),
                        unit.pages.end - 1
                    ),
                }
            } else {
                BackupError::Io {
                    path: file.src.clone(),
                    source,
                }
            }
        })?;
    }
    let mut out = UnitOut {
        unit: unit.clone(),
        data: Vec::new(),
        page_nos: Vec::new(),
        scanned: count as u64,
        corrupt: Vec::new(),
    };
    for (i, bytes) in buf.chunks_exact(ps).enumerate() {
        let local = unit.pages.start + i as u64;
        let global = file.first_page + local;
        let Ok(page) = Page::new(bytes) else {
            continue; // cannot happen: ps is a valid page size
        };
        let check = check_page(
            &ts.format,
            &ts.checksum,
            ts.doublewrite.as_ref(),
            global,
            page,
        );
        let mut forced = false;
        if let Some(problem) = check.problem {
            if !log_corruption {
                return Err(BackupError::CorruptPage {
                    path: file.src.clone(),
                    page_no: local,
                    problem: problem.to_string(),
                });
            }
            out.corrupt.push(CorruptPage {
                page_no: global,
                problem: problem.to_string(),
            });
            forced = true;
        }
        if let Mode::Delta { threshold } = mode {
            if forced || page.lsn().get() >= threshold {
                out.data.extend_from_slice(bytes);
                out.page_nos.push(u32::try_from(local).unwrap_or(u32::MAX));
            }
        }
    }
    if mode == Mode::Copy {
        out.data = buf;
    }
    Ok(out)
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

fn delta_err(path: &Path, e: crate::error::DeltaWriteError) -> BackupError {
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

struct Writer<'a> {
    tablespaces: &'a [TablespacePlan],
    reports: &'a mut [TablespaceReport],
    sink: &'a mut dyn Sink,
    progress: &'a dyn Progress,
    mode: Mode,
    current: Option<Output>,
}

impl Writer<'_> {
    fn handle(&mut self, o: UnitOut) -> Result<(), BackupError> {
        let ts = &self.tablespaces[o.unit.ts];
        let file = &ts.files[o.unit.file];
        let name = out_name(&file.rel, self.mode);
        let rep = &mut self.reports[o.unit.ts];
        if o.unit.first {
            self.progress.event(Event::FileStarted {
                path: &file.rel,
                bytes: file.pages * ts.page_size as u64,
            });
            let page_size = PageSize::new(ts.page_size).map_err(|_| BackupError::Unsupported {
                path: file.src.clone(),
                what: format!("page size {}", ts.page_size),
            })?;
            self.current = Some(match self.mode {
                Mode::Copy => Output::Copy(self.sink.create(&name).map_err(write_err(&name))?),
                Mode::Delta { .. } => {
                    let meta_path = meta_name(&file.rel);
                    let meta = Meta::new(page_size, ts.compressed, ts.space_id, ts.flags)
                        .to_bytes(Dialect::MariaDb);
                    let mut m = self
                        .sink
                        .create(&meta_path)
                        .map_err(write_err(&meta_path))?;
                    m.write_all(&meta).map_err(write_err(&meta_path))?;
                    m.finish().map_err(write_err(&meta_path))?;
                    rep.bytes_written += meta.len() as u64;
                    let mut f = self.sink.create(&name).map_err(write_err(&name))?;
                    if f.seekable().is_some() {
                        Output::Seek(
                            SeekDeltaWriter::new(SinkHandle(f), page_size)
                                .map_err(|e| delta_err(&name, e))?,
                        )
                    } else {
                        Output::Stream(DeltaWriter::new(SinkHandle(f), page_size))
                    }
                }
            });
        }
        let copied = match self.mode {
            Mode::Copy => o.unit.pages.end - o.unit.pages.start,
            Mode::Delta { .. } => o.page_nos.len() as u64,
        };
        match self.current.as_mut() {
            Some(Output::Copy(f)) => {
                f.write_all(&o.data).map_err(write_err(&name))?;
                rep.bytes_written += o.data.len() as u64;
            }
            Some(Output::Seek(w)) => {
                for (no, page) in o.page_nos.iter().zip(o.data.chunks_exact(ts.page_size)) {
                    w.push(*no, page).map_err(|e| delta_err(&name, e))?;
                }
            }
            Some(Output::Stream(w)) => {
                for (no, page) in o.page_nos.iter().zip(o.data.chunks_exact(ts.page_size)) {
                    w.push(*no, page).map_err(|e| delta_err(&name, e))?;
                }
            }
            None => {
                return Err(BackupError::Inconsistent {
                    what: format!("{}: internal error: no output open", name.display()),
                })
            }
        }
        rep.pages_scanned += o.scanned;
        rep.pages_copied += copied;
        rep.bytes_read += o.scanned * ts.page_size as u64;
        rep.corrupt.extend(o.corrupt);
        self.progress.event(Event::Pages {
            scanned: o.scanned,
            copied,
            bytes: o.scanned * ts.page_size as u64,
        });
        if o.unit.last {
            match self.current.take() {
                Some(Output::Copy(f)) => f.finish().map_err(write_err(&name))?,
                Some(Output::Seek(w)) => {
                    let (h, stats) = w.finish().map_err(|e| delta_err(&name, e))?;
                    rep.bytes_written += stats.bytes;
                    h.0.finish().map_err(write_err(&name))?;
                }
                Some(Output::Stream(w)) => {
                    let (h, stats) = w.finish().map_err(|e| delta_err(&name, e))?;
                    rep.bytes_written += stats.bytes;
                    h.0.finish().map_err(write_err(&name))?;
                }
                None => {}
            }
            self.progress.event(Event::FileDone { path: &name });
        }
        Ok(())
    }

    fn drain(
        &mut self,
        rx: Receiver<Result<Vec<UnitOut>, BackupError>>,
    ) -> Result<(), BackupError> {
        for batch in rx {
            for o in batch? {
                self.handle(o)?;
            }
        }
        Ok(())
    }
}

/// Runs `units` through the pipeline: parallel reads (`threads` rayon workers, `window` units
/// at a time), ordered writes to `sink`. Fills `reports` (one per tablespace).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    tablespaces: &[TablespacePlan],
    units: &[Unit],
    mode: Mode,
    threads: usize,
    log_corruption: bool,
    sink: &mut dyn Sink,
    progress: &dyn Progress,
    cancel: &Cancel,
    reports: &mut [TablespaceReport],
) -> Result<(), BackupError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| BackupError::Inconsistent {
            what: format!("cannot start reader threads: {e}"),
        })?;
    let window = (pool.current_num_threads() * 2).max(4);
    let (tx, rx) = sync_channel::<Result<Vec<UnitOut>, BackupError>>(1);
    let mut writer = Writer {
        tablespaces,
        reports,
        sink,
        progress,
        mode,
        current: None,
    };
    std::thread::scope(|s| {
        s.spawn(move || {
            pool.install(|| {
                for w in units.chunks(window) {
                    if cancel.is_cancelled() {
                        let _ = tx.send(Err(BackupError::Cancelled));
                        return;
                    }
                    let res: Result<Vec<UnitOut>, BackupError> = w
                        .par_iter()
                        .map(|u| process(&tablespaces[u.ts], u, mode, log_corruption))
                        .collect();
                    let failed = res.is_err();
                    if tx.send(res).is_err() || failed {
                        return;
                    }
                }
            })
        });
        writer.drain(rx)
    })
}
