//! The storage under a repository (`incremental_core::repo::Store`), on a local path and on a
//! real S3-protocol server (moto's server mode on 127.0.0.1, `xb_testkit::s3`): the same test
//! bodies against both (module `local` and module `s3`), then the faults only a network store
//! has: a hung server waited for, a server gone for a while retried, gone for longer than the
//! retry timeout failing with an error naming the object.
//!
//! moto is installed by `scripts/test`; without it the `s3::` tests fail, they never skip.

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use incremental_core::repo::{RepoError, Store, StoreOptions};
use tempfile::TempDir;
use xb_testkit::s3::S3Server;

/// Pseudo-random bytes (xorshift), different for each `seed`.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The keys of a listing.
fn keys(store: &Store, prefix: &str) -> Vec<String> {
    store
        .list(prefix)
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

/// Every regular file under `dir`.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A store under test and a neighbour: a store whose root is a sibling of the first one's
/// with the same name plus a suffix (`repo` and `repoed`), whose objects the first one must
/// never see. Holds what keeps them alive.
struct Fixture {
    store: Store,
    neighbour: Store,
    tmp: Option<TempDir>,
    s3: Option<S3Server>,
}

fn local_fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("some/prefix");
    let next = tmp.path().join("some/prefixed");
    let opts = StoreOptions::default();
    Fixture {
        store: Store::open(root.to_str().unwrap(), &opts).unwrap(),
        neighbour: Store::open(next.to_str().unwrap(), &opts).unwrap(),
        tmp: Some(tmp),
        s3: None,
    }
}

/// Options that point a store at `s3` (without touching the process's environment).
fn s3_options(s3: &S3Server, retry: Duration) -> StoreOptions {
    let mut opts = StoreOptions::default();
    opts.set_retry_timeout(retry);
    for (name, value) in s3.env() {
        opts.set(name, value);
    }
    opts
}

fn s3_fixture() -> Fixture {
    let s3 = S3Server::start().expect("moto_server starts (scripts/test installs it)");
    let opts = s3_options(&s3, Duration::from_secs(20));
    Fixture {
        store: Store::open(&s3.url("some/prefix"), &opts).unwrap(),
        neighbour: Store::open(&s3.url("some/prefixed"), &opts).unwrap(),
        tmp: None,
        s3: Some(s3),
    }
}

/// Each body runs once on a local path (`local::NAME`) and once on moto (`s3::NAME`).
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(#[test]
            fn $name() {
                let f = super::local_fixture();
                super::$name(&f);
            })*
        }
        mod s3 {
            $(#[test]
            fn $name() {
                let f = super::s3_fixture();
                super::$name(&f);
            })*
        }
    };
}

on_both!(
    put_get_and_missing,
    get_range,
    list_prefix_sorted_relative,
    delete_missing_is_ok,
    put_new_creates_once,
    writer_multipart_and_small,
    writer_dropped_leaves_nothing,
    reader_streams,
    odd_characters_round_trip,
);

fn put_get_and_missing(f: &Fixture) {
    let s = &f.store;
    let data = bytes(100_000, 1);
    s.put("main/backup/a.bin", data.clone()).unwrap();
    assert_eq!(s.get("main/backup/a.bin").unwrap(), data);
    assert_eq!(s.get_opt("main/backup/a.bin").unwrap(), Some(data));
    assert_eq!(s.head("main/backup/a.bin").unwrap(), Some(100_000));
    // replaced whole
    s.put("main/backup/a.bin", b"short".to_vec()).unwrap();
    assert_eq!(s.get("main/backup/a.bin").unwrap(), b"short");
    assert_eq!(s.head("main/backup/a.bin").unwrap(), Some(5));
    // an empty object is an object
    s.put("empty", Vec::new()).unwrap();
    assert_eq!(s.get_opt("empty").unwrap(), Some(Vec::new()));
    assert_eq!(s.head("empty").unwrap(), Some(0));

    assert_eq!(s.get_opt("main/backup/nothing").unwrap(), None);
    assert_eq!(s.head("main/backup/nothing").unwrap(), None);
    match s.get("main/backup/nothing") {
        Err(RepoError::Missing { location, key }) => {
            assert_eq!(key, "main/backup/nothing");
            assert_eq!(location, s.location());
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    let msg = s.get("main/backup/nothing").unwrap_err().to_string();
    assert!(msg.contains("main/backup/nothing"), "{msg}");
    // the neighbour holds nothing of ours
    assert_eq!(f.neighbour.get_opt("main/backup/a.bin").unwrap(), None);
}

fn get_range(f: &Fixture) {
    let s = &f.store;
    let data = bytes(1_000_000, 2);
    s.put("r", data.clone()).unwrap();
    for r in [0..10u64, 999_990..1_000_000, 12_345..654_321, 7..8] {
        let got = s.get_range("r", r.clone()).unwrap();
        assert_eq!(got, &data[r.start as usize..r.end as usize], "range {r:?}");
    }
    match s.get_range("nothing", 0..10) {
        Err(RepoError::Missing { key, .. }) => assert_eq!(key, "nothing"),
        other => panic!("expected Missing, got {other:?}"),
    }
}

fn list_prefix_sorted_relative(f: &Fixture) {
    let s = &f.store;
    // put in an order that is not the sorted one
    let objects = [
        ("z", 1usize),
        ("main/lock", 2),
        ("main/backup/10/x", 3),
        ("main/backup/1/b/c", 4),
        ("mainx/y", 5),
        ("main/backup/1/a", 6),
    ];
    for (k, n) in objects {
        s.put(k, vec![b'x'; n]).unwrap();
    }
    f.neighbour.put("main/backup/1/zz", vec![1]).unwrap();
    f.neighbour.put("stranger", vec![1]).unwrap();

    let all = s.list("").unwrap();
    let mut expected: Vec<(String, u64)> = objects
        .iter()
        .map(|(k, n)| (k.to_string(), *n as u64))
        .collect();
    expected.sort();
    let got: Vec<(String, u64)> = all.iter().map(|o| (o.key.clone(), o.size)).collect();
    assert_eq!(got, expected);

    // a prefix is a directory: `main/backup/1` holds neither `main/backup/10/x` nor `mainx/y`
    assert_eq!(
        keys(s, "main/backup/1"),
        ["main/backup/1/a", "main/backup/1/b/c"]
    );
    assert_eq!(
        keys(s, "main/backup/1/"),
        ["main/backup/1/a", "main/backup/1/b/c"]
    );
    assert_eq!(
        keys(s, "main"),
        [
            "main/backup/1/a",
            "main/backup/1/b/c",
            "main/backup/10/x",
            "main/lock"
        ]
    );
    assert_eq!(keys(s, "main/nothing"), Vec::<String>::new());
    assert_eq!(keys(s, "nothing"), Vec::<String>::new());
    // the neighbour sees only its own, relative to its own root
    assert_eq!(keys(&f.neighbour, ""), ["main/backup/1/zz", "stranger"]);
}

fn delete_missing_is_ok(f: &Fixture) {
    let s = &f.store;
    s.put("d/one", vec![1]).unwrap();
    s.put("d/two", vec![2]).unwrap();
    s.delete("d/one").unwrap();
    assert_eq!(s.get_opt("d/one").unwrap(), None);
    assert_eq!(keys(s, "d"), ["d/two"]);
    // missing, twice, and under a prefix that never existed
    s.delete("d/one").unwrap();
    s.delete("d/one").unwrap();
    s.delete("never/was/here").unwrap();
    s.delete("d/two").unwrap();
    assert_eq!(keys(s, ""), Vec::<String>::new());
}

fn put_new_creates_once(f: &Fixture) {
    let s = &f.store;
    assert!(s.put_new("main/lock", b"first".to_vec()).unwrap());
    assert!(!s.put_new("main/lock", b"second".to_vec()).unwrap());
    assert_eq!(s.get("main/lock").unwrap(), b"first");
    s.delete("main/lock").unwrap();
    assert!(s.put_new("main/lock", b"third".to_vec()).unwrap());
    assert_eq!(s.get("main/lock").unwrap(), b"third");
    // the same key under the neighbour's root is another object
    assert!(f.neighbour.put_new("main/lock", b"n".to_vec()).unwrap());

    // racing creators: exactly one wins
    let winners: usize = thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|i| sc.spawn(move || s.put_new("race", vec![i as u8]).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap() as usize).sum()
    });
    assert_eq!(winners, 1);
}

/// Writes `data` through a writer in pieces of odd sizes.
fn write_in_pieces(w: &mut impl Write, data: &[u8]) {
    for piece in data.chunks(1_000_003) {
        w.write_all(piece).unwrap();
    }
}

fn writer_multipart_and_small(f: &Fixture) {
    let s = &f.store;
    // 20 MiB and a bit: two full 8 MiB parts and a last short one
    let big = bytes((20 << 20) + 123, 3);
    let mut w = s.writer("main/backup/big");
    write_in_pieces(&mut w, &big);
    // not there before finish
    assert_eq!(s.head("main/backup/big").unwrap(), None);
    assert_eq!(w.finish().unwrap(), big.len() as u64);
    assert_eq!(s.head("main/backup/big").unwrap(), Some(big.len() as u64));
    assert!(
        s.get("main/backup/big").unwrap() == big,
        "big object differs"
    );

    // exactly two parts: nothing left over at finish
    let two = bytes(16 << 20, 4);
    let mut w = s.writer("two");
    write_in_pieces(&mut w, &two);
    assert_eq!(w.finish().unwrap(), two.len() as u64);
    assert!(s.get("two").unwrap() == two, "16 MiB object differs");

    let small = bytes(1000, 5);
    let mut w = s.writer("small");
    w.write_all(&small[..10]).unwrap();
    w.write_all(&small[10..]).unwrap();
    assert_eq!(w.finish().unwrap(), 1000);
    assert_eq!(s.get("small").unwrap(), small);

    let w = s.writer("nothing-written");
    assert_eq!(w.finish().unwrap(), 0);
    assert_eq!(s.get("nothing-written").unwrap(), Vec::<u8>::new());

    if let Some(s3) = &f.s3 {
        // the big ones went as multipart uploads, the small ones in one PUT
        let log = s3.log();
        for key in ["main/backup/big", "two"] {
            let start = format!("POST /xb-test/some/prefix/{key}?uploads");
            assert!(log.contains(&start), "no multipart upload of {key}:\n{log}");
        }
        for key in ["small", "nothing-written"] {
            assert!(
                !log.contains(&format!("/xb-test/some/prefix/{key}?uploads")),
                "{key} went as a multipart upload:\n{log}"
            );
        }
    }
}

fn writer_dropped_leaves_nothing(f: &Fixture) {
    let s = &f.store;
    let mut w = s.writer("small-dropped");
    w.write_all(&bytes(1000, 6)).unwrap();
    drop(w);
    // a multipart upload with a part sent and one being filled
    let mut w = s.writer("big-dropped");
    write_in_pieces(&mut w, &bytes(10 << 20, 7));
    drop(w);
    assert_eq!(s.get_opt("small-dropped").unwrap(), None);
    assert_eq!(s.get_opt("big-dropped").unwrap(), None);
    assert_eq!(keys(s, ""), Vec::<String>::new());
    if let Some(tmp) = &f.tmp {
        // no staging file left on disk either (a listing does not show them)
        let left = files_under(tmp.path());
        assert!(left.is_empty(), "left on disk: {left:?}");
    }
    if let Some(s3) = &f.s3 {
        // the multipart upload was started, then aborted (not left for the bucket's lifecycle)
        let log = s3.log();
        assert!(
            log.contains("POST /xb-test/some/prefix/big-dropped?uploads"),
            "{log}"
        );
        assert!(
            log.contains("DELETE /xb-test/some/prefix/big-dropped?uploadId="),
            "no abort:\n{log}"
        );
    }
    // the key is free for a complete object afterwards
    let mut w = s.writer("big-dropped");
    w.write_all(b"now complete").unwrap();
    w.finish().unwrap();
    assert_eq!(s.get("big-dropped").unwrap(), b"now complete");
}

fn reader_streams(f: &Fixture) {
    let s = &f.store;
    let data = bytes((9 << 20) + 77, 8);
    s.put("stream", data.clone()).unwrap();
    let mut got = Vec::new();
    s.reader("stream").unwrap().read_to_end(&mut got).unwrap();
    assert!(got == data, "streamed bytes differ");
    // small reads
    let mut r = s.reader("stream").unwrap();
    let mut buf = [0u8; 4097];
    let mut at = 0;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert_eq!(&buf[..n], &data[at..at + n], "at {at}");
        at += n;
    }
    assert_eq!(at, data.len());
    match s.reader("nothing") {
        Err(RepoError::Missing { key, .. }) => assert_eq!(key, "nothing"),
        other => panic!("expected Missing, got {other:?}"),
    }
}

// ---- faults of a network store (moto only) ----

/// A store on `s3` with the given retry timeout, at `s3://xb-test/faults`.
fn s3_store(s3: &S3Server, retry: Duration) -> Store {
    Store::open(&s3.url("faults"), &s3_options(s3, retry)).unwrap()
}

#[test]
fn s3_hung_server_is_waited_for() {
    let s3 = S3Server::start().expect("moto_server starts");
    let s = s3_store(&s3, Duration::from_secs(20));
    s.put("before", vec![1]).unwrap();
    let data = bytes(1 << 20, 9);
    s3.pause();
    let t0 = Instant::now();
    let (r, elapsed) = thread::scope(|sc| {
        let h = sc.spawn(|| {
            let r = s.put("main/backup/x", data.clone());
            (r, t0.elapsed())
        });
        thread::sleep(Duration::from_secs(3));
        s3.resume();
        h.join().unwrap()
    });
    r.unwrap();
    // the put did wait for the server (else the pause did not hang it)
    assert!(elapsed >= Duration::from_millis(2900), "{elapsed:?}");
    assert!(s.get("main/backup/x").unwrap() == data);
    assert_eq!(s.get("before").unwrap(), [1]);
}

#[test]
fn s3_server_gone_too_long_fails_naming_the_key() {
    let s3 = S3Server::start().expect("moto_server starts");
    let s = s3_store(&s3, Duration::from_secs(2));
    s.put("kept", b"kept".to_vec()).unwrap();
    s3.cut();
    assert!(s3.is_cut());
    let t0 = Instant::now();
    let err = s.put("main/backup/y", vec![7; 1000]).unwrap_err();
    let elapsed = t0.elapsed();
    match &err {
        RepoError::Store { location, key, .. } => {
            assert_eq!(key, "main/backup/y");
            assert_eq!(location, &s3.url("faults"));
        }
        other => panic!("expected RepoError::Store, got {other:?}"),
    }
    assert!(err.to_string().contains("main/backup/y"), "{err}");
    // retried for about the retry timeout, not forever and not once
    assert!(
        elapsed >= Duration::from_secs(1),
        "gave up after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "gave up after {elapsed:?}"
    );
    // reads fail the same way
    match s.get_opt("kept") {
        Err(RepoError::Store { key, .. }) => assert_eq!(key, "kept"),
        other => panic!("expected RepoError::Store, got {other:?}"),
    }
    // back: nothing was lost, and the store works again
    s3.restore();
    assert!(!s3.is_cut());
    assert_eq!(s.get("kept").unwrap(), b"kept");
    assert_eq!(s.get_opt("main/backup/y").unwrap(), None);
    s.put("main/backup/y", vec![7; 1000]).unwrap();
    assert_eq!(s.head("main/backup/y").unwrap(), Some(1000));
}

#[test]
fn s3_server_gone_for_a_while_is_retried() {
    let s3 = S3Server::start().expect("moto_server starts");
    let s = s3_store(&s3, Duration::from_secs(20));
    let data = bytes(1 << 20, 10);
    s.put("read-me", data.clone()).unwrap();
    s3.cut();
    let (put, got) = thread::scope(|sc| {
        let put = sc.spawn(|| s.put("main/backup/z", data.clone()));
        let got = sc.spawn(|| s.get("read-me"));
        thread::sleep(Duration::from_secs(3));
        s3.restore();
        (put.join().unwrap(), got.join().unwrap())
    });
    put.unwrap();
    assert!(got.unwrap() == data);
    assert!(s.get("main/backup/z").unwrap() == data);
}

#[test]
fn s3_multipart_upload_survives_a_cut() {
    let s3 = S3Server::start().expect("moto_server starts");
    let s = s3_store(&s3, Duration::from_secs(30));
    let data = bytes(20 << 20, 11);
    let mut w = s.writer("main/backup/multi");
    // the first part is on its way (or sent), the server goes away mid-upload
    w.write_all(&data[..(8 << 20) + 1]).unwrap();
    s3.cut();
    let restorer = {
        thread::scope(|sc| {
            sc.spawn(|| {
                thread::sleep(Duration::from_secs(3));
                s3.restore();
            });
            w.write_all(&data[(8 << 20) + 1..]).unwrap();
            w.finish()
        })
    };
    assert_eq!(restorer.unwrap(), data.len() as u64);
    assert!(s.get("main/backup/multi").unwrap() == data);
}

/// Keys with characters the storage layer escapes (`#` of partitions' files, `%`, `~`, spaces,
/// brackets) are listed as they were written, and a listed key reads its object.
fn odd_characters_round_trip(f: &Fixture) {
    let s = &f.store;
    let odd = [
        "st~anza/db/t#P#p0.ibd",
        "st~anza/100% sure/[x]{y}",
        "st~anza/a%23b",
        "st~anza/plain",
    ];
    for (i, k) in odd.iter().enumerate() {
        s.put(k, vec![i as u8; i + 1]).unwrap();
    }
    let mut expected: Vec<String> = odd.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(keys(s, "st~anza"), expected);
    assert_eq!(keys(s, ""), expected);
    for o in s.list("").unwrap() {
        let i = odd.iter().position(|k| *k == o.key).unwrap();
        assert_eq!(s.get(&o.key).unwrap(), vec![i as u8; i + 1], "{}", o.key);
        assert_eq!(o.size, i as u64 + 1);
    }
    assert!(!s.put_new("st~anza/db/t#P#p0.ibd", vec![9]).unwrap());
    s.delete("st~anza/db/t#P#p0.ibd").unwrap();
    assert_eq!(s.get_opt("st~anza/db/t#P#p0.ibd").unwrap(), None);
}

#[test]
fn s3_streamed_read_resumes_after_a_cut() {
    let s3 = S3Server::start().expect("moto_server starts");
    let s = s3_store(&s3, Duration::from_secs(30));
    let data = bytes(24 << 20, 12);
    s.put("main/backup/stream", data.clone()).unwrap();
    let mut r = s.reader("main/backup/stream").unwrap();
    let mut got = vec![0u8; 1 << 20];
    r.read_exact(&mut got).unwrap();
    s3.cut();
    let rest = thread::scope(|sc| {
        sc.spawn(|| {
            thread::sleep(Duration::from_secs(2));
            s3.restore();
        });
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).map(|_| rest)
    });
    got.extend(rest.unwrap());
    assert!(got == data, "resumed stream differs");
    // the cut did interrupt the first GET: the rest came by a second one
    let gets = s3
        .log()
        .lines()
        .filter(|l| l.contains("GET /xb-test/faults/main/backup/stream "))
        .count();
    assert!(gets >= 2, "one GET only:\n{}", s3.log());
}
