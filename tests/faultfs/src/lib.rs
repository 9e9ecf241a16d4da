//! I/O fault injection for tests (unpublished): an `LD_PRELOAD` library that makes chosen
//! reads, writes, syncs or closes of chosen files fail with a chosen `errno` (or transfer only
//! part of their bytes), under an unchanged program such as the real `xb` binary.
//!
//! ```text
//! LD_PRELOAD=target/faultfs/debug/libfaultfs.so FAULTFS_PATH=/bk/ibdata1 FAULTFS_OP=write \
//!     FAULTFS_ERRNO=ENOSPC FAULTFS_LOG=/tmp/faults.log xb backup …
//! ```
//!
//! Why a shim and not device-mapper (`error`/`flakey` targets): device-mapper needs kernel
//! modules and root, which CI machines and containers do not reliably have.
//!
//! # What it intercepts
//!
//! The libc entry points Rust's `std` (and most C programs) use for file I/O; each looks the
//! real function up with `dlsym(RTLD_NEXT, …)` and calls it unless the call is to fail:
//!
//! | operation (`FAULTFS_OP`) | calls |
//! | --- | --- |
//! | `read` | `read`, `pread`, `pread64`, `readv`, `preadv`, `preadv64`; the source side of `copy_file_range`, `sendfile`, `sendfile64` |
//! | `write` | `write`, `pwrite`, `pwrite64`, `writev`, `pwritev`, `pwritev64`; the destination side of `copy_file_range`, `sendfile`, `sendfile64` |
//! | `fsync` | `fsync`, `fdatasync`, `syncfs`, `sync_file_range` |
//! | `close` | `close` (the descriptor is closed, then the error returned, as Linux does) |
//!
//! Calls made through `mmap`ed memory cannot be intercepted (an I/O error there is a
//! `SIGBUS`), nor raw `syscall(2)`s, nor `io_uring`.
//!
//! # Environment variables
//!
//! Read once, when the library is loaded. Without `FAULTFS_PATH` the library does nothing.
//!
//! * `FAULTFS_PATH`: a substring of the path of the files to fail. The path is the one the
//!   kernel gives for the descriptor (`readlink /proc/self/fd/N`: absolute, symbolic links
//!   resolved), looked up at each call, so a file opened through `/proc/self/fd/M` or renamed
//!   since its open is matched by its current name.
//! * `FAULTFS_OP`: a comma-separated list of `read`, `write`, `fsync`, `close` (default
//!   `read,write`).
//! * `FAULTFS_CALL`: a comma-separated list of function names (`syncfs`, `pwrite64`, …);
//!   when set, only those calls qualify (of the operations `FAULTFS_OP` chooses).
//! * `FAULTFS_ERRNO`: the error: `EIO` (default), `ENOSPC`, `EDQUOT`, `EROFS`, `EFBIG`,
//!   `EINTR`, `EAGAIN`, or a number.
//! * `FAULTFS_OFFSET`: a byte offset. A `read` or `write` call qualifies only when its byte
//!   range reaches this offset (it touches the byte at `FAULTFS_OFFSET` or a later one): a bad
//!   region, or a file that cannot grow past this size. Calls whose position is unknown (a
//!   pipe) never qualify then; `fsync` and `close` ignore it.
//! * `FAULTFS_NTH`: the first qualifying call that fails (1-based, default 1); the earlier
//!   ones go through. Counted per process, over all its threads.
//! * `FAULTFS_REPEAT`: `1`: every qualifying call from the `FAULTFS_NTH`th on fails (a dead
//!   disk, a full file system). Otherwise only the `FAULTFS_NTH`th fails (a transient error).
//! * `FAULTFS_SHORT`: `1`: instead of failing, the chosen `read`/`write` calls transfer only
//!   half of their bytes (at least one) and return that count, which is legal and which a
//!   correct caller continues after. `fsync`/`close` calls then go through.
//! * `FAULTFS_LOG`: a file to which each injected fault appends one line:
//!   `faultfs pid=P call=pwrite64 op=write path=/x/y offset=O len=L result=ENOSPC(28)` (or
//!   `result=short(N)`); `offset` and `len` are `-` for calls without a byte range. Tests read
//!   it to check that the fault they meant was really injected, and where.
//! * `FAULTFS_INHERIT`: `1` leaves `LD_PRELOAD` in the environment of the programs the
//!   process starts. By default the library removes `LD_PRELOAD` from the environment when it
//!   is loaded, so that a server or tool the program starts runs without faults.
//!
//! The library's own writes to `FAULTFS_LOG` are never failed.
#![deny(missing_docs)]

use std::cell::Cell;
use std::ffi::{c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use libc::{iovec, loff_t, off64_t, off_t, size_t, ssize_t};

/// The next definition of the libc function `name` (looked up once, kept in `slot`), as a
/// function pointer of type `F`, which must be that function's C prototype.
fn real_fn<F: Copy>(slot: &AtomicUsize, name: &CStr) -> F {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<usize>());
    let mut p = slot.load(Ordering::Relaxed);
    if p == 0 {
        // SAFETY: `name` is NUL-terminated.
        p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
        if p == 0 {
            // The C library has no such function: nothing we could forward to.
            std::process::abort();
        }
        slot.store(p, Ordering::Relaxed);
    }
    // SAFETY: `p` is the address of the libc function `name`, whose prototype `F` is (the
    // callers' promise); function pointers are the size of `usize` (checked above).
    unsafe { std::mem::transmute_copy::<usize, F>(&p) }
}

/// [`real_fn`] with a slot of its own: `real!("read", ReadFn)`.
macro_rules! real {
    ($name:literal, $ty:ty) => {{
        static SLOT: AtomicUsize = AtomicUsize::new(0);
        real_fn::<$ty>(&SLOT, {
            const NAME: &CStr = match CStr::from_bytes_with_nul(concat!($name, "\0").as_bytes()) {
                Ok(c) => c,
                Err(_) => panic!("bad name"),
            };
            NAME
        })
    }};
}

/// The kinds of call `FAULTFS_OP` chooses among.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
    Fsync,
    Close,
}

impl Op {
    const ALL: [Op; 4] = [Op::Read, Op::Write, Op::Fsync, Op::Close];

    fn bit(self) -> u8 {
        1 << self as u8
    }

    fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Fsync => "fsync",
            Op::Close => "close",
        }
    }

    /// Whether the call moves bytes (and so has a range, and can be short).
    fn moves_bytes(self) -> bool {
        matches!(self, Op::Read | Op::Write)
    }
}

/// The settings read from the environment.
struct Config {
    path: Vec<u8>,
    ops: u8,
    calls: Option<Vec<String>>,
    errno: c_int,
    offset: Option<u64>,
    nth: u64,
    repeat: bool,
    short: bool,
    log: Option<CString>,
}

const ERRNOS: &[(&str, c_int)] = &[
    ("EIO", libc::EIO),
    ("ENOSPC", libc::ENOSPC),
    ("EDQUOT", libc::EDQUOT),
    ("EROFS", libc::EROFS),
    ("EFBIG", libc::EFBIG),
    ("EINTR", libc::EINTR),
    ("EAGAIN", libc::EAGAIN),
];

fn errno_name(e: c_int) -> &'static str {
    ERRNOS
        .iter()
        .find(|(_, n)| *n == e)
        .map_or("errno", |(s, _)| s)
}

impl Config {
    fn from_env() -> Option<Config> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let path = var("FAULTFS_PATH")?.into_bytes();
        let ops_text = var("FAULTFS_OP").unwrap_or_else(|| "read,write".into());
        let ops = ops_text
            .split(',')
            .filter_map(|w| Op::ALL.into_iter().find(|o| o.name() == w.trim()))
            .fold(0, |acc, o| acc | o.bit());
        let errno = match var("FAULTFS_ERRNO") {
            None => libc::EIO,
            Some(v) => ERRNOS
                .iter()
                .find(|(s, _)| s.eq_ignore_ascii_case(&v))
                .map(|(_, n)| *n)
                .or_else(|| v.parse().ok())
                .unwrap_or(libc::EIO),
        };
        let calls =
            var("FAULTFS_CALL").map(|v| v.split(',').map(|c| c.trim().to_string()).collect());
        Some(Config {
            path,
            ops,
            calls,
            errno,
            offset: var("FAULTFS_OFFSET").and_then(|v| v.parse().ok()),
            nth: var("FAULTFS_NTH")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1u64)
                .max(1),
            repeat: var("FAULTFS_REPEAT").is_some_and(|v| v == "1"),
            short: var("FAULTFS_SHORT").is_some_and(|v| v == "1"),
            log: var("FAULTFS_LOG").and_then(|v| CString::new(v).ok()),
        })
    }
}

static CONFIG: OnceLock<Option<Config>> = OnceLock::new();

/// Qualifying calls seen so far.
static QUALIFIED: AtomicU64 = AtomicU64::new(0);

fn config() -> Option<&'static Config> {
    CONFIG.get_or_init(Config::from_env).as_ref()
}

thread_local! {
    /// Set while the library itself runs on this thread: its own calls go through.
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// Reads the configuration while the process is still single-threaded, and takes
/// `LD_PRELOAD` out of the environment (unless `FAULTFS_INHERIT=1`).
extern "C" fn init() {
    let _ = config();
    if std::env::var("FAULTFS_INHERIT").is_ok_and(|v| v == "1") {
        return;
    }
    // SAFETY: runs from the library's constructor, before `main`, when no other thread of
    // the process exists to read the environment.
    unsafe { std::env::remove_var("LD_PRELOAD") };
}

#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

/// What to do with one call.
enum Verdict {
    Pass,
    Fail(c_int),
    Short,
}

/// The path of `fd`, as the kernel names it.
fn fd_path(fd: c_int) -> Option<Vec<u8>> {
    let link = CString::new(format!("/proc/self/fd/{fd}")).ok()?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: `link` is NUL-terminated; `buf` has the length given.
    let n = unsafe { libc::readlink(link.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// The current position of `fd` with `len` bytes from it, or `None` (a pipe).
fn at_position(fd: c_int, len: size_t) -> Option<(u64, u64)> {
    // SAFETY: lseek with SEEK_CUR and 0 only reads the position.
    let pos = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    Some((u64::try_from(pos).ok()?, len as u64))
}

/// The range `len` bytes from `*off` when `off` is given, else from the position of `fd`.
///
/// # Safety
/// `off` is null or points to a readable offset.
unsafe fn range_of<T: Copy + TryInto<u64>>(
    fd: c_int,
    off: *const T,
    len: size_t,
) -> Option<(u64, u64)> {
    if off.is_null() {
        return at_position(fd, len);
    }
    // SAFETY: the caller's promise.
    let o = unsafe { *off };
    Some((o.try_into().ok()?, len as u64))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

struct BusyGuard;

impl BusyGuard {
    fn enter() -> Option<BusyGuard> {
        if BUSY.with(|b| b.replace(true)) {
            return None;
        }
        Some(BusyGuard)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        BUSY.with(|b| b.set(false));
    }
}

/// Decides the fate of call `call` (of kind `op`) on `fd`; `range` gives its byte range when
/// it has one (asked only once the file matched).
fn judge(op: Op, call: &str, fd: c_int, range: impl FnOnce() -> Option<(u64, u64)>) -> Verdict {
    let Some(cfg) = config() else {
        return Verdict::Pass;
    };
    if cfg.ops & op.bit() == 0 {
        return Verdict::Pass;
    }
    if let Some(calls) = &cfg.calls
        && !calls.iter().any(|c| c == call)
    {
        return Verdict::Pass;
    }
    let Some(_guard) = BusyGuard::enter() else {
        return Verdict::Pass;
    };
    let Some(path) = fd_path(fd) else {
        return Verdict::Pass;
    };
    if !contains(&path, &cfg.path) {
        return Verdict::Pass;
    }
    let range = if op.moves_bytes() { range() } else { None };
    if op.moves_bytes() {
        if range.is_some_and(|(_, len)| len == 0) {
            return Verdict::Pass;
        }
        if let Some(x) = cfg.offset {
            match range {
                Some((off, len)) if off.saturating_add(len) > x => {}
                _ => return Verdict::Pass,
            }
        }
    }
    let n = QUALIFIED.fetch_add(1, Ordering::SeqCst) + 1;
    let fire = if cfg.repeat {
        n >= cfg.nth
    } else {
        n == cfg.nth
    };
    if !fire {
        return Verdict::Pass;
    }
    let verdict = if cfg.short && op.moves_bytes() {
        Verdict::Short
    } else {
        Verdict::Fail(cfg.errno)
    };
    log(cfg, op, call, &path, range, &verdict);
    verdict
}

/// Appends the line of an injected fault to `FAULTFS_LOG`.
fn log(cfg: &Config, op: Op, call: &str, path: &[u8], range: Option<(u64, u64)>, v: &Verdict) {
    let Some(file) = &cfg.log else { return };
    let (offset, len) = match range {
        Some((o, l)) => (o.to_string(), l.to_string()),
        None => ("-".into(), "-".into()),
    };
    let result = match v {
        Verdict::Fail(e) => format!("{}({e})", errno_name(*e)),
        Verdict::Short => format!("short({})", range.map_or(0, |(_, l)| half(l as size_t))),
        Verdict::Pass => "pass".into(),
    };
    let mut line = format!(
        "faultfs pid={} call={call} op={} path=",
        std::process::id(),
        op.name()
    )
    .into_bytes();
    line.extend_from_slice(path);
    line.extend_from_slice(format!(" offset={offset} len={len} result={result}\n").as_bytes());
    // SAFETY: `file` is NUL-terminated; the descriptor is ours until the close below.
    unsafe {
        let fd = libc::open(
            file.as_ptr(),
            libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
            0o644,
        );
        if fd >= 0 {
            let w: WriteFn = real!("write", WriteFn);
            let _ = w(fd, line.as_ptr().cast(), line.len());
            let c: CloseFn = real!("close", CloseFn);
            let _ = c(fd);
        }
    }
}

/// Half of `len`, at least one byte.
fn half(len: size_t) -> size_t {
    (len / 2).max(1)
}

/// Sets `errno` to `e` and returns -1 (as the type the call returns).
fn fail<T: From<i8>>(e: c_int) -> T {
    // SAFETY: errno is this thread's.
    unsafe { *libc::__errno_location() = e };
    T::from(-1)
}

type ReadFn = unsafe extern "C" fn(c_int, *mut c_void, size_t) -> ssize_t;
type WriteFn = unsafe extern "C" fn(c_int, *const c_void, size_t) -> ssize_t;
type PreadFn = unsafe extern "C" fn(c_int, *mut c_void, size_t, off64_t) -> ssize_t;
type PwriteFn = unsafe extern "C" fn(c_int, *const c_void, size_t, off64_t) -> ssize_t;
type VecFn = unsafe extern "C" fn(c_int, *const iovec, c_int) -> ssize_t;
type PvecFn = unsafe extern "C" fn(c_int, *const iovec, c_int, off64_t) -> ssize_t;
type SyncFn = unsafe extern "C" fn(c_int) -> c_int;
type CloseFn = unsafe extern "C" fn(c_int) -> c_int;
type SyncRangeFn = unsafe extern "C" fn(c_int, off64_t, off64_t, libc::c_uint) -> c_int;
type CopyRangeFn =
    unsafe extern "C" fn(c_int, *mut loff_t, c_int, *mut loff_t, size_t, libc::c_uint) -> ssize_t;
type SendfileFn = unsafe extern "C" fn(c_int, c_int, *mut off_t, size_t) -> ssize_t;

/// Total bytes of an `iovec` array.
///
/// # Safety
/// `iov` points to `cnt` readable `iovec`s (or `cnt` ≤ 0).
unsafe fn iov_len(iov: *const iovec, cnt: c_int) -> size_t {
    if iov.is_null() || cnt <= 0 {
        return 0;
    }
    // SAFETY: the caller's promise.
    let v = unsafe { std::slice::from_raw_parts(iov, cnt as usize) };
    v.iter().map(|i| i.iov_len).sum()
}

/// The first non-empty buffer of an `iovec` array, halved: what a short vectored call moves.
///
/// # Safety
/// As [`iov_len`].
unsafe fn iov_short(iov: *const iovec, cnt: c_int) -> (*mut c_void, size_t) {
    // SAFETY: the caller's promise.
    let v = unsafe { std::slice::from_raw_parts(iov, cnt.max(0) as usize) };
    v.iter()
        .find(|i| i.iov_len > 0)
        .map_or((std::ptr::null_mut(), 0), |i| (i.iov_base, half(i.iov_len)))
}

fn pos(off: off64_t, len: size_t) -> Option<(u64, u64)> {
    Some((u64::try_from(off).ok()?, len as u64))
}

/// Interposed `read(2)`.
///
/// # Safety
/// As `read(2)`: `buf` is writable for `count` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    let real: ReadFn = real!("read", ReadFn);
    // SAFETY: forwarding the caller's arguments.
    match judge(Op::Read, "read", fd, || at_position(fd, count)) {
        Verdict::Pass => unsafe { real(fd, buf, count) },
        Verdict::Short => unsafe { real(fd, buf, half(count)) },
        Verdict::Fail(e) => fail(e),
    }
}

/// The body of `pread`/`pread64`.
///
/// # Safety
/// As `pread(2)`.
unsafe fn pread_as(
    call: &str,
    real: PreadFn,
    fd: c_int,
    buf: *mut c_void,
    count: size_t,
    off: off64_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    match judge(Op::Read, call, fd, || pos(off, count)) {
        Verdict::Pass => unsafe { real(fd, buf, count, off) },
        Verdict::Short => unsafe { real(fd, buf, half(count), off) },
        Verdict::Fail(e) => fail(e),
    }
}

/// Interposed `pread64(2)`.
///
/// # Safety
/// As `pread64(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pread64(
    fd: c_int,
    buf: *mut c_void,
    count: size_t,
    off: off64_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe { pread_as("pread64", real!("pread64", PreadFn), fd, buf, count, off) }
}

/// Interposed `pread(2)`.
///
/// # Safety
/// As `pread(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pread(
    fd: c_int,
    buf: *mut c_void,
    count: size_t,
    off: off64_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe { pread_as("pread", real!("pread", PreadFn), fd, buf, count, off) }
}

/// Interposed `write(2)`.
///
/// # Safety
/// As `write(2)`: `buf` is readable for `count` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    let real: WriteFn = real!("write", WriteFn);
    // SAFETY: forwarding the caller's arguments.
    match judge(Op::Write, "write", fd, || at_position(fd, count)) {
        Verdict::Pass => unsafe { real(fd, buf, count) },
        Verdict::Short => unsafe { real(fd, buf, half(count)) },
        Verdict::Fail(e) => fail(e),
    }
}

/// The body of `pwrite`/`pwrite64`.
///
/// # Safety
/// As `pwrite(2)`.
unsafe fn pwrite_as(
    call: &str,
    real: PwriteFn,
    fd: c_int,
    buf: *const c_void,
    count: size_t,
    off: off64_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    match judge(Op::Write, call, fd, || pos(off, count)) {
        Verdict::Pass => unsafe { real(fd, buf, count, off) },
        Verdict::Short => unsafe { real(fd, buf, half(count), off) },
        Verdict::Fail(e) => fail(e),
    }
}

/// Interposed `pwrite64(2)`.
///
/// # Safety
/// As `pwrite64(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwrite64(
    fd: c_int,
    buf: *const c_void,
    count: size_t,
    off: off64_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe { pwrite_as("pwrite64", real!("pwrite64", PwriteFn), fd, buf, count, off) }
}

/// Interposed `pwrite(2)`.
///
/// # Safety
/// As `pwrite(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwrite(
    fd: c_int,
    buf: *const c_void,
    count: size_t,
    off: off64_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe { pwrite_as("pwrite", real!("pwrite", PwriteFn), fd, buf, count, off) }
}

/// The body of `readv`/`writev`.
///
/// # Safety
/// As `readv(2)`.
unsafe fn vec_as(
    op: Op,
    call: &str,
    real: VecFn,
    fd: c_int,
    iov: *const iovec,
    cnt: c_int,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    let len = unsafe { iov_len(iov, cnt) };
    match judge(op, call, fd, || at_position(fd, len)) {
        Verdict::Pass => unsafe { real(fd, iov, cnt) },
        Verdict::Short => unsafe {
            let (base, n) = iov_short(iov, cnt);
            match op {
                Op::Read => real!("read", ReadFn)(fd, base, n),
                _ => real!("write", WriteFn)(fd, base, n),
            }
        },
        Verdict::Fail(e) => fail(e),
    }
}

/// Interposed `readv(2)`.
///
/// # Safety
/// As `readv(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe { vec_as(Op::Read, "readv", real!("readv", VecFn), fd, iov, cnt) }
}

/// Interposed `writev(2)`.
///
/// # Safety
/// As `writev(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe { vec_as(Op::Write, "writev", real!("writev", VecFn), fd, iov, cnt) }
}

/// The body of `preadv`/`pwritev` and their `64` names.
///
/// # Safety
/// As `preadv(2)`.
unsafe fn pvec_as(
    op: Op,
    call: &str,
    real: PvecFn,
    fd: c_int,
    iov: *const iovec,
    cnt: c_int,
    off: off64_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    let len = unsafe { iov_len(iov, cnt) };
    match judge(op, call, fd, || pos(off, len)) {
        Verdict::Pass => unsafe { real(fd, iov, cnt, off) },
        Verdict::Short => unsafe {
            let (base, n) = iov_short(iov, cnt);
            match op {
                Op::Read => real!("pread64", PreadFn)(fd, base, n, off),
                _ => real!("pwrite64", PwriteFn)(fd, base, n, off),
            }
        },
        Verdict::Fail(e) => fail(e),
    }
}

/// Interposed `preadv(2)`.
///
/// # Safety
/// As `preadv(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn preadv(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe {
        pvec_as(
            Op::Read,
            "preadv",
            real!("preadv", PvecFn),
            fd,
            iov,
            cnt,
            off,
        )
    }
}

/// Interposed `preadv64(2)`.
///
/// # Safety
/// As `preadv64(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn preadv64(
    fd: c_int,
    iov: *const iovec,
    cnt: c_int,
    off: off64_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe {
        pvec_as(
            Op::Read,
            "preadv64",
            real!("preadv64", PvecFn),
            fd,
            iov,
            cnt,
            off,
        )
    }
}

/// Interposed `pwritev(2)`.
///
/// # Safety
/// As `pwritev(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwritev(
    fd: c_int,
    iov: *const iovec,
    cnt: c_int,
    off: off64_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe {
        pvec_as(
            Op::Write,
            "pwritev",
            real!("pwritev", PvecFn),
            fd,
            iov,
            cnt,
            off,
        )
    }
}

/// Interposed `pwritev64(2)`.
///
/// # Safety
/// As `pwritev64(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwritev64(
    fd: c_int,
    iov: *const iovec,
    cnt: c_int,
    off: off64_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe {
        pvec_as(
            Op::Write,
            "pwritev64",
            real!("pwritev64", PvecFn),
            fd,
            iov,
            cnt,
            off,
        )
    }
}

/// The body of the calls that take only a descriptor and return 0 or -1.
///
/// # Safety
/// As `fsync(2)`.
unsafe fn sync_as(call: &str, real: SyncFn, fd: c_int) -> c_int {
    match judge(Op::Fsync, call, fd, || None) {
        Verdict::Fail(e) => fail(e),
        // SAFETY: forwarding the caller's argument.
        _ => unsafe { real(fd) },
    }
}

/// Interposed `fsync(2)`.
///
/// # Safety
/// As `fsync(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fsync(fd: c_int) -> c_int {
    // SAFETY: forwarding the caller's argument.
    unsafe { sync_as("fsync", real!("fsync", SyncFn), fd) }
}

/// Interposed `fdatasync(2)`.
///
/// # Safety
/// As `fdatasync(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fdatasync(fd: c_int) -> c_int {
    // SAFETY: forwarding the caller's argument.
    unsafe { sync_as("fdatasync", real!("fdatasync", SyncFn), fd) }
}

/// Interposed `syncfs(2)`.
///
/// # Safety
/// As `syncfs(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn syncfs(fd: c_int) -> c_int {
    // SAFETY: forwarding the caller's argument.
    unsafe { sync_as("syncfs", real!("syncfs", SyncFn), fd) }
}

/// Interposed `sync_file_range(2)`.
///
/// # Safety
/// As `sync_file_range(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sync_file_range(
    fd: c_int,
    off: off64_t,
    nbytes: off64_t,
    flags: libc::c_uint,
) -> c_int {
    let real: SyncRangeFn = real!("sync_file_range", SyncRangeFn);
    match judge(Op::Fsync, "sync_file_range", fd, || None) {
        Verdict::Fail(e) => fail(e),
        // SAFETY: forwarding the caller's arguments.
        _ => unsafe { real(fd, off, nbytes, flags) },
    }
}

/// Interposed `close(2)`: a chosen close closes the descriptor, then fails.
///
/// # Safety
/// As `close(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    let real: CloseFn = real!("close", CloseFn);
    let verdict = judge(Op::Close, "close", fd, || None);
    // SAFETY: forwarding the caller's argument.
    let r = unsafe { real(fd) };
    match verdict {
        Verdict::Fail(e) => fail(e),
        _ => r,
    }
}

/// Interposed `copy_file_range(2)`: judged as a read of `fd_in`, then as a write of `fd_out`.
///
/// # Safety
/// As `copy_file_range(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copy_file_range(
    fd_in: c_int,
    off_in: *mut loff_t,
    fd_out: c_int,
    off_out: *mut loff_t,
    len: size_t,
    flags: libc::c_uint,
) -> ssize_t {
    let real: CopyRangeFn = real!("copy_file_range", CopyRangeFn);
    // SAFETY: the offsets are null or valid, as the caller promises.
    let mut v = judge(Op::Read, "copy_file_range", fd_in, || unsafe {
        range_of(fd_in, off_in, len)
    });
    if matches!(v, Verdict::Pass) {
        // SAFETY: as above.
        v = judge(Op::Write, "copy_file_range", fd_out, || unsafe {
            range_of(fd_out, off_out, len)
        });
    }
    // SAFETY: forwarding the caller's arguments.
    match v {
        Verdict::Pass => unsafe { real(fd_in, off_in, fd_out, off_out, len, flags) },
        Verdict::Short => unsafe { real(fd_in, off_in, fd_out, off_out, half(len), flags) },
        Verdict::Fail(e) => fail(e),
    }
}

/// The body of `sendfile`/`sendfile64`.
///
/// # Safety
/// As `sendfile(2)`.
unsafe fn sendfile_as(
    call: &str,
    real: SendfileFn,
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut off_t,
    count: size_t,
) -> ssize_t {
    // SAFETY: the offset is null or valid, as the caller promises.
    let mut v = judge(Op::Read, call, in_fd, || unsafe {
        range_of(in_fd, offset, count)
    });
    if matches!(v, Verdict::Pass) {
        v = judge(Op::Write, call, out_fd, || at_position(out_fd, count));
    }
    // SAFETY: forwarding the caller's arguments.
    match v {
        Verdict::Pass => unsafe { real(out_fd, in_fd, offset, count) },
        Verdict::Short => unsafe { real(out_fd, in_fd, offset, half(count)) },
        Verdict::Fail(e) => fail(e),
    }
}

/// Interposed `sendfile(2)`.
///
/// # Safety
/// As `sendfile(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut off_t,
    count: size_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe {
        sendfile_as(
            "sendfile",
            real!("sendfile", SendfileFn),
            out_fd,
            in_fd,
            offset,
            count,
        )
    }
}

/// Interposed `sendfile64(2)`.
///
/// # Safety
/// As `sendfile64(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendfile64(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut off_t,
    count: size_t,
) -> ssize_t {
    // SAFETY: forwarding the caller's arguments.
    unsafe {
        sendfile_as(
            "sendfile64",
            real!("sendfile64", SendfileFn),
            out_fd,
            in_fd,
            offset,
            count,
        )
    }
}
