//! Compression and encryption of backup files (incremental_core::codec): round trips through
//! every piece, the real `zstd`, `lz4` and `age` CLIs decoding what xb writes, and tamper
//! tests for every format (a changed byte, a cut, a dropped or reordered age chunk, a wrong
//! key): each a clear error naming the file, and nothing left under a final name.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use incremental_core::backup::sink::{DirSink, FileMeta, Sink};
use incremental_core::codec::{
    decode_dir, CodecError, CodecOptions, CodecSink, Compression, DecodingSink, DecodingSource,
    KeyFile,
};
use incremental_core::progress::{Cancel, NoProgress};
use incremental_core::source::{BackupSource, DirSource};

const IDENTITY: &str = "AGE-SECRET-KEY-13GDQHAR08PXHVN8QFRGX2N49DTA282SZMJV282VT8WJVFKEQ7DEQMFSEF8";
const OTHER_RECIPIENT: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

fn key() -> KeyFile {
    KeyFile::parse(IDENTITY, "test key").unwrap()
}

/// 2.5 MiB: compressible text, then pseudo-random bytes (three frames of 1 MiB).
fn data() -> Vec<u8> {
    let mut v = Vec::with_capacity(5 << 19);
    let mut i = 0u64;
    while v.len() < 3 << 19 {
        v.extend_from_slice(format!("row {i} value {} ", i * 7 % 1000).as_bytes());
        i += 1;
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while v.len() < 5 << 19 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    v
}

const FILES: [(&str, usize); 3] = [
    ("db/t.ibd", usize::MAX),
    ("db/empty.MYD", 0),
    ("backup-my.cnf", 37),
];

fn contents(len: usize) -> Vec<u8> {
    let d = data();
    d[..len.min(d.len())].to_vec()
}

/// A backup directory written through a CodecSink with `opts`.
fn write_backup(root: &Path, opts: &CodecOptions) {
    let mut sink = CodecSink::new(DirSink::new(root).unwrap().sync(false), opts).unwrap();
    for (name, len) in FILES.iter().chain([&("xtrabackup_checkpoints", 20)]) {
        let bytes = contents(*len);
        let mut f = sink
            .create(&FileMeta::new(name.as_ref(), Some(bytes.len() as u64)))
            .unwrap();
        for piece in bytes.chunks(100_000) {
            f.write_all(piece).unwrap();
        }
        f.finish().unwrap();
    }
    sink.finish().unwrap();
}

fn options(c: Option<Compression>, encrypt: bool) -> CodecOptions {
    let mut o = CodecOptions::default();
    o.set_compression(c);
    if encrypt {
        o.set_keys(Some(key()));
    }
    o
}

fn suffix(c: Option<Compression>, encrypt: bool) -> String {
    let mut s = match c {
        Some(Compression::Zstd) => ".zst".to_string(),
        Some(Compression::Lz4) => ".lz4".to_string(),
        _ => String::new(),
    };
    if encrypt {
        s.push_str(".age");
    }
    s
}

const COMBOS: [(Option<Compression>, bool); 5] = [
    (Some(Compression::Zstd), false),
    (Some(Compression::Lz4), false),
    (Some(Compression::Zstd), true),
    (Some(Compression::Lz4), true),
    (None, true),
];

fn check_plain(dir: &Path) {
    for (name, len) in FILES {
        assert!(fs::read(dir.join(name)).unwrap() == contents(len), "{name}");
    }
}

#[test]
fn round_trips_through_source_decode_dir_and_decoding_sink() {
    let t = tempfile::tempdir().unwrap();
    for (c, e) in COMBOS {
        let sfx = suffix(c, e);
        let root = t.path().join(format!("b{sfx}"));
        write_backup(&root, &options(c, e));
        assert!(root.join(format!("db/t.ibd{sfx}")).is_file());
        assert!(!root.join("db/t.ibd").exists());
        // kept plain whatever the options
        assert_eq!(
            fs::read(root.join("xtrabackup_checkpoints")).unwrap(),
            contents(20)
        );

        // a decoding source: plain names, plain bytes
        let src = DecodingSource::new(DirSource::new(&root), Some(key()));
        let names: Vec<PathBuf> = src.files().unwrap().into_iter().map(|f| f.path).collect();
        assert!(names.contains(&PathBuf::from("db/t.ibd")), "{names:?}");
        for (name, len) in FILES {
            let mut got = Vec::new();
            src.open(name.as_ref())
                .unwrap()
                .read_to_end(&mut got)
                .unwrap();
            assert!(got == contents(len), "{name}{sfx}: {} bytes", got.len());
        }

        // a decoding sink: the encoded files written through it land decoded
        let out = t.path().join(format!("x{sfx}"));
        let mut sink = DecodingSink::new(DirSink::new(&out).unwrap().sync(false), Some(key()));
        for f in DirSource::new(&root).files().unwrap() {
            let bytes = fs::read(root.join(&f.path)).unwrap();
            let mut w = sink.create(&FileMeta::new(&f.path, Some(f.size))).unwrap();
            for piece in bytes.chunks(7_000) {
                w.write_all(piece).unwrap();
            }
            w.finish().unwrap();
        }
        sink.finish().unwrap();
        check_plain(&out);

        // in place, removing the originals
        let mut o = CodecOptions::default();
        o.set_keys(Some(key())).set_remove_original(true);
        let rep = decode_dir(&root, &o, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!(rep.files, 3);
        check_plain(&root);
        assert!(!root.join(format!("db/t.ibd{sfx}")).exists());
    }
}

#[test]
fn xtrabackup_info_records_the_encoding() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("b");
    let mut sink = CodecSink::new(
        DirSink::new(&root).unwrap().sync(false),
        &options(Some(Compression::Zstd), true),
    )
    .unwrap();
    let text = b"tool_name = xb\ncompressed = N\n";
    let mut f = sink
        .create(&FileMeta::new(
            "xtrabackup_info".as_ref(),
            Some(text.len() as u64),
        ))
        .unwrap();
    f.write_all(text).unwrap();
    f.finish().unwrap();
    let mut got = String::new();
    DecodingSource::new(DirSource::new(&root), Some(key()))
        .open("xtrabackup_info".as_ref())
        .unwrap()
        .read_to_string(&mut got)
        .unwrap();
    assert!(got.contains("compressed = compressed\n"), "{got}");
    let info = incremental_core::format::info::Info::parse(got.as_bytes()).unwrap();
    assert_eq!(info.compressed().unwrap(), Some(true));
    assert_eq!(info.encrypted().unwrap(), Some(true));
    assert!(got.contains("encrypted = Y\n"), "{got}");
}

/// Runs a CLI with `args`, standard input from `input`, and returns its standard output.
fn run(cmd: &str, args: &[&str], input: &Path) -> Vec<u8> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(fs::File::open(input).unwrap())
        .output()
        .unwrap_or_else(|e| panic!("{cmd} is needed (scripts/lib/ensure-tools.sh): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} {}: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn zstd_lz4_and_age_clis_decode_what_xb_writes() {
    let t = tempfile::tempdir().unwrap();
    let key_file = t.path().join("key.txt");
    fs::write(&key_file, format!("# test\n{IDENTITY}\n")).unwrap();
    let key_arg = key_file.to_str().unwrap();
    for (c, e) in COMBOS {
        let sfx = suffix(c, e);
        let root = t.path().join(format!("b{sfx}"));
        write_backup(&root, &options(c, e));
        for (name, len) in FILES {
            let stored = root.join(format!("{name}{sfx}"));
            let mut bytes = fs::read(&stored).unwrap();
            if e {
                let plain = t.path().join("decrypted");
                fs::write(&plain, run("age", &["-d", "-i", key_arg], &stored)).unwrap();
                bytes = fs::read(&plain).unwrap();
                fs::write(&stored, &bytes).unwrap();
            }
            let got = match c {
                Some(Compression::Zstd) => run("zstd", &["-d", "-c", "-q"], &stored),
                Some(Compression::Lz4) => run("lz4", &["-d", "-c", "-q"], &stored),
                _ => bytes,
            };
            assert!(got == contents(len), "{name}{sfx}: {} bytes", got.len());
        }
    }
}

/// What decoding the damaged file `rel` of `root` gives, through decode_dir (the error, and
/// that no decoded or temporary file is left) and through a decoding source.
fn damaged(root: &Path, rel: &str, keys: Option<KeyFile>) -> CodecError {
    let mut o = CodecOptions::default();
    o.set_keys(keys.clone()).set_threads(1);
    let e = decode_dir(root, &o, &NoProgress, &Cancel::new()).unwrap_err();
    let plain = rel
        .split(".zst")
        .next()
        .unwrap()
        .split(".lz4")
        .next()
        .unwrap();
    let plain = plain.trim_end_matches(".age");
    assert!(!root.join(plain).exists(), "{plain} left after {e}");
    assert!(!root.join(format!("{plain}.xbdecode")).exists());
    assert!(root.join(rel).exists(), "the original stays");
    // the source reports it too, naming the file
    let src = DecodingSource::new(DirSource::new(root), keys);
    let err = match src.open(plain.as_ref()) {
        Err(e) => e.to_string(),
        Ok(mut r) => r.read_to_end(&mut Vec::new()).unwrap_err().to_string(),
    };
    assert!(err.contains(rel), "{err}");
    e
}

fn backup_with(t: &Path, name: &str, c: Option<Compression>, e: bool) -> (PathBuf, String) {
    let root = t.join(name);
    let mut sink =
        CodecSink::new(DirSink::new(&root).unwrap().sync(false), &options(c, e)).unwrap();
    let mut f = sink.create(&FileMeta::new("t.ibd".as_ref(), None)).unwrap();
    f.write_all(&data()).unwrap();
    f.finish().unwrap();
    (root, format!("t.ibd{}", suffix(c, e)))
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = fs::read(path).unwrap();
    f(&mut b);
    fs::write(path, b).unwrap();
}

#[test]
fn a_changed_byte_and_a_cut_are_found_in_every_format() {
    let t = tempfile::tempdir().unwrap();
    for (i, (c, e)) in COMBOS.iter().enumerate() {
        for cut in [false, true] {
            let (root, rel) = backup_with(t.path(), &format!("{i}-{cut}"), *c, *e);
            edit(&root.join(&rel), |b| {
                if cut {
                    b.truncate(b.len() * 2 / 3);
                } else {
                    let at = b.len() / 2;
                    b[at] ^= 0x20;
                }
            });
            let err = damaged(&root, &rel, Some(key()));
            assert!(
                matches!(err, CodecError::Corrupt { .. }),
                "{rel} cut {cut}: {err}"
            );
            assert!(err.to_string().contains(&rel), "{err}");
        }
    }
}

/// age's payload: a 16-byte nonce then chunks of 64 KiB + 16 bytes of tag.
const AGE_CHUNK: usize = 65536 + 16;

fn payload_start(b: &[u8]) -> usize {
    let end = b.windows(4).position(|w| w == b"\n---").unwrap();
    let line_end = end + 1 + b[end + 1..].iter().position(|&c| c == b'\n').unwrap();
    line_end + 1 + 16
}

#[test]
fn a_dropped_or_reordered_age_chunk_and_a_wrong_key_are_found() {
    let t = tempfile::tempdir().unwrap();
    for (n, change) in ["drop", "swap"].iter().enumerate() {
        let (root, rel) = backup_with(t.path(), &format!("{n}"), None, true);
        edit(&root.join(&rel), |b| {
            let p = payload_start(b);
            let first: Vec<u8> = b[p..p + AGE_CHUNK].to_vec();
            if *change == "drop" {
                b.drain(p..p + AGE_CHUNK);
            } else {
                let second: Vec<u8> = b[p + AGE_CHUNK..p + 2 * AGE_CHUNK].to_vec();
                b[p..p + AGE_CHUNK].copy_from_slice(&second);
                b[p + AGE_CHUNK..p + 2 * AGE_CHUNK].copy_from_slice(&first);
            }
        });
        let err = damaged(&root, &rel, Some(key()));
        assert!(
            matches!(err, CodecError::Corrupt { format: "age", .. }),
            "{change}: {err}"
        );
    }
    let (root, rel) = backup_with(t.path(), "wrong", Some(Compression::Zstd), true);
    let other = KeyFile::parse(OTHER_RECIPIENT, "other").unwrap();
    // a file holding only a public key cannot decrypt
    let err = damaged(&root, &rel, Some(other));
    assert!(matches!(err, CodecError::NoKey { .. }), "{err}");
    let wrong = fresh_identity(t.path());
    let err = damaged(&root, &rel, Some(wrong));
    assert!(matches!(err, CodecError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains(&rel), "{err}");
}

/// A new identity from `age-keygen`.
fn fresh_identity(dir: &Path) -> KeyFile {
    let path = dir.join("fresh.txt");
    let st = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert!(st.status.success());
    KeyFile::read(&path).unwrap()
}

#[test]
fn the_decoding_sink_leaves_nothing_finished_from_a_damaged_file() {
    let t = tempfile::tempdir().unwrap();
    let (root, rel) = backup_with(t.path(), "b", Some(Compression::Zstd), true);
    edit(&root.join(&rel), |b| {
        let at = b.len() - 100;
        b[at] ^= 1;
    });
    let out = t.path().join("x");
    let mut sink = DecodingSink::new(DirSink::new(&out).unwrap().sync(false), Some(key()));
    let bytes = fs::read(root.join(&rel)).unwrap();
    let mut w = sink.create(&FileMeta::new(rel.as_ref(), None)).unwrap();
    let r = w.write_all(&bytes).and_then(|()| w.finish());
    let e = r.unwrap_err();
    let c = CodecError::in_io(&e).expect("a codec error");
    assert!(matches!(c, CodecError::Corrupt { .. }), "{c}");
    assert!(e.to_string().contains(&rel), "{e}");
    assert!(!out.join("t.ibd").exists());
}

#[test]
fn an_lz4_file_cut_right_after_a_frame_magic_is_found() {
    let t = tempfile::tempdir().unwrap();
    let (root, rel) = backup_with(t.path(), "b", Some(Compression::Lz4), false);
    edit(&root.join(&rel), |b| {
        // without xb's skippable header and trailer, as Percona XtraBackup writes it
        b.drain(..16);
        let second = 4 + b[4..]
            .windows(4)
            .position(|w| w == [0x04, 0x22, 0x4d, 0x18])
            .unwrap();
        b.truncate(second + 4);
    });
    let err = damaged(&root, &rel, None);
    assert!(
        matches!(err, CodecError::Corrupt { format: "lz4", .. }),
        "{err}"
    );
}

#[test]
fn an_encoded_xbstream_extracts_decoded_through_the_decoding_sink() {
    use incremental_core::xbstream::{extract, ExtractOptions, StreamSink};
    let t = tempfile::tempdir().unwrap();
    let stream = t.path().join("b.xbstream");
    let opts = options(Some(Compression::Zstd), true);
    let mut sink =
        CodecSink::new(StreamSink::new(fs::File::create(&stream).unwrap()), &opts).unwrap();
    assert!(
        !sink.replaces_files(),
        "a stream cannot take a file back, encoded or not"
    );
    for (name, len) in FILES {
        let bytes = contents(len);
        let mut f = sink
            .create(&FileMeta::new(name.as_ref(), Some(bytes.len() as u64)))
            .unwrap();
        f.write_all(&bytes).unwrap();
        f.finish().unwrap();
    }
    sink.finish().unwrap();
    drop(sink);
    let out = t.path().join("x");
    let mut dec = DecodingSink::new(DirSink::new(&out).unwrap().sync(false), Some(key()));
    let mut o = ExtractOptions::default();
    o.set_parallel(2);
    extract(
        fs::File::open(&stream).unwrap(),
        &mut dec,
        &o,
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap();
    dec.finish().unwrap();
    check_plain(&out);
    assert!(!out.join("db/t.ibd.zst.age").exists());
}

#[test]
fn decoding_in_place_finishes_an_interrupted_run() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("b");
    write_backup(&root, &options(Some(Compression::Lz4), true));
    let sfx = suffix(Some(Compression::Lz4), true);
    // as an interrupted run leaves it: one file done and its original removed, one done with
    // its original still there, one half-decoded under the temporary name
    let mut o = CodecOptions::default();
    o.set_keys(Some(key())).set_remove_original(true);
    fs::write(root.join("backup-my.cnf"), contents(37)).unwrap();
    fs::remove_file(root.join(format!("backup-my.cnf{sfx}"))).unwrap();
    fs::write(root.join("db/empty.MYD"), b"").unwrap();
    fs::write(root.join("db/t.ibd.xbdecode"), b"half").unwrap();
    let rep = decode_dir(&root, &o, &NoProgress, &Cancel::new()).unwrap();
    assert_eq!((rep.files, rep.removed), (2, 2));
    check_plain(&root);
    let left: Vec<PathBuf> = DirSource::new(&root)
        .files()
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert!(
        left.iter().all(
            |p| incremental_core::codec::names::decoded_name(p).is_none()
                && !p.to_string_lossy().ends_with(".xbdecode")
        ),
        "{left:?}"
    );
    // and a second run has nothing left to do
    assert_eq!(
        decode_dir(&root, &o, &NoProgress, &Cancel::new())
            .unwrap()
            .files,
        0
    );
}

#[test]
fn a_zstd_frame_asking_for_a_huge_window_is_refused() {
    use std::process::Stdio;
    // `zstd --long=27` from a pipe: the frame header asks for a 128 MiB window
    let mut z = Command::new("zstd")
        .args(["-q", "-c", "--long=27"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("zstd is needed (scripts/lib/ensure-tools.sh)");
    z.stdin.take().unwrap().write_all(&data()).unwrap();
    let out = z.wait_with_output().unwrap();
    assert!(out.status.success());
    let mut sink = Vec::new();
    let e = incremental_core::codec::decode_to("t.zst".as_ref(), &out.stdout[..], &mut sink, None)
        .unwrap_err();
    assert!(
        matches!(e, CodecError::Corrupt { format: "zstd", .. }),
        "{e}"
    );
}

/// Where the frames of a compressed file start (after xb's 16-byte header), by their magic.
fn frame_starts(b: &[u8], magic: [u8; 4]) -> Vec<usize> {
    let mut v: Vec<usize> = b
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == magic)
        .map(|(i, _)| i)
        .collect();
    v.retain(|&i| i >= 16);
    v
}

/// The length of the skippable frame that closes each compressed file xb writes.
const TRAILER: usize = 28;

#[test]
fn a_cut_a_dropped_frame_or_swapped_frames_are_found_by_the_trailer() {
    let t = tempfile::tempdir().unwrap();
    for (c, magic) in [
        (Compression::Zstd, [0x28, 0xb5, 0x2f, 0xfd]),
        (Compression::Lz4, [0x04, 0x22, 0x4d, 0x18]),
    ] {
        for how in ["cut", "drop", "swap", "no-trailer"] {
            let (root, rel) = backup_with(t.path(), &format!("{}-{how}", c.name()), Some(c), false);
            edit(&root.join(&rel), |b| {
                let f = frame_starts(b, magic);
                assert_eq!(f.len(), 3, "three frames of 1 MiB and less");
                match how {
                    "cut" => b.truncate(f[1]),
                    "drop" => {
                        b.drain(f[1]..f[2]);
                    }
                    "swap" => {
                        // two whole frames of 1 MiB each: the same number of bytes
                        let second = b[f[1]..f[2]].to_vec();
                        let first = b[f[0]..f[1]].to_vec();
                        b.splice(f[0]..f[2], second.into_iter().chain(first));
                    }
                    _ => b.truncate(b.len() - TRAILER),
                }
            });
            let err = damaged(&root, &rel, None);
            assert!(
                matches!(err, CodecError::Corrupt { .. }),
                "{rel} {how}: {err}"
            );
        }
    }
}

#[test]
fn files_without_the_skippable_frames_decode_as_percona_writes_them() {
    let t = tempfile::tempdir().unwrap();
    for c in [Compression::Zstd, Compression::Lz4] {
        let (root, rel) = backup_with(t.path(), c.name(), Some(c), false);
        let mut b = fs::read(root.join(&rel)).unwrap();
        b.truncate(b.len() - TRAILER);
        b.drain(..16);
        let mut out = Vec::new();
        incremental_core::codec::decode_to(rel.as_ref(), &b[..], &mut out, None).unwrap();
        assert!(out == data(), "{rel}: {} bytes", out.len());
    }
}

/// Every file of `dir` by relative name.
fn files_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let src = DirSource::new(dir);
    let files = src.files().unwrap();
    let read = |f: &incremental_core::source::SourceFile| fs::read(dir.join(&f.path)).unwrap();
    files.iter().map(|f| (f.path.clone(), read(f))).collect()
}

#[test]
fn the_library_prepare_decodes_a_compressed_and_encrypted_backup_first() {
    use incremental_core::prepare::{self, PrepareOptions};
    let t = tempfile::tempdir().unwrap();
    let src = Path::new("../tests/data/mariadb-10.11/backup/full");
    let plain = t.path().join("plain");
    xb_testkit::sandbox::copy_dir(src, &plain).unwrap();
    let enc = t.path().join("enc");
    let opts = options(Some(Compression::Zstd), true);
    let mut sink = CodecSink::new(DirSink::new(&enc).unwrap().sync(false), &opts).unwrap();
    for (rel, bytes) in files_of(src) {
        let meta = FileMeta::new(&rel, Some(bytes.len() as u64));
        let mut f = sink.create(&meta).unwrap();
        f.write_all(&bytes).unwrap();
        f.finish().unwrap();
    }
    sink.finish().unwrap();
    let run = |dir: &Path, keys: Option<KeyFile>| {
        let mut o = PrepareOptions::default();
        o.set_keys(keys);
        prepare::prepare(dir, &[], &o, &NoProgress, &Cancel::new()).unwrap()
    };
    run(&plain, None);
    run(&enc, Some(key()));
    let (p, e) = (files_of(&plain), files_of(&enc));
    let names = |v: &[(PathBuf, Vec<u8>)]| v.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&p), names(&e));
    for (a, b) in p.iter().zip(&e) {
        // the encoded backup's xtrabackup_info records its encoding (CodecSink)
        if a.0 == Path::new("xtrabackup_info") {
            assert!(String::from_utf8_lossy(&b.1).contains("compressed = compressed"));
            continue;
        }
        assert!(a.1 == b.1, "{} differs", a.0.display());
    }
}
