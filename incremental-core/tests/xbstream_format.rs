//! xbstream: the spec's hex vectors (docs of /work/shared/spec/xbstream.md §8), the writer and
//! reader round trip, the stream index, the stream sink, and every refusal of the extraction
//! (each leaving no incomplete file under its final name).

use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use incremental_core::backup::sink::{DirSink, FileMeta, Sink};
use incremental_core::progress::{Cancel, NoProgress};
use incremental_core::xbstream::chunk::{
    crc32, encode_end, encode_payload_header, encode_remove, encode_rename, encode_seek,
};
use incremental_core::xbstream::reader::{Body, StreamReader};
use incremental_core::xbstream::{
    extract, ExtractOptions, ExtractReport, StreamIndex, StreamSink, StreamWriter, XbstreamError,
};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const T1: &str = "58425354434b303100500900000068656c6c6f2e747874
    0600000000000000 0000000000000000 20303a36 68656c6c6f0a
    58425354434b303100450900000068656c6c6f2e747874";
const T2: &str = "58425354434b3031004509000000656d7074792e747874";
const T3: &str = "
58425354434b3031005005000000612e74787404000000000000000000000000000000f1080d9b41414141
58425354434b30310050090000006469722f622e74787402000000000000000000000000000000c41f441b4242
58425354434b3031005005000000612e74787402000000000000000400000000000000d7198a076161
58425354434b30310045090000006469722f622e747874
58425354434b3031004505000000612e747874";
const T4: &str =
    "58425354434b3031005005000000632e74787404000000000000000000000000000000785634126576696c
    58425354434b3031004505000000632e747874";
const T6: &str = "58425354434b3031005305000000732e62696e 02000000 0800000000000000 0000000000000000
    e4557b23 0000000004000000 0800000004000000 4141414142424242
    58425354434b3031004505000000732e62696e";

/// A stream of `P`/`S`/`E` chunks built by hand (any offsets, unlike the writer).
fn p(path: &str, data: &[u8], offset: u64) -> Vec<u8> {
    let mut v = encode_payload_header(path.as_bytes(), data.len() as u64, offset, crc32(data));
    v.extend_from_slice(data);
    v
}

fn e(path: &str) -> Vec<u8> {
    encode_end(path.as_bytes())
}

/// Extracts `stream` into a new directory; the result and the directory's files.
fn run(stream: &[u8], parallel: usize) -> (Result<ExtractReport, XbstreamError>, Files) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("x");
    let mut sink = DirSink::new(&root).unwrap().sync(false);
    let mut o = ExtractOptions::default();
    o.set_parallel(parallel);
    let r = extract(stream, &mut sink, &o, &NoProgress, &Cancel::new());
    (r, files(&root))
}

type Files = BTreeMap<PathBuf, Vec<u8>>;

fn files(root: &Path) -> Files {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn only_final(f: &Files) -> Vec<(&str, &[u8])> {
    f.iter()
        .filter(|(p, _)| !p.to_str().unwrap().ends_with(".xbtmp"))
        .map(|(p, b)| (p.to_str().unwrap(), b.as_slice()))
        .collect()
}

#[test]
fn vectors_t1_t2_t3_extract_as_mbstream_does() {
    let t1 = hex(T1);
    assert_eq!(t1.len(), 72);
    let mut w = StreamWriter::new(Vec::new());
    w.payload(b"hello.txt", b"hello\n").unwrap();
    w.end(b"hello.txt").unwrap();
    assert_eq!(w.into_inner(), t1, "the writer makes T1 byte for byte");
    let (r, f) = run(&t1, 1);
    assert_eq!(r.unwrap().files, 1);
    assert_eq!(only_final(&f), [("hello.txt", &b"hello\n"[..])]);

    let (r, f) = run(&hex(T2), 1);
    r.unwrap();
    assert_eq!(only_final(&f), [("empty.txt", &b""[..])]);

    let t3 = hex(T3);
    assert_eq!(t3.len(), 171);
    for parallel in [1, 3] {
        let (r, f) = run(&t3, parallel);
        let r = r.unwrap();
        assert_eq!((r.files, r.bytes, r.chunks), (2, 8, 5));
        assert_eq!(
            only_final(&f),
            [("a.txt", &b"AAAAaa"[..]), ("dir/b.txt", &b"BB"[..])]
        );
    }
}

#[test]
fn t4_bad_checksum_is_refused_naming_the_crc_field() {
    let (r, f) = run(&hex(T4), 1);
    match r.unwrap_err() {
        XbstreamError::BadChecksum {
            offset,
            path,
            stored,
            computed,
        } => {
            assert_eq!((offset, path.as_str()), (0x23, "c.txt"));
            assert_eq!((stored, computed), (0x1234_5678, crc32(b"evil")));
        }
        e => panic!("{e}"),
    }
    assert!(only_final(&f).is_empty(), "{f:?}");
}

#[test]
fn t5_mariadb_seek_is_read_and_out_of_order_refused() {
    let mut s = p("f", b"AAAA", 0);
    s.extend(encode_seek(b"f", 8));
    s.extend(p("f", b"BBBB", 8));
    s.extend(e("f"));
    assert_eq!(s.len(), 116);
    let (r, f) = run(&s, 1);
    r.unwrap();
    assert_eq!(only_final(&f), [("f", &b"AAAA\0\0\0\0BBBB"[..])]);
    // the index reads the same bytes, the hole as zeros
    let mut c = Cursor::new(s.clone());
    let index = StreamIndex::build(&mut c).unwrap();
    let mut got = Vec::new();
    let file = index.get(Path::new("f")).unwrap();
    file.view(&mut c).read_to_end(&mut got).unwrap();
    assert_eq!(got, b"AAAA\0\0\0\0BBBB");

    let mut bad = p("f", b"AAAA", 0);
    bad.extend(encode_seek(b"f", 8));
    bad.extend(p("f", b"BBBB", 4));
    bad.extend(e("f"));
    let (r, f) = run(&bad, 1);
    assert!(matches!(
        r.unwrap_err(),
        XbstreamError::OutOfOrder {
            found: 4,
            expected: 8,
            ..
        }
    ));
    assert!(only_final(&f).is_empty());
}

#[test]
fn t6_percona_sparse_is_refused_as_such() {
    let t6 = hex(T6);
    let (r, f) = run(&t6, 1);
    let err = r.unwrap_err();
    assert!(
        matches!(&err, XbstreamError::PerconaSparse { offset: 0, path } if path == "s.bin"),
        "{err}"
    );
    assert!(err.to_string().contains("Percona"), "{err}");
    assert!(only_final(&f).is_empty());
}

/// A refusal: the error, and no file under a final name but `complete`.
fn refused(stream: &[u8], complete: &[&str]) -> XbstreamError {
    let mut last = None;
    for parallel in [1, 2] {
        let (r, f) = run(stream, parallel);
        let names: Vec<&str> = only_final(&f).iter().map(|(n, _)| *n).collect();
        assert_eq!(names, complete, "parallel {parallel}");
        last = Some(r.expect_err("must be refused"));
    }
    last.unwrap()
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn paths_leaving_the_target_are_refused() {
    for bad in [
        "../escape.txt",
        "/abs/x",
        ".hidden",
        "./c",
        "a/../../x",
        "a/..",
        "x.xbtmp",
    ] {
        let s = cat(&[p("ok", b"1", 0), e("ok"), p(bad, b"evil", 0), e(bad)]);
        let err = refused(&s, &["ok"]);
        assert!(
            matches!(&err, XbstreamError::BadPath { offset, path, .. } if *offset == 53 && path == bad),
            "{bad}: {err}"
        );
    }
}

#[test]
fn rename_and_remove_outside_the_target_or_of_open_files_are_refused() {
    let base = || cat(&[p("f", b"data", 0), e("f")]);
    for chunk in [
        encode_rename(b"f", b"../esc"),
        encode_rename(b"../victim", b"f2"),
        encode_rename(b"f", b"/tmp/x"),
        encode_remove(b"../victim"),
        encode_remove(b"/etc/passwd"),
    ] {
        let s = cat(&[base(), chunk]);
        let err = refused(&s, &["f"]);
        assert!(matches!(err, XbstreamError::BadPath { .. }), "{err}");
    }
    // on a file still being written
    for chunk in [encode_rename(b"g", b"h"), encode_remove(b"g")] {
        let s = cat(&[p("g", b"1", 0), chunk, e("g")]);
        let err = refused(&s, &[]);
        assert!(matches!(err, XbstreamError::OpenFile { .. }), "{err}");
    }
    // inside the target they are applied
    let s = cat(&[
        base(),
        encode_rename(b"f", b"d/g"),
        p("h", b"2", 0),
        e("h"),
        encode_remove(b"h"),
        encode_remove(b"never-there"),
    ]);
    for parallel in [1, 2] {
        let (r, f) = run(&s, parallel);
        r.unwrap();
        assert_eq!(only_final(&f), [("d/g", &b"data"[..])]);
    }
}

#[test]
fn order_end_truncation_and_type_errors_are_refused() {
    // a chunk after the file's end (mbstream: "File exists", exit 0)
    let s = cat(&[p("f", b"1", 0), e("f"), p("f", b"2", 0), e("f")]);
    assert!(matches!(
        refused(&s, &["f"]),
        XbstreamError::AfterEnd { offset: 51, .. }
    ));
    // a gap
    let s = cat(&[p("f", b"1", 0), p("f", b"2", 5), e("f")]);
    assert!(matches!(refused(&s, &[]), XbstreamError::OutOfOrder { .. }));
    // first offset not 0
    let s = cat(&[p("f", b"1", 1), e("f")]);
    assert!(matches!(refused(&s, &[]), XbstreamError::OutOfOrder { .. }));
    // truncated: every cut point of a two-file stream; files before the cut stay whole
    let whole = cat(&[p("a", b"AAAA", 0), e("a"), p("b", b"BBBB", 0), e("b")]);
    let a_len = 14 + 1 + 20 + 4 + 15;
    for cut in (1..whole.len()).filter(|&c| c != a_len) {
        let done: &[&str] = if cut >= a_len { &["a"] } else { &[] };
        let (r, f) = run(&whole[..cut], 1);
        let err = r.expect_err("truncated");
        assert!(
            matches!(
                err,
                XbstreamError::Truncated { .. } | XbstreamError::Unfinished { .. }
            ),
            "cut {cut}: {err}"
        );
        let names: Vec<&str> = only_final(&f).iter().map(|(n, _)| *n).collect();
        assert_eq!(names, done, "cut {cut}");
    }
    // a file without its end at the end of the stream
    let s = cat(&[p("a", b"AAAA", 0), e("a"), p("b", b"BB", 0)]);
    let err = refused(&s, &["a"]);
    assert!(
        matches!(&err, XbstreamError::Unfinished { paths, .. } if paths == &["b".to_string()]),
        "{err}"
    );
    // unknown type, not ignorable; bad magic; path too long
    let mut x = p("f", b"1", 0);
    x[9] = b'X';
    assert!(matches!(
        refused(&x, &[]),
        XbstreamError::UnknownType {
            offset: 9,
            kind: b'X',
            ..
        }
    ));
    let mut m = p("f", b"1", 0);
    m[7] = b'2';
    assert!(matches!(
        refused(&m, &[]),
        XbstreamError::BadMagic { offset: 0, .. }
    ));
    let long = "x".repeat(512);
    let err = refused(&p(&long, b"1", 0), &[]);
    assert!(
        matches!(
            err,
            XbstreamError::PathTooLong {
                offset: 10,
                len: 512
            }
        ),
        "{err}"
    );
}

#[test]
fn an_ignorable_unknown_chunk_is_skipped_not_written() {
    let mut x = p("f", b"junk", 0);
    x[8] = 1;
    x[9] = b'X';
    let s = cat(&[p("f", b"data", 0), x, e("f")]);
    let (r, f) = run(&s, 1);
    r.unwrap();
    assert_eq!(only_final(&f), [("f", &b"data"[..])]);
    // its file offset is not checked, and may be anything (the fuzzer's: 2^64 - 2, where the
    // reader's sum of offset and length overflowed)
    let mut y = p("f", b"junk", u64::MAX - 1);
    y[8] = 1;
    y[9] = b'X';
    let s = cat(&[p("f", b"data", 0), y, e("f")]);
    let (r, f) = run(&s, 1);
    r.unwrap();
    assert_eq!(only_final(&f), [("f", &b"data"[..])]);
    assert_eq!(StreamReader::new(&s[..]).filter(|c| c.is_err()).count(), 0);
}

#[test]
fn large_and_empty_chunks_are_read_in_bounded_pieces() {
    let big: Vec<u8> = (0..3_500_000u32).map(|i| (i % 251) as u8).collect();
    let s = cat(&[p("big", &big, 0), p("big", b"", big.len() as u64), e("big")]);
    let mut r = StreamReader::new(&s[..]);
    let mut pieces = 0;
    while let Some(c) = r.next_chunk().unwrap() {
        if let Body::Data(d) = c.body {
            assert!(d.bytes.len() <= 1 << 20);
            pieces += 1;
        }
    }
    assert_eq!(pieces, 5); // 4 pieces of the big chunk, 1 empty chunk
    let (r, f) = run(&s, 2);
    r.unwrap();
    assert_eq!(f[Path::new("big")], big);
    // a claimed length of 2^60 bytes is not allocated: it is a truncated stream
    let mut huge = encode_payload_header(b"h", 1 << 60, 0, 0);
    huge.extend_from_slice(b"abc");
    let (r, _) = run(&huge, 1);
    assert!(matches!(r.unwrap_err(), XbstreamError::Truncated { .. }));
}

#[test]
fn index_lists_files_and_views_read_and_seek() {
    let mut w = StreamWriter::new(Vec::new());
    w.payload(b"db/t.ibd.delta", b"0123").unwrap();
    w.payload(b"db/t.ibd.meta", b"meta").unwrap();
    w.payload(b"db/t.ibd.delta", b"4567").unwrap();
    w.end(b"db/t.ibd.meta").unwrap();
    w.end(b"empty").unwrap();
    w.end(b"db/t.ibd.delta").unwrap();
    let mut stream = Cursor::new(w.into_inner());
    let index = StreamIndex::build(&mut stream).unwrap();
    let listed: Vec<(PathBuf, u64)> = index
        .files()
        .map(|f| (f.path().to_path_buf(), f.size()))
        .collect();
    assert_eq!(
        listed,
        [
            (PathBuf::from("db/t.ibd.delta"), 8),
            (PathBuf::from("db/t.ibd.meta"), 4),
            (PathBuf::from("empty"), 0)
        ]
    );
    let f = index.get(Path::new("db/t.ibd.delta")).unwrap();
    let mut v = f.view(&mut stream);
    v.seek(SeekFrom::End(-5)).unwrap();
    let mut buf = [0u8; 3];
    v.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"345");
    assert_eq!(v.stream_position().unwrap(), 6);
    StreamIndex::verify_checksums(&mut Cursor::new(stream.get_ref().clone())).unwrap();
    // the index refuses what the reader refuses (a truncated stream)
    let cut = stream.get_ref()[..stream.get_ref().len() - 3].to_vec();
    assert!(StreamIndex::build(&mut Cursor::new(cut)).is_err());
}

#[test]
fn stream_sink_interleaves_files_and_refuses_a_second_copy() {
    let mut sink = StreamSink::new(Vec::new());
    assert!(!sink.replaces_files());
    let mut log = sink
        .create(&FileMeta::new(Path::new("ib_logfile0"), None))
        .unwrap();
    let big: Vec<u8> = (0..2_500_000u32).map(|i| (i % 253) as u8).collect();
    let mut f = sink
        .create(&FileMeta::new(Path::new("db/t.ibd"), None))
        .unwrap();
    f.write_all(&big[..100]).unwrap();
    log.write_all(b"redo1").unwrap();
    f.write_all(&big[100..]).unwrap();
    assert!(f.seekable().is_none());
    f.finish().unwrap();
    // a second copy of a file: refused (mbstream would fail with "File exists")
    assert!(sink
        .create(&FileMeta::new(Path::new("db/t.ibd"), None))
        .is_err());
    assert!(sink
        .create(&FileMeta::new(Path::new("ib_logfile0"), None))
        .is_err());
    log.write_all(b"redo2").unwrap();
    log.finish().unwrap();
    sink.finish().unwrap();
    let stream = sink.into_inner().unwrap();
    let mut chunks = 0;
    for c in StreamReader::new(&stream[..]) {
        if let Body::Data(d) = c.unwrap().body {
            assert!(d.len <= 1 << 20);
            chunks += 1;
        }
    }
    assert!(chunks >= 4, "{chunks}");
    let (r, f) = run(&stream, 2);
    r.unwrap();
    assert_eq!(f[Path::new("db/t.ibd")], big);
    assert_eq!(f[Path::new("ib_logfile0")], b"redo1redo2");
}

#[test]
fn writer_refuses_what_extractors_would_not_create() {
    let mut w = StreamWriter::new(Vec::new());
    for bad in [&b"../x"[..], b"/x", b".x", b"a//b", b"a/./b", b"d1/d2/f"] {
        assert!(
            w.payload(bad, b"1").is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    w.end(b"d1/f").unwrap();
    w.end(b"d1/d2/f").unwrap(); // d1 was created by an earlier file
    assert!(w.end(b"d1/f").is_err());
    assert!(w.payload(&vec![b'y'; 507], b"1").is_err());
}

#[derive(Debug, Clone)]
struct Op {
    file: usize,
    len: usize,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn writer_reader_round_trip(ops in prop::collection::vec((0usize..4, 0usize..3000), 0..40),
                                ends in prop::collection::vec(0usize..4, 4)) {
        let ops: Vec<Op> = ops.into_iter().map(|(file, len)| Op { file, len }).collect();
        let name = |i: usize| format!("d{}/f{i}", i % 2);
        let mut w = StreamWriter::new(Vec::new());
        let mut want: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (k, op) in ops.iter().enumerate() {
            let data: Vec<u8> = (0..op.len).map(|i| (i * 7 + k) as u8).collect();
            w.payload(name(op.file).as_bytes(), &data).unwrap();
            want.entry(name(op.file)).or_default().extend(&data);
        }
        let mut ended = std::collections::BTreeSet::new();
        for i in ends.iter().chain(&[0, 1, 2, 3]) {
            if ended.insert(*i) {
                w.end(name(*i).as_bytes()).unwrap();
                want.entry(name(*i)).or_default();
            }
        }
        let stream = w.into_inner();
        let mut got: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for c in StreamReader::new(&stream[..]) {
            let c = c.unwrap();
            let path = String::from_utf8(c.path).unwrap();
            match c.body {
                Body::Data(d) => got.entry(path).or_default().extend(&d.bytes),
                Body::End => { got.entry(path).or_default(); }
                b => panic!("{b:?}"),
            }
        }
        prop_assert_eq!(&got, &want);
        let (r, f) = run(&stream, 3);
        r.unwrap();
        let f: BTreeMap<String, Vec<u8>> =
            f.into_iter().map(|(p, b)| (p.to_str().unwrap().to_string(), b)).collect();
        prop_assert_eq!(f, want);
    }
}

#[test]
fn a_stream_source_reads_files_in_place_and_refuses_a_damaged_stream() {
    use incremental_core::source::BackupSource;
    use incremental_core::xbstream::StreamSource;
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("good.xbs");
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 241) as u8).collect();
    let mut w = StreamWriter::new(Vec::new());
    w.payload(b"db/t.ibd", &big[..1 << 20]).unwrap();
    w.payload(b"xtrabackup_checkpoints", b"backup_type = full-backuped\n")
        .unwrap();
    w.payload(b"db/t.ibd", &big[1 << 20..]).unwrap();
    w.end(b"xtrabackup_checkpoints").unwrap();
    w.end(b"db/t.ibd").unwrap();
    let bytes = w.into_inner();
    fs::write(&good, &bytes).unwrap();
    let src: Box<dyn BackupSource> = Box::new(StreamSource::open(&good).unwrap());
    let files = src.files().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(
        (files[0].path.as_path(), files[0].size),
        (Path::new("db/t.ibd"), 1_500_000)
    );
    let mut got = Vec::new();
    src.open(Path::new("db/t.ibd"))
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, big);
    assert!(src.open(Path::new("nope")).err().unwrap().is_not_found());
    // one flipped payload byte: refused when opened, before anything is read from it
    let mut bad = bytes.clone();
    bad[100] ^= 1;
    fs::write(d.path().join("bad.xbs"), &bad).unwrap();
    let err = StreamSource::open(d.path().join("bad.xbs")).unwrap_err();
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
}
