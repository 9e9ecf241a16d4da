//! Running the programs of a round: every command is written, exactly, to the round's
//! `commands.sh`, and its standard output and error to files beside it, so that a kept round
//! shows what ran and what it said.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use super::error::{Ctx, RoundError, R};

/// A program's end.
#[derive(Debug)]
pub struct Done {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Done {
    /// Its standard error's last lines, for messages.
    pub fn tail(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// A spawned program with its output files.
#[derive(Debug)]
pub struct Spawned {
    /// The process.
    pub child: Child,
    /// Its standard output file.
    pub out: PathBuf,
    /// Its standard error file.
    pub err: PathBuf,
}

impl Spawned {
    /// Waits for it and reads its output.
    pub fn wait(mut self) -> R<Done> {
        let status = self.child.wait().ctx("wait for a program")?;
        Ok(Done {
            status,
            stdout: fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: fs::read_to_string(&self.err).unwrap_or_default(),
        })
    }

    /// `kill -9` unless it has exited already; true when it was killed.
    pub fn kill9(&mut self) -> bool {
        if let Ok(Some(_)) = self.child.try_wait() {
            return false;
        }
        self.child.kill().is_ok()
    }
}

/// The round's command log.
#[derive(Debug)]
pub struct Cmds {
    dir: PathBuf,
    log: File,
    n: u32,
}

/// `s` quoted for a POSIX shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command line of `cmd`, quoted.
pub fn line(cmd: &Command) -> String {
    let mut v = vec![quote(&cmd.get_program().to_string_lossy())];
    v.extend(cmd.get_args().map(|a| quote(&a.to_string_lossy())));
    v.join(" ")
}

impl Cmds {
    /// A log in `dir` (created).
    pub fn new(dir: &Path) -> R<Cmds> {
        fs::create_dir_all(dir).ctx(format!("create {}", dir.display()))?;
        let p = dir.join("commands.sh");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .ctx(format!("open {}", p.display()))?;
        Ok(Cmds {
            dir: dir.to_path_buf(),
            log,
            n: 0,
        })
    }

    /// The directory of the logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a comment line into `commands.sh`.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.log, "# {text}");
    }

    fn files(&mut self, name: &str, cmd: &Command) -> (PathBuf, PathBuf) {
        self.n += 1;
        let base = format!("{:02}-{name}", self.n);
        let _ = writeln!(self.log, "{}  # {base}.out/.err", line(cmd));
        (
            self.dir.join(format!("{base}.out")),
            self.dir.join(format!("{base}.err")),
        )
    }

    /// Starts `cmd`, its output into the round's files.
    pub fn spawn(&mut self, name: &str, cmd: &mut Command) -> R<Spawned> {
        let (out, err) = self.files(name, cmd);
        cmd.stdin(Stdio::null())
            .stdout(File::create(&out).ctx("create an output file")?)
            .stderr(File::create(&err).ctx("create an output file")?);
        let child = cmd
            .spawn()
            .map_err(|e| RoundError::Failure(format!("cannot start {}: {e}", line(cmd))))?;
        Ok(Spawned { child, out, err })
    }

    /// Runs `cmd` to its end.
    pub fn run(&mut self, name: &str, cmd: &mut Command) -> R<Done> {
        self.spawn(name, cmd)?.wait()
    }

    /// Runs `cmd`, which must succeed.
    pub fn run_ok(&mut self, name: &str, cmd: &mut Command) -> R<Done> {
        let d = self.run(name, cmd)?;
        if !d.status.success() {
            return Err(RoundError::Failure(format!(
                "{name} failed ({}): {}\n{}",
                d.status,
                line(cmd),
                d.tail()
            )));
        }
        Ok(d)
    }
}
