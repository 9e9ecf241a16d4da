//! The backup engine on synthetic datadirs (no server): random page changes, then
//! base + delta must equal the new files, and the delta must hold exactly the pages whose LSN
//! is at or above the threshold.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{
    BackupError, BackupOptions, BackupPlan, Filter, Incremental, Method,
};
use incremental_core::format::backup_info::BackupInfo;
use incremental_core::format::checkpoints::{BackupType, Checkpoints};
use incremental_core::format::delta::{DeltaReader, PageSize};
use incremental_core::format::meta::Meta;
use incremental_core::prepare::{PrepareError, PrepareOptions, PreparePlan};
use incremental_core::progress::{Cancel, NoProgress};
use incremental_core::Remedy;
use innodb_page::checksum::{stamp, Algorithm};
use innodb_page::Lsn;
use proptest::prelude::*;

const PS: usize = 16384;
/// Checkpoint LSN of the synthetic datadirs' `ib_logfile0` (before changes).
const CKPT: u64 = 3_000_000;

/// Writes a MariaDB 10.8+ log whose checkpoint is `ckpt` and which holds only the
/// checkpoint's FILE_CHECKPOINT mini-transaction (what a clean shutdown leaves).
fn write_log(path: &Path, ckpt: u64) {
    let mut b = incremental_core::backup::redo_copy::header_area(Lsn(ckpt), Lsn(ckpt));
    let mut rec = vec![0xfa, 0, 0];
    rec.extend_from_slice(&ckpt.to_be_bytes());
    let crc = crc32c::crc32c(&rec);
    b.extend_from_slice(&rec);
    b.push(1);
    b.extend_from_slice(&crc.to_be_bytes());
    b.resize(b.len() + 4096, 0);
    fs::write(path, b).unwrap();
}

/// A full_crc32 16K page `page_no` of `space`, LSN `lsn`, body from `seed`.
fn page(space: u32, page_no: u32, lsn: u64, seed: u64, fsp_size: Option<u32>) -> Vec<u8> {
    let mut p = vec![0u8; PS];
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for b in p[38..PS - 8].iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    p[4..8].copy_from_slice(&page_no.to_be_bytes());
    p[16..24].copy_from_slice(&lsn.to_be_bytes());
    p[24..26].copy_from_slice(&17855u16.to_be_bytes());
    p[34..38].copy_from_slice(&space.to_be_bytes());
    if let Some(size) = fsp_size {
        p[24..26].copy_from_slice(&8u16.to_be_bytes()); // FSP_HDR
        p[38..42].copy_from_slice(&space.to_be_bytes());
        p[42..46].fill(0);
        p[46..50].copy_from_slice(&size.to_be_bytes());
        p[50..54].copy_from_slice(&size.to_be_bytes());
        p[54..58].copy_from_slice(&0x15u32.to_be_bytes()); // full_crc32, 16K
        p[58..62].fill(0);
    }
    stamp(&mut p, Algorithm::FullCrc32).unwrap();
    p
}

/// A datadir: ibdata1 (4 pages) + ibdata2 (`sys2` pages), db/t.ibd (`t` pages), db/t.frm.
/// Page LSNs from `lsns` (cycled), all below the checkpoint.
struct Synth {
    dir: tempfile::TempDir,
}

impl Synth {
    fn new(sys2: u32, t: u32, lsns: &[u64]) -> Synth {
        let dir = tempfile::tempdir().unwrap();
        let s = Synth { dir };
        let mut i = 0usize;
        let mut next = || {
            i += 1;
            lsns[i % lsns.len()]
        };
        let mut ib1 = Vec::new();
        for n in 0..4u32 {
            ib1.extend(page(0, n, next(), n as u64, (n == 0).then_some(4 + sys2)));
        }
        let mut ib2 = Vec::new();
        for n in 4..4 + sys2 {
            ib2.extend(page(0, n, next(), n as u64, None));
        }
        let mut tf = Vec::new();
        for n in 0..t {
            tf.extend(page(5, n, next(), 1000 + n as u64, (n == 0).then_some(t)));
        }
        fs::write(s.path("ibdata1"), ib1).unwrap();
        fs::write(s.path("ibdata2"), ib2).unwrap();
        fs::create_dir(s.path("db")).unwrap();
        fs::write(s.path("db/t.ibd"), tf).unwrap();
        fs::write(s.path("db/t.frm"), b"frm bytes").unwrap();
        write_log(&s.path("ib_logfile0"), CKPT);
        s
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Rewrites page `n` of file `rel` with LSN `lsn`.
    fn change(&self, rel: &str, space: u32, global_no: u32, local_no: u32, lsn: u64, seed: u64) {
        let mut f = fs::read(self.path(rel)).unwrap();
        let size = (local_no == 0 && rel != "ibdata2")
            .then(|| u32::from_be_bytes(f[46..50].try_into().unwrap()));
        let p = page(space, global_no, lsn, seed, size);
        let at = local_no as usize * PS;
        f[at..at + PS].copy_from_slice(&p);
        fs::write(self.path(rel), f).unwrap();
    }
}

fn backup(
    opts: &BackupOptions,
    target: &Path,
) -> Result<incremental_core::backup::BackupReport, BackupError> {
    let plan = BackupPlan::new(opts)?;
    let mut sink = DirSink::new(target).unwrap().sync(false);
    plan.run(&mut sink, &NoProgress, &Cancel::new())
}

/// Applies `delta` (with its `.meta`) onto a copy of `base`, the way a page-overwrite merge does.
fn merge(base: &Path, delta: &Path) -> (Vec<u8>, BTreeSet<u32>) {
    let mut out = fs::read(base).unwrap();
    let meta_path = PathBuf::from(delta.to_string_lossy().replace(".delta", ".meta"));
    let meta = Meta::read_file(&meta_path).unwrap();
    let ps = meta.physical_page_size();
    let bytes = fs::read(delta).unwrap();
    let mut r = DeltaReader::new(&bytes[..], ps);
    let mut pages = BTreeSet::new();
    while let Some(p) = r.next_page().unwrap() {
        let at = p.target_offset(ps) as usize;
        if out.len() < at + ps.get() {
            out.resize(at + ps.get(), 0);
        }
        out[at..at + ps.get()].copy_from_slice(p.data);
        pages.insert(p.page_no);
    }
    (out, pages)
}

#[test]
fn full_backup_layout_and_metadata() {
    let s = Synth::new(3, 5, &[100, 200, 300]);
    let t = tempfile::tempdir().unwrap();
    let target = t.path().join("full");
    let r = backup(&BackupOptions::new(s.root()), &target).unwrap();
    assert_eq!(r.method, Method::Full);
    assert_eq!(r.pages_copied(), 4 + 3 + 5);
    for f in ["ibdata1", "ibdata2", "db/t.ibd", "db/t.frm"] {
        assert_eq!(
            fs::read(target.join(f)).unwrap(),
            fs::read(s.path(f)).unwrap(),
            "{f}"
        );
    }
    let c = Checkpoints::read_dir(&target).unwrap();
    assert_eq!(c.backup_type, BackupType::FullBackuped);
    assert_eq!(
        (c.from_lsn.get(), c.to_lsn.get(), c.last_lsn.get()),
        (0, CKPT, CKPT + 16)
    );
    let xb = BackupInfo::read_dir(&target).unwrap().unwrap();
    assert_eq!(xb.redo_start_lsn.get(), CKPT);
    let cnf = fs::read_to_string(target.join("backup-my.cnf")).unwrap();
    assert!(cnf.contains("innodb_page_size=16384\n"), "{cnf}");
    assert!(
        cnf.contains("innodb_data_file_path=ibdata1:64K;ibdata2:48K:autoextend\n"),
        "{cnf}"
    );
    assert!(target.join("xtrabackup_info").exists());
    assert_eq!(fs::read(target.join("ib_logfile0")).unwrap().len(), 12304);
    let log = innodb_page::redo::open(&target.join("ib_logfile0")).unwrap();
    assert_eq!(log.checkpoint_lsn().get(), CKPT);
    assert_eq!(log.end_lsn().unwrap().get(), CKPT + 16);
    // a non-empty target is refused
    assert!(DirSink::new(&target).is_err());
}

#[test]
fn any_chunk_size_and_thread_count_give_the_same_backup() {
    let s = Synth::new(3, 9, &[100, CKPT + 8, 300]);
    let big: Vec<u8> = (0..100_003u32).map(|i| (i * 7 % 253) as u8).collect();
    fs::write(s.path("db/big.MYD"), &big).unwrap();
    fs::write(s.path("db/empty.MYI"), b"").unwrap();
    let t = tempfile::tempdir().unwrap();
    let files = [
        "ibdata1",
        "ibdata2",
        "db/t.ibd",
        "db/t.frm",
        "db/big.MYD",
        "db/empty.MYI",
    ];
    let deltas = [
        "ibdata1.delta",
        "ibdata2.delta",
        "db/t.ibd.delta",
        "db/big.MYD",
    ];
    let mut first: Option<Vec<Vec<u8>>> = None;
    for (i, (chunk, parallel)) in [(2 << 20, 0), (10_000, 3), (16384 * 2, 1), (4096, 8)]
        .into_iter()
        .enumerate()
    {
        let mut o = BackupOptions::new(s.root());
        o.set_chunk_bytes(chunk).set_parallel(parallel);
        let full = t.path().join(format!("full{i}"));
        let r = backup(&o, &full).unwrap();
        assert_eq!(r.pages_copied(), 4 + 3 + 9);
        assert_eq!((r.other_files, r.other_bytes), (3, 100_003 + 9));
        for f in files {
            assert_eq!(
                fs::read(full.join(f)).unwrap(),
                fs::read(s.path(f)).unwrap(),
                "{f}"
            );
        }
        o.set_incremental(Some(Incremental::Lsn(Lsn::new(CKPT))))
            .set_force_scan(true);
        let inc = t.path().join(format!("inc{i}"));
        let r = backup(&o, &inc).unwrap();
        assert!(
            r.pages_copied() > 0 && r.pages_copied() < 16,
            "{}",
            r.pages_copied()
        );
        let got: Vec<Vec<u8>> = deltas
            .iter()
            .map(|f| fs::read(inc.join(f)).unwrap())
            .collect();
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(f, &got, "chunk {chunk}, {parallel} threads"),
        }
    }
}

#[test]
fn corrupt_page_stops_the_backup_or_is_recorded() {
    let s = Synth::new(1, 4, &[100]);
    let mut f = fs::read(s.path("db/t.ibd")).unwrap();
    f[2 * PS + 100] ^= 0xff;
    fs::write(s.path("db/t.ibd"), f).unwrap();
    let t = tempfile::tempdir().unwrap();
    let e = backup(&BackupOptions::new(s.root()), &t.path().join("a")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("t.ibd") && msg.contains("page 2"), "{msg}");
    let mut o = BackupOptions::new(s.root());
    o.set_log_innodb_page_corruption(true);
    let r = backup(&o, &t.path().join("b")).unwrap();
    let corrupt: Vec<u64> = r
        .tablespaces
        .iter()
        .flat_map(|t| t.corrupt.iter().map(|c| c.page_no))
        .collect();
    assert_eq!(corrupt, vec![2]);
    let text = fs::read_to_string(t.path().join("b/innodb_corrupted_pages")).unwrap();
    assert_eq!(text, "db/t 5\n2\n");
    // an incremental copies a corrupt page whatever its LSN
    o.set_incremental(Some(Incremental::Lsn(Lsn::new(CKPT))))
        .set_force_scan(true);
    let r = backup(&o, &t.path().join("c")).unwrap();
    let (_, pages) = merge(&s.path("db/t.ibd"), &t.path().join("c/db/t.ibd.delta"));
    assert_eq!(pages.into_iter().collect::<Vec<_>>(), vec![2]);
    assert_eq!(r.method, Method::Scan);
}

#[test]
fn partial_backups_and_partial_bases() {
    let s = Synth::new(1, 2, &[100]);
    fs::create_dir(s.path("other")).unwrap();
    fs::copy(s.path("db/t.ibd"), s.path("other/u.ibd")).unwrap();
    let t = tempfile::tempdir().unwrap();
    let mut o = BackupOptions::new(s.root());
    let mut filter = Filter::default();
    filter.set_databases("db");
    o.set_filter(filter);
    backup(&o, &t.path().join("p")).unwrap();
    assert!(t.path().join("p/db/t.ibd").exists());
    assert!(!t.path().join("p/other/u.ibd").exists());
    assert!(t.path().join("p/ibdata1").exists());
    let xb = BackupInfo::read_dir(&t.path().join("p")).unwrap().unwrap();
    assert!(xb.partial);
    assert_eq!(xb.databases, "db");
    let mut i = BackupOptions::new(s.root());
    i.set_incremental(Some(Incremental::Basedir(t.path().join("p"))));
    let e = backup(&i, &t.path().join("i1")).unwrap_err();
    assert!(matches!(e, BackupError::PartialBase { .. }), "{e}");
    assert_eq!(e.remedy(), Some(Remedy::AcceptPartialBase));
    i.set_accept_partial_base(true);
    backup(&i, &t.path().join("i2")).unwrap();
    let xb = BackupInfo::read_dir(&t.path().join("i2")).unwrap().unwrap();
    assert!(xb.base_partial);
}

#[test]
fn bitmap_fallback_is_recorded() {
    let s = Synth::new(1, 2, &[100]);
    let t = tempfile::tempdir().unwrap();
    let mut o = BackupOptions::new(s.root());
    o.set_incremental(Some(Incremental::Lsn(Lsn::new(50))));
    let r = backup(&o, &t.path().join("i")).unwrap();
    assert_eq!(r.method, Method::Scan);
    assert!(
        r.fallback_reason.contains("no bitmap file"),
        "{}",
        r.fallback_reason
    );
    let xb = BackupInfo::read_dir(&t.path().join("i")).unwrap().unwrap();
    assert_eq!(xb.fallback_reason, r.fallback_reason);
    assert_eq!(xb.selection_lsn.get(), 50);
    o.set_force_scan(true);
    let r = backup(&o, &t.path().join("j")).unwrap();
    assert_eq!(r.fallback_reason, "");
    assert_eq!(r.pages_copied(), 4 + 1 + 2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Random page changes (some exactly at the threshold), then an incremental on top of our
    /// full: every delta holds exactly the pages with LSN ≥ threshold, and base + delta = new.
    #[test]
    fn base_plus_delta_is_the_new_file(
        sys2 in 1u32..6,
        tpages in 1u32..12,
        changes in proptest::collection::vec((0u32..3, 0u32..16, 0u64..3, any::<u64>()), 0..12),
    ) {
        let s = Synth::new(sys2, tpages, &[100, 5000, CKPT - 1]);
        let t = tempfile::tempdir().unwrap();
        backup(&BackupOptions::new(s.root()), &t.path().join("full")).unwrap();
        let mut expect: [BTreeSet<u32>; 3] = Default::default();
        for (file, n, dl, seed) in changes {
            let lsn = CKPT + dl * 8; // at or above the threshold (= CKPT), below the new checkpoint
            match file {
                0 => { let n = n % 4; s.change("ibdata1", 0, n, n, lsn, seed); expect[0].insert(n); }
                1 => { let n = n % sys2; s.change("ibdata2", 0, 4 + n, n, lsn, seed); expect[1].insert(n); }
                _ => { let n = n % tpages; s.change("db/t.ibd", 5, n, n, lsn, seed); expect[2].insert(n); }
            }
        }
        let c2 = CKPT + 200;
        write_log(&s.path("ib_logfile0"), c2);
        let mut o = BackupOptions::new(s.root());
        o.set_incremental(Some(Incremental::Basedir(t.path().join("full"))));
        let inc = t.path().join("inc");
        let r = backup(&o, &inc).unwrap();
        prop_assert_eq!(r.method, Method::Scan);
        // the same through a bitmap flagging the changed pages and a few unchanged ones
        let bm = t.path().join("bitmaps");
        fs::create_dir(&bm).unwrap();
        let mut w = lsn_bitmap::BitmapWriter::open(&bm, lsn_bitmap::WriterOptions::default().sync(false)).unwrap();
        w.start_file(Lsn(CKPT)).unwrap();
        let mut run = lsn_bitmap::ChangedPages::new();
        for n in &expect[0] { run.insert(0, *n); }
        for n in &expect[1] { run.insert(0, 4 + *n); }
        for n in &expect[2] { run.insert(5, *n); }
        run.insert(5, tpages - 1);
        run.insert(0, 1);
        run.insert(5, 900); // past the end of the file
        w.write_run(Lsn(c2), &run).unwrap();
        drop(w);
        o.set_bitmap_dir(bm);
        let inc_bm = t.path().join("inc_bm");
        let rb = backup(&o, &inc_bm).unwrap();
        prop_assert_eq!(rb.method, Method::Bitmap);
        prop_assert!(rb.pages_scanned() <= r.pages_scanned());
        for f in ["ibdata1", "ibdata2", "db/t.ibd"] {
            for ext in ["delta", "meta"] {
                let name = format!("{f}.{ext}");
                prop_assert_eq!(fs::read(inc.join(&name)).unwrap(), fs::read(inc_bm.join(&name)).unwrap(), "{}", name);
            }
        }
        prop_assert_eq!(r.selection_lsn.get(), CKPT);
        let c = Checkpoints::read_dir(&inc).unwrap();
        prop_assert_eq!(c.backup_type, BackupType::Incremental);
        prop_assert_eq!(c.from_lsn.get(), CKPT);
        prop_assert_eq!(c.to_lsn.get(), c2);
        for (i, f) in ["ibdata1", "ibdata2", "db/t.ibd"].iter().enumerate() {
            let (merged, pages) = merge(&t.path().join("full").join(f), &inc.join(format!("{f}.delta")));
            prop_assert_eq!(&pages, &expect[i], "{}", f);
            prop_assert_eq!(merged, fs::read(s.path(f)).unwrap(), "{}", f);
            let meta = Meta::read_file(inc.join(format!("{f}.meta"))).unwrap();
            prop_assert_eq!(meta.physical_page_size(), PageSize::DEFAULT);
            prop_assert_eq!(meta.space_id, Some(if i == 2 { 5 } else { 0 }));
        }
        prop_assert_eq!(fs::read(inc.join("db/t.frm")).unwrap(), b"frm bytes".to_vec());
    }
}

/// Rewrites `key = value` in the `key = value` file `path` (the line must exist).
fn set_key(path: &Path, key: &str, value: &str) {
    let text = fs::read_to_string(path).unwrap();
    let mut found = false;
    let out: String = text
        .lines()
        .map(|l| {
            if l.split('=').next().map(str::trim) == Some(key) {
                found = true;
                format!("{key} = {value}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(found, "{}: no {key}", path.display());
    fs::write(path, out).unwrap();
}

/// Prepares a copy of `full` with `incs` (dry run: the plan only); the refusal, if any.
fn plan_on_copy(full: &Path, incs: &[&Path]) -> Result<(), PrepareError> {
    let t = tempfile::tempdir().unwrap();
    let target = t.path().join("t");
    xb_testkit::sandbox::copy_dir(full, &target).unwrap();
    let incs: Vec<PathBuf> = incs.iter().map(|p| p.to_path_buf()).collect();
    PreparePlan::new(&target, &incs, &PrepareOptions::default()).map(|_| ())
}

/// Two incrementals with no checkpoint between them (equal from_lsn, to_lsn and last_lsn) given
/// in the wrong order: accepted before (the older state restored); now refused by the backups'
/// identities, by `last_lsn`, or as ambiguous, alike by the prepare and by the chain verify.
#[test]
fn incrementals_without_a_checkpoint_between_them_are_ordered_or_refused() {
    let s = Synth::new(1, 4, &[100, 200]);
    let t = tempfile::tempdir().unwrap();
    let (full, inc1, inc2) = (
        t.path().join("full"),
        t.path().join("i1"),
        t.path().join("i2"),
    );
    backup(&BackupOptions::new(s.root()), &full).unwrap();
    let mut o = BackupOptions::new(s.root());
    // Pages changed with no checkpoint since (a cold datadir would have none: read every page).
    o.set_force_scan(true);
    s.change("db/t.ibd", 5, 1, 1, CKPT + 4, 11);
    o.set_incremental(Some(Incremental::Basedir(full.clone())));
    backup(&o, &inc1).unwrap();
    s.change("db/t.ibd", 5, 1, 1, CKPT + 8, 12);
    o.set_incremental(Some(Incremental::Basedir(inc1.clone())));
    backup(&o, &inc2).unwrap();
    let ck = |d: &Path| Checkpoints::read_dir(d).unwrap();
    assert_eq!(
        (ck(&inc1).from_lsn, ck(&inc1).to_lsn, ck(&inc1).last_lsn),
        (ck(&inc2).from_lsn, ck(&inc2).to_lsn, ck(&inc2).last_lsn)
    );
    let (id_full, id1, id2) = (
        BackupInfo::read_dir(&full).unwrap().unwrap(),
        BackupInfo::read_dir(&inc1).unwrap().unwrap(),
        BackupInfo::read_dir(&inc2).unwrap().unwrap(),
    );
    assert!(!id_full.backup_id.is_empty() && id_full.backup_id != id1.backup_id);
    assert_eq!(id1.base_backup_id, id_full.backup_id);
    assert_eq!(id2.base_backup_id, id1.backup_id);

    // By identity: the wrong order is refused, by the prepare and by the verify alike.
    let e = plan_on_copy(&full, &[&inc2, &inc1]).unwrap_err();
    assert!(matches!(e, PrepareError::WrongBase { .. }), "{e}");
    assert_eq!(e.remedy(), Some(Remedy::GiveIncrementalsInOrder));
    let v = incremental_core::verify::verify_chain(
        &full,
        &[inc2.clone(), inc1.clone()],
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap();
    assert!(!v.restorable());
    assert!(
        matches!(
            v.refusal,
            Some(incremental_core::verify::Refusal::Prepare(
                PrepareError::WrongBase { .. }
            ))
        ),
        "{}",
        v.verdict()
    );
    // The right order merges, ending with the newest page.
    let merged = t.path().join("merged");
    xb_testkit::sandbox::copy_dir(&full, &merged).unwrap();
    incremental_core::prepare::prepare(
        &merged,
        &[inc1.clone(), inc2.clone()],
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap();
    let (got, want) = (
        fs::read(merged.join("db/t.ibd")).unwrap(),
        fs::read(s.path("db/t.ibd")).unwrap(),
    );
    let differ: Vec<usize> = (0..want.len() / PS)
        .filter(|&n| got.get(n * PS..(n + 1) * PS) != Some(&want[n * PS..(n + 1) * PS]))
        .collect();
    assert!(
        differ.is_empty(),
        "pages {differ:?} differ ({} vs {} bytes)",
        got.len(),
        want.len()
    );
    // The result carries the newest incremental's identity: the next one continues it.
    let merged_info = BackupInfo::read_dir(&merged).unwrap().unwrap();
    assert_eq!(merged_info.backup_id, id2.backup_id);

    // Without identities (mariabackup's backups): the times of xtrabackup_info order them...
    for d in [&full, &inc1, &inc2] {
        let mut b = BackupInfo::read_dir(d).unwrap().unwrap();
        b.backup_id.clear();
        b.base_backup_id.clear();
        fs::write(d.join("xb_backup_info"), b.to_bytes()).unwrap();
    }
    for (d, start, end) in [
        (&inc1, "2026-01-01 10:00:00", "2026-01-01 10:00:05"),
        (&inc2, "2026-01-01 10:01:00", "2026-01-01 10:01:05"),
    ] {
        set_key(&d.join("xtrabackup_info"), "start_time", start);
        set_key(&d.join("xtrabackup_info"), "end_time", end);
    }
    plan_on_copy(&full, &[&inc1, &inc2]).unwrap();
    let e = plan_on_copy(&full, &[&inc2, &inc1]).unwrap_err();
    assert!(matches!(e, PrepareError::Unordered { .. }), "{e}");
    assert_eq!(e.remedy(), Some(Remedy::GiveOneOfEqualIncrementals));
    // ... and when they cannot, neither order is accepted.
    set_key(
        &inc2.join("xtrabackup_info"),
        "start_time",
        "2026-01-01 10:00:00",
    );
    set_key(
        &inc2.join("xtrabackup_info"),
        "end_time",
        "2026-01-01 10:00:05",
    );
    for order in [
        [inc1.as_path(), inc2.as_path()],
        [inc2.as_path(), inc1.as_path()],
    ] {
        let e = plan_on_copy(&full, &order).unwrap_err();
        assert!(matches!(e, PrepareError::Unordered { .. }), "{e}");
    }
    // A later last_lsn orders them: the one that ends earlier cannot follow.
    let mut c2 = ck(&inc2);
    c2.last_lsn = Lsn::new(c2.last_lsn.get() + 100);
    fs::write(inc2.join("xtrabackup_checkpoints"), c2.to_bytes()).unwrap();
    let mut b2 = BackupInfo::read_dir(&inc2).unwrap().unwrap();
    b2.last_lsn = c2.last_lsn;
    fs::write(inc2.join("xb_backup_info"), b2.to_bytes()).unwrap();
    plan_on_copy(&full, &[&inc1, &inc2]).unwrap();
    let e = plan_on_copy(&full, &[&inc2, &inc1]).unwrap_err();
    assert!(matches!(e, PrepareError::OutOfOrder { .. }), "{e}");
}
