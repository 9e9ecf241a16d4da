//! Executing the steps of a plan. Every step is idempotent: run again after an interruption at
//! any point, it ends in the same bytes; a group of steps without a barrier ([`is_barrier`]) run
//! again from its first step after any of them ran also ends in the same bytes. So syncs are
//! grouped: a group's steps run without any fsync (the merges in parallel), then every file and
//! directory they changed is synced once ([`Pending::sync`]), and only then is the group recorded
//! as done in the journal.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::PrepareError;
use super::input::{read_error, Delta, Inputs, ReadAt};
use super::journal::{sync_dir, Merge, Step};
use crate::format::delta::{Checks, PageSize};
use crate::progress::{Cancel, Event, Progress};

/// Initial size of a tablespace mariabackup creates for a delta (`FIL_IBD_FILE_INITIAL_SIZE`).
const INITIAL_PAGES: u64 = 4;
/// Largest read or write issued at once.
const BATCH: usize = 4 << 20;

/// Counters of an execution.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counters {
    pub pages: u64,
    pub bytes: u64,
    pub files_merged: u64,
    pub files_created: u64,
    pub files_removed: u64,
    pub files_renamed: u64,
    pub files_copied: u64,
    pub files_kept: u64,
    pub files_extended: u64,
}

impl Counters {
    fn add(&mut self, o: Counters) {
        self.pages += o.pages;
        self.bytes += o.bytes;
        self.files_merged += o.files_merged;
        self.files_created += o.files_created;
        self.files_removed += o.files_removed;
        self.files_renamed += o.files_renamed;
        self.files_copied += o.files_copied;
        self.files_kept += o.files_kept;
        self.files_extended += o.files_extended;
    }
}

/// What must be made durable before the steps that changed it are recorded as done: the
/// files written and the directories whose entries changed. Collected over a group of steps,
/// then synced once ([`Pending::sync`]), in parallel.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    files: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

impl Pending {
    fn file(&mut self, p: &Path) {
        self.files.insert(p.to_path_buf());
    }

    fn parent_of(&mut self, p: &Path) {
        if let Some(d) = p.parent() {
            self.dirs.insert(d.to_path_buf());
        }
    }

    /// fsyncs every file, then every directory still present (a directory removed by a later
    /// step of the group has nothing left to sync; its parent is in the set).
    pub fn sync(&mut self) -> Result<(), PrepareError> {
        let files: Vec<PathBuf> = std::mem::take(&mut self.files).into_iter().collect();
        parallel(&files, |f| match File::open(f) {
            Ok(h) => h.sync_all().map_err(|e| PrepareError::io(f, e)),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(PrepareError::io(f, e)),
        })?;
        let dirs: Vec<PathBuf> = std::mem::take(&mut self.dirs).into_iter().collect();
        parallel(&dirs, |d| if d.exists() { sync_dir(d) } else { Ok(()) })?;
        Ok(())
    }
}

/// Runs `f` on every item, on up to as many threads as there are CPUs (at most 8), and returns
/// the results in order, or the first error (by item order).
fn parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, PrepareError> + Sync,
) -> Result<Vec<R>, PrepareError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<R, PrepareError>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                let failed = r.is_err();
                if let Ok(mut v) = slots.lock() {
                    v[i] = Some(r);
                }
                if failed {
                    // Let the other threads finish their current item only.
                    next.store(items.len(), Ordering::Relaxed);
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut out = Vec::with_capacity(items.len());
    for r in slots {
        match r {
            Some(r) => out.push(r?),
            // Skipped after an earlier failure, which is returned first.
            None => {
                return Err(PrepareError::Cancelled);
            }
        }
    }
    Ok(out)
}

/// Execution context.
pub(crate) struct Ctx<'a> {
    pub base: &'a Path,
    /// Where the incrementals' files are read from.
    pub inputs: &'a Inputs,
    pub progress: &'a dyn Progress,
    pub cancel: &'a Cancel,
    /// The pause after each batch of pages written ([`super::PrepareOptions::throttle`]).
    pub throttle: Option<Duration>,
    /// This execution resumes an interrupted one: files found already complete may not be
    /// durable yet, so they are synced too.
    pub resumed: bool,
    pub counters: Counters,
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Whether a step must run alone: made durable and recorded as done before the next step
/// starts. Renames (running one again after a later step moved its result would fail) and the
/// final metadata (`xb_backup_info`, the checkpoints file), which must only be written once
/// everything before is durable.
pub(crate) fn is_barrier(step: &Step) -> bool {
    match step {
        Step::Rename { .. } => true,
        Step::Write { to, .. } => to.to_str().is_some_and(|n| {
            n == crate::format::backup_info::FILE_NAME
                || crate::format::checkpoints::FILE_NAMES.contains(&n)
        }),
        _ => false,
    }
}

/// Whether the file `fa` and the file `b` have the same bytes (both read in chunks; a missing
/// `b` differs).
fn same_content(fa: &dyn ReadAt, b: &Path) -> Result<bool, PrepareError> {
    let mb = match fs::metadata(b) {
        Ok(m) => m,
        Err(e) if not_found(&e) => return Ok(false),
        Err(e) => return Err(PrepareError::io(b, e)),
    };
    let len = fa.size();
    if !mb.is_file() || len != mb.len() {
        return Ok(false);
    }
    let fb = File::open(b).map_err(|e| PrepareError::io(b, e))?;
    let mut ba = vec![0u8; (1 << 20).min(len.max(1) as usize)];
    let mut bb = vec![0u8; ba.len()];
    let mut off = 0u64;
    while off < len {
        let n = (len - off).min(ba.len() as u64) as usize;
        // A file changing under us only makes us copy it.
        if fa.read_exact_at(&mut ba[..n], off).is_err()
            || fb.read_exact_at(&mut bb[..n], off).is_err()
        {
            return Ok(false);
        }
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
        off += n as u64;
    }
    Ok(true)
}

impl Ctx<'_> {
    /// Runs a group of steps (no barrier among them, or a single barrier), deferring the
    /// syncs to `pending`. Consecutive merges run in parallel (their directories and full
    /// copies, which come before them in the plan, are created first).
    pub fn run_group(&mut self, steps: &[Step], pending: &mut Pending) -> Result<(), PrepareError> {
        let mut merges: Vec<&Merge> = Vec::new();
        for step in steps {
            if self.cancel.is_cancelled() {
                return Err(PrepareError::Cancelled);
            }
            match step {
                Step::Merge(m) => merges.push(m),
                Step::Mkdir(_) => self.run(step, pending)?,
                Step::Copy { to, .. } if !merges.iter().any(|m| &m.target == to) => {
                    self.run(step, pending)?
                }
                _ => {
                    self.run_merges(&merges, pending)?;
                    merges.clear();
                    self.run(step, pending)?;
                }
            }
        }
        self.run_merges(&merges, pending)
    }

    fn run_merges(&mut self, merges: &[&Merge], pending: &mut Pending) -> Result<(), PrepareError> {
        let this: &Ctx<'_> = self;
        let done = parallel(merges, |m| this.merge(m))?;
        for (m, c) in merges.iter().zip(&done) {
            let target = self.base.join(&m.target);
            pending.file(&target);
            if m.create {
                pending.parent_of(&target);
            }
            self.counters.add(*c);
        }
        Ok(())
    }

    /// Runs one step, deferring its syncs to `pending`.
    pub fn run(&mut self, step: &Step, pending: &mut Pending) -> Result<(), PrepareError> {
        match step {
            Step::Mkdir(r) => self.mkdir(r, pending),
            Step::Delete(r) => self.delete(r, pending),
            Step::Rmdir(r) => {
                let p = self.base.join(r);
                // Only an empty directory goes; anything else stays.
                if fs::remove_dir(&p).is_ok() {
                    pending.parent_of(&p);
                }
                Ok(())
            }
            Step::Rename { from, to } => self.rename(from, to, pending),
            Step::Copy { src, to } => self.copy(src, to, pending),
            Step::Write { to, bytes } => self.write(to, bytes, pending),
            Step::Extend { target, len } => self.extend(target, *len, pending),
            Step::Merge(m) => {
                let c = self.merge(m)?;
                let target = self.base.join(&m.target);
                pending.file(&target);
                if m.create {
                    pending.parent_of(&target);
                }
                self.counters.add(c);
                Ok(())
            }
        }
    }

    /// [`Step::Mkdir`].
    fn mkdir(&mut self, r: &Path, pending: &mut Pending) -> Result<(), PrepareError> {
        let base = self.base;
        let p = base.join(r);
        if !p.is_dir() {
            fs::create_dir_all(&p).map_err(|e| PrepareError::io(&p, e))?;
            // Every level may be new; syncing the existing ones is harmless.
            let mut d = p.as_path();
            while let Some(parent) = d.parent() {
                pending.dirs.insert(d.to_path_buf());
                pending.dirs.insert(parent.to_path_buf());
                if parent == base || !parent.starts_with(base) {
                    break;
                }
                d = parent;
            }
        }
        Ok(())
    }

    /// [`Step::Delete`].
    fn delete(&mut self, r: &Path, pending: &mut Pending) -> Result<(), PrepareError> {
        let p = self.base.join(r);
        match fs::remove_file(&p) {
            Ok(()) => self.counters.files_removed += 1,
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(PrepareError::io(&p, e)),
        }
        pending.parent_of(&p);
        Ok(())
    }

    /// [`Step::Rename`].
    fn rename(
        &mut self,
        from: &Path,
        to: &Path,
        pending: &mut Pending,
    ) -> Result<(), PrepareError> {
        let (f, t) = (self.base.join(from), self.base.join(to));
        match fs::symlink_metadata(&f) {
            Ok(_) => {
                fs::rename(&f, &t).map_err(|e| PrepareError::io(&f, e))?;
                self.counters.files_renamed += 1;
            }
            // Done before the interruption.
            Err(e) if not_found(&e) && fs::symlink_metadata(&t).is_ok() => {}
            Err(e) => return Err(PrepareError::io(&f, e)),
        }
        pending.parent_of(&f);
        pending.parent_of(&t);
        Ok(())
    }

    /// [`Step::Copy`].
    fn copy(&mut self, src: &Path, to: &Path, pending: &mut Pending) -> Result<(), PrepareError> {
        let t = self.base.join(to);
        let from = self.inputs.reader(src)?;
        if same_content(from.as_ref(), &t)? {
            // Already the incremental's bytes (unchanged since the target was taken,
            // or copied by an interrupted run: then make sure it is durable).
            if self.resumed {
                pending.file(&t);
                pending.parent_of(&t);
            }
            self.counters.files_kept += 1;
        } else {
            let tmp = tmp_name(&t);
            if self.inputs.in_stream(src) {
                copy_out(from.as_ref(), src, &tmp)?;
            } else {
                fs::copy(src, &tmp).map_err(|e| PrepareError::io(src, e))?;
            }
            fs::rename(&tmp, &t).map_err(|e| PrepareError::io(&t, e))?;
            pending.file(&t);
            pending.parent_of(&t);
            self.counters.files_copied += 1;
        }
        Ok(())
    }

    /// [`Step::Write`].
    fn write(
        &mut self,
        to: &Path,
        bytes: &[u8],
        pending: &mut Pending,
    ) -> Result<(), PrepareError> {
        let t = self.base.join(to);
        if fs::read(&t).is_ok_and(|old| old == bytes) {
            if self.resumed {
                pending.file(&t);
                pending.parent_of(&t);
            }
        } else {
            let tmp = tmp_name(&t);
            fs::write(&tmp, bytes).map_err(|e| PrepareError::io(&tmp, e))?;
            fs::rename(&tmp, &t).map_err(|e| PrepareError::io(&t, e))?;
            pending.file(&t);
            pending.parent_of(&t);
        }
        Ok(())
    }

    /// [`Step::Extend`]: zeroes appended up to `len` (a sparse extension, as the server's own
    /// is where the file system allows it). A missing file is an error: the plan found it.
    fn extend(&mut self, r: &Path, len: u64, pending: &mut Pending) -> Result<(), PrepareError> {
        let p = self.base.join(r);
        let f = OpenOptions::new()
            .write(true)
            .open(&p)
            .map_err(|e| PrepareError::io(&p, e))?;
        let have = f.metadata().map_err(|e| PrepareError::io(&p, e))?.len();
        if have < len {
            f.set_len(len).map_err(|e| PrepareError::io(&p, e))?;
            self.counters.files_extended += 1;
            pending.file(&p);
        } else if self.resumed {
            // Extended by the interrupted run: make sure it is durable.
            pending.file(&p);
        }
        Ok(())
    }

    /// Writes the pages of one file (no sync: the caller defers it). Returns its counters.
    fn merge(&self, m: &Merge) -> Result<Counters, PrepareError> {
        let mut counters = Counters::default();
        let target = self.base.join(&m.target);
        let ps = PageSize::new(m.page_size as usize).map_err(|e| PrepareError::Tablespace {
            path: target.clone(),
            why: e.to_string(),
        })?;
        let p = ps.get_u64();
        let layers = Layers::open(self.inputs, m, ps)?;
        self.progress.event(Event::FileStarted {
            path: &m.target,
            bytes: layers.pages * p,
        });
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(m.create)
            .truncate(false)
            .open(&target)
            .map_err(|e| PrepareError::io(&target, e))?;
        let io_err = |e| PrepareError::io(&target, e);
        let mut len = f.metadata().map_err(io_err)?.len();
        if m.create && len < INITIAL_PAGES * p {
            len = INITIAL_PAGES * p;
            f.set_len(len).map_err(io_err)?;
            counters.files_created += 1;
        }
        // Extension to FSP_SIZE of the newest page 0 (extend only), and for a .ibd file to the
        // server's minimum (a hot copy of a new table can be shorter than both).
        if m.extend
            && let Some((size, logical)) = layers.newest_fsp_size(ps)?
        {
            let mut want = u64::from(size) * p;
            if m.target.extension().is_some_and(|e| e == "ibd") {
                want = want.max(super::plan::ibd_min_len(logical));
            }
            if want > len {
                f.set_len(want).map_err(io_err)?;
                counters.files_extended += 1;
            }
        }
        let mut buf = vec![0u8; BATCH.max(ps.get())];
        let mut written = 0u64;
        for (layer, ks) in layers.wins.iter().enumerate() {
            written += self.write_layer(&f, &target, &layers.deltas[layer], ks, ps, &mut buf)?;
        }
        counters.pages += written;
        counters.bytes += written * p;
        counters.files_merged += 1;
        self.progress.event(Event::FileDone { path: &m.target });
        Ok(counters)
    }

    /// Writes the pages `ks` (indexes into the delta, ascending) of one delta into `f`, in
    /// runs contiguous in the delta of at most a batch, each run as few writes as its page
    /// numbers allow. Pauses after each batch when the options ask for it. Returns the pages
    /// written.
    fn write_layer(
        &self,
        f: &File,
        target: &Path,
        d: &Delta,
        ks: &[u32],
        ps: PageSize,
        buf: &mut [u8],
    ) -> Result<u64, PrepareError> {
        let p = ps.get_u64();
        let per = (buf.len() / ps.get()).max(1);
        let nos = d.index.page_nos();
        let mut written = 0u64;
        let mut i = 0;
        while i < ks.len() {
            if self.cancel.is_cancelled() {
                return Err(PrepareError::Cancelled);
            }
            // A run of pages contiguous in the delta (same cluster), at most a batch.
            let first = ks[i] as usize;
            let mut j = i + 1;
            while j < ks.len()
                && j - i < per
                && ks[j] as usize == first + (j - i)
                && d.index.page_offset(ks[j] as usize)
                    == d.index.page_offset(first).map(|o| o + (j - i) as u64 * p)
            {
                j += 1;
            }
            let n = j - i;
            let at = d.index.page_offset(first).unwrap_or(0);
            let chunk = &mut buf[..n * ps.get()];
            d.r.read_exact_at(chunk, at)
                .map_err(|e| read_error(&d.path, at, e))?;
            // Write runs of consecutive page numbers at once.
            let mut s = 0;
            while s < n {
                let mut e = s + 1;
                while e < n && nos[first + e] == nos[first + e - 1].wrapping_add(1) {
                    e += 1;
                }
                let off = u64::from(nos[first + s]) * p;
                let bytes = &chunk[s * ps.get()..e * ps.get()];
                f.write_all_at(bytes, off)
                    .map_err(|e| PrepareError::io(target, e))?;
                start_writeback(f, off, bytes.len() as u64);
                s = e;
            }
            written += n as u64;
            self.progress.event(Event::Pages {
                scanned: n as u64,
                copied: n as u64,
                bytes: n as u64 * p,
            });
            if let Some(pause) = self.throttle {
                std::thread::sleep(pause);
            }
            i = j;
        }
        Ok(written)
    }
}

/// The deltas of a merge, and which of them holds the newest copy of each page.
struct Layers {
    /// The deltas (files of directories or of streams).
    deltas: Vec<Delta>,
    /// For each delta, the indexes of the pages it wins (ascending).
    wins: Vec<Vec<u32>>,
    /// Layer and index of the newest page 0, if any delta carries one.
    page0: Option<(usize, usize)>,
    /// Pages written in all.
    pages: u64,
}

impl Layers {
    fn open(inputs: &Inputs, m: &Merge, ps: PageSize) -> Result<Layers, PrepareError> {
        let mut deltas = Vec::with_capacity(m.layers.len());
        let mut all: Vec<(u32, u32, u32)> = Vec::new(); // (page_no, !layer, index)
        for (layer, path) in m.layers.iter().enumerate() {
            let d = inputs.delta(path, ps, Checks::COMPATIBLE)?;
            for (k, &no) in d.index.page_nos().iter().enumerate() {
                all.push((no, !(layer as u32), k as u32));
            }
            deltas.push(d);
        }
        all.sort_unstable();
        all.dedup_by_key(|e| e.0); // keeps the first of each page: the newest layer
        let mut wins: Vec<Vec<u32>> = vec![Vec::new(); deltas.len()];
        for &(_, nl, k) in &all {
            wins[!nl as usize].push(k);
        }
        for w in &mut wins {
            w.sort_unstable();
        }
        let page0 = match all.first() {
            Some(&(0, nl, k)) => Some((!nl as usize, k as usize)),
            _ => None,
        };
        Ok(Layers {
            deltas,
            wins,
            page0,
            pages: all.len() as u64,
        })
    }

    /// `FSP_SIZE` of the newest page 0 (pages) and the logical page size its flags record, if
    /// any delta carries one.
    fn newest_fsp_size(&self, ps: PageSize) -> Result<Option<(u32, u32)>, PrepareError> {
        let Some((layer, k)) = self.page0 else {
            return Ok(None);
        };
        let mut page0 = vec![0u8; ps.get()];
        self.deltas[layer].read_page(k, &mut page0)?;
        let size = u32::from_be_bytes([page0[46], page0[47], page0[48], page0[49]]);
        let logical = super::plan::logical_page_size(&page0, ps.get() as u32);
        Ok(Some((size, logical)))
    }
}

/// Starts writing `len` bytes at `off` of `f` to disk without waiting (Linux
/// `sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that the disk works while the next pages are
/// copied and the final fsync only waits for the tail. Only a hint: errors are ignored (the
/// fsync that follows reports them).
fn start_writeback(f: &File, off: u64, len: u64) {
    use std::os::unix::io::AsRawFd;
    let (Ok(off), Ok(len)) = (libc::off64_t::try_from(off), libc::off64_t::try_from(len)) else {
        return;
    };
    // SAFETY: plain system call on a valid, open file descriptor; no memory is passed.
    let _ = unsafe { libc::sync_file_range(f.as_raw_fd(), off, len, libc::SYNC_FILE_RANGE_WRITE) };
}

/// Copies the file `r` (named `src`) to `to`.
fn copy_out(r: &dyn ReadAt, src: &Path, to: &Path) -> Result<(), PrepareError> {
    let f = File::create(to).map_err(|e| PrepareError::io(to, e))?;
    let mut buf = vec![0u8; BATCH.min(r.size().max(1) as usize)];
    let mut at = 0;
    while at < r.size() {
        let n = (r.size() - at).min(buf.len() as u64) as usize;
        r.read_exact_at(&mut buf[..n], at)
            .map_err(|e| read_error(src, at, e))?;
        f.write_all_at(&buf[..n], at)
            .map_err(|e| PrepareError::io(to, e))?;
        at += n as u64;
    }
    Ok(())
}

fn tmp_name(t: &Path) -> std::path::PathBuf {
    let mut name = t.file_name().unwrap_or_default().to_os_string();
    name.push(".xbtmp");
    t.with_file_name(name)
}
