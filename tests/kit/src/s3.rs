//! A throwaway S3-protocol server on 127.0.0.1, for the repository tests: the server mode of
//! PyPI's `moto` (`moto_server`), behind a small TCP forwarder that tests can cut.
//!
//! `moto_server` is installed by `scripts/test` (`ensure_s3_server` in
//! `scripts/lib/ensure-tools.sh`) into a Python venv at `$XB_MOTO_VENV`, by default
//! `$HOME/.cache/xb/moto-venv`. When it is missing, [`S3Server::start`] returns
//! [`S3ServerError::Missing`]: tests that `expect()` it then *fail*, they never skip.
//!
//! # What the faults are, honestly
//!
//! moto keeps every object in the memory of its process: killing it loses the bucket. So a
//! test cannot kill the server and start it again on the same data. Instead:
//!
//! * Clients talk to a forwarder ([`S3Server::endpoint`]), not to moto. [`S3Server::cut`]
//!   closes every open connection through it (the client sees its request's connection reset
//!   or closed mid-response) and closes its listening socket (new connections are refused):
//!   from the client's side, what a dead server looks like. [`S3Server::restore`] listens again
//!   on the same port; the objects are all still there, as on a real store whose server came
//!   back.
//! * [`S3Server::pause`] stops moto itself with SIGSTOP (a hung server: connections are still
//!   accepted by the kernel, requests get no answer) and [`S3Server::resume`] continues it
//!   with SIGCONT.
//!
//! Neither loses an object that a completed request wrote, which a real crash of a real store
//! does not either. What moto does not model: a store that lost an acknowledged write.
//!
//! # Example
//!
//! ```no_run
//! use xb_testkit::s3::S3Server;
//!
//! # fn main() -> Result<(), xb_testkit::s3::S3ServerError> {
//! let s3 = S3Server::start()?; // running, with an empty bucket
//! let url = s3.url("repo"); // "s3://xb-test/repo"
//! let mut cmd = std::process::Command::new("xb");
//! cmd.envs(s3.env()).args(["info", "--repo", &url]);
//! s3.cut(); // the server is gone for the clients
//! s3.restore(); // and back, with every object
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, sleep, JoinHandle};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Environment variable naming the venv that holds `bin/moto_server`.
pub const VENV_ENV: &str = "XB_MOTO_VENV";

/// The bucket every server starts with.
pub const BUCKET: &str = "xb-test";

/// The access key id and secret the servers accept (moto accepts any).
pub const ACCESS_KEY: &str = "xbtest";

/// How long [`S3Server::start`] waits for moto to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How many lines of moto's log an error carries.
const LOG_TAIL_LINES: usize = 20;

/// Everything that can go wrong with an [`S3Server`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3ServerError {
    /// `moto_server` is not installed where the kit looks.
    #[error(
        "{} not found; run scripts/test, which installs it (ensure_s3_server in \
         scripts/lib/ensure-tools.sh), or: python3 -m venv DIR && DIR/bin/pip install \
         'moto[server]' and set {VENV_ENV}=DIR",
        path.display()
    )]
    Missing {
        /// The program looked for.
        path: PathBuf,
    },
    /// A local operation failed (temporary directory, log file, socket, starting moto).
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// moto exited while starting.
    #[error("moto_server exited during start ({status}); its log:\n{log}")]
    Exited {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The last lines of its log.
        log: String,
    },
    /// moto did not answer, or did not create the bucket, in time.
    #[error("moto_server on port {port} did not create the bucket in {after:?} (last: {last}); its log:\n{log}")]
    Timeout {
        /// moto's own port.
        port: u16,
        /// How long we waited.
        after: Duration,
        /// The last answer or error seen.
        last: String,
        /// The last lines of its log.
        log: String,
    },
}

/// Shorthand for results of this module.
pub type Result<T, E = S3ServerError> = std::result::Result<T, E>;

fn io_err(action: impl Into<String>) -> impl FnOnce(io::Error) -> S3ServerError {
    let action = action.into();
    move |source| S3ServerError::Io { action, source }
}

/// The `moto_server` program the kit runs: `$XB_MOTO_VENV/bin/moto_server`, else
/// `$HOME/.cache/xb/moto-venv/bin/moto_server`.
pub fn moto_server_path() -> PathBuf {
    let venv = match std::env::var_os(VENV_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            Path::new(&home).join(".cache/xb/moto-venv")
        }
    };
    venv.join("bin/moto_server")
}

/// A running `moto_server` with one empty bucket ([`BUCKET`]), reached through a forwarder
/// that tests can cut. See the [module docs](self). Dropping it kills moto (everything in it is
/// gone) and the forwarder, also when a test panics; only a test process killed itself leaves
/// moto running.
pub struct S3Server {
    child: Child,
    moto_port: u16,
    forwarder: Forwarder,
    paused: AtomicBool,
    log: PathBuf,
    /// Declared last: removed after moto is gone.
    _dir: TempDir,
}

impl fmt::Debug for S3Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Server")
            .field("endpoint", &self.endpoint())
            .field("moto_port", &self.moto_port)
            .field("pid", &self.child.id())
            .finish()
    }
}

impl S3Server {
    /// Starts `moto_server` on a free port of 127.0.0.1, waits until it answers, creates the
    /// bucket [`BUCKET`] and starts the forwarder in front of it.
    pub fn start() -> Result<S3Server> {
        let program = moto_server_path();
        if !program.is_file() {
            return Err(S3ServerError::Missing { path: program });
        }
        // a free port can be taken between our probe and moto's bind: try a few
        let mut tries = 0;
        loop {
            tries += 1;
            let dir = tempfile::Builder::new()
                .prefix("xb-moto")
                .tempdir()
                .map_err(io_err("cannot create a temporary directory"))?;
            let log = dir.path().join("moto.log");
            let port = free_port()?;
            let out = fs::File::create(&log)
                .map_err(io_err(format!("cannot create {}", log.display())))?;
            let err = out
                .try_clone()
                .map_err(io_err("cannot duplicate a file handle"))?;
            let child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .map_err(io_err(format!("cannot run {}", program.display())))?;
            let mut server = S3Server {
                child,
                moto_port: port,
                forwarder: Forwarder::new(SocketAddr::from(([127, 0, 0, 1], port)))?,
                paused: AtomicBool::new(false),
                log,
                _dir: dir,
            };
            match server.create_bucket() {
                Ok(()) => return Ok(server),
                Err(S3ServerError::Exited { .. })
                    if tries < 3 && server.log_tail().contains("in use") => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The endpoint clients use: `http://127.0.0.1:PORT`, the forwarder's.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.forwarder.port)
    }

    /// The bucket's name ([`BUCKET`]).
    pub fn bucket(&self) -> &str {
        BUCKET
    }

    /// The repository URL of `prefix` in the bucket: `s3://xb-test/PREFIX` (`s3://xb-test` for
    /// an empty prefix).
    pub fn url(&self, prefix: &str) -> String {
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("s3://{BUCKET}")
        } else {
            format!("s3://{BUCKET}/{prefix}")
        }
    }

    /// The standard AWS variables that point a client at this server: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` (dummies moto accepts), `AWS_REGION=us-east-1` and
    /// `AWS_ENDPOINT_URL` ([`endpoint`](Self::endpoint)). Give them to a child process
    /// (`Command::envs`) or to a library's options; do not set them in the test process's own
    /// environment (tests run in threads).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", ACCESS_KEY.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
        ]
    }

    /// The process id of `moto_server`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of moto's log (one line per request), for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// moto's whole log: one line per request it answered (`"PUT /xb-test/KEY HTTP/1.1" 200`),
    /// to check which requests a client made (a multipart upload's `?uploads`, an abort's
    /// `DELETE …?uploadId=`).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The server is gone, as clients see it: every open connection through the forwarder is
    /// closed (requests in flight fail with a reset or a truncated answer) and new connections
    /// are refused until [`restore`](Self::restore). moto keeps running with every object.
    /// Does nothing if already cut.
    pub fn cut(&self) {
        self.forwarder.cut();
    }

    /// The server is back after a [`cut`](Self::cut): the forwarder listens again on the
    /// same port. Does nothing if not cut.
    ///
    /// # Panics
    ///
    /// If the port cannot be bound again for 10 s (another process took it).
    pub fn restore(&self) {
        self.forwarder.restore();
    }

    /// Whether the forwarder is cut.
    pub fn is_cut(&self) -> bool {
        self.forwarder.is_cut()
    }

    /// A hung server: stops moto with SIGSTOP. Connections are still accepted (by the kernel)
    /// and requests sent, but nothing is answered until [`resume`](Self::resume).
    ///
    /// # Panics
    ///
    /// If the signal cannot be sent.
    pub fn pause(&self) {
        self.signal("STOP");
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Continues moto after [`pause`](Self::pause) (SIGCONT).
    ///
    /// # Panics
    ///
    /// If the signal cannot be sent.
    pub fn resume(&self) {
        self.signal("CONT");
        self.paused.store(false, Ordering::SeqCst);
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{sig} {} failed", self.child.id());
    }

    /// Waits until moto answers `PUT /BUCKET` (creating the bucket).
    fn create_bucket(&mut self) -> Result<()> {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(io_err("cannot wait for moto_server"))?
            {
                return Err(S3ServerError::Exited {
                    status,
                    log: self.log_tail(),
                });
            }
            let last = match http_put(self.moto_port, &format!("/{BUCKET}")) {
                Ok(200) => return Ok(()),
                Ok(code) => format!("HTTP {code}"),
                Err(e) => e.to_string(),
            };
            if t0.elapsed() > START_TIMEOUT {
                return Err(S3ServerError::Timeout {
                    port: self.moto_port,
                    after: START_TIMEOUT,
                    last,
                    log: self.log_tail(),
                });
            }
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if self.paused.load(Ordering::SeqCst) {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(self.child.id().to_string())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.forwarder.cut();
    }
}

/// A port of 127.0.0.1 free a moment ago.
fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(io_err("cannot bind 127.0.0.1:0"))?;
    Ok(l.local_addr()
        .map_err(io_err("cannot read a socket's address"))?
        .port())
}

/// `PUT path` with an empty body on 127.0.0.1:port; the status code.
fn http_put(port: u16, path: &str) -> io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or("");
    status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {status:?}")))
}

/// The last lines of a log file.
fn tail(path: &Path) -> String {
    let text = fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// Forwards TCP connections from its own port to `upstream`, and can drop them all.
struct Forwarder {
    port: u16,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

/// What the forwarder's threads share.
#[derive(Default)]
struct Shared {
    /// Set while cut: the acceptor stops.
    stop: AtomicBool,
    next_id: AtomicU64,
    /// Every open connection: its client side and its upstream side.
    conns: Mutex<HashMap<u64, (TcpStream, TcpStream)>>,
}

impl Forwarder {
    fn new(upstream: SocketAddr) -> Result<Forwarder> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(io_err("cannot bind the forwarder"))?;
        let port = listener
            .local_addr()
            .map_err(io_err("cannot read a socket's address"))?
            .port();
        let f = Forwarder {
            port,
            upstream,
            shared: Arc::new(Shared::default()),
            acceptor: Mutex::new(None),
        };
        *f.acceptor.lock().unwrap() = Some(f.spawn_acceptor(listener));
        Ok(f)
    }

    fn spawn_acceptor(&self, listener: TcpListener) -> JoinHandle<()> {
        let shared = self.shared.clone();
        let upstream = self.upstream;
        thread::Builder::new()
            .name("s3-forwarder".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let shared = shared.clone();
                    let _ = thread::Builder::new()
                        .name("s3-forward".into())
                        .spawn(move || forward(client, upstream, &shared));
                }
                // the listener is dropped here: new connections are refused
            })
            .expect("a thread starts")
    }

    fn is_cut(&self) -> bool {
        self.acceptor.lock().unwrap().is_none()
    }

    fn cut(&self) {
        let mut acceptor = self.acceptor.lock().unwrap();
        if let Some(handle) = acceptor.take() {
            self.shared.stop.store(true, Ordering::SeqCst);
            // wake the acceptor so that it sees `stop` and closes the listener
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            let _ = handle.join();
        }
        let conns: Vec<_> = self.shared.conns.lock().unwrap().drain().collect();
        for (_, (client, server)) in conns {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        let mut acceptor = self.acceptor.lock().unwrap();
        if acceptor.is_some() {
            return;
        }
        let t0 = Instant::now();
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(e) if t0.elapsed() < Duration::from_secs(10) => {
                    let _ = e;
                    sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot listen again on 127.0.0.1:{}: {e}", self.port),
            }
        };
        self.shared.stop.store(false, Ordering::SeqCst);
        *acceptor = Some(self.spawn_acceptor(listener));
    }
}

/// Carries one client connection to `upstream` both ways, until both sides are done or the
/// forwarder is cut.
fn forward(client: TcpStream, upstream: SocketAddr, shared: &Shared) {
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    {
        let mut conns = shared.conns.lock().unwrap();
        if shared.stop.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        match (client.try_clone(), server.try_clone()) {
            (Ok(c), Ok(s)) => {
                conns.insert(id, (c, s));
            }
            _ => return,
        }
    }
    let up = thread::Builder::new()
        .name("s3-forward-up".into())
        .spawn(move || pump(c2, s2));
    pump(server, client);
    if let Ok(up) = up {
        let _ = up.join();
    }
    shared.conns.lock().unwrap().remove(&id);
}

/// Copies `from` to `to` until `from` ends (then half-closes `to`) or fails (then closes both).
fn pump(mut from: TcpStream, mut to: TcpStream) {
    match io::copy(&mut from, &mut to) {
        Ok(_) => {
            let _ = to.shutdown(Shutdown::Write);
        }
        Err(_) => {
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
        }
    }
}
