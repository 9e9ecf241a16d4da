//! I/O faults injected under a real program: the `faultfs` `LD_PRELOAD` library
//! (`tests/faultfs`, whose crate docs describe the mechanism and its environment variables),
//! built on first use, and a [`Fault`] that sets a [`Command`] up to run under it.
//!
//! ```no_run
//! use std::process::Command;
//! use xb_testkit::faults::{Errno, Fault, FaultOp};
//!
//! # fn main() -> Result<(), xb_testkit::faults::FaultsError> {
//! let dir = tempfile::tempdir().unwrap();
//! let log = dir.path().join("faults.log");
//! let mut cmd = Command::new("dd");
//! cmd.args(["if=/dev/zero", "count=8"]).arg(format!("of={}", dir.path().join("out").display()));
//! Fault::new("/out", FaultOp::Write).errno(Errno::Enospc).offset(1024).apply(&mut cmd, &log)?;
//! assert!(!cmd.status().unwrap().success());
//! let hits = xb_testkit::faults::injected(&log)?;
//! assert_eq!(hits[0].offset, Some(1024));
//! # Ok(())
//! # }
//! ```

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Environment variable naming an already built `libfaultfs.so`, used instead of building it.
pub const SHIM_ENV: &str = "XB_FAULTFS_SO";

/// What can go wrong when setting faults up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaultsError {
    /// `cargo build -p faultfs` failed or could not be run.
    #[error("cannot build the faultfs library ({command}): {detail}")]
    Build {
        /// The command line.
        command: String,
        /// Its standard error, or why it could not start.
        detail: String,
    },
    /// The library is not where it should be after the build.
    #[error("faultfs library missing: {}", path.display())]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The fault log could not be read.
    #[error("cannot read the fault log {}: {source}", path.display())]
    Log {
        /// The log.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// The workspace's root directory (this crate lives in `tests/kit`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The path of `libfaultfs.so`: [`SHIM_ENV`] when set, else built once per process with
/// `cargo build -p faultfs` into `target/faultfs` (a target directory of its own, so that the
/// build neither waits for nor disturbs other cargo commands using `target/`).
pub fn shim() -> Result<PathBuf, FaultsError> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if let Some(p) = std::env::var_os(SHIM_ENV) {
        let p = PathBuf::from(p);
        return match p.is_file() {
            true => Ok(p),
            false => Err(FaultsError::Missing { path: p }),
        };
    }
    let root = workspace_root();
    let target = root.join("target").join("faultfs");
    let so = target.join("debug").join("libfaultfs.so");
    let r = BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(&root)
            .args(["build", "--quiet", "-p", "faultfs", "--target-dir"])
            .arg(&target)
            // never under a fault itself
            .env_remove("LD_PRELOAD");
        let shown = format!(
            "{} build -p faultfs --target-dir {}",
            cargo.to_string_lossy(),
            target.display()
        );
        match cmd.output() {
            Ok(o) if o.status.success() => Ok(so.clone()),
            Ok(o) => Err(format!("{shown}\n{}", String::from_utf8_lossy(&o.stderr))),
            Err(e) => Err(format!("{shown}\n{e}")),
        }
    });
    match r {
        Ok(p) if p.is_file() => Ok(p.clone()),
        Ok(p) => Err(FaultsError::Missing { path: p.clone() }),
        Err(detail) => Err(FaultsError::Build {
            command: "cargo build -p faultfs".into(),
            detail: detail.clone(),
        }),
    }
}

/// The kind of call a [`Fault`] fails (`FAULTFS_OP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultOp {
    /// `read`, `pread64`, … and the source side of `copy_file_range`/`sendfile`.
    Read,
    /// `write`, `pwrite64`, … and the destination side of `copy_file_range`/`sendfile`.
    Write,
    /// `fsync`, `fdatasync`, `syncfs`, `sync_file_range`.
    Fsync,
    /// `close`.
    Close,
}

impl FaultOp {
    fn name(self) -> &'static str {
        match self {
            FaultOp::Read => "read",
            FaultOp::Write => "write",
            FaultOp::Fsync => "fsync",
            FaultOp::Close => "close",
        }
    }
}

/// The error a [`Fault`] returns (`FAULTFS_ERRNO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Errno {
    /// `EIO`: an I/O error (a bad sector, a failed writeback).
    Eio,
    /// `ENOSPC`: no space left on the device.
    Enospc,
}

impl Errno {
    /// The symbolic name (`EIO`), as the fault log writes it.
    pub fn name(self) -> &'static str {
        match self {
            Errno::Eio => "EIO",
            Errno::Enospc => "ENOSPC",
        }
    }

    /// The text `strerror` gives, as a Rust `io::Error` shows it.
    pub fn message(self) -> &'static str {
        match self {
            Errno::Eio => "Input/output error",
            Errno::Enospc => "No space left on device",
        }
    }
}

/// One fault: which calls of which files fail, and how. Built with [`Fault::new`] and the
/// consuming setters, then put on a command with [`Fault::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fault {
    path: String,
    op: FaultOp,
    calls: Vec<String>,
    errno: Errno,
    offset: Option<u64>,
    nth: u64,
    repeat: bool,
    short: bool,
}

impl Fault {
    /// Fails the first `op` call on a file whose path contains `path` (absolute, symbolic
    /// links resolved), with `EIO`.
    pub fn new(path: impl Into<String>, op: FaultOp) -> Fault {
        Fault {
            path: path.into(),
            op,
            calls: Vec::new(),
            errno: Errno::Eio,
            offset: None,
            nth: 1,
            repeat: false,
            short: false,
        }
    }

    /// Only calls of the libc function `name` (`syncfs`, `pwrite64`, …) qualify; may be given
    /// several times (default: every function of the operation).
    pub fn call(mut self, name: &str) -> Fault {
        self.calls.push(name.into());
        self
    }

    /// The error returned (default `EIO`).
    pub fn errno(mut self, errno: Errno) -> Fault {
        self.errno = errno;
        self
    }

    /// Only reads/writes whose byte range reaches `offset` qualify.
    pub fn offset(mut self, offset: u64) -> Fault {
        self.offset = Some(offset);
        self
    }

    /// The `n`th qualifying call fails (1-based; default 1).
    pub fn nth(mut self, n: u64) -> Fault {
        self.nth = n.max(1);
        self
    }

    /// Every qualifying call from the chosen one on fails, not only that one.
    pub fn repeat(mut self, repeat: bool) -> Fault {
        self.repeat = repeat;
        self
    }

    /// The chosen calls move half their bytes instead of failing.
    pub fn short(mut self, short: bool) -> Fault {
        self.short = short;
        self
    }

    /// Sets `cmd` up to run under the fault (building the library if needed); each injected
    /// fault appends a line to `log` (read it with [`injected`]).
    pub fn apply(&self, cmd: &mut Command, log: &Path) -> Result<(), FaultsError> {
        cmd.env("LD_PRELOAD", shim()?)
            .env("FAULTFS_PATH", &self.path)
            .env("FAULTFS_OP", self.op.name())
            .env("FAULTFS_ERRNO", self.errno.name())
            .env("FAULTFS_NTH", self.nth.to_string())
            .env("FAULTFS_REPEAT", if self.repeat { "1" } else { "0" })
            .env("FAULTFS_SHORT", if self.short { "1" } else { "0" })
            .env("FAULTFS_LOG", log)
            .env_remove("FAULTFS_INHERIT");
        match self.calls.is_empty() {
            true => cmd.env_remove("FAULTFS_CALL"),
            false => cmd.env("FAULTFS_CALL", self.calls.join(",")),
        };
        match self.offset {
            Some(o) => cmd.env("FAULTFS_OFFSET", o.to_string()),
            None => cmd.env_remove("FAULTFS_OFFSET"),
        };
        Ok(())
    }
}

/// One fault the library injected: a line of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Injected {
    /// The process.
    pub pid: u32,
    /// The libc function (`pread64`, `write`, `syncfs`, …).
    pub call: String,
    /// Its kind (`read`, `write`, `fsync`, `close`).
    pub op: String,
    /// The file's path.
    pub path: String,
    /// The call's byte offset, if it has one.
    pub offset: Option<u64>,
    /// The call's length in bytes, if it has one.
    pub len: Option<u64>,
    /// `EIO(5)`, `ENOSPC(28)`, `short(N)`.
    pub result: String,
}

/// The faults logged in `log` (none if it does not exist), in order.
pub fn injected(log: &Path) -> Result<Vec<Injected>, FaultsError> {
    let text = match fs::read_to_string(log) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(FaultsError::Log {
                path: log.into(),
                source,
            });
        }
    };
    Ok(text.lines().filter_map(parse_line).collect())
}

/// `faultfs pid=P call=C op=O path=PATH offset=N len=N result=R` (the path may hold spaces).
fn parse_line(line: &str) -> Option<Injected> {
    let rest = line.strip_prefix("faultfs ")?;
    let (head, tail) = rest.split_once(" path=")?;
    let (path, tail) = tail.rsplit_once(" offset=")?;
    let mut pid = None;
    let mut call = None;
    let mut op = None;
    for w in head.split(' ') {
        match w.split_once('=')? {
            ("pid", v) => pid = v.parse().ok(),
            ("call", v) => call = Some(v.to_string()),
            ("op", v) => op = Some(v.to_string()),
            _ => {}
        }
    }
    let (offset, tail) = tail.split_once(" len=")?;
    let (len, result) = tail.split_once(" result=")?;
    Some(Injected {
        pid: pid?,
        call: call?,
        op: op?,
        path: path.to_string(),
        offset: offset.parse().ok(),
        len: len.parse().ok(),
        result: result.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_parse() {
        let l =
            "faultfs pid=7 call=pwrite64 op=write path=/a b/c offset=4096 len=16 result=ENOSPC(28)";
        let i = parse_line(l).unwrap();
        assert_eq!(
            (i.pid, i.call.as_str(), i.op.as_str()),
            (7, "pwrite64", "write")
        );
        assert_eq!(
            (i.path.as_str(), i.offset, i.len),
            ("/a b/c", Some(4096), Some(16))
        );
        assert_eq!(i.result, "ENOSPC(28)");
        let s =
            parse_line("faultfs pid=1 call=syncfs op=fsync path=/x offset=- len=- result=EIO(5)");
        assert_eq!(s.unwrap().offset, None);
        assert!(parse_line("something else").is_none());
    }

    #[test]
    fn a_write_fault_is_injected_under_a_real_program() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let log = dir.path().join("faults.log");
        let mut cmd = Command::new("dd");
        cmd.args(["if=/dev/zero", "bs=512", "count=8"])
            .arg(format!("of={}", out.display()));
        Fault::new("/out", FaultOp::Write)
            .errno(Errno::Enospc)
            .offset(1024)
            .apply(&mut cmd, &log)
            .unwrap();
        let o = cmd.output().unwrap();
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains(Errno::Enospc.message()));
        assert_eq!(fs::metadata(&out).unwrap().len(), 1024);
        let hits = injected(&log).unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!((hits[0].offset, hits[0].len), (Some(1024), Some(512)));
        assert_eq!(hits[0].result, "ENOSPC(28)");
    }
}
