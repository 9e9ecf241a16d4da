//! Restores and verifies of real backups taken by `Repository::backup` from a MariaDB 10.11
//! sandbox (fails, never skips, without it): full + incremental, in memory, on a local path
//! (compressed and encrypted) and on an S3 server (moto, LZ4), against `xb prepare` +
//! `xb copy-back` of plain directory backups of the same server states.

use std::fs;
use std::path::Path;

use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

use super::tests::tree;
use super::*;
use crate::backup::sink::DirSink;
use crate::backup::{BackupOptions, BackupPlan, Incremental};
use crate::codec::{CodecOptions, Compression, KeyFile};
use crate::progress::NoProgress;
use crate::repo::{RepoBackupOptions, RepoVerifyOptions, Store};

const KEY: &str = "AGE-SECRET-KEY-13GDQHAR08PXHVN8QFRGX2N49DTA282SZMJV282VT8WJVFKEQ7DEQMFSEF8\n";

fn plain_backup(opts: &BackupOptions, target: &Path) {
    let plan = BackupPlan::new(opts).unwrap();
    let mut sink = DirSink::new(target).unwrap().sync(false);
    plan.run(&mut sink, &NoProgress, &Cancel::new()).unwrap();
}

#[test]
fn real_chains_restore_as_prepare_and_copy_back_of_directories_and_verify_clean() {
    let s3 = xb_testkit::s3::S3Server::start().expect("moto_server starts");
    let work = short_tempdir().unwrap();
    let w = work.path();
    let mut server = Sandbox::in_tempdir(&SandboxOptions::default()).expect("start a sandbox");
    let dd = server.datadir().to_path_buf();
    server
        .sql_batch(
            "CREATE DATABASE d; USE d;
             CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(255)) ENGINE=InnoDB;
             INSERT INTO big SELECT seq, SHA2(seq, 512) FROM seq_1_to_30000;
             CREATE TABLE z (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB ROW_FORMAT=COMPRESSED;
             INSERT INTO z SELECT seq, REPEAT('x', 300) FROM seq_1_to_2000;
             CREATE TABLE a (id INT PRIMARY KEY) ENGINE=Aria; INSERT INTO a VALUES (1), (2);",
        )
        .unwrap();
    server.checkpoint().unwrap();
    server.stop().unwrap();
    let plain_full = w.join("plain-full");
    plain_backup(&BackupOptions::new(&dd), &plain_full);

    let keys = KeyFile::parse(KEY, "test").unwrap();
    let mut secret = CodecOptions::default();
    secret
        .set_compression(Some(Compression::Zstd))
        .set_keys(Some(keys.clone()));
    let mut so = crate::repo::StoreOptions::default();
    for (k, v) in s3.env() {
        so.set(k, v);
    }
    let mut lz4 = CodecOptions::default();
    lz4.set_compression(Some(Compression::Lz4));
    let repos = [
        (Store::memory(), CodecOptions::default()),
        (
            Store::open(w.join("repo").to_str().unwrap(), &Default::default()).unwrap(),
            secret,
        ),
        (Store::open(&s3.url("repo"), &so).unwrap(), lz4),
    ];
    let mut ids = Vec::new();
    for (store, codec) in &repos {
        let repo = Repository::new(store.clone(), "db1").unwrap();
        let mut o = RepoBackupOptions::new(BackupOptions::new(&dd));
        o.set_codec(codec.clone()).set_part_size(1 << 20);
        ids.push(repo.backup(&o, &NoProgress, &Cancel::new()).unwrap().id);
    }

    server.start().unwrap();
    server
        .sql_batch(
            "USE d; UPDATE big SET v = 'changed' WHERE id BETWEEN 1000 AND 1400;
             DELETE FROM z WHERE id > 1500; INSERT INTO a VALUES (3);
             CREATE TABLE n (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO n VALUES (7);
             RENAME TABLE big TO big2;",
        )
        .unwrap();
    let tables = ["d.big2", "d.z", "d.a", "d.n"];
    let sums = server.checksum_tables(&tables).unwrap();
    server.checkpoint().unwrap();
    server.stop().unwrap();
    let plain_inc = w.join("plain-inc");
    let mut io = BackupOptions::new(&dd);
    io.set_incremental(Some(Incremental::Basedir(plain_full.clone())));
    plain_backup(&io, &plain_inc);

    // What `xb prepare` + `xb copy-back` of the directories give.
    let base = w.join("prepared");
    xb_testkit::sandbox::copy_dir(&plain_full, &base).unwrap();
    crate::prepare::prepare(
        &base,
        std::slice::from_ref(&plain_inc),
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap();
    let want_dd = w.join("want");
    crate::copy_back::copy_back(
        &DirSource::new(&base),
        &want_dd,
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap();
    let want = tree(&want_dd);
    assert!(want.contains_key(Path::new("d/big2.ibd")) && want.contains_key(Path::new("ibdata1")));

    for (i, (store, codec)) in repos.iter().enumerate() {
        let repo = Repository::new(store.clone(), "db1").unwrap();
        let mut o = RepoBackupOptions::new(BackupOptions::new(&dd));
        o.set_codec(codec.clone()).set_part_size(1 << 20);
        let inc = repo.backup(&o, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!(inc.parent.as_deref(), Some(ids[i].as_str()));
        let k = codec.keys().cloned();

        let out = w.join(format!("restored-{i}"));
        let mut ro = RestoreOptions::new(&out);
        ro.set_keys(k.clone()).set_parallel(4);
        let r = repo.restore(&ro, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!(r.chain, [ids[i].clone(), inc.id.clone()]);
        assert!(r.prepare.pages_written > 0);
        let got = tree(&out);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "the same files"
        );
        for (name, bytes) in &want {
            assert!(
                got[name] == *bytes,
                "{}: differs from prepare + copy-back",
                name.display()
            );
        }
        // The incremental's deltas were read in place: far fewer bytes than the chain holds.
        let m = crate::repo::catalog::manifest(&repo, &inc.id).unwrap();
        let full = crate::repo::catalog::manifest(&repo, &ids[i]).unwrap();
        assert!(r.bytes_downloaded <= full.stored_bytes() + m.stored_bytes() + (1 << 20));

        let mut vo = RepoVerifyOptions::default();
        vo.set_keys(k);
        let v = repo.verify(&vo, &NoProgress, &Cancel::new()).unwrap();
        let problems: Vec<String> = v
            .backups
            .iter()
            .flat_map(|b| b.problems.iter().map(|p| p.to_string()))
            .collect();
        assert!(v.ok(), "{problems:?}");
        assert_eq!(v.backups.len(), 2);
        assert!(v.backups[0].pages > 1000, "{:?}", v.backups[0]);
        assert!(
            v.backups[1].pages > 0 && v.backups[1].pages_unchecked == 0,
            "{:?}",
            v.backups[1]
        );
        fs::remove_dir_all(&out).unwrap();
    }
    assert!(
        s3.log().contains("GET /xb-test/repo/db1/"),
        "read from the S3 server"
    );

    // With the apply-redo step: a server starts on the datadir and holds the tables as they
    // were at the incremental's end.
    let repo = Repository::new(repos[0].0.clone(), "db1").unwrap();
    let out = w.join("applied");
    let mut ro = RestoreOptions::new(&out);
    ro.set_apply_redo(Some(Default::default()));
    let r = repo.restore(&ro, &NoProgress, &Cancel::new()).unwrap();
    assert!(r.redo_applied);
    let run = short_tempdir().unwrap();
    let restored = Sandbox::on_datadir(run.path(), &out, &SandboxOptions::default()).unwrap();
    assert_eq!(restored.checksum_tables(&tables).unwrap(), sums);
}
