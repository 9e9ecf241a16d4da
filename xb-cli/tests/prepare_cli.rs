//! `xb prepare` as a program: a synthetic chain (full + 2 incrementals with growth, a new table,
//! a drop, a rename and a name swap), killed with SIGKILL at random points and re-run, must end
//! byte-identical to an uninterrupted run; errors are one line and exit status 2.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::synthetic::{delta, inc_info, make_chain, page, write_meta_files, P};
use incremental_core::format::backup_info::BackupInfo;
use innodb_page::Lsn;
use xb_testkit::sandbox::copy_dir;

const XB: &str = env!("CARGO_BIN_EXE_xb");
const TABLES: u32 = 20;

fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            if e.file_type().unwrap().is_dir() {
                out.insert(PathBuf::from(format!("{}/", rel.display())), Vec::new());
                walk(root, &e.path(), out);
            } else {
                out.insert(rel, fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn prepare(base: &Path, incs: &[&Path]) -> Command {
    let mut c = Command::new(XB);
    c.arg("prepare").arg("--target-dir").arg(base);
    for i in incs {
        c.arg("--incremental-dir").arg(i);
    }
    c
}

#[test]
fn result_of_the_synthetic_chain() {
    let d = tempfile::tempdir().unwrap();
    let (base, inc1, inc2) = make_chain(d.path(), TABLES);
    let out = prepare(&base, &[&inc1, &inc2]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = tree(&base);
    let file = |r: &str| {
        t.get(Path::new(r))
            .unwrap_or_else(|| panic!("{r} missing: {:?}", t.keys()))
    };
    // dropped, renamed, swapped, new, grown
    assert!(!t.contains_key(Path::new("db/t0.ibd")) && !t.contains_key(Path::new("db/t0.frm")));
    assert!(!t.contains_key(Path::new("db/t1.ibd")));
    let r1 = file("db/r1.ibd");
    assert_eq!(r1.len(), 24 * P);
    assert_eq!(&r1[34..38], &11u32.to_be_bytes());
    assert_eq!(r1[P + 100], 0xC1); // page 1: inc2 wins
    assert_eq!(r1[9 * P + 100], 0xA1); // page 9: inc1's
    assert_eq!(r1[10 * P + 100], 1); // page 10: the base's (t1 filler)
    assert!(r1[16 * P..].iter().all(|&b| b == 0)); // extension to FSP_SIZE
    assert_eq!(&file("db/t2.ibd")[34..38], &13u32.to_be_bytes()); // swapped
    assert_eq!(&file("db/t3.ibd")[34..38], &12u32.to_be_bytes());
    assert_eq!(file("db/n1.ibd").len(), 40 * P);
    assert_eq!(file("d2/x.ibd").len(), 4 * P);
    assert_eq!(
        file("ib_logfile0"),
        &fs::read(inc2.join("ib_logfile0")).unwrap()
    );
    assert_eq!(file("db/t5.frm"), b"frm2 5");
    let ck = String::from_utf8(file("xtrabackup_checkpoints").clone()).unwrap();
    assert_eq!(
        ck,
        "backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 3000\nlast_lsn = 3010\n"
    );
    assert!(!t.keys().any(|p| p.to_string_lossy().contains("xb_prepare")));
    assert!(!t
        .keys()
        .any(|p| p.to_string_lossy().contains("xtrabackup_tmp")));

    // Again: refused, one line, exit status 2.
    let out = prepare(&base, &[&inc2]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("xb: error: ") && err.contains("already applied"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // Chain order matters.
    let d2 = tempfile::tempdir().unwrap();
    let (base, inc1, inc2) = make_chain(d2.path(), TABLES);
    let out = prepare(&base, &[&inc2, &inc1]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("does not follow"), "{err}");
}

#[test]
fn kill_9_at_random_points_then_rerun_is_byte_identical() {
    let d = tempfile::tempdir().unwrap();
    let (base, inc1, inc2) = make_chain(d.path(), TABLES);
    let reference = d.path().join("reference");
    copy_dir(&base, &reference).unwrap();
    let st = prepare(&reference, &[&inc1, &inc2]).status().unwrap();
    assert!(st.success());
    let want = tree(&reference);
    let (i1, i2) = (tree(&inc1), tree(&inc2));

    // Timing of a slowed-down run, to spread the kills over it.
    let probe = d.path().join("probe");
    copy_dir(&base, &probe).unwrap();
    let t = Instant::now();
    let st = prepare(&probe, &[&inc1, &inc2])
        .env("XB_TEST_APPLY_DELAY_US", "15000")
        .status()
        .unwrap();
    assert!(st.success());
    let span = t.elapsed().as_millis() as u64 + 1;

    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut mid_apply = 0;
    const ROUNDS: usize = 12;
    for round in 0..ROUNDS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let work = d.path().join(format!("work{round}"));
        copy_dir(&base, &work).unwrap();
        let mut child = prepare(&work, &[&inc1, &inc2])
            .env("XB_TEST_APPLY_DELAY_US", "15000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(seed % span));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if !status.success() && work.join("xb_prepare.journal").exists() {
            mid_apply += 1;
        }
        // Re-run (it resumes, or it finds the work done and refuses it as already applied).
        let out = prepare(&work, &[&inc1, &inc2]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || err.contains("already applied"),
            "round {round}: {err}"
        );
        let got = tree(&work);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "round {round}"
        );
        for (k, v) in &want {
            assert!(got[k] == *v, "round {round}: {} differs", k.display());
        }
        fs::remove_dir_all(&work).unwrap();
    }
    assert_eq!(tree(&inc1), i1, "incrementals must not change");
    assert_eq!(tree(&inc2), i2);
    assert!(
        mid_apply >= ROUNDS / 4,
        "only {mid_apply} of {ROUNDS} kills landed inside the apply"
    );
}

/// Runs `xb` and returns its exit status and its one error line.
fn refusal(c: &mut Command) -> (Option<i32>, String) {
    let out = c.output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    (out.status.code(), err.trim_end().to_string())
}

#[test]
fn refusals_say_what_to_do_in_xb_flags() {
    let d = tempfile::tempdir().unwrap();
    let (base, inc1, inc2) = make_chain(d.path(), TABLES);
    let canon = fs::canonicalize(&base).unwrap();

    // An interrupted prepare with other arguments: the exact command to finish it.
    let journal = base.join("xb_prepare.journal");
    fs::write(
        &journal,
        "xb-prepare-journal 1\nargs\t/x/base\t/x/inc9\nend\t0\n",
    )
    .unwrap();
    let (code, err) = refusal(&mut prepare(&base, &[&inc1]));
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!(
            "xb: error: {}: an interrupted prepare is pending with other arguments; run it again \
             with exactly: --target-dir /x/base --incremental-dir /x/inc9",
            canon.join("xb_prepare.journal").display()
        )
    );
    // copy-back of that backup: finish the prepare first.
    let mut c = Command::new(XB);
    c.arg("copy-back")
        .arg("--target-dir")
        .arg(&base)
        .arg("--datadir")
        .arg(d.path().join("restored"));
    let (code, err) = refusal(&mut c);
    assert_eq!(code, Some(2));
    assert!(
        err.ends_with("); run the same xb prepare again to finish it"),
        "{err}"
    );
    fs::remove_file(&journal).unwrap();

    // An incremental as the target; a full backup as an incremental; the wrong order.
    let (_, err) = refusal(&mut prepare(&inc1, &[&inc2]));
    assert!(
        err.ends_with(
            "backup_type is incremental; the target must be a full backup (give incrementals \
             with --incremental-dir)"
        ),
        "{err}"
    );
    let (_, err) = refusal(&mut prepare(&base, &[&base]));
    assert!(
        err.ends_with(
            "backup_type is full-backuped, not incremental: --incremental-dir takes incremental \
             backups"
        ),
        "{err}"
    );
    let (_, err) = refusal(&mut prepare(&base, &[&inc2, &inc1]));
    assert!(
        err.ends_with(
            "an incremental between them is missing, or they are out of order: give the \
             incrementals in the order they were taken, starting with the one taken from this \
             base"
        ),
        "{err}"
    );

    // copy-back of an incremental.
    let mut c = Command::new(XB);
    c.arg("copy-back")
        .arg("--target-dir")
        .arg(&inc1)
        .arg("--datadir")
        .arg(d.path().join("restored"));
    let (code, err) = refusal(&mut c);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!(
            "xb: error: {}: this is an incremental backup; prepare it onto its base first (xb \
             prepare --target-dir BASE --incremental-dir THIS) and restore the base",
            inc1.display()
        )
    );
}

/// Two incrementals with no checkpoint between them (equal from_lsn, to_lsn and last_lsn)
/// given in the wrong order: `xb prepare` took them (restoring the older state); now it refuses
/// (exit 2, saying which base each was taken from and what to do), `xb verify` calls the chain
/// not restorable (exit 1), and the right order prepares.
#[test]
fn incrementals_in_the_wrong_order_are_refused_by_their_identities() {
    let d = tempfile::tempdir().unwrap();
    let (base, inc_a, inc_b) = (
        d.path().join("base"),
        d.path().join("a"),
        d.path().join("b"),
    );
    let mut bi = BackupInfo::full(Lsn(1000), Lsn(1010));
    bi.backup_id = "id-base".into();
    let ckpt = "backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 1000\nlast_lsn = 1010\n";
    write_meta_files(&base, ckpt, &bi);
    fs::create_dir_all(base.join("db")).unwrap();
    let f: Vec<u8> = (0..4).flat_map(|no| page(10, no, 500, 1, 4)).collect();
    fs::write(base.join("db/t.ibd"), f).unwrap();
    let ckpt = "backup_type = incremental\nfrom_lsn = 1000\nto_lsn = 1000\nlast_lsn = 1010\n";
    for (dir, id, base_id, fill) in [
        (&inc_a, "id-a", "id-base", 0xA0),
        (&inc_b, "id-b", "id-a", 0xB0),
    ] {
        let mut info = inc_info(1000, 1000);
        info.last_lsn = Lsn(1010);
        info.backup_id = id.into();
        info.base_backup_id = base_id.into();
        write_meta_files(dir, ckpt, &info);
        delta(dir, "db/t.ibd", 10, &[(1, page(10, 1, 1005, fill, 0))]);
    }
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = prepare(&base, &[&inc_b, &inc_a]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("was taken from the backup id-a")
            && err.contains("in the order they were taken"),
        "{err}"
    );
    let out = Command::new(XB)
        .args(["verify", &s(&base), &s(&inc_b), &s(&inc_a)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("restorable: no") && stdout.contains("was taken from the backup id-a"),
        "{stdout}"
    );
    let out = prepare(&base, &[&inc_a, &inc_b]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read(base.join("db/t.ibd")).unwrap()[P + 100], 0xB0);
}
