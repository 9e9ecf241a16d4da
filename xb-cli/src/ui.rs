//! How the CLI talks to a person: progress bars on a terminal, plain log lines otherwise, nothing
//! but errors with `--quiet`. The library reports through [`Progress`]; this turns it into output.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use incremental_core::progress::{Event, Progress};
use indicatif::{ProgressBar, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Sets `--quiet` for the whole run.
pub fn set_quiet(q: bool) {
    QUIET.store(q, Ordering::Relaxed);
}

/// True under `--quiet`.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A log line on stderr (`xb: ...`), unless `--quiet`.
pub fn note(msg: impl AsRef<str>) {
    if !quiet() {
        eprintln!("xb: {}", msg.as_ref());
    }
}

/// A line of a command's summary on standard output, unless `--quiet` (findings and errors
/// are printed whatever `--quiet` says; so is what a command exists to print).
pub fn summary(line: impl AsRef<str>) {
    if !quiet() {
        println!("{}", line.as_ref());
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The last component of `path` (the whole path if it has none).
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

/// Without a terminal, files at least this large get a log line of their own.
const LOG_FILE_BYTES: u64 = 1 << 20;

/// The [`Progress`] of every command: a bar when stderr is a terminal (drawn from the first
/// event with bytes to count), otherwise a line per large file and a line at most every 10
/// seconds with the bytes done; notes and the tracker's events as `xb: WHAT: ...` lines;
/// nothing under `--quiet`.
pub struct CliProgress {
    /// Stderr is a terminal (and not `--quiet`): draw a bar.
    terminal: bool,
    bar: OnceLock<ProgressBar>,
    what: &'static str,
    total: AtomicU64,
    done: AtomicU64,
    pages_scanned: AtomicU64,
    pages_copied: AtomicU64,
    last_line: Mutex<Instant>,
    started: Instant,
}

impl CliProgress {
    /// A reporter for an operation named `what` ("backup", "prepare", …).
    pub fn new(what: &'static str) -> CliProgress {
        CliProgress {
            terminal: !quiet() && std::io::stderr().is_terminal(),
            bar: OnceLock::new(),
            what,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            pages_scanned: AtomicU64::new(0),
            pages_copied: AtomicU64::new(0),
            last_line: Mutex::new(Instant::now()),
            started: Instant::now(),
        }
    }

    /// The bar, drawn from the first call, on a terminal.
    fn bar(&self) -> Option<&ProgressBar> {
        self.terminal.then(|| {
            self.bar.get_or_init(|| {
                let b = ProgressBar::new(0);
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} \
                         {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                b.set_prefix(self.what);
                b
            })
        })
    }

    /// A log line, above the bar if one is drawn.
    fn say(&self, msg: impl AsRef<str>) {
        match self.bar.get() {
            Some(b) => b.println(format!("xb: {}", msg.as_ref())),
            None => note(msg),
        }
    }

    /// Ends the bar and prints a summary line.
    pub fn finish(&self) {
        if let Some(b) = self.bar.get() {
            b.finish_and_clear();
        }
        let secs = self.started.elapsed().as_secs_f64();
        let done = self.done.load(Ordering::Relaxed);
        let written = match self.pages_copied.load(Ordering::Relaxed) {
            0 => String::new(),
            n => format!(", {n} pages written"),
        };
        // an operation that does not look at pages (extraction) says nothing of them
        let scanned = match (self.pages_scanned.load(Ordering::Relaxed), self.what) {
            (0, "extract") => String::new(),
            (n, _) => format!(", {n} pages scanned"),
        };
        note(format!(
            "{} done: {} read in {secs:.1} s ({}/s){scanned}{written}",
            self.what,
            human(done),
            human((done as f64 / secs.max(0.001)) as u64),
        ));
    }
}

impl Progress for CliProgress {
    fn event(&self, e: Event<'_>) {
        if quiet() {
            return;
        }
        match e {
            // an operation that finds more work as it goes plans again: the totals add up
            Event::Planned { files, bytes } => {
                let total = self.total.fetch_add(bytes, Ordering::Relaxed) + bytes;
                match self.bar() {
                    Some(b) => b.set_length(total),
                    None => note(format!("{}: {files} files, {}", self.what, human(bytes))),
                }
            }
            Event::FileStarted { path, bytes } => match self.bar() {
                Some(b) => b.set_message(path.display().to_string()),
                // Without a terminal: a line per large file (small ones would drown the log).
                None if bytes >= LOG_FILE_BYTES => note(format!(
                    "{} {} ({})",
                    self.what,
                    path.display(),
                    human(bytes)
                )),
                None => {}
            },
            Event::Pages {
                scanned,
                copied,
                bytes,
            } => {
                self.pages_scanned.fetch_add(scanned, Ordering::Relaxed);
                self.pages_copied.fetch_add(copied, Ordering::Relaxed);
                let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
                match self.bar() {
                    Some(b) => b.inc(bytes),
                    None => {
                        let mut last = self.last_line.lock().unwrap_or_else(|p| p.into_inner());
                        if last.elapsed() >= Duration::from_secs(10) {
                            *last = Instant::now();
                            note(format!(
                                "{}: {} of {}",
                                self.what,
                                human(done),
                                human(self.total.load(Ordering::Relaxed))
                            ));
                        }
                    }
                }
            }
            Event::FileDone { .. } => {}
            Event::Note { message } => self.say(message),
            Event::TrackStarted {
                read_lsn,
                run_start,
                resumed,
            } => self.say(if resumed {
                format!("{}: resuming at LSN {run_start}", self.what)
            } else {
                format!(
                    "{}: reading the redo log from LSN {read_lsn}; runs start at {run_start}",
                    self.what
                )
            }),
            Event::TrackGap { from, to, reason } => self.say(format!(
                "{}: GAP: changes from LSN {} to {to} are not tracked (incrementals across it \
                 will scan every page): {reason}",
                self.what,
                from.map_or_else(|| "?".into(), |l| l.to_string())
            )),
            Event::TrackRun {
                start,
                end,
                pages,
                path,
            } => self.say(format!(
                "{}: run LSN {start}..{end}: {pages} pages -> {}",
                self.what,
                file_name(path)
            )),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }

    #[test]
    fn counts_without_a_terminal() {
        let p = CliProgress::new("test");
        p.event(Event::Planned {
            files: 1,
            bytes: 100,
        });
        p.event(Event::Pages {
            scanned: 4,
            copied: 1,
            bytes: 100,
        });
        assert_eq!(p.done.load(Ordering::Relaxed), 100);
        assert_eq!(p.pages_copied.load(Ordering::Relaxed), 1);
    }
}
