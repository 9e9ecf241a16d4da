//! Executing the steps of a plan. Every step is idempotent: run again after an interruption at
//! any point, it ends in the same bytes.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use super::journal::{sync_dir, Merge, Step};
use super::ApplyError;
use crate::delta::{Checks, DeltaFile, PageSize};
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
}

/// Execution context.
pub(crate) struct Ctx<'a> {
    pub base: &'a Path,
    pub progress: &'a dyn Progress,
    pub cancel: &'a Cancel,
    /// Test only: sleep this long per written page batch.
    pub delay: Option<Duration>,
    pub counters: Counters,
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

impl Ctx<'_> {
    pub fn run(&mut self, step: &Step) -> Result<(), ApplyError> {
        let base = self.base;
        match step {
            Step::Mkdir(r) => {
                let p = base.join(r);
                fs::create_dir_all(&p).map_err(|e| ApplyError::io(&p, e))?;
            }
            Step::Delete(r) => {
                let p = base.join(r);
                match fs::remove_file(&p) {
                    Ok(()) => self.counters.files_removed += 1,
                    Err(e) if not_found(&e) => {}
                    Err(e) => return Err(ApplyError::io(&p, e)),
                }
                sync_parent(&p)?;
            }
            Step::Rmdir(r) => {
                let p = base.join(r);
                // Only an empty directory goes; anything else stays.
                if fs::remove_dir(&p).is_ok() {
                    sync_parent(&p)?;
                }
            }
            Step::Rename { from, to } => {
                let (f, t) = (base.join(from), base.join(to));
                match fs::symlink_metadata(&f) {
                    Ok(_) => {
                        fs::rename(&f, &t).map_err(|e| ApplyError::io(&f, e))?;
                        self.counters.files_renamed += 1;
                    }
                    // Done before the interruption.
                    Err(e) if not_found(&e) && fs::symlink_metadata(&t).is_ok() => {}
                    Err(e) => return Err(ApplyError::io(&f, e)),
                }
                sync_parent(&f)?;
                sync_parent(&t)?;
            }
            Step::Copy { src, to } => {
                let t = base.join(to);
                let tmp = tmp_name(&t);
                fs::copy(src, &tmp).map_err(|e| ApplyError::io(src, e))?;
                File::open(&tmp)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| ApplyError::io(&tmp, e))?;
                fs::rename(&tmp, &t).map_err(|e| ApplyError::io(&t, e))?;
                sync_parent(&t)?;
                self.counters.files_copied += 1;
            }
            Step::Write { to, bytes } => {
                let t = base.join(to);
                let tmp = tmp_name(&t);
                fs::write(&tmp, bytes)
                    .and_then(|()| File::open(&tmp)?.sync_all())
                    .map_err(|e| ApplyError::io(&tmp, e))?;
                fs::rename(&tmp, &t).map_err(|e| ApplyError::io(&t, e))?;
                sync_parent(&t)?;
            }
            Step::Merge(m) => self.merge(m)?,
        }
        Ok(())
    }

    fn merge(&mut self, m: &Merge) -> Result<(), ApplyError> {
        let target = self.base.join(&m.target);
        let ps = PageSize::new(m.page_size as usize).map_err(|e| ApplyError::Tablespace {
            path: target.clone(),
            why: e.to_string(),
        })?;
        let p = ps.get_u64();
        // Every delta, and which of them holds the newest copy of each page.
        let mut deltas = Vec::with_capacity(m.layers.len());
        let mut handles = Vec::with_capacity(m.layers.len());
        let mut all: Vec<(u32, u32, u32)> = Vec::new(); // (page_no, !layer, index)
        for (layer, path) in m.layers.iter().enumerate() {
            let d = DeltaFile::open_with(path, ps, Checks::COMPATIBLE)?;
            // DeltaFile reads single pages; a second handle reads whole runs.
            handles.push(File::open(path).map_err(|e| ApplyError::io(path, e))?);
            for (k, &no) in d.index().page_nos().iter().enumerate() {
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

        self.progress.event(Event::FileStarted {
            path: &m.target,
            bytes: all.len() as u64 * p,
        });
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(m.create)
            .truncate(false)
            .open(&target)
            .map_err(|e| ApplyError::io(&target, e))?;
        let io_err = |e| ApplyError::io(&target, e);
        let mut len = f.metadata().map_err(io_err)?.len();
        if m.create && len < INITIAL_PAGES * p {
            len = INITIAL_PAGES * p;
            f.set_len(len).map_err(io_err)?;
            self.counters.files_created += 1;
        }
        // Extension to FSP_SIZE of the newest page 0 (extend only).
        if m.extend {
            if let Some(&(0, nl, k)) = all.first() {
                let mut page0 = vec![0u8; ps.get()];
                deltas[!nl as usize].read_page(k as usize, &mut page0)?;
                let size = u32::from_be_bytes([page0[46], page0[47], page0[48], page0[49]]);
                let want = u64::from(size) * p;
                if want > len {
                    f.set_len(want).map_err(io_err)?;
                }
            }
        }

        let mut buf = vec![0u8; BATCH.max(ps.get())];
        let per = (buf.len() / ps.get()).max(1);
        let mut written = 0u64;
        for (layer, ks) in wins.iter().enumerate() {
            let d = &deltas[layer];
            let nos = d.index().page_nos();
            let mut i = 0;
            while i < ks.len() {
                if self.cancel.is_cancelled() {
                    return Err(ApplyError::Cancelled);
                }
                // A run of pages contiguous in the delta (same cluster), at most a batch.
                let first = ks[i] as usize;
                let mut j = i + 1;
                while j < ks.len()
                    && j - i < per
                    && ks[j] as usize == first + (j - i)
                    && d.index().page_offset(ks[j] as usize)
                        == d.index().page_offset(first).map(|o| o + (j - i) as u64 * p)
                {
                    j += 1;
                }
                let n = j - i;
                let at = d.index().page_offset(first).unwrap_or(0);
                let chunk = &mut buf[..n * ps.get()];
                read_exact_at(&handles[layer], d.path(), chunk, at)?;
                // Write runs of consecutive page numbers at once.
                let mut s = 0;
                while s < n {
                    let mut e = s + 1;
                    while e < n && nos[first + e] == nos[first + e - 1].wrapping_add(1) {
                        e += 1;
                    }
                    let off = u64::from(nos[first + s]) * p;
                    f.write_all_at(&chunk[s * ps.get()..e * ps.get()], off)
                        .map_err(io_err)?;
                    s = e;
                }
                written += n as u64;
                self.progress.event(Event::Pages {
                    scanned: n as u64,
                    copied: n as u64,
                    bytes: n as u64 * p,
                });
                if let Some(delay) = self.delay {
                    std::thread::sleep(delay);
                }
                i = j;
            }
        }
        f.sync_all().map_err(io_err)?;
        if m.create {
            sync_parent(&target)?;
        }
        self.counters.pages += written;
        self.counters.bytes += written * p;
        self.counters.files_merged += 1;
        self.progress.event(Event::FileDone { path: &m.target });
        Ok(())
    }
}

fn read_exact_at(f: &File, path: &Path, buf: &mut [u8], at: u64) -> Result<(), ApplyError> {
    f.read_exact_at(buf, at).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ApplyError::Tablespace {
                path: path.to_path_buf(),
                why: format!("at offset {at}: truncated (changed since it was validated?)"),
            }
        } else {
            ApplyError::io(path, e)
        }
    })
}

fn tmp_name(t: &Path) -> std::path::PathBuf {
    let mut name = t.file_name().unwrap_or_default().to_os_string();
    name.push(".xbtmp");
    t.with_file_name(name)
}

fn sync_parent(p: &Path) -> Result<(), ApplyError> {
    match p.parent() {
        Some(d) if d.exists() => sync_dir(d),
        _ => Ok(()),
    }
}
