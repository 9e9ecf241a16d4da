//! Backups into repositories: the sink alone (bundles, parts, resume of parts), and cold
//! backups of a stopped MariaDB 10.11 datadir (fails, never skips, without it) into a
//! repository in memory and on a local path, compared with a plain directory backup.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use innodb_page::progress::{Cancel, Event, NoProgress, Progress};
use std::time::Duration;

use xb_testkit::s3::S3Server;
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

use super::super::hash::{hex, sha256};
use super::super::keys;
use super::super::manifest::{Kind, Manifest};
use super::super::{RepoError, Repository, Store, StoreOptions};
use super::base::read_file;
use super::encoding::Codec;
use super::sink::{RepoSink, SMALL_FILE};
use super::upload::Uploader;
use super::{BaseChoice, RepoBackupOptions};
use crate::backup::sink::{DirSink, FileMeta, Sink};
use crate::backup::{BackupOptions, BackupPlan, Incremental};
use crate::codec::{CodecOptions, Compression, KeyFile};

/// A test key (published in the codec module's docs: never use it for real data).
const KEY: &str = "AGE-SECRET-KEY-13GDQHAR08PXHVN8QFRGX2N49DTA282SZMJV282VT8WJVFKEQ7DEQMFSEF8\n";

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    (0..len)
        .map(|i| {
            if i % 3 == 0 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
            }
            (x >> (i % 3 * 8)) as u8 & 0x3f
        })
        .collect()
}

fn codec_options(compress: bool, encrypt: bool) -> CodecOptions {
    let mut c = CodecOptions::default();
    if compress {
        c.set_compression(Some(Compression::Zstd));
    }
    if encrypt {
        c.set_keys(Some(KeyFile::parse(KEY, "test").unwrap()));
    }
    c
}

/// Files through the sink alone: small ones bundled, large ones in parts, each decoding to
/// its bytes; the second run over the same prefix keeps every part.
#[test]
fn sink_bundles_small_files_and_cuts_large_ones_in_parts() {
    for (compress, encrypt) in [(false, false), (true, false), (true, true)] {
        let store = Store::memory();
        let codec = Arc::new(Codec::new(&codec_options(compress, encrypt)).unwrap());
        let files: Vec<(String, Vec<u8>, bool)> = vec![
            (
                "xtrabackup_checkpoints".into(),
                b"backup_type = full-backuped\n".to_vec(),
                true,
            ),
            ("db/t.frm".into(), data(900, 1), true),
            ("db/empty.MYD".into(), Vec::new(), false),
            ("db/t.ibd".into(), data((5 << 20) / 2 + 77, 2), true),
            ("db/u.ibd.delta".into(), data((1 << 20) + 5, 3), false),
            ("db/edge.MAD".into(), data(SMALL_FILE as usize, 4), true),
        ];
        let run = |existing: std::collections::HashMap<String, u64>| {
            let up = Uploader::start(&store, "s", "ID", Arc::clone(&codec), existing, 3).unwrap();
            let mut sink = RepoSink::new(up.queue(), 1 << 20);
            for (path, bytes, sized) in &files {
                let size = sized.then_some(bytes.len() as u64);
                let mut f = sink.create(&FileMeta::new(Path::new(path), size)).unwrap();
                for chunk in bytes.chunks(100_000) {
                    f.write_all(chunk).unwrap();
                }
                f.finish().unwrap();
            }
            assert!(sink
                .create(&FileMeta::new(Path::new("db/t.frm"), None))
                .is_err());
            sink.finish().unwrap();
            let (written, bundles) = sink.into_files().unwrap();
            (written, bundles, up.finish().unwrap())
        };
        let (written, bundles, mut results) = run(Default::default());
        assert_eq!(bundles, 1, "one bundle holds the small files");
        let m = Manifest {
            format: 1,
            id: "ID".into(),
            stanza: "s".into(),
            kind: Kind::Full,
            parent: None,
            method: "full".into(),
            hot: false,
            from_lsn: 0,
            to_lsn: 0,
            last_lsn: 0,
            partial: false,
            server: Default::default(),
            started: 0,
            finished: 0,
            xb_version: String::new(),
            encoding: codec.record(),
            files: written
                .into_iter()
                .map(|(i, w)| super::super::manifest::FileEntry {
                    parts: (0..w.parts)
                        .map(|n| results.parts.remove(&(i, n)).unwrap())
                        .collect(),
                    path: w.path,
                    size: w.size,
                    sha256: w.sha256,
                    bundled: w.bundled,
                })
                .collect(),
            bundles: vec![results.bundles.remove(&0).unwrap()],
        };
        assert_eq!(results.uploaded, 1 + 3 + 2 + 1); // bundle, t.ibd, delta, edge
        let keys = KeyFile::parse(KEY, "test").unwrap();
        for ((path, bytes, _), f) in files.iter().zip(&m.files) {
            assert_eq!(&f.path, path);
            assert_eq!(f.size, bytes.len() as u64);
            assert_eq!(f.sha256, hex(&sha256(bytes)), "{path}");
            let small = bytes.len() < SMALL_FILE as usize;
            assert_eq!(f.bundled.is_some(), small, "{path}");
            assert_eq!(
                f.parts.len(),
                if small {
                    0
                } else {
                    bytes.len().div_ceil(1 << 20)
                }
            );
            for (n, p) in f.parts.iter().enumerate() {
                let plain = &bytes[n << 20..((n + 1) << 20).min(bytes.len())];
                assert_eq!(p.size, plain.len() as u64);
                assert!(p.object.key.contains(&hex(&sha256(plain))[..32]));
                let stored = store.get(&p.object.key).unwrap();
                assert_eq!(hex(&sha256(&stored)), p.object.sha256);
                assert_eq!(stored.len() as u64, p.object.stored);
                if compress && p.size > 4096 {
                    assert!(p.object.stored < p.size, "compressed: {path}");
                }
            }
            let back = read_file(&store, &m, f, Some(&keys), None).unwrap();
            assert!(back == *bytes, "{path} decodes to its bytes");
        }
        if encrypt {
            // recipients only: cannot decode
            let public = KeyFile::parse(&keys.recipients()[0], "pub").unwrap();
            assert!(read_file(&store, &m, &m.files[1], Some(&public), None).is_err());
        }

        // the same files again over the same prefix: every part kept
        let existing = store
            .list("s/ID")
            .unwrap()
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect();
        let (_, _, again) = run(existing);
        assert_eq!(
            again.kept,
            3 + 2 + 1,
            "compress {compress} encrypt {encrypt}"
        );
        assert_eq!(again.uploaded, 1, "only the bundle is stored again");
        for (k, p) in &again.parts {
            let before = m.files[k.0].parts[k.1].object.clone();
            assert_eq!(
                p.object, before,
                "kept part {k:?}: same key, size and stored hash"
            );
        }
    }
}

/// Cancels once the engine has read `after` bytes.
struct CancelAfter {
    cancel: Cancel,
    after: u64,
    read: AtomicU64,
}

impl Progress for CancelAfter {
    fn event(&self, e: Event<'_>) {
        if let Event::Pages { bytes, .. } = e
            && self.read.fetch_add(bytes, Ordering::SeqCst) + bytes >= self.after
        {
            self.cancel.cancel();
        }
    }
}

fn plain_backup(opts: &BackupOptions, target: &Path) {
    let plan = BackupPlan::new(opts).unwrap();
    let mut sink = DirSink::new(target).unwrap().sync(false);
    plan.run(&mut sink, &NoProgress, &Cancel::new()).unwrap();
}

fn files_of(root: &Path) -> BTreeMap<String, Vec<u8>> {
    xb_testkit::sandbox::all_files(root)
        .unwrap()
        .into_iter()
        .map(|rel| {
            let bytes = fs::read(root.join(&rel)).unwrap();
            (rel.to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

/// Files whose bytes hold the time or a random id of the run.
fn varies(path: &str) -> bool {
    matches!(path, "xtrabackup_info" | "xb_backup_info")
}

/// Every object under the backup's prefix is the manifest's, its attempt record or itself.
fn only_referenced(repo: &Repository, m: &Manifest) {
    let mut want: BTreeSet<String> = m.objects().map(|o| o.key.clone()).collect();
    want.insert(keys::attempt(&m.stanza, &m.id));
    want.insert(keys::manifest(&m.stanza, &m.id));
    let there: BTreeSet<String> = repo
        .store()
        .list(&keys::backup(&m.stanza, &m.id))
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(there, want);
}

/// The manifest's files equal `plain`'s (names, sizes, SHA-256 of the plain bytes, and the
/// bytes decoded from the objects).
fn same_as_plain(repo: &Repository, m: &Manifest, plain: &Path, keys: Option<&KeyFile>) {
    let want = files_of(plain);
    let got: BTreeSet<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        got,
        want.keys().map(String::as_str).collect::<BTreeSet<_>>()
    );
    for f in &m.files {
        let bytes = read_file(repo.store(), m, f, keys, None).unwrap();
        assert_eq!(bytes.len() as u64, f.size, "{}", f.path);
        assert_eq!(hex(&sha256(&bytes)), f.sha256, "{}", f.path);
        if !varies(&f.path) {
            assert!(
                bytes == want[&f.path],
                "{}: differs from the plain backup",
                f.path
            );
        }
    }
    only_referenced(repo, m);
}

#[test]
fn full_then_incremental_cancel_resume_and_another_datadir() {
    let work = short_tempdir().unwrap();
    let w = work.path();
    let mut server = Sandbox::in_tempdir(&SandboxOptions::default()).expect("start a sandbox");
    let dd = server.datadir().to_path_buf();
    server
        .sql_batch(
            "CREATE DATABASE d; USE d;
             CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(255)) ENGINE=InnoDB;
             INSERT INTO big SELECT seq, SHA2(seq, 512) FROM seq_1_to_40000;
             CREATE TABLE small (id INT PRIMARY KEY) ENGINE=InnoDB;
             INSERT INTO small SELECT seq FROM seq_1_to_10;
             CREATE TABLE a (id INT PRIMARY KEY) ENGINE=Aria;
             INSERT INTO a VALUES (1), (2);
             CREATE TABLE my (id INT PRIMARY KEY) ENGINE=MyISAM;
             INSERT INTO my VALUES (1);",
        )
        .unwrap();
    server.checkpoint().unwrap();
    server.stop().unwrap();
    let plain_full = w.join("plain-full");
    plain_backup(&BackupOptions::new(&dd), &plain_full);
    assert!(fs::metadata(plain_full.join("d/big.ibd")).unwrap().len() > 4 << 20);

    let keys = KeyFile::parse(KEY, "test").unwrap();
    let stores = [
        (Store::memory(), codec_options(false, false)),
        (
            Store::open(w.join("repo").to_str().unwrap(), &Default::default()).unwrap(),
            codec_options(true, true),
        ),
    ];
    let mut repos = Vec::new();
    for (store, codec) in &stores {
        let repo = Repository::new(store.clone(), "db1").unwrap();
        let mut o = RepoBackupOptions::new(BackupOptions::new(&dd));
        o.set_codec(codec.clone())
            .set_part_size(1 << 20)
            .set_upload_threads(3);

        // cancelled in the middle: no manifest
        let progress = CancelAfter {
            cancel: Cancel::new(),
            after: 3 << 20,
            read: AtomicU64::new(0),
        };
        let e = repo.backup(&o, &progress, &progress.cancel).unwrap_err();
        assert!(matches!(e, RepoError::Cancelled), "{e}");
        let cat = repo.catalog().unwrap();
        assert!(cat.backups().is_empty());
        assert_eq!(cat.incomplete().len(), 1);
        let first = cat.incomplete()[0].id.clone();
        assert!(
            cat.incomplete()[0].objects > 1,
            "parts were stored before the cancel"
        );

        // the next run continues it
        let r1 = repo.backup(&o, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!(r1.base, BaseChoice::NoBackup);
        assert_eq!(r1.parent, None);
        let resumed = r1.resumed.as_ref().expect("the attempt is found");
        assert!(resumed.continued, "{}", resumed.why);
        assert_eq!(
            (resumed.id.as_str(), r1.id.as_str()),
            (first.as_str(), first.as_str())
        );
        assert!(r1.objects_kept > 0 && resumed.kept_objects == r1.objects_kept);
        assert!(r1.bundled_files > 5, "{} bundled", r1.bundled_files);
        let m1 = Manifest::read(repo.store(), "db1", &r1.id)
            .unwrap()
            .unwrap();
        assert_eq!(m1.kind, Kind::Full);
        assert_eq!(m1.server.datadir, dd.to_string_lossy());
        assert_eq!(
            m1.encoding.compression.is_some(),
            codec.compression().is_some()
        );
        let big = m1.files.iter().find(|f| f.path == "d/big.ibd").unwrap();
        assert!(big.parts.len() > 4 && big.bundled.is_none());
        same_as_plain(&repo, &m1, &plain_full, Some(&keys));
        assert!(repo.catalog().unwrap().incomplete().is_empty());
        repos.push((repo, o, r1.id));
    }

    // changes, then incrementals: the base is chosen by the repository
    server.start().unwrap();
    server
        .sql_batch(
            "USE d; UPDATE big SET v = 'changed' WHERE id BETWEEN 1000 AND 1400;
             INSERT INTO small SELECT seq FROM seq_11_to_20;
             CREATE TABLE n (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO n VALUES (7);",
        )
        .unwrap();
    server.checkpoint().unwrap();
    server.stop().unwrap();
    let plain_inc = w.join("plain-inc");
    let mut io = BackupOptions::new(&dd);
    io.set_incremental(Some(Incremental::Basedir(plain_full.clone())));
    plain_backup(&io, &plain_inc);
    for (repo, o, full_id) in &repos {
        let r2 = repo.backup(o, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!(
            r2.base,
            BaseChoice::Newest {
                id: full_id.clone()
            }
        );
        assert_eq!(r2.parent.as_deref(), Some(full_id.as_str()));
        assert!(r2.base_names && r2.resumed.is_none());
        assert!(r2.backup.incremental);
        let m2 = Manifest::read(repo.store(), "db1", &r2.id)
            .unwrap()
            .unwrap();
        assert_eq!(m2.kind, Kind::Incremental);
        assert!(m2.files.iter().any(|f| f.path == "d/big.ibd.delta"));
        same_as_plain(repo, &m2, &plain_inc, Some(&keys));
        let cat = repo.catalog().unwrap();
        assert_eq!(cat.chain(&r2.id).unwrap().len(), 2);

        // forced full
        let mut full = o.clone();
        full.set_force_full(true);
        let r3 = repo.backup(&full, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!((r3.base, r3.parent), (BaseChoice::Forced, None));
    }

    // another datadir (a copy) into the same stanza is refused
    let other = w.join("other");
    xb_testkit::sandbox::copy_dir(&dd, &other).unwrap();
    let (repo, o, _) = &repos[0];
    let mut oo = RepoBackupOptions::new(BackupOptions::new(&other));
    oo.set_codec(o.codec().clone());
    let e = repo.backup(&oo, &NoProgress, &Cancel::new()).unwrap_err();
    assert!(matches!(e, RepoError::DifferentServer { .. }), "{e}");
    assert_eq!(e.remedy(), Some(crate::Remedy::OwnStanza));
    assert!(
        repo.catalog().unwrap().incomplete().is_empty(),
        "refused before any object"
    );

    // the engine's checks of a base apply: a partial full is no base for a whole incremental
    let mut partial = BackupOptions::new(&dd);
    let mut filter = crate::backup::Filter::default();
    filter.set_databases("d");
    partial.set_filter(filter);
    let mut po = RepoBackupOptions::new(partial);
    po.set_codec(o.codec().clone()).set_force_full(true);
    let rp = repo.backup(&po, &NoProgress, &Cancel::new()).unwrap();
    let mp = Manifest::read(repo.store(), "db1", &rp.id)
        .unwrap()
        .unwrap();
    assert!(mp.partial);
    let e = repo.backup(o, &NoProgress, &Cancel::new()).unwrap_err();
    assert_eq!(e.remedy(), Some(crate::Remedy::AcceptPartialBase), "{e}");
    let cat = repo.catalog().unwrap();
    assert!(cat.incomplete().is_empty(), "refused before the attempt");
    assert_eq!(cat.newest().unwrap().id, rp.id);
}

/// Cuts the S3 server once the engine has read `after` bytes.
struct CutAfter<'a> {
    s3: &'a S3Server,
    after: u64,
    read: AtomicU64,
}

impl Progress for CutAfter<'_> {
    fn event(&self, e: Event<'_>) {
        if let Event::Pages { bytes, .. } = e {
            let before = self.read.fetch_add(bytes, Ordering::SeqCst);
            if before < self.after && before + bytes >= self.after {
                self.s3.cut();
            }
        }
    }
}

/// An S3 repository (moto): the server cut in the middle of a backup (past the retry
/// timeout) fails it without a manifest; the next run continues the attempt, keeping the
/// parts stored before the cut; then an incremental on it.
#[test]
fn s3_cut_in_the_middle_then_resumed() {
    let s3 = S3Server::start().expect("moto_server starts");
    let work = short_tempdir().unwrap();
    let w = work.path();
    let mut server = Sandbox::in_tempdir(&SandboxOptions::default()).expect("start a sandbox");
    let dd = server.datadir().to_path_buf();
    server
        .sql_batch(
            "CREATE DATABASE d; USE d;
             CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(255)) ENGINE=InnoDB;
             INSERT INTO big SELECT seq, SHA2(seq, 512) FROM seq_1_to_40000;
             CREATE TABLE a (id INT PRIMARY KEY) ENGINE=Aria;
             INSERT INTO a VALUES (1), (2);",
        )
        .unwrap();
    server.checkpoint().unwrap();
    server.stop().unwrap();
    let plain_full = w.join("plain-full");
    plain_backup(&BackupOptions::new(&dd), &plain_full);

    let mut so = StoreOptions::default();
    so.set_retry_timeout(Duration::from_secs(2));
    for (k, v) in s3.env() {
        so.set(k, v);
    }
    let repo = Repository::open(&s3.url("repo"), &so, "db1").unwrap();
    let mut o = RepoBackupOptions::new(BackupOptions::new(&dd));
    o.set_codec(codec_options(true, false))
        .set_part_size(1 << 20)
        .set_upload_threads(2);
    let progress = CutAfter {
        s3: &s3,
        after: 6 << 20,
        read: AtomicU64::new(0),
    };
    let e = repo.backup(&o, &progress, &Cancel::new()).unwrap_err();
    assert!(s3.is_cut(), "the cut happened");
    assert!(matches!(e, RepoError::Store { .. }), "{e}");
    s3.restore();
    // The lock could not be released while the store was cut. A new process takes over the
    // lock of a dead one of this host; this process is alive: remove it as an operator would.
    repo.store().delete(&keys::lock("db1")).unwrap();
    let cat = repo.catalog().unwrap();
    assert!(cat.backups().is_empty(), "no manifest");
    assert_eq!(cat.incomplete().len(), 1);

    let r1 = repo.backup(&o, &NoProgress, &Cancel::new()).unwrap();
    let resumed = r1.resumed.as_ref().unwrap();
    assert!(resumed.continued && r1.objects_kept > 0, "{resumed:?}");
    let m1 = Manifest::read(repo.store(), "db1", &r1.id)
        .unwrap()
        .unwrap();
    same_as_plain(&repo, &m1, &plain_full, None);
    assert!(
        s3.log().contains("PUT /xb-test/repo/db1/"),
        "objects went to the S3 server"
    );

    let r2 = repo.backup(&o, &NoProgress, &Cancel::new()).unwrap();
    assert_eq!(r2.parent.as_deref(), Some(r1.id.as_str()));
    let plain_inc = w.join("plain-inc");
    let mut io = BackupOptions::new(&dd);
    io.set_incremental(Some(Incremental::Basedir(plain_full.clone())));
    plain_backup(&io, &plain_inc);
    let m2 = Manifest::read(repo.store(), "db1", &r2.id)
        .unwrap()
        .unwrap();
    same_as_plain(&repo, &m2, &plain_inc, None);
}

/// Hot backups into a repository: a full, then (after a rename, a new table and changes) an
/// incremental whose base metadata (page 0s, `.meta`s) comes from the repository, restored
/// by the repository's restore and started: the tables' checksums are the source's.
#[test]
fn hot_full_and_incremental_restore_to_the_source_checksums() {
    let work = short_tempdir().unwrap();
    let w = work.path();
    let opts = SandboxOptions::default();
    let server = Sandbox::in_tempdir(&opts).expect("start a sandbox");
    let dd = server.datadir().to_path_buf();
    server
        .sql_batch(
            "CREATE DATABASE d; USE d;
             CREATE TABLE t1 (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
             INSERT INTO t1 SELECT seq, SHA2(seq, 256) FROM seq_1_to_20000;
             CREATE TABLE t2 (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
             INSERT INTO t2 SELECT seq, seq FROM seq_1_to_5000;
             CREATE TABLE m (id INT PRIMARY KEY) ENGINE=Aria;
             INSERT INTO m VALUES (1), (2);",
        )
        .unwrap();
    let mut connect = crate::backup::ConnectOptions::new();
    connect
        .set_socket(server.socket())
        .set_user("root")
        .set_no_defaults(true);
    let mut bo = BackupOptions::new(&dd);
    bo.set_connect(connect);
    let repo = Repository::new(Store::memory(), "hot").unwrap();
    let mut o = RepoBackupOptions::new(bo);
    o.set_codec(codec_options(true, false))
        .set_part_size(1 << 20);
    let r1 = repo.backup(&o, &NoProgress, &Cancel::new()).unwrap();
    assert!(r1.backup.hot().is_some());
    let m1 = Manifest::read(repo.store(), "hot", &r1.id)
        .unwrap()
        .unwrap();
    assert!(m1.hot && m1.server.version.is_some());
    assert!(m1.files.iter().any(|f| f.path == "ib_logfile0"));

    server
        .sql_batch(
            "USE d; RENAME TABLE t1 TO t1r;
             UPDATE t1r SET v = 'renamed' WHERE id % 50 = 0;
             UPDATE t2 SET v = v + 1 WHERE id < 100;
             CREATE TABLE t3 (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO t3 VALUES (3);
             INSERT INTO m VALUES (3);",
        )
        .unwrap();
    let r2 = repo.backup(&o, &NoProgress, &Cancel::new()).unwrap();
    assert_eq!(r2.parent.as_deref(), Some(r1.id.as_str()));
    assert!(r2.base_names && r2.backup.incremental && r2.backup.hot().is_some());
    let tables = ["d.t1r", "d.t2", "d.t3", "d.m"];
    let want = server.checksum_tables(&tables).unwrap();

    let out = w.join("restored");
    let ro = crate::repo::RestoreOptions::new(&out);
    let r = repo.restore(&ro, &NoProgress, &Cancel::new()).unwrap();
    assert_eq!(r.chain, [r1.id.clone(), r2.id.clone()]);
    let restored = Sandbox::on_datadir(w.join("run"), &out, &opts).expect("server on the restore");
    assert_eq!(restored.checksum_tables(&tables).unwrap(), want);
}
