//! A backup into your own destination: a [`Sink`] that writes the backup as one tar archive
//! (POSIX ustar, readable by `tar -tvf`) as the files come, and prints what it received: each
//! file's size, and for every `.delta` its page count.
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
//! `create` gets each file's size when the engine knows it before the bytes (data files,
//! non-InnoDB files, `.meta` and metadata files: exactly that many bytes follow), so this sink
//! writes the tar header at once and streams the bytes into the archive, holding nothing.
//! Files without a size (`.delta` files, `ib_logfile0`) are held in memory until `finish`,
//! when their size is known (a product would spool them to disk, or use a format with
//! trailing sizes). A stream returns `None` from `SinkFile::seekable` (the default): the delta
//! writer then keeps one delta cluster in memory instead of patching headers in place.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use incremental_core::backup::sink::{check_relative, FileMeta, Sink, SinkFile};
use incremental_core::backup::{BackupOptions, BackupPlan, Incremental};
use incremental_core::format::delta::{DeltaReader, PageSize};
use incremental_core::format::meta::Meta;
use incremental_core::progress::{Cancel, NoProgress};
use innodb_page::Lsn;

/// One file received: its path, its size, and its bytes when the listing needs them
/// (`.delta`, `.meta`, `xtrabackup_checkpoints`).
struct Received {
    path: PathBuf,
    size: u64,
    bytes: Option<Vec<u8>>,
}

/// What the sink and its open file share: the archive and the files received so far.
struct Shared {
    archive: Box<dyn Write + Send>,
    received: Vec<Received>,
}

type SharedRef = Arc<Mutex<Shared>>;

fn lock(s: &SharedRef) -> io::Result<std::sync::MutexGuard<'_, Shared>> {
    s.lock().map_err(|_| io::Error::other("poisoned"))
}

/// Writes the backup as a tar archive as it comes.
struct TarSink {
    shared: SharedRef,
    finished: bool,
}

/// Whether the listing shows something of the file's contents.
fn kept_for_listing(path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.ends_with(".delta") || name.ends_with(".meta") || name == "xtrabackup_checkpoints"
}

/// One file being written: streamed into the archive (size known) or held until `finish`.
struct TarFile {
    path: PathBuf,
    /// `Some(size)`: the header is written and the bytes go straight into the archive.
    size: Option<u64>,
    written: u64,
    held: Vec<u8>,
    shared: SharedRef,
}

impl Write for TarFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.size.is_some() {
            lock(&self.shared)?.archive.write_all(buf)?;
        }
        if self.size.is_none() || kept_for_listing(&self.path) {
            self.held.extend_from_slice(buf);
        }
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SinkFile for TarFile {
    fn finish(self: Box<Self>) -> io::Result<()> {
        let me = *self;
        let mut shared = lock(&me.shared)?;
        match me.size {
            Some(size) if size != me.written => {
                return Err(io::Error::other(format!(
                    "{}: {} bytes announced, {} written",
                    me.path.display(),
                    size,
                    me.written
                )));
            }
            Some(size) => padding(&mut shared.archive, size)?,
            None => {
                tar_header(&mut shared.archive, &me.path, me.written)?;
                shared.archive.write_all(&me.held)?;
                padding(&mut shared.archive, me.written)?;
            }
        }
        let bytes = kept_for_listing(&me.path).then_some(me.held);
        shared.received.push(Received {
            path: me.path,
            size: me.written,
            bytes,
        });
        Ok(())
    }
}

impl Sink for TarSink {
    fn create(&mut self, file: &FileMeta<'_>) -> io::Result<Box<dyn SinkFile>> {
        check_relative(file.path())?;
        if let Some(size) = file.size() {
            tar_header(&mut lock(&self.shared)?.archive, file.path(), size)?;
        }
        Ok(Box::new(TarFile {
            path: file.path().to_path_buf(),
            size: file.size(),
            written: 0,
            held: Vec::new(),
            shared: Arc::clone(&self.shared),
        }))
    }

    fn finish(&mut self) -> io::Result<()> {
        let mut shared = lock(&self.shared)?;
        shared.archive.write_all(&[0u8; 1024])?; // two zero blocks end the archive
        shared.archive.flush()?;
        self.finished = true;
        Ok(())
    }
}

/// Writes `value` in octal into the tar header field `field` (zero-padded, NUL-terminated).
fn octal(field: &mut [u8], value: u64) {
    let s = format!("{value:0w$o}\0", w = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// The header block of a POSIX ustar entry of `size` bytes.
fn tar_header(out: &mut dyn Write, path: &Path, size: u64) -> io::Result<()> {
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
                )));
            }
        }
    };
    h[..base.len()].copy_from_slice(base.as_bytes());
    octal(&mut h[100..108], 0o600);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
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
    out.write_all(&h)
}

/// The zeros after an entry of `size` bytes, up to the next 512-byte block.
fn padding(out: &mut dyn Write, size: u64) -> io::Result<()> {
    let pad = (512 - size % 512) % 512;
    out.write_all(&vec![0u8; pad as usize])
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
    opts.set_incremental(a.incremental.clone())
        .set_force_scan(a.force_scan);
    let plan = BackupPlan::new(&opts)?;
    let archive: Box<dyn Write + Send> = match &a.tar {
        Some(t) => Box::new(io::BufWriter::new(std::fs::File::create(t)?)),
        None => Box::new(io::sink()),
    };
    let shared = Arc::new(Mutex::new(Shared {
        archive,
        received: Vec::new(),
    }));
    let mut sink = TarSink {
        shared: Arc::clone(&shared),
        finished: false,
    };
    let report = plan.run(&mut sink, &NoProgress, &Cancel::new())?;
    assert!(sink.finished, "the engine finishes the sink");
    let files = std::mem::take(&mut lock(&shared)?.received);
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
    for f in &files {
        let name = f.path.to_string_lossy();
        let what = match (name.strip_suffix(".delta"), &f.bytes) {
            (Some(stem), Some(bytes)) => {
                let meta = files
                    .iter()
                    .find(|m| m.path.to_string_lossy() == format!("{stem}.meta"))
                    .and_then(|m| m.bytes.as_ref());
                delta_pages(bytes, meta)
            }
            (None, Some(bytes)) if name == "xtrabackup_checkpoints" => {
                String::from_utf8_lossy(bytes).trim().replace('\n', ", ")
            }
            _ => String::new(),
        };
        println!("{:>10}  {}  {what}", f.size, f.path.display());
    }
    if let Some(t) = &a.tar {
        println!("wrote {} ({} files)", t.display(), files.len());
    }
    Ok(())
}
