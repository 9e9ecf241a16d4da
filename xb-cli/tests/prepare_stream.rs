//! `xb prepare` straight from xbstream streams: the full extracted from `--stream`, each
//! incremental merged in place from its stream file (or from standard input), ending
//! byte-identical to the same chain prepared from directories; damaged or wrong streams refused
//! before anything is written; a prepare killed while merging from streams resumed by the same
//! command. The streams are made by the real `mbstream -c` from directory backups.

mod common;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::synthetic::make_chain;
use common::{copy_dir, snapshot};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

const XB: &str = env!("CARGO_BIN_EXE_xb");
/// The real-server tests of this binary run one at a time (2 cores for the whole suite).
static ONE_SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());
const TABLES: u32 = 12;

/// `mbstream -c` of every file of `dir` (relative names; the metadata files last, as
/// mariabackup streams them) into `out`.
fn stream_of(dir: &Path, out: &Path) -> PathBuf {
    let is_last = |p: &str| {
        ["xtrabackup_checkpoints", "xb_backup_info", "backup-my.cnf"]
            .iter()
            .any(|l| p.starts_with(l))
    };
    let all: Vec<String> = snapshot(dir)
        .into_keys()
        .filter(|p| !p.to_string_lossy().ends_with('/'))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let (last, mut files): (Vec<String>, Vec<String>) = all.into_iter().partition(|p| is_last(p));
    files.extend(last);
    let o = Command::new("mbstream")
        .arg("-c")
        .args(&files)
        .current_dir(dir)
        .stdout(File::create(out).unwrap())
        .output()
        .expect("run mbstream");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.to_path_buf()
}

fn xb() -> Command {
    Command::new(XB)
}

/// `xb prepare --target-dir T [--stream S] --incremental-dir I...`
fn prepare(target: &Path, full: Option<&Path>, incs: &[&Path]) -> Command {
    let mut c = xb();
    c.arg("prepare").arg("--target-dir").arg(target);
    if let Some(s) = full {
        c.arg("--stream").arg(s);
    }
    for i in incs {
        c.arg("--incremental-dir").arg(i);
    }
    c
}

fn run_ok(c: &mut Command) {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Runs `c` with `input` on its standard input.
fn run_with_stdin(c: &mut Command, input: &Path) -> std::process::Output {
    c.stdin(File::open(input).unwrap()).output().unwrap()
}

#[test]
fn streams_stdin_and_mixed_chains_give_the_bytes_of_directories() {
    let d = tempfile::tempdir().unwrap();
    let (base, inc1, inc2) = make_chain(d.path(), TABLES);
    let s = |n: &str| d.path().join(n);
    let (sfull, s1, s2) = (
        stream_of(&base, &s("full.xbs")),
        stream_of(&inc1, &s("inc1.xbs")),
        stream_of(&inc2, &s("inc2.xbs")),
    );
    let streams_before = [fs::read(&s1).unwrap(), fs::read(&s2).unwrap()];

    // The directory route.
    let want_dir = s("dirs");
    copy_dir(&base, &want_dir).unwrap();
    run_ok(&mut prepare(&want_dir, None, &[&inc1, &inc2]));
    let want = snapshot(&want_dir);

    // All streams: the full extracted into an absent directory, both incrementals in place.
    let all = s("all-streams");
    run_ok(&mut prepare(&all, Some(&sfull), &[&s1, &s2]));
    assert_eq!(snapshot(&all), want, "all streams");

    // The full from standard input, into an empty directory.
    let from_stdin = s("full-stdin");
    fs::create_dir(&from_stdin).unwrap();
    let o = run_with_stdin(
        &mut prepare(&from_stdin, Some(Path::new("-")), &[&s1, &s2]),
        &sfull,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(snapshot(&from_stdin), want, "full from stdin");

    // Mixed: a directory base, inc1 a directory, inc2 from standard input (spooled, removed).
    let mixed = s("mixed");
    copy_dir(&base, &mixed).unwrap();
    let o = run_with_stdin(&mut prepare(&mixed, None, &[&inc1, Path::new("-")]), &s2);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(snapshot(&mixed), want, "inc1 directory, inc2 from stdin");

    // Mixed the other way: inc1 a stream file, inc2 a directory.
    let mixed2 = s("mixed2");
    copy_dir(&base, &mixed2).unwrap();
    run_ok(&mut prepare(&mixed2, None, &[&s1, &inc2]));
    assert_eq!(snapshot(&mixed2), want, "inc1 stream, inc2 directory");

    // The streams were only read.
    assert_eq!(
        [fs::read(&s1).unwrap(), fs::read(&s2).unwrap()],
        streams_before
    );

    // Two uses of standard input are refused.
    let o = prepare(&s("x"), Some(Path::new("-")), &[Path::new("-")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("only once"));
}

/// Runs a refused prepare: exit status 2, one line naming `what`; the target unchanged.
fn refused(target: &Path, incs: &[&Path], what: &[&str]) {
    let before = snapshot(target);
    let o = prepare(target, None, incs).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for w in what {
        assert!(err.contains(w), "{w:?} not in {err}");
    }
    assert_eq!(snapshot(target), before, "the target changed: {err}");
}

#[test]
fn damaged_or_wrong_streams_are_refused_before_anything_is_written() {
    let d = tempfile::tempdir().unwrap();
    let (base, inc1, inc2) = make_chain(d.path(), TABLES);
    let s1 = stream_of(&inc1, &d.path().join("inc1.xbs"));
    let s2 = stream_of(&inc2, &d.path().join("inc2.xbs"));
    let bytes = fs::read(&s1).unwrap();
    let s2n = s2.display().to_string();

    // Truncated in the middle of a chunk.
    let cut = d.path().join("cut.xbs");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    refused(
        &base,
        &[&cut],
        &[&cut.display().to_string(), "truncated", "byte "],
    );

    // A flipped payload byte: the CRC of its chunk.
    let flipped = d.path().join("flipped.xbs");
    let mut b = bytes.clone();
    let at = b.len() / 3;
    b[at] ^= 0x40;
    fs::write(&flipped, &b).unwrap();
    refused(
        &base,
        &[&flipped],
        &[&flipped.display().to_string(), "byte "],
    );

    // Not an xbstream at all.
    let junk = d.path().join("junk.xbs");
    fs::write(&junk, vec![7u8; 4096]).unwrap();
    refused(&base, &[&junk], &[&junk.display().to_string(), "magic"]);

    // An extraction of a full stream that was interrupted (its marker left) is not resumed.
    let half = d.path().join("half");
    fs::create_dir(&half).unwrap();
    fs::write(half.join("ibdata1"), b"partial").unwrap();
    fs::write(half.join("xb_prepare.extracting"), b"").unwrap();
    let sfull = stream_of(&base, &d.path().join("full.xbs"));
    let o = prepare(&half, Some(&sfull), &[&s1]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("extraction") && err.contains("interrupted"),
        "{err}"
    );

    // The right streams in the wrong order, and an incremental of another base.
    refused(&base, &[&s2, &s1], &["does not follow", &s2n]);
    refused(&base, &[&s2], &["does not follow", &s2n]);
}

#[test]
fn a_prepare_killed_while_merging_from_streams_is_resumed_by_the_same_command() {
    let d = tempfile::tempdir().unwrap();
    let (base, inc1, inc2) = make_chain(d.path(), TABLES);
    let s1 = stream_of(&inc1, &d.path().join("inc1.xbs"));
    let s2 = stream_of(&inc2, &d.path().join("inc2.xbs"));
    let sfull = stream_of(&base, &d.path().join("full.xbs"));
    let reference = d.path().join("reference");
    copy_dir(&base, &reference).unwrap();
    run_ok(&mut prepare(&reference, None, &[&inc1, &inc2]));
    let want = snapshot(&reference);

    let mut resumed = 0;
    for round in 0..4u64 {
        let work = d.path().join(format!("work{round}"));
        // Rounds 2 and 3: the full from its stream too (extracted by the first run; the
        // re-run finds it there and does not read the stream again).
        let full_stream = round >= 2;
        if !full_stream {
            copy_dir(&base, &work).unwrap();
        }
        let via_stdin = round % 2 == 1;
        let second: &Path = if via_stdin { Path::new("-") } else { &s2 };
        let start = || {
            let full = full_stream.then_some(sfull.as_path());
            let mut c = prepare(&work, full, &[&s1, second]);
            c.env("XB_TEST_APPLY_DELAY_US", "50000")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if via_stdin {
                c.stdin(File::open(&s2).unwrap());
            }
            c
        };
        let mut child = start().spawn().unwrap();
        // Wait until the journal exists (the merge started), then a little more.
        let t = Instant::now();
        while !work.join("xb_prepare.journal").exists() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(30 + 40 * round));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if !status.success() && work.join("xb_prepare.journal").exists() {
            resumed += 1;
        }
        let mut again = start();
        again.env_remove("XB_TEST_APPLY_DELAY_US");
        let o = again.stderr(Stdio::piped()).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() || err.contains("already applied"),
            "round {round}: {err}"
        );
        let got = snapshot(&work);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "round {round}"
        );
        for (k, v) in &want {
            assert!(got[k] == *v, "round {round}: {} differs", k.display());
        }
    }
    assert!(
        resumed >= 3,
        "only {resumed} of 4 kills landed inside the merge"
    );
    let _ = std::io::stdout().flush();
}

/// `xb backup --stream=xbstream` of the stopped sandbox `src` into `out` (an incremental on
/// the directory `base` when given), then `mbstream -x` of it into the directory `dir`.
fn cold_stream(src: &mut Sandbox, out: &Path, dir: &Path, base: Option<&Path>) {
    if src.is_running() {
        src.checkpoint().expect("checkpoint");
        src.stop().expect("stop the source");
    }
    let mut c = xb();
    c.args(["--quiet", "backup", "--stream=xbstream", "--datadir"])
        .arg(src.datadir());
    if let Some(b) = base {
        c.arg("--incremental-basedir").arg(b);
    }
    let o = c.stdout(File::create(out).unwrap()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fs::create_dir(dir).unwrap();
    let o = Command::new("mbstream")
        .args(["-x", "-C"])
        .arg(dir)
        .stdin(File::open(out).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Disk blocks used by the files under `dirs`.
fn disk_use(dirs: &[&Path]) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fn walk(d: &Path) -> u64 {
        let Ok(rd) = fs::read_dir(d) else { return 0 };
        rd.flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                Ok(m) => m.blocks() * 512,
                Err(_) => 0,
            })
            .sum()
    }
    dirs.iter().map(|d| walk(d)).sum()
}

/// Runs `f` while sampling the disk use of `dirs` (every millisecond); returns the peak above
/// the use at the end.
fn peak_extra(dirs: &[&Path], f: impl FnOnce()) -> u64 {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let (stop, peak) = (AtomicBool::new(false), AtomicU64::new(0));
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(disk_use(dirs), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        f();
        stop.store(true, Ordering::Relaxed);
    });
    peak.load(Ordering::Relaxed).saturating_sub(disk_use(dirs))
}

/// A real chain (cold backups of a small MariaDB 10.11 datadir, streamed by `xb backup
/// --stream`): prepared from the streams (the second incremental from standard input) it
/// equals, file for file, the chain prepared from their `mbstream -x` directories; nothing
/// is left in `$TMPDIR` and nothing but the result in the target.
#[test]
fn a_real_chain_streamed_by_xb_backup_prepares_like_its_directories() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|p| p.into_inner());
    let work = short_tempdir().unwrap();
    let w = |p: &str| work.path().join(p);
    let mut src = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    src.sql_batch(
        "CREATE DATABASE shop; USE shop;
         CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), total DECIMAL(10,2),
                              KEY (customer)) ENGINE=InnoDB;
         INSERT INTO orders SELECT seq, CONCAT('c-', seq % 97), seq * 1.5 FROM seq_1_to_3000;
         CREATE TABLE gone (id INT PRIMARY KEY) ENGINE=InnoDB;
         INSERT INTO gone SELECT seq FROM seq_1_to_50;",
    )
    .unwrap();
    cold_stream(&mut src, &w("full.xbs"), &w("full"), None);
    src.start().unwrap();
    src.sql_batch(
        "USE shop; UPDATE orders SET total = total + 1 WHERE id % 7 = 0;
         INSERT INTO orders SELECT seq, 'late', 2.5 FROM seq_3001_to_3600;
         CREATE TABLE later (id INT PRIMARY KEY) ENGINE=InnoDB;
         INSERT INTO later SELECT seq FROM seq_1_to_100;",
    )
    .unwrap();
    cold_stream(&mut src, &w("inc1.xbs"), &w("inc1"), Some(&w("full")));
    src.start().unwrap();
    src.sql_batch(
        "USE shop; DELETE FROM orders WHERE id % 11 = 0; DROP TABLE gone;
         RENAME TABLE later TO later2;",
    )
    .unwrap();
    cold_stream(&mut src, &w("inc2.xbs"), &w("inc2"), Some(&w("inc1")));
    drop(src);

    let dirs = w("from-dirs");
    copy_dir(&w("full"), &dirs).unwrap();
    let tmp = w("tmp");
    fs::create_dir(&tmp).unwrap();
    let dir_extra = peak_extra(&[&dirs, &tmp], || {
        run_ok(prepare(&dirs, None, &[&w("inc1"), &w("inc2")]).env("TMPDIR", &tmp))
    });
    let want = snapshot(&dirs);
    let same = |got: &Path, how: &str| {
        let got = snapshot(got);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{how}"
        );
        for (k, v) in &want {
            assert!(got[k] == *v, "{how}: {} differs", k.display());
        }
    };

    // From the stream files: the full extracted, the incrementals read in place.
    let streams = w("from-streams");
    let stream_extra = peak_extra(&[&streams, &tmp], || {
        run_ok(
            prepare(
                &streams,
                Some(&w("full.xbs")),
                &[&w("inc1.xbs"), &w("inc2.xbs")],
            )
            .env("TMPDIR", &tmp),
        )
    });
    same(&streams, "from stream files");
    // The disk used beyond the result, at its peak (sampled): what the directory route uses
    // too (a file copied under a temporary name, then renamed over the old one), never more
    // than the largest file taken whole from the newest incremental.
    let largest = snapshot(&w("inc2"))
        .iter()
        .filter(|(k, _)| !k.to_string_lossy().ends_with(".delta"))
        .map(|(_, v)| v.len() as u64)
        .max()
        .unwrap();
    eprintln!(
        "peak disk beyond the result: {stream_extra} bytes from streams, {dir_extra} bytes \
         from directories (largest whole file of the newest incremental: {largest})"
    );
    assert!(
        stream_extra <= largest + 64 * 1024,
        "{stream_extra} > {largest}"
    );

    // The second incremental from standard input (spooled in the target, then removed).
    let stdin = w("from-stdin");
    copy_dir(&w("full"), &stdin).unwrap();
    let o = run_with_stdin(
        prepare(&stdin, None, &[&w("inc1.xbs"), Path::new("-")]).env("TMPDIR", &tmp),
        &w("inc2.xbs"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    same(&stdin, "inc2 from stdin");
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "left in $TMPDIR");
}

/// A copy of the backup `dir` at `out` with every file stored as `xb backup --compress
/// [--encrypt]` stores it, made by the real tools: `zstd` or `lz4`, then `age -r RECIPIENT`
/// (the checkpoints and `xb_backup_info` stay plain).
fn encoded_copy(dir: &Path, out: &Path, tool: &str, recipient: Option<&str>) -> PathBuf {
    copy_dir(dir, out).unwrap();
    for (rel, _) in snapshot(out) {
        let name = rel.to_string_lossy().into_owned();
        if name.ends_with('/')
            || ["xtrabackup_checkpoints", "xb_backup_info"].contains(&name.as_str())
        {
            continue;
        }
        let f = out.join(&rel);
        let packed = PathBuf::from(format!(
            "{}.{}",
            f.display(),
            if tool == "zstd" { "zst" } else { "lz4" }
        ));
        let mut c = Command::new(tool);
        c.args(["-q", "--rm"]).arg(&f);
        if tool == "zstd" {
            c.arg("-o");
        }
        let st = c.arg(&packed).status().unwrap();
        assert!(st.success(), "{tool} {}", f.display());
        if let Some(r) = recipient {
            let sealed = PathBuf::from(format!("{}.age", packed.display()));
            let st = Command::new("age")
                .args(["-r", r, "-o"])
                .arg(&sealed)
                .arg(&packed)
                .status()
                .unwrap();
            assert!(st.success());
            fs::remove_file(&packed).unwrap();
        }
    }
    out.to_path_buf()
}

#[test]
fn compressed_and_encrypted_streams_are_decoded_while_merged() {
    let d = tempfile::tempdir().unwrap();
    let (base, inc1, inc2) = make_chain(d.path(), TABLES);
    let s = |n: &str| d.path().join(n);
    let want_dir = s("dirs");
    copy_dir(&base, &want_dir).unwrap();
    run_ok(&mut prepare(&want_dir, None, &[&inc1, &inc2]));
    let want = snapshot(&want_dir);

    let key = s("key.txt");
    let o = Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = fs::read_to_string(&key).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    let sfull = stream_of(
        &encoded_copy(&base, &s("full.enc"), "zstd", Some(&recipient)),
        &s("full.xbs"),
    );
    let s1 = stream_of(
        &encoded_copy(&inc1, &s("inc1.enc"), "zstd", Some(&recipient)),
        &s("inc1.xbs"),
    );
    let s2 = stream_of(
        &encoded_copy(&inc2, &s("inc2.enc"), "lz4", None),
        &s("inc2.xbs"),
    );

    // Without the key: refused before anything is written, naming an encrypted file.
    let no_key = s("no-key");
    copy_dir(&base, &no_key).unwrap();
    let before = snapshot(&no_key);
    let o = prepare(&no_key, None, &[&s1, &s2])
        .env_remove("XB_ENCRYPT_KEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(".age"), "{err}");
    assert_eq!(snapshot(&no_key), before);

    let got = s("from-encoded");
    run_ok(
        prepare(&got, Some(&sfull), &[&s1, &s2])
            .arg("--encrypt-key-file")
            .arg(&key),
    );
    let got = snapshot(&got);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, v) in &want {
        assert!(got[k] == *v, "{} differs", k.display());
    }
}

/// `mariabackup --backup --stream=xbstream` of the running `src` into `out` (an incremental on
/// the directory `base` when given), then `mbstream -x` of it into `dir`.
fn mariabackup_stream(src: &Sandbox, out: &Path, dir: &Path, base: Option<&Path>) {
    let mut c = src.mariabackup_command();
    c.args(["--backup", "--stream=xbstream"]).arg(format!(
        "--target-dir={}",
        dir.with_extension("tmp").display()
    ));
    if let Some(b) = base {
        c.arg(format!("--incremental-basedir={}", b.display()));
    }
    let o = c.stdout(File::create(out).unwrap()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fs::create_dir(dir).unwrap();
    let o = Command::new("mbstream")
        .args(["-x", "-C"])
        .arg(dir)
        .stdin(File::open(out).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// mariabackup's own streams (no `xb_backup_info`: the redo start of the newest incremental is
/// read from its `ib_logfile0`, copied out of the stream to `$TMPDIR` for that and removed):
/// prepared from the streams as from their directories.
#[test]
fn mariabackup_streams_prepare_like_their_directories() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|p| p.into_inner());
    let work = short_tempdir().unwrap();
    let w = |p: &str| work.path().join(p);
    let src = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    src.sql_batch(
        "CREATE DATABASE shop; USE shop;
         CREATE TABLE orders (id INT PRIMARY KEY, total INT) ENGINE=InnoDB;
         INSERT INTO orders SELECT seq, seq FROM seq_1_to_2000;",
    )
    .unwrap();
    mariabackup_stream(&src, &w("full.xbs"), &w("full"), None);
    src.sql_batch("USE shop; UPDATE orders SET total = total + 1 WHERE id % 5 = 0;")
        .unwrap();
    mariabackup_stream(&src, &w("inc1.xbs"), &w("inc1"), Some(&w("full")));
    drop(src);

    let dirs = w("from-dirs");
    copy_dir(&w("full"), &dirs).unwrap();
    run_ok(&mut prepare(&dirs, None, &[&w("inc1")]));
    let want = snapshot(&dirs);
    let tmp = w("tmp");
    fs::create_dir(&tmp).unwrap();
    let streams = w("from-streams");
    run_ok(prepare(&streams, Some(&w("full.xbs")), &[&w("inc1.xbs")]).env("TMPDIR", &tmp));
    let got = snapshot(&streams);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, v) in &want {
        assert!(got[k] == *v, "{} differs", k.display());
    }
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "left in $TMPDIR");
}
