//! A synthetic chain of backups (full, two incrementals) built from hand-made pages and
//! deltas, without a server: growth, a drop, a rename, a name swap, new tables.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use incremental_core::format::backup_info::{BackupInfo, Method};
use incremental_core::format::delta::{DeltaWriter, PageSize};
use incremental_core::format::{meta::Meta, Dialect};
use innodb_page::Lsn;

/// The page size of the synthetic tablespaces.
pub const P: usize = 16384;
/// FSP flags: full_crc32, 16 KiB pages.
pub const FLAGS: u32 = 0x15;

/// A page image: page number, space id, LSN, and a filler byte; page 0 carries the FSP header.
pub fn page(space: u32, no: u32, lsn: u64, fill: u8, fsp_size: u32) -> Vec<u8> {
    let mut p = vec![fill; P];
    p[4..8].copy_from_slice(&no.to_be_bytes());
    p[16..24].copy_from_slice(&lsn.to_be_bytes());
    p[34..38].copy_from_slice(&space.to_be_bytes());
    if no == 0 {
        p[24..26].copy_from_slice(&8u16.to_be_bytes());
        p[38..42].copy_from_slice(&space.to_be_bytes());
        p[46..50].copy_from_slice(&fsp_size.to_be_bytes());
        p[54..58].copy_from_slice(&FLAGS.to_be_bytes());
    }
    p
}

pub fn write_meta_files(dir: &Path, ckpt: &str, info: &BackupInfo) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("xtrabackup_checkpoints"), ckpt).unwrap();
    fs::write(dir.join("xb_backup_info"), info.to_bytes()).unwrap();
    fs::write(
        dir.join("ib_logfile0"),
        format!("redo of {}", dir.display()),
    )
    .unwrap();
    fs::write(dir.join("backup-my.cnf"), "[mysqld]\n").unwrap();
}

pub fn delta(dir: &Path, rel: &str, space: u32, pages: &[(u32, Vec<u8>)]) {
    let path = dir.join(format!("{rel}.delta"));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = DeltaWriter::new(File::create(&path).unwrap(), PageSize::DEFAULT);
    for (no, img) in pages {
        w.push(*no, img).unwrap();
    }
    w.finish().unwrap();
    Meta::new(PageSize::DEFAULT, false, space, FLAGS)
        .write_file(dir.join(format!("{rel}.meta")), Dialect::MariaDb)
        .unwrap();
}

pub fn inc_info(from: u64, to: u64) -> BackupInfo {
    let mut i = BackupInfo::full(Lsn(to), Lsn(to + 10));
    i.incremental = true;
    i.from_lsn = Lsn(from);
    i.selection_lsn = Lsn(from);
    i.redo_start_lsn = Lsn(to);
    i.method = Method::Scan;
    i
}

/// The pages of each table in the full backup.
pub const PAGES: u32 = 16;

/// base, inc1, inc2 under `root`, with `tables` tables.
pub fn make_chain(root: &Path, tables: u32) -> (PathBuf, PathBuf, PathBuf) {
    let (base, inc1, inc2) = (root.join("base"), root.join("inc1"), root.join("inc2"));
    let mut bi = BackupInfo::full(Lsn(1000), Lsn(1010));
    bi.redo_start_lsn = Lsn(1000);
    write_meta_files(
        &base,
        "backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 1000\nlast_lsn = 1010\n",
        &bi,
    );
    fs::create_dir_all(base.join("db")).unwrap();
    for t in 0..tables {
        let id = 10 + t;
        let mut f = Vec::new();
        for no in 0..PAGES {
            f.extend(page(id, no, 500, t as u8, PAGES));
        }
        fs::write(base.join(format!("db/t{t}.ibd")), f).unwrap();
        fs::write(base.join(format!("db/t{t}.frm")), format!("frm {t}")).unwrap();
    }
    // inc1: every table but t0 (dropped) changes every other page and grows to 24 pages;
    // t1 is renamed to r1; t2 and t3 swap names; n1 is new.
    write_meta_files(
        &inc1,
        "backup_type = incremental\nfrom_lsn = 1000\nto_lsn = 2000\nlast_lsn = 2010\n",
        &inc_info(1000, 2000),
    );
    let name = |t: u32| match t {
        1 => "r1".to_string(),
        2 => "t3".to_string(),
        3 => "t2".to_string(),
        _ => format!("t{t}"),
    };
    for t in 1..tables {
        let id = 10 + t;
        let mut pages = vec![(0, page(id, 0, 1500, 0xA0, 24))];
        pages.extend(
            (1..PAGES)
                .step_by(2)
                .map(|no| (no, page(id, no, 1500, 0xA1, 0))),
        );
        delta(&inc1, &format!("db/{}.ibd", name(t)), id, &pages);
        fs::write(
            inc1.join(format!("db/{}.frm", name(t))),
            format!("frm1 {t}"),
        )
        .unwrap();
    }
    let new: Vec<_> = (0..6).map(|no| (no, page(99, no, 1600, 0xB0, 6))).collect();
    delta(&inc1, "db/n1.ibd", 99, &new);
    fs::write(inc1.join("db/n1.frm"), "frm n1").unwrap();
    // inc2: pages 0..8 of every table change again (overlapping inc1), n1 grows; d2 is new.
    write_meta_files(
        &inc2,
        "backup_type = incremental\nfrom_lsn = 2000\nto_lsn = 3000\nlast_lsn = 3010\n",
        &inc_info(2000, 3000),
    );
    for t in 1..tables {
        let id = 10 + t;
        let mut pages = vec![(0, page(id, 0, 2500, 0xC0, 24))];
        pages.extend((1..8).map(|no| (no, page(id, no, 2500, 0xC1, 0))));
        delta(&inc2, &format!("db/{}.ibd", name(t)), id, &pages);
        fs::write(
            inc2.join(format!("db/{}.frm", name(t))),
            format!("frm2 {t}"),
        )
        .unwrap();
    }
    delta(&inc2, "db/n1.ibd", 99, &[(0, page(99, 0, 2600, 0xD0, 40))]);
    fs::write(inc2.join("db/n1.frm"), "frm n1").unwrap();
    delta(&inc2, "d2/x.ibd", 100, &[(0, page(100, 0, 2600, 0xE0, 4))]);
    fs::write(inc2.join("d2/x.frm"), "frm x").unwrap();
    (base, inc1, inc2)
}
