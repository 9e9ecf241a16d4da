//! The backup engine against a real MariaDB 10.11 (fails, never skips, without it).
//!
//! One server at a time: full backup of a stopped datadir; DML and DDL on classic and
//! compressed tables; incrementals by scan and by bitmap (written by the test from the pages it
//! knows changed) must be byte-identical; `mariabackup --prepare` accepts full + incremental and
//! a server started on the result gives the source's `CHECKSUM TABLE`s; a page-overwrite merge
//! of base + deltas reproduces the source's data files.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{
    BackupError, BackupOptions, BackupPlan, BackupReport, Incremental, Method,
};
use incremental_core::format::delta::DeltaReader;
use incremental_core::format::meta::Meta;
use incremental_core::progress::{Cancel, NoProgress};
use innodb_page::datadir;
use innodb_page::Lsn;
use xb_testkit::sandbox::{page_lsns, short_tempdir, Sandbox, SandboxOptions};

const TABLES: &[&str] = &["d.plain", "d.comp", "d.newt", "d.rebuilt"];

fn backup(opts: &BackupOptions, target: &Path) -> Result<BackupReport, BackupError> {
    let plan = BackupPlan::new(opts)?;
    let mut sink = DirSink::new(target).unwrap().sync(false);
    plan.run(&mut sink, &NoProgress, &Cancel::new())
}

fn arg(name: &str, p: &Path) -> OsString {
    let mut a = OsString::from(format!("--{name}="));
    a.push(p);
    a
}

fn copy_dir(from: &Path, to: &Path) {
    xb_testkit::sandbox::copy_dir(from, to).unwrap();
}

/// Applies every `.delta` of `inc` onto the files of `base` (in place) by page overwrite; a
/// delta whose space id differs from the base file's (a rebuilt table) replaces the file.
fn merge_deltas(base: &Path, inc: &Path) {
    let mut stack = vec![inc.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".delta") else {
                continue;
            };
            let rel = Path::new(stem).strip_prefix(inc).unwrap().to_path_buf();
            let meta = Meta::read_file(format!("{stem}.meta")).unwrap();
            let ps = meta.physical_page_size();
            let target = base.join(&rel);
            let mut data = fs::read(&target).unwrap_or_default();
            if data.len() >= 38
                && meta.space_id != Some(u32::from_be_bytes(data[34..38].try_into().unwrap()))
            {
                data.clear();
            }
            let bytes = fs::read(&p).unwrap();
            let mut r = DeltaReader::new(&bytes[..], ps);
            while let Some(pg) = r.next_page().unwrap() {
                let at = pg.target_offset(ps) as usize;
                if data.len() < at + ps.get() {
                    data.resize(at + ps.get(), 0);
                }
                data[at..at + ps.get()].copy_from_slice(pg.data);
            }
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).unwrap();
            }
            fs::write(&target, data).unwrap();
        }
    }
}

fn all_files(root: &Path) -> BTreeSet<PathBuf> {
    xb_testkit::sandbox::all_files(root).unwrap()
}

#[test]
fn full_then_incrementals_by_scan_and_bitmap_prepare_and_restore() {
    let work = short_tempdir().unwrap();
    let w = work.path();
    let opts = SandboxOptions::default();
    let mut server = Sandbox::in_tempdir(&opts).expect("start a sandbox");
    let dd = server.datadir().to_path_buf();
    server
        .sql_batch(
            "CREATE DATABASE d; USE d;
             CREATE TABLE plain (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
             INSERT INTO plain SELECT seq, REPEAT(CHAR(65 + seq % 26), 150) FROM seq_1_to_3000;
             CREATE TABLE comp (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB
                 ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8;
             INSERT INTO comp SELECT seq, SHA2(seq, 256) FROM seq_1_to_3000;
             CREATE TABLE rebuilt (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
             INSERT INTO rebuilt SELECT seq, seq FROM seq_1_to_500;
             CREATE TABLE gone (id INT PRIMARY KEY) ENGINE=InnoDB;
             INSERT INTO gone SELECT seq FROM seq_1_to_100;
             CREATE TABLE m (id INT PRIMARY KEY) ENGINE=Aria;
             INSERT INTO m VALUES (1), (2);",
        )
        .unwrap();

    // A running server's datadir is refused, with what to do.
    let e = BackupPlan::new(&BackupOptions::new(&dd)).unwrap_err();
    assert!(matches!(e, BackupError::ServerRunning { .. }), "{e}");
    assert!(e.to_string().contains("stop the server"), "{e}");

    server.checkpoint().unwrap();
    server.stop().unwrap();
    let full = w.join("full");
    let rf = backup(&BackupOptions::new(&dd), &full).unwrap();
    assert_eq!(rf.method, Method::Full);
    assert!(full.join("d/plain.ibd").exists() && full.join("d/m.MAI").exists());
    assert!(!full.join("ibtmp1").exists());
    let lsns_before = page_lsns(&dd).unwrap();

    // DML and DDL, then a clean stop.
    server.start().unwrap();
    server
        .sql_batch(
            "USE d;
             UPDATE plain SET v = 'changed' WHERE id BETWEEN 100 AND 140;
             INSERT INTO plain SELECT seq, 'new' FROM seq_5000_to_5500;
             UPDATE comp SET v = 'zz' WHERE id % 97 = 0;
             CREATE TABLE newt (id INT PRIMARY KEY, v CHAR(50)) ENGINE=InnoDB;
             INSERT INTO newt SELECT seq, 'x' FROM seq_1_to_800;
             ALTER TABLE rebuilt FORCE;
             UPDATE rebuilt SET v = v + 1 WHERE id < 50;
             DROP TABLE gone;
             INSERT INTO m VALUES (3);",
        )
        .unwrap();
    let sums = server.checksum_tables(TABLES).unwrap();
    server.stop().unwrap();

    // Incremental by scan.
    let mut o = BackupOptions::new(&dd);
    o.set_incremental(Some(Incremental::Basedir(full.clone())))
        .set_force_scan(true);
    let inc_scan = w.join("inc_scan");
    let rs = backup(&o, &inc_scan).unwrap();
    assert_eq!(rs.method, Method::Scan);
    assert_eq!(rs.from_lsn, rf.to_lsn);
    assert_eq!(rs.selection_lsn, rf.to_lsn);
    assert!(rs.pages_copied() > 0 && rs.pages_copied() < rs.pages_scanned());
    for f in [
        "ibdata1.delta",
        "d/plain.ibd.delta",
        "d/comp.ibd.meta",
        "d/newt.ibd.delta",
        "mysql/global_priv.MAD",
    ] {
        assert!(inc_scan.join(f).exists(), "{f}");
    }
    assert!(!inc_scan.join("d/gone.ibd.delta").exists());

    // Incremental by bitmap: the test writes the bitmap from the pages it knows changed (LSN
    // differs from before, new pages; and the pages at or above the threshold, which a tracker
    // run ending there flags), plus unchanged pages the LSN test must filter out.
    let after = page_lsns(&dd).unwrap();
    let threshold = rs.selection_lsn.get();
    let mut run = lsn_bitmap::ChangedPages::new();
    for (&(space, page), &lsn) in &after {
        if lsns_before.get(&(space, page)) != Some(&lsn) || lsn >= threshold {
            run.insert(space, page as u32);
        }
    }
    for p in 0..40 {
        run.insert(0, p); // unchanged system pages among them
    }
    let bm = w.join("bitmaps");
    fs::create_dir(&bm).unwrap();
    let mut wr =
        lsn_bitmap::BitmapWriter::open(&bm, lsn_bitmap::WriterOptions::default().sync(false))
            .unwrap();
    wr.start_file(Lsn(threshold)).unwrap();
    wr.write_run(rs.to_lsn, &run).unwrap();
    drop(wr);
    o.set_force_scan(false).set_bitmap_dir(bm.clone());
    let inc_bm = w.join("inc_bm");
    let rb = backup(&o, &inc_bm).unwrap();
    assert_eq!(rb.method, Method::Bitmap, "{}", rb.fallback_reason);
    assert!(rb.pages_scanned() < rs.pages_scanned() / 2);
    assert_eq!(rb.pages_copied(), rs.pages_copied());
    let files = all_files(&inc_scan);
    assert_eq!(files, all_files(&inc_bm));
    for f in &files {
        let n = f.to_string_lossy();
        if n == "xtrabackup_info" || n == "xb_backup_info" {
            continue;
        }
        assert!(
            fs::read(inc_scan.join(f)).unwrap() == fs::read(inc_bm.join(f)).unwrap(),
            "{n} differs"
        );
    }

    // Base + deltas by page overwrite = the source's data files.
    let merged = w.join("merged");
    copy_dir(&full, &merged);
    merge_deltas(&merged, &inc_scan);
    let src = datadir::scan(&dd).unwrap();
    for g in src.tablespace_groups() {
        for f in g {
            let rel = f.strip_prefix(&dd).unwrap();
            let a = fs::read(&f).unwrap();
            let mut b = fs::read(merged.join(rel)).unwrap();
            // zero pages past the last written one are not in deltas: the applier extends files
            // from the FSP size on page 0.
            if b.len() < a.len() {
                b.resize(a.len(), 0);
            }
            assert!(a == b, "{} differs after the merge", rel.display());
        }
    }

    // mariabackup --prepare accepts full + incremental; a server on the result has the data.
    let prep = w.join("prep");
    copy_dir(&full, &prep);
    let inc_copy = w.join("inc_copy");
    copy_dir(&inc_scan, &inc_copy);
    server
        .mariabackup([OsString::from("--prepare"), arg("target-dir", &prep)])
        .unwrap();
    server
        .mariabackup([
            OsString::from("--prepare"),
            arg("target-dir", &prep),
            arg("incremental-dir", &inc_copy),
        ])
        .unwrap();
    drop(server);
    let run_dir = short_tempdir().unwrap();
    let restored =
        Sandbox::on_datadir(run_dir.path(), &prep, &opts).expect("server on the prepared backup");
    assert_eq!(restored.checksum_tables(TABLES).unwrap(), sums);
    assert_eq!(restored.query_u64("SELECT COUNT(*) FROM d.m").unwrap(), 3);
    drop(restored);

    // xb's own applier (`xb prepare`) accepts full + incremental too.
    let xbp = w.join("xb_prepared");
    copy_dir(&full, &xbp);
    let inc_copy2 = w.join("inc_copy2");
    copy_dir(&inc_bm, &inc_copy2);
    incremental_core::prepare::prepare(
        &xbp,
        &[inc_copy2],
        &incremental_core::prepare::PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("xb prepare of our full + incremental");
    let run_dir3 = short_tempdir().unwrap();
    let x = Sandbox::on_datadir(run_dir3.path(), &xbp, &opts).expect("server on the xb prepare");
    assert_eq!(x.checksum_tables(TABLES).unwrap(), sums);
    drop(x);

    // The unprepared merge (full + deltas + the incremental's redo) also recovers to the data.
    // Take the incremental's other files and redo, drop what it no longer has.
    let inc_files = all_files(&inc_scan);
    for f in &inc_files {
        let n = f.to_string_lossy();
        if !n.ends_with(".delta") && !n.ends_with(".meta") {
            fs::create_dir_all(merged.join(f).parent().unwrap()).unwrap();
            fs::copy(inc_scan.join(f), merged.join(f)).unwrap();
        }
    }
    for f in all_files(&merged) {
        let delta = PathBuf::from(format!("{}.delta", f.to_string_lossy()));
        if !inc_files.contains(&f) && !inc_files.contains(&delta) {
            fs::remove_file(merged.join(&f)).unwrap();
        }
    }
    let run_dir2 = short_tempdir().unwrap();
    let m = Sandbox::on_datadir(run_dir2.path(), &merged, &opts).expect("server on the merge");
    assert_eq!(m.checksum_tables(TABLES).unwrap(), sums);
}
