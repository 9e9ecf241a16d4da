//! A backup into your own destination: a [`Sink`] that keeps every file of the backup in memory
//! and, at the end, writes them as one tar archive (POSIX ustar, readable by `tar -tvf`) and
//! prints what it received: each file's size, and for every `.delta` its page count.
//!
//! ```sh
//! # the server stopped (or DATADIR a filesystem snapshot of it); /backups/full a backup of it
//! cargo run -p xb-examples --bin custom_sink -- --datadir /var/lib/mysql \
//!     --incremental-basedir /backups/full --tar /tmp/inc1.tar
//! cargo run -p xb-examples --bin custom_sink -- --datadir /var/lib/mysql   # a full backup
//! ```
//!
//! Options: `--datadir DIR` (required), `--incremental-basedir DIR` or `--incremental-lsn N`
//! (else a full backup), `--incremental-force-scan` (read every page even where changed-page
//! bitmaps would do), `--tar FILE` (else nothing is written, only the listing is printed).
//! Exit status 0 done, 2 error.
//!
//! What the engine expects of a sink: files are created one at a time, written sequentially and
//! `finish`ed (only then is a file complete); `Sink::finish` comes once after the last file.
//! A stream returns `None` from `SinkFile::seekable` (the default): the delta writer then keeps
//! one delta cluster in memory instead of patching headers in place. A tar header needs the
//! file's size before its bytes, which a sink only knows at `finish`: this one buffers each file
//! (fine for incrementals of modest size; a product would spool to disk or use a format with
//! trailing sizes).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use incremental_core::backup::sink::{check_relative, Sink, SinkFile};
use incremental_core::backup::{BackupOptions, BackupPlan, Incremental};
use incremental_core::delta::{DeltaReader, PageSize};
use incremental_core::meta::Meta;
use incremental_core::progress::{Cancel, NoProgress};
use innodb_page::Lsn;

/// The files received so far: (relative path, bytes), in the order they were finished.
type Files = Arc<Mutex<Vec<(PathBuf, Vec<u8>)>>>;

/// Keeps the backup in memory.
#[derive(Default)]
struct MemorySink {
    files: Files,
    finished: bool,
}

/// One file being written: its bytes, handed to the sink's list when finished.
struct MemoryFile {
    path: PathBuf,
    bytes: Vec<u8>,
    files: Files,
}

impl Write for MemoryFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SinkFile for MemoryFile {
    fn finish(self: Box<Self>) -> io::Result<()> {
        let me = *self;
        me.files
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .push((me.path, me.bytes));
        Ok(())
    }
}

impl Sink for MemorySink {
    fn create(&mut self, path: &Path) -> io::Result<Box<dyn SinkFile>> {
        check_relative(path)?;
        Ok(Box::new(MemoryFile {
            path: path.to_path_buf(),
            bytes: Vec::new(),
            files: Arc::clone(&self.files),
        }))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.finished = true;
        Ok(())
    }
}

/// Writes `value` in octal into the tar header field `field` (zero-padded, NUL-terminated).
fn octal(field: &mut [u8], value: u64) {
    let s = format!("{value:0w$o}\0", w = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// One POSIX ustar entry (header block, content, padding to 512 bytes).
fn tar_entry(out: &mut impl Write, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.to_string_lossy();
    let mut h = [0u8; 512];
    // Names longer than 100 bytes go into the prefix field, split at a '/'.
    let (prefix, base) = if name.len() <= 100 {
        ("", name.as_ref())
    } else {
        match name[..name.len().min(156)].rfind('/') {
            Some(i) if name.len() - i - 1 <= 100 => (&name[..i], &name[i + 1..]),
            _ => {
                return Err(io::Error::other(format!(
                    "{name}: name too long for a tar header"
                )))
            }
        }
    };
    h[..base.len()].copy_from_slice(base.as_bytes());
    octal(&mut h[100..108], 0o600);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], bytes.len() as u64);
    octal(&mut h[136..148], 0);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    out.write_all(&h)?;
    out.write_all(bytes)?;
    let pad = (512 - bytes.len() % 512) % 512;
    out.write_all(&vec![0u8; pad])
}

/// Data pages of a delta, read with the page size its `.meta` gives.
fn delta_pages(delta: &[u8], meta: Option<&Vec<u8>>) -> String {
    let Some(meta) = meta.and_then(|m| Meta::parse(m).ok()) else {
        return "no .meta".into();
    };
    let ps: PageSize = meta.physical_page_size();
    let mut r = DeltaReader::new(delta, ps);
    let mut n = 0u64;
    loop {
        match r.next_page() {
            Ok(Some(_)) => n += 1,
            Ok(None) => return format!("{n} page(s) of {ps} bytes, space id {:?}", meta.space_id),
            Err(e) => return format!("unreadable: {e}"),
        }
    }
}

struct Args {
    datadir: PathBuf,
    incremental: Option<Incremental>,
    force_scan: bool,
    tar: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut datadir, mut incremental, mut tar) = (None, None, None);
    let mut force_scan = false;
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--datadir" => datadir = Some(PathBuf::from(value()?)),
            "--incremental-basedir" => {
                incremental = Some(Incremental::Basedir(PathBuf::from(value()?)))
            }
            "--incremental-lsn" => {
                let v = value()?;
                let n = v
                    .parse()
                    .map_err(|_| format!("--incremental-lsn {v}: not a number"))?;
                incremental = Some(Incremental::Lsn(Lsn::new(n)));
            }
            "--incremental-force-scan" => force_scan = true,
            "--tar" => tar = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        datadir: datadir.ok_or("--datadir is required")?,
        incremental,
        force_scan,
        tar,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("custom_sink: {e}");
            }
            eprintln!(
                "usage: custom_sink --datadir DIR [--incremental-basedir DIR | --incremental-lsn N] \
                 [--incremental-force-scan] [--tar FILE]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("custom_sink: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(a: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = BackupOptions::new(&a.datadir);
    opts.incremental = a.incremental.clone();
    opts.force_scan = a.force_scan;
    let plan = BackupPlan::new(&opts)?;
    let mut sink = MemorySink::default();
    let report = plan.run(&mut sink, &NoProgress, &Cancel::new())?;
    assert!(sink.finished, "the engine finishes the sink");
    let files = std::mem::take(&mut *sink.files.lock().map_err(|_| "poisoned")?);
    println!(
        "{} backup, LSN {} to {}: {} files received, {} pages copied of {} read",
        if report.incremental {
            "incremental"
        } else {
            "full"
        },
        report.from_lsn,
        report.to_lsn,
        files.len(),
        report.pages_copied(),
        report.pages_scanned()
    );
    for (path, bytes) in &files {
        let name = path.to_string_lossy();
        let what = if let Some(stem) = name.strip_suffix(".delta") {
            let meta = files
                .iter()
                .find(|(p, _)| p.to_string_lossy() == format!("{stem}.meta"))
                .map(|(_, b)| b);
            delta_pages(bytes, meta)
        } else if name == "xtrabackup_checkpoints" {
            String::from_utf8_lossy(bytes).trim().replace('\n', ", ")
        } else {
            String::new()
        };
        println!("{:>10}  {}  {what}", bytes.len(), path.display());
    }
    if let Some(t) = &a.tar {
        let mut out = io::BufWriter::new(std::fs::File::create(t)?);
        for (path, bytes) in &files {
            tar_entry(&mut out, path, bytes)?;
        }
        out.write_all(&[0u8; 1024])?; // two zero blocks end the archive
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        println!("wrote {} ({} files)", t.display(), files.len());
    }
    Ok(())
}
